"""Issue 12: first sign-in with a one-time password, and the administrator's accounts screen."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QComboBox, QLineEdit

from msc_sle_crf.audit import Action
from msc_sle_crf.errors import AuthenticationError
from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.store import rekey
from msc_sle_crf.ui.app import App
from msc_sle_crf.ui.login import LoginWindow
from msc_sle_crf.ui.main_window import MainWindow


def _sign_in(qtbot, window: LoginWindow, user: str, password: str) -> None:
    qtbot.keyClicks(window.user, user)
    qtbot.keyClicks(window.password, password)
    qtbot.keyClick(window.password, Qt.Key.Key_Return)


def test_a_new_account_signs_in_with_its_one_time_password_chooses_its_own_and_gets_in(
        qtbot, site: Site, admin: Workspace) -> None:
    one_time = admin.accounts.add_user("nurse.new", "Nina New", "nurse").password
    shell = App(site, study=admin.study, idle_ms=10**9)
    qtbot.addWidget(shell.login)
    shell.start()
    _sign_in(qtbot, shell.login, "nurse.new", one_time)
    # The "choose your password" page, not an exception while the main window is built.
    qtbot.waitUntil(shell.login.choose.isVisible, timeout=5000)
    assert shell.main is None
    page = shell.login.choose
    qtbot.keyClicks(page.new, "short")
    assert "✗  At least 10 characters" in page.rules_text  # the policy, shown as one types
    page.new.clear()
    qtbot.keyClicks(page.new, "violet-harbour-lantern-19")
    qtbot.waitUntil(lambda: page.strength_ok, timeout=3000)
    qtbot.keyClicks(page.again, "violet-harbour-lantern-18")
    qtbot.keyClick(page.again, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(page.error.text()), timeout=3000)
    assert page.error.text() == "Password: the two entries differ."
    assert page.new.text() == "violet-harbour-lantern-19"  # nothing typed is lost
    page.again.clear()
    qtbot.keyClicks(page.again, "violet-harbour-lantern-19")
    qtbot.keyClick(page.again, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: shell.main is not None and shell.main.isVisible(), timeout=8000)
    qtbot.addWidget(shell.main)
    assert not shell.login.isVisible()
    assert shell.main.table.rowCount() == 0 and not shell.main.ws.actor.must_change_password
    shell.main.ws.logout()
    shell.main.close()
    # The chosen password opens the account; the one-time password no longer does.
    assert Workspace.sign_in(site, "nurse.new", "violet-harbour-lantern-19").actor.username == "nurse.new"


# ----- the accounts screen -----------------------------------------------------------------------------------------
class Modal:
    """Handles the modal dialogs an action opens, one after the other (offscreen: no person to click)."""

    def __init__(self, *handlers) -> None:
        self.handlers = list(handlers)
        self.seen: list[str] = []
        self.timer = QTimer()
        self.timer.setInterval(30)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        widget = QApplication.activeModalWidget()
        if widget is None or not self.handlers or getattr(widget, "_handled", False):
            return
        widget._handled = True  # type: ignore[attr-defined]
        self.seen.append(widget.windowTitle())
        handler = self.handlers.pop(0)
        QTimer.singleShot(0, lambda: handler(widget))

    def wait(self, qtbot) -> None:
        """Until every expected dialog was handled and closed."""
        qtbot.waitUntil(lambda: not self.handlers and QApplication.activeModalWidget() is None, timeout=8000)
        self.timer.stop()


def _audit(ws: Workspace, action: Action) -> list:
    return [r for r in ws.integrity.audit_trail(limit=1000) if r.action == action.value]


def test_the_administrator_lands_on_accounts_and_adds_resets_disables_and_enables_users(
        qtbot, site: Site, admin: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    rekey_threads: list[threading.Thread] = []
    real_rotate = rekey.rotate

    def rotate_noting_thread(*args, **kwargs):
        rekey_threads.append(threading.current_thread())
        return real_rotate(*args, **kwargs)

    monkeypatch.setattr(rekey, "rotate", rotate_noting_thread)
    main = MainWindow(admin, idle_ms=10**9)
    qtbot.addWidget(main)
    main.show()
    panel = main.accounts
    assert panel.isVisible() and not main.subjects.isVisible()
    assert main.heading.text() == "Accounts and site"
    assert [panel.table.item(r, 2).text() for r in range(panel.table.rowCount())] == ["Administrator"]
    issued: dict[str, str] = {}

    def fill_bad_then_good(dialog) -> None:
        dialog.findChild(QLineEdit, "new_username").setText("X")
        dialog.findChild(QLineEdit, "new_full_name").setText("Noé Nurse")
        role = dialog.findChild(QComboBox, "new_role")
        role.setCurrentIndex(role.findData("nurse"))
        dialog.ok.click()
        issued["error"] = dialog.error.text()
        issued["kept"] = dialog.findChild(QLineEdit, "new_full_name").text()
        assert dialog.isVisible()  # stays open with what was typed
        dialog.findChild(QLineEdit, "new_username").setText("noe.nurse")
        dialog.ok.click()

    def read_password(key: str):
        def handler(dialog) -> None:
            issued[key] = dialog.password.text()
            dialog.reject()
        return handler

    modal = Modal(fill_bad_then_good, read_password("added"))
    panel.add_button.click()
    modal.wait(qtbot)
    assert issued["error"].startswith("User name: 3 to 32 characters") and issued["kept"] == "Noé Nurse"
    row = next(r for r in range(panel.table.rowCount()) if panel.table.item(r, 0).text() == "noe.nurse")
    assert panel.table.item(row, 2).text() == "Research nurse"
    assert panel.table.item(row, 3).text() == "Active: one-time password, not yet changed"
    assert panel.selected().username == "noe.nurse"  # the new account is selected
    nurse = Workspace.sign_in(site, "noe.nurse", issued["added"])
    assert nurse.actor.must_change_password
    nurse.accounts.change_password(issued["added"], "violet-harbour-lantern-19")
    nurse.logout()

    # Reset: asked first, naming the user; a new one-time password; the chosen one opens nothing any more.
    def confirm(dialog) -> None:
        issued["question"] = dialog.intro.text()
        dialog.ok.click()

    modal = Modal(confirm, read_password("reset"))
    panel.reset_button.click()
    modal.wait(qtbot)
    assert "Noé Nurse (noe.nurse)" in issued["question"]
    assert issued["reset"] and issued["reset"] != issued["added"]
    with pytest.raises(AuthenticationError):
        site.authenticate("noe.nurse", "violet-harbour-lantern-19")
    assert Workspace.sign_in(site, "noe.nurse", issued["reset"]).actor.must_change_password

    # Disable: a reason is required (one line, the dialog stays), then the account is disabled.
    def disable(dialog) -> None:
        dialog.ok.click()
        issued["no_reason"] = dialog.error.text()
        dialog.findChild(QLineEdit, "reason").setText("left the unit")
        dialog.ok.click()

    panel.select("noe.nurse")
    modal = Modal(disable)
    panel.disable_button.click()
    modal.wait(qtbot)
    assert issued["no_reason"].startswith("Reason")
    # The re-key of the whole database runs off the UI thread (the window keeps painting); the table follows.
    qtbot.waitUntil(lambda: panel.table.item(row, 3).text() == "Disabled", timeout=30_000)
    assert rekey_threads and all(t is not threading.main_thread() for t in rekey_threads)
    assert panel.table.item(row, 3).text() == "Disabled" and panel.enable_button.isEnabled()
    assert not panel.reset_button.isEnabled() and not panel.disable_button.isEnabled()
    with pytest.raises(AuthenticationError):
        site.authenticate("noe.nurse", issued["reset"])

    # Enable again: a one-time password; the account signs in and must choose its own.
    def enable(dialog) -> None:
        dialog.findChild(QLineEdit, "reason").setText("back from leave")
        dialog.ok.click()

    modal = Modal(enable, read_password("enabled"))
    panel.enable_button.click()
    modal.wait(qtbot)
    assert panel.table.item(row, 3).text() == "Active: one-time password, not yet changed"
    back = Workspace.sign_in(site, "noe.nurse", issued["enabled"])
    assert back.actor.must_change_password
    back.accounts.change_password(issued["enabled"], "quartz-meadow-falcon-77")
    back.logout()
    # Every action audited in the administrator's name, and the trail still explains the data.
    for action in (Action.USER_ADD, Action.PASSWORD_RESET, Action.USER_DISABLE, Action.USER_ENABLE):
        assert [r.username for r in _audit(admin, action) if r.item == "noe.nurse"] == ["admin"], action
    assert _audit(admin, Action.USER_ENABLE)[0].reason == "back from leave"
    report = admin.integrity.verify(full=True)
    assert report.ok, report.loss_messages() + [u.line() for u in report.unexplained]
    main.close()


def test_the_accounts_screen_speaks_french(qtbot, site: Site, admin: Workspace) -> None:
    set_lang(Lang.FR)
    main = MainWindow(admin, idle_ms=10**9)
    qtbot.addWidget(main)
    main.show()
    assert main.heading.text() == "Comptes et site"
    assert main.accounts.table.item(0, 2).text() == "Administrateur"
    assert main.accounts.add_button.text() == "Ajouter un utilisateur…"
    main.close()
