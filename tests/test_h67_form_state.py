"""h67: the form-state side of a conflict decided elsewhere (genuine packets, honest users). B marks R1 complete and
its monitor verifies it; A marks it complete (A's status change is the packet's). B applies A's packet: a form state
conflict, 'complete' kept (the less advanced). Meanwhile A's investigator signs the form. A then applies B's packet,
which "already carries the decision" (merge.py ``instances``: ``decided``): A's form is set to B's row, so A's
signature (made after everything B's packet knew) no longer makes the form signed, with no conflict said."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from msc_sle_crf.status import FormStatus
from tests.helpers.packets import PW, R1, Pair, make_pair


def _status(pair: Pair, which: str) -> FormStatus:
    site, ws = pair.open(which)
    with site:
        return ws.entry.statuses(R1.subject)[(R1.event, R1.form)]


def _scenario(tmp_path: Path, sign: bool) -> tuple[Pair, Any]:
    pair = make_pair(tmp_path)
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(60)
        ws.entry.mark_complete(R1)
    site, ws = pair.open("B", "monitor.m")
    with site:
        pair.clock.advance(60)
        ws.lifecycle.source_verify(R1)
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.entry.mark_complete(R1)
    a1 = pair.export("A")
    assert a1 is not None
    assert pair.import_("B", a1).conflicts == 1  # complete (A) kept over verified (B)
    if sign:
        site, ws = pair.open("A")
        with site:
            pair.clock.advance(60)
            ws.lifecycle.sign(R1, "dr.a", PW["dr.a"], "approval")
    b1 = pair.export("B")
    assert b1 is not None
    return pair, pair.import_("A", b1)


def test_control_without_a_later_signature(tmp_path: Path) -> None:
    pair, _result = _scenario(tmp_path, sign=False)
    assert _status(pair, "A") == _status(pair, "B") == FormStatus.COMPLETE


def test_a_signature_made_after_the_decided_conflict_is_not_silently_undone(tmp_path: Path) -> None:
    pair, result = _scenario(tmp_path, sign=True)
    assert _status(pair, "A") == FormStatus.SIGNED or result.conflicts >= 1, (_status(pair, "A"), result.conflicts)


def test_a_next_packet_is_taken_on_b(tmp_path: Path) -> None:
    pair, _result = _scenario(tmp_path, sign=True)
    a2 = pair.export("A")
    assert a2 is not None
    pair.import_("B", a2)
    assert _status(pair, "A") == _status(pair, "B")
