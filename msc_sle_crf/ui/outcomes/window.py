"""The study's outcomes window (investigators and monitors): outcome tables per visit by dose cohort and overall, the
safety review of a cohort (ready or not for the dose-escalation decision, and why), plots, completeness; print a
signed PDF or save a CSV of what is shown. Everything is computed off the UI thread and recomputed when data
change anywhere in the app (``Ops.data_changed``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.errors import CrfError
from msc_sle_crf.i18n import current_lang
from msc_sle_crf.scoring.summary import Report
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.ui.common import error_text, named, tr
from msc_sle_crf.ui.ops import Ops
from msc_sle_crf.ui.outcomes.tables import ReportTableWidget

ALL_VISITS = ""


class TablesPage(QScrollArea):
    """Report tables one under the other, scrolling."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.tables: dict[str, ReportTableWidget] = {}
        self._body = QWidget()
        self._layout = QVBoxLayout(self._body)
        self._layout.addStretch(1)
        self.setWidget(self._body)

    def show_tables(self, report: Report, keys: set[str] | None = None, exclude: set[str] | None = None,
                    min_grade: int = 3) -> None:
        for widget in self.tables.values():
            widget.setParent(None)
            widget.deleteLater()
        self.tables = {}
        for table in report.tables:
            if (keys is not None and table.key not in keys) or (exclude and table.key in exclude):
                continue
            widget = ReportTableWidget(table, min_grade)
            self.tables[table.key] = widget
            self._layout.insertWidget(self._layout.count() - 1, widget)


class OutcomesWindow(QMainWindow):
    def __init__(self, ws: Workspace, parent: QWidget | None = None, *, ops: Ops | None = None) -> None:
        super().__init__(parent)
        self.ws = ws
        self.ops = ops if ops is not None else Ops(self)
        self.setObjectName("outcomes")
        self.setWindowTitle(tr("Outcomes of the study", "Critères de jugement de l'étude"))
        self.resize(1240, 760)
        self.outcomes = ws.outcomes
        self.report: Report | None = None
        self.safety: Report | None = None
        self.loading = 0  # background computations still running
        self.error: str | None = None
        self.min_grade = ws.study.meta.scoring.toxicity.min_grade
        self.last_written: Path | None = None
        self._outcomes_request = self._safety_request = 0

        central = QWidget()
        self.setCentralWidget(central)
        root = QVBoxLayout(central)
        top = QHBoxLayout()
        self.title = named(QLabel(tr("Outcomes of the study", "Critères de jugement de l'étude")), "title")
        top.addWidget(self.title)
        top.addStretch(1)
        self.as_of = named(QLabel(""), "subtitle")
        top.addWidget(self.as_of)
        top.addSpacing(16)
        self.status = named(QLabel(""), "subtitle")
        top.addWidget(self.status)
        self.refresh_button = QPushButton(tr("Refresh", "Actualiser"))
        self.refresh_button.clicked.connect(self.refresh)
        top.addWidget(self.refresh_button)
        root.addLayout(top)
        self.error_label = named(QLabel(""), "error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        root.addWidget(self.error_label)

        self.tabs = QTabWidget()
        root.addWidget(self.tabs, 1)
        self._outcomes_tab()
        self._safety_tab()
        self._plots_tab()
        self._completeness_tab()

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(400)
        self._debounce.timeout.connect(self.refresh)
        self.ops.data_changed.connect(self._changed)
        self.closed = False
        self.refresh()

    def _changed(self, changes: Changes) -> None:
        """Clinical data changed somewhere in the app (not a print or an export): recompute, once things settle."""
        if changes.data and not self.closed:
            self._debounce.start()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed = True  # computations still running finish into nothing
        self._debounce.stop()
        super().closeEvent(event)

    # ----- pages ----------------------------------------------------------------------------------------------------
    def _outcomes_tab(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        bar = QHBoxLayout()
        bar.addWidget(QLabel(tr("Visit:", "Visite :")))
        self.visit = named(QComboBox(), "visit")
        self.visit.addItem(tr("Every visit", "Toutes les visites"), ALL_VISITS)
        for visit in self.outcomes.visits():
            self.visit.addItem(f"{visit} — {self.ws.study.event(visit).label.get(current_lang())}", visit)
        self.visit.currentIndexChanged.connect(lambda _i: self.load_outcomes())
        bar.addWidget(self.visit)
        bar.addStretch(1)
        self.outcomes_pdf = QPushButton(tr("Print signed PDF…", "Imprimer le PDF signé…"))
        self.outcomes_pdf.clicked.connect(lambda: self._ask_and_print(self.report, provisional=False))
        self.outcomes_csv = QPushButton(tr("Save CSV…", "Enregistrer en CSV…"))
        self.outcomes_csv.clicked.connect(lambda: self._ask_and_save_csv(self.report))
        bar.addWidget(self.outcomes_pdf)
        bar.addWidget(self.outcomes_csv)
        layout.addLayout(bar)
        self.outcome_tables = TablesPage()
        layout.addWidget(self.outcome_tables, 1)
        self.tabs.addTab(page, tr("Outcomes by cohort", "Critères par cohorte"))

    def _safety_tab(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        bar = QHBoxLayout()
        bar.addWidget(QLabel(tr("Cohort:", "Cohorte :")))
        self.cohort = named(QComboBox(), "cohort")
        for code, label in self.outcomes.cohorts().items():
            self.cohort.addItem(label.get(current_lang()), code)
        self.cohort.currentIndexChanged.connect(lambda _i: self.load_safety())
        bar.addWidget(self.cohort)
        bar.addStretch(1)
        self.readiness = named(QLabel(""), "readiness")
        self.readiness.setWordWrap(True)
        self.safety_pdf = QPushButton(tr("Print the safety review…", "Imprimer la revue de tolérance…"))
        self.safety_pdf.setObjectName("primary")
        self.safety_pdf.clicked.connect(lambda: self._ask_and_print(self.safety, provisional=False))
        self.safety_provisional = QPushButton(tr("Print provisional…", "Imprimer une version provisoire…"))
        self.safety_provisional.clicked.connect(lambda: self._ask_and_print(self.safety, provisional=True))
        self.safety_csv = QPushButton(tr("Save CSV…", "Enregistrer en CSV…"))
        self.safety_csv.clicked.connect(lambda: self._ask_and_save_csv(self.safety))
        for button in (self.safety_pdf, self.safety_provisional, self.safety_csv):
            bar.addWidget(button)
        layout.addLayout(bar)
        layout.addWidget(self.readiness)
        self.safety_tables = TablesPage()
        layout.addWidget(self.safety_tables, 1)
        self.tabs.addTab(page, tr("Safety review", "Revue de tolérance"))

    def _plots_tab(self) -> None:
        from msc_sle_crf.ui.outcomes.plots import GradeBarsWidget, TrajectoriesWidget

        self.plot_tabs = QTabWidget()
        self.trajectories = TrajectoriesWidget()
        self.grade_bars = GradeBarsWidget()
        self.plot_tabs.addTab(self.trajectories, tr("Trajectories M0-M12", "Trajectoires M0-M12"))
        self.plot_tabs.addTab(self.grade_bars, tr("Maximum grade per window", "Grade maximal par fenêtre"))
        self.tabs.addTab(self.plot_tabs, tr("Plots", "Graphiques"))

    def _completeness_tab(self) -> None:
        self.completeness_tables = TablesPage()
        self.tabs.addTab(self.completeness_tables, tr("Completeness", "Complétude"))

    # ----- loading --------------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.load_outcomes()
        self.load_safety()

    def _busy(self, delta: int) -> None:
        self.loading += delta
        if self.closed:
            return
        self.status.setText(tr("Computing…", "Calcul en cours…") if self.loading else "")
        self.refresh_button.setEnabled(not self.loading)

    def _failed(self, exc: BaseException) -> None:
        self._busy(-1)
        if self.closed:
            return
        self.error = error_text(exc)
        self.error_label.setText(self.error)
        self.error_label.show()
        for button in (self.outcomes_pdf, self.outcomes_csv, self.safety_pdf, self.safety_provisional,
                       self.safety_csv):
            button.setEnabled(False)

    def load_outcomes(self) -> None:
        visit = self.visit.currentData() or None
        self._outcomes_request += 1
        request = self._outcomes_request
        self._busy(1)
        self.ops.background(lambda: self.outcomes.report(visit),
                            on_done=lambda report: self._outcomes_ready(report, request), on_error=self._failed)

    def load_safety(self) -> None:
        cohort = self.cohort.currentData()
        if cohort is None:
            return
        self._safety_request += 1
        request = self._safety_request
        self._busy(1)
        self.ops.background(lambda: self.outcomes.safety_review(cohort),
                            on_done=lambda report: self._safety_ready(report, request), on_error=self._failed)

    def _outcomes_ready(self, report: Report, request: int) -> None:
        self._busy(-1)
        if request != self._outcomes_request or self.closed:
            return  # an older request (another visit chosen since): the current one is on its way
        self.report = report
        self.error_label.hide()
        self.as_of.setText(report.subtitle.get(current_lang()))
        aside = {"completeness", "missing"}
        self.outcome_tables.show_tables(report, exclude=aside, min_grade=self.min_grade)
        self.completeness_tables.show_tables(report, keys=aside, min_grade=self.min_grade)
        self.trajectories.show_report(report)
        self.grade_bars.show_report(report)
        self.outcomes_pdf.setEnabled(True)
        self.outcomes_csv.setEnabled(True)

    def _safety_ready(self, report: Report, request: int) -> None:
        self._busy(-1)
        if request != self._safety_request or self.closed:
            return
        self.safety = report
        lang = current_lang()
        if report.ready:
            self.readiness.setText(tr("Ready for the safety committee: every subject is past D10.",
                                      "Prête pour le comité de tolérance : tous les patients ont passé J10."))
            self.readiness.setStyleSheet("color: #2e7d32; font-weight: bold;")
        else:
            self.readiness.setText(tr("Not ready: ", "Pas prête : ") + "; ".join(w.get(lang) for w in report.waiting))
            self.readiness.setStyleSheet("color: #b26a00; font-weight: bold;")
        self.safety_pdf.setEnabled(report.ready)
        self.safety_pdf.setToolTip("" if report.ready else self.readiness.text())
        self.safety_provisional.setVisible(not report.ready)
        self.safety_provisional.setEnabled(True)
        self.safety_csv.setEnabled(True)
        self.safety_tables.show_tables(report, min_grade=self.min_grade)

    # ----- files ----------------------------------------------------------------------------------------------------
    def _suggested(self, report: Report, suffix: str) -> str:
        from msc_sle_crf.ui.printing import readable_name

        if report.kind == "safety":
            parts = [tr("safety review cohort", "revue de tolérance cohorte"), report.cohort or ""]
        else:
            parts = [tr("outcomes", "critères"), self.ws.study.event(report.visits[0]).label.get()
                     if len(report.visits) == 1 else tr("all visits", "toutes les visites")]
        return str(Path.home() / readable_name(parts, suffix))

    def _ask_and_print(self, report: Report | None, *, provisional: bool) -> None:
        if report is None:
            return
        from msc_sle_crf.ui.printing import ask_save_path

        path = ask_save_path(self, tr("Save the signed PDF", "Enregistrer le PDF signé"),
                             self._suggested(report, "pdf"))
        if path is not None:
            self.print_pdf(report, path, provisional=provisional, offer_open=True)

    def print_pdf(self, report: Report, target: Path, *, provisional: bool = False, offer_open: bool = False
                  ) -> object:
        """Made and signed off the UI thread (with progress), written atomically, audited."""
        from msc_sle_crf.ui.printing import PrintJob

        lang = current_lang()
        job = PrintJob(self, self.ws, what=("PROVISIONAL " if provisional else "") + report.title.en, target=target,
                       work=lambda _printing, _p, _c: self.outcomes.pdf(report, provisional=provisional, lang=lang),
                       offer_open=offer_open)
        job.finished.connect(self._written)
        return job

    def _ask_and_save_csv(self, report: Report | None) -> None:
        if report is None:
            return
        from msc_sle_crf.ui.printing import ask_save_path

        path = ask_save_path(self, tr("Save as CSV", "Enregistrer en CSV"), self._suggested(report, "csv"),
                             "CSV (*.csv)")
        if path is not None:
            self.save_csv(report, path)

    def save_csv(self, report: Report, target: Path) -> bool:
        def write() -> object:
            return self.outcomes.write(self.outcomes.csv(report, current_lang()), target, report, "csv")

        done = self.ops.run(write, parent=self, title=tr("Save as CSV", "Enregistrer en CSV"),
                            on_error=self._inline_error)
        if done is not None:
            self._written(target)
        return done is not None

    def _inline_error(self, exc: CrfError) -> None:
        self.error = exc.message()
        self.error_label.setText(self.error)
        self.error_label.show()

    def _written(self, target: object) -> None:
        if isinstance(target, Path):
            self.last_written = target
            self.status.setText(tr(f"Written: {target}", f"Écrit : {target}"))


def open_outcomes(ws: Workspace, parent: QWidget | None, ops: Ops | None) -> OutcomesWindow:
    """Open the outcomes window (the main window's menu calls this)."""
    window = OutcomesWindow(ws, parent, ops=ops)
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.show()
    return window
