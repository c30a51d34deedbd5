"""The Qt shell, driven as a user would (offscreen)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.ui.dialogs import NewSubjectDialog
from msc_sle_crf.ui.login import LoginWindow
from msc_sle_crf.ui.main_window import MainWindow

from .conftest import ADMIN_PW, make_user


@pytest.fixture
def people(site: Site, admin: Workspace) -> dict[str, str]:
    return {"nurse.u": make_user(admin, "nurse.u", "nurse"), "dr.u": make_user(admin, "dr.u", "investigator")}


def _sign_in(qtbot, window: LoginWindow, user: str, password: str) -> None:
    qtbot.keyClicks(window.user, user)
    qtbot.keyClicks(window.password, password)
    qtbot.keyClick(window.password, Qt.Key.Key_Return)


def test_login_lists_no_user_and_refuses_a_wrong_password(qtbot, site: Site, people) -> None:
    window = LoginWindow(site)
    qtbot.addWidget(window)
    texts = " ".join(w.text() for w in window.findChildren(type(window.title)))
    assert "nurse.u" not in texts and "admin" not in texts
    assert not window.training.isVisibleTo(window)
    _sign_in(qtbot, window, "nurse.u", "wrong-password!")
    qtbot.waitUntil(lambda: window.submit.isEnabled() and "failed" in window.error.text(), timeout=5000)
    assert window.password.text() == ""


def test_sign_in_shows_user_role_and_site(qtbot, site: Site, people) -> None:
    window = LoginWindow(site)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.signed_in, timeout=5000) as signal:
        _sign_in(qtbot, window, "nurse.u", people["nurse.u"])
    main = MainWindow(signal.args[0], idle_ms=60_000)
    qtbot.addWidget(main)
    assert "Research nurse" in main.status_user.text()
    assert "Hôpital Saint-Louis" in main.status_site.text()
    assert not main.status_training.isVisibleTo(main)
    assert main.table.rowCount() == 0


def test_language_switch_at_run_time(qtbot, site: Site, people) -> None:
    window = LoginWindow(site)
    qtbot.addWidget(window)
    assert window.submit.text() == "Sign in"
    qtbot.mouseClick(window.lang_button, Qt.MouseButton.LeftButton)
    assert window.submit.text() == "Se connecter"
    _sign_in(qtbot, window, "nurse.u", "wrong-password!")
    qtbot.waitUntil(lambda: "Échec de la connexion" in window.error.text(), timeout=5000)
    set_lang(Lang.EN)


def test_idle_auto_lock_hides_the_data(qtbot, site: Site, people) -> None:
    services = Workspace.sign_in(site, "dr.u", people["dr.u"])
    services.subjects.register("ABC", 1980, "F")
    main = MainWindow(services, idle_ms=200)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitUntil(lambda: main.stack.currentWidget() is main.lock_screen, timeout=3000)
    assert not main.table.isVisible()
    assert services.locked
    assert "Dr.U" in main.lock_screen.who.text() or "dr.u" in main.lock_screen.who.text()
    main.lock_screen.password.setText("wrong-password-1")
    main.lock_screen.unlock_button.click()
    qtbot.waitUntil(lambda: "failed" in main.lock_screen.error.text(), timeout=5000)
    main.idle.pause()
    main.lock_screen.password.setText(people["dr.u"])
    main.lock_screen.unlock_button.click()
    qtbot.waitUntil(lambda: main.stack.currentWidget() is main.work, timeout=5000)
    assert main.table.rowCount() == 1


def test_takeover_keeps_the_first_users_input_as_a_draft(qtbot, site: Site, people) -> None:
    nurse = Workspace.sign_in(site, "nurse.u", people["nurse.u"])
    main = MainWindow(nurse, idle_ms=60_000)
    qtbot.addWidget(main)
    main.show()
    main.new_subject()
    dialog = main.open_dialogs[0]
    assert isinstance(dialog, NewSubjectDialog)
    qtbot.keyClicks(dialog.initials, "XY")
    qtbot.keyClicks(dialog.birth_year, "19")  # half typed when the nurse is called away
    main.lock()
    main.lock_screen.other_user.setText("dr.u")
    main.lock_screen.other_password.setText(people["dr.u"])
    main.lock_screen.takeover_button.click()
    qtbot.waitUntil(lambda: main.stack.currentWidget() is main.work, timeout=5000)
    assert main.ws.actor.username == "dr.u"
    assert main.open_dialogs == []
    assert "dr.u" in main.status_user.text().lower() or "Dr.U" in main.status_user.text()
    # The nurse's half-typed input is kept, as hers, and comes back when she opens the dialog again.
    back = Workspace.sign_in(site, "nurse.u", people["nurse.u"])
    assert back.drafts.load(NewSubjectDialog.DRAFT_KEY) == {"initials": "XY", "birth_year": "19", "sex": ""}
    again = NewSubjectDialog(back)
    qtbot.addWidget(again)
    assert again.initials.text() == "XY" and again.birth_year.text() == "19"
    # The doctor has no such draft.
    assert main.ws.drafts.load(NewSubjectDialog.DRAFT_KEY) is None


def test_new_subject_dialog_names_the_field_and_rule(qtbot, site: Site, people) -> None:
    doctor = Workspace.sign_in(site, "dr.u", people["dr.u"])
    dialog = NewSubjectDialog(doctor)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.initials, "A1")
    qtbot.keyClicks(dialog.birth_year, "1980")
    dialog._accept()
    assert dialog.error.text() == "Initials: 2 or 3 letters A-Z."
    dialog.initials.setText("AB")
    dialog.birth_year.setText("1850")
    dialog.sex.setCurrentIndex(1)
    dialog._accept()
    assert dialog.error.text().startswith("Year of birth: must be between 1900 and")
    dialog.birth_year.setText("1980")
    dialog._accept()
    assert dialog.result() == NewSubjectDialog.DialogCode.Accepted
    assert [s.initials for s in doctor.subjects.list()] == ["AB"]
    assert doctor.drafts.load(NewSubjectDialog.DRAFT_KEY) is None


def test_admin_sees_no_clinical_data(qtbot, site: Site, people) -> None:
    admin = Workspace.sign_in(site, "admin", ADMIN_PW)
    main = MainWindow(admin, idle_ms=60_000)
    qtbot.addWidget(main)
    main.show()
    assert not main.table.isVisible() and not main.subjects.isVisible()
    assert main.accounts.isVisible()  # issue 12: administrators land on the accounts and site screen
    assert not main.new_subject_button.isVisible()
    assert main.users_action.isEnabled()


def test_no_idle_lock_fires_after_the_window_closed(qtbot, db_path, clock) -> None:
    """A closed main window leaves no timer behind: an idle lock firing later would write into a closed site (it
    used to make a later test fail)."""
    from .conftest import FAST_KDF

    other = db_path.with_name("other.crfdb")
    site, _admin, _code = Site.initialize(other, admin_username="admin", admin_full_name="Ada Admin",
                                          admin_password="correct-horse-42", kdf=FAST_KDF, clock=clock)
    ws = Workspace.sign_in(site, "admin", "correct-horse-42")
    main = MainWindow(ws, idle_ms=100)
    main.show()
    main.close()
    site.close()
    qtbot.wait(400)  # any Qt callback raising here fails the test (pytest-qt)
    assert not ws.locked
    main.deleteLater()


def test_the_outcomes_window_opens_from_the_menu_and_is_forgotten_when_closed(qtbot, site: Site, people) -> None:
    doctor = Workspace.sign_in(site, "dr.u", people["dr.u"])
    main = MainWindow(doctor, idle_ms=60_000)
    qtbot.addWidget(main)
    assert main.outcomes_action.isEnabled()
    main.outcomes_action.trigger()
    [window] = [w for w in main.open_dialogs if type(w).__name__ == "OutcomesWindow"]
    window.close()  # deleted on close
    qtbot.waitUntil(lambda: window not in main.open_dialogs, timeout=5000)
    main.lock()  # hides what is open: nothing deleted is left to hide
    assert main.stack.currentWidget() is main.lock_screen


def test_enter_on_an_empty_lock_screen_is_not_a_failed_sign_in(qtbot, site: Site, people) -> None:
    """Found by a new user: Enter with nothing typed on the lock screen counted as a failed sign-in (and toward the
    lockout). It now asks for the password and tries nothing; the same for a take-over with a field left empty."""
    from sqlalchemy import func, select

    from msc_sle_crf.store.tables import AuditEvent

    def failures() -> int:
        with services.ctx.read() as session:
            return int(session.execute(select(func.count()).select_from(AuditEvent)
                                       .where(AuditEvent.action == "login_failed")).scalar() or 0)

    services = Workspace.sign_in(site, "dr.u", people["dr.u"])
    main = MainWindow(services, idle_ms=60_000)
    qtbot.addWidget(main)
    main.show()
    main.lock()
    assert main.stack.currentWidget() is main.lock_screen
    before = failures()
    qtbot.keyClick(main.lock_screen.password, Qt.Key.Key_Return)
    assert main.lock_screen.error.text() == "Enter your password."
    main.lock_screen.other_user.setText("dr.u")
    qtbot.keyClick(main.lock_screen.other_password, Qt.Key.Key_Return)
    assert main.lock_screen.error.text() == "Enter your user name and password."
    main.lock_screen.password.setText(people["dr.u"])
    qtbot.keyClick(main.lock_screen.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: main.stack.currentWidget() is main.work, timeout=5000)
    assert failures() == before
