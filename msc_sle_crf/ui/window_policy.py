"""How the app's windows behave together: a modal dialog blocks only its own window, and the data area shows
TRAINING on a demo database."""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QGuiApplication, QKeyEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QProxyStyle, QWidget

VIRTUAL_SCREENS = ("offscreen", "minimal")  # no real screen to fit (tests without a display)


def fit_to_screen(window: QWidget, width: int, height: int) -> None:
    """Size a shown window so that all of it, frame and title bar included, is within the screen's free area (at
    most ``width`` x ``height``): a 1280 x 800 window is 25 pixels too tall for an 800-pixel screen once the window
    manager adds its title bar. Called once shown, and again once the window manager has framed it."""
    screen = window.screen()
    if screen is None or QGuiApplication.platformName() in VIRTUAL_SCREENS:
        return
    area = screen.availableGeometry()
    frame, inner = window.frameGeometry(), window.geometry()
    extra_w = max(0, frame.width() - inner.width())
    extra_h = max(0, frame.height() - inner.height()) or 30  # not framed yet: a title bar's height
    w, h = min(width, area.width() - extra_w), min(height, area.height() - extra_h)
    window.resize(w, h)
    window.move(area.left() + max(0, (area.width() - w - extra_w) // 2), area.top())


def fit_when_shown(window: QWidget, width: int, height: int) -> None:
    for delay in (0, 150, 600):
        QTimer.singleShot(delay, window, lambda: fit_to_screen(window, width, height))


def make_window_modal(obj: QWidget) -> None:
    """A dialog with a parent that would block the whole application (``exec()``, the static QMessageBox and
    QInputDialog functions) or a message box shown as a plain window blocks only its own window and its parents."""
    if (isinstance(obj, QDialog) and obj.isWindow() and obj.parentWidget() is not None
            and (obj.windowModality() is Qt.WindowModality.ApplicationModal
                 or (obj.windowModality() is Qt.WindowModality.NonModal and isinstance(obj, QMessageBox)))):
        obj.setWindowModality(Qt.WindowModality.WindowModal)
        handle = obj.windowHandle()
        if handle is not None:  # Qt does not pass the change on once the dialog is marked modal
            handle.setModality(Qt.WindowModality.WindowModal)


class _LockKey(QObject):
    """Ctrl+L on a dialog with a parent: the key reaches the dialog only when no shortcut took it (the main window's
    Lock, blocked by this dialog's modality): the lock is asked of the windows under it (``request_lock``)."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_L
                and event.modifiers() == Qt.KeyboardModifier.ControlModifier and isinstance(obj, QWidget)):
            from msc_sle_crf.ui.lock_screen import request_lock

            parent = obj.parentWidget()
            return parent is not None and request_lock(parent)
        return False


def lock_key(window: QWidget) -> None:
    """Ctrl+L works in a modal dialog with a parent (``_LockKey``)."""
    if (isinstance(window, QDialog) and window.parentWidget() is not None
            and window.windowModality() is not Qt.WindowModality.NonModal and not window.property("lock_key")):
        window.setProperty("lock_key", True)
        window.installEventFilter(_LockKey(window))


class _FirstShow(QObject):
    """On one top-level window from its first polish to its first show (then removed: it sees none of the events of
    a window in use, keystrokes included)."""

    def __init__(self, policies: WindowPolicies, window: QWidget) -> None:
        super().__init__(window)
        self.policies = policies

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show and isinstance(obj, QWidget):
            obj.removeEventFilter(self)
            obj.setProperty("first_show_watched", False)
            self.deleteLater()
            self.policies.shown(obj)
        return False


class WindowPolicies(QProxyStyle):
    """How the app's windows open, applied as each top-level window is polished (once, before it is first shown)
    and first shown, and never again: the application's style (Fusion, drawn unchanged) with a hook in its
    ``polish``. It replaces application-wide event filters, which put a Python call in front of every event of the
    process (~20 per keystroke, ~10,000 when a long form opens: 2-6 µs each).

    - ``modal`` (``WindowModalDialogs``): a modal dialog blocks only its own window and that window's parents, never
      the whole application: a message box in a form or the casebook leaves the bedside (a window with no parent)
      working. Qt makes every dialog run with ``exec()`` (and the static QMessageBox/QInputDialog functions)
      application-modal; this turns it window-modal as it is polished or first shown, before Qt registers it as
      modal. A dialog shown with ``show()`` stays non-modal.
    - ``fit`` (``ScreenFit``): every top-level window opens within the screen.

    One per application (``policies()``); what is switched on stays on for the process."""

    def __init__(self, base: str) -> None:
        super().__init__(base)
        self.modal = False
        self.fit = False

    def polish(self, target: object) -> None:
        if isinstance(target, QWidget) and target.isWindow() and (self.modal or self.fit):
            if self.modal:
                make_window_modal(target)
                lock_key(target)
            if not target.isVisible() and not target.property("first_show_watched"):
                target.setProperty("first_show_watched", True)
                target.installEventFilter(_FirstShow(self, target))
        super().polish(target)  # type: ignore[call-overload]

    def shown(self, window: QWidget) -> None:
        if self.modal:
            make_window_modal(window)  # polished earlier, then run with exec(): application-modal since
            lock_key(window)
        if self.fit:
            watch(window)


_POLICIES: list[WindowPolicies] = []  # the Python object must live as long as the application uses it


def _in_use(found: WindowPolicies, app: QApplication) -> bool:
    """Whether ``found`` is still the application's style (alone, or under the style sheet's style): a call to
    ``QApplication.setStyle`` replaces it and Qt deletes it, and with it the policies' hook."""
    if not shiboken6.isValid(found):
        return False
    style = app.style()
    return style is found or found.parent() is style


def policies() -> WindowPolicies:
    """The application's style with the window policies (installed on the application at the first call, and again
    with the policies switched on so far if the application's style was replaced since)."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    if _POLICIES and _in_use(_POLICIES[0], app):
        return _POLICIES[0]
    found = WindowPolicies(app.style().name() or "Fusion")
    if _POLICIES:
        old = _POLICIES.pop()
        found.modal, found.fit = old.modal, old.fit  # Python attributes: readable once the C++ style is deleted
    _POLICIES.append(found)
    app.setStyle(found)
    return found


def use_style(name: str) -> None:
    """Draw the application with Qt's style ``name`` (``QApplication.setStyle``), keeping the window policies on if
    they were (``setStyle`` alone replaces, and deletes, the style that carries them)."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setStyle(name)
    if _POLICIES:
        policies()


class WindowModalDialogs(QObject):
    """Switches on the modal-dialog policy of ``WindowPolicies`` (a modal dialog blocks only its own window)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        policies().modal = True


class ScreenFit(QObject):
    """Every window of the app opens within the screen (issue 12: the forms opened 1100 x 820 and the casebook
    1360 x 820 on 1280 x 800 and 1366 x 768 laptops, their buttons off-screen): a top-level window that does not fit
    once shown (and once the window manager has framed it) is sized to the screen's free area, title bar included,
    and its content scrolls. Installed by ``ui.app.App`` (``WindowPolicies``: no event filter)."""

    def watch(self, window: QWidget) -> None:
        watch(window)

    def install(self) -> None:
        """Every window shown from now on, and those already on screen (at start-up the sign-in window is shown
        first and this is installed once it has painted: ``ui.app.run_gui``)."""
        if QApplication.instance() is None:
            return
        policies().fit = True
        for window in QApplication.topLevelWidgets():
            if window.isVisible():
                watch(window)


def watch(window: QWidget) -> None:
    """Fit ``window`` (once shown, and again once the window manager has framed it) if it is a top-level window not
    fitted yet."""
    if (window.isWindow() and not window.property("screen_fitted")
            and window.windowType() in (Qt.WindowType.Window, Qt.WindowType.Dialog)):
        window.setProperty("screen_fitted", True)
        for delay in (0, 200, 700):
            QTimer.singleShot(delay, window, lambda w=window: fit_if_needed(w))


def fit_if_needed(window: QWidget) -> None:
    screen = window.screen()
    if screen is None or not window.isVisible():
        return
    if not screen.availableGeometry().contains(window.frameGeometry()):
        fit_to_screen(window, window.width(), window.height())


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


class NoDefaultButtonDialog(QDialog):
    """A window-sized dialog (a form, a casebook) where Enter presses no button the user did not focus. A QDialog
    makes its first push button the default and clicks it on any Enter its fields do not use: Enter on a form of the
    casebook also pressed "Lock the subject", and Enter in a field could press "Print PDF…". A focused button still
    takes Enter itself (it sees the key first)."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        plain = event.modifiers() in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and plain:  # what QDialog would take for its default
            event.accept()
            return
        super().keyPressEvent(event)


def hide_for_lock(main: QWidget, dialogs: list[Any]) -> None:
    """Before the lock screen shows: what each of the main window's dialogs shows that was typed and not saved
    becomes the user's own draft (``on_lock``), then every window but ``main`` hides: its dialogs, and any other
    dialog (a question, a form's queries), so that nothing stays over the lock; a question waiting (``exec``) is
    answered "Cancel"."""
    for dialog in dialogs:
        on_lock = getattr(dialog, "on_lock", None)
        if on_lock is not None:
            on_lock()
        dialog.hide()
    for window in QApplication.topLevelWidgets():
        if window is not main and isinstance(window, QDialog) and window.isVisible():
            window.hide()
