"""h67 (genuine packets, honest users): a row removed on one workstation while the other corrects a value in it.
A's doctor removes vital-signs reading 1 (its heart rate 70 "entered by mistake"); meanwhile B's nurse corrects that
reading's heart rate to 72. Neither saw the other's change. After the exchange the row is removed on both with no
conflict: B's correction disappears from the form, and the removal's record names 70, a value no longer there. The
design (docs/workstations.md "Conflicts"): both sides changed the same thing from the same base is a conflict, never
one silently over the other."""

from __future__ import annotations

from pathlib import Path

import pytest

from msc_sle_crf.services.entry import FormRef
from tests.helpers.packets import Pair, make_pair

VS = FormRef("01-001", "D0", "vital_signs")
HR = ("vs", 1, "VSHR")


def _edit(pair: Pair, which: str, user: str, action: str) -> None:
    site, ws = pair.open(which, user)
    with site:
        pair.clock.advance(60)
        if action == "remove":
            ws.entry.remove_row(VS, "vs", HR[1], reason="reading entered by mistake")
        else:
            ws.entry.save_item(VS, HR, action, reason="re-read on the monitor")


def _pair(tmp_path: Path) -> Pair:
    pair = make_pair(tmp_path)
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        assert ws.entry.add_row(VS, "vs").row == HR[1]
        ws.entry.save_item(VS, HR, "70")
    a0 = pair.export("A")
    assert a0 is not None
    pair.import_("B", a0)
    return pair


def _removed(pair: Pair, which: str) -> bool:
    site, ws = pair.open(which)
    with site:
        return HR not in ws.entry.open_form(VS).state.cells  # a removed row's cells are not on the form


@pytest.mark.parametrize("order", ["A->B then B->A", "B->A then A->B"])
def test_a_row_removed_against_a_correction_elsewhere_is_a_conflict(tmp_path: Path, order: str) -> None:
    pair = _pair(tmp_path)
    _edit(pair, "A", "dr.a", "remove")
    _edit(pair, "B", "nurse.n", "72")
    r1, r2 = pair.exchange(order)
    assert r1.conflicts + r2.conflicts >= 1 or not (_removed(pair, "A") and _removed(pair, "B")), (
        r1.conflicts, r2.conflicts)


def test_control_a_row_removed_with_no_change_elsewhere_travels(tmp_path: Path) -> None:
    pair = _pair(tmp_path)
    _edit(pair, "A", "dr.a", "remove")
    r1, r2 = pair.exchange("A->B then B->A")
    assert r1.conflicts == r2.conflicts == 0
    assert _removed(pair, "A") and _removed(pair, "B")
