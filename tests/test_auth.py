"""Sign-in: wrong password, unknown user, lockout, progressive delay, password changes, recovery code."""

from __future__ import annotations

import pytest

from msc_sle_crf.audit import Action
from msc_sle_crf.errors import AuthenticationError, Msg, ValidationError
from msc_sle_crf.i18n import Lang
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.store.site import LOCKOUT_SECONDS, MAX_FAILURES

from .conftest import ADMIN_PW, make_user


def _actions(services: Workspace, action: Action) -> list:
    return [r for r in services.integrity.audit_trail(limit=1000) if r.action == action.value]


def test_wrong_password_and_unknown_user_give_the_same_message_and_are_audited(site: Site, admin: Workspace) -> None:
    make_user(admin, "nurse.a", "nurse")
    with pytest.raises(AuthenticationError) as wrong:
        site.sign_in("nurse.a", "not-the-password")
    with pytest.raises(AuthenticationError) as unknown:
        site.sign_in("nobody.here", "not-the-password")
    assert wrong.value.msg is unknown.value.msg is Msg.BAD_CREDENTIALS
    assert wrong.value.message() == unknown.value.message()
    assert "nurse.a" not in wrong.value.message()
    failed = _actions(admin, Action.LOGIN_FAILED)
    # a made-up name is recorded only as a keyed hash (it may be a password typed in the wrong field)
    assert [(r.username, r.detail) for r in reversed(failed)] == [
        ("nurse.a", "wrong password"), (f"?{site.keyfile.account_tag('nobody.here')[:16]}", "no such account")]


def test_failed_attempts_before_the_database_is_open_are_audited_at_the_next_sign_in(
        db_path, site: Site, clock) -> None:
    site.close()
    reopened = Site.open(db_path, clock=clock)
    with pytest.raises(AuthenticationError):
        reopened.sign_in("admin", "wrong-wrong-wrong")
    assert reopened.store is None  # nothing could be written yet
    assert reopened.keyfile.pending_events  # noted, without any secret
    clock.advance(30)
    services = Workspace.sign_in(reopened, "admin", ADMIN_PW)
    records = list(reversed(services.integrity.audit_trail(limit=10)))
    failed = [r for r in records if r.action == "login_failed"]
    assert len(failed) == 1 and failed[0].ts_utc < records[-1].ts_utc
    assert not reopened.keyfile.pending_events
    reopened.close()


def test_progressive_delay_then_five_minute_lockout(site: Site, admin: Workspace, clock) -> None:
    password = make_user(admin, "dr.b", "investigator")
    clock.sleeps.clear()
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(AuthenticationError) as exc:
            site.sign_in("dr.b", "bad-password-x")
        assert exc.value.msg is Msg.BAD_CREDENTIALS
    with pytest.raises(AuthenticationError) as exc:
        site.sign_in("dr.b", "bad-password-x")
    assert exc.value.msg is Msg.ACCOUNT_LOCKED
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0]
    # Even the right password is refused while locked, with the time left.
    with pytest.raises(AuthenticationError) as exc:
        site.sign_in("dr.b", password)
    assert exc.value.msg is Msg.ACCOUNT_LOCKED and exc.value.params["minutes"] >= 1
    assert _actions(admin, Action.ACCOUNT_LOCKED)[0].username == "dr.b"
    # Other accounts are not affected.
    assert site.authenticate("admin", ADMIN_PW).username == "admin"
    clock.advance(LOCKOUT_SECONDS + 1)
    assert site.sign_in("dr.b", password).username == "dr.b"
    assert "dr.b" not in site.keyfile.attempts


def test_unknown_user_names_lock_out_too_so_lockout_reveals_nothing(site: Site) -> None:
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthenticationError):
            site.sign_in("ghost", "whatever-pass")
    with pytest.raises(AuthenticationError) as exc:
        site.sign_in("ghost", "whatever-pass")
    assert exc.value.msg is Msg.ACCOUNT_LOCKED


def test_messages_in_french(site: Site) -> None:
    with pytest.raises(AuthenticationError) as exc:
        site.sign_in("admin", "wrong-password")
    assert exc.value.message(Lang.FR).startswith("Échec de la connexion")


def test_password_policy_names_the_rule(admin: Workspace) -> None:
    with pytest.raises(ValidationError) as exc:
        admin.accounts.add_user("nurse.c", "Nurse C", "nurse", initial_password="short")
    assert exc.value.message() == "Password: must be at least 10 characters long."
    assert "10 caractères" in exc.value.message(Lang.FR)
    with pytest.raises(ValidationError) as exc:
        admin.accounts.add_user("nurse.c", "Nurse C", "nurse", initial_password="my-nurse.c-password")
    assert exc.value.msg is Msg.PASSWORD_SAME_AS_USER


def test_password_change_rewraps_one_slot(site: Site, admin: Workspace) -> None:
    password = make_user(admin, "nurse.d", "nurse")
    other_slot = site.keyfile.find("user", "admin")
    nurse = Workspace.sign_in(site, "nurse.d", password)
    with pytest.raises(AuthenticationError):
        nurse.accounts.change_password("wrong-current-pw", "a-brand-new-password")
    nurse.accounts.change_password(password, "a-brand-new-password")
    assert site.keyfile.find("user", "admin") == other_slot
    with pytest.raises(AuthenticationError):
        site.authenticate("nurse.d", password)
    assert site.authenticate("nurse.d", "a-brand-new-password").username == "nurse.d"
    assert _actions(admin, Action.PASSWORD_CHANGE)[0].item == "nurse.d"


def test_new_account_must_change_its_one_time_password_first(site: Site, admin: Workspace) -> None:
    one_time = admin.accounts.add_user("nurse.e", "Nurse E", "nurse").password
    nurse = Workspace.sign_in(site, "nurse.e", one_time)
    assert nurse.actor.must_change_password
    with pytest.raises(AuthenticationError) as exc:
        nurse.subjects.list()
    assert exc.value.msg is Msg.PASSWORD_CHANGE_REQUIRED
    nurse.accounts.change_password(one_time, "chosen-by-nurse-e")
    assert nurse.subjects.list() == []


def test_disabled_user_loses_its_slot_and_cannot_sign_in(site: Site, admin: Workspace) -> None:
    password = make_user(admin, "nurse.f", "nurse")
    with pytest.raises(ValidationError):
        admin.accounts.disable_user("nurse.f", reason="  ")
    admin.accounts.disable_user("nurse.f", reason="left the unit")
    assert site.keyfile.find("user", "nurse.f") is None
    assert "nurse.f" not in site.keyfile.path.read_text()
    with pytest.raises(AuthenticationError) as exc:
        site.sign_in("nurse.f", password)
    assert exc.value.msg is Msg.BAD_CREDENTIALS
    with pytest.raises(ValidationError) as last:
        admin.accounts.disable_user("admin", reason="x")
    assert last.value.msg is Msg.CANNOT_DISABLE_SELF


def test_recovery_code_resets_a_forgotten_password(db_path, site_and_code, clock) -> None:
    site, code = site_and_code
    site.close()
    fresh = Site.open(db_path, clock=clock)
    with pytest.raises(AuthenticationError) as exc:
        fresh.reset_with_recovery_code("AAAAA-BBBBB-CCCCC-DDDDD-EEEEE", "admin", "recovered-password")
    assert exc.value.msg is Msg.BAD_RECOVERY_CODE
    # Lower case and without dashes is accepted, as people type it.
    fresh.reset_with_recovery_code(code.lower().replace("-", " "), "admin", "recovered-password")
    with pytest.raises(AuthenticationError):
        fresh.authenticate("admin", ADMIN_PW)
    services = Workspace.sign_in(fresh, "admin", "recovered-password")
    actions = [r.action for r in services.integrity.audit_trail(limit=10)]
    assert "recovery_code_used" in actions and "password_reset" in actions
    fresh.close()


def test_lock_unlock_and_takeover(site: Site, admin: Workspace) -> None:
    password = make_user(admin, "dr.g", "investigator")
    admin.lock()
    with pytest.raises(AuthenticationError):
        admin.accounts.list_users()
    with pytest.raises(AuthenticationError):
        admin.unlock("wrong-password-z")
    admin.unlock(ADMIN_PW)
    assert admin.accounts.list_users()
    admin.lock()
    doctor = admin.switch_user("dr.g", password)
    assert doctor.actor.username == "dr.g" and admin.locked
    actions = [r.action for r in doctor.integrity.audit_trail(limit=10)]
    assert actions[:2] == ["login", "user_switch"] and "lock" in actions and "unlock" in actions
