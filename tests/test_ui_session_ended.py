"""A disabled account's open session ends visibly at its next action (README: "an open session of it ends at its next
action"): the one line "Your account has been disabled: this session has ended." (French too) on the lock screen,
never a silent no-op and never a traceback out of a slot (pytest-qt fails a test on an exception in a slot)."""

from __future__ import annotations

from pathlib import Path

import pytest

from msc_sle_crf.errors import Msg
from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.sync.service import Packets
from msc_sle_crf.ui.dialogs import NewSubjectDialog
from msc_sle_crf.ui.main_window import MainWindow

from .conftest import ADMIN_PW, make_user
from .helpers.packets import PW, Pair, make_pair


@pytest.fixture
def nurse_window(qtbot, site: Site, admin: Workspace) -> MainWindow:  # type: ignore[no-untyped-def]
    password = make_user(admin, "nurse.x", "nurse")
    nurse = Workspace.sign_in(site, "nurse.x", password)
    nurse.subjects.register("ABC", 1980, "F")
    main = MainWindow(nurse, idle_ms=10**9)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    admin.accounts.disable_user("nurse.x", "left the unit")  # her session is still open on this window
    return main


def _ended(main: MainWindow) -> bool:
    return main.stack.currentWidget() is main.lock_screen


def test_opening_a_subject_after_the_disable_ends_the_session(qtbot, nurse_window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    main = nurse_window
    number = main.subjects.subject_at(0)
    assert number is not None
    main.subjects.open_requested.emit(number)  # double-click or Enter on the subject
    assert _ended(main)
    assert main.lock_screen.error.text() == Msg.ACCOUNT_DISABLED.render()
    assert main.open_dialogs == []
    assert not main.menuBar().isEnabled()


@pytest.mark.parametrize("lang", [Lang.EN, Lang.FR])
def test_new_subject_after_the_disable_ends_the_session(qtbot, nurse_window: MainWindow, lang: Lang) -> None:  # type: ignore[no-untyped-def]
    main = nurse_window
    set_lang(lang)
    main.new_subject_button.click()
    assert _ended(main)
    expected = "Votre compte a été désactivé" if lang is Lang.FR else "Your account has been disabled"
    assert main.lock_screen.error.text().startswith(expected)
    assert main.open_dialogs == []


def test_a_refused_write_in_an_open_dialog_ends_the_session(qtbot, site: Site, admin: Workspace) -> None:  # type: ignore[no-untyped-def]
    """A window opened before the disable: its next write (through Ops) ends the session, not only its own line.
    Another user then takes over the workstation and works (her window's refusals do not lock him out)."""
    password = make_user(admin, "nurse.y", "nurse")
    doctor_pw = make_user(admin, "dr.y", "investigator")
    main = MainWindow(Workspace.sign_in(site, "nurse.y", password), idle_ms=10**9)
    qtbot.addWidget(main)
    main.show()
    main.new_subject_button.click()
    dialog = main.open_dialogs[0]
    admin.accounts.disable_user("nurse.y", "left the unit")
    qtbot.keyClicks(dialog.initials, "X")  # every change is drafted: a write
    assert _ended(main)
    assert main.lock_screen.error.text() == Msg.ACCOUNT_DISABLED.render()
    assert not dialog.isVisible()
    # Her password no longer opens the session again.
    main.lock_screen.password.setText(password)
    main.lock_screen.unlock_button.click()
    qtbot.waitUntil(lambda: main.lock_screen.error.text() not in ("", "Checking…",
                                                                   Msg.ACCOUNT_DISABLED.render()), timeout=5000)
    assert _ended(main)
    main.lock_screen.other_user.setText("dr.y")
    main.lock_screen.other_password.setText(doctor_pw)
    main.lock_screen.takeover_button.click()
    qtbot.waitUntil(lambda: main.stack.currentWidget() is main.work, timeout=5000)
    assert main.ws.actor.username == "dr.y" and main.open_dialogs == []
    main.new_subject_button.click()
    assert not _ended(main) and isinstance(main.open_dialogs[0], NewSubjectDialog)


def test_an_administrator_disabled_ends_at_the_accounts_screen(qtbot, site: Site, admin: Workspace) -> None:  # type: ignore[no-untyped-def]
    """The accounts screen reads its table itself: a disabled administrator's session ends there too."""
    password = make_user(admin, "admin.b", "admin")
    main = MainWindow(Workspace.sign_in(site, "admin.b", password), idle_ms=10**9)
    qtbot.addWidget(main)
    main.show()
    admin.accounts.disable_user("admin.b", "left the site")
    main.show_accounts()  # Administration > User accounts
    assert _ended(main)
    assert main.lock_screen.error.text() == Msg.ACCOUNT_DISABLED.render()


def test_a_disable_escaping_any_slot_ends_the_session_at_the_app_level(qtbot, nurse_window: MainWindow,  # type: ignore[no-untyped-def]
                                                                        site: Site, monkeypatch) -> None:
    """The app's hook for what no slot handled (installed by ``run_gui``): the same end, not a printed traceback."""
    from PySide6.QtWidgets import QMessageBox

    from msc_sle_crf.errors import AuthenticationError, ValidationError
    from msc_sle_crf.ui.app import App

    shell = App(site, idle_ms=10**9)
    qtbot.addWidget(shell.login)
    shell.main = nurse_window
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text: shown.append(text))
    shell.uncaught(ValidationError(Msg.PASSWORD_MISMATCH))  # any other refusal: shown, one line
    assert shown == [Msg.PASSWORD_MISMATCH.render()] and not _ended(nurse_window)
    with pytest.raises(AuthenticationError) as raised:  # what a slot calling a service directly lets escape
        nurse_window.ws.subjects.list()
    shell.uncaught(raised.value)
    assert _ended(nurse_window)
    assert nurse_window.lock_screen.error.text() == Msg.ACCOUNT_DISABLED.render()


def _disable_travels(tmp_path: Path) -> tuple[Pair, Path]:
    """monitor.m disabled by an administrator on WS-01; the packet carrying it, for WS-02."""
    pair = make_pair(tmp_path)
    site = Site.open(pair.a_db, clock=pair.clock)
    with site:
        accounts = Workspace.sign_in(site, "admin", ADMIN_PW).accounts
        accounts.disable_user("monitor.m", "left the unit")
        pair.code = accounts.take_packet_code()  # the packet secret renewed (i18-secret): typed at WS-02's import
    pair.clock.advance(60)
    packet = pair.export("A")
    assert packet is not None
    return pair, packet


def test_a_disable_imported_from_another_workstation_ends_her_open_session(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The trial's case: WS-02 applies the packet carrying the disable; her window on WS-02 ends at her next action."""
    pair, packet = _disable_travels(tmp_path)
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:
        main = MainWindow(Workspace.sign_in(site, "monitor.m", PW["monitor.m"]), idle_ms=10**9)
        qtbot.addWidget(main)
        main.show()
        doctor = Workspace.sign_in(site, "dr.a", PW["dr.a"])
        Packets(doctor.ctx, doctor.study).import_file(packet, code=pair.code)
        main.subjects.open_requested.emit("01-001")
        assert _ended(main)
        assert main.lock_screen.error.text() == Msg.ACCOUNT_DISABLED.render()
        main.close()


def test_the_accounts_screen_shows_a_disable_an_import_brought(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The administrator's accounts screen redraws from the import's change record (it showed "Active")."""
    pair, packet = _disable_travels(tmp_path)
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:
        admin = Workspace.sign_in(site, "admin", ADMIN_PW)
        main = MainWindow(admin, idle_ms=10**9)
        qtbot.addWidget(main)
        main.show()
        panel = main.accounts

        def state_of(account: str) -> str:
            row = next(n for n, user in enumerate(panel.users) if user.username == account)
            item = panel.table.item(row, 3)
            assert item is not None
            return item.text()

        assert state_of("monitor.m") == "Active"
        main.ops.run(lambda: Packets(admin.ctx, admin.study).import_file(packet, code=pair.code))  # as the packets
        # window does
        assert state_of("monitor.m").startswith("Disabled on WS-01")
        main.close()
