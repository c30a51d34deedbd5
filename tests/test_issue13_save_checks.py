"""Issue 13: a save asks the database only what it must. The open conflicts of a form (issue 18) are read with the
form and kept with it between saves; a packet applied in the same process (which opens conflicts) drops the kept
form, so the next save still refuses without a reason and resolves with one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from msc_sle_crf.errors import ValidationError
from msc_sle_crf.store.tables import AuditEvent, ItemConflict
from msc_sle_crf.sync.service import Packets

from .test_issue18_packets import CREAT, PROTU, R1, Pair, edit_offline, pair  # noqa: F401  (pair: the fixture)


def _conflicts(ws) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with ws.ctx.read() as s:
        return [(c.item_id, c.status) for c in s.execute(select(ItemConflict)).scalars()]


@pytest.mark.parametrize("entered", ["91", "90"])  # a new value, or the value kept confirmed
def test_a_conflict_opened_in_this_process_is_seen_by_the_kept_form(pair: Pair, entered: str) -> None:  # noqa: F811
    edit_offline(pair)
    path = pair.export("B")
    assert path is not None
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(5)
        assert ws.entry.save_item(R1, PROTU, "0.6", reason="re-read").saved  # the form is kept after this save
        assert ws.entry.save_item(R1, PROTU, "0.7", reason="re-read").saved  # ... and used by this one
        assert Packets(ws.ctx, ws.study).import_file(path).result.conflicts == 1  # same process, same store
        assert _conflicts(ws) == [("CREAT", "open")]
        with pytest.raises(ValidationError):  # resolving needs a reason: a stale kept form would not know
            ws.entry.save_item(R1, CREAT, entered)
        assert _conflicts(ws) == [("CREAT", "open")]  # the refused save changed nothing
        pair.clock.advance(5)
        assert ws.entry.save_item(R1, CREAT, entered, reason="lab report checked").saved
        assert _conflicts(ws) == [("CREAT", "resolved")]
        with ws.ctx.read() as s:
            actions = [a for (a,) in s.execute(select(AuditEvent.action).where(AuditEvent.item == "CREAT"))]
        assert actions[-1] == "conflict_resolved"
        assert ws.entry.save_item(R1, CREAT, "93", reason="again").saved  # resolved: no longer asks
        assert _conflicts(ws) == [("CREAT", "resolved")]
