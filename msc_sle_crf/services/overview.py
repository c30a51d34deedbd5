"""Read models for the subject list and the subject dashboard: visit schedule, next action, every score.

Reads only (permission: view data); values are parsed with the definition each form was entered under.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from msc_sle_crf.access import Perm
from msc_sle_crf.clock import local_now
from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import FormDef, StudyDef
from msc_sle_crf.i18n import L
from msc_sle_crf.schedule import VisitPlan, next_action, plan
from msc_sle_crf.scoring.subject import DATE_ITEMS, FormData, SubjectScores, compute
from msc_sle_crf.services.session import Services, SubjectInfo
from msc_sle_crf.store.tables import FormDefinitionSnapshot, FormInstance, FormRow, ItemValue, Subject


@dataclass(frozen=True)
class SubjectRow:
    subject: SubjectInfo
    next_action: L
    visits_done: int
    visits_total: int


@dataclass(frozen=True)
class SubjectOverview:
    subject: SubjectInfo
    plans: list[VisitPlan]
    next_action: L
    scores: SubjectScores
    statuses: dict[tuple[str, str], str]


class Overview:
    def __init__(self, services: Services, study: StudyDef) -> None:
        self.services = services
        self.study = study
        self._definitions: dict[str, FormDef] = {f.content_hash(): f for f in study.forms.values()}

    def _today(self) -> dt.date:
        return local_now(self.services.site.clock).date()

    def _definition(self, session: Session, digest: str) -> FormDef:
        form = self._definitions.get(digest)
        if form is None:
            snap = session.get(FormDefinitionSnapshot, digest)
            assert snap is not None
            form = FormDef.model_validate_json(snap.definition_json)
            self._definitions[digest] = form
        return form

    def subject_rows(self) -> list[SubjectRow]:
        """Every subject with its next action (three queries, whatever the number of subjects)."""
        self.services.require(Perm.VIEW_DATA)
        today = self._today()
        with self.services.store.read() as session:
            subjects = session.execute(select(Subject).order_by(Subject.subject_number)).scalars().all()
            statuses: dict[int, dict[tuple[str, str], str]] = defaultdict(dict)
            for sid, event, form, status in session.execute(select(
                    FormInstance.subject_id, FormInstance.event_id, FormInstance.form_id, FormInstance.status)):
                statuses[sid][(event, form)] = status
            dates: dict[int, dict[str, dt.date]] = defaultdict(dict)
            day0: dict[int, dt.date] = {}
            end_reason: dict[int, str] = {}
            for sid, event, item, value in session.execute(
                    select(FormInstance.subject_id, FormInstance.event_id, ItemValue.item_id, ItemValue.value)
                    .join(ItemValue, ItemValue.instance_id == FormInstance.id)
                    .where(ItemValue.item_id.in_((*DATE_ITEMS, "EOSREAS")), ItemValue.value.is_not(None))):
                if item == "EOSREAS":
                    end_reason[sid] = str(value)
                    continue
                try:
                    date = dt.date.fromisoformat(str(value)[:10])
                except ValueError:
                    continue
                dates[sid].setdefault(event, date)
                if event == "D0" and item == "EXSTDAT":
                    day0[sid] = date
            rows = []
            for s in subjects:
                plans = plan(self.study, day0.get(s.id), statuses[s.id], dates[s.id], today)
                ended = statuses[s.id].get(("EOS", "end_of_study")) == "complete"
                info = SubjectInfo(s.subject_number, s.initials, s.birth_year, s.sex, s.status, s.created_utc)
                action = next_action(plans, ended=ended, reason=self._reason(end_reason.get(s.id)))
                if s.status == "locked":
                    action = L("Locked (end of study)", "Verrouillé (fin d'étude)")
                rows.append(SubjectRow(info, action,
                                       sum(1 for p in plans if p.state.value in ("done", "out_of_window")),
                                       len(plans)))
            return rows

    def load(self, session: Session, subject: Subject) -> tuple[dict[tuple[str, str], FormData],
                                                                dict[tuple[str, str], str]]:
        instances = session.execute(select(FormInstance).where(FormInstance.subject_id == subject.id)).scalars().all()
        by_id = {i.id: i for i in instances}
        removed = {(r.instance_id, r.group_id, r.row_no) for r in session.execute(
            select(FormRow).where(FormRow.instance_id.in_(by_id), FormRow.removed.is_(True))).scalars()}
        values: dict[int, dict[str, Any]] = defaultdict(dict)
        rows: dict[int, dict[str, dict[int, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
        for iv in session.execute(select(ItemValue).where(ItemValue.instance_id.in_(by_id))).scalars():
            instance = by_id[iv.instance_id]
            form = self._definition(session, instance.form_hash)
            try:
                item = form.item(iv.item_id)
                group = form.group_of(iv.item_id)
            except KeyError:
                continue
            # Scores read canonical values: a creatinine entered in mg/dL is scored in µmol/L.
            value = V.from_storage(item, iv.canonical if iv.canonical is not None else iv.value)
            if group.repeating:
                if (iv.instance_id, iv.group_id, iv.row_no) not in removed:
                    rows[iv.instance_id][iv.group_id].setdefault(iv.row_no, {})[iv.item_id] = value
            else:
                values[iv.instance_id][iv.item_id] = value
        data = {(i.event_id, i.form_id): FormData(i.status, values[i.id], {
            g: tuple(r for _, r in sorted(by_row.items())) for g, by_row in rows[i.id].items()})
            for i in instances}
        return data, {(i.event_id, i.form_id): i.status for i in instances}

    def subject(self, subject_number: str) -> SubjectOverview:
        self.services.require(Perm.VIEW_DATA, subject=subject_number)
        today = self._today()
        with self.services.store.read() as session:
            subject = session.execute(select(Subject).where(Subject.subject_number == subject_number)
                                      ).scalar_one_or_none()
            if subject is None:
                from msc_sle_crf.errors import Msg, ValidationError

                raise ValidationError(Msg.SUBJECT_UNKNOWN, subject=subject_number)
            data, statuses = self.load(session, subject)
            info = SubjectInfo(subject.subject_number, subject.initials, subject.birth_year, subject.sex,
                               subject.status, subject.created_utc)
        scores = compute(data, self.study.meta.scoring, today=today)
        plans = plan(self.study, scores.day0, statuses, scores.visit_dates, today)
        ended = statuses.get(("EOS", "end_of_study")) == "complete"
        eos = data.get(("EOS", "end_of_study"))
        reason = self._reason(str(eos.values.get("EOSREAS"))) if eos and eos.values.get("EOSREAS") else None
        return SubjectOverview(info, plans, next_action(plans, ended=ended, reason=reason), scores, statuses)

    def _reason(self, code: str | None) -> L | None:
        form = self.study.forms.get("end_of_study")
        if code is None or form is None:
            return None
        codelist = form.codelists.get("eos_reason")
        if codelist is None:
            return None
        for c in codelist.items:
            if c.code == code:
                return c.label.as_l()
        return None
