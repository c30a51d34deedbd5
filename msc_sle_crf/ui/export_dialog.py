"""The Export screen (issue 16; Study menu, for the roles ``export: roles`` in study.yaml allows): where to write,
which subjects, with or without the audit trail, de-identified or not. The export runs off the UI thread with a
progress bar and a Cancel button; a cancel or an error leaves nothing under the chosen name."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.access import Perm
from msc_sle_crf.export import Cancelled, ExportOptions, ExportResult
from msc_sle_crf.i18n import L
from msc_sle_crf.services import Workspace
from msc_sle_crf.ui.common import error_text, named, tr
from msc_sle_crf.ui.ops import Ops


class ExportDialog(QDialog):
    def __init__(self, ws: Workspace, ops: Ops, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ws = ws
        self.ops = ops
        self.cancel_event = threading.Event()
        self.running = False
        self.exported: ExportResult | None = None
        self._progress = (0, 1, "")
        self.setWindowTitle(tr("Export data", "Exporter les données"))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(tr(
            "A new folder: CDISC ODM 1.3.2 (snapshot and archival with the audit trail), CSV datasets with a codebook "
            "and R/SAS import scripts, the audit trail as CSV, and a manifest signed with your certificate.",
            "Un nouveau dossier : CDISC ODM 1.3.2 (instantané et archive avec la piste d'audit), jeux de données CSV "
            "avec dictionnaire et scripts d'import R/SAS, la piste d'audit en CSV et un manifeste signé avec votre "
            "certificat.")))
        row = QHBoxLayout()
        self.target = named(QLineEdit(), "export_target")
        self.target.setPlaceholderText(tr("Folder to create", "Dossier à créer"))
        browse = QPushButton(tr("Choose…", "Choisir…"))
        browse.clicked.connect(self._browse)
        row.addWidget(self.target, 1)
        row.addWidget(browse)
        layout.addLayout(row)
        self.all_subjects = named(QRadioButton(tr("All subjects", "Tous les patients")), "export_all")
        self.some_subjects = named(QRadioButton(tr("Only the subjects ticked below",
                                                   "Seulement les patients cochés ci-dessous")), "export_some")
        self.all_subjects.setChecked(True)
        self.subjects = named(QListWidget(), "export_subjects")
        if ws.can(Perm.VIEW_DATA):
            for info in ws.subjects.list():
                item = QListWidgetItem(info.subject_number)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
                self.subjects.addItem(item)
        else:
            self.some_subjects.setEnabled(False)
        self.subjects.setEnabled(False)
        self.some_subjects.toggled.connect(self.subjects.setEnabled)
        for w in (self.all_subjects, self.some_subjects, self.subjects):
            layout.addWidget(w)
        self.with_trail = named(QCheckBox(tr("Include the whole audit trail", "Inclure toute la piste d'audit")),
                                "export_trail")
        self.with_trail.setChecked(True)
        self.deidentified = named(QCheckBox(tr("De-identified (no initials or names; year of birth only)",
                                               "Désidentifié (sans initiales ni noms ; année de naissance seule)")),
                                  "export_deid")
        layout.addWidget(self.with_trail)
        layout.addWidget(self.deidentified)
        self.bar = named(QProgressBar(), "export_progress")
        self.bar.setRange(0, 100)
        self.bar.setVisible(False)
        self.step = named(QLabel(""), "export_step")
        layout.addWidget(self.bar)
        layout.addWidget(self.step)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.start_button = named(QPushButton(tr("Export", "Exporter")), "export_start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = named(QPushButton(tr("Cancel", "Annuler")), "export_cancel")
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._show_progress)

    def _browse(self) -> None:
        from msc_sle_crf.ui.printing import ask_folder

        folder = ask_folder(self, tr("Where to create the export folder", "Où créer le dossier d'export"),
                            kind="export")
        if folder is not None:
            self.target.setText(str(Path(folder) / "msc-sle-export"))

    def options(self) -> ExportOptions:
        chosen: tuple[str, ...] = ()
        if self.some_subjects.isChecked():
            chosen = tuple(self.subjects.item(i).text() for i in range(self.subjects.count())
                           if self.subjects.item(i).checkState() == Qt.CheckState.Checked)
        return ExportOptions(subjects=chosen, audit_trail=self.with_trail.isChecked(),
                             deidentified=self.deidentified.isChecked())

    def start(self) -> None:
        title = self.windowTitle()
        text = self.target.text().strip()
        options = self.options()
        if self.some_subjects.isChecked() and not options.subjects:
            QMessageBox.warning(self, title, tr("Tick at least one subject.", "Cochez au moins un patient."))
            return
        try:
            self.ws.export.require()
            target = self.ws.export.check_target(text)
        except Exception as exc:  # a refused target: one clear line, nothing written
            QMessageBox.warning(self, title, error_text(exc))
            return
        self.running = True
        self.cancel_event.clear()
        self.start_button.setEnabled(False)
        self.bar.setVisible(True)
        self.bar.setValue(0)
        self.timer.start(150)

        def progress(done: int, total: int, what: L) -> None:  # worker thread: read by the timer
            self._progress = (done, total, what.get())

        self.ops.background(lambda: self.ws.export.export(target, options, progress=progress,
                                                          cancelled=self.cancel_event.is_set),
                            on_done=self._done, on_error=self._failed)

    def _show_progress(self) -> None:
        done, total, what = self._progress
        self.bar.setValue(100 * done // max(total, 1))
        self.step.setText(what)

    def cancel(self) -> None:
        if self.running:
            self.cancel_event.set()
            self.step.setText(tr("Cancelling…", "Annulation…"))
            self.cancel_button.setEnabled(False)
        else:
            self.reject()

    def _finish(self) -> None:
        self.running = False
        self.timer.stop()
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(True)
        self.bar.setVisible(False)

    def _done(self, result: ExportResult) -> None:
        """Said in the dialog (no second window over it): where, how much, how long, and how to check it."""
        self._finish()
        self.exported = result
        self.step.setText(tr(
            f"Export written: {result.folder}\n{result.subjects} subject(s), {len(result.files)} files, "
            f"{result.audit_records} audit records, in {result.seconds:.1f} s. Its manifest is signed with your "
            f"certificate: 'msc-sle-crf export-verify' checks it.",
            f"Export écrit : {result.folder}\n{result.subjects} patient(s), {len(result.files)} fichiers, "
            f"{result.audit_records} enregistrements d'audit, en {result.seconds:.1f} s. Son manifeste est signé "
            f"avec votre certificat : « msc-sle-crf export-verify » le vérifie."))
        self.cancel_button.setText(tr("Close", "Fermer"))

    def _failed(self, exc: BaseException) -> None:
        self._finish()
        if isinstance(exc, Cancelled):
            self.step.setText(tr("Export cancelled: nothing was written.", "Export annulé : rien n'a été écrit."))
            return
        self.step.setText(error_text(exc))

    def reject(self) -> None:
        if self.running:  # closing while it runs cancels it (nothing is left half-written)
            self.cancel()
            return
        super().reject()


def open_export(ws: Workspace, ops: Ops, parent: QWidget | None = None) -> ExportDialog:
    dialog = ExportDialog(ws, ops, parent)
    dialog.setModal(True)
    dialog.show()
    return dialog
