"""Main window: subject list, status bar (user, role, site, TRAINING), user menu, idle auto-lock, lock screen."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QFont, QKeySequence, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf import PROTOCOL_NUMBER, STUDY_NAME
from msc_sle_crf.access import Perm
from msc_sle_crf.i18n import Lang, current_lang, set_lang
from msc_sle_crf.services import Workspace
from msc_sle_crf.ui.common import error_text, run_in_background, tr
from msc_sle_crf.ui.dialogs import ChangePasswordDialog, NewSubjectDialog, UsersDialog
from msc_sle_crf.ui.ops import Ops

_ACTIVITY_EVENTS = {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
                    QEvent.Type.Wheel, QEvent.Type.TouchBegin}


class IdleWatcher(QObject):
    """Locks after a period without keyboard, mouse or touch input anywhere in the application."""

    idle = Signal()

    def __init__(self, timeout_ms: int) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(timeout_ms)
        self.timer.timeout.connect(self.idle.emit)
        QApplication.instance().installEventFilter(self)
        self.timer.start()

    def set_timeout(self, timeout_ms: int) -> None:
        self.timer.setInterval(timeout_ms)
        self.timer.start()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in _ACTIVITY_EVENTS and self.timer.isActive():
            self.timer.start()
        return False

    def pause(self) -> None:
        self.timer.stop()

    def resume(self) -> None:
        self.timer.start()


class WorkArea(QWidget):
    """The data area; paints a diagonal TRAINING watermark on a demo database."""

    def __init__(self, training: bool) -> None:
        super().__init__()
        self.training = training

    def paintEvent(self, event) -> None:
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


class LockScreen(QWidget):
    unlock_requested = Signal(str)
    takeover_requested = Signal(str, str)

    def __init__(self) -> None:
        super().__init__()
        outer = QVBoxLayout(self)
        # What keeps running while the screen is locked (an infusion and its next reading), without identity.
        self.activity = QLabel(objectName="lockActivity")
        self.activity.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.activity.setStyleSheet("QLabel { font-size: 18pt; font-weight: bold; color: #1d2b3a; "
                                    "background: #e8f0fb; border-radius: 8px; padding: 12px; }")
        self.activity.setVisible(False)
        outer.addWidget(self.activity)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        card = QFrame(objectName="card")
        card.setFixedWidth(480)
        box = QVBoxLayout(card)
        box.setContentsMargins(32, 24, 32, 24)
        self.title = QLabel(objectName="title")
        self.who = QLabel(objectName="subtitle")
        self.who.setWordWrap(True)
        self.password = QLineEdit(objectName="lock_password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.unlock_button = QPushButton(objectName="primary")
        self.other_title = QLabel()
        self.other_user = QLineEdit(objectName="other_user")
        self.other_password = QLineEdit(objectName="other_password")
        self.other_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.takeover_button = QPushButton(objectName="takeover")
        self.error = QLabel(objectName="error")
        self.error.setWordWrap(True)
        for widget in (self.title, self.who, self.password, self.unlock_button, self.other_title,
                       self.other_user, self.other_password, self.takeover_button, self.error):
            box.addWidget(widget)
        row.addWidget(card)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(1)
        self.password.returnPressed.connect(self._unlock)
        self.unlock_button.clicked.connect(self._unlock)
        self.other_user.returnPressed.connect(self.other_password.setFocus)
        self.other_password.returnPressed.connect(self._takeover)
        self.takeover_button.clicked.connect(self._takeover)

    def show_activity(self, text: str) -> None:
        self.activity.setText(text)
        self.activity.setVisible(bool(text))
        overdue = "OVERDUE" in text or "EN RETARD" in text
        self.activity.setStyleSheet("QLabel { font-size: 18pt; font-weight: bold; padding: 12px; border-radius: 8px; "
                                    + ("color: #b00020; background: #fdecea; }" if overdue else
                                       "color: #1d2b3a; background: #e8f0fb; }"))

    def show_for(self, full_name: str, username: str) -> None:
        self.title.setText(tr("Locked", "Session verrouillée"))
        self.who.setText(tr(f"Session of {full_name} ({username}). Enter your password to go on.",
                            f"Session de {full_name} ({username}). Saisissez votre mot de passe pour continuer."))
        self.password.setPlaceholderText(tr("Password", "Mot de passe"))
        self.unlock_button.setText(tr("Unlock", "Déverrouiller"))
        self.other_title.setText(tr("Or another user takes over (the current input is kept as a draft):",
                                    "Ou un autre utilisateur prend la main (la saisie en cours est gardée en "
                                    "brouillon) :"))
        self.other_title.setWordWrap(True)
        self.other_user.setPlaceholderText(tr("User name", "Nom d'utilisateur"))
        self.other_password.setPlaceholderText(tr("Password", "Mot de passe"))
        self.takeover_button.setText(tr("Take over", "Prendre la main"))
        for field in (self.password, self.other_user, self.other_password):
            field.clear()
        self.error.clear()
        self.password.setFocus()

    def _unlock(self) -> None:
        self.unlock_requested.emit(self.password.text())

    def _takeover(self) -> None:
        self.takeover_requested.emit(self.other_user.text().strip(), self.other_password.text())


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
        self.heading = QLabel(objectName="title")
        header.addWidget(self.heading)
        header.addStretch(1)
        self.new_subject_button = QPushButton(objectName="primary")
        self.new_subject_button.clicked.connect(self.new_subject)
        header.addWidget(self.new_subject_button)
        work_layout.addLayout(header)
        self.open_hint = QLabel(objectName="subtitle")
        work_layout.addWidget(self.open_hint)
        self.no_access = QLabel(objectName="subtitle")
        work_layout.addWidget(self.no_access)
        self.table = QTableWidget(0, 7, objectName="subjects")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setStyleSheet("QTableWidget { background: transparent; }")
        self.table.cellActivated.connect(lambda row, _col: self.open_casebook(row))
        work_layout.addWidget(self.table)
        self.lock_screen = LockScreen()
        self.stack.addWidget(self.work)
        self.stack.addWidget(self.lock_screen)
        self.setCentralWidget(self.stack)
        self.lock_screen.unlock_requested.connect(self._unlock)
        self.lock_screen.takeover_requested.connect(self._takeover)
        self.open_dialogs: list[QObject] = []

        self.status_user = QLabel(objectName="status_user")
        self.status_site = QLabel(objectName="status_site")
        self.status_training = QLabel("FORMATION · TRAINING", objectName="training")
        self.status_training.setVisible(ws.site.training)
        self.statusBar().addWidget(self.status_user)
        self.statusBar().addWidget(self.status_site, 1)
        self.statusBar().addPermanentWidget(self.status_training)

        self._build_menus()
        minutes = int(self._settings().get("idle_lock_minutes", "5"))
        self.idle = IdleWatcher(idle_ms if idle_ms is not None else minutes * 60_000)
        self.idle.idle.connect(self.lock)
        self.activity_timer = QTimer(self)
        self.activity_timer.setInterval(1000)
        self.activity_timer.timeout.connect(self.update_lock_activity)
        self.retranslate()

    # ----- building ----------------------------------------------------------------------------------------
    def _settings(self) -> dict[str, str]:
        # Settings cannot be read while the screen is locked (issue 15): the lock screen keeps what it last read.
        if self.ws.locked:
            return getattr(self, "_settings_seen", {})
        self._settings_seen = self.ws.settings.all()
        return self._settings_seen

    def _build_menus(self) -> None:
        bar = self.menuBar()
        bar.clear()
        self.user_menu = bar.addMenu("")
        self.change_password_action = QAction(self)
        self.change_password_action.triggered.connect(self.change_password)
        self.lock_action = QAction(self)
        self.lock_action.setShortcut(QKeySequence("Ctrl+L"))
        self.lock_action.triggered.connect(self.lock)
        self.logout_action = QAction(self)
        self.logout_action.triggered.connect(self.logout)
        for action in (self.change_password_action, self.lock_action, self.logout_action):
            self.user_menu.addAction(action)
        self.admin_menu = bar.addMenu("")
        self.users_action = QAction(self)
        self.users_action.triggered.connect(lambda: UsersDialog(self.ws, self).exec())
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
        actor = self.ws.actor
        settings = self._settings()
        self.setWindowTitle(f"{STUDY_NAME} eCRF — {PROTOCOL_NUMBER}"
                            + (" — FORMATION / TRAINING" if self.ws.site.training else ""))
        self.heading.setText(tr("Subjects", "Patients"))
        self.open_hint.setText(tr("Double-click a subject (or select it and press Enter) to open its casebook.",
                                  "Double-cliquez sur un patient (ou sélectionnez-le et appuyez sur Entrée) pour "
                                  "ouvrir son cahier."))
        self.open_hint.setVisible(self.ws.can(Perm.VIEW_DATA))
        self.new_subject_button.setText(tr("New subject…", "Nouveau patient…"))
        self.table.setHorizontalHeaderLabels([tr("Subject", "Patient"), tr("Initials", "Initiales"),
                                              tr("Year of birth", "Année de naissance"), tr("Sex", "Sexe"),
                                              tr("Visits done", "Visites faites"),
                                              tr("Open queries", "Queries ouvertes"),
                                              tr("Next action", "Prochaine action")])
        header = self.table.horizontalHeader()
        header.setResizeContentsPrecision(100)  # measure a sample of rows, not all of them
        for col in range(6):  # sized once after filling: "resize to contents" would re-measure at every cell
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        self.user_menu.setTitle(f"{actor.full_name}")
        self.change_password_action.setText(tr("Change password…", "Changer le mot de passe…"))
        self.lock_action.setText(tr("Lock", "Verrouiller"))
        self.logout_action.setText(tr("Log out", "Se déconnecter"))
        self.admin_menu.setTitle(tr("Administration", "Administration"))
        self.users_action.setText(tr("User accounts…", "Comptes utilisateurs…"))
        self.verify_action.setText(tr("Check integrity (database and audit trail)",
                                      "Contrôler l'intégrité (base et piste d'audit)"))
        self.lang_menu.setTitle(tr("Language", "Langue"))
        self.status_user.setText(f"  {actor.full_name} · {actor.role.label(current_lang())}   |")
        self.status_site.setText(tr("Site: ", "Site : ") + f"{settings.get('site_name', '')} "
                                 f"({settings.get('site_number', '')}) · {self.ws.site.db_path.name}")
        self.users_action.setEnabled(self.ws.can(Perm.MANAGE_USERS))
        self.verify_action.setEnabled(self.ws.can(Perm.VERIFY_AUDIT))
        self.new_subject_button.setVisible(self.ws.can(Perm.REGISTER_SUBJECT))
        self.refresh()

    def refresh(self) -> None:
        if self.ws.locked:
            return
        if not self.ws.can(Perm.VIEW_DATA):
            self.table.setRowCount(0)
            self.table.setVisible(False)
            self.no_access.setText(tr("Your role has no access to clinical data.",
                                      "Votre rôle n'a pas accès aux données cliniques."))
            self.no_access.setVisible(True)
            return
        self.no_access.setVisible(False)
        self.table.setVisible(True)
        rows = self.ws.overview.subject_rows()
        queries = self.ws.monitoring.open_counts()
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(rows))
        for row, r in enumerate(rows):
            s = r.subject
            open_queries = queries.get(s.subject_number, 0)
            for col, text in enumerate((s.subject_number, s.initials, str(s.birth_year), s.sex,
                                        f"{r.visits_done} / {r.visits_total}", str(open_queries or ""),
                                        r.next_action.get())):
                item = QTableWidgetItem(text)
                if col == 6 and ("overdue" in r.next_action.en):
                    item.setForeground(QColor("#b00020"))
                if col == 5 and open_queries:
                    item.setForeground(QColor("#b26a00"))
                self.table.setItem(row, col, item)
        for col in range(6):
            self.table.resizeColumnToContents(col)
        self.table.setUpdatesEnabled(True)

    # ----- actions -----------------------------------------------------------------------------------------
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
        dialog.finished.connect(lambda _r: self.open_dialogs.remove(dialog) if dialog in self.open_dialogs else None)

    def open_casebook(self, row: int) -> None:
        from msc_sle_crf.ui.casebook import CasebookDialog

        item = self.table.item(row, 0)
        if item is None or not self.ws.can(Perm.VIEW_DATA):
            return
        dialog = CasebookDialog(self.ws, item.text(), self, ops=self.ops)
        dialog.form_opened.connect(self._track)
        self._track(dialog)
        dialog.open()
        return

    def new_subject(self) -> None:
        dialog = NewSubjectDialog(self.ws, self)
        self.open_dialogs.append(dialog)
        dialog.finished.connect(lambda _r: self.open_dialogs.remove(dialog) if dialog in self.open_dialogs else None)
        dialog.finished.connect(lambda _r: self.refresh())
        dialog.open()

    def change_password(self, forced: bool = False) -> bool:
        dialog = ChangePasswordDialog(self.ws, forced=forced, parent=self)
        ok = dialog.exec() == ChangePasswordDialog.DialogCode.Accepted
        if ok:
            QMessageBox.information(self, tr("Password", "Mot de passe"),
                                    tr("Your password was changed.", "Votre mot de passe a été modifié."))
        return ok

    def verify(self) -> None:
        self.statusBar().showMessage(tr("Checking integrity…", "Contrôle d'intégrité…"))

        def done(report) -> None:
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

        run_in_background(self.ws.integrity.verify, done, failed)

    def update_lock_activity(self) -> None:
        """While locked: the infusion timer and the next reading stay visible (and keep being computed)."""
        lines = []
        for dialog in self.open_dialogs:
            status = getattr(dialog, "status_line", None)
            if status is not None:
                text = status()
                if text:
                    lines.append(text)
        self.lock_screen.show_activity("\n".join(lines))

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
            dialog.done(0)
            if dialog in self.open_dialogs:  # finished() may already have removed it
                self.open_dialogs.remove(dialog)

    def lock(self) -> None:
        if self.stack.currentWidget() is self.lock_screen:
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

        def done(_result) -> None:
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
        self.idle.pause()
        self.logged_out.emit()
        self.close()
