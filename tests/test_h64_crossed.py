"""Crossed packets (h63 finding 1, issue 18 item 5): two workstations change the same value offline and both write
their packets before either applies the other's, so each opens the same conflict by itself. Their next packets
(each carrying its own records of that conflict) must be accepted on the other side and on the hub, and both
workstations end with the same data, whether the conflict was resolved meanwhile or not, in either order."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest

from msc_sle_crf.cli import main
from msc_sle_crf.hub.init import init_hub
from msc_sle_crf.hub.verify import verify_hub
from tests.conftest import ADMIN_PW
from tests.helpers.packets import CREAT, PW, R1, R2, Pair, make_pair
from tests.hub_pg import APP_ROLE, HubDb
from tests.test_issue18_packets import originals, snapshot, value, verify_clean


def _crossed(pair: Pair, resolve: bool, close: bool = False) -> tuple[Path, Path, Path, Path]:
    """B changes R1's creatinine to 92, then A to 90 (B's is kept: recorded first); both packets are written before
    either applies the other's; A applies B's (and resolves the conflict to 90, if ``resolve``; its monitor closes
    the conflict's automatic query, if ``close``), then B applies
    A's; each then writes its next packet (its own records of the conflict; B also a new value on R2)."""
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, "92", reason="lab report re-read on B")
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, "90", reason="lab report re-read on A")
    a1, b1 = pair.export("A"), pair.export("B")
    assert a1 is not None and b1 is not None
    assert pair.import_("A", b1).conflicts == 1
    if resolve:
        site, ws = pair.open("A")
        with site:
            pair.clock.advance(60)
            ws.entry.save_item(R1, CREAT, "90", reason="source document checked")
    if close:
        site, ws = pair.open("A", "monitor.m")
        with site:
            pair.clock.advance(60)
            [query] = ws.monitoring.queries(R1)
            ws.monitoring.close(query.id, "checked against the source")
    assert pair.import_("B", a1).conflicts == 1  # the same conflict, found by B itself
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R2, CREAT, "95", reason="second sample")
    a2, b2 = pair.export("A"), pair.export("B")
    assert a2 is not None and b2 is not None
    return a1, b1, a2, b2


@pytest.mark.parametrize(("resolve", "close"), [(True, False), (False, False), (True, True)])
@pytest.mark.parametrize("first", ["A", "B"])
def test_crossed_packets_end_identical(tmp_path: Path, resolve: bool, close: bool, first: str) -> None:
    pair = make_pair(tmp_path)
    _a1, _b1, a2, b2 = _crossed(pair, resolve, close)
    for which in (first, "B" if first == "A" else "A"):
        result = pair.import_(which, b2 if which == "A" else a2)
        assert result.conflicts == 0  # nobody decides the same conflict twice
    a, b = snapshot(pair, "A"), snapshot(pair, "B")
    for table in a:
        assert a[table] == b[table], table
    assert originals(pair, "A") == originals(pair, "B")
    for which in ("A", "B"):
        assert value(pair, which, R1, CREAT) == (90 if resolve else 92)
        assert value(pair, which, R2, CREAT) == Decimal("95")
        verify_clean(pair, which)
    [conflict] = a["conflicts"]
    assert conflict[7] == ("resolved" if resolve else "open")
    # one automatic query (B's copy of its opening does not reopen it where the monitor closed it), one message
    assert [q[5] for q in a["queries"] if q[0] == conflict[0]] == ["closed" if close else "open"]
    assert sorted(m[2] for m in a["messages"] if m[1] == conflict[0]) == (["auto", "close"] if close else ["auto"])


def test_the_hub_takes_crossed_packets(hub_db: HubDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The hub finds the conflict itself (A's then B's first packets), then takes both workstations' records of
    it and A's resolution."""
    pair = make_pair(tmp_path)
    hub_dir = tmp_path / "hub"
    init_hub(hub_db.owner_dsn(), pair.a_db, "admin", ADMIN_PW, hub_dir, APP_ROLE, clock=pair.clock)
    packets = _crossed(pair, resolve=True)
    monkeypatch.setenv("PGPASSWORD", hub_db.cluster.app_password)
    for packet in packets:
        monkeypatch.setattr("sys.stdin", io.StringIO(PW["dr.a"] + "\n"))
        code = main(["hub", "ingest", "--dsn", hub_db.app_dsn_no_password(), "--keys", str(hub_dir / "hub.keys"),
                     "--user", "dr.a", "--password-stdin", str(packet)])
        out, err = capsys.readouterr()
        assert code == 0, out + err
    report = verify_hub(hub_db.app_dsn(), hub_dir / "hub.keys")
    assert report.ok, (report.audit.problem, report.anchor_problems, report.unexplained, report.replay_problem)



@pytest.mark.parametrize("first", ["A", "B"])
def test_both_resolve_the_crossed_conflict_differently(tmp_path: Path, first: str) -> None:
    """After the crossing each workstation resolves the conflict its own way (A to 90, then B to 91) before seeing
    the other's resolution. The other's packet carries its record of the same conflict, which decided nothing
    here: the two resolutions are a new conflict (never one silently over the other), the same on both sides."""
    pair = make_pair(tmp_path)
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, "92", reason="lab report re-read on B")
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, "90", reason="lab report re-read on A")
    a1, b1 = pair.export("A"), pair.export("B")
    assert a1 is not None and b1 is not None
    pair.import_("A", b1)
    pair.import_("B", a1)
    for which, text in (("A", "90"), ("B", "91")):
        site, ws = pair.open(which)
        with site:
            pair.clock.advance(60)
            ws.entry.save_item(R1, CREAT, text, reason="source document checked")
    a2, b2 = pair.export("A"), pair.export("B")
    assert a2 is not None and b2 is not None
    for which in (first, "B" if first == "A" else "A"):
        assert pair.import_(which, b2 if which == "A" else a2).conflicts == 1
    a, b = snapshot(pair, "A"), snapshot(pair, "B")
    for table in a:
        assert a[table] == b[table], table
    for which in ("A", "B"):
        assert value(pair, which, R1, CREAT) == 90  # A's resolution was recorded first
        verify_clean(pair, which)
    assert sorted(c[7] for c in a["conflicts"]) == ["open", "resolved"]
    a3, b3 = pair.export("A"), pair.export("B")  # each one's records of the new conflict: taken on the other side
    assert a3 is not None and b3 is not None
    assert pair.import_("A", b3).conflicts == 0 and pair.import_("B", a3).conflicts == 0
    assert snapshot(pair, "A") == snapshot(pair, "B")
    for which in ("A", "B"):
        verify_clean(pair, which)
