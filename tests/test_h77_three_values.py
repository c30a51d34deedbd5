"""h77 (insider attack report; genuine packets, honest users): three workstations change one value, packets crossed.

A enters 0.7 on R1's urine protein ratio, then C 0.5, then B 0.6 (each a minute later), before any packet moves. C
takes B's packet first (conflict C/B: C's 0.5, recorded first, kept), then A's (conflict A/C: A's 0.7 kept); A takes
B's (conflict A/B) and C's (conflict A/C): both keep A's 0.7. C's next packet carries its two decisions. On A the
replay meets C's decision C/B first (new here: it sets 0.5) and then C/A, which A decided itself ("the same conflict
found again": it changes nothing), so the replay says 0.5 while the merge keeps 0.7: A refuses C's genuine packet
("its rows are not what its records say"), and every later packet of C after it: the exchange stops for good. With C
taking A's packet first (control) its decisions come in A's order and the packet is taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from msc_sle_crf.errors import CrfError
from tests.conftest import ADMIN_PW
from tests.helpers.packets import PROTU, R1, Pair, make_pair
from tests.helpers.workstations import fork
from tests.test_issue18_packets import value, verify_clean


def _three(tmp_path: Path) -> tuple[Pair, Pair]:
    """(A/B pair, A/C pair): C is WS-03, forked from A after B; B and C know WS-03 (A's first packet)."""
    ab = make_pair(tmp_path)
    c_db = tmp_path / "c" / "trial.crfdb"
    fork(ab.a_db, c_db, 3, "admin", ADMIN_PW, ab.clock)
    ac = Pair(ab.a_db, c_db, ab.clock, tmp_path / "outbox-c")
    a0 = ab.export("A")
    assert a0 is not None
    ab.import_("B", a0)
    ac.import_("B", a0)
    return ab, ac


def _save(p: Pair, which: str, text: str) -> None:
    site, ws = p.open(which)
    with site:
        p.clock.advance(60)
        ws.entry.save_item(R1, PROTU, text, reason=f"re-read ({text})")


def _c_takes(tmp_path: Path, first: str) -> tuple[Pair, Pair, Path]:
    """The scenario; C takes ``first``'s packet first. C's second packet (its decisions), not applied anywhere."""
    ab, ac = _three(tmp_path)
    _save(ab, "A", "0.7")
    _save(ac, "B", "0.5")  # C
    _save(ab, "B", "0.6")
    a1, b1, c1 = ab.export("A"), ab.export("B"), ac.export("B")
    assert a1 is not None and b1 is not None and c1 is not None
    for packet in ((b1, a1) if first == "B" else (a1, b1)):
        assert ac.import_("B", packet).conflicts == 1  # C
    assert ab.import_("A", b1).conflicts == 1
    assert ab.import_("A", c1).conflicts == 1
    c2 = ac.export("B")
    assert c2 is not None
    return ab, ac, c2


def _a_takes(ab: Pair, c2: Path) -> str | None:
    try:
        ab.import_("A", c2)
    except CrfError as exc:
        return str(exc)
    return None


def test_control_c_takes_a_first_its_decisions_are_taken_on_a(tmp_path: Path) -> None:
    ab, ac, c2 = _c_takes(tmp_path, "A")
    assert _a_takes(ab, c2) is None
    assert value(ab, "A", R1, PROTU) == value(ac, "B", R1, PROTU)
    verify_clean(ab, "A")


@pytest.mark.xfail(strict=True, reason="h77 attack: C's genuine packet with two decisions in the other order is "
                   "refused on A for good (replay and merge disagree)")
def test_c_takes_b_first_its_decisions_are_taken_on_a(tmp_path: Path) -> None:
    ab, ac, c2 = _c_takes(tmp_path, "B")
    refused = _a_takes(ab, c2)
    assert refused is None, refused
    assert value(ab, "A", R1, PROTU) == value(ac, "B", R1, PROTU)
    verify_clean(ab, "A")
