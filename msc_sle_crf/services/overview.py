"""Read models for the subject list and the subject dashboard: visit schedule, next action, every score.

Reads only (permission: view data); values are parsed with the definition each form was entered under. The
visits, forms and items read here are the study's bindings (study.yaml), not ids written in Python.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from msc_sle_crf.access import Perm
from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.i18n import L
from msc_sle_crf.schedule import VisitPlan, VisitState, next_action, plan
from msc_sle_crf.scoring.subject import Day0, FormData, SubjectScores, compute
from msc_sle_crf.scoring.summary import cohort_labels
from msc_sle_crf.services import reads
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.services.subjects import SubjectInfo
from msc_sle_crf.status import FormStatus
from msc_sle_crf.store.tables import FormInstance, ItemValue, Subject

# Where a subject is in the study, as the subject list filters it (key -> label).
STAGES: dict[str, L] = {
    "screening": L("Screening / inclusion", "Sélection / inclusion"),
    "follow_up": L("Infused, in follow-up", "Perfusé, en suivi"),
    "ended": L("Ended", "Terminé"),
    "locked": L("Locked", "Verrouillé"),
}


@dataclass(frozen=True)
class SubjectRow:
    subject: SubjectInfo
    next_action: L
    visits_done: int
    visits_total: int
    overdue: bool = False
    cohort: str | None = None  # the dose cohort's code, once recorded
    stage: str = "screening"  # a key of STAGES


@dataclass
class _Inputs:
    """One subject as the list reads it (see ``Overview.subject_rows``)."""

    info: SubjectInfo
    statuses: dict[tuple[str, str], str] = field(default_factory=dict)
    dates: dict[str, dt.date] = field(default_factory=dict)
    day0: dt.date | None = None
    end_reason: str | None = None
    cohort: str | None = None


@dataclass(frozen=True)
class SubjectOverview:
    subject: SubjectInfo
    plans: list[VisitPlan]
    next_action: L
    scores: SubjectScores
    statuses: dict[tuple[str, str], FormStatus]


class Overview:
    def __init__(self, ctx: ServiceContext, study: StudyDef) -> None:
        self.ctx = ctx
        self.study = study
        anchor = study.meta.anchor
        assert anchor is not None, "study.yaml declares where day 0 comes from (anchor)"
        self.day0 = Day0(anchor.event, anchor.form, anchor.item)
        self._model: dict[int, _Inputs] | None = None  # the subject list's read model (subject_rows)
        self._rows: dict[int, tuple[dt.date, SubjectRow]] = {}
        self._model_lock = threading.Lock()  # read at sign-in in the background, then by the screen
        self._generation = -1  # the store's generation the model was last brought up to
        day = study.bindings.infusion_day
        self._cohort_at = (day.event, day.dose.form, day.dose.cohort)  # where the dose cohort is recorded

    def _today(self) -> dt.date:
        return self.ctx.local_now().date()

    def subject_rows(self, *, changed: Iterable[str] | None = None) -> list[SubjectRow]:
        """Every subject with its next action, from a read model kept by this service: read whole the first time
        (three grouped queries, whatever the number of subjects), then only the ``changed`` subjects are read again
        (what a write's change record names). ``None``: as it is if nothing was written since (``Store.generation``),
        else read whole again. A row is computed again when its subject's data changed or the day did (overdue
        visits)."""
        self.ctx.require(Perm.VIEW_DATA)
        today = self._today()
        store = self.ctx.store
        with self._model_lock:
            if changed is None and self._model is not None and self._generation == store.generation:
                pass  # nothing was written since it was read: as it is
            elif self._model is None or changed is None:
                self._model = self._read_inputs(None)
                self._rows.clear()
            else:
                numbers = set(changed)
                if numbers:
                    fresh = self._read_inputs(numbers)
                    for sid in [sid for sid, i in self._model.items() if i.info.subject_number in numbers]:
                        self._model.pop(sid)
                        self._rows.pop(sid, None)
                    self._model.update(fresh)
            self._generation = store.generation
            out = []
            for sid, inputs in sorted(self._model.items(), key=lambda kv: kv[1].info.subject_number):
                cached = self._rows.get(sid)
                if cached is None or cached[0] != today:
                    cached = (today, self._row(inputs, today))
                    self._rows[sid] = cached
                out.append(cached[1])
            return out

    def _row(self, inputs: _Inputs, today: dt.date) -> SubjectRow:
        eos = self.study.bindings.end_of_study
        plans = plan(self.study, inputs.day0, inputs.statuses, inputs.dates, today)
        ended = inputs.statuses.get((eos.event or "", eos.form)) == FormStatus.COMPLETE
        action = next_action(plans, ended=ended, reason=self._reason(inputs.end_reason))
        stage = stage_of(ended=ended, infused=inputs.day0 is not None, locked=inputs.info.status == "locked")
        if stage == "locked":
            action = L("Locked (end of study)", "Verrouillé (fin d'étude)")
        return SubjectRow(inputs.info, action,
                          sum(1 for p in plans if p.state in (VisitState.DONE, VisitState.DONE_OUT_OF_WINDOW)),
                          len(plans), any(p.state is VisitState.OVERDUE for p in plans), inputs.cohort, stage)

    def stages(self) -> dict[str, str]:
        """Subject number -> the stage the subject list shows (``stage_of``, a key of STAGES), read afresh (not the
        list's read model), without the list's permission check (services/export.py checks who exports) and in
        portable SQL (the export runs on the hub too): for subjects.csv, whose STATUS must say what the app shows.
        The stored ``subject.status`` only says whether the subject is locked; the stage comes from the forms (a day
        0 date recorded, the end-of-study form complete), as ``_row`` reads them."""
        eos = self.study.bindings.end_of_study
        with self.ctx.read() as session:
            subjects = session.execute(select(Subject.id, Subject.subject_number, Subject.status)).all()
            ended = set(session.execute(select(FormInstance.subject_id).where(
                FormInstance.event_id == (eos.event or ""), FormInstance.form_id == eos.form,
                FormInstance.status == FormStatus.COMPLETE.value)).scalars())
            infused: set[int] = set()
            for sid, value in session.execute(
                    select(FormInstance.subject_id, ItemValue.value).join(ItemValue, ItemValue.instance_id ==
                                                                           FormInstance.id).where(
                        FormInstance.event_id == self.day0.event, FormInstance.form_id == self.day0.form,
                        ItemValue.item_id == self.day0.item, ItemValue.value.is_not(None))).all():
                try:
                    dt.date.fromisoformat(str(value)[:10])
                except ValueError:
                    continue
                infused.add(int(sid))
        return {str(number): stage_of(ended=sid in ended, infused=sid in infused, locked=status == "locked")
                for sid, number, status in subjects}

    def cohorts(self) -> dict[str, L]:
        """The dose cohorts (code -> label), as the dose form lists them."""
        self.ctx.require(Perm.VIEW_DATA)
        return cohort_labels(self.study)

    def _read_inputs(self, numbers: set[str] | None) -> dict[int, _Inputs]:
        """What the list computes from, per subject id: statuses, visit dates, day 0, end-of-study reason. Grouped
        in SQL (one row per subject and visit), on the read connection's page cache."""
        bindings = self.study.bindings
        eos = bindings.end_of_study
        date_items = bindings.visit_date_items
        dose = bindings.infusion_day.dose
        wanted = sorted({*date_items, self.day0.item, eos.reason, dose.cohort})
        where, args = "", []
        # Only placeholders are pasted into these statements (their number), never a value.
        only = f" WHERE subject_number IN ({','.join('?' * len(numbers))})" if numbers else ""
        with self.ctx.read() as session:
            conn = session.connection()
            subjects = conn.exec_driver_sql(_SUBJECTS + only, tuple(sorted(numbers or ()))).all()
            out = {int(r[0]): _Inputs(SubjectInfo(*r[1:])) for r in subjects}
            if numbers is not None:
                if not out:
                    return out
                where = f" AND fi.subject_id IN ({','.join('?' * len(out))})"
                args = list(out)
            for sid, event, packed in conn.exec_driver_sql(_STATUSES.format(where=where), tuple(args)).all():
                inputs = out.get(int(sid))
                if inputs is not None:
                    for part in str(packed).split("\x1e"):
                        form, _, status = part.partition("\x1f")
                        inputs.statuses[(str(event), form)] = status
            for sid, event, packed in conn.exec_driver_sql(
                    _VALUES.format(items=",".join("?" * len(wanted)), where=where), (*wanted, *args)).all():
                inputs = out.get(int(sid))
                if inputs is not None:
                    self._take_values(inputs, str(event), str(packed), date_items)
        return out

    def _take_values(self, inputs: _Inputs, event: str, packed: str, date_items: tuple[str, ...]) -> None:
        eos = self.study.bindings.end_of_study
        by_item: dict[str, dt.date] = {}
        for part in packed.split("\x1e"):
            form, item, value = [*part.split("\x1f"), "", ""][:3]
            if (event, form, item) == (eos.event, eos.form, eos.reason):
                inputs.end_reason = value
                continue
            if (event, form, item) == self._cohort_at:
                inputs.cohort = value
                continue
            try:
                date = dt.date.fromisoformat(value[:10])
            except ValueError:
                continue
            by_item.setdefault(item, date)
            if (event, form, item) == (self.day0.event, self.day0.form, self.day0.item):
                inputs.day0 = date
        visit_date = next((by_item[i] for i in date_items if i in by_item), None)
        if visit_date is not None:
            inputs.dates[event] = visit_date

    def load(self, session: Session, subject: Subject) -> tuple[dict[tuple[str, str], FormData],
                                                                dict[tuple[str, str], FormStatus]]:
        """One subject's forms, each parsed with the definition it was entered under."""
        instances = reads.instances(session, subject.id)
        cells = session.execute(select(*_CELL).where(ItemValue.instance_id.in_([i.id for i in instances]))).all()
        return _assemble(session, instances, cells)

    def load_all(self, session: Session) -> dict[int, tuple[dict[tuple[str, str], FormData],
                                                           dict[tuple[str, str], FormStatus]]]:
        """Every subject's forms (subject id -> what ``load`` gives), in three queries whatever the number of
        subjects: what the study's outcome tables read."""
        by_subject: dict[int, list[FormInstance]] = defaultdict(list)
        for instance in session.execute(select(FormInstance)).scalars():
            by_subject[instance.subject_id].append(instance)
        owner = {i.id: sid for sid, instances in by_subject.items() for i in instances}
        cells_of: dict[int, list[Any]] = defaultdict(list)
        for cell in session.execute(select(*_CELL)):
            cells_of[owner[cell.instance_id]].append(cell)
        removed = reads.removed_rows(session, owner)
        return {sid: _assemble(session, instances, cells_of[sid], removed) for sid, instances in by_subject.items()}

    def subject(self, subject_number: str) -> SubjectOverview:
        self.ctx.require(Perm.VIEW_DATA, subject=subject_number)
        today = self._today()
        bindings = self.study.bindings
        with self.ctx.read() as session:
            subject = reads.subject(session, subject_number)
            data, statuses = self.load(session, subject)
            info = SubjectInfo.of(subject)
        scores = compute(data, bindings, self.day0, self.study.meta.scoring, today=today)
        plans = plan(self.study, scores.day0, statuses, scores.visit_dates, today)
        eos = bindings.end_of_study
        ended = statuses.get((eos.event or "", eos.form)) == FormStatus.COMPLETE
        eos_data = data.get((eos.event or "", eos.form))
        code = eos_data.values.get(eos.reason) if eos_data else None
        reason = self._reason(str(code)) if code else None
        return SubjectOverview(info, plans, next_action(plans, ended=ended, reason=reason), scores, statuses)

    def _reason(self, code: str | None) -> L | None:
        eos = self.study.bindings.end_of_study
        form = self.study.forms.get(eos.form)
        if code is None or form is None:
            return None
        codelist = form.codelist_for(form.item(eos.reason), dict(self.study.meta.codelists))
        if codelist is None:
            return None
        for c in codelist.items:
            if c.code == code:
                return c.label.as_l()
        return None


def stage_of(*, ended: bool, infused: bool, locked: bool) -> str:
    """Where a subject is (a key of STAGES): locked (the stored status), else ended (the end-of-study form
    complete), else in follow-up (a day 0 recorded), else screening. The subject list and the export's subjects.csv
    both say this."""
    if locked:
        return "locked"
    return "ended" if ended else "follow_up" if infused else "screening"


# The subject list's reads, one row per subject (and visit), grouped in SQL: char(31) separates fields, char(30)
# entries.
_SUBJECTS = ("SELECT id, subject_number, initials, birth_year, sex, status, created_utc, COALESCE(owner_ws, 'WS-01') "
             "FROM subject")
_STATUSES = ("SELECT fi.subject_id, fi.event_id, group_concat(fi.form_id || char(31) || fi.status, char(30)) "
             "FROM form_instance fi WHERE 1 = 1{where} GROUP BY fi.subject_id, fi.event_id")
_VALUES = ("SELECT fi.subject_id, fi.event_id, group_concat(fi.form_id || char(31) || iv.item_id || char(31) "
           "|| iv.value, char(30)) FROM item_value iv JOIN form_instance fi ON fi.id = iv.instance_id "
           "WHERE iv.item_id IN ({items}) AND iv.value IS NOT NULL{where} GROUP BY fi.subject_id, fi.event_id")

# The columns of a stored value the scores need (plain rows, not ORM objects: a study has tens of thousands).
_CELL = (ItemValue.instance_id, ItemValue.group_id, ItemValue.row_no, ItemValue.item_id, ItemValue.value,
         ItemValue.canonical)


def _assemble(session: Session, instances: list[FormInstance], cells: Iterable[Any],
              removed: set[tuple[int, str, int]] | None = None
              ) -> tuple[dict[tuple[str, str], FormData], dict[tuple[str, str], FormStatus]]:
    by_id = {i.id: i for i in instances}
    removed = reads.removed_rows(session, by_id) if removed is None else removed
    values: dict[int, dict[str, Any]] = defaultdict(dict)
    rows: dict[int, dict[str, dict[int, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    for iv in cells:
        instance = by_id[iv.instance_id]
        form = reads.definition(session, instance.form_hash)
        if not form.has_item(iv.item_id):
            continue
        item = form.item(iv.item_id)
        group = form.group_of(iv.item_id)
        # Scores read canonical values: a creatinine entered in mg/dL is scored in µmol/L.
        value = V.from_storage(item, iv.canonical if iv.canonical is not None else iv.value)
        if group.repeating:
            if (iv.instance_id, iv.group_id, iv.row_no) not in removed:
                rows[iv.instance_id][iv.group_id].setdefault(iv.row_no, {})[iv.item_id] = value
        else:
            values[iv.instance_id][iv.item_id] = value
    # Every repeating group of the definition is present, empty when it has no row: a group the form version
    # does not have (data entered under an older version) stays absent, which the scores tell apart.
    data = {(i.event_id, i.form_id): FormData(i.status, values[i.id], {
        **{g.id: () for g in reads.definition(session, i.form_hash).groups if g.repeating},
        **{g: tuple(r for _, r in sorted(by_row.items())) for g, by_row in rows[i.id].items()}}, i.form_version)
        for i in instances}
    return data, {(i.event_id, i.form_id): FormStatus(i.status) for i in instances}
