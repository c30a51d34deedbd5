"""h79 at the hub: B removes a reading of a vital-signs form while A, not having seen it, signs that form; the hub
ingests both packets (either order) and ends with the less advanced state, its trail verifying clean (real PostgreSQL:
set MSC_SLE_CRF_REQUIRE_PG=1 so a missing server fails instead of skipping)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from msc_sle_crf.cli import main
from msc_sle_crf.clock import FakeClock
from msc_sle_crf.hub.init import init_hub
from msc_sle_crf.hub.verify import verify_hub
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.store.tables import FormInstance, FormRow, Subject
from msc_sle_crf.sync import service
from tests.helpers import workstations

from .conftest import ADMIN_PW, FAST_KDF, make_user
from .hub_pg import APP_ROLE, HubDb

VS = FormRef("01-001", "D0", "vital_signs")
READING = {"VSTIM": "08:00", "VSTEMP": "37.0", "VSHR": "70", "VSSYSBP": "120", "VSDIABP": "80", "VSSPO2": "98"}
DOCTOR_PW = "quartz-meadow-71-dr"


def _open(db: Path, clock: FakeClock) -> tuple[Site, Workspace]:
    site = Site.open(db, clock=clock)
    return site, Workspace.sign_in(site, "dr.a", DOCTOR_PW)


def _export(ws: Workspace, outbox: Path) -> Path:
    result = service.Packets(ws.ctx, ws.study).export(outbox)
    assert result is not None
    return Path(result.path)


@pytest.mark.parametrize("first", ["A", "B"])
def test_the_hub_keeps_the_less_advanced_state_over_a_row_removed_elsewhere(
        hub_db: HubDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        first: str) -> None:
    clock = FakeClock()
    a_db = tmp_path / "a" / "trial.crfdb"
    site, admin_actor, _code = Site.initialize(a_db, admin_username="admin", admin_full_name="Ada Admin",
                                               admin_password=ADMIN_PW, kdf=FAST_KDF, clock=clock)
    with site:
        make_user(Workspace(site, admin_actor), "dr.a", "investigator", DOCTOR_PW)
        doctor = Workspace.sign_in(site, "dr.a", DOCTOR_PW)
        doctor.subjects.register("ABC", 1980, "F")
        for row in (1, 2):
            assert doctor.entry.add_row(VS, "vs").row == row
            doctor.entry.save_values(VS, {("vs", row, item): text for item, text in READING.items()})
        doctor.entry.mark_complete(VS)
    b_db = tmp_path / "b" / "trial.crfdb"
    workstations.fork(a_db, b_db, 2, "admin", ADMIN_PW, clock)
    hub_dir = tmp_path / "hub"
    init_hub(hub_db.owner_dsn(), a_db, "admin", ADMIN_PW, hub_dir, APP_ROLE, clock=clock)
    keys = hub_dir / "hub.keys"
    clock.advance(60)
    site, ws = _open(b_db, clock)
    with site:
        ws.entry.remove_row(VS, "vs", 2, reason="added twice")
        from_b = _export(ws, tmp_path / "outbox-b")
    clock.advance(60)
    site, ws = _open(a_db, clock)
    with site:
        ws.lifecycle.sign(VS, "dr.a", DOCTOR_PW, "approval")
        from_a = _export(ws, tmp_path / "outbox-a")
    monkeypatch.setenv("PGPASSWORD", hub_db.cluster.app_password)
    for packet in ([from_a, from_b] if first == "A" else [from_b, from_a]):
        monkeypatch.setattr("sys.stdin", io.StringIO(DOCTOR_PW + "\n"))
        status = main(["hub", "ingest", "--dsn", hub_db.app_dsn_no_password(), "--keys", str(keys), "--user", "dr.a",
                       "--password-stdin", str(packet)])
        _out, err = capsys.readouterr()
        assert status == 0, err
    report = verify_hub(hub_db.app_dsn(), keys)
    assert report.ok, (report.audit.problem, report.anchor_problems, report.unexplained, report.replay_problem)
    from msc_sle_crf.hub.store import HubStore

    with HubStore(hub_db.app_dsn()) as hub, hub.read() as s:
        status_row = s.execute(select(FormInstance.status, FormInstance.id).join(
            Subject, FormInstance.subject_id == Subject.id).where(
            Subject.subject_number == VS.subject, FormInstance.event_id == VS.event,
            FormInstance.form_id == VS.form)).one()
        removed = s.execute(select(FormRow.removed).where(FormRow.instance_id == status_row.id,
                                                          FormRow.row_no == 2)).scalar_one()
    assert status_row.status == "complete" and removed
