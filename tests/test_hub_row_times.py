"""Issue 18, hole 3 on the hub: a workstation's query written with this version travels with its ``row_times``
marker; ``hub verify`` then compares the query's time with its record's exactly, so a shift of 20 s made on the hub
with the owner's SQL is named (the 60 s tolerance let it pass). Real PostgreSQL (tests/hub_pg.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from msc_sle_crf.clock import iso_utc, parse_iso_utc
from msc_sle_crf.hub.init import init_hub
from msc_sle_crf.hub.verify import verify_hub

from .conftest import ADMIN_PW
from .helpers.packets import CREAT, R2, make_pair
from .hub_pg import APP_ROLE, HubDb
from .test_hub_packet_rows import _ingest


def test_a_query_time_moved_on_the_hub_is_named_exactly(
        hub_db: HubDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pair = make_pair(tmp_path)
    hub_dir = tmp_path / "hub"
    init_hub(hub_db.owner_dsn(), pair.a_db, "admin", ADMIN_PW, hub_dir, APP_ROLE, clock=pair.clock)
    keys = hub_dir / "hub.keys"
    site, ws = pair.open("B", "monitor.m")
    with site:
        pair.clock.advance(30)
        qid = ws.monitoring.open_query(R2, CREAT, "88 µmol/l?").query_id
    packet = pair.export("B")
    assert packet is not None
    code, said = _ingest(hub_db, keys, packet, monkeypatch, capsys)
    assert code == 0, said
    report = verify_hub(hub_db.app_dsn(), keys)
    assert report.ok, (report.audit.problem, report.unexplained)
    with hub_db.connect() as conn:
        [(opened,)] = conn.execute("SELECT opened_utc FROM data_query WHERE id = %s", [qid]).fetchall()
        moved = iso_utc(parse_iso_utc(opened) - dt.timedelta(seconds=20))
        conn.execute("UPDATE data_query SET opened_utc = %s WHERE id = %s", [moved, qid])
    report = verify_hub(hub_db.app_dsn(), keys)
    # Before: nothing named (20 s < 60 s).
    assert any(f"query #{qid} opened at {moved}; the trail says {opened}" in str(u) for u in report.unexplained), \
        report.unexplained
    with hub_db.connect() as conn:  # WS-02's marker, carried by its packet
        assert conn.execute("SELECT count(*) FROM audit_event WHERE action = 'row_times'").fetchone() == (1,)
