"""Globally unique row ids (docs/workstations.md, "Workstations"): rows of the tables whose ids appear inside signed
or hashed text get, on workstation n, ids in ``Workstation.id_range`` (WS-01: 1..10,000,000, as before).

One place: a ``before_flush`` hook on the store's write sessions gives every new object of those tables that has no
id yet the next id of this workstation's range (the highest id within the range + 1; never the whole table's: rows
imported from other workstations keep their own ids, far above). ``next_id`` does the same for the one raw-SQL
insert (a form instance). Rows given an id explicitly (an imported row) keep it. No Qt, no I/O beyond the session.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from msc_sle_crf.store.tables import DataQuery, FormInstance, InfusionEvent, ItemVerification, QueryMessage, Signature
from msc_sle_crf.sync.identity import Workstation, this_workstation

RANGED: dict[type, str] = {cls: cls.__tablename__ for cls in (FormInstance, Signature, DataQuery, QueryMessage,
                                                              ItemVerification, InfusionEvent)}
RANGED_TABLES = frozenset(RANGED.values())
_WS_KEY = "msc_sle_crf.workstation"


class RangeExhausted(RuntimeError):
    """Ten million rows of one table on one workstation: not expected in a trial's life."""


def _workstation(session: Session) -> Workstation:
    ws = session.info.get(_WS_KEY)
    if ws is None:
        with session.no_autoflush:
            ws = this_workstation(session)
        session.info[_WS_KEY] = ws
    return ws


def _highest(conn: Connection, table: str, low: int, high: int) -> int:
    if table not in RANGED_TABLES:
        raise ValueError(table)
    found = conn.execute(text(f"SELECT max(id) FROM {table} WHERE id BETWEEN :low AND :high"),  # noqa: S608
                         {"low": low, "high": high}).scalar()
    return int(found) if found is not None else low - 1


def next_id(session: Session, table: str) -> int:
    """The id the next row of ``table`` created here gets (for a raw-SQL insert in this session's transaction)."""
    low, high = _workstation(session).id_range
    candidate = _highest(session.connection(), table, low, high) + 1
    if candidate > high:
        raise RangeExhausted(table)
    return candidate


def _assign(session: Session, _flush_context: Any, _instances: Any) -> None:
    new = [obj for obj in session.new if type(obj) in RANGED and getattr(obj, "id", None) is None]
    if not new:
        return
    low, high = _workstation(session).id_range
    following: dict[str, int] = {}
    conn = session.connection()
    for obj in new:
        table = RANGED[type(obj)]
        if table not in following:
            following[table] = _highest(conn, table, low, high) + 1
        if following[table] > high:
            raise RangeExhausted(table)
        obj.id = following[table]
        following[table] += 1


def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(_WS_KEY, None)  # the identity is read again in the next transaction


def install(factory: sessionmaker[Session]) -> None:
    """Give the sessions ``factory`` makes the hook (the store's write sessions)."""
    event.listen(factory, "before_flush", _assign)
    event.listen(factory, "after_transaction_end", _forget)
