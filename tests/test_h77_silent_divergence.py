"""h77 (insider attack report; genuine packets, honest users, two workstations): after exchanging everything, A and B
show different values for one item, both verify clean, and no import refused or said anything about it.

B enters 92 on R1's creatinine, A 95, then A 91 (a re-read). B takes A's first packet (95): conflict, 92 kept. A
takes B's (92): conflict 91/92, 92 kept. B's investigator resolves B's conflict by entering 95 (A's reading). A takes
B's decision (it still holds one of its sides: 92 stays). B then takes A's second packet (91, from 95): its base is
95 and B's value is 95 again (B's resolution), so B's 95 is replaced in silence by A's 91; A's decision (92 over 91)
follows and B shows 92. A takes B's resolution (95, from 92: A holds 92 = its base) and shows 95. Every later packet
is "nothing new" on the item: the workstations stay apart, nothing refused, nothing said, both `verify` clean.
Control: without B's resolution both end with the same value (B resolving with 97 instead is refused for good:
test_h77_decision_after's mechanism)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.packets import CREAT, R1, Pair, make_pair
from tests.test_issue18_packets import value, verify_clean


def _save(pair: Pair, which: str, text: str) -> None:
    site, ws = pair.open(which)
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, text, reason=f"re-read ({text})")


def _scenario(tmp_path: Path, resolution: str | None) -> Pair:
    pair = make_pair(tmp_path)
    _save(pair, "B", "92")
    _save(pair, "A", "95")
    a1, b1 = pair.export("A"), pair.export("B")
    _save(pair, "A", "91")
    a2 = pair.export("A")
    assert a1 is not None and b1 is not None and a2 is not None
    assert pair.import_("B", a1).conflicts == 1
    assert pair.import_("A", b1).conflicts == 1
    b2 = pair.export("B")
    if resolution is not None:
        _save(pair, "B", resolution)  # resolves B's conflict
    b3 = pair.export("B")
    assert b2 is not None
    pair.import_("A", b2)
    a3 = pair.export("A")
    assert a3 is not None
    for which, packet in (("B", a2), ("B", a3), ("A", b3)):
        if packet is not None:
            pair.import_(which, packet)
    for _round in range(3):  # everything both ways until nothing is new
        for src, dst in (("A", "B"), ("B", "A")):
            packet = pair.export(src)
            if packet is not None:
                pair.import_(dst, packet)
    return pair


def test_control_without_the_resolution_both_end_alike(tmp_path: Path) -> None:
    pair = _scenario(tmp_path, None)
    assert value(pair, "A", R1, CREAT) == value(pair, "B", R1, CREAT)
    verify_clean(pair, "A")
    verify_clean(pair, "B")


@pytest.mark.xfail(strict=True, reason="h77 attack: a resolution equal to the other packet's base is overwritten in "
                   "silence; the workstations end apart, both verifying clean")
def test_after_exchanging_everything_both_show_the_same_value(tmp_path: Path) -> None:
    pair = _scenario(tmp_path, "95")
    verify_clean(pair, "A")
    verify_clean(pair, "B")
    on_a, on_b = value(pair, "A", R1, CREAT), value(pair, "B", R1, CREAT)
    assert on_a == on_b, (on_a, on_b)
