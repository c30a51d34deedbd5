"""Read models for the subject list and the subject dashboard: visit schedule, next action, every score.

Reads only (permission: view data); values are parsed with the definition each form was entered under. The
visits, forms and items read here are the study's bindings (study.yaml), not ids written in Python.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from msc_sle_crf.access import Perm
from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.i18n import L
from msc_sle_crf.schedule import VisitPlan, VisitState, next_action, plan
from msc_sle_crf.scoring.subject import Day0, FormData, SubjectScores, compute
from msc_sle_crf.services import reads
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.services.subjects import SubjectInfo
from msc_sle_crf.status import FormStatus
from msc_sle_crf.store.tables import FormInstance, ItemValue, Subject


@dataclass(frozen=True)
class SubjectRow:
    subject: SubjectInfo
    next_action: L
    visits_done: int
    visits_total: int
    overdue: bool = False


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

    def _today(self) -> dt.date:
        return self.ctx.local_now().date()

    def subject_rows(self) -> list[SubjectRow]:
        """Every subject with its next action (three queries, whatever the number of subjects)."""
        self.ctx.require(Perm.VIEW_DATA)
        today = self._today()
        bindings = self.study.bindings
        eos = bindings.end_of_study
        date_items = bindings.visit_date_items
        with self.ctx.read() as session:
            subjects = session.execute(select(Subject).order_by(Subject.subject_number)).scalars().all()
            statuses: dict[int, dict[tuple[str, str], str]] = defaultdict(dict)
            for sid, event, form, status in session.execute(select(
                    FormInstance.subject_id, FormInstance.event_id, FormInstance.form_id, FormInstance.status)):
                statuses[sid][(event, form)] = status
            found: dict[int, dict[str, dict[str, dt.date]]] = defaultdict(lambda: defaultdict(dict))
            day0: dict[int, dt.date] = {}
            end_reason: dict[int, str] = {}
            wanted = {*date_items, self.day0.item, eos.reason}
            for sid, event, form, item, value in session.execute(
                    select(FormInstance.subject_id, FormInstance.event_id, FormInstance.form_id, ItemValue.item_id,
                           ItemValue.value)
                    .join(ItemValue, ItemValue.instance_id == FormInstance.id)
                    .where(ItemValue.item_id.in_(wanted), ItemValue.value.is_not(None))):
                if (event, form, item) == (eos.event, eos.form, eos.reason):
                    end_reason[sid] = str(value)
                    continue
                try:
                    date = dt.date.fromisoformat(str(value)[:10])
                except ValueError:
                    continue
                found[sid][event].setdefault(item, date)
                if (event, form, item) == (self.day0.event, self.day0.form, self.day0.item):
                    day0[sid] = date
            rows = []
            for s in subjects:
                dates = {event: next(by_item[i] for i in date_items if i in by_item)
                         for event, by_item in found[s.id].items() if any(i in by_item for i in date_items)}
                plans = plan(self.study, day0.get(s.id), statuses[s.id], dates, today)
                ended = statuses[s.id].get((eos.event or "", eos.form)) == FormStatus.COMPLETE
                action = next_action(plans, ended=ended, reason=self._reason(end_reason.get(s.id)))
                if s.status == "locked":
                    action = L("Locked (end of study)", "Verrouillé (fin d'étude)")
                rows.append(SubjectRow(SubjectInfo.of(s), action,
                                       sum(1 for p in plans if p.state in (VisitState.DONE,
                                                                           VisitState.DONE_OUT_OF_WINDOW)),
                                       len(plans), any(p.state is VisitState.OVERDUE for p in plans)))
            return rows

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
