"""Automatic backups on screen (issue 19): the schedule that runs them (after a lock or a log-out, and once a day),
the status on the administrators' status bar (last good backup, its age, a warning when too old), and the
Backups window (folder and schedule, the backups found, "Back up now" with progress and cancel, Restore...).

The main window only calls ``install(main)`` and ``session_ended(main, reason)``; the work is in
``services/autobackup.py`` and runs off the UI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from msc_sle_crf.access import Perm
from msc_sle_crf.errors import CrfError
from msc_sle_crf.services import Workspace
from msc_sle_crf.services import autobackup as A
from msc_sle_crf.ui.common import error_text, named, run_in_background, tr
from msc_sle_crf.ui.status_label import ElidedLabel

if TYPE_CHECKING:
    from msc_sle_crf.ui.main_window import MainWindow

FIRST_DAILY_CHECK_MS = 60_000  # the day's backup is looked at a minute after sign-in, then every 10 minutes
DAILY_CHECK_MS = 600_000

# Backups running in this process (the program waits for them before it closes the database)
_running = 0
_idle = threading.Condition()


def _started() -> None:
    global _running  # noqa: PLW0603 - one counter for the process
    with _idle:
        _running += 1


def _finished() -> None:
    global _running  # noqa: PLW0603
    with _idle:
        _running -= 1
        _idle.notify_all()


def wait_for_backups(timeout_s: float = 600.0) -> bool:
    """Block until no backup runs (at exit, before a restore closes the database). False on timeout."""
    with _idle:
        return _idle.wait_for(lambda: _running == 0, timeout=timeout_s)


def busy() -> bool:
    return _running > 0


def human_size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


def backup_in_background(ws: Workspace, reason: str, on_done: Callable[[A.BackupOutcome], None],
                         on_error: Callable[[BaseException], None], *,
                         progress: Callable[[int, int], None] | None = None,
                         cancelled: Callable[[], bool] | None = None) -> None:
    _started()

    def job() -> A.BackupOutcome:
        try:
            return A.run(ws, reason, progress=progress, cancelled=cancelled)
        finally:
            _finished()

    run_in_background(job, on_done, on_error)


class BackupStatusLabel(ElidedLabel):  # cut with '…' when the bar is narrow
    """The administrators' status-bar line: last good backup and its age; red when too old or failing."""

    def __init__(self, ws_of: Callable[[], Workspace]) -> None:
        super().__init__(keep_px=520)  # the warning stays whole on the status bar (the user and site lines give way)
        self.setObjectName("backup_status")
        self.ws_of = ws_of
        self.state: A.BackupStatus | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(60_000)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def refresh(self, running: str = "") -> None:
        ws = self.ws_of()
        if not ws.can(Perm.EDIT_SITE_SETTINGS):
            self.hide()
            return
        if ws.site.store is None:  # the database was closed (the program ends, a restore): nothing to read
            self.timer.stop()
            return
        if not ws.locked:
            try:
                self.state = A.status(ws)
            except CrfError:
                return
        if self.state is None:
            return
        warn = self.state.too_old or self.state.failing
        self.setText(running or self.state.line().get())
        self.setStyleSheet("color: #b00020; font-weight: bold;" if warn and not running else "")
        self.setToolTip(self.state.last_error or self.state.last_file)
        self.show()


class BackupScheduler(QObject):
    """Runs the site's schedule for one main window: after a lock or a log-out, and once a day."""

    finished = Signal()

    def __init__(self, main: MainWindow) -> None:
        super().__init__(main)
        self.main = main
        self.enabled = True  # off while a restore takes the database away
        self.label = BackupStatusLabel(lambda: main.ws)
        self.daily = QTimer(self)
        self.daily.setSingleShot(True)
        self.daily.timeout.connect(lambda: self.trigger("daily"))
        self.daily.start(FIRST_DAILY_CHECK_MS)
        self.backups_action = QAction(main)
        self.restore_action = QAction(main)

    def trigger(self, reason: str, ws: Workspace | None = None) -> bool:
        """Start a backup if the schedule asks for one now. Returns whether one started."""
        ws = ws or self.main.ws
        if reason == "daily":
            self.daily.start(DAILY_CHECK_MS)
        if not self.enabled or busy() or ws.site.store is None:
            return False
        try:
            if not A.due(ws, reason):
                return False
        except CrfError:
            return False
        label = self.label
        label.refresh(tr("Backing up…", "Sauvegarde en cours…"))

        def done(_outcome: A.BackupOutcome) -> None:
            self._after(label)

        def failed(_exc: BaseException) -> None:  # recorded in the trail and shown by the status line
            self._after(label)

        backup_in_background(ws, reason, done, failed)
        return True

    def _after(self, label: BackupStatusLabel) -> None:
        try:
            label.refresh()
            self.finished.emit()
        except RuntimeError:  # the window closed meanwhile (a backup at log-out)
            pass


def scheduler(main: QObject) -> BackupScheduler:
    """The schedule (and its menu entries and status line) of a main window."""
    found = main.findChild(BackupScheduler)
    assert isinstance(found, BackupScheduler)
    return found


def install(main: MainWindow) -> None:
    """The Backups and Restore entries of the Administration menu, the status line, the schedule."""
    sched = BackupScheduler(main)
    main.statusBar().addPermanentWidget(sched.label)
    sched.backups_action.triggered.connect(lambda: open_backups(main))
    sched.restore_action.triggered.connect(lambda: open_restore(main))
    main.admin_menu.addSeparator()
    main.admin_menu.addAction(sched.backups_action)
    main.admin_menu.addAction(sched.restore_action)


def retranslate(main: MainWindow) -> None:
    sched = scheduler(main)
    can = main.ws.can(Perm.EDIT_SITE_SETTINGS)
    sched.backups_action.setText(tr("Backups…", "Sauvegardes…"))
    sched.restore_action.setText(tr("Restore a backup…", "Restaurer une sauvegarde…"))
    sched.backups_action.setEnabled(can)
    sched.restore_action.setEnabled(can and main.ws.can(Perm.BACKUP))
    sched.label.refresh()


def session_ended(main: MainWindow, reason: str) -> None:
    """After a lock or a log-out: the schedule's backup, in the background, in that user's name. After a log-out
    the day's check stops (the next session starts its own)."""
    sched = scheduler(main)
    if reason == "logout":
        sched.daily.stop()
        sched.label.timer.stop()
    sched.trigger(reason, main.ws)


def open_backups(main: MainWindow) -> BackupsDialog:
    dialog = BackupsDialog(main)
    main._track(dialog)
    dialog.show()
    return dialog


def open_restore(main: MainWindow, path: Path | None = None) -> Any:
    from msc_sle_crf.ui.restore import RestoreDialog

    dialog = RestoreDialog(main, path)
    main._track(dialog)
    dialog.show()
    return dialog


class BackupsDialog(QDialog):
    """Folder and schedule (site settings, audited), status, the backups found, Back up now, Restore."""

    SETTING_KEYS = ("backup_folder", "backup_at_lock", "backup_daily", "backup_keep", "backup_warn_hours")

    def __init__(self, main: MainWindow) -> None:
        super().__init__(main)
        self.main = main
        self.ws = main.ws
        self.setWindowTitle(tr("Backups", "Sauvegardes"))
        self.resize(860, 560)
        layout = QVBoxLayout(self)
        self.status = named(QLabel(), "backup_dialog_status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        form = QFormLayout()
        row = QHBoxLayout()
        self.folder = QLineEdit()
        self.folder.setPlaceholderText(tr("e.g. /media/usb/msc-sle-backups", "ex. /media/usb/sauvegardes-msc-sle"))
        choose = QPushButton(tr("Choose…", "Choisir…"))
        choose.clicked.connect(self._choose)
        row.addWidget(self.folder, 1)
        row.addWidget(choose)
        form.addRow(tr("Backup folder (USB drive, network share)", "Dossier (clé USB, partage réseau)"), row)
        self.at_lock = QCheckBox(tr("Back up at each lock and log-out (when something changed)",
                                    "Sauvegarder à chaque verrouillage et déconnexion (si quelque chose a changé)"))
        self.daily = QCheckBox(tr("Back up once a day", "Sauvegarder une fois par jour"))
        self.keep = QSpinBox()
        self.keep.setRange(1, 365)
        self.warn = QSpinBox()
        self.warn.setRange(1, 24 * 30)
        self.warn.setSuffix(" h")
        form.addRow("", self.at_lock)
        form.addRow("", self.daily)
        form.addRow(tr("Automatic backups kept", "Sauvegardes automatiques conservées"), self.keep)
        form.addRow(tr("Warn when the last backup is older than", "Avertir si la dernière sauvegarde a plus de"),
                    self.warn)
        layout.addLayout(form)
        buttons = QHBoxLayout()
        self.save_button = QPushButton(tr("Save the settings", "Enregistrer les réglages"))
        self.save_button.clicked.connect(self.save)
        self.now_button = named(QPushButton(tr("Back up now", "Sauvegarder maintenant")), "primary")
        self.now_button.clicked.connect(self.back_up_now)
        self.restore_button = QPushButton(tr("Restore the selected backup…", "Restaurer la sauvegarde choisie…"))
        self.restore_button.clicked.connect(self.restore_selected)
        for button in (self.save_button, self.now_button, self.restore_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels([tr("Made (UTC)", "Faite (UTC)"), tr("By", "Par"),
                                              tr("Trail head", "Tête de piste"), tr("Size", "Taille"),
                                              tr("Kind", "Type"), tr("File", "Fichier")])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        self.backups: list[A.BackupInfo] = []
        self.load()

    def load(self) -> None:
        try:
            settings = self.ws.settings.all()
            state = A.status(self.ws)
        except CrfError as exc:
            self.status.setText(error_text(exc))
            return
        policy = A.BackupPolicy.of(settings)
        self.folder.setText(str(policy.folder or ""))
        self.at_lock.setChecked(policy.at_lock)
        self.daily.setChecked(policy.daily)
        self.keep.setValue(policy.keep)
        self.warn.setValue(policy.warn_hours)
        lines = [state.line().get()]
        if state.last_file:
            lines.append(tr(f"Last good backup: {state.last_file}", f"Dernière bonne sauvegarde : {state.last_file}"))
        if state.failing:
            lines.append(tr(f"Last attempt failed: {state.last_error}",
                            f"Dernier essai en échec : {state.last_error}"))
        self.status.setText("\n".join(lines))
        warn = state.too_old or state.failing
        self.status.setStyleSheet("color: #b00020; font-weight: bold;" if warn else "")
        self.backups = A.list_backups(policy.folder)
        self.table.setRowCount(len(self.backups))
        for row, info in enumerate(self.backups):
            head = f"#{info.trail_record} {info.trail_hash[:12]}" if info.trail_record else info.problem
            kind = tr("automatic", "automatique") if info.automatic else tr("by hand", "manuelle")
            for col, text in enumerate((info.created_utc[:19].replace("T", " "), info.created_by, head,
                                        human_size(info.size), kind,
                                        info.path.name)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        if self.backups:
            self.table.selectRow(0)

    def _choose(self) -> None:
        from msc_sle_crf.ui.printing import ask_folder

        chosen = ask_folder(self, tr("Backup folder", "Dossier des sauvegardes"), self.folder.text(), kind="backup")
        if chosen is not None:
            self.folder.setText(str(chosen))

    def values(self) -> dict[str, str]:
        return {"backup_folder": self.folder.text().strip(), "backup_at_lock": "yes" if self.at_lock.isChecked()
                else "no", "backup_daily": "yes" if self.daily.isChecked() else "no",
                "backup_keep": str(self.keep.value()), "backup_warn_hours": str(self.warn.value())}

    def save(self) -> bool:
        """Each changed setting through the settings service (administrator only, each change audited)."""
        for key, value in self.values().items():
            def change(k: str = key, v: str = value) -> Any:
                return self.ws.settings.set(k, v)

            if self.main.ops.run(change, parent=self, title=tr("Backups", "Sauvegardes")) is None:
                return False
        self.load()
        scheduler(self.main).label.refresh()
        return True

    def back_up_now(self) -> None:
        if not self.save():
            return
        title = tr("Back up now", "Sauvegarder maintenant")
        dialog = QProgressDialog(tr("Copying the encrypted database…", "Copie de la base chiffrée…"),
                                 tr("Cancel", "Annuler"), 0, 100, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setValue(0)
        percent, stop = [0], threading.Event()
        dialog.canceled.connect(stop.set)
        timer = QTimer(dialog)
        timer.timeout.connect(lambda: dialog.setValue(min(percent[0], 99)))
        timer.start(100)

        def progress(done: int, total: int) -> None:  # worker thread: read by the timer above
            percent[0] = 100 * done // max(total, 1)

        def finished(outcome: A.BackupOutcome) -> None:
            timer.stop()
            dialog.close()
            self.load()
            scheduler(self.main).label.refresh()
            path = outcome.path
            QMessageBox.information(self, title, tr(
                f"Backup written, read back and checked in {outcome.seconds:.1f} s:\n{path}",
                f"Sauvegarde écrite, relue et contrôlée en {outcome.seconds:.1f} s :\n{path}") + (
                "\n" + tr(f"{len(outcome.pruned)} older automatic backup(s) removed.",
                          f"{len(outcome.pruned)} sauvegarde(s) automatique(s) plus ancienne(s) supprimée(s).")
                if outcome.pruned else ""))

        def failed(exc: BaseException) -> None:
            timer.stop()
            dialog.close()
            self.load()
            scheduler(self.main).label.refresh()
            QMessageBox.warning(self, title, error_text(exc))

        backup_in_background(self.ws, "manual", finished, failed, progress=progress, cancelled=stop.is_set)

    def restore_selected(self) -> None:
        row = self.table.currentRow()
        path = self.backups[row].path if 0 <= row < len(self.backups) else None
        open_restore(self.main, path)

    def retranslate(self) -> None:
        self.setWindowTitle(tr("Backups", "Sauvegardes"))
