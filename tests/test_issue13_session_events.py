"""Issue 13 (keystrokes near the floor): a signed-in session runs no Python code for events that are not its own.

The idle lock, the modal-dialog policy and the screen-fit policy were three application-wide event filters: a Python
call in front of every event of the process (~20 per keystroke, ~10,000 when the 151-field form opens; the form then
opened 3-5x slower than benchmarked). They are now a filter on the top-level windows (the idle lock: where the window
system delivers input) and a hook in the style's ``polish`` (a window's first polish and first show), and still do
what they did."""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QInputDialog, QLineEdit, QMessageBox, QWidget

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.ui.app import App
from msc_sle_crf.ui.main_window import MainWindow

from .conftest import ADMIN_PW


def _python_calls_of_the_app(events: int) -> list[str]:
    """Python functions of msc_sle_crf run while ``events`` events are sent to an object of no window."""
    target = QObject()
    seen: list[str] = []

    def profile(frame: Any, what: str, _arg: Any) -> None:
        if what == "call" and "msc_sle_crf" in frame.f_code.co_filename:
            seen.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")

    sys.setprofile(profile)
    try:
        for _ in range(events):
            QApplication.sendEvent(target, QEvent(QEvent.Type.User))
            QApplication.sendEvent(target, QEvent(QEvent.Type.Move))
    finally:
        sys.setprofile(None)
    return seen


def test_a_session_puts_no_python_call_in_front_of_every_event(qtbot, site: Site) -> None:  # type: ignore[no-untyped-def]
    shell = App(site, idle_ms=10**9)  # the screen-fit policy
    qtbot.addWidget(shell.login)
    main = MainWindow(Workspace.sign_in(site, "admin", ADMIN_PW), idle_ms=10**9)  # the idle lock, modal dialogs
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    assert _python_calls_of_the_app(200) == []
    main.close()


def test_input_in_any_window_keeps_the_session_unlocked(qtbot, site: Site) -> None:  # type: ignore[no-untyped-def]
    """Keys and mouse moves in the main window, or in a window opened after sign-in, defer the idle lock; without
    them it locks."""
    ws = Workspace.sign_in(site, "admin", ADMIN_PW)
    main = MainWindow(ws, idle_ms=400)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    later = QWidget()  # a window opened later (a form, the casebook, the bedside have no parent)
    qtbot.addWidget(later)
    edit = QLineEdit(later)
    later.show()
    later.activateWindow()
    qtbot.waitUntil(later.isActiveWindow, timeout=3000)
    edit.setFocus()
    for n in range(8):  # 8 x 150 ms = 1.2 s: three times the idle time
        if n % 2:
            QTest.keyClick(later.windowHandle(), Qt.Key.Key_A)  # as the window system delivers it
        else:
            QTest.mouseMove(main.windowHandle(), QPoint(100 + n, 100 + n))
        qtbot.wait(150)
        assert not ws.locked, n
    assert edit.text() == "aaaa"
    qtbot.waitUntil(lambda: ws.locked, timeout=3000)  # no input: locked
    main.close()


def test_modal_dialogs_block_only_their_own_window(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Once a session has switched the policy on: a message box, an input dialog, and a dialog of ours polished
    before it runs (``exec()`` makes it application-modal after its polish) block only their window."""
    from msc_sle_crf.ui.window_policy import WindowModalDialogs

    WindowModalDialogs()
    window = QWidget()
    qtbot.addWidget(window)
    field = QLineEdit(window)
    window.show()
    seen: list[str] = []

    def close_the_box() -> None:
        box = QApplication.activeModalWidget()
        seen.append(box.windowModality().name if box is not None else "none")
        if box is not None:
            box.close()

    QTimer.singleShot(50, close_the_box)
    QMessageBox.warning(field, "Form", "a refusal")
    QTimer.singleShot(50, close_the_box)
    QInputDialog.getText(field, "Query", "text")
    dialog = QDialog(window)
    dialog.adjustSize()  # polished now, while still non-modal
    QTimer.singleShot(50, close_the_box)
    dialog.exec()
    assert seen == ["WindowModal"] * 3
    shown = QDialog(window)
    shown.show()  # shown, not run: stays non-modal
    assert shown.windowModality() is Qt.WindowModality.NonModal
    shown.close()


def _modality_once_polished(qtbot) -> Qt.WindowModality:  # type: ignore[no-untyped-def]
    window = QWidget()
    qtbot.addWidget(window)
    dialog = QDialog(window)
    dialog.setWindowModality(Qt.WindowModality.ApplicationModal)  # as exec() would make it
    dialog.ensurePolished()
    return dialog.windowModality()


def test_the_modal_policy_survives_a_change_of_the_applications_style(qtbot) -> None:  # type: ignore[no-untyped-def]
    """The policies ride on the application's style: ``QApplication.setStyle`` (``run_gui`` sets Fusion, and ran
    after an earlier App in the same process) replaced and deleted it, and every dialog after that blocked the whole
    application, even once a new session switched the policy on again (it set a flag on the deleted style)."""
    from msc_sle_crf.ui import window_policy
    from msc_sle_crf.ui.window_policy import WindowModalDialogs

    WindowModalDialogs()
    assert _modality_once_polished(qtbot) is Qt.WindowModality.WindowModal
    window_policy.use_style("Fusion")  # how run_gui sets the look: the policies stay on
    assert _modality_once_polished(qtbot) is Qt.WindowModality.WindowModal
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setStyle("Fusion")  # a bare replacement drops the hook until the policy is next switched on...
    WindowModalDialogs()  # ...which installs it again, with the screen fit as it was
    assert _modality_once_polished(qtbot) is Qt.WindowModality.WindowModal
    assert window_policy._in_use(window_policy.policies(), app)  # the style, or the one under the style sheet
