"""The study's outcome measures, live: outcome tables per visit by dose cohort and overall, and each cohort's safety
review for the dose-escalation decision; as data (the screen), plain text, CSV and a signed PDF.

Reads only (permission: view outcomes; investigators and monitors). Every subject's forms are read with the
definition each was entered under (``Overview.load``) and scored by ``scoring.subject``; the tables are built by
``scoring.summary``. A safety review is signed only once every subject of the cohort is past the immediate-tolerance
window; before that it can be printed marked "provisional". Files are written and audited by the printing service.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from pathlib import Path
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from msc_sle_crf.access import Perm
from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.i18n import L, Lang, current_lang
from msc_sle_crf.schedule import plan
from msc_sle_crf.scoring.report_text import CSV_COLUMNS, to_csv, to_text
from msc_sle_crf.scoring.subject import compute
from msc_sle_crf.scoring.summary import Report, SubjectOutcome, Summarizer, cohort_labels
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.services.overview import Overview
from msc_sle_crf.services.printing import Printing
from msc_sle_crf.services.settings import Settings
from msc_sle_crf.status import FormStatus
from msc_sle_crf.store.tables import AuditEvent, Subject

Format = Literal["pdf", "csv", "text"]


class Outcomes:
    def __init__(self, ctx: ServiceContext, study: StudyDef, overview: Overview, printing: Printing,
                 settings: Settings) -> None:
        self.ctx = ctx
        self.study = study
        self.overview = overview
        self.printing = printing
        self.settings = settings
        self._lock = threading.Lock()
        self._cache: tuple[tuple[dt.date, int | None], list[SubjectOutcome]] | None = None

    # ----- what can be asked ------------------------------------------------------------------------------------------
    def cohorts(self) -> dict[str, L]:
        return cohort_labels(self.study)

    def visits(self) -> tuple[str, ...]:
        b = self.study.bindings
        return (b.baseline_visit, *b.follow_up_visits)

    def _check_visit(self, visit: str | None) -> None:
        if visit is not None and visit not in self.visits():
            raise ValidationError(Msg.REPORT_VISIT_UNKNOWN, visit=visit, choices=", ".join(self.visits()))

    def _check_cohort(self, cohort: str) -> None:
        if cohort not in self.cohorts():
            raise ValidationError(Msg.REPORT_COHORT_UNKNOWN, cohort=cohort, choices=", ".join(self.cohorts()))

    # ----- the data ---------------------------------------------------------------------------------------------------
    def _today(self) -> dt.date:
        return self.ctx.local_now().date()

    def subjects(self) -> list[SubjectOutcome]:
        """Every subject of the site, scored as of today (one read transaction). Kept until the data change: every
        write adds an audit record in its own transaction, so the last audit record number says whether anything
        changed since; switching visit or cohort then costs nothing."""
        self.ctx.require(Perm.VIEW_OUTCOMES)
        with self._lock:  # the screen asks for the outcomes and a safety review at once: compute them once
            today = self._today()
            with self.ctx.read() as session:
                stamp = (today, session.scalar(select(func.max(AuditEvent.id))))
                if self._cache is not None and self._cache[0] == stamp:
                    return self._cache[1]
                subjects = self._score_all(session, today)
            self._cache = (stamp, subjects)
            return subjects

    def _score_all(self, session: Session, today: dt.date) -> list[SubjectOutcome]:
        study = self.study
        eos = study.bindings.end_of_study
        out: list[SubjectOutcome] = []
        loaded = self.overview.load_all(session)
        for subject in session.execute(select(Subject).order_by(Subject.subject_number)).scalars():
            data, statuses = loaded.get(subject.id, ({}, {}))
            scores = compute(data, study.bindings, self.overview.day0, study.meta.scoring, today=today,
                             visits={e.id: e.label.as_l() for e in study.meta.events})
            plans = tuple(plan(study, scores.day0, statuses, scores.visit_dates, today))
            end = data.get((eos.event or "", eos.form))
            ended = end.values.get(eos.date) if end is not None and FormStatus.of(end.status) in (
                FormStatus.COMPLETE, FormStatus.VERIFIED, FormStatus.SIGNED, FormStatus.LOCKED) else None
            out.append(SubjectOutcome(subject.subject_number, scores, statuses, plans,
                                      ended if isinstance(ended, dt.date) else None))
        return out

    def report(self, visit: str | None = None) -> Report:
        """Outcomes at one visit (baseline or follow-up), or at every visit."""
        self.ctx.require(Perm.VIEW_OUTCOMES)
        self._check_visit(visit)
        return Summarizer(self.study, self.subjects(), self._today()).outcomes(visit)

    def safety_review(self, cohort: str) -> Report:
        self.ctx.require(Perm.VIEW_OUTCOMES)
        self._check_cohort(cohort)
        return Summarizer(self.study, self.subjects(), self._today()).safety(cohort)

    # ----- files ------------------------------------------------------------------------------------------------------
    def _what(self, report: Report, fmt: str) -> str:
        return f"{report.title.en} ({fmt})"

    def text(self, report: Report, lang: Lang | None = None) -> str:
        return to_text(report, lang or current_lang())

    def csv(self, report: Report, lang: Lang | None = None) -> bytes:
        """The report as CSV; its last row is its provenance: the audit trail's head when it was made (the file is
        then also a receipt: ``verify --receipt``)."""
        self.ctx.require(Perm.EXPORT)
        head_id, head_hash = self.printing.trail_head()
        extra = io.StringIO()
        csv.DictWriter(extra, fieldnames=CSV_COLUMNS, lineterminator="\r\n").writerow(
            {"report": "provenance", "table": "audit_trail", "row_label": self.ctx.actor.username,
             "text": f"trail #{head_id} {head_hash}"})
        return to_csv(report, lang or current_lang()) + extra.getvalue().encode("utf-8")

    def pdf(self, report: Report, *, provisional: bool = False, lang: Lang | None = None) -> bytes:
        """The report as a PDF signed with the site certificate. A safety review that is not ready is refused
        unless asked for as provisional (then marked so on every page)."""
        from msc_sle_crf.pdf.report import ReportDocument

        self.ctx.require(Perm.PRINT)
        if report.kind == "safety" and not report.ready and not provisional:
            waiting = L("; ".join(w.en for w in report.waiting), "; ".join(w.fr for w in report.waiting))
            raise ValidationError(Msg.SAFETY_REVIEW_NOT_READY, cohort=report.cohort or "?", waiting=waiting)
        lang = lang or current_lang()
        pdf = ReportDocument(self.printing.page_info(lang), provisional=provisional).render(report)
        prefix = "PROVISIONAL " if provisional else ""
        return self.printing.sign_document(pdf, prefix + report.title.en)

    def write(self, data: bytes, target: Path, report: Report, fmt: str) -> Changes:
        """Written atomically and audited by the printing service, which refuses the site's own files."""
        return self.printing.write(data, target, self._what(report, fmt))
