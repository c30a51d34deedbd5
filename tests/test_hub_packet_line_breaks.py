"""A packet's records are one JSON text per line, and a line ends at "\\n" only (issue 18, item 6).

A free text (a reason for change, a comment) may hold U+2028 LINE SEPARATOR or U+2029 PARAGRAPH SEPARATOR (pasted
from a word processor: the free-text rule allows them), and JSON does not escape them. ``str.splitlines()`` also
cuts a line there (and at U+0085, U+001C-U+001E...): the packet was refused as unreadable, on a workstation and on
the hub, for a value the workstation had accepted."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from msc_sle_crf.cli import main
from msc_sle_crf.hub.init import init_hub
from msc_sle_crf.hub.store import HubStore
from msc_sle_crf.hub.verify import verify_hub
from msc_sle_crf.store.tables import AuditEvent

from .conftest import ADMIN_PW
from .helpers.packets import CREAT, PW, R2, Pair, make_pair
from .hub_pg import APP_ROLE, HubDb
from .test_issue18_packets import value

REASON = "lab report re-read\u2028second sample\u2029see the nurse's note"


def _edit_b_with_separators(pair: Pair) -> Path:
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(30)
        ws.entry.save_item(R2, CREAT, "95", reason=REASON)
    path = pair.export("B")
    assert path is not None
    return path


def test_a_reason_holding_a_line_separator_travels_in_a_packet(tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    path = _edit_b_with_separators(pair)
    result = pair.import_("A", path)
    assert result.copied > 0 and not result.duplicate
    assert value(pair, "A", R2, CREAT) == 95
    site, ws = pair.open("A", "admin")
    with site, ws.ctx.read() as s:
        reasons = set(s.execute(select(AuditEvent.reason).where(AuditEvent.origin.is_not(None))).scalars())
    assert REASON in reasons  # the copy keeps the text as written, separators included


def test_hub_ingest_takes_a_packet_whose_reason_holds_a_line_separator(
        hub_db: HubDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pair = make_pair(tmp_path)
    hub_dir = tmp_path / "hub"
    init_hub(hub_db.owner_dsn(), pair.a_db, "admin", ADMIN_PW, hub_dir, APP_ROLE, clock=pair.clock)
    keys = hub_dir / "hub.keys"
    path = _edit_b_with_separators(pair)
    monkeypatch.setenv("PGPASSWORD", hub_db.cluster.app_password)
    monkeypatch.setattr("sys.stdin", io.StringIO(PW["dr.a"] + "\n"))
    code = main(["hub", "ingest", "--dsn", hub_db.app_dsn_no_password(), "--keys", str(keys), "--user", "dr.a",
                 "--password-stdin", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    report = verify_hub(hub_db.app_dsn(), keys)
    assert report.ok, (report.audit.problem, report.unexplained)
    with HubStore(hub_db.app_dsn()) as hub, hub.read() as s:
        reasons = set(s.execute(select(AuditEvent.reason).where(AuditEvent.origin.is_not(None))).scalars())
    assert REASON in reasons
