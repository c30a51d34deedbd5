"""Issue 18, an insider's attacks on workstation packets (/tmp/atk: a1_handover.py, a2_fakews.py, t3.sh): a nurse who
holds WS-02's database and her own password writes records with the program's own code (signed as herself), or
relabels her copy with raw SQL, then sends a packet. Real files throughout: forks opened with ``workstation open``,
packets written and read back, ``verify`` run on the databases. Rules: docs/workstations.md ("Handovers and
workstations: who may say so")."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from msc_sle_crf import audit
from msc_sle_crf.audit import Action, AuditEntry
from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import CrfError
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.sync.service import Packets
from msc_sle_crf.sync.workstations import Workstations, open_fork

from .conftest import ADMIN_PW, make_user

DOCTOR_PW = "pw-house.rd-2026"
NURSE_PW = "pw-n.esrun-2026"


def _as(site: Site, user: str) -> Workspace:
    return Workspace.sign_in(site, user, {"dr.house": DOCTOR_PW, "nurse.n": NURSE_PW, "admin": ADMIN_PW}[user])


def _export(site: Site, out: Path) -> Path:
    ws = _as(site, "dr.house")
    result = Packets(ws.ctx, ws.study).export(out)
    assert result is not None
    return result.path


def _import(site: Site, path: Path, code: str | None = None) -> str:
    ws = _as(site, "dr.house")
    return Packets(ws.ctx, ws.study).import_file(path, code=code).line().get()


def _refusal(site: Site, path: Path) -> str:
    ws = _as(site, "dr.house")
    with pytest.raises(CrfError) as caught:
        Packets(ws.ctx, ws.study).import_file(path)
    line = str(caught.value)
    assert "\n" not in line and "Traceback" not in line
    return line


def _problems(site: Site) -> list[str]:
    report = _as(site, "admin").integrity.verify()
    assert report.audit.ok, report.audit.problem
    return [u.line() for u in report.unexplained]


def _forge(site: Site, user: str, entries: list[AuditEntry], sql: list[str]) -> None:
    """What the attacker ran: records signed as herself (her own key) plus raw SQL, in one transaction."""
    ws = _as(site, user)
    ctx = ws.ctx
    with ctx.store.write() as s:
        for q in sql:
            s.execute(text(q))
        audit.append_many(s, ctx.clock, ctx.site.workstation, entries, site.signer(user))


def _owner(site: Site, subject: str) -> str:
    return Workstations(_as(site, "dr.house").ctx).owner(subject)


@pytest.fixture
def two(tmp_path: Path, site: Site, admin: Workspace, clock: FakeClock) -> tuple[Site, Site]:
    """WS-01 (subject 01-001 registered there) and WS-02 opened from its real workstation file."""
    make_user(admin, "dr.house", "investigator", DOCTOR_PW)
    make_user(admin, "nurse.n", "nurse", NURSE_PW)
    _as(site, "dr.house").subjects.register("ABC", 1980, "F")
    added = Workstations(admin.ctx).add(admin, tmp_path / "WS-02.crfws")
    opened = open_fork(added.path, tmp_path / "ws2" / "ws2.crfdb", "admin", ADMIN_PW, clock=clock)
    return site, Site.open(opened.db_path, clock=clock)


def _relabel(site: Site, ws: str) -> None:
    with _as(site, "admin").ctx.store.write() as s:
        s.execute(text(f"update site_setting set value='{ws}' where key='workstation_id'"))
        s.execute(text(f"update site_setting set value='{int(ws[3:])}' where key='workstation_number'"))


# ----- A1: a handover by someone who may not, or on a workstation that does not own the subject --------------------
def test_a_nurse_handing_over_another_workstations_subject_is_refused_at_import_and_by_verify(
        tmp_path: Path, two: tuple[Site, Site]) -> None:
    ws1, ws2 = two
    _forge(ws2, "nurse.n", [AuditEntry(Action.SUBJECT_HANDOVER, "nurse.n", "nurse", subject="01-001", form="subject",
                                       old_value="WS-01", new_value="WS-02", reason="taking it")],
           ["update subject set owner_ws='WS-02' where subject_number='01-001'"])
    line = _refusal(ws1, _export(ws2, tmp_path / "usb"))
    assert "01-001" in line and "'nurse.n'" in line and "WS-02" in line and "may not hand" in line, line
    assert _owner(ws1, "01-001") == "WS-01" and _problems(ws1) == []
    # the forging database's own verify says it too
    assert any("01-001" in p and "subject_handover" in p and "nurse" in p for p in _problems(ws2)), _problems(ws2)


def test_an_investigator_handing_over_from_a_workstation_that_does_not_own_the_subject_is_refused(
        tmp_path: Path, two: tuple[Site, Site]) -> None:
    ws1, ws2 = two
    _forge(ws2, "dr.house", [AuditEntry(Action.SUBJECT_HANDOVER, "dr.house", "investigator", subject="01-001",
                                        form="subject", old_value="WS-01", new_value="WS-02", reason="taking it")],
           ["update subject set owner_ws='WS-02' where subject_number='01-001'"])
    line = _refusal(ws1, _export(ws2, tmp_path / "usb"))
    assert "01-001" in line and "'dr.house'" in line and "WS-01 owned the subject" in line, line
    assert _owner(ws1, "01-001") == "WS-01"
    assert any("WS-01 owned the subject" in p for p in _problems(ws2))


def test_a_real_handover_still_travels_and_verifies(tmp_path: Path, two: tuple[Site, Site]) -> None:
    ws1, ws2 = two
    Workstations(_as(ws1, "dr.house").ctx).handover("01-001", "WS-02", "moved to the day unit")
    assert "applied" in _import(ws2, _export(ws1, tmp_path / "usb1"))
    assert _owner(ws2, "01-001") == "WS-02" and _problems(ws2) == [] and _problems(ws1) == []
    # and the new owner may hand it back
    Workstations(_as(ws2, "admin").ctx).handover("01-001", "WS-01", "back home")
    assert "applied" in _import(ws1, _export(ws2, tmp_path / "usb2"))
    assert _owner(ws1, "01-001") == "WS-01" and _problems(ws1) == []


# ----- A2: a workstation nobody created --------------------------------------------------------------------------
def test_a_copy_relabelled_as_a_workstation_nobody_added_is_refused(tmp_path: Path, two: tuple[Site, Site]) -> None:
    ws1, ws2 = two
    _relabel(ws2, "WS-07")
    ws2.close()
    ws7 = Site.open(ws2.db_path, clock=ws1.clock)
    line = _refusal(ws1, _export(ws7, tmp_path / "usb"))
    assert "WS-07 was never added to this site (no workstation_add record" in line, line
    assert _problems(ws1) == []


# ----- T3: a relabelled copy claiming a workstation number first ---------------------------------------------------
def test_a_relabelled_copy_cannot_take_a_workstation_number_before_or_after_it_is_added(
        tmp_path: Path, two: tuple[Site, Site], clock: FakeClock) -> None:
    ws1, ws2 = two
    # WS-01's records up to WS-02's fork reach WS-02 (so its copy would continue them)
    _relabel(ws2, "WS-03")
    ws2.close()
    fake = Site.open(ws2.db_path, clock=clock)
    early = _export(fake, tmp_path / "early")
    assert "WS-03 was never added" in _refusal(ws1, early)  # before WS-03 exists
    admin = _as(ws1, "admin")
    added = Workstations(admin.ctx).add(admin, tmp_path / "WS-03.crfws")
    assert added.ws == "WS-03"
    # after the add, before the real WS-03 speaks: the copy does not present the file's one-time token
    line = _refusal(ws1, early)
    assert "WS-03" in line and "one-time token" in line, line
    real = Site.open(open_fork(added.path, tmp_path / "ws3" / "ws3.crfdb", "admin", ADMIN_PW, clock=clock).db_path,
                     clock=clock)
    with _as(real, "admin").ctx.read() as session:  # the token it presented is nowhere in clear in the file
        token = session.execute(text("select new_value from audit_event where action='workstation_open' and "
                                     "item='workstation_token'")).scalar_one()
    assert len(token) == 32 and token.encode() not in added.path.read_bytes()
    _as(real, "dr.house").subjects.register("DEF", 1970, "M")
    assert "packet 1 of WS-03 applied" in _import(ws1, _export(real, tmp_path / "real"))
    assert _problems(ws1) == []
    assert "WS-03" in _refusal(ws1, early)  # still refused (another opening than the site's WS-03)
