"""h63 finding 3 (tests/realwin/test_h63_findings.py holds the first failing test): a hub made from WS-01 after WS-01
handed a subject over to WS-02 takes WS-02's packets, which relay WS-01's handover the hub already holds as its own
record: WS-02's follow-up value reaches the hub once, the hub's trail and data verify, and the relayed handover is
not written a second time."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from msc_sle_crf.cli import main
from msc_sle_crf.hub.init import init_hub
from msc_sle_crf.hub.store import HubStore
from msc_sle_crf.hub.verify import verify_hub
from msc_sle_crf.store.tables import AuditEvent, FormInstance, ItemValue, Subject
from msc_sle_crf.sync.workstations import Workstations
from tests.conftest import ADMIN_PW
from tests.helpers.packets import CREAT, PW, R2, make_pair
from tests.hub_pg import APP_ROLE, HubDb


def test_a_late_hub_takes_the_new_owners_value_once_and_verifies(
        hub_db: HubDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pair = make_pair(tmp_path)
    site, ws = pair.open("A")
    with site:
        Workstations(ws.ctx).handover("01-002", "WS-02", "follow-up in consultation")
    a1 = pair.export("A")
    assert a1 is not None
    pair.import_("B", a1)
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R2, CREAT, "95", reason="follow-up visit")
    b1 = pair.export("B")
    assert b1 is not None
    hub_dir = tmp_path / "hub"
    init_hub(hub_db.owner_dsn(), pair.a_db, "admin", ADMIN_PW, hub_dir, APP_ROLE, clock=pair.clock)
    monkeypatch.setenv("PGPASSWORD", hub_db.cluster.app_password)
    monkeypatch.setattr("sys.stdin", io.StringIO(PW["dr.a"] + "\n"))
    code = main(["hub", "ingest", "--dsn", hub_db.app_dsn_no_password(), "--keys", str(hub_dir / "hub.keys"),
                 "--user", "dr.a", "--password-stdin", str(a1), str(b1)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    report = verify_hub(hub_db.app_dsn(), hub_dir / "hub.keys")
    assert report.ok, (report.audit.problem, report.anchor_problems, report.unexplained, report.replay_problem)
    with HubStore(hub_db.app_dsn()) as hub, hub.read() as s:
        value = s.execute(select(ItemValue.value).join(FormInstance, FormInstance.id == ItemValue.instance_id)
                          .join(Subject, Subject.id == FormInstance.subject_id)
                          .where(Subject.subject_number == "01-002", ItemValue.item_id == "CREAT")).scalar_one()
        owner = s.execute(select(Subject.owner_ws).where(Subject.subject_number == "01-002")).scalar_one()
        handovers = s.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "subject_handover", AuditEvent.subject == "01-002")).scalar_one()
    assert (value, owner, handovers) == ("95", "WS-02", 1)


def test_a_workstation_forked_after_a_handover_takes_the_new_owners_packets(tmp_path: Path) -> None:
    """The same on a laptop: WS-03, made from WS-01 after the handover, applies WS-02's packet (which relays the
    handover WS-03 holds from its fork) and gets WS-02's follow-up value."""
    from msc_sle_crf.services import Site, Workspace
    from msc_sle_crf.sync.service import Packets
    from tests.helpers.workstations import fork

    pair = make_pair(tmp_path)
    site, ws = pair.open("A")
    with site:
        Workstations(ws.ctx).handover("01-002", "WS-02", "follow-up in consultation")
    a1 = pair.export("A")
    assert a1 is not None
    pair.import_("B", a1)
    c_db = tmp_path / "c" / "trial.crfdb"
    fork(pair.a_db, c_db, 3, "admin", ADMIN_PW, pair.clock)
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R2, CREAT, "95", reason="follow-up visit")
    b1 = pair.export("B")
    assert b1 is not None
    site = Site.open(c_db, clock=pair.clock)
    with site:
        ws = Workspace.sign_in(site, "dr.a", PW["dr.a"])
        result = Packets(ws.ctx, ws.study).import_file(b1).result
        assert result.copied > 0
        assert ws.entry.open_form(R2).state.value(CREAT) == 95
