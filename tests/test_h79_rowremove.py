"""h79: a row removed on one workstation while the other signed its form without having seen the removal (issue 18,
docs/workstations.md "Conflicts"): the removal is a change of the form like a value changed there (h69), so the less
advanced state is kept on both sides whichever imports first, the signature made over the row is invalidated, both
trails verify clean and the next genuine packets of both are taken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.status import FormStatus
from msc_sle_crf.store.tables import AuditEvent
from msc_sle_crf.sync.service import Packets
from tests.helpers.packets import PW, Pair, make_pair
from tests.test_issue18_packets import verify_clean

ORDERS = ["A->B then B->A", "B->A then A->B"]
VS = FormRef("01-001", "D0", "vital_signs")
READING = {"VSTIM": "08:00", "VSTEMP": "37.0", "VSHR": "70", "VSSYSBP": "120", "VSDIABP": "80", "VSSPO2": "98"}


def _status(pair: Pair, which: str) -> FormStatus:
    site, ws = pair.open(which)
    with site:
        return ws.entry.statuses(VS.subject)[(VS.event, VS.form)]


def _removed(pair: Pair, which: str) -> bool:
    site, ws = pair.open(which)
    with site:
        return ("vs", 2, "VSHR") not in ws.entry.open_form(VS).state.cells


def _conflict_kinds(pair: Pair, which: str) -> list[str]:
    site, ws = pair.open(which, "admin")
    with site, ws.ctx.read() as s:
        return [json.loads(d or "{}").get("kind") for d in s.execute(
            select(AuditEvent.detail).where(AuditEvent.action == "merge_conflict")).scalars()]


def _removed_there_signed_here(tmp_path: Path, *, complete_first: bool) -> Pair:
    """A enters two readings (B imports them; both complete the form when ``complete_first``); then B removes the
    second reading while A, not having seen it, signs the form."""
    pair = make_pair(tmp_path)
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        for row in (1, 2):
            assert ws.entry.add_row(VS, "vs").row == row
            ws.entry.save_values(VS, {("vs", row, item): text for item, text in READING.items()})
        if complete_first:
            ws.entry.mark_complete(VS)
    a0 = pair.export("A")
    assert a0 is not None
    pair.import_("B", a0)
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(60)
        ws.entry.remove_row(VS, "vs", 2, reason="added twice")
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        if not complete_first:
            ws.entry.mark_complete(VS)
        ws.lifecycle.sign(VS, "dr.a", PW["dr.a"], "approval")
    return pair


@pytest.mark.parametrize("complete_first", [False, True])
@pytest.mark.parametrize("order", ORDERS)
def test_a_row_removed_there_and_a_signature_here_end_alike(tmp_path: Path, order: str,
                                                             complete_first: bool) -> None:
    pair = _removed_there_signed_here(tmp_path, complete_first=complete_first)
    before = FormStatus.COMPLETE if complete_first else FormStatus.DRAFT
    assert _status(pair, "B") == before and _status(pair, "A") == FormStatus.SIGNED
    r1, r2 = pair.exchange(order)
    assert r1.conflicts + r2.conflicts >= 1
    # the less advanced state (B's, over a removal nobody signed) on both; the row removed on both
    assert _status(pair, "A") == _status(pair, "B") == before
    assert _removed(pair, "A") and _removed(pair, "B")
    verify_clean(pair, "A")
    verify_clean(pair, "B")
    for which in ("A", "B"):
        assert "form" in _conflict_kinds(pair, which), which
    # A's investigator signs again what is now there; both next packets are taken
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        if not complete_first:
            ws.entry.mark_complete(VS)
        ws.lifecycle.sign(VS, "dr.a", PW["dr.a"], "approval")
    r3, r4 = pair.exchange("A->B then B->A")
    assert r3.conflicts == r4.conflicts == 0
    assert _status(pair, "A") == _status(pair, "B") == FormStatus.SIGNED
    verify_clean(pair, "A")
    verify_clean(pair, "B")


def test_the_import_says_the_form_state_kept_in_both_languages(tmp_path: Path) -> None:
    pair = _removed_there_signed_here(tmp_path, complete_first=True)
    b1 = pair.export("B")
    assert b1 is not None
    site, ws = pair.open("A")
    with site:
        outcome = Packets(ws.ctx, ws.study).import_file(b1)
    lines = [line for line in outcome.conflicts if "both workstations" in line.en]
    assert len(lines) == 1, [line.en for line in outcome.conflicts]
    assert "'Complete' is kept, not 'Signed'" in lines[0].en or "is kept, not 'Signed'" in lines[0].en, lines[0].en
    assert "« Signé »" in lines[0].fr, lines[0].fr


def test_the_removal_says_the_state_it_left_its_form_in(tmp_path: Path) -> None:
    """The record a removal writes names the form's state after it (what the merge and the replay read)."""
    pair = _removed_there_signed_here(tmp_path, complete_first=True)
    site, ws = pair.open("B")
    with site, ws.ctx.read() as s:
        said = s.execute(select(AuditEvent.new_value).where(AuditEvent.action == "row_remove")).scalars().all()
    assert said == ["complete"]


def test_a_removal_written_before_h79_replays_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A removal recorded by a workstation not yet upgraded (no state in its record) is no side of a form state
    conflict: taken as before h69/h79 (no form conflict, both alike, both trails clean)."""
    from msc_sle_crf.audit import Action
    from msc_sle_crf.services.context import Tx

    audit = Tx.audit

    def old_audit(self: Tx, action: Action, **kwargs: object) -> None:
        if action is Action.ROW_REMOVE:
            kwargs.pop("new_value", None)
        audit(self, action, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(Tx, "audit", old_audit)
        pair = _removed_there_signed_here(tmp_path, complete_first=True)
    site, ws = pair.open("B")
    with site, ws.ctx.read() as s:
        assert s.execute(select(AuditEvent.new_value).where(AuditEvent.action == "row_remove")).scalars().all() \
            == [None]
    pair.exchange("B->A then A->B")
    assert _status(pair, "A") == _status(pair, "B")
    assert "form" not in _conflict_kinds(pair, "A") + _conflict_kinds(pair, "B")
    verify_clean(pair, "A")
    verify_clean(pair, "B")
