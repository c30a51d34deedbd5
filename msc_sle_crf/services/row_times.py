"""One clock reading for a row's own time and its record's (issue 18).

A query's opening, each query message, a source-data verification mark and a conflict's resolution keep a time in
their row beside the audit record that says so. The record used to be stamped when its transaction ended
(``Tx.seal``), a few milliseconds after the row's time was read, so the replay (services/replay.py) compared them
within ``SKEW_SECONDS`` (60 s): an insider could shift such a time by up to a minute unseen. The writers now take
one reading (``row_time``) for the row and for the record (``AuditEntry.ts_utc``), and the replay compares them
exactly.

Records written before by older versions (and by workstations still running one) keep the tolerance. They are told
apart by a marker in the trail: the first time a workstation stamps a row's time this way, the same transaction
first writes a ``row_times`` record (item ``row_times``); the replay compares exactly every later timed record of
that workstation (its own records, and the copies of them other workstations and the hub hold: the marker travels
in the packets like any record). A workstation is found by the replay's own rule (``Replay.identity``): a copy's
origin, else the workstation this database was until its ``workstation_open`` record (WS-01), then its own.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from msc_sle_crf.audit import Action
from msc_sle_crf.store.tables import AuditEvent
from msc_sle_crf.sync.identity import this_workstation

if TYPE_CHECKING:
    from msc_sle_crf.services.context import Tx

MARKER_ITEM = "row_times"
MARKER_DETAIL = ("from here on, the time of a query, a query message, an SDV mark or a conflict resolution written on "
                 "this workstation is its record's own")
_MARKED: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()  # sites whose marker is committed
_WRITING: weakref.WeakSet[Any] = weakref.WeakSet()  # transactions that hold the marker, not yet committed


def markers(session: Session) -> Any:
    """The marker records (``audit.VERIFY_FIELDS``), in trail order: read through the (subject, form, item) index."""
    from msc_sle_crf import audit

    cols = [getattr(AuditEvent, f) for f in audit.VERIFY_FIELDS]
    return session.execute(select(*cols).where(
        AuditEvent.subject.is_(None), AuditEvent.form.is_(None), AuditEvent.item == MARKER_ITEM,
        AuditEvent.action == Action.ROW_TIMES.value).order_by(AuditEvent.id))


def _marked(session: Session) -> bool:
    """This workstation's own marker is in the trail (after the point it forked at: before it, its origin's)."""
    fork = this_workstation(session).fork
    after = int((fork or {}).get("id") or 0)
    return session.execute(select(AuditEvent.id).where(
        AuditEvent.subject.is_(None), AuditEvent.form.is_(None), AuditEvent.item == MARKER_ITEM,
        AuditEvent.action == Action.ROW_TIMES.value, AuditEvent.origin.is_(None), AuditEvent.id > after)
        .limit(1)).first() is not None


def row_time(tx: Tx) -> str:
    """The time to store in the row and to stamp its record with (``ts_utc=``); the marker is written first in this
    transaction when this workstation has none yet."""
    now = tx.ctx.now()
    site = tx.ctx.site
    if not _MARKED.get(site) and tx not in _WRITING:
        if _marked(tx.session):
            _MARKED[site] = True
        else:
            tx.audit(Action.ROW_TIMES, item=MARKER_ITEM, detail=MARKER_DETAIL)
            _WRITING.add(tx)
    return now
