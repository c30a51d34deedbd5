"""h77 (insider attack report; genuine packets, honest users, two workstations): a form completed and source-verified on
both workstations, packets crossed, stops the exchange for good.

B's investigator marks R1 complete and B's monitor verifies it; A's investigator marks it complete (A's first packet
leaves), then A's monitor verifies it too (A's second packet). B takes A's first packet: form state conflict
(verified here, complete there: 'complete' kept, B's decision), then A's second (verified on top of complete: taken).
A takes B's first packet: verified both sides, nothing to do. B's next packet carries B's decision: A's merge holds
one of its sides (B's verification, copied here) and keeps 'verified'; A's replay, which has not met that decision,
sets the form to its 'complete' after everything A holds: A refuses B's genuine packet ("its state is 'verified'; the
trail says 'complete'") and every later one. Control: the same without A's verification (A's form stays complete):
every packet is taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from msc_sle_crf.errors import CrfError
from tests.helpers.packets import R1, Pair, make_pair


def _act(pair: Pair, which: str, user: str) -> None:
    site, ws = pair.open(which, user)
    with site:
        pair.clock.advance(60)
        if user == "monitor.m":
            ws.lifecycle.source_verify(R1)
        else:
            ws.entry.mark_complete(R1)


def _scenario(tmp_path: Path, a_verifies: bool) -> list[str]:
    """The refusals of the exchange after the crossed packets (both ways until nothing is new)."""
    pair = make_pair(tmp_path)
    _act(pair, "B", "dr.a")
    _act(pair, "B", "monitor.m")
    _act(pair, "A", "dr.a")
    a1, b1 = pair.export("A"), pair.export("B")
    assert a1 is not None and b1 is not None
    if a_verifies:
        _act(pair, "A", "monitor.m")
    a2 = pair.export("A")
    assert pair.import_("B", a1).conflicts == 1  # 'complete' kept
    if a2 is not None:
        pair.import_("B", a2)
    pair.import_("A", b1)
    refusals = []
    for _round in range(3):
        for src, dst in (("B", "A"), ("A", "B")):
            packet = pair.export(src)
            if packet is None:
                continue
            try:
                pair.import_(dst, packet)
            except CrfError as exc:
                refusals.append(str(exc))
                return refusals
    return refusals


def test_control_verified_on_one_workstation_only_every_packet_is_taken(tmp_path: Path) -> None:
    assert _scenario(tmp_path, a_verifies=False) == []


@pytest.mark.xfail(strict=True, reason="h77 attack: a form verified on both workstations (crossed): the other's "
                   "form state decision makes the replay disagree with the merge, a genuine packet refused for good")
def test_a_form_verified_on_both_workstations_does_not_stop_the_exchange(tmp_path: Path) -> None:
    refusals = _scenario(tmp_path, a_verifies=True)
    assert refusals == [], refusals
