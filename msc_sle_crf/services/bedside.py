"""The infusion day through the service layer: product and identity check (with a second person), the timer and
its start gate, the vital-sign schedule, readings and their alerts, pre-filled adverse events. Everything is written
as it happens (events and form values, audited), so a crash, a lock or a user switch loses nothing: the screen is
rebuilt from the database.

Each bedside action either writes everything it should or refuses before writing anything: the form values it
will write are checked first, on the form as it is (``_precheck``: the same acceptance rule and "a reason on a
complete form" rule the data-entry service applies), then written.

The start is gated by what the protocol requires before the cells go in (``start_readiness``): eligibility
confirmed by the investigator (and not contradicted by the screening criteria), a subject still in the study, the
dose recorded, the product and identity check confirmed by a second person and not expired, baseline vital signs.
A refusal is audited. An investigator may start without a baseline (or with a labelled dose outside the tolerance)
with a reason; nothing overrides eligibility or the two-person check.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from sqlalchemy import select

from msc_sle_crf.access import Perm, Role
from msc_sle_crf.audit import Action
from msc_sle_crf.clock import iso_utc, parse_iso_utc
from msc_sle_crf.errors import CrfError, Msg, PermissionDenied, ValidationError
from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.formdef.engine import CellKey, FormState
from msc_sle_crf.i18n import L
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.infusion.monitor import Monitor, monitor
from msc_sle_crf.infusion.protocol import InfusionProtocol
from msc_sle_crf.infusion.vitals import FLAG_MEASURES, DoseCheck, Flag, PlannedPoint, dose_check, review, schedule
from msc_sle_crf.services import limits, reads
from msc_sle_crf.services.changes import NO_CHANGES, Changes
from msc_sle_crf.services.context import ServiceContext, role_l
from msc_sle_crf.services.drafts import Drafts
from msc_sle_crf.services.entry import DataEntry, FormRef, SoftCheckNeedsConfirmation, reason_required
from msc_sle_crf.services.overview import Overview
from msc_sle_crf.status import FormStatus
from msc_sle_crf.store.tables import InfusionEvent, Subject
from msc_sle_crf.sync.ownership import require_owner

TIMER_KINDS = {k.value for k in T.Kind}
BASELINE = "BASE"  # the time point read before the start (infusion: vital_signs in study.yaml)
YES = "Y"
COMMENT_REASON = "comment added at the bedside"  # the reason for change when the infusion form is already complete
UNDO_REASON_PREFIX = "stop undone: "


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


def event_audit_detail(detail: str | None, mono: float | None, boot: str | None) -> str | None:
    """An infusion-day event as the trail keeps it: its details and the timer reading the elapsed time is computed
    from (so that ``verify`` can compare every field the bedside shows with the trail)."""
    if mono is None and boot is None:
        return detail
    return f"{detail + ' ' if detail else ''}[timer: {mono!r} s since boot {boot}]"


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


@dataclass(frozen=True)
class Unmet:
    """One condition of the start that is not met: what it is, and whether an investigator may start without it
    (with a reason)."""

    code: str  # eligibility, ended, dose, product, second, expired, dose_mismatch, baseline
    message: L
    overridable: bool = False


@dataclass(frozen=True)
class Readiness:
    unmet: tuple[Unmet, ...]

    @property
    def ready(self) -> bool:
        return not self.unmet

    @property
    def blocking(self) -> tuple[Unmet, ...]:
        """What nothing overrides."""
        return tuple(u for u in self.unmet if not u.overridable)

    @property
    def overridable(self) -> tuple[Unmet, ...]:
        return tuple(u for u in self.unmet if u.overridable)


@dataclass(frozen=True)
class LiveInfusion:
    """What an infusion's monitor is computed from (read once; computed every second with ``monitor``)."""

    subject: str
    timer_events: tuple[T.TimerEvent, ...]
    done: frozenset[str]
    not_done: frozenset[str]


class VitalsNeedConfirmation(SoftCheckNeedsConfirmation):
    """A set of vital signs with unusual values or review flags: every one is listed, to be confirmed at once."""

    def __init__(self, problems: tuple[L, ...]) -> None:
        self.problems = problems
        super().__init__(Msg.VITALS_NEED_CONFIRMATION, problems=_join(problems))


def _join(parts: tuple[L, ...] | list[L], sep: str = "; ") -> L:
    """Parts of a message in one line (French puts a space before a semicolon)."""
    return L(sep.join(p.en for p in parts), sep.replace(";", " ;").join(p.fr for p in parts))


class Bedside:
    def __init__(self, ctx: ServiceContext, study: StudyDef, entry: DataEntry) -> None:
        self.ctx = ctx
        self.study = study
        self.entry = entry
        self.drafts = Drafts(ctx)  # the check typed and not recorded, kept for its typist only
        self.protocol: InfusionProtocol = study.meta.infusion
        self.day = study.bindings.infusion_day  # the visit, forms and items of the infusion day
        self.vitals = self.day.vital_signs

    @cached_property
    def _overview(self) -> Overview:
        return Overview(self.ctx, self.study)

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
            require_owner(tx.session, subject)
            event = InfusionEvent(subject_id=subject_row.id, kind=kind, wall_utc=iso_utc(wall or now.wall),
                                  mono=None if wall else now.mono, boot=None if wall else now.boot,
                                  username=self.ctx.actor.username, reason=reason, detail=text,
                                  refers_to=refers_to)
            tx.session.add(event)
            tx.session.flush()
            tx.audit(action, subject=subject, visit=self.day.event, form=self.day.infusion.form, item=kind,
                     new_value=iso_utc(wall or now.wall), reason=reason,
                     detail=event_audit_detail(text, event.mono, event.boot))
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
        """May this user record at the bedside for this subject now (role, and the subject not locked as a whole)?"""
        self.ctx.require(Perm.ENTER_NURSING_DATA, subject=subject)
        with self.ctx.read() as session:
            reads.writable_subject(session, subject)
            require_owner(session, subject)  # the infusion day runs on the owning workstation (issue 18)

    def _ref(self, subject: str, form: str) -> FormRef:
        return FormRef(subject, self.day.event, form)

    def _infusion(self, binding_item: str) -> CellKey:
        return (self.day.infusion.group or "", 0, binding_item)

    def _key(self, form_id: str, item: str, row: int = 0) -> CellKey:
        return (self.study.forms[form_id].group_of(item).id, row, item)

    def _precheck(self, ref: FormRef, values: dict[CellKey, str], *, confirm: bool = False,
                  reason: str | None = None) -> None:
        """Refuse now, before anything is written, what ``DataEntry.save_values`` would refuse halfway: a value
        the form refuses (or an unusual one not confirmed), a locked form, a change to a complete form without a
        reason."""
        self.ctx.require(self.entry.form_perm(ref.form), subject=ref.subject)
        snap = self.entry.open_form(ref)
        if snap.status is FormStatus.LOCKED:
            raise ValidationError(Msg.FORM_LOCKED)
        state = snap.state
        changed = False
        for key, text in values.items():
            group = state.group(key[0])
            if group.repeating and key[1] not in state.rows[key[0]]:
                state.add_row(key[0], key[1])
            before = state.value(key)
            state.set_text(key, text)
            refused, unconfirmed = state.acceptance(key)
            if refused is not None:
                raise ValidationError(Msg.VALUE_REFUSED, problem=refused.message)
            if unconfirmed is not None and not confirm:
                raise SoftCheckNeedsConfirmation(Msg.VALUE_NEEDS_CONFIRMATION, problem=unconfirmed.message)
            changed = changed or state.value(key) != before
        if changed and snap.status.completed and not (reason or "").strip():
            first = next(iter(values))
            raise reason_required(snap.status, snap.form.item(first[2]).label.as_l())

    def _value(self, form_id: str, event: str, subject: str, item: str) -> Any:
        snap = self.entry.open_form(FormRef(subject, event, form_id))
        return snap.state.value(self._key(form_id, item))

    # ----- reading --------------------------------------------------------------------------------------------
    def _timer_events(self, events: list[InfusionEvent]) -> list[T.TimerEvent]:
        corrections = {e.refers_to: e for e in events if e.kind == "correct" and e.refers_to is not None}
        timer_events = []
        for e in events:
            if e.kind not in TIMER_KINDS:
                continue
            fix = corrections.get(e.id)
            wall = parse_iso_utc(fix.wall_utc) if fix else parse_iso_utc(e.wall_utc)
            timer_events.append(T.TimerEvent(e.id, T.Kind(e.kind), wall, e.mono, e.boot, e.reason, fix is not None))
        return timer_events

    @staticmethod
    def _not_done(events: list[InfusionEvent]) -> dict[str, str]:
        out: dict[str, str] = {}
        for e in events:
            if e.kind == "not_done" and e.detail:
                out[str(json.loads(e.detail).get("timepoint"))] = e.reason or ""
        return out

    def state(self, subject: str) -> BedsideState:
        self.ctx.require(Perm.VIEW_DATA, subject=subject)
        subject_row = self._subject_id(subject)
        events = self._events(subject, subject_row)
        timer_events = self._timer_events(events)
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
        not_done = self._not_done(events)
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

    def infusions(self) -> list[LiveInfusion]:
        """Every subject whose infusion has started, with what its monitor is computed from (the subject list and
        the lock screen show it)."""
        self.ctx.require(Perm.VIEW_DATA)
        by_subject: dict[int, list[InfusionEvent]] = defaultdict(list)
        with self.ctx.read() as session:
            numbers = {row[0]: row[1] for row in session.execute(select(Subject.id, Subject.subject_number))}
            for event in session.execute(select(InfusionEvent).where(
                    InfusionEvent.kind.in_([*TIMER_KINDS, "correct", "not_done"])).order_by(InfusionEvent.id)
                                         ).scalars():
                by_subject[event.subject_id].append(event)
            session.expunge_all()
        out = []
        vs = self.vitals
        for subject_id, events in sorted(by_subject.items(), key=lambda pair: numbers.get(pair[0], "")):
            timer_events = self._timer_events(events)
            if not any(e.kind is T.Kind.START for e in timer_events):
                continue
            number = numbers[subject_id]
            state = self.entry.open_form(self._ref(number, vs.form)).state
            group = vs.group or ""
            done = frozenset(str(state.value((group, row, vs.timepoint))) for row in state.rows[group]
                             if state.value((group, row, vs.timepoint)))
            out.append(LiveInfusion(number, tuple(timer_events), done, frozenset(self._not_done(events))))
        return out

    def monitor(self, live: LiveInfusion) -> Monitor:
        """Where an infusion stands now (no database access)."""
        return monitor(live.timer_events, self._now(), self.protocol, done=set(live.done),
                       not_done=set(live.not_done))

    # ----- the start gate ---------------------------------------------------------------------------------------
    def start_readiness(self, subject: str) -> Readiness:
        """What the protocol requires before the cells go in, and is not met yet (empty: ready to start)."""
        self.ctx.require(Perm.VIEW_DATA, subject=subject)
        unmet: list[Unmet] = []
        subject_row = self._subject_id(subject)
        unmet += self._eligibility(subject, subject_row)
        if any(u.code == "ended" for u in unmet):
            return Readiness(tuple(unmet))  # a subject out of the study: nothing else matters
        dose = self.day.dose
        cohort = self._value(dose.form, self.day.event, subject, dose.cohort)
        weight = self._value(dose.form, self.day.event, subject, dose.weight)
        if cohort is None or weight is None:
            unmet.append(Unmet("dose", L("the dose cohort and the weight are not recorded (product check)",
                                         "la cohorte de dose et le poids ne sont pas enregistrés (vérification du "
                                         "produit)")))
        current = self.state(subject)
        product = current.product
        if product is None:
            unmet.append(Unmet("product", L("the product and identity check is not recorded",
                                            "la vérification du produit et de l'identité n'est pas enregistrée")))
        else:
            if product.second_by is None:
                unmet.append(Unmet("second", L("the check is not confirmed by a second person",
                                               "la vérification n'est pas confirmée par une seconde personne")))
            use_by = product.detail.get("use_by")
            if use_by and dt.datetime.fromisoformat(str(use_by)) < self.ctx.local_now():
                when = dt.datetime.fromisoformat(str(use_by)).strftime("%d/%m/%Y %H:%M")
                unmet.append(Unmet("expired", L(f"the product expired at {when}", f"le produit a expiré le {when}")))
            if product.detail.get("within_tolerance") is False:
                gap = str(product.detail.get("difference_percent"))
                unmet.append(Unmet("dose_mismatch", L(
                    f"the labelled cells differ from the planned dose by {gap} %",
                    f"les cellules étiquetées s'écartent de {gap.replace('.', ',')} % de la dose prévue"),
                    overridable=True))
        if not any(r.timepoint == BASELINE for r in current.readings):
            unmet.append(Unmet("baseline", L("the baseline vital signs are not recorded",
                                             "les signes vitaux de référence ne sont pas saisis"), overridable=True))
        return Readiness(tuple(unmet))

    def _eligibility(self, subject: str, subject_row: Subject) -> list[Unmet]:
        if subject_row.status == "locked":
            return [Unmet("ended", L("the subject is locked (end of study)", "le patient est verrouillé (fin "
                                                                             "d'étude)"))]
        eos = self.study.bindings.end_of_study
        reason = self._value(eos.form, eos.event or "", subject, eos.reason)
        if reason is not None:
            form = self.study.forms[eos.form]
            codelist = form.codelist_for(form.item(eos.reason), dict(self.study.meta.codelists))
            label = next((c.label.as_l() for c in (codelist.items if codelist else ()) if c.code == reason),
                         L(str(reason), str(reason)))
            return [Unmet("ended", L(f"the subject has left the study ({label.en})",
                                     f"le patient est sorti de l'étude ({label.fr})"))]
        out = []
        elig = self.day.eligibility
        if self._value(elig.form, elig.event or "", subject, elig.confirmed) != YES:
            out.append(Unmet("eligibility", L("eligibility is not confirmed by the investigator (screening form)",
                                              "l'éligibilité n'est pas confirmée par l'investigateur (formulaire "
                                              "de sélection)")))
        derived = self._overview.subject(subject).scores.overall.get("eligibility")
        if derived is not None and derived.computable and not derived.value:
            failed = [p.label for p in derived.breakdown if p.value == "failed"]
            why = _join(failed[:2], ", ") if failed else L("", "")
            out.append(Unmet("eligibility", L(f"the screening criteria say not eligible ({why.en})",
                                              f"les critères de sélection disent non éligible ({why.fr})")))
        return out

    def _refuse_start(self, subject: str, message: Msg, missing: L, codes: list[str]) -> None:
        self.ctx.audit_alone(Action.INFUSION_EVENT, subject=subject, visit=self.day.event,
                             form=self.day.infusion.form, item="start_refused", detail=",".join(codes))
        raise ValidationError(message, missing=missing)

    def _gate_start(self, subject: str, override_reason: str | None) -> dict[str, Any] | None:
        """Refuse (audited) a start the protocol does not allow now; the override recorded with the start."""
        readiness = self.start_readiness(subject)
        if readiness.blocking:
            self._refuse_start(subject, Msg.START_REFUSED, _join([u.message for u in readiness.unmet]),
                               [u.code for u in readiness.unmet])
        soft = readiness.overridable
        if not soft:
            return None
        missing = _join([u.message for u in soft])
        if self.ctx.actor.role is not Role.INVESTIGATOR:
            self._refuse_start(subject, Msg.START_OVERRIDE_NEEDS_INVESTIGATOR, missing, [u.code for u in soft])
        if not (override_reason or "").strip():
            self._refuse_start(subject, Msg.START_OVERRIDE_NEEDS_REASON, missing, [u.code for u in soft])
        return {"override": [u.code for u in soft], "override_reason": (override_reason or "").strip()}

    # ----- the product check ------------------------------------------------------------------------------------
    def _number(self, text: str, form_id: str, item: str, label: L) -> Decimal:
        if not text.strip():
            raise ValidationError(Msg.FIELD_REQUIRED, field=label)
        try:
            value = V.parse_number(text, self.study.forms[form_id].item(item))
        except V.ParseError as exc:
            raise ValidationError(Msg.FIELD_PATTERN, field=label, rule=exc.rule) from None
        if value is None:
            raise ValidationError(Msg.FIELD_REQUIRED, field=label)
        return Decimal(value)

    def product_check(self, subject: str, *, identity_confirmed: bool, weight_kg: str, cohort: str, bag_id: str,
                      lot: str, labelled_cells_e6: str, use_by: str, premedication: str) -> ProductChecked:
        """Record the identity and product check; writes the dose and product fields of the D0 forms too. Every
        field is checked before anything is written."""
        self._require_entry(subject)
        for label, value in ((L("Bag number", "Numéro de poche"), bag_id), (L("Lot", "Lot"), lot),
                             (L("Premedication", "Prémédication"), premedication)):
            limits.text(value, label, limits.MAX_PRODUCT_FIELD)
        if not identity_confirmed:
            raise ValidationError(Msg.BEDSIDE_REFUSED, problem=L(
                "Identity: confirm the subject's number, initials and year of birth first",
                "Identité : confirmer d'abord le numéro, les initiales et l'année de naissance du patient"))
        dose, infusion = self.day.dose, self.day.infusion
        if not use_by.strip():
            raise ValidationError(Msg.FIELD_REQUIRED, field=L("Use-by time", "Date limite"))
        try:
            use_by_time = V.parse_datetime(use_by)
        except V.ParseError as exc:
            raise ValidationError(Msg.BEDSIDE_REFUSED, problem=L(f"Use-by time: {exc.rule.en}",
                                                                 f"Date limite : {exc.rule.fr}")) from None
        if use_by_time is None:
            raise ValidationError(Msg.FIELD_REQUIRED, field=L("Use-by time", "Date limite"))
        if not cohort.strip():
            raise ValidationError(Msg.FIELD_REQUIRED, field=L("Dose cohort", "Cohorte de dose"))
        for text, label in ((bag_id, L("Product bag id", "Identifiant de la poche")), (lot, L("Lot", "Lot"))):
            if not text.strip():
                raise ValidationError(Msg.FIELD_REQUIRED, field=label)
        weight = self._number(weight_kg, dose.form, dose.weight, L("Weight", "Poids"))
        cells = self._number(labelled_cells_e6, infusion.form, infusion.cells,
                             L("Labelled viable cells", "Cellules viables étiquetées"))
        try:
            check = dose_check(Decimal(cohort), weight, cells, self.protocol)
        except (InvalidOperation, ArithmeticError):
            raise ValidationError(Msg.FIELD_PATTERN, field=L("Dose cohort", "Cohorte de dose"),
                                  rule=L("one of the cohorts", "l'une des cohortes")) from None
        dose_group = dose.group or ""
        dose_values = {(dose_group, 0, dose.cohort): cohort, (dose_group, 0, dose.weight): weight_kg}
        today = self._local(self._now().wall)
        infusion_values = {
            self._infusion(infusion.date): today.strftime("%d/%m/%Y"), self._infusion(infusion.bag): bag_id,
            self._infusion(infusion.lot): lot, self._infusion(infusion.cells): labelled_cells_e6}
        self._precheck(self._ref(subject, dose.form), dose_values, confirm=True)
        self._precheck(self._ref(subject, infusion.form), infusion_values)
        changes = self.entry.save_values(self._ref(subject, dose.form), dose_values, confirm=True)
        changes |= self.entry.save_values(self._ref(subject, infusion.form), infusion_values)
        expired = use_by_time < today
        _, recorded = self._record(subject, "product_check", action=Action.PRODUCT_CHECK, detail={
            "identity_confirmed": True, "weight_kg": str(weight), "cohort": cohort, "bag_id": bag_id, "lot": lot,
            "labelled_cells_e6": str(cells), "planned_cells_e6": str(check.planned_cells_e6),
            "difference_percent": str(check.difference_percent), "within_tolerance": check.within_tolerance,
            "use_by": use_by_time.isoformat(), "expired_at_check": expired, "premedication": premedication})
        self.drafts.discard(self._check_draft_key(subject), audited=False)
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
    def timer(self, subject: str, kind: T.Kind, reason: str | None = None, *,
              override_reason: str | None = None) -> Changes:
        """Start (gated), pause (with a reason), resume, stop, or undo a stop made by mistake (with a reason, within
        ``undo_stop_minutes``). ``override_reason``: an investigator starts without what may be overridden."""
        self._require_entry(subject)
        current = self.state(subject)
        try:
            T.check_next(current.timer_events, kind, self._now(), self.protocol)
        except T.TimerError as exc:
            raise ValidationError(Msg.BEDSIDE_REFUSED, problem=exc.message) from None
        clean = (reason or "").strip() or None
        if kind is T.Kind.PAUSE and clean is None:
            raise ValidationError(Msg.BEDSIDE_REFUSED, problem=L("Pause: a reason is required",
                                                                 "Pause : un motif est obligatoire"))
        if kind is T.Kind.UNDO_STOP and clean is None:
            raise ValidationError(Msg.UNDO_STOP_REASON_REQUIRED)
        infusion = self.day.infusion
        local = self._local(self._now().wall).strftime("%H:%M")
        detail: dict[str, Any] | None = None
        form_values: dict[CellKey, str] = {}
        refers_to = None
        if kind is T.Kind.START:
            detail = self._gate_start(subject, override_reason)
            if detail is not None:
                clean = detail["override_reason"]
            form_values = {self._infusion(infusion.start_time): local}
        elif kind is T.Kind.STOP:
            form_values = {self._infusion(infusion.end_time): local}
        elif kind is T.Kind.UNDO_STOP:
            stop = current.timer.last_stop
            refers_to = stop.id if stop is not None else None
            form_values = {self._infusion(infusion.end_time): ""}  # the end time goes back to empty
        ref = self._ref(subject, infusion.form)
        form_reason = None
        if form_values:  # a complete infusion form takes the time with a reason for change
            if self.entry.open_form(ref).status.completed:
                form_reason = (UNDO_REASON_PREFIX + (clean or "") if kind is T.Kind.UNDO_STOP
                               else f"infusion {kind.value} recorded at the bedside")
            self._precheck(ref, form_values, reason=form_reason)
        _, changes = self._record(subject, kind.value, reason=clean, detail=detail, refers_to=refers_to)
        if form_values:
            changes |= self.entry.save_values(ref, form_values, reason=form_reason)
        return changes

    def correct_time(self, subject: str, event_id: int, local_time: str, reason: str) -> Changes:
        """Change the recorded clock time of a timer event (the original stays in the record), with a reason."""
        self._require_entry(subject)
        if not local_time.strip():
            raise ValidationError(Msg.FIELD_REQUIRED, field=L("Actual time", "Heure réelle"))
        try:
            when = V.parse_time(local_time)
        except V.ParseError as exc:
            raise ValidationError(Msg.FIELD_PATTERN, field=L("Actual time", "Heure réelle"), rule=exc.rule) from None
        if when is None:
            raise ValidationError(Msg.FIELD_REQUIRED, field=L("Actual time", "Heure réelle"))
        if not reason.strip():
            raise ValidationError(Msg.REASON_REQUIRED)
        events = {e.id: e for e in self._events(subject)}
        original = events.get(event_id)
        if original is None or original.kind not in TIMER_KINDS or original.kind == T.Kind.UNDO_STOP:
            raise ValidationError(Msg.BEDSIDE_REFUSED, problem=L("No such timer event", "Événement inconnu"))
        day = self._local(parse_iso_utc(original.wall_utc)).date()
        local = dt.datetime.combine(day, when)
        wall = (local - dt.timedelta(minutes=self.ctx.clock.local_offset_minutes())).replace(tzinfo=dt.UTC)
        infusion = self.day.infusion
        item = {"start": infusion.start_time, "stop": infusion.end_time}.get(original.kind)
        ref = self._ref(subject, infusion.form)
        form_values = {self._infusion(item): when.strftime("%H:%M")} if item else {}
        if form_values:
            self._precheck(ref, form_values, reason=reason)
        _, changes = self._record(subject, "correct", reason=reason.strip(), refers_to=event_id, wall=wall,
                                  detail={"was": original.wall_utc, "kind": original.kind})
        if form_values:
            changes |= self.entry.save_values(ref, form_values, reason=reason.strip())
        return changes

    def comment(self, subject: str, text: str) -> Changes:
        """A comment on the infusion (a deviation, a remark): recorded as an event and added to the infusion form's
        comment (a form already complete takes it with a reason for change)."""
        self._require_entry(subject)
        text = limits.text(text, limits.COMMENT, limits.MAX_COMMENT)
        if not text.strip():
            raise ValidationError(Msg.REASON_REQUIRED)
        infusion = self.day.infusion
        ref = self._ref(subject, infusion.form)
        key = self._infusion(infusion.comment)
        snap = self.entry.open_form(ref)
        before = snap.state.value(key)
        combined = (f"{before}\n{text.strip()}" if before else text.strip())[:1000]
        reason = COMMENT_REASON if snap.status.completed else None
        self._precheck(ref, {key: combined}, reason=reason)
        _, changes = self._record(subject, "comment", reason=text.strip())
        return changes | self.entry.save_values(ref, {key: combined}, reason=reason)

    # ----- vital signs ----------------------------------------------------------------------------------------
    def record_vitals(self, subject: str, timepoint: str | None, values: dict[str, str], *,
                      confirm: bool = False) -> Reading:
        """Store one set of readings (one row of the D0 vital-sign form) with its actual time; return its flags.
        Unusual values and review flags are all listed in one ``VitalsNeedConfirmation`` until ``confirm``."""
        self._require_entry(subject)
        vs = self.vitals
        group = vs.group or ""
        ref = self._ref(subject, vs.form)
        snap = self.entry.open_form(ref)
        state = snap.state
        if timepoint:
            for r in state.rows[group]:
                if state.value((group, r, vs.timepoint)) == timepoint:
                    label = next((L(p.label_en, p.label_fr) for p in self.protocol.vital_signs if p.id == timepoint),
                                 L(timepoint, timepoint))
                    raise ValidationError(Msg.TIMEPOINT_ALREADY_DONE, point=label)
        row = max(state.rows[group], default=0) + 1
        local = self._local(self._now().wall)
        entries: dict[CellKey, str] = {(group, row, vs.time): local.strftime("%H:%M")}
        if timepoint:
            entries[(group, row, vs.timepoint)] = timepoint
        entries |= {(group, row, item): text for item, text in values.items() if text.strip()}
        problems = self._review_set(state, group=group, row=row, entries=entries, timepoint=timepoint)
        if problems and not confirm:
            raise VitalsNeedConfirmation(problems)
        changes = self.entry.save_values(ref, entries, confirm=confirm)
        for item in values:
            self.entry.save_typing(ref, (group, 0, item), None)
        reading = next(r for r in self.state(subject).readings if r.row == row)
        return replace(reading, changes=changes)

    def _review_set(self, state: FormState, *, group: str, row: int, entries: dict[CellKey, str],
                    timepoint: str | None) -> tuple[L, ...]:
        """Every unusual value of the set (the form's soft limits) and every review flag (the protocol's alert
        limits and the baseline); refuses an impossible value at once, naming its field."""
        vs = self.vitals
        state.add_row(group, row)
        unusual: list[tuple[str, L]] = []
        for key, text in entries.items():
            state.set_text(key, text)
            refused, unconfirmed = state.acceptance(key)
            if refused is not None:
                raise ValidationError(Msg.VALUE_REFUSED, problem=refused.message)
            if unconfirmed is not None:
                unusual.append((key[2], unconfirmed.message))
        values = {i: state.canonical((group, row, i)) for i in vs.readings()}
        baseline = None
        if timepoint != BASELINE:
            base_row = next((r for r in state.rows[group] if r != row
                             and state.value((group, r, vs.timepoint)) == BASELINE), None)
            if base_row is not None:
                baseline = vs.by_name({i: state.canonical((group, base_row, i)) for i in vs.readings()})
        by_item: dict[str, L] = dict(unusual)
        for flag in review(vs.by_name(values), baseline, self.protocol):  # a flag says more than the soft limit
            by_item[getattr(vs, FLAG_MEASURES[flag.code])] = flag.message
        return tuple(by_item[item] for item in vs.readings() if item in by_item)

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

    # ----- what is typed and not saved: kept for the typist only (a lock, a takeover, a crash) ------------------
    def typed(self, subject: str) -> dict[str, str]:
        """The quick-entry fields typed but not saved by the signed-in user."""
        buffer = self.entry.typed_buffer(self._ref(subject, self.vitals.form))
        return {key[2]: text for key, (text, _unit) in buffer.items() if key[1] == 0}

    def save_typed(self, subject: str, item: str, text: str) -> None:
        self.entry.save_typing(self._ref(subject, self.vitals.form), (self.vitals.group or "", 0, item), text or None)

    def _check_draft_key(self, subject: str) -> str:
        return f"bedside-check:{subject}"

    def save_check_draft(self, subject: str, fields: dict[str, str]) -> None:
        """The product check typed and not recorded (encrypted, for the signed-in user only)."""
        kept = {k: v for k, v in fields.items() if v}
        if kept:
            self.drafts.save(self._check_draft_key(subject), kept, audited=False)
        else:
            self.drafts.discard(self._check_draft_key(subject), audited=False)

    def check_draft(self, subject: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.drafts.load(self._check_draft_key(subject)) or {}).items()}
