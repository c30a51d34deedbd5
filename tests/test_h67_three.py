"""h67: three workstations, genuine packets, honest users. A conflict's id is made from its "other" side's record
(merge.conflict_id): when one workstation's change is the later side of two different conflicts (with B's value on
B, with C's on C), both get the same id. Each then takes the other's record of "its" conflict for the same conflict
found again (crossed packets) and decides the item anew, with its own merge record's time as its side's time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import ADMIN_PW
from tests.helpers.packets import CREAT, R1, Pair, make_pair
from tests.helpers.workstations import fork
from tests.test_issue18_packets import value


def _three(tmp_path: Path) -> tuple[Pair, Pair]:
    """(A/B pair, A/C pair): C is WS-03, forked from A after B."""
    pair = make_pair(tmp_path)
    c_db = tmp_path / "c" / "trial.crfdb"
    fork(pair.a_db, c_db, 3, "admin", ADMIN_PW, pair.clock)
    return pair, Pair(pair.a_db, c_db, pair.clock, tmp_path / "outbox-c")


def _save(p: Pair, which: str, text: str) -> None:
    site, ws = p.open(which)
    with site:
        p.clock.advance(60)
        ws.entry.save_item(R1, CREAT, text, reason=f"re-read ({text})")


def _scenario(tmp_path: Path) -> tuple[Pair, Pair, Any, Any]:
    ab, ac = _three(tmp_path)
    a0 = ab.export("A")  # A's workstation_add of WS-03 reaches B first (B must know WS-03 exists)
    assert a0 is not None
    ab.import_("B", a0)
    ac.import_("B", a0)  # C holds it all (shared before its fork): its numbering from A starts here
    _save(ac, "B", "95")  # C first
    _save(ab, "B", "92")  # then B
    _save(ab, "A", "90")  # then A: the later side of both conflicts
    a1 = ab.export("A")
    assert a1 is not None
    assert ab.import_("B", a1).conflicts == 1  # 92 (B) kept, 90 (A) beside it
    assert ac.import_("B", a1).conflicts == 1  # 95 (C) kept, 90 (A) beside it
    b1, c1 = ab.export("B"), ac.export("B")
    assert b1 is not None and c1 is not None
    r_c = ac.import_("B", b1)  # C applies B's packet
    r_b = ab.import_("B", c1)  # B applies C's packet
    return ab, ac, r_b, r_c


def test_b_and_c_keep_the_same_value_whichever_order(tmp_path: Path) -> None:
    """The design: 'The value kept current is the change recorded first ... so both sides keep the same whichever
    imports first'. C's 95 was recorded first of all three."""
    ab, ac, r_b, r_c = _scenario(tmp_path)
    on_b, on_c = value(ab, "B", R1, CREAT), value(ac, "B", R1, CREAT)
    assert on_b == on_c, (on_b, on_c, r_b.conflict_lines, r_c.conflict_lines)


def test_their_next_genuine_packets_are_taken(tmp_path: Path) -> None:
    ab, ac, _r_b, _r_c = _scenario(tmp_path)
    b2, c2 = ab.export("B"), ac.export("B")
    assert b2 is not None and c2 is not None
    ac.import_("B", b2)
    ab.import_("B", c2)


def test_control_c_without_its_own_change_ends_like_b(tmp_path: Path) -> None:
    """C changed nothing: it takes B's decision; B and C hold the same value and their next packets are taken."""
    ab, ac = _three(tmp_path)
    a0 = ab.export("A")
    assert a0 is not None
    ab.import_("B", a0)
    ac.import_("B", a0)
    _save(ab, "B", "92")
    _save(ab, "A", "90")
    a1 = ab.export("A")
    assert a1 is not None
    assert ab.import_("B", a1).conflicts == 1
    ac.import_("B", a1)
    b1 = ab.export("B")
    assert b1 is not None
    ac.import_("B", b1)
    assert value(ab, "B", R1, CREAT) == value(ac, "B", R1, CREAT)
    _save(ac, "B", "94")
    c1 = ac.export("B")
    assert c1 is not None
    ab.import_("B", c1)
    assert value(ab, "B", R1, CREAT) == value(ac, "B", R1, CREAT)
