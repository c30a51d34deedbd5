"""Insider attack part B on the hub (PostgreSQL): ``hub ingest`` is the same packet import, so the subject number
taken from WS-01's block and the planted form definition are refused there too, and WS-01's packets still go in
(before: the hub applied the nurse's packet first and then refused WS-01's for good)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from msc_sle_crf.cli import main
from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import CrfError
from msc_sle_crf.formdef import load_study
from msc_sle_crf.hub.init import init_hub
from msc_sle_crf.hub.verify import verify_hub
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.sync.service import Packets
from msc_sle_crf.sync.workstations import Workstations, open_fork

from .conftest import ADMIN_PW, make_user
from .hub_pg import APP_ROLE, HubDb
from .test_atk_ws_definitions import _planted, _vitals
from .test_atk_ws_numbers import _register_forced
from .test_issue18_ws_attacks import DOCTOR_PW, NURSE_PW, _as, _export


def _setup(tmp_path: Path, site: Site, admin: Workspace, clock: FakeClock, hub_db: HubDb) -> tuple[Path, Site, Path]:
    """WS-01 (01-001, vital signs entered), WS-02 forked, then the hub made from WS-01."""
    make_user(admin, "dr.house", "investigator", DOCTOR_PW)
    make_user(admin, "nurse.n", "nurse", NURSE_PW)
    _vitals(_as(site, "nurse.n"), "37")
    added = Workstations(admin.ctx).add(admin, tmp_path / "WS-02.crfws")
    ws2 = Site.open(open_fork(added.path, tmp_path / "ws2" / "ws2.crfdb", "admin", ADMIN_PW, clock=clock).db_path,
                    clock=clock)
    db1 = site.db_path
    site.close()
    hub_dir = tmp_path / "hub"
    init_hub(hub_db.owner_dsn(), db1, "admin", ADMIN_PW, hub_dir, APP_ROLE, clock=clock)
    return db1, ws2, hub_dir / "hub.keys"


def _ingest(hub_db: HubDb, keys: Path, packet: Path, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str], secret_code: str | None = None) -> tuple[int, str]:
    monkeypatch.setenv("PGPASSWORD", hub_db.cluster.app_password)
    monkeypatch.setattr("sys.stdin", io.StringIO(DOCTOR_PW + "\n" + (f"{secret_code}\n" if secret_code else "")))
    code = main(["hub", "ingest", "--dsn", hub_db.app_dsn_no_password(), "--keys", str(keys), "--user", "dr.house",
                 "--password-stdin", *(["--code"] if secret_code else []), str(packet)])
    out, err = capsys.readouterr()
    return code, out + err


def test_the_hub_refuses_a_number_from_another_block_and_takes_the_rightful_packet(
        hub_db: HubDb, tmp_path: Path, site: Site, admin: Workspace, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    db1, ws2, keys = _setup(tmp_path, site, admin, clock, hub_db)
    assert _register_forced(ws2, "nurse.n", 2, monkeypatch) == "01-002"
    attack = _export(ws2, tmp_path / "usb2")
    with Site.open(db1, clock=clock) as ws1:
        assert _as(ws1, "dr.house").subjects.register("DEF", 1970, "M").subject.subject_number == "01-002"
        victim = _export(ws1, tmp_path / "usb1")
    code, said = _ingest(hub_db, keys, attack, monkeypatch, capsys)
    assert code != 0 and "01-002" in said and "WS-02" in said and "201-399" in said, said
    code, said = _ingest(hub_db, keys, victim, monkeypatch, capsys)
    assert code == 0, said
    report = verify_hub(hub_db.app_dsn(), keys)
    assert report.ok, (report.audit.problem, report.unexplained)


def test_the_hub_refuses_values_entered_under_a_planted_definition(
        hub_db: HubDb, tmp_path: Path, site: Site, admin: Workspace, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The hub runs no forms: the definition of vital_signs 1.1 it holds (copied from WS-01) decides."""
    _db1, ws2, keys = _setup(tmp_path, site, admin, clock, hub_db)
    planted = load_study(_planted(tmp_path))
    with pytest.raises(CrfError, match="vital_signs"):  # WS-02 recorded the real one: the program refuses these
        Workspace.sign_in(ws2, "nurse.n", NURSE_PW, study=planted)
    nurse = Workspace(ws2, ws2.sign_in("nurse.n", NURSE_PW), planted)  # she builds the services round that check
    _vitals(nurse, "95")
    result = Packets(nurse.ctx, nurse.study).export(tmp_path / "usb")
    assert result is not None
    code, said = _ingest(hub_db, keys, result.path, monkeypatch, capsys)
    assert code != 0 and "vital_signs" in said and "1.1" in said, said
    report = verify_hub(hub_db.app_dsn(), keys)
    assert report.ok, (report.audit.problem, report.unexplained)


def test_the_hub_refuses_a_disabled_nurses_copy_of_ws02_and_takes_the_real_one(
        hub_db: HubDb, tmp_path: Path, site: Site, admin: Workspace, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The disable reaches the hub as a copy in WS-01's packet; her copy of WS-02 then sends packet 1 of WS-02."""
    import shutil

    db1, ws2, keys = _setup(tmp_path, site, admin, clock, hub_db)
    folder, name = ws2.db_path.parent, ws2.db_path.name
    ws2.close()
    shutil.copytree(folder, tmp_path / "twin")
    twin = Site.open(tmp_path / "twin" / name, clock=clock)
    ws2 = Site.open(folder / name, clock=clock)
    clock.advance(3600)
    with Site.open(db1, clock=clock) as ws1:
        accounts = Workspace.sign_in(ws1, "admin", ADMIN_PW).accounts
        accounts.disable_user("nurse.n", "left the unit")
        secret_code = accounts.take_packet_code()  # the packet secret renewed (i18-secret): typed at the hub
        clock.advance(60)
        from_ws1 = _export(ws1, tmp_path / "usb1")
    code, said = _ingest(hub_db, keys, from_ws1, monkeypatch, capsys, secret_code)
    assert code == 0, said
    clock.advance(3600)
    _as(twin, "nurse.n").subjects.register("TWN", 1990, "F")
    forged = _export(twin, tmp_path / "twin-usb")
    _as(ws2, "dr.house").subjects.register("REA", 1970, "M")
    genuine = _export(ws2, tmp_path / "real-usb")
    code, said = _ingest(hub_db, keys, forged, monkeypatch, capsys)
    assert code != 0 and "nurse.n" in said and "disabled on WS-01" in said, said
    code, said = _ingest(hub_db, keys, genuine, monkeypatch, capsys)
    assert code == 0 and "applied" in said, said
    report = verify_hub(hub_db.app_dsn(), keys)
    assert report.ok, (report.audit.problem, report.unexplained)
