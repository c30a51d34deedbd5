"""The status-bar line of the database check run in the background after sign-in (every page, the whole trail and
its signatures): green when intact, red with the problem, and what the opening already found while it runs."""

from __future__ import annotations

from msc_sle_crf.errors import CrfError
from msc_sle_crf.i18n import Lang, current_lang
from msc_sle_crf.services import IntegrityReport, Workspace
from msc_sle_crf.ui.common import error_text, tr
from msc_sle_crf.ui.ops import Ops
from msc_sle_crf.ui.status_label import MIN_CHARS, ElidedLabel

KEEP_PX = 380  # whole up to this width on the status bar (a longer problem is cut with "…", whole in its tooltip)


class IntegrityStatus(ElidedLabel):
    def __init__(self, ws: Workspace) -> None:
        super().__init__(keep_px=KEEP_PX)
        self.setObjectName("integrity")
        self.report: IntegrityReport | None = None
        self.state = ""  # "", "running", "done", "failed"
        self.error = ""
        self.closed = False
        self.since = 0  # audit records written after the check (saves, imports): the count follows them
        self.show_state(ws)

    def follow(self, ws: Workspace) -> None:
        """A write was announced (its change record): the count includes the records written since the check."""
        report = self.report
        if report is None or self.closed or ws.locked or report.audit.last_id is None:
            return
        try:
            since = ws.integrity.records_after(report.audit.last_id)
        except CrfError:
            return
        if since != self.since:
            self.since = since
            self.show_state(ws)

    def stop(self, ws: Workspace) -> None:
        self.closed = True
        ws.integrity.stop_checks()

    def check(self, ws: Workspace, ops: Ops) -> None:
        """Every page and the whole audit chain, checked in the background after sign-in (the opening checks only
        what refuses a wrong or damaged file, in constant time); the result stays on the status bar."""
        if self.state == "running" or self.closed:
            return
        self.state = "running"
        self.show_state(ws)

        def done(report: IntegrityReport) -> None:
            self.report = report
            self.since = 0
            self.state = "done"
            if not self.closed:
                self.show_state(ws)
                self.follow(ws)  # the check's own record, and anything written while it ran

        def failed(exc: BaseException) -> None:
            self.state = "failed"
            self.error = error_text(exc)
            if not self.closed:
                self.show_state(ws)

        ops.background(ws.integrity.check_after_sign_in, on_done=done, on_error=failed)

    def show_state(self, ws: Workspace) -> None:
        label, report = self, self.report
        opening = ws.site.opening_check  # the newest records, re-checked when the database was opened
        if self.state == "running" and (opening is None or opening.ok):
            text, colour = tr("Checking the database…", "Contrôle de la base…"), "#5f6b76"
        elif self.state == "failed":
            text, colour = tr("Database check not completed: ", "Contrôle de la base non terminé : ") \
                + self.error, "#b26a00"
        elif report is not None and report.ok:
            sep = " " if current_lang() is Lang.FR else ","
            n = f"{report.audit.records + self.since:,}".replace(",", sep)
            checked = f"{report.audit.records:,}".replace(",", sep)
            # Good news gives way on a narrow bar (at 1280-1366 px beside TRAINING and the backups warning the site's
            # name was cut): down to "✓…", the whole line in its tooltip; a problem stays whole up to KEEP_PX.
            label.keep_px, label.min_chars = 0, 1
            label.setText(tr(f"✓ Database intact ({n} audit records)", f"✓ Base intacte ({n} enr. d'audit)"))
            again = tr(" Checked again on the new key: the database was re-keyed while it ran.",
                       " Contrôlée à nouveau avec la nouvelle clé : la base a été rechiffrée pendant le contrôle."
                       ) if report.after_rekey else ""
            label.setToolTip(tr(f"Checked after sign-in: every page of the database and the whole audit trail "
                                f"({checked} records) are intact; {self.since} recorded since.",
                                f"Contrôlée après la connexion : toutes les pages de la base et toute la piste "
                                f"d'audit ({checked} enregistrements) sont intactes ; {self.since} enregistré(s) "
                                "depuis.") + again)
            label.setStyleSheet("color: #2e7d32;")
            return
        elif report is not None or (opening is not None and not opening.ok):
            if report is None:  # the full check is still running: what the opening found
                assert opening is not None
                problem = f"#{opening.first_bad_id}: {opening.problem}"
            else:
                problem = "; ".join(report.page_problems[:2]) or "; ".join(report.loss_messages()[:1]) or (
                    f"#{report.audit.first_bad_id}: {report.audit.problem}")
            text, colour = tr(f"INTEGRITY PROBLEM: {problem} — tell the administrator (msc-sle-crf verify)",
                              f"PROBLÈME D'INTÉGRITÉ : {problem} — prévenir l'administrateur "
                              "(msc-sle-crf verify)"), "#b00020"
        else:
            text, colour = "", "#5f6b76"
        label.keep_px, label.min_chars = KEEP_PX, MIN_CHARS
        label.setText(text)
        label.setToolTip(text)
        label.setStyleSheet(f"color: {colour};" + (" font-weight: bold;" if colour == "#b00020" else ""))
