"""The infusion day through the service layer: product and identity check (with a second person), the timer,
the vital-sign schedule, readings and their alerts, pre-filled adverse events. Everything is written as it
happens (events and form values, audited), so a crash, a lock or a user switch loses nothing: the screen is
rebuilt from the database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from msc_sle_crf.access import Perm, Role
from msc_sle_crf.audit import Action
from msc_sle_crf.clock import iso_utc, parse_iso_utc
from msc_sle_crf.errors import CrfError, Msg, PermissionDenied, ValidationError
from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.formdef.engine import CellKey
from msc_sle_crf.i18n import L
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.infusion.protocol import InfusionProtocol
from msc_sle_crf.infusion.vitals import DoseCheck, Flag, PlannedPoint, dose_check, review, schedule
from msc_sle_crf.services import limits, reads
from msc_sle_crf.services.changes import NO_CHANGES, Changes
from msc_sle_crf.services.context import ServiceContext, role_l
from msc_sle_crf.services.entry import DataEntry, FormRef
from msc_sle_crf.store.tables import InfusionEvent, Subject

TIMER_KINDS = {k.value for k in T.Kind}
BASELINE = "BASE"  # the time point read before the start (infusion: vital_signs in study.yaml)


@dataclass(frozen=True)
class Reading:
    row: int
    timepoint: str | None
    time: dt.time | None
    values: dict[str, Any]
    flags: tuple[Flag, ...]
    changes: Changes = NO_CHANGES  # set when returned by ``record_vitals``


@dataclass(frozen=True)
class ProductCheck:
    by: str
    at: dt.datetime
    detail: dict[str, Any]
    second_by: str | None
    second_at: dt.datetime | None


@dataclass(frozen=True)
class BedsideState:
    subject: str
    initials: str
    birth_year: int
    timer: T.TimerState
    timer_events: tuple[T.TimerEvent, ...]
    points: tuple[PlannedPoint, ...]
    readings: tuple[Reading, ...]
    product: ProductCheck | None
    not_done: dict[str, str]
    comments: tuple[str, ...]


@dataclass(frozen=True)
class ProductChecked:
    dose: DoseCheck
    changes: Changes


@dataclass(frozen=True)
class RowPrefilled:
    """An adverse event row opened from a flag: where it is, the cell the investigator grades, what changed."""

    ref: FormRef
    grade_key: CellKey
    row: int
    changes: Changes


class Bedside:
    def __init__(self, ctx: ServiceContext, study: StudyDef, entry: DataEntry) -> None:
        self.ctx = ctx
        self.study = study
        self.entry = entry
        self.protocol: InfusionProtocol = study.meta.infusion
        self.day = study.bindings.infusion_day  # the visit, forms and items of the infusion day
        self.vitals = self.day.vital_signs

    # ----- helpers -------------------------------------------------------------------------------------------
    def _now(self) -> T.Now:
        clock = self.ctx.clock
        return T.Now(clock.now(), clock.monotonic(), clock.boot_id())

    def _local(self, wall: dt.datetime) -> dt.datetime:
        return self.ctx.to_local(wall)

    def _subject_id(self, number: str) -> Subject:
        with self.ctx.read() as session:
            subject = reads.subject(session, number)
            session.expunge(subject)
            return subject

    def _record(self, subject: str, kind: str, *, reason: str | None = None, detail: dict[str, Any] | None = None,
                refers_to: int | None = None, action: Action = Action.INFUSION_EVENT,
                wall: dt.datetime | None = None) -> tuple[int, Changes]:
        reason = limits.reason(reason)
        now = self._now()
        subject_row = self._subject_id(subject)
        if subject_row.status == "locked":
            raise ValidationError(Msg.SUBJECT_LOCKED, subject=subject)
        text = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str) if detail else None
        with self.ctx.write() as tx:
            event = InfusionEvent(subject_id=subject_row.id, kind=kind, wall_utc=iso_utc(wall or now.wall),
                                  mono=None if wall else now.mono, boot=None if wall else now.boot,
                                  username=self.ctx.actor.username, reason=reason, detail=text,
                                  refers_to=refers_to)
            tx.session.add(event)
            tx.session.flush()
            tx.audit(action, subject=subject, visit=self.day.event, form=self.day.infusion.form, item=kind,
                     new_value=iso_utc(wall or now.wall), reason=reason, detail=text)
            event_id = event.id
        return event_id, tx.changes

    def _events(self, subject: str, subject_row: Subject | None = None) -> list[InfusionEvent]:
        subject_row = subject_row or self._subject_id(subject)
        with self.ctx.read() as session:
            rows = session.execute(select(InfusionEvent).where(InfusionEvent.subject_id == subject_row.id)
                                   .order_by(InfusionEvent.id)).scalars().all()
            session.expunge_all()
            return list(rows)

    def _require_entry(self, subject: str) -> None:
        self.ctx.require(Perm.ENTER_NURSING_DATA, subject=subject)

    def _ref(self, subject: str, form: str) -> FormRef:
        return FormRef(subject, self.day.event, form)

    def _infusion(self, binding_item: str) -> CellKey:
        return (self.day.infusion.group or "", 0, binding_item)

    # ----- reading --------------------------------------------------------------------------------------------
    def state(self, subject: str) -> BedsideState:
        self.ctx.require(Perm.VIEW_DATA, subject=subject)
        subject_row = self._subject_id(subject)
        events = self._events(subject, subject_row)
        corrections = {e.refers_to: e for e in events if e.kind == "correct" and e.refers_to is not None}
        timer_events = []
        for e in events:
            if e.kind not in TIMER_KINDS:
                continue
            fix = corrections.get(e.id)
            wall = parse_iso_utc(fix.wall_utc) if fix else parse_iso_utc(e.wall_utc)
            timer_events.append(T.TimerEvent(e.id, T.Kind(e.kind), wall, e.mono, e.boot, e.reason, fix is not None))
        now = self._now()
        timer_state = T.compute(timer_events, now, self.protocol)
        vs = self.vitals
        group = vs.group or ""
        snap = self.entry.open_form(self._ref(subject, vs.form))
        readings: list[Reading] = []
        baseline: dict[str, Any] | None = None
        for row in snap.state.rows[group]:
            values = {i: snap.state.canonical((group, row, i)) for i in vs.readings()}
            tp = snap.state.value((group, row, vs.timepoint))
            if tp == BASELINE:
                baseline = values
            readings.append(Reading(row, tp, snap.state.value((group, row, vs.time)), values, ()))
        readings = [Reading(r.row, r.timepoint, r.time, r.values,
                            tuple(review(vs.by_name(r.values), vs.by_name(baseline)
                                         if baseline is not None and r.timepoint != BASELINE else None,
                                         self.protocol)))
                    for r in readings]
        done = {r.timepoint for r in readings if r.timepoint}
        not_done: dict[str, str] = {}
        for e in events:
            if e.kind == "not_done" and e.detail:
                not_done[str(json.loads(e.detail).get("timepoint"))] = e.reason or ""
        points = schedule(self.protocol, timer_state.started, timer_state.stopped, now.wall, done=done,
                          not_done=set(not_done))
        product = None
        checks = [e for e in events if e.kind == "product_check"]
        if checks:
            last = checks[-1]
            second = next((e for e in events if e.kind == "second_check" and e.refers_to == last.id), None)
            product = ProductCheck(last.username, parse_iso_utc(last.wall_utc), json.loads(last.detail or "{}"),
                                   json.loads(second.detail or "{}").get("second") if second else None,
                                   parse_iso_utc(second.wall_utc) if second else None)
        return BedsideState(subject, subject_row.initials, subject_row.birth_year, timer_state, tuple(timer_events),
                            tuple(points), tuple(readings), product, not_done,
                            tuple(e.reason or "" for e in events if e.kind == "comment"))

    # ----- the product check ------------------------------------------------------------------------------------
    def product_check(self, subject: str, *, identity_confirmed: bool, weight_kg: str, cohort: str, bag_id: str,
                      lot: str, labelled_cells_e6: str, use_by: str, premedication: str) -> ProductChecked:
        """Record the identity and product check; writes the dose and product fields of the D0 forms too."""
        self._require_entry(subject)
        for label, value in ((L("Bag number", "Numéro de poche"), bag_id), (L("Lot", "Lot"), lot),
                             (L("Premedication", "Prémédication"), premedication)):
            limits.text(value, label, limits.MAX_PRODUCT_FIELD)
        if not identity_confirmed:
            raise ValidationError(Msg.BEDSIDE_REFUSED, problem=L(
                "Identity: confirm the subject's number, initials and year of birth first",
                "Identité : confirmer d'abord le numéro, les initiales et l'année de naissance du patient"))
        dose, infusion = self.day.dose, self.day.infusion
        dose_group = dose.group or ""
        changes = self.entry.save_values(self._ref(subject, dose.form), {
            (dose_group, 0, dose.cohort): cohort, (dose_group, 0, dose.weight): weight_kg}, confirm=True)
        today = self._local(self._now().wall)
        changes |= self.entry.save_values(self._ref(subject, infusion.form), {
            self._infusion(infusion.date): today.strftime("%d/%m/%Y"), self._infusion(infusion.bag): bag_id,
            self._infusion(infusion.lot): lot, self._infusion(infusion.cells): labelled_cells_e6})
        try:
            use_by_time = V.parse_datetime(use_by)
        except V.ParseError as exc:
            raise ValidationError(Msg.BEDSIDE_REFUSED, problem=L(f"Use-by time: {exc.rule.en}",
                                                                 f"Date limite : {exc.rule.fr}")) from None
        weight = V.parse_number(weight_kg, self.study.forms[dose.form].item(dose.weight))
        cells = V.parse_number(labelled_cells_e6, self.study.forms[infusion.form].item(infusion.cells))
        check = dose_check(Decimal(cohort), Decimal(weight), Decimal(cells), self.protocol)
        expired = use_by_time < today
        _, recorded = self._record(subject, "product_check", action=Action.PRODUCT_CHECK, detail={
            "identity_confirmed": True, "weight_kg": str(weight), "cohort": cohort, "bag_id": bag_id, "lot": lot,
            "labelled_cells_e6": str(cells), "planned_cells_e6": str(check.planned_cells_e6),
            "difference_percent": str(check.difference_percent), "within_tolerance": check.within_tolerance,
            "use_by": use_by_time.isoformat(), "expired_at_check": expired, "premedication": premedication})
        return ProductChecked(check, changes | recorded)

    def second_check(self, subject: str, username: str, password: str) -> Changes:
        """A second member of staff confirms the product check by signing in on the same screen."""
        self._require_entry(subject)
        events = [e for e in self._events(subject) if e.kind == "product_check"]
        if not events:
            raise ValidationError(Msg.BEDSIDE_REFUSED, problem=L("No product check to confirm yet",
                                                                 "Aucune vérification du produit à confirmer"))
        actor = self.ctx.site.authenticate(username, password)
        if actor.username == self.ctx.actor.username:
            raise ValidationError(Msg.SECOND_CHECKER_SAME, user=actor.username)
        if actor.role not in (Role.NURSE, Role.INVESTIGATOR):
            raise PermissionDenied(Msg.SECOND_CHECKER_ROLE, role=role_l(actor.role))
        _, changes = self._record(subject, "second_check", refers_to=events[-1].id, action=Action.TWO_PERSON_CHECK,
                                  detail={"first": self.ctx.actor.username, "second": actor.username,
                                          "second_role": actor.role.value})
        return changes

    # ----- the timer ----------------------------------------------------------------------------------------------
    def timer(self, subject: str, kind: T.Kind, reason: str | None = None) -> Changes:
        self._require_entry(subject)
        current = self.state(subject)
        try:
            T.check_next(current.timer_events, kind, self._now())
        except T.TimerError as exc:
            raise ValidationError(Msg.BEDSIDE_REFUSED, problem=exc.message) from None
        if kind is T.Kind.PAUSE and not (reason or "").strip():
            raise ValidationError(Msg.BEDSIDE_REFUSED, problem=L("Pause: a reason is required",
                                                                 "Pause : un motif est obligatoire"))
        _, changes = self._record(subject, kind.value, reason=(reason or "").strip() or None)
        local = self._local(self._now().wall).strftime("%H:%M")
        infusion = self.day.infusion
        if kind is T.Kind.START:
            changes |= self.entry.save_values(self._ref(subject, infusion.form),
                                              {self._infusion(infusion.start_time): local})
        elif kind is T.Kind.STOP:
            changes |= self.entry.save_values(self._ref(subject, infusion.form),
                                              {self._infusion(infusion.end_time): local})
        return changes

    def correct_time(self, subject: str, event_id: int, local_time: str, reason: str) -> Changes:
        """Change the recorded clock time of a timer event (the original stays in the record), with a reason."""
        self._require_entry(subject)
        if not reason.strip():
            raise ValidationError(Msg.REASON_REQUIRED)
        events = {e.id: e for e in self._events(subject)}
        original = events.get(event_id)
        if original is None or original.kind not in TIMER_KINDS:
            raise ValidationError(Msg.BEDSIDE_REFUSED, problem=L("No such timer event", "Événement inconnu"))
        when = V.parse_time(local_time)
        day = self._local(parse_iso_utc(original.wall_utc)).date()
        local = dt.datetime.combine(day, when)
        wall = (local - dt.timedelta(minutes=self.ctx.clock.local_offset_minutes())).replace(tzinfo=dt.UTC)
        _, changes = self._record(subject, "correct", reason=reason.strip(), refers_to=event_id, wall=wall,
                                  detail={"was": original.wall_utc, "kind": original.kind})
        infusion = self.day.infusion
        item = {"start": infusion.start_time, "stop": infusion.end_time}.get(original.kind)
        if item:
            changes |= self.entry.save_values(self._ref(subject, infusion.form),
                                              {self._infusion(item): when.strftime("%H:%M")}, reason=reason.strip())
        return changes

    def comment(self, subject: str, text: str) -> Changes:
        self._require_entry(subject)
        text = limits.text(text, limits.COMMENT, limits.MAX_COMMENT)
        if not text.strip():
            raise ValidationError(Msg.REASON_REQUIRED)
        _, changes = self._record(subject, "comment", reason=text.strip())
        infusion = self.day.infusion
        return changes | self.entry.save_values(self._ref(subject, infusion.form),
                                                {self._infusion(infusion.comment): text.strip()[:1000]})

    # ----- vital signs ----------------------------------------------------------------------------------------
    def record_vitals(self, subject: str, timepoint: str | None, values: dict[str, str], *,
                      confirm: bool = False) -> Reading:
        """Store one set of readings (one row of the D0 vital-sign form) with its actual time; return its flags."""
        self._require_entry(subject)
        vs = self.vitals
        group = vs.group or ""
        ref = self._ref(subject, vs.form)
        state = self.entry.open_form(ref).state
        row = max(state.rows[group], default=0) + 1
        local = self._local(self._now().wall)
        entries: dict[CellKey, str] = {(group, row, vs.time): local.strftime("%H:%M")}
        if timepoint:
            entries[(group, row, vs.timepoint)] = timepoint
        entries |= {(group, row, item): text for item, text in values.items() if text.strip()}
        changes = self.entry.save_values(ref, entries, confirm=confirm)
        for item in values:
            self.entry.save_typing(ref, (group, 0, item), None)
        reading = next(r for r in self.state(subject).readings if r.row == row)
        return replace(reading, changes=changes)

    def not_done(self, subject: str, timepoint: str, reason: str) -> Changes:
        self._require_entry(subject)
        if not reason.strip():
            raise ValidationError(Msg.REASON_REQUIRED)
        return self._record(subject, "not_done", reason=reason.strip(), detail={"timepoint": timepoint})[1]

    def prefill_adverse_event(self, subject: str, flag: Flag) -> RowPrefilled:
        """Open an adverse event row pre-filled with the CTCAE term and today's onset; the investigator grades."""
        self._require_entry(subject)
        ae = self.study.bindings.adverse_events
        group = ae.group or ""
        ref = FormRef(subject, ae.event or "", ae.form)
        added = self.entry.add_row(ref, group)
        row = added.row
        today = self._local(self._now().wall).strftime("%d/%m/%Y")
        values: dict[CellKey, str] = {(group, row, ae.term): flag.ae_term, (group, row, ae.onset): today}
        if flag.grade:
            values[(group, row, ae.grade)] = str(flag.grade)
        changes = added.changes
        with contextlib.suppress(CrfError):  # the row exists; what could not be pre-filled is typed on the form
            changes |= self.entry.save_values(ref, values, confirm=True)
        return RowPrefilled(ref, (group, row, ae.grade), row, changes)

    def typed(self, subject: str) -> dict[str, str]:
        """The quick-entry fields typed but not saved (restored after a crash or a user switch)."""
        buffer = self.entry.typed_buffer(self._ref(subject, self.vitals.form))
        return {key[2]: text for key, (text, _unit) in buffer.items() if key[1] == 0}

    def save_typed(self, subject: str, item: str, text: str) -> None:
        self.entry.save_typing(self._ref(subject, self.vitals.form), (self.vitals.group or "", 0, item), text or None)
