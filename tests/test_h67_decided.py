"""h67 (insider/honest-user attacks on the packet exchange): a conflict decided elsewhere overwrites a value changed
here since, without a conflict (last writer wins). Genuine packets only, honest users.

B changes R1's creatinine to 92, then A to 90 (B's recorded first); A exports a1. B applies a1: a conflict, 92 kept
(its merge_conflict record "decides" it). Meanwhile A's doctor changes the value again to 93 (she has not seen B's
packet). A then applies B's packet b1: the packet "already carries the decision" (merge.py ``decided``) so its row is
applied as it is: A's 93, entered after everything B's packet knew about, is replaced by 92 with no conflict and no
query naming 93."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from msc_sle_crf.sync.packets import ImportResult
from tests.helpers.packets import CREAT, R1, Pair, make_pair
from tests.test_issue18_packets import value


def _scenario(tmp_path: Path, change_again: bool) -> tuple[Pair, ImportResult]:
    pair = make_pair(tmp_path)
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, "92", reason="lab report re-read on B")
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, "90", reason="lab report re-read on A")
    a1 = pair.export("A")
    assert a1 is not None
    assert pair.import_("B", a1).conflicts == 1  # B finds and decides the conflict (92 kept)
    if change_again:
        site, ws = pair.open("A")
        with site:
            pair.clock.advance(60)
            ws.entry.save_item(R1, CREAT, "93", reason="third sample on A")
    b1 = pair.export("B")
    assert b1 is not None
    result = pair.import_("A", b1)
    return pair, result


def test_control_no_change_since_the_packet_takes_the_decision(tmp_path: Path) -> None:
    pair, _result = _scenario(tmp_path, change_again=False)
    assert value(pair, "A", R1, CREAT) == Decimal("92")


def test_a_value_changed_here_after_the_decided_conflict_is_not_silently_overwritten(tmp_path: Path) -> None:
    """A's 93 (entered after a1, never seen by B) must either stay or be put in conflict: never replaced silently."""
    pair, result = _scenario(tmp_path, change_again=True)
    now = value(pair, "A", R1, CREAT)
    assert now == Decimal("93") or result.conflicts >= 1, (now, result.conflicts, result.conflict_lines)


def test_the_next_packet_of_the_workstation_whose_change_was_overwritten_is_taken(tmp_path: Path) -> None:
    """Genuine packets: A's next packet (carrying its 93) must be applied on B, not refused as forged. Today B's own
    merge of it and B's replay disagree ('stored 92; the trail says 93'), so B refuses it as 'not as its author's';
    every later packet of A must come after it (a gap otherwise): A -> B stops for good."""
    pair, _result = _scenario(tmp_path, change_again=True)
    a2 = pair.export("A")
    assert a2 is not None
    result = pair.import_("B", a2)  # raises PacketRefused today
    assert not result.duplicate
    assert value(pair, "A", R1, CREAT) == value(pair, "B", R1, CREAT)


def test_the_hub_takes_the_three_genuine_packets(hub_db, tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """The hub (made from A) ingests a1, b1 and a2, all genuine, in the order written: each must be taken and the hub
    verify clean."""
    import io

    from msc_sle_crf.cli import main
    from msc_sle_crf.hub.init import init_hub
    from msc_sle_crf.hub.verify import verify_hub
    from tests.conftest import ADMIN_PW
    from tests.helpers.packets import PW
    from tests.hub_pg import APP_ROLE

    pair = make_pair(tmp_path)
    hub_dir = tmp_path / "hub"
    init_hub(hub_db.owner_dsn(), pair.a_db, "admin", ADMIN_PW, hub_dir, APP_ROLE, clock=pair.clock)
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, "92", reason="lab report re-read on B")
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, "90", reason="lab report re-read on A")
    a1 = pair.export("A")
    assert a1 is not None
    pair.import_("B", a1)
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, "93", reason="third sample on A")
    b1 = pair.export("B")
    assert b1 is not None
    pair.import_("A", b1)
    a2 = pair.export("A")
    assert a2 is not None
    monkeypatch.setenv("PGPASSWORD", hub_db.cluster.app_password)
    for packet in (a1, b1, a2):
        monkeypatch.setattr("sys.stdin", io.StringIO(PW["dr.a"] + "\n"))
        code = main(["hub", "ingest", "--dsn", hub_db.app_dsn_no_password(), "--keys", str(hub_dir / "hub.keys"),
                     "--user", "dr.a", "--password-stdin", str(packet)])
        out, err = capsys.readouterr()
        assert code == 0, (packet.name, out + err)
    report = verify_hub(hub_db.app_dsn(), hub_dir / "hub.keys")
    assert report.ok, (report.audit.problem, report.anchor_problems, report.unexplained, report.replay_problem)
