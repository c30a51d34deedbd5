"""Restore a backup from the app (issue 19): an administrator picks a backup, sees its date, its trail head and who
made it, gives an administrator's password or the site's recovery code, confirms; everyone is signed out, the
database is closed, the backup is checked completely and put in place (the current database and its files kept
aside, never deleted: ``services/backup.restore_backup``), then the sign-in window comes back on the restored
database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from msc_sle_crf.services import autobackup as A
from msc_sle_crf.ui.backups import human_size, scheduler, wait_for_backups
from msc_sle_crf.ui.common import error_text, named, run_in_background, tr

if TYPE_CHECKING:
    from msc_sle_crf.services import Site
    from msc_sle_crf.services.backup import RestoreResult
    from msc_sle_crf.ui.app import App
    from msc_sle_crf.ui.main_window import MainWindow


@dataclass(frozen=True)
class RestoreRequest:
    path: Path
    username: str
    password: str
    recovery_code: str | None
    info: A.BackupInfo


def _local(utc: str) -> str:
    try:
        when = dt.datetime.fromisoformat(utc.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return utc
    return when.strftime("%Y-%m-%d %H:%M:%S %Z")


class RestoreDialog(QDialog):
    def __init__(self, main: MainWindow, path: Path | None = None) -> None:
        super().__init__(main)
        self.main = main
        self.ws = main.ws
        self.setWindowTitle(tr("Restore a backup", "Restaurer une sauvegarde"))
        self.resize(720, 460)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.path = QLineEdit()
        self.path.setReadOnly(True)
        choose = QPushButton(tr("Choose a file…", "Choisir un fichier…"))
        choose.clicked.connect(self._choose)
        row.addWidget(self.path, 1)
        row.addWidget(choose)
        layout.addLayout(row)
        self.details = named(QLabel(), "restore_details")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(self.details.textInteractionFlags())
        layout.addWidget(self.details)
        form = QFormLayout()
        self.by_password = QRadioButton(tr("An administrator's password (valid when the backup was made)",
                                           "Le mot de passe d'un administrateur (valable à la date de la sauvegarde)"))
        self.by_code = QRadioButton(tr("The site's recovery code", "Le code de récupération du site"))
        group = QButtonGroup(self)
        group.addButton(self.by_password)
        group.addButton(self.by_code)
        self.by_password.setChecked(True)
        self.username = QLineEdit(self.ws.actor.username)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.code = QLineEdit()
        self.code.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(self.by_password)
        form.addRow(tr("User name", "Nom d'utilisateur"), self.username)
        form.addRow(tr("Password", "Mot de passe"), self.password)
        form.addRow(self.by_code)
        form.addRow(tr("Recovery code", "Code de récupération"), self.code)
        layout.addLayout(form)
        self.error = named(QLabel(), "error")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        cancel = QPushButton(tr("Cancel", "Annuler"))
        cancel.clicked.connect(self.reject)
        self.restore_button = named(QPushButton(tr("Restore…", "Restaurer…")), "primary")
        self.restore_button.clicked.connect(self.confirm)
        buttons.addWidget(cancel)
        buttons.addWidget(self.restore_button)
        layout.addLayout(buttons)
        self.info: A.BackupInfo | None = None
        if path is None:
            try:
                found = A.list_backups(A.status(self.ws).policy.folder)
            except Exception:
                found = []
            path = found[0].path if found else None
        if path is not None:
            self.select(path)
        else:
            self.details.setText(tr("Choose a backup file.", "Choisissez un fichier de sauvegarde."))
            self.restore_button.setEnabled(False)

    def _choose(self) -> None:
        from msc_sle_crf.ui.printing import ask_open_paths

        chosen = ask_open_paths(self, tr("Backup file", "Fichier de sauvegarde"),
                                tr("Backups (*.crfbak *.tar)", "Sauvegardes (*.crfbak *.tar)"))
        if chosen:
            self.select(chosen[0])

    def select(self, path: Path) -> None:
        """Show what the backup's manifest says (no key needed): date, who, trail head, version, size."""
        info = A.describe(path)
        self.path.setText(str(path))
        self.info = info if not info.problem else None
        self.restore_button.setEnabled(self.info is not None)
        if info.problem:
            self.details.setText(tr(f"Not a usable backup: {info.problem}",
                                    f"Sauvegarde inutilisable : {info.problem}"))
            return
        other_site = info.db_id != self.ws.site.keyfile.db_id
        self.details.setText(tr(
            f"Made {_local(info.created_utc)} ({info.created_utc}) by {info.created_by}, program "
            f"{info.app_version}, {human_size(info.size)}.\nTrail head at the copy: record #{info.trail_record}, "
            f"hash {info.trail_hash}." + ("\n⚠ This backup is from ANOTHER database than the one open now."
                                          if other_site else ""),
            f"Faite le {_local(info.created_utc)} ({info.created_utc}) par {info.created_by}, programme "
            f"{info.app_version}, {human_size(info.size)}.\nTête de la piste à la copie : enregistrement "
            f"n° {info.trail_record}, empreinte {info.trail_hash}." + (
                "\n⚠ Cette sauvegarde vient d'une AUTRE base que celle ouverte." if other_site else "")))

    def request(self) -> RestoreRequest | None:
        if self.info is None:
            return None
        if self.by_code.isChecked():
            if not self.code.text().strip():
                self.error.setText(tr("Enter the recovery code.", "Saisissez le code de récupération."))
                return None
            return RestoreRequest(self.info.path, "", "", self.code.text(), self.info)
        if not self.username.text().strip() or not self.password.text():
            self.error.setText(tr("Enter an administrator's user name and password.",
                                  "Saisissez le nom et le mot de passe d'un administrateur."))
            return None
        return RestoreRequest(self.info.path, self.username.text().strip(), self.password.text(), None, self.info)

    def confirm(self) -> None:
        request = self.request()
        if request is None:
            return
        db = self.ws.site.db_path
        answer = QMessageBox.question(self, tr("Restore a backup", "Restaurer une sauvegarde"), tr(
            f"Replace the database with the backup made {_local(request.info.created_utc)} by "
            f"{request.info.created_by} (trail record #{request.info.trail_record})?\n\nEveryone is signed out. "
            f"The current database and its files are kept aside beside it ({db.name}.replaced-…), never deleted. "
            f"Anything entered after the backup is not in it.",
            f"Remplacer la base par la sauvegarde faite le {_local(request.info.created_utc)} par "
            f"{request.info.created_by} (piste n° {request.info.trail_record}) ?\n\nTout le monde est déconnecté. "
            f"La base actuelle et ses fichiers sont mis de côté à côté d'elle ({db.name}.replaced-…), jamais "
            f"supprimés. Ce qui a été saisi après la sauvegarde n'y est pas."))
        if answer != QMessageBox.StandardButton.Yes:
            return
        if self.main.ops.run(lambda: A.request_restore(self.ws, request.path), parent=self,
                             title=tr("Restore a backup", "Restaurer une sauvegarde")) is None:
            return
        self.accept()
        self.main.restore_requested.emit(request)

    def retranslate(self) -> None:
        self.setWindowTitle(tr("Restore a backup", "Restaurer une sauvegarde"))


class _Relay(QObject):
    said = Signal(str)


def run_restore(shell: App, request: RestoreRequest) -> None:
    """Sign everyone out, close the database, restore in the background (steps shown on the sign-in window),
    open the restored database (or, if the restore was refused, the unchanged one) and say what happened."""
    from msc_sle_crf.services import Site
    from msc_sle_crf.services.backup import restore_backup

    main, site = shell.main, shell.site
    assert main is not None and site is not None
    scheduler(main).enabled = False  # no backup at this log-out: the database is about to be replaced
    main.logout()
    login = shell.login
    db = site.db_path
    login.site = None  # a sign-in typed meanwhile waits for the database
    relay = _Relay(login)
    relay.said.connect(login.show_progress)
    relay.said.emit(tr("Restoring the backup…", "Restauration de la sauvegarde…"))

    def work() -> tuple[RestoreResult | BaseException, Site]:
        wait_for_backups()
        site.close()
        outcome: RestoreResult | BaseException
        try:
            outcome = restore_backup(request.path, db, request.username, request.password, force=True,
                                     recovery_code=request.recovery_code,
                                     progress=lambda step: relay.said.emit(step.get() + "…"))
        except Exception as exc:
            outcome = exc
        return outcome, Site.open(db)

    def done(result: tuple[Any, Site]) -> None:
        outcome, reopened = result
        shell.opened(reopened, shell.study) if shell.study is not None else login.set_site(reopened)
        shell.site = reopened
        login.show_progress("")
        title = tr("Restore a backup", "Restaurer une sauvegarde")
        if isinstance(outcome, BaseException):
            QMessageBox.warning(login, title, error_text(outcome) + "\n" + tr(
                "Nothing was replaced.", "Rien n'a été remplacé."))
            return
        kept = "\n".join(str(p.name) for p in outcome.replaced)
        QMessageBox.information(login, title, tr(
            f"The backup of {_local(outcome.created_utc)} is restored ({outcome.audit_records} audit records "
            f"checked).\n"
            f"The previous database is kept aside:\n{kept}\n\nSign in again.",
            f"La sauvegarde du {_local(outcome.created_utc)} est restaurée ({outcome.audit_records} enregistrements "
            f"d'audit contrôlés).\nL'ancienne base est mise de côté :\n{kept}\n\nReconnectez-vous."))

    def failed(exc: BaseException) -> None:
        login.show_progress("")
        QMessageBox.critical(login, tr("Restore a backup", "Restaurer une sauvegarde"), error_text(exc))

    run_in_background(work, done, failed)
