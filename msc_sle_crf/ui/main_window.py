"""Main window: subject list, status bar (user, role, site, TRAINING), user menu, idle auto-lock, lock screen.

It holds the signed-in user's ``Workspace`` and one ``Ops``: every screen it opens writes through that ``Ops`` and
redraws from its change records.

No window of the app blocks another one: the casebook and the forms open non-modal, and a dialog that is modal
(a message, a question) blocks only its own window and that window's parents (``WindowModalDialogs``). The bedside
has no parent, so nothing blocks it. Ctrl+L locks from every window; every window it tracks shows who is signed in
and a Lock button. Running infusions (subject, time, next reading) show on the subject list and on the lock screen,
computed once a second from what was read (no database access while locked).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf import PROTOCOL_NUMBER, STUDY_NAME
from msc_sle_crf.access import Perm
from msc_sle_crf.errors import CrfError
from msc_sle_crf.i18n import Lang, current_lang, set_lang
from msc_sle_crf.infusion.monitor import summary
from msc_sle_crf.services import IntegrityReport, Workspace
from msc_sle_crf.services.bedside import LiveInfusion
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.ui import admin_actions, backups, menus
from msc_sle_crf.ui.accounts import AccountsPanel
from msc_sle_crf.ui.common import error_text, named, run_in_background, tr
from msc_sle_crf.ui.dialogs import ChangePasswordDialog, NewSubjectDialog
from msc_sle_crf.ui.integrity_status import IntegrityStatus
from msc_sle_crf.ui.lock_screen import DueAlarm, IdleWatcher, LockScreen, SessionStrip
from msc_sle_crf.ui.ops import Ops
from msc_sle_crf.ui.status_label import ElidedLabel
from msc_sle_crf.ui.subject_list import SubjectList
from msc_sle_crf.ui.window_policy import WindowModalDialogs, WorkArea, fit_when_shown, hide_for_lock

CHECK_AFTER_SIGN_IN_MS = 1500  # the full check (every page, the whole chain) starts this long after sign-in


class MainWindow(QMainWindow):
    logged_out = Signal()
    restore_requested = Signal(object)  # an administrator restores a backup (ui/restore.py)
    # The menus and their actions, built and translated by ui/menus.py.
    user_menu: QMenu
    study_menu: QMenu
    admin_menu: QMenu
    lang_menu: QMenu
    change_password_action: QAction
    lock_action: QAction
    logout_action: QAction
    outcomes_action: QAction
    export_action: QAction
    packets_action: QAction
    worklist_action: QAction
    users_action: QAction
    verify_action: QAction
    verify_pdf_action: QAction
    receipt_action: QAction
    receipt_check_action: QAction
    ca_action: QAction
    rotate_action: QAction
    handover_action: QAction  # issue 18: ui/handover_dialog.py
    fr_action: QAction
    en_action: QAction

    def __init__(self, ws: Workspace, *, idle_ms: int | None = None) -> None:
        super().__init__()
        self.ws = ws
        self.ops = Ops(self)  # every write of this window and the screens it opens, and what it changed
        self.ops.on_session_end = self.end_session  # a disabled account's refusal, wherever it comes from
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
        self.session = SessionStrip()
        self.session.lock_requested.connect(self.lock)
        header.addWidget(self.session)
        work_layout.addLayout(header)
        self.subjects = SubjectList(ws)
        self.subjects.open_requested.connect(self.open_subject)
        work_layout.addWidget(self.subjects)
        self.accounts = AccountsPanel(ws, self.ops)  # administrators land here (accounts and site)
        work_layout.addWidget(self.accounts)
        self.lock_screen = LockScreen()
        self.stack.addWidget(self.work)
        self.stack.addWidget(self.lock_screen)
        self.setCentralWidget(self.stack)
        self.lock_screen.unlock_requested.connect(self._unlock)
        self.lock_screen.takeover_requested.connect(self._takeover)
        self.open_dialogs: list[Any] = []
        self._settings_seen: dict[str, str] = {}
        self.strips: list[SessionStrip] = [self.session]
        self._fitted = False
        self.live: list[LiveInfusion] = []  # running infusions, read when data changes (not while locked)
        self.alarm = DueAlarm(parent=self)
        self.modal_policy = WindowModalDialogs(self)  # no event filter: a hook in the style's polish (for the process)

        # At 1366 px with the backups warning the site's name was cut: the user's line gives way first (the window's
        # top says who is signed in), the site's line (the laptop, the site; the file in its tooltip) stays whole.
        self.status_user = named(ElidedLabel(gives_way=True), "status_user")
        self.status_site = named(ElidedLabel(keep_px=520), "status_site")
        self.status_training = named(QLabel("FORMATION · TRAINING"), "training")
        self.status_training.setVisible(ws.site.training)
        self.status_integrity = IntegrityStatus(ws)  # the check run in the background after sign-in
        self.statusBar().addWidget(self.status_user, 1)
        self.statusBar().addWidget(self.status_site)
        self.statusBar().addPermanentWidget(self.status_integrity)
        self.statusBar().addPermanentWidget(self.status_training)
        self.integrity_timer = QTimer(self)
        self.integrity_timer.setSingleShot(True)
        self.integrity_timer.timeout.connect(self.check_integrity)
        self.integrity_timer.start(CHECK_AFTER_SIGN_IN_MS)

        menus.build(self)
        minutes = int(ws.settings.get("idle_lock_minutes", "5"))
        self.idle = IdleWatcher(idle_ms if idle_ms is not None else minutes * 60_000, self)
        self.idle.idle.connect(self.lock)
        self.activity_timer = QTimer(self)  # once a second: running infusions on the list and the lock screen
        self.activity_timer.setInterval(1000)
        self.activity_timer.timeout.connect(self.update_lock_activity)
        self.ops.data_changed.connect(self._on_changes)
        self.retranslate()
        self.refresh_infusions()
        self.activity_timer.start()

    # ----- compatibility for screens and tests that look at the list -----------------------------------------------
    @property
    def table(self) -> Any:
        return self.subjects.table

    def _workstation(self) -> str | None:
        """This workstation's id when the site has several (issue 18), else None; kept while the screen is locked."""
        if not self.ws.locked:
            from msc_sle_crf.sync.workstations import Workstations

            info = Workstations(self.ws.ctx).info()
            self._workstation_seen = None if info.alone else info.ws
        return self._workstation_seen

    _workstation_seen: str | None = None
    _closed = False  # closed (log-out, exit): a change announced later is not drawn

    def _settings(self) -> dict[str, str]:
        """Settings cannot be read while the screen is locked: the lock screen keeps what was read last."""
        if self.ws.locked:
            return self._settings_seen
        self._settings_seen = self.ws.settings.all()
        return self._settings_seen

    # ----- building ------------------------------------------------------------------------------------------------
    def retranslate(self) -> None:
        ws = self.ws
        here = self._workstation()
        self.setWindowTitle(f"{STUDY_NAME} eCRF — {PROTOCOL_NUMBER}" + (f" — {here}" if here else "")
                            + (" — FORMATION / TRAINING" if ws.site.training else ""))
        admin_home = ws.can(Perm.MANAGE_USERS) and not ws.can(Perm.VIEW_DATA)
        self.heading.setText(tr("Accounts and site", "Comptes et site") if admin_home else tr("Subjects", "Patients"))
        self.subjects.setVisible(not admin_home)
        self.accounts.setVisible(admin_home)
        self.accounts.ws = ws
        self.accounts.retranslate()
        self.new_subject_button.setText(tr("New subject…", "Nouveau patient…"))
        menus.retranslate(self)
        self.new_subject_button.setVisible(ws.can(Perm.REGISTER_SUBJECT))
        self._render_status()
        for strip in self.strips:
            strip.show_user(ws.actor.full_name, ws.actor.role)
        self.status_integrity.show_state(self.ws)
        self.subjects.retranslate()
        backups.retranslate(self)

    def check_integrity(self) -> None:
        """Every page and the whole audit trail, checked in the background after sign-in (the opening checks only
        what refuses a wrong or damaged file, in constant time); the result stays on the status bar."""
        self.status_integrity.check(self.ws, self.ops)

    @property
    def integrity_report(self) -> IntegrityReport | None:
        return self.status_integrity.report

    def _render_status(self) -> None:
        actor = self.ws.actor
        settings = self._settings()
        self.status_user.setText(f" {actor.full_name} · {actor.role.label(current_lang())} |")
        here = self._workstation()
        # the workstation first: at 1280 px the bar cuts the end of this line ("· Wor" was all a new user saw)
        self.status_site.setText((tr(f"Workstation {here} · ", f"Poste {here} · ") if here else "")
                                 + ("" if here else tr("Site: ", "Site : ")) + f"{settings.get('site_name', '')} "
                                 f"({settings.get('site_number', '')})")
        self.status_site.setToolTip(tr("Database: ", "Base : ") + str(self.ws.site.db_path))

    def refresh(self) -> None:
        self.subjects.refresh()

    def _on_changes(self, changes: Changes) -> None:
        """Every write made from this window or a screen it opened: each part decides what to redraw. None once the
        window is closed or its database is (a packet import or a restore finishing in the background after the
        log-out or the restore's closing of the database: the list read the closed database, a traceback)."""
        if self._closed or self.ws.site.store is None:
            return
        self.subjects.on_changes(changes)
        self.accounts.on_changes(changes)
        self.status_integrity.follow(self.ws)  # the trail grew: the status bar's record count follows
        if changes.data:
            self.refresh_infusions()
        if changes.settings:
            self._render_status()

    def refresh_infusions(self) -> None:
        """Read which infusions are running (once per change, never while locked)."""
        if self.ws.locked or not self.ws.can(Perm.VIEW_DATA):
            return
        try:
            self.live = self.ws.bedside.infusions()
        except CrfError:
            self.live = []
        self.update_lock_activity()

    # ----- actions -------------------------------------------------------------------------------------------------
    def set_language(self, lang: Lang) -> None:
        set_lang(lang)  # Qt's own buttons follow (ui/translation.py listens)
        self.retranslate()
        for dialog in self.open_dialogs:
            retranslate = getattr(dialog, "retranslate", None)
            if retranslate is not None:
                retranslate()
        if self.stack.currentWidget() is self.lock_screen:
            self.lock_screen.show_for(self.ws.actor.full_name, self.ws.actor.username)

    def _track(self, dialog: QObject) -> None:
        """Windows are hidden at lock and closed (their typing saved) when another user takes over; each shows who
        is signed in and a Lock button; forms a window opens are tracked too."""
        if dialog in self.open_dialogs:
            return
        self.open_dialogs.append(dialog)
        def forget(*_args: object) -> None:
            if dialog in self.open_dialogs:
                self.open_dialogs.remove(dialog)

        finished = getattr(dialog, "finished", None)
        if finished is not None:
            finished.connect(forget)
        dialog.destroyed.connect(forget)  # a window closed for good (deleted on close) is forgotten too
        for name, slot in (("form_opened", self._track), ("lock_requested", self.lock)):
            signal = getattr(dialog, name, None)
            if signal is not None:
                signal.connect(slot)
        sound = getattr(dialog, "vitals_panel", None)
        if sound is not None:
            sound.sound_box.setChecked(self.alarm.enabled)
            sound.sound_box.toggled.connect(self.alarm.set_enabled)
            self.alarm.changed.connect(sound.sound_box.setChecked)
        self._add_strip(dialog)

    def _add_strip(self, window: QObject) -> None:
        """A window that does not show who is signed in gets the strip at its top (name, role, Lock)."""
        if getattr(window, "session", None) is not None or not isinstance(window, QWidget):
            return
        layout = window.layout()
        if not isinstance(layout, QBoxLayout):
            return
        strip = SessionStrip()
        strip.setContentsMargins(8, 4, 8, 0)
        strip.show_user(self.ws.actor.full_name, self.ws.actor.role)
        strip.lock_requested.connect(self.lock)
        layout.insertWidget(0, strip)
        self.strips.append(strip)
        strip.destroyed.connect(lambda _obj=None, s=strip: self.strips.remove(s) if s in self.strips else None)

    def open_casebook(self, row: int) -> None:
        number = self.subjects.subject_at(row)
        if number is not None:
            self.open_subject(number)

    def open_subject(self, number: str) -> None:
        from msc_sle_crf.ui.casebook import CasebookDialog

        if not self.ws.can(Perm.VIEW_DATA):
            return
        for window in self.open_dialogs:  # one casebook per subject: bring it to the front
            if isinstance(window, CasebookDialog) and window.subject == number:
                window.show()
                window.raise_()
                window.activateWindow()
                return
        with self.ops.guard(self, tr("Subject", "Patient")):  # the casebook reads the subject when it opens
            dialog = CasebookDialog(self.ws, number, self, ops=self.ops)
            self._track(dialog)
            dialog.show()  # non-modal: the bedside and the forms stay usable beside it

    def open_outcomes(self) -> None:
        from msc_sle_crf.ui.outcomes import open_outcomes

        if self.ws.can(Perm.VIEW_OUTCOMES):
            with self.ops.guard(self, tr("Outcomes", "Critères de jugement")):
                self._track(open_outcomes(self.ws, self, self.ops))

    def new_subject(self) -> None:
        with self.ops.guard(self, tr("New subject", "Nouveau patient")):  # the dialog reads the user's draft
            dialog = NewSubjectDialog(self.ws, self, ops=self.ops)
            self._track(dialog)
            # The new subject is selected (Enter then opens its casebook, not the one selected before).
            dialog.accepted.connect(lambda: self.subjects.select(dialog.subject.subject_number) if dialog.subject
                                    else None)
            dialog.open()

    def change_password(self, forced: bool = False) -> bool:
        dialog = ChangePasswordDialog(self.ws, forced=forced, parent=self, ops=self.ops)
        ok = dialog.exec() == ChangePasswordDialog.DialogCode.Accepted
        if ok:
            QMessageBox.information(self, tr("Password", "Mot de passe"),
                                    tr("Your password was changed.", "Votre mot de passe a été modifié."))
        return ok

    def show_accounts(self) -> None:
        """Administration > User accounts: the accounts screen, in front."""
        if self.ws.can(Perm.MANAGE_USERS):
            self.accounts.ws = self.ws
            self.accounts.setVisible(True)
            self.accounts.refresh()
            self.raise_()
            self.activateWindow()
            self.accounts.table.setFocus()

    def verify(self) -> None:
        self.statusBar().showMessage(tr("Checking integrity…", "Contrôle d'intégrité…"))

        def done(report: IntegrityReport) -> None:
            self.statusBar().clearMessage()
            if report.ok:
                QMessageBox.information(self, tr("Integrity", "Intégrité"), admin_actions.integrity_text(report))
            else:
                QMessageBox.critical(self, tr("Integrity", "Intégrité"), admin_actions.integrity_text(report))

        def failed(exc: BaseException) -> None:
            self.statusBar().clearMessage()
            QMessageBox.warning(self, tr("Integrity", "Intégrité"), error_text(exc))

        self.ops.background(self.ws.integrity.verify, on_done=done, on_error=failed)

    # ----- the session ---------------------------------------------------------------------------------------------
    def update_lock_activity(self) -> None:
        """Once a second: each running infusion (subject number, running time, next reading) on the subject list and,
        while locked, on the lock screen; the optional sound when a reading becomes due."""
        lines: dict[str, tuple[str, bool]] = {}
        if self.ws.can(Perm.VIEW_DATA):
            for live in self.live:
                now = self.ws.bedside.monitor(live)
                self.alarm.check(live.subject, now.points)
                if now.active or now.overdue:
                    lines[live.subject] = (summary(live.subject, now).get(), now.overdue)
        self.subjects.show_infusions(lines)
        if self.stack.currentWidget() is self.lock_screen:
            self.lock_screen.show_activity("\n".join(text for text, _ in lines.values()),
                                           alert=any(late for _, late in lines.values()))

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
        """Lock from any window: what each window shows that was typed and not saved becomes the user's own draft
        and leaves the screen (``on_lock``), the windows hide, the lock screen shows in front."""
        if self.stack.currentWidget() is self.lock_screen or self.ws.site.store is None:
            return
        self.refresh_infusions()
        hide_for_lock(self, list(self.open_dialogs))
        self.ws.lock()
        backups.session_ended(self, "lock")
        self.idle.pause()
        self.menuBar().setEnabled(False)
        self.lock_screen.show_for(self.ws.actor.full_name, self.ws.actor.username)
        self.stack.setCurrentWidget(self.lock_screen)
        self.update_lock_activity()
        self.show()
        self.raise_()
        self.activateWindow()

    def end_session(self, exc: CrfError) -> None:
        """The account was disabled (here, or on another workstation and the packet imported): the session ended at
        this action. The screen locks as Ctrl+L locks it (another user may take over; her password no longer opens
        it) and its line says why, in the user's language."""
        if self._closed or self.ws.site.store is None or not self.ws.ctx.ended:
            return  # not this window's session (a late answer for the user another one took over from)
        self.lock()
        self.lock_screen.error.setText(error_text(exc))

    def _back_to_work(self) -> None:
        self.menuBar().setEnabled(True)
        self.stack.setCurrentWidget(self.work)
        self.idle.resume()
        self.retranslate()
        for dialog in self.open_dialogs:
            dialog.show()
            on_unlock = getattr(dialog, "on_unlock", None)
            if on_unlock is not None:
                on_unlock()
        self.refresh_infusions()

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

        def done(new_ws: Workspace) -> None:  # a one-time password: "Choose your password" on the lock screen first
            if new_ws.actor.must_change_password:
                self.lock_screen.choose_password(new_ws, password, then=self._took_over)
                return
            self._took_over(new_ws)

        run_in_background(lambda: ws.switch_user(username, password), done, self._lock_error)

    def _took_over(self, new_ws: Workspace) -> None:
        """Another user took over: the first user's input is saved as their own draft before the context changes."""
        self._save_open_drafts(new_ws)
        self.ws = new_ws
        self.subjects.set_workspace(new_ws)
        self.lock_screen.error.clear()
        self._back_to_work()

    def _lock_error(self, exc: BaseException) -> None:
        self.lock_screen.error.setText(error_text(exc))
        self.lock_screen.password.clear()
        self.lock_screen.other_password.clear()

    def logout(self) -> None:
        self._save_open_drafts()
        self.ws.logout()
        backups.session_ended(self, "logout")
        self.idle.stop()
        self.logged_out.emit()
        self.close()

    def showEvent(self, event: QShowEvent) -> None:
        """Within the screen, title bar included (it opened 1280 x 800 on an 800-pixel screen)."""
        super().showEvent(event)
        if not self._fitted:
            self._fitted = True
            fit_when_shown(self, 1280, 800)

    def closeEvent(self, event: QCloseEvent) -> None:
        """No timer of this session may fire after it (the idle lock would write to a closed database), and no
        window it opened stays (the bedside and its forms have no parent)."""
        self._closed = True
        self.idle.stop()
        self.activity_timer.stop()
        for dialog in list(self.open_dialogs):
            dialog.done(0)
        self.open_dialogs.clear()
        self.integrity_timer.stop()
        self.status_integrity.stop(self.ws)  # a check still reading the file must not hold the exit
        super().closeEvent(event)
