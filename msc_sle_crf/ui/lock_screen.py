"""The lock screen (what keeps running stays visible, with no identity) and the idle watcher that locks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from msc_sle_crf.access import Role
from msc_sle_crf.i18n import L, current_lang
from msc_sle_crf.infusion.vitals import PlannedPoint, PointState
from msc_sle_crf.ui.common import named, tr

if TYPE_CHECKING:
    from msc_sle_crf.services import Workspace
    from msc_sle_crf.ui.first_password import ChoosePasswordPage

_ACTIVITY_EVENTS = {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
                    QEvent.Type.Wheel, QEvent.Type.TouchBegin}


class IdleWatcher(QObject):
    """Locks after a period without keyboard, mouse or touch input in any window of the application. It belongs to
    its window (destroyed with it) and ``stop`` removes it, so no timer outlives the session.

    It watches the application's top-level windows (``QWindow``: where the window system delivers every key, click,
    move and touch before Qt passes it to a widget), not the whole application: an application-wide event filter
    put a Python call in front of every event of the process (~20 per keystroke, thousands when a form opens). A
    window is watched from when the watcher starts or from the next change of the focused window (a window opened
    later takes the focus, or is clicked, when it is first used).

    After an input it has seen, it stops watching for a moment (``rest_ms``: a tenth of the timeout, at most a
    second), so typing does not run Python for every key and its release: the session then locks at most that long
    before the idle time has passed since the last input."""

    idle = Signal()

    def __init__(self, timeout_ms: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(timeout_ms)
        self.timer.timeout.connect(self.idle.emit)
        self._resting = False
        self._rest = QTimer(self)
        self._rest.setSingleShot(True)
        self._rest_ms = _rest_ms(timeout_ms)
        self._rest.timeout.connect(self._wake)
        self._app = QGuiApplication.instance()
        if isinstance(self._app, QGuiApplication):
            self._app.focusWindowChanged.connect(self._watch_windows)
            self._watch_windows()
        self.timer.start()

    def _watch_windows(self, *_focus: object) -> None:
        if self._resting or self._app is None:  # resting: every window is watched again when the rest ends
            return
        for window in QGuiApplication.topLevelWindows():
            window.installEventFilter(self)  # once per window: Qt keeps one entry per filter and object

    def _wake(self) -> None:
        self._resting = False
        self._watch_windows()

    def set_timeout(self, timeout_ms: int) -> None:
        self.timer.setInterval(timeout_ms)
        self._rest_ms = _rest_ms(timeout_ms)
        self.timer.start()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in _ACTIVITY_EVENTS and self.timer.isActive():
            self.timer.start()
            self._resting = True  # input seen: not watched again before the rest ends (Qt allows removing here)
            for window in QGuiApplication.topLevelWindows():
                window.removeEventFilter(self)
            self._rest.start(self._rest_ms)
        return False

    def pause(self) -> None:
        self.timer.stop()

    def resume(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        """For good: the session is over."""
        self.timer.stop()
        self._rest.stop()
        if isinstance(self._app, QGuiApplication):
            self._app.focusWindowChanged.disconnect(self._watch_windows)
            for window in QGuiApplication.topLevelWindows():
                window.removeEventFilter(self)
            self._app = None


def _rest_ms(timeout_ms: int) -> int:
    return max(1, min(1000, timeout_ms // 10))


class DueAlarm(QObject):
    """The optional sound when a vital-sign reading becomes due or overdue (off by default): one beep for each time
    point that changes into one of those states, whichever window is in front, locked or not."""

    changed = Signal(bool)

    def __init__(self, beep: Callable[[], None] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.enabled = False
        self.beep = beep or QApplication.beep
        self.beeps = 0
        self._seen: dict[tuple[str, str], PointState] = {}

    def set_enabled(self, on: bool) -> None:
        if on != self.enabled:
            self.enabled = on
            self.changed.emit(on)

    def check(self, subject: str, points: Sequence[PlannedPoint]) -> None:
        rang = False
        for p in points:
            key = (subject, p.point.id)
            before = self._seen.get(key)
            self._seen[key] = p.state
            if before is not None and before is not p.state and p.state in (PointState.DUE, PointState.OVERDUE):
                rang = True
        if rang and self.enabled:
            self.beeps += 1
            self.beep()


def request_lock(widget: QWidget) -> bool:
    """Ctrl+L in a window that the main window's shortcut does not reach (a dialog modal to a form blocks the
    windows under it, the main window's too): the lock asked of the nearest window that offers it (its strip, or
    its own Lock signal). False if none does."""
    current: QWidget | None = widget
    while current is not None:
        session = getattr(current, "session", None)
        signal = getattr(session, "lock_requested", None) or getattr(current, "lock_requested", None)
        if signal is None:
            strip = current.findChild(SessionStrip, options=Qt.FindChildOption.FindDirectChildrenOnly)
            signal = strip.lock_requested if strip is not None else None
        if signal is not None:
            signal.emit()
            return True
        current = current.parentWidget()
    return False


class SessionStrip(QWidget):
    """Who is signed in, and a Lock button (Ctrl+L works from every window too): at the top of every window."""

    lock_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionStrip")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addStretch(1)
        self.who = named(QLabel(), "sessionUser")
        self.who.setStyleSheet("QLabel { color: #1d2b3a; font-weight: bold; }")
        row.addWidget(self.who)
        self.lock_button = named(QPushButton(), "lockButton")
        self.lock_button.setAutoDefault(False)
        self.lock_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.lock_button.clicked.connect(self.lock_requested.emit)
        row.addWidget(self.lock_button)
        self._user: tuple[str, Role | None] = ("", None)

    def show_user(self, full_name: str, role: Role | None) -> None:
        self._user = (full_name, role)
        label = role.label(current_lang()) if role is not None else ""
        self.who.setText(tr(f"Signed in: {full_name} · {label}", f"Connecté(e) : {full_name} · {label}"))
        self.lock_button.setText(tr("Lock (Ctrl+L)", "Verrouiller (Ctrl+L)"))

    def retranslate(self) -> None:
        self.show_user(*self._user)


class LockScreen(QWidget):
    unlock_requested = Signal(str)
    takeover_requested = Signal(str, str)

    def __init__(self) -> None:
        super().__init__()
        outer = QVBoxLayout(self)
        # What keeps running while the screen is locked (an infusion and its next reading), without identity.
        self.activity = named(QLabel(), "lockActivity")
        self.activity.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.activity.setWordWrap(True)  # one 18 pt line of a running infusion is wider than a 1280 px screen
        self.activity.setStyleSheet("QLabel { font-size: 18pt; font-weight: bold; color: #1d2b3a; "
                                    "background: #e8f0fb; border-radius: 8px; padding: 12px; }")
        self.activity.setVisible(False)
        outer.addWidget(self.activity)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        card = named(QFrame(), "card")
        card.setFixedWidth(480)
        box = QVBoxLayout(card)
        box.setContentsMargins(32, 24, 32, 24)
        self.title = named(QLabel(), "title")
        self.who = named(QLabel(), "subtitle")
        self.who.setWordWrap(True)
        self.password = named(QLineEdit(), "lock_password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.unlock_button = named(QPushButton(), "primary")
        self.other_title = QLabel()
        self.other_user = named(QLineEdit(), "other_user")
        self.other_password = named(QLineEdit(), "other_password")
        self.other_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.takeover_button = named(QPushButton(), "takeover")
        self.error = named(QLabel(), "error")
        self.error.setWordWrap(True)
        for widget in (self.title, self.who, self.password, self.unlock_button, self.other_title,
                       self.other_user, self.other_password, self.takeover_button, self.error):
            box.addWidget(widget)
        row.addWidget(card)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(1)
        self.card, self._row = card, row
        self._choose: ChoosePasswordPage | None = None  # made on first use
        self._who = ("", "")
        self._then: Callable[[Workspace], None] | None = None  # the takeover, once the password is chosen
        self.password.returnPressed.connect(self._unlock)
        self.unlock_button.clicked.connect(self._unlock)
        self.other_user.returnPressed.connect(self.other_password.setFocus)
        self.other_password.returnPressed.connect(self._takeover)
        self.takeover_button.clicked.connect(self._takeover)

    def show_activity(self, text: str, *, alert: bool = False) -> None:
        self.activity.setText(text)
        self.activity.setVisible(bool(text))
        self.activity.setStyleSheet("QLabel { font-size: 18pt; font-weight: bold; padding: 12px; border-radius: 8px; "
                                    + ("color: #b00020; background: #fdecea; }" if alert else
                                       "color: #1d2b3a; background: #e8f0fb; }"))

    @property
    def choose_page(self) -> ChoosePasswordPage:
        if self._choose is None:
            from msc_sle_crf.ui.first_password import ChoosePasswordPage

            page = ChoosePasswordPage(back=L("Back to the lock screen", "Retour à l'écran verrouillé"))
            page.setVisible(False)
            page.done.connect(self._password_chosen)
            page.cancelled.connect(self._choose_left)
            self._row.insertWidget(self._row.indexOf(self.card) + 1, page)
            self._choose = page
        return self._choose

    def choose_password(self, ws: Workspace, one_time: str, *, then: Callable[[Workspace], None]) -> None:
        """A takeover with a one-time password (a new account, a reset): the new user chooses their own here first
        ("Choose your password", ui/first_password.py, in place of the card), then takes over (``then``). The locked
        session stays locked behind; "Back to the lock screen" logs the new user out. Before, a refusal told them to
        log out, which the lock screen has no way to do (a dead end)."""
        self._then = then
        self.error.clear()
        self.card.setVisible(False)
        page = self.choose_page
        page.setVisible(True)
        page.start(ws, one_time)

    def _password_chosen(self, ws: Workspace) -> None:
        self.choose_page.setVisible(False)
        self.card.setVisible(True)
        then, self._then = self._then, None
        if then is not None:
            then(ws)

    def _choose_left(self) -> None:
        self._then = None
        self.choose_page.setVisible(False)
        self.card.setVisible(True)
        self.show_for(*self._who)

    def show_for(self, full_name: str, username: str) -> None:
        self._who = (full_name, username)
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
        if not self.password.text():  # Enter on an empty field is not a sign-in attempt (it counted as a failed one)
            self.error.setText(tr("Enter your password.", "Saisissez votre mot de passe."))
            self.password.setFocus()
            return
        self.unlock_requested.emit(self.password.text())

    def _takeover(self) -> None:
        if not self.other_user.text().strip() or not self.other_password.text():
            self.error.setText(tr("Enter your user name and password.",
                                  "Saisissez votre nom d'utilisateur et votre mot de passe."))
            (self.other_password if self.other_user.text().strip() else self.other_user).setFocus()
            return
        self.takeover_requested.emit(self.other_user.text().strip(), self.other_password.text())
