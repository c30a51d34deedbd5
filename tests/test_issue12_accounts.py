"""Issue 12: first sign-in with a one-time password, and the administrator's accounts screen."""

from __future__ import annotations

from PySide6.QtCore import Qt

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.ui.app import App
from msc_sle_crf.ui.login import LoginWindow


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
    assert "10" in page.rules.text()  # the policy, shown as one types
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
