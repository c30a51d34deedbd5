"""Main window: subject list, status bar (user, role, site, TRAINING), user menu, idle auto-lock, lock screen.

It holds the signed-in user's ``Workspace`` and one ``Ops``: every screen it opens writes through that ``Ops`` and
redraws from its change records.
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QColor, QFont, QKeySequence, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf import PROTOCOL_NUMBER, STUDY_NAME
from msc_sle_crf.access import Perm
from msc_sle_crf.i18n import Lang, current_lang, set_lang
from msc_sle_crf.services import IntegrityReport, Workspace
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.ui.common import error_text, named, run_in_background, tr
from msc_sle_crf.ui.dialogs import ChangePasswordDialog, NewSubjectDialog, UsersDialog
from msc_sle_crf.ui.lock_screen import IdleWatcher, LockScreen
from msc_sle_crf.ui.ops import Ops
from msc_sle_crf.ui.subject_list import SubjectList

CHECK_AFTER_SIGN_IN_MS = 1500  # the full check (every page, the whole chain) starts this long after sign-in


class TrackedWindow(Protocol):
    """What the main window expects of the windows it tracks (forms, casebooks, the bedside)."""

    def hide(self) -> None: ...
    def show(self) -> None: ...
    def done(self, result: int) -> None: ...


class WorkArea(QWidget):
    """The data area; paints a diagonal TRAINING watermark on a demo database."""

    def __init__(self, training: bool) -> None:
        super().__init__()
        self.training = training

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self.training:
            return
        painter = QPainter(self)
        painter.setPen(QColor(198, 40, 40, 38))
        font = QFont()
        font.setPointSize(max(24, min(56, self.width() // 22)))
        font.setBold(True)
        painter.setFont(font)
        painter.translate(self.width() / 2, self.height() / 2)
        painter.rotate(-28)
        painter.drawText(-1000, -80, 2000, 160, Qt.AlignmentFlag.AlignCenter, "FORMATION · TRAINING")
        painter.end()


class MainWindow(QMainWindow):
    logged_out = Signal()

    def __init__(self, ws: Workspace, *, idle_ms: int | None = None) -> None:
        super().__init__()
        self.ws = ws
        self.ops = Ops(self)  # every write of this window and the screens it opens, and what it changed
        self.study = ws.study
        self.resize(1280, 800)
        self.stack = QStackedWidget()
        self.work = WorkArea(ws.site.training)
        work_layout = QVBoxLayout(self.work)
        header = QHBoxLayout()
        self.heading = named(QLabel(), "title")
        header.addWidget(self.heading)
        header.addStretch(1)
        self.new_subject_button = named(QPushButton(), "primary")
        self.new_subject_button.clicked.connect(self.new_subject)
        header.addWidget(self.new_subject_button)
        work_layout.addLayout(header)
        self.subjects = SubjectList(ws)
        self.subjects.open_requested.connect(self.open_subject)
        work_layout.addWidget(self.subjects)
        self.lock_screen = LockScreen()
        self.stack.addWidget(self.work)
        self.stack.addWidget(self.lock_screen)
        self.setCentralWidget(self.stack)
        self.lock_screen.unlock_requested.connect(self._unlock)
        self.lock_screen.takeover_requested.connect(self._takeover)
        self.open_dialogs: list[Any] = []
        self._settings_seen: dict[str, str] = {}

        self.status_user = named(QLabel(), "status_user")
        self.status_site = named(QLabel(), "status_site")
        self.status_training = named(QLabel("FORMATION · TRAINING"), "training")
        self.status_training.setVisible(ws.site.training)
        self.status_integrity = named(QLabel(), "integrity")  # the check run in the background after sign-in
        self.statusBar().addWidget(self.status_user)
        self.statusBar().addWidget(self.status_site, 1)
        self.statusBar().addPermanentWidget(self.status_integrity)
        self.statusBar().addPermanentWidget(self.status_training)
        self.integrity_report: IntegrityReport | None = None
        self._integrity_state = ""  # "", "running", "done", "failed"
        self._integrity_error = ""
        self._closed = False
        self.integrity_timer = QTimer(self)
        self.integrity_timer.setSingleShot(True)
        self.integrity_timer.timeout.connect(self.check_integrity)
        self.integrity_timer.start(CHECK_AFTER_SIGN_IN_MS)

        self._build_menus()
        minutes = int(ws.settings.get("idle_lock_minutes", "5"))
        self.idle = IdleWatcher(idle_ms if idle_ms is not None else minutes * 60_000, self)
        self.idle.idle.connect(self.lock)
        self.activity_timer = QTimer(self)
        self.activity_timer.setInterval(1000)
        self.activity_timer.timeout.connect(self.update_lock_activity)
        self.ops.data_changed.connect(self._on_changes)
        self.retranslate()

    # ----- compatibility for screens and tests that look at the list -----------------------------------------------
    @property
    def table(self) -> Any:
        return self.subjects.table

    def _settings(self) -> dict[str, str]:
        """Settings cannot be read while the screen is locked: the lock screen keeps what was read last."""
        if self.ws.locked:
            return self._settings_seen
        self._settings_seen = self.ws.settings.all()
        return self._settings_seen

    # ----- building ------------------------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        bar.clear()
        self.user_menu = bar.addMenu("")
        self.change_password_action = QAction(self)
        self.change_password_action.triggered.connect(lambda _checked=False: self.change_password())
        self.lock_action = QAction(self)
        self.lock_action.setShortcut(QKeySequence("Ctrl+L"))
        self.lock_action.triggered.connect(self.lock)
        self.logout_action = QAction(self)
        self.logout_action.triggered.connect(self.logout)
        for action in (self.change_password_action, self.lock_action, self.logout_action):
            self.user_menu.addAction(action)
        self.study_menu = bar.addMenu("")
        self.outcomes_action = QAction(self)
        self.outcomes_action.triggered.connect(self.open_outcomes)
        self.study_menu.addAction(self.outcomes_action)
        self.admin_menu = bar.addMenu("")
        self.users_action = QAction(self)
        self.users_action.triggered.connect(lambda: UsersDialog(self.ws, self, ops=self.ops).exec())
        self.verify_action = QAction(self)
        self.verify_action.triggered.connect(self.verify)
        self.admin_menu.addAction(self.users_action)
        self.admin_menu.addAction(self.verify_action)
        self.lang_menu = bar.addMenu("")
        self.fr_action = QAction("Français", self)
        self.fr_action.triggered.connect(lambda: self.set_language(Lang.FR))
        self.en_action = QAction("English", self)
        self.en_action.triggered.connect(lambda: self.set_language(Lang.EN))
        self.lang_menu.addAction(self.fr_action)
        self.lang_menu.addAction(self.en_action)

    def retranslate(self) -> None:
        ws = self.ws
        self.setWindowTitle(f"{STUDY_NAME} eCRF — {PROTOCOL_NUMBER}"
                            + (" — FORMATION / TRAINING" if ws.site.training else ""))
        self.heading.setText(tr("Subjects", "Patients"))
        self.new_subject_button.setText(tr("New subject…", "Nouveau patient…"))
        self.user_menu.setTitle(ws.actor.full_name)
        self.change_password_action.setText(tr("Change password…", "Changer le mot de passe…"))
        self.lock_action.setText(tr("Lock", "Verrouiller"))
        self.logout_action.setText(tr("Log out", "Se déconnecter"))
        self.study_menu.setTitle(tr("Study", "Étude"))
        self.outcomes_action.setText(tr("Outcomes and cohort safety reviews…",
                                        "Critères de jugement et revues de tolérance par cohorte…"))
        self.outcomes_action.setEnabled(ws.can(Perm.VIEW_OUTCOMES))
        self.admin_menu.setTitle(tr("Administration", "Administration"))
        self.users_action.setText(tr("User accounts…", "Comptes utilisateurs…"))
        self.verify_action.setText(tr("Check integrity (database and audit trail)",
                                      "Contrôler l'intégrité (base et piste d'audit)"))
        self.lang_menu.setTitle(tr("Language", "Langue"))
        self.users_action.setEnabled(ws.can(Perm.MANAGE_USERS))
        self.verify_action.setEnabled(ws.can(Perm.VERIFY_AUDIT))
        self.new_subject_button.setVisible(ws.can(Perm.REGISTER_SUBJECT))
        self._render_status()
        self._render_integrity()
        self.subjects.retranslate()

    def check_integrity(self) -> None:
        """Every page and the whole audit chain, checked in the background after sign-in (the opening checks only
        what refuses a wrong or damaged file, in constant time); the result stays on the status bar."""
        if self._integrity_state == "running" or self._closed:
            return
        self._integrity_state = "running"
        self._render_integrity()

        def done(report: IntegrityReport) -> None:
            self.integrity_report = report
            self._integrity_state = "done"
            if not self._closed:
                self._render_integrity()

        def failed(exc: BaseException) -> None:
            self._integrity_state = "failed"
            self._integrity_error = error_text(exc)
            if not self._closed:
                self._render_integrity()

        self.ops.background(self.ws.integrity.check_after_sign_in, on_done=done, on_error=failed)

    def _render_integrity(self) -> None:
        label, report = self.status_integrity, self.integrity_report
        opening = self.ws.site.opening_check  # the newest records, re-checked when the database was opened
        if self._integrity_state == "running" and (opening is None or opening.ok):
            text, colour = tr("Checking the database…", "Contrôle de la base…"), "#5f6b76"
        elif self._integrity_state == "failed":
            text, colour = tr("Database check not completed: ", "Contrôle de la base non terminé : ") \
                + self._integrity_error, "#b26a00"
        elif report is not None and report.ok:
            n = f"{report.audit.records:,}".replace(",", " " if current_lang() is Lang.FR else ",")
            label.setText(tr(f"✓ Database intact ({n} audit records)", f"✓ Base intacte ({n} enr. d'audit)"))
            label.setToolTip(tr(f"Checked after sign-in: every page of the database and the whole audit trail "
                                f"({n} records) are intact.",
                                f"Contrôlée après la connexion : toutes les pages de la base et toute la piste "
                                f"d'audit ({n} enregistrements) sont intactes."))
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
        label.setText(text)
        label.setToolTip(text)
        label.setStyleSheet(f"color: {colour};" + (" font-weight: bold;" if colour == "#b00020" else ""))

    def _render_status(self) -> None:
        actor = self.ws.actor
        settings = self._settings()
        self.status_user.setText(f"  {actor.full_name} · {actor.role.label(current_lang())}   |")
        self.status_site.setText(tr("Site: ", "Site : ") + f"{settings.get('site_name', '')} "
                                 f"({settings.get('site_number', '')}) · {self.ws.site.db_path.name}")

    def refresh(self) -> None:
        self.subjects.refresh()

    def _on_changes(self, changes: Changes) -> None:
        """Every write made from this window or a screen it opened: each part decides what to redraw."""
        self.subjects.on_changes(changes)
        if changes.settings:
            self._render_status()

    # ----- actions -------------------------------------------------------------------------------------------------
    def set_language(self, lang: Lang) -> None:
        set_lang(lang)
        self.retranslate()
        for dialog in self.open_dialogs:
            retranslate = getattr(dialog, "retranslate", None)
            if retranslate is not None:
                retranslate()
        if self.stack.currentWidget() is self.lock_screen:
            self.lock_screen.show_for(self.ws.actor.full_name, self.ws.actor.username)

    def _track(self, dialog: QObject) -> None:
        """Dialogs are hidden at lock and closed (their typing saved) when another user takes over."""
        self.open_dialogs.append(dialog)
        def forget(*_args: object) -> None:
            if dialog in self.open_dialogs:
                self.open_dialogs.remove(dialog)

        finished = getattr(dialog, "finished", None)
        if finished is not None:
            finished.connect(forget)
        dialog.destroyed.connect(forget)  # a window closed for good (deleted on close) is forgotten too

    def open_casebook(self, row: int) -> None:
        number = self.subjects.subject_at(row)
        if number is not None:
            self.open_subject(number)

    def open_subject(self, number: str) -> None:
        from msc_sle_crf.ui.casebook import CasebookDialog

        if not self.ws.can(Perm.VIEW_DATA):
            return
        dialog = CasebookDialog(self.ws, number, self, ops=self.ops)
        dialog.form_opened.connect(self._track)
        self._track(dialog)
        dialog.open()

    def open_outcomes(self) -> None:
        from msc_sle_crf.ui.outcomes import open_outcomes

        if self.ws.can(Perm.VIEW_OUTCOMES):
            self._track(open_outcomes(self.ws, self, self.ops))

    def new_subject(self) -> None:
        dialog = NewSubjectDialog(self.ws, self, ops=self.ops)
        self._track(dialog)
        dialog.open()

    def change_password(self, forced: bool = False) -> bool:
        dialog = ChangePasswordDialog(self.ws, forced=forced, parent=self, ops=self.ops)
        ok = dialog.exec() == ChangePasswordDialog.DialogCode.Accepted
        if ok:
            QMessageBox.information(self, tr("Password", "Mot de passe"),
                                    tr("Your password was changed.", "Votre mot de passe a été modifié."))
        return ok

    def verify(self) -> None:
        self.statusBar().showMessage(tr("Checking integrity…", "Contrôle d'intégrité…"))

        def done(report: IntegrityReport) -> None:
            self.statusBar().clearMessage()
            if report.ok:
                QMessageBox.information(self, tr("Integrity", "Intégrité"), tr(
                    f"Database pages and audit trail are intact ({report.audit.records} audit records).",
                    f"Pages de la base et piste d'audit intactes ({report.audit.records} enregistrements)."))
            else:
                QMessageBox.critical(self, tr("Integrity", "Intégrité"),
                                     "\n".join(report.page_problems) or
                                     f"#{report.audit.first_bad_id}: {report.audit.problem}")

        def failed(exc: BaseException) -> None:
            self.statusBar().clearMessage()
            QMessageBox.warning(self, tr("Integrity", "Intégrité"), error_text(exc))

        self.ops.background(self.ws.integrity.verify, on_done=done, on_error=failed)

    # ----- the session ---------------------------------------------------------------------------------------------
    def update_lock_activity(self) -> None:
        """While locked: the infusion timer and the next reading stay visible (and keep being computed)."""
        lines = []
        for dialog in self.open_dialogs:
            status = getattr(dialog, "status_line", None)
            if status is not None:
                text = status()
                if text:
                    lines.append(text)
        text = "\n".join(lines)
        self.lock_screen.show_activity(text, alert="OVERDUE" in text or "EN RETARD" in text)

    def _save_open_drafts(self, new_ws: Workspace | None = None) -> None:
        """Before another user takes over: keep the first user's unsaved input as their draft, then close. A bedside
        screen stays open for the new user: the infusion does not stop because the nurse changed."""
        for dialog in list(self.open_dialogs):
            rebind = getattr(dialog, "rebind", None)
            if rebind is not None and new_ws is not None and new_ws.can(Perm.ENTER_NURSING_DATA):
                rebind(new_ws)
                continue
            saver = getattr(dialog, "save_draft", None)
            if saver is not None:
                saver()
            finish = getattr(dialog, "done", None)
            if finish is not None:
                finish(0)
            else:  # a window, not a dialog: closed (it shows another user's view of the data otherwise)
                dialog.close()
            if dialog in self.open_dialogs:  # finished() may already have removed it
                self.open_dialogs.remove(dialog)

    def lock(self) -> None:
        if self.stack.currentWidget() is self.lock_screen or self.ws.site.store is None:
            return
        for dialog in self.open_dialogs:
            dialog.hide()
        self.ws.lock()
        self.idle.pause()
        self.menuBar().setEnabled(False)
        self.lock_screen.show_for(self.ws.actor.full_name, self.ws.actor.username)
        self.stack.setCurrentWidget(self.lock_screen)
        self.update_lock_activity()
        self.activity_timer.start()

    def _back_to_work(self) -> None:
        self.activity_timer.stop()
        self.menuBar().setEnabled(True)
        self.stack.setCurrentWidget(self.work)
        self.idle.resume()
        for dialog in self.open_dialogs:
            dialog.show()
        self.retranslate()

    def _unlock(self, password: str) -> None:
        ws = self.ws
        self.lock_screen.error.setText(tr("Checking…", "Vérification…"))

        def done(_result: object) -> None:
            self.lock_screen.error.clear()
            self._back_to_work()

        run_in_background(lambda: ws.unlock(password), done, self._lock_error)

    def _takeover(self, username: str, password: str) -> None:
        ws = self.ws
        self.lock_screen.error.setText(tr("Checking…", "Vérification…"))

        def done(new_ws: Workspace) -> None:
            # The first user's input is saved under the first user's name before the context changes.
            self._save_open_drafts(new_ws)
            self.ws = new_ws
            self.subjects.set_workspace(new_ws)
            self.lock_screen.error.clear()
            self._back_to_work()

        run_in_background(lambda: ws.switch_user(username, password), done, self._lock_error)

    def _lock_error(self, exc: BaseException) -> None:
        self.lock_screen.error.setText(error_text(exc))
        self.lock_screen.password.clear()
        self.lock_screen.other_password.clear()

    def logout(self) -> None:
        self._save_open_drafts()
        self.ws.logout()
        self.idle.stop()
        self.logged_out.emit()
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        """No timer of this session may fire after it (the idle lock would write to a closed database)."""
        self.idle.stop()
        self.activity_timer.stop()
        self.integrity_timer.stop()
        self._closed = True
        self.ws.integrity.stop_checks()  # a check still reading the file must not hold the exit
        super().closeEvent(event)
