"""h69: what both workstations hold after a value changed on one and the form's state on the other, or a row removed on
one and a value of it corrected on the other (docs/workstations.md "Conflicts"): the same on both whichever imports
first, both trails verify clean, the next genuine packets of both are taken, and the import says it in both
languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.status import FormStatus
from msc_sle_crf.sync.service import Packets
from tests.helpers.packets import CREAT, PW, R1, Pair, make_pair
from tests.test_issue18_packets import value, verify_clean

ORDERS = ["A->B then B->A", "B->A then A->B"]
VS = FormRef("01-001", "D0", "vital_signs")
HR = ("vs", 1, "VSHR")


def _status(pair: Pair, which: str, ref: FormRef = R1) -> FormStatus:
    site, ws = pair.open(which)
    with site:
        return ws.entry.statuses(ref.subject)[(ref.event, ref.form)]


def _signed_here_changed_there(tmp_path: Path, *, lock: bool) -> Pair:
    """B corrects R1's creatinine (a draft there); A, not having seen it, completes and signs R1 (and locks it)."""
    pair = make_pair(tmp_path)
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, "92", reason="re-read on B")
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.entry.mark_complete(R1)
        ws.lifecycle.sign(R1, "dr.a", PW["dr.a"], "approval")
        if lock:
            ws.lifecycle.lock(R1)
    return pair


@pytest.mark.parametrize("lock", [False, True])
@pytest.mark.parametrize("order", ORDERS)
def test_a_value_changed_there_and_a_signature_here_end_alike(tmp_path: Path, order: str, lock: bool) -> None:
    pair = _signed_here_changed_there(tmp_path, lock=lock)
    r1, r2 = pair.exchange(order)
    assert r1.conflicts + r2.conflicts >= 1
    # the less advanced state (B's draft) over B's value, which nobody signed, on both
    assert _status(pair, "A") == _status(pair, "B") == FormStatus.DRAFT
    assert value(pair, "A", R1, CREAT) == value(pair, "B", R1, CREAT) == 92
    verify_clean(pair, "A")
    verify_clean(pair, "B")
    # A's investigator signs again what is now there; both next packets are taken
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.entry.mark_complete(R1)
        ws.lifecycle.sign(R1, "dr.a", PW["dr.a"], "approval")
    r3, r4 = pair.exchange("A->B then B->A")
    assert r3.conflicts == r4.conflicts == 0
    assert _status(pair, "A") == _status(pair, "B") == FormStatus.SIGNED
    verify_clean(pair, "A")
    verify_clean(pair, "B")


@pytest.mark.parametrize("order", ORDERS)
def test_a_lock_there_over_a_value_changed_here_ends_alike(tmp_path: Path, order: str) -> None:
    pair = make_pair(tmp_path)
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, "92", reason="re-read on A")
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(60)
        ws.entry.mark_complete(R1)
        ws.lifecycle.sign(R1, "dr.a", PW["dr.a"], "approval")
        ws.lifecycle.lock(R1)
    pair.exchange(order)
    assert _status(pair, "A") == _status(pair, "B") == FormStatus.DRAFT
    assert value(pair, "A", R1, CREAT) == value(pair, "B", R1, CREAT) == 92
    verify_clean(pair, "A")
    verify_clean(pair, "B")


def test_the_import_says_the_form_state_kept_in_both_languages(tmp_path: Path) -> None:
    pair = _signed_here_changed_there(tmp_path, lock=False)
    b1 = pair.export("B")
    assert b1 is not None
    site, ws = pair.open("A")
    with site:
        outcome = Packets(ws.ctx, ws.study).import_file(b1)
    lines = [line for line in outcome.conflicts if "both workstations" in line.en]
    assert len(lines) == 1, [line.en for line in outcome.conflicts]
    assert R1.subject in lines[0].en and "'In progress' is kept, not 'Signed'" in lines[0].en, lines[0].en
    assert "le formulaire a changé sur les deux postes" in lines[0].fr and "« Signé »" in lines[0].fr, lines[0].fr


def test_a_value_changed_elsewhere_on_a_form_in_the_same_state_is_no_conflict(tmp_path: Path) -> None:
    """The everyday case: B corrects a value of a draft form that is a draft on A too: applied, no conflict."""
    pair = make_pair(tmp_path)
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, "92", reason="re-read on B")
    r1, r2 = pair.exchange("B->A then A->B")
    assert r1.conflicts == r2.conflicts == 0
    assert value(pair, "A", R1, CREAT) == 92 and _status(pair, "A") == _status(pair, "B") == FormStatus.DRAFT


# ----- a row removed on one side, a value of it corrected on the other ---------------------------------------------
def _removed_there_corrected_here(tmp_path: Path) -> Pair:
    pair = make_pair(tmp_path)
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        assert ws.entry.add_row(VS, "vs").row == HR[1]
        ws.entry.save_item(VS, HR, "70")
    a0 = pair.export("A")
    assert a0 is not None
    pair.import_("B", a0)
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.entry.remove_row(VS, "vs", HR[1], reason="reading entered by mistake")
    site, ws = pair.open("B", "nurse.n")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(VS, HR, "72", reason="re-read on the monitor")
    return pair


def _present(pair: Pair, which: str) -> bool:
    site, ws = pair.open(which)
    with site:
        return HR in ws.entry.open_form(VS).state.cells


@pytest.mark.parametrize("order", ORDERS)
def test_a_removed_row_corrected_elsewhere_is_kept_on_both(tmp_path: Path, order: str) -> None:
    pair = _removed_there_corrected_here(tmp_path)
    r1, r2 = pair.exchange(order)
    assert r1.conflicts + r2.conflicts >= 1
    assert _present(pair, "A") and _present(pair, "B")
    assert value(pair, "A", VS, HR) == value(pair, "B", VS, HR) == 72
    verify_clean(pair, "A")
    verify_clean(pair, "B")
    # removed again, having seen the correction: removed on both, no conflict
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.entry.remove_row(VS, "vs", HR[1], reason="still a mistake: the patient was not there")
    r3, r4 = pair.exchange("A->B then B->A")
    assert r3.conflicts == r4.conflicts == 0
    assert not _present(pair, "A") and not _present(pair, "B")
    verify_clean(pair, "A")
    verify_clean(pair, "B")


def test_the_import_says_the_row_kept_in_both_languages(tmp_path: Path) -> None:
    pair = _removed_there_corrected_here(tmp_path)
    b1 = pair.export("B")
    assert b1 is not None
    site, ws = pair.open("A")
    with site:
        outcome = Packets(ws.ctx, ws.study).import_file(b1)
    [line] = outcome.conflicts
    assert "removed on WS-01 while a value of it changed on WS-02: the row is kept" in line.en, line.en
    assert "supprimée sur le poste WS-01" in line.fr and "la ligne est conservée" in line.fr, line.fr


def test_the_row_kept_reads_in_the_trail_in_both_languages() -> None:
    import json

    from msc_sle_crf.i18n import Lang
    from msc_sle_crf.trail_words import detail_text

    detail = json.dumps({"kind": "row", "from": "WS-02", "removal": {"ws": "WS-01", "id": 9},
                         "change": {"ws": "WS-02", "id": 4, "user": "nurse.n"}})
    assert detail_text(detail, Lang.EN) == "row removed on WS-01 while a value of it changed on WS-02: the row is kept"
    assert detail_text(detail, Lang.FR).startswith("ligne supprimée sur le poste WS-01")


def test_a_row_removed_here_while_the_form_was_signed_there_is_taken_alike(tmp_path: Path) -> None:
    """Not yet a conflict (docs/workstations.md: a removal's record does not say its form's state), but never a
    genuine packet refused nor two workstations left different."""
    pair = make_pair(tmp_path)
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        for row in (1, 2):
            assert ws.entry.add_row(VS, "vs").row == row
            ws.entry.save_values(VS, {("vs", row, item): text for item, text in (
                ("VSTIM", "08:00"), ("VSTEMP", "37.0"), ("VSHR", "70"), ("VSSYSBP", "120"), ("VSDIABP", "80"),
                ("VSSPO2", "98"))})
    a0 = pair.export("A")
    assert a0 is not None
    pair.import_("B", a0)
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.entry.remove_row(VS, "vs", 2, reason="added twice")
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(60)
        ws.entry.mark_complete(VS)
        ws.lifecycle.sign(VS, "dr.a", PW["dr.a"], "approval")
    pair.exchange("B->A then A->B")
    assert _status(pair, "A", VS) == _status(pair, "B", VS)
    verify_clean(pair, "A")
    verify_clean(pair, "B")
