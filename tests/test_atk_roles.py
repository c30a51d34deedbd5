"""Insider attack report, findings 1 (A8: a record's role) and 7 (T1: a disable judged at the record's time, as its
workstation knew it). Real site files, real packets, the real ``verify``."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest

from msc_sle_crf import audit
from msc_sle_crf.access import Role
from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import AuthenticationError
from msc_sle_crf.i18n import Lang
from msc_sle_crf.security.keyslots import KIND_USER, normalize_secret
from msc_sle_crf.security.personal import Signer
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.sync import packets as P

from .atk_common import as_user, export, forced, hub_refusal, import_line, problems, refusal, two_sites, unchanged
from .hub_pg import HubDb
from .test_issue18_ws_followups import NURSE_PW, _Sites

VITALS = FormRef("01-001", "SCR", "renal_function")


def _audit_problem(sites: _Sites, which: str) -> str | None:
    site, ws = sites.open(which, "admin")
    with site:
        report = ws.integrity.verify(full=True)
    return None if report.audit.ok else f"#{report.audit.first_bad_id}: {report.audit.problem}"


def test_a_nurse_writing_as_an_investigator_is_named_by_verify_and_refused_by_the_import(
        tmp_path: Path, clock: FakeClock) -> None:
    """Before: her role raised in memory (the program's own code), her records said 'investigator'; verify exit 0
    on both workstations and the packet was applied."""
    sites = _Sites(tmp_path, clock)
    site, nurse = sites.open("B", "nurse.joy")
    with site:
        nurse.ctx.actor = dataclasses.replace(nurse.ctx.actor, role=Role.INVESTIGATOR)
        nurse.entry.save_values(VITALS, {("lb", 0, "CREAT"): "91"})
    problem = _audit_problem(sites, "B")
    assert problem is not None and "in the name of 'nurse.joy' as 'investigator'" in problem \
        and "role 'nurse'" in problem, problem
    with pytest.raises(P.PacketRefused) as refused:
        sites.send("B", "A")
    en, fr = refused.value.message(Lang.EN), refused.value.message(Lang.FR)
    assert "\n" not in en and "'nurse.joy' as 'investigator'" in en and "role 'nurse'" in en, en
    assert "record #" in en and "l'enregistrement n°" in fr and "« investigator »" in fr and "« nurse »" in fr, fr
    assert _audit_problem(sites, "A") is None  # nothing applied


@pytest.mark.parametrize("action", ["sign", "source_verified"])
def test_a_signature_or_sdv_mark_by_a_role_that_may_not_is_named_and_refused(
        tmp_path: Path, clock: FakeClock, action: str) -> None:
    """Her true role on the record, but a nurse may neither e-sign nor verify source data (access.py)."""
    sites = _Sites(tmp_path, clock)
    site, _nurse = sites.open("B", "nurse.joy")
    with site, site.store.write() as session:  # type: ignore[union-attr]
        entry = audit.AuditEntry(audit.Action(action), "nurse.joy", "nurse", subject="01-001", visit="SCR",
                                 form="renal_function", detail="meaning: approval; sha256: " + "0" * 64)
        audit.append_many(session, clock, site.workstation, [entry], site.signer("nurse.joy"))
    problem = _audit_problem(sites, "B")
    assert problem is not None and f"({action}) is by 'nurse.joy', whose role 'nurse' may not" in problem, problem
    with pytest.raises(P.PacketRefused) as refused:
        sites.send("B", "A")
    line = refused.value.message(Lang.EN)
    assert f"({action}) is by 'nurse.joy', whose role 'nurse' may not do that" in line, line


def test_the_right_roles_still_sign_and_verify_across_workstations(tmp_path: Path, clock: FakeClock) -> None:
    sites = _Sites(tmp_path, clock)
    site, doctor = sites.open("B", "dr.house")
    with site:
        doctor.entry.save_values(VITALS, {("lb", 0, "CREAT"): "91"})
        doctor.entry.mark_complete(VITALS)
        doctor.lifecycle.sign(VITALS, "dr.house", sites.pws["dr.house"], "approval")
    assert sites.send("B", "A").copied > 0
    sites.verify("A")
    sites.verify("B")


@pytest.mark.parametrize("told_back", [False, True], ids=["her record in the packet of the import",
                                                         "WS-02's import reached WS-01 in an earlier packet"])
def test_a_disable_on_ws01_does_not_refuse_older_ws02_records_but_refuses_those_after_ws02_learnt_it(
        tmp_path: Path, clock: FakeClock, told_back: bool) -> None:
    """T1. Before: 'signed by nurse.joy, whose account was disabled earlier in the trail' for her password change
    made on WS-02 before WS-01's administrator disabled her: every later WS-02 packet was then a gap."""
    sites = _Sites(tmp_path, clock)
    site, nurse = sites.open("B", "nurse.joy")
    with site:
        nurse.accounts.change_password(NURSE_PW, "pw-new.joy-2027!x")
    sites.pws["nurse.joy"] = "pw-new.joy-2027!x"
    clock.advance(60)
    site, admin = sites.open("A", "admin")
    with site:
        admin.accounts.disable_user("nurse.joy", "left the unit")
        sites.code = admin.accounts.take_packet_code()  # WS-02 types it at the import (i18-secret)
    clock.advance(60)
    assert sites.send("B", "A").copied > 0  # her record is older than the disable, and WS-02 had not heard of it
    sites.verify("A")
    site = Site.open(sites.dbs["A"], clock=clock)
    with site, pytest.raises(AuthenticationError):  # still no session for her where she was disabled
        Workspace.sign_in(site, "nurse.joy", NURSE_PW)
    # WS-02 imports the disable; a record by her on WS-02 after that is refused by WS-01
    clock.advance(60)
    sites.send("A", "B")
    clock.advance(60)
    if told_back:  # WS-02 reports its import (no record of hers): accepted; WS-01 now knows WS-02 knew
        sites.send("B", "A")
        clock.advance(60)
    site = Site.open(sites.dbs["B"], clock=clock)
    with site:  # WS-02 refuses her sign-in now (issue 18: test_issue18_disable_travels.py)...
        Workspace.sign_in(site, "admin", sites.pws["admin"])
        with pytest.raises(AuthenticationError):
            Workspace.sign_in(site, "nurse.joy", sites.pws["nurse.joy"])
        # ... but an insider holding her password writes with the program's own code past the sign-in
        unlocked = site.keyfile.unlock(KIND_USER, "nurse.joy", normalize_secret(sites.pws["nurse.joy"]))
        assert unlocked is not None and unlocked.keys is not None and site.store is not None
        with site.store.write() as session:
            audit.append_many(session, clock, site.workstation, [audit.AuditEntry(
                audit.Action.LOGIN, "nurse.joy", "nurse")], Signer("nurse.joy", unlocked.keys))
    with pytest.raises(P.PacketRefused) as refused:
        sites.send("B", "A")
    line = refused.value.message(Lang.EN)
    assert "'nurse.joy', whose account WS-02 already had as disabled when it wrote this record" in line, line


def test_the_hub_refuses_a_packet_with_a_raised_role(hub_db: HubDb, tmp_path: Path, clock: FakeClock,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The same check on the hub's ingest (the same import), and the hub's verify stays clean."""
    from msc_sle_crf.cli import main
    from msc_sle_crf.hub.init import init_hub
    from msc_sle_crf.hub.verify import verify_hub
    from msc_sle_crf.sync.service import Packets

    from .conftest import ADMIN_PW
    from .hub_pg import APP_ROLE

    sites = _Sites(tmp_path, clock)
    hub_dir = tmp_path / "hub"
    init_hub(hub_db.owner_dsn(), sites.dbs["A"], "admin", ADMIN_PW, hub_dir, APP_ROLE, clock=clock)
    site, nurse = sites.open("B", "nurse.joy")
    with site:
        nurse.ctx.actor = dataclasses.replace(nurse.ctx.actor, role=Role.INVESTIGATOR)
        nurse.subjects.register("MON", 1970, "M")
    site, admin = sites.open("B", "admin")
    with site:
        result = Packets(admin.ctx, admin.study).export(tmp_path / "outbox")
    assert result is not None
    monkeypatch.setenv("PGPASSWORD", hub_db.cluster.app_password)
    monkeypatch.setattr("sys.stdin", io.StringIO(ADMIN_PW + "\n"))
    code = main(["hub", "ingest", "--dsn", hub_db.app_dsn_no_password(), "--keys", str(hub_dir / "hub.keys"),
                 "--user", "admin", "--password-stdin", str(result.path)])
    _out, err = capsys.readouterr()
    assert code != 0 and "'nurse.joy' as 'investigator'" in err and "role 'nurse'" in err, err
    report = verify_hub(hub_db.app_dsn(), hub_dir / "hub.keys")
    assert report.ok, (report.audit.problem, report.unexplained)


# ----- issue 18 insider round, part A (1): every action a permission governs, not only sign / SDV ----------------
# The nurse runs the program's own services on her copy of WS-02 with every permission check forced open (a value
# on a clinical form, a query raised, a monitor's query closed; a monitor answering for the site) and sends the
# packet: WS-01 refuses it whole with one line naming the record, the account, its role and the action, and
# ``verify`` on the forging copy names the same record (``audit.needed_perm``: access.py's permissions, the form's
# entry kind from the study).

DATA_TABLES = ("subject", "form_instance", "item_value", "data_query", "query_message", "signature")


@pytest.fixture
def two(tmp_path: Path, site: Site, admin: Workspace, clock: FakeClock) -> tuple[Site, Site]:
    ws1, ws2 = two_sites(tmp_path, site, admin, clock)
    as_user(ws2, "dr.house").subjects.register("DEF", 1975, "M")
    return ws1, ws2


def _subject(ws2: Site) -> str:
    return str(as_user(ws2, "dr.house").subjects.list()[-1].subject_number)


def _refused_everywhere(tmp_path: Path, ws1: Site, ws2: Site, account: str, role: str, action: str) -> None:
    with unchanged(ws1, *DATA_TABLES):
        line = refusal(ws1, export(ws2, tmp_path / "usb"))
    assert f"'{account}'" in line and f"'{role}' may not do that" in line and action in line, line
    found = problems(ws2)
    assert any(f"'{account}'" in p and f"'{role}' may not do that" in p and action in p for p in found), found


def test_a_nurse_entering_a_value_on_a_clinical_form_is_refused(tmp_path: Path, two: tuple[Site, Site]) -> None:
    ws1, ws2 = two
    subject = _subject(ws2)
    forced(ws2, "nurse.n").entry.save_item(FormRef(subject, "SCR", "demographics"), ("dm", 0, "HEIGHT"), "170")
    _refused_everywhere(tmp_path, ws1, ws2, "nurse.n", "nurse", "create")  # the form's creation is hers too


def test_a_nurse_raising_a_query_is_refused(tmp_path: Path, two: tuple[Site, Site]) -> None:
    ws1, ws2 = two
    subject = _subject(ws2)
    ref = FormRef(subject, "SCR", "demographics")
    as_user(ws2, "dr.house").entry.save_item(ref, ("dm", 0, "HEIGHT"), "170")
    forced(ws2, "nurse.n").monitoring.open_query(ref, ("dm", 0, "HEIGHT"), "is it?")
    _refused_everywhere(tmp_path, ws1, ws2, "nurse.n", "nurse", "query")


def test_a_nurse_closing_a_monitors_query_is_refused(tmp_path: Path, two: tuple[Site, Site]) -> None:
    ws1, ws2 = two
    subject = _subject(ws2)
    ref = FormRef(subject, "SCR", "demographics")
    as_user(ws2, "dr.house").entry.save_item(ref, ("dm", 0, "HEIGHT"), "170")
    opened = as_user(ws2, "mon.m").monitoring.open_query(ref, ("dm", 0, "HEIGHT"), "170 cm?")
    forced(ws2, "nurse.n").monitoring.close(opened.query_id, "fine")
    _refused_everywhere(tmp_path, ws1, ws2, "nurse.n", "nurse", "query")


def test_a_monitor_answering_a_query_on_a_clinical_form_is_refused(tmp_path: Path, two: tuple[Site, Site]) -> None:
    ws1, ws2 = two
    subject = _subject(ws2)
    ref = FormRef(subject, "SCR", "demographics")
    as_user(ws2, "dr.house").entry.save_item(ref, ("dm", 0, "HEIGHT"), "170")
    opened = as_user(ws2, "mon.m").monitoring.open_query(ref, ("dm", 0, "HEIGHT"), "170 cm?")
    forced(ws2, "mon.m").monitoring.answer(opened.query_id, "yes it is")
    _refused_everywhere(tmp_path, ws1, ws2, "mon.m", "monitor", "query")


def test_what_each_role_may_do_still_travels_and_verifies(tmp_path: Path, two: tuple[Site, Site]) -> None:
    ws1, ws2 = two
    subject = _subject(ws2)
    ref = FormRef(subject, "SCR", "demographics")
    as_user(ws2, "dr.house").entry.save_item(ref, ("dm", 0, "HEIGHT"), "170")
    nurse = as_user(ws2, "nurse.n").entry
    vitals = FormRef(subject, "D0", "vital_signs")
    nurse.save_item(vitals, ("vs", nurse.add_row(vitals, "vs").row, "VSTEMP"), "37")
    opened = as_user(ws2, "mon.m").monitoring.open_query(ref, ("dm", 0, "HEIGHT"), "170 cm?")
    as_user(ws2, "dr.house").monitoring.answer(opened.query_id, "yes")
    as_user(ws2, "mon.m").monitoring.close(opened.query_id, "thanks")
    assert "applied" in import_line(ws1, export(ws2, tmp_path / "usb"))
    assert problems(ws1) == [] and problems(ws2) == []


def test_the_hub_refuses_a_query_closed_by_a_nurse(hub_db: HubDb, tmp_path: Path, two: tuple[Site, Site],
                                                   clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    ws1, ws2 = two
    ref = FormRef(_subject(ws2), "SCR", "demographics")
    as_user(ws2, "dr.house").entry.save_item(ref, ("dm", 0, "HEIGHT"), "170")
    opened = as_user(ws2, "mon.m").monitoring.open_query(ref, ("dm", 0, "HEIGHT"), "170 cm?")
    forced(ws2, "nurse.n").monitoring.close(opened.query_id, "fine")
    packet = export(ws2, tmp_path / "usb")
    ws1.close()
    err = hub_refusal(hub_db, ws1, packet, tmp_path, clock, monkeypatch, capsys)
    assert "(query) is by 'nurse.n', whose role 'nurse' may not do that" in err, err
