"""A disable made on one workstation stops the account on the others (issue 18).

Before: an account disabled by an administrator on WS-01 (a departing nurse, a stolen password) could still sign in on
WS-02 after WS-02 imported the packet carrying the disable, until an administrator disabled it on WS-02 too; the
import's line only said so. Now the imported disable (an administrator's record, signed as at origin, checked by the
import) refuses her on WS-02 everywhere a password opens a session (sign-in, lock screen, switch user, the bedside
second check), with the line of a local disable, counted and audited; her open session ends at its next action. An
"enable again" made at origin travels the same way (the latest by origin time holds), never over a disable made on
WS-02 itself; the hub refuses her too. Her key slot on WS-02 stays (an import re-keys nothing): the line tells the
administrator to disable her there to revoke it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select, text

from msc_sle_crf.audit import Action
from msc_sle_crf.errors import AuthenticationError, Msg
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.store.tables import AuditEvent
from msc_sle_crf.sync.service import ImportOutcome, Packets
from tests.conftest import ADMIN_PW

from .helpers.packets import CREAT, PW, R1, R2, Pair, make_pair

NEW_PW = "amber-willow-35-mm"  # monitor.m's password after an administrator gave her a one-time one


def _admin_on(pair: Pair, which: str, act: str, account: str = "monitor.m") -> str | None:
    """An administrator on workstation ``which`` disables or enables ``account``; the one-time password of an
    enable."""
    site = Site.open(pair.a_db if which == "A" else pair.b_db, clock=pair.clock)
    with site:
        accounts = Workspace.sign_in(site, "admin", ADMIN_PW).accounts
        issued = None
        if act == "disable":
            accounts.disable_user(account, "left the unit")
            pair.code = accounts.take_packet_code()  # the packet secret renewed: B types the code at the import
        else:
            issued = accounts.enable_user(account, "back on the ward").password
    pair.clock.advance(60)
    return issued


def _import_on_b(pair: Pair, packet: Path) -> ImportOutcome:
    site, ws = pair.open("B")
    with site:
        outcome = Packets(ws.ctx, ws.study).import_file(packet, code=pair.code)
    pair.clock.advance(60)
    return outcome


def _disabled_on_a_and_imported(pair: Pair, *accounts: str) -> ImportOutcome:
    for account in accounts:
        _admin_on(pair, "A", "disable", account)
    packet = pair.export("A")
    assert packet is not None
    return _import_on_b(pair, packet)


def _refused(call: object, *args: object) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


def _failures(site: Site, account: str) -> int:
    record = site.keyfile.attempts.get(site.keyfile.account_tag(account))
    return record.failures if record is not None else 0


def _trail(site: Site, action: Action) -> list[tuple[str | None, str | None]]:
    assert site.store is not None
    with site.store.read() as session:
        return [(u, d) for u, d in session.execute(select(AuditEvent.username, AuditEvent.detail)
                                                   .where(AuditEvent.action == action.value)
                                                   .order_by(AuditEvent.id)).all()]


def test_an_imported_disable_refuses_the_sign_in_with_a_local_disables_line_counted_and_audited(
        tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    outcome = _disabled_on_a_and_imported(pair, "monitor.m")
    line = outcome.line()
    assert ("monitor.m was disabled on WS-01: the account can no longer sign in on this workstation" in line.en)
    assert "monitor.m a été désactivé sur le poste WS-01 : le compte ne peut plus se connecter sur ce poste" in line.fr
    assert "can still sign in" not in line.en
    # her key to this database stays until an administrator disables her here: the line says so
    assert "disable the account here too" in line.en and "désactiver le compte ici aussi" in line.fr
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:
        Workspace.sign_in(site, "dr.a", PW["dr.a"])  # someone else still signs in
        refused = _refused(site.sign_in, "monitor.m", PW["monitor.m"])
        assert refused.msg is Msg.BAD_CREDENTIALS  # the line a locally disabled account gets
        assert _failures(site, "monitor.m") == 1  # a failed attempt, as for a wrong password
        assert ("monitor.m", "account disabled on another workstation") in _trail(site, Action.LOGIN_FAILED)
        assert "monitor.m" not in [u for u, _d in _trail(site, Action.LOGIN)]
        # the account is still hers here (the import re-keys nothing): an administrator can disable it here too
        admin = Workspace.sign_in(site, "admin", ADMIN_PW)
        users = {u.username: u for u in admin.accounts.list_users()}
        assert users["monitor.m"].has_key_slot and users["monitor.m"].disabled_on == "WS-01"
        from msc_sle_crf.ui.accounts import state_text

        assert state_text(users["monitor.m"]).startswith("Disabled on WS-01 (cannot sign in here")
        admin.accounts.disable_user("monitor.m", "left the unit")
        assert not {u.username: u for u in admin.accounts.list_users()}["monitor.m"].active


def test_switch_user_and_the_bedside_second_check_refuse_her_too(tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:
        subject = Workspace.sign_in(site, "dr.a", PW["dr.a"]).subjects.register("XYZ", 1985, "F").subject.subject_number
    pair.clock.advance(60)
    _disabled_on_a_and_imported(pair, "monitor.m", "nurse.n")
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:
        doctor = Workspace.sign_in(site, "dr.a", PW["dr.a"])
        other = Workspace.sign_in(site, "admin", ADMIN_PW)
        other.lock()
        assert _refused(other.switch_user, "monitor.m", PW["monitor.m"]).msg is Msg.BAD_CREDENTIALS
        doctor.bedside.product_check(subject, identity_confirmed=True, weight_kg="62,5", cohort="2", bag_id="UC-1",
                                     lot="L1", labelled_cells_e6="130", use_by="25/11/2026 18:00",
                                     premedication="none")
        assert _refused(doctor.bedside.second_check, subject, "nurse.n", PW["nurse.n"]).msg is Msg.BAD_CREDENTIALS
        assert _failures(site, "monitor.m") == 1 and _failures(site, "nurse.n") == 1
        refusals = _trail(site, Action.LOGIN_FAILED)
        assert ("monitor.m", "account disabled on another workstation") in refusals
        assert ("nurse.n", "account disabled on another workstation") in refusals


def test_her_locked_screen_does_not_open_again(tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    _admin_on(pair, "A", "disable")
    packet = pair.export("A")
    assert packet is not None
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:
        monitor = Workspace.sign_in(site, "monitor.m", PW["monitor.m"])
        monitor.lock()
        doctor = Workspace.sign_in(site, "dr.a", PW["dr.a"])
        Packets(doctor.ctx, doctor.study).import_file(packet, code=pair.code)
        assert _refused(monitor.unlock, PW["monitor.m"]).msg is Msg.BAD_CREDENTIALS
        assert monitor.locked
        assert _failures(site, "monitor.m") == 1


def test_her_open_session_ends_at_its_next_action(tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    _admin_on(pair, "A", "disable")
    packet = pair.export("A")
    assert packet is not None
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:
        monitor = Workspace.sign_in(site, "monitor.m", PW["monitor.m"])
        assert monitor.subjects.list()  # she works
        doctor = Workspace.sign_in(site, "dr.a", PW["dr.a"])
        Packets(doctor.ctx, doctor.study).import_file(packet, code=pair.code)
        refused = _refused(monitor.subjects.list)
        assert refused.msg is Msg.ACCOUNT_DISABLED
        assert refused.message() == "Your account has been disabled: this session has ended."
        assert _refused(monitor.monitoring.open_query, R1, CREAT, "source?").msg is Msg.ACCOUNT_DISABLED
        assert ("monitor.m", "session ended: the account was disabled") in _trail(site, Action.ACCESS_DENIED)
        assert doctor.subjects.list()  # the others go on


def test_an_enable_made_at_origin_travels_and_her_work_there_is_accepted_back(tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    _disabled_on_a_and_imported(pair, "monitor.m")
    _admin_on(pair, "A", "enable")
    packet = pair.export("A")
    assert packet is not None
    line = _import_on_b(pair, packet).line()
    assert "monitor.m was enabled again on WS-01: the account can sign in on this workstation again" in line.en
    assert "monitor.m a été réactivé sur le poste WS-01 : le compte peut de nouveau se connecter sur ce poste" \
        in line.fr
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:  # with her password of this workstation (the one-time password was made on WS-01 only)
        monitor = Workspace.sign_in(site, "monitor.m", PW["monitor.m"])
        monitor.monitoring.open_query(R1, CREAT, "Please check the source document.")
    back = pair.export("B")
    assert back is not None
    pair.clock.advance(60)
    result = pair.import_("A", back)  # WS-01 takes her work on WS-02 after the enable reached it
    assert result.copied > 0
    # and her later work too, now that WS-01 knows (from WS-02's import records) when WS-02 had her disabled
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:
        monitor = Workspace.sign_in(site, "monitor.m", PW["monitor.m"])
        monitor.monitoring.open_query(R2, CREAT, "Please check this one too.")
    pair.clock.advance(60)
    later = pair.export("B")
    assert later is not None
    assert pair.import_("A", later).copied > 0
    for which in ("A", "B"):  # and both trails verify in full
        site, ws = pair.open(which, "admin")
        with site:
            report = ws.integrity.verify(full=True)
        assert report.audit.ok and not report.unexplained, (which, report.audit.problem)


def test_the_latest_act_by_origin_time_holds(tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    _admin_on(pair, "A", "disable")
    _admin_on(pair, "A", "enable")  # both in one packet: the enable is the later
    packet = pair.export("A")
    assert packet is not None
    _import_on_b(pair, packet)
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:
        Workspace.sign_in(site, "monitor.m", PW["monitor.m"])
    _admin_on(pair, "A", "disable")  # and again: now the disable is the later
    packet = pair.export("A")
    assert packet is not None
    _import_on_b(pair, packet)
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:
        Workspace.sign_in(site, "dr.a", PW["dr.a"])
        _refused(site.sign_in, "monitor.m", PW["monitor.m"])


def test_a_local_disable_is_not_lifted_by_an_enable_from_elsewhere(tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    _admin_on(pair, "B", "disable")  # WS-02's own decision
    _admin_on(pair, "A", "disable")
    _admin_on(pair, "A", "enable")  # later than WS-02's disable
    packet = pair.export("A")
    assert packet is not None
    line = _import_on_b(pair, packet).line()
    assert "can sign in on this workstation again" not in line.en  # nothing changes for her here
    assert "monitor.m was enabled again on WS-01 but stays disabled on this workstation" in line.en  # and it says so
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:
        admin = Workspace.sign_in(site, "admin", ADMIN_PW)
        assert not {u.username: u for u in admin.accounts.list_users()}["monitor.m"].active
        # only a local enable lifts it
        password = admin.accounts.enable_user("monitor.m", "back on the ward").password
        Workspace.sign_in(site, "monitor.m", password)


def test_a_local_enable_lifts_a_disable_made_elsewhere(tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    _disabled_on_a_and_imported(pair, "monitor.m")
    password = _admin_on(pair, "B", "enable")  # she works on WS-02's ward from now on
    assert password is not None
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:
        _refused(site.sign_in, "monitor.m", PW["monitor.m"])  # her old password was replaced
        Workspace.sign_in(site, "monitor.m", password)


def test_the_sign_in_lookup_is_indexed_not_a_trail_scan(tmp_path: Path) -> None:
    """Sign-in stays constant-time in the database's size (issue 13): the look-up of disables made elsewhere reads
    the account's records through the trail's index."""
    from msc_sle_crf.store.account_state import LOOKUP_SQL

    pair = make_pair(tmp_path)
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:
        Workspace.sign_in(site, "dr.a", PW["dr.a"])
        assert site.store is not None
        with site.store.read() as session:
            plan = " ".join(str(r[-1]) for r in session.execute(text("EXPLAIN QUERY PLAN " + LOOKUP_SQL),
                                                                 {"account": "monitor.m"}).all())
    assert "USING INDEX" in plan and "SCAN audit_event" not in plan, plan


def test_the_hub_refuses_an_account_disabled_on_a_workstation(hub_db: object, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from msc_sle_crf.cli import main
    from msc_sle_crf.hub.init import init_hub
    from msc_sle_crf.hub.session import open_hub

    from .hub_pg import APP_ROLE, HubDb

    assert isinstance(hub_db, HubDb)
    pair = make_pair(tmp_path)
    hub_dir = tmp_path / "hub"
    init_hub(hub_db.owner_dsn(), pair.a_db, "admin", ADMIN_PW, hub_dir, APP_ROLE, clock=pair.clock)
    keys = hub_dir / "hub.keys"
    with open_hub(hub_db.app_dsn(), keys, "monitor.m", PW["monitor.m"], clock=pair.clock):
        pass  # before: she signs in at the hub
    _admin_on(pair, "A", "disable")
    packet = pair.export("A")
    assert packet is not None
    monkeypatch.setenv("PGPASSWORD", hub_db.cluster.app_password)
    monkeypatch.setattr("sys.stdin", io.StringIO(PW["dr.a"] + "\n" + f"{pair.code}\n"))
    code = main(["hub", "ingest", "--dsn", hub_db.app_dsn_no_password(), "--keys", str(keys), "--user", "dr.a",
                 "--password-stdin", "--code", str(packet)])
    assert code == 0, capsys.readouterr().err
    refused = _refused(open_hub, hub_db.app_dsn(), keys, "monitor.m", PW["monitor.m"])
    assert refused.msg is Msg.BAD_CREDENTIALS
    with open_hub(hub_db.app_dsn(), keys, "dr.a", PW["dr.a"], clock=pair.clock):
        pass  # the others still do


def test_a_disable_made_elsewhere_does_not_lock_out_this_workstations_last_administrator(tmp_path: Path) -> None:
    """The rule a local disable follows (the last administrator cannot be disabled): WS-01's new administrator
    disables 'admin', the only administrator WS-02 has; WS-02 keeps her (else nobody could administer it, not even
    with the recovery code), and the import's line says why and what to do."""
    pair = make_pair(tmp_path)
    site = Site.open(pair.a_db, clock=pair.clock)
    with site:
        admin = Workspace.sign_in(site, "admin", ADMIN_PW)
        boss_pw = admin.accounts.add_user("boss", "Bea Boss", "admin").password
        boss = Workspace.sign_in(site, "boss", boss_pw)
        boss.accounts.change_password(boss_pw, "granite-falcon-19-bb")
        boss.accounts.disable_user("admin", "left the unit")
        pair.code = boss.accounts.take_packet_code()
    pair.clock.advance(60)
    packet = pair.export("A")
    assert packet is not None
    line = _import_on_b(pair, packet).line()
    assert "admin was disabled on WS-01 but can still sign in on this workstation: it is its last administrator" \
        in line.en, line.en
    assert "admin a été désactivé sur le poste WS-01 mais peut encore se connecter sur ce poste : c'est son dernier " \
        "administrateur" in line.fr, line.fr
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:
        admin = Workspace.sign_in(site, "admin", ADMIN_PW)
        # as the line says: another administrator here (her one-time password is shown: the session goes on) ...
        new_pw = admin.accounts.add_user("chief", "Cho Chief", "admin").password
        assert admin.accounts.list_users()
        chief = Workspace.sign_in(site, "chief", new_pw)
        chief.accounts.change_password(new_pw, "silver-otter-27-cc")
        # ... and once she has chosen her password, WS-01's disable holds here too
        assert _refused(admin.accounts.list_users).msg is Msg.ACCOUNT_DISABLED
        assert _refused(site.sign_in, "admin", ADMIN_PW).msg is Msg.BAD_CREDENTIALS
        chief.accounts.disable_user("admin", "left the unit")  # which revokes her key here


def test_an_enable_made_here_lifts_a_disable_already_here_even_from_a_clock_ahead(tmp_path: Path) -> None:
    """WS-01's clock was a day ahead when it disabled her: WS-02's administrator, who had that disable in front of
    him when he enabled her here, decided later; his enable holds (a disable arriving after it is ordered by time)."""
    pair = make_pair(tmp_path)
    pair.clock.advance(86_400)
    _admin_on(pair, "A", "disable")
    packet = pair.export("A")
    assert packet is not None
    pair.clock.advance(-86_400)
    _import_on_b(pair, packet)
    password = _admin_on(pair, "B", "enable")
    assert password is not None
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:
        Workspace.sign_in(site, "monitor.m", password)


def test_user_list_names_the_workstation_that_disabled_her(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from msc_sle_crf.cli import main

    pair = make_pair(tmp_path)
    _disabled_on_a_and_imported(pair, "monitor.m")
    monkeypatch.setattr("sys.stdin", io.StringIO(ADMIN_PW + "\n"))
    assert main(["user", "list", "--db", str(pair.b_db), "--user", "admin", "--password-stdin"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("monitor.m"))
    assert "(disabled on WS-01: cannot sign in here)" in line, line
