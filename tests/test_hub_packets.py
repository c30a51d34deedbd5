"""The hub receives real packets from two workstations (issue 18): ``hub ingest`` through the packet import, on a
real PostgreSQL server over TLS, as the application role.

Needs the packets (``msc_sle_crf.sync.service``, branch packets18) and the test helper that forks a workstation;
until both branches meet, this module is skipped for that reason (the hub's own tests are in test_hub_pg.py)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from msc_sle_crf.cli import main
from msc_sle_crf.clock import FakeClock
from msc_sle_crf.hub.init import init_hub
from msc_sle_crf.hub.verify import verify_hub
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.store.tables import FormInstance, ItemValue, Subject

from .conftest import ADMIN_PW, FAST_KDF, make_user
from .hub_pg import APP_ROLE, HubDb

service = pytest.importorskip("msc_sle_crf.sync.service", reason="the packets (branch packets18) are not here yet")
workstations = pytest.importorskip("tests.helpers.workstations", reason="the workstation fork helper is not here")

R1 = FormRef("01-001", "SCR", "renal_function")
R2 = FormRef("01-002", "SCR", "renal_function")
CREAT = ("lb", 0, "CREAT")
LBDAT = ("lb", 0, "LBDAT")
DOCTOR_PW = "quartz-meadow-71-dr"


def _open(db: Path, clock: FakeClock, user: str = "dr.a") -> tuple[Site, Workspace]:
    site = Site.open(db, clock=clock)
    return site, Workspace.sign_in(site, user, ADMIN_PW if user == "admin" else DOCTOR_PW)


def _change_and_export(db: Path, clock: FakeClock, ref: FormRef, value: str, outbox: Path) -> Path:
    site, ws = _open(db, clock)
    with site:
        ws.entry.save_values(ref, {CREAT: value}, reason="transcription error")
        result = service.Packets(ws.ctx, ws.study).export(outbox)
    assert result is not None
    return Path(result.path)


def _values(rows: list[Any]) -> dict[tuple[str, str], str]:
    return {(str(subject), str(item)): str(value) for subject, item, value in rows}


@pytest.mark.parametrize("rotated", [False, True], ids=["same keys", "keys rotated on both after hub init"])
def test_hub_ingest_applies_both_workstations_packets(hub_db: HubDb, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str], rotated: bool) -> None:
    clock = FakeClock()
    a_db = tmp_path / "a" / "trial.crfdb"
    site, admin_actor, _code = Site.initialize(a_db, admin_username="admin", admin_full_name="Ada Admin",
                                               admin_password=ADMIN_PW, kdf=FAST_KDF, clock=clock)
    with site:
        make_user(Workspace(site, admin_actor), "dr.a", "investigator", DOCTOR_PW)
        doctor = Workspace.sign_in(site, "dr.a", DOCTOR_PW)
        doctor.subjects.register("ABC", 1980, "F")
        doctor.subjects.register("DEF", 1975, "M")
        for ref in (R1, R2):
            doctor.entry.save_values(ref, {LBDAT: "20/11/2026", CREAT: "88"})
    b_db = tmp_path / "b" / "trial.crfdb"
    workstations.fork(a_db, b_db, 2, "admin", ADMIN_PW, clock)
    hub_dir = tmp_path / "hub"
    init_hub(hub_db.owner_dsn(), a_db, "admin", ADMIN_PW, hub_dir, APP_ROLE, clock=clock)
    keys = hub_dir / "hub.keys"
    codes: dict[Path, str] = {}
    if rotated:  # each rotation renews the site's packet secret (i18-secret): the hub takes it with its code
        for db in (b_db, a_db):
            site, admin = _open(db, clock, "admin")
            with site:
                admin.accounts.rotate_keys()
                codes[db] = admin.accounts.take_packet_code() or ""
    # both workstations work offline, then send their packets to the hub
    from_b = _change_and_export(b_db, clock, R2, "95", tmp_path / "outbox-b")
    from_a = _change_and_export(a_db, clock, R1, "91", tmp_path / "outbox-a")
    monkeypatch.setenv("PGPASSWORD", hub_db.cluster.app_password)

    def ingest(packets: list[Path], code: str | None = None) -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(DOCTOR_PW + "\n" + (f"{code}\n" if code else "")))
        status = main(["hub", "ingest", "--dsn", hub_db.app_dsn_no_password(), "--keys", str(keys), "--user", "dr.a",
                       "--password-stdin", *(["--code"] if code else []), *map(str, packets)])
        out, err = capsys.readouterr()
        return status, out, err

    if rotated:
        status, out, err = ingest([from_b])  # without the code: one line naming the workstation, nothing applied
        assert status != 0 and "WS-02" in err and "one-time code" in err and len(err.strip().splitlines()) == 1
        for db, packet in ((b_db, from_b), (a_db, from_a)):
            status, out, err = ingest([packet], codes[db])
            assert status == 0, err
        status, out, err = ingest([from_b])
        assert status == 0, err
    else:
        for packets in ([from_b, from_a], [from_b]):
            status, out, err = ingest(packets)
            assert status == 0, err
    assert "already imported: nothing changed" in out  # the same packet twice changes nothing
    report = verify_hub(hub_db.app_dsn(), keys)
    assert report.ok, (report.audit.problem, report.anchor_problems, report.unexplained, report.replay_problem)
    from msc_sle_crf.hub.store import HubStore

    with HubStore(hub_db.app_dsn()) as hub, hub.read() as s:
        rows = s.execute(select(Subject.subject_number, ItemValue.item_id, ItemValue.value)
                         .join(FormInstance, FormInstance.subject_id == Subject.id)
                         .join(ItemValue, ItemValue.instance_id == FormInstance.id)
                         .where(ItemValue.item_id == "CREAT")).all()
    assert _values(list(rows)) == {("01-001", "CREAT"): "91", ("01-002", "CREAT"): "95"}
