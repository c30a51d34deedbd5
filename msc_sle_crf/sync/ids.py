"""Globally unique row ids (docs/workstations.md, "Workstations"): rows of the tables whose ids appear inside signed
or hashed text get, on workstation n, ids in ``Workstation.id_range`` (WS-01: 1..10,000,000, as before).

One place: a ``before_flush`` hook on the store's write sessions gives every new object of those tables that has no
id yet the next id of this workstation's range (the highest id within the range + 1; never the whole table's: rows
imported from other workstations keep their own ids, far above). ``next_id`` does the same for the one raw-SQL
insert (a form instance). Rows given an id explicitly (an imported row) keep it. No Qt, no I/O beyond the session.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from msc_sle_crf.store.db import driver_statements
from msc_sle_crf.store.tables import (
    DataQuery,
    FormInstance,
    InfusionEvent,
    ItemVerification,
    QueryMessage,
    Signature,
    SiteSetting,
)
from msc_sle_crf.sync.identity import Workstation, this_workstation

RANGED: dict[type, str] = {cls: cls.__tablename__ for cls in (FormInstance, Signature, DataQuery, QueryMessage,
                                                              ItemVerification, InfusionEvent)}
RANGED_TABLES = frozenset(RANGED.values())
_WS_KEY = "msc_sle_crf.workstation"  # session.info: the identity read in this transaction
_KNOWN_KEY = "msc_sle_crf.workstation.known"  # session.info: the store's _Known (the same object in every session)
_TOUCHED_KEY = "msc_sle_crf.workstation.touched"  # session.info: this transaction writes site settings


class RangeExhausted(RuntimeError):
    """Ten million rows of one table on one workstation: not expected in a trial's life."""


class _Known:
    """This workstation's identity as the store's write sessions last read it, kept between transactions (it is
    read on every form started, row added and infusion day run). A transaction that writes any site setting (the
    identity is written once, when a forked copy is opened) drops it when it ends, committed or not; meanwhile that
    transaction reads the database itself."""

    __slots__ = ("ws",)

    def __init__(self) -> None:
        self.ws: Workstation | None = None


def workstation_of(session: Session) -> Workstation:
    """This workstation's identity, as seen by ``session``'s transaction."""
    info = session.info
    ws: Workstation | None = info.get(_WS_KEY)
    if ws is not None:
        return ws
    known: _Known | None = info.get(_KNOWN_KEY)  # None: not one of the store's write sessions
    trusted = known is not None and not info.get(_TOUCHED_KEY)
    ws = known.ws if trusted and known is not None else None
    if ws is None:
        with session.no_autoflush:
            ws = this_workstation(session)
        if trusted and known is not None:
            known.ws = ws
    if known is not None:  # forgotten when the transaction ends (_forget)
        info[_WS_KEY] = ws
    return ws


def _highest(execute: Any, table: str, low: int, high: int) -> int:
    if table not in RANGED_TABLES:
        raise ValueError(table)
    found = execute(f"SELECT max(id) FROM {table} WHERE id BETWEEN ? AND ?", (low, high)).fetchone()  # noqa: S608
    return int(found[0]) if found is not None and found[0] is not None else low - 1


def next_id(session: Session, table: str) -> int:
    """The id the next row of ``table`` created here gets (for a raw-SQL insert in this session's transaction)."""
    low, high = workstation_of(session).id_range
    candidate = _highest(driver_statements(session.connection()), table, low, high) + 1
    if candidate > high:
        raise RangeExhausted(table)
    return candidate


def _assign(session: Session, _flush_context: Any, _instances: Any) -> None:
    if any(isinstance(obj, SiteSetting) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info[_TOUCHED_KEY] = True  # the identity may change: read from the database until the end
        session.info.pop(_WS_KEY, None)
    new = [obj for obj in session.new if type(obj) in RANGED and getattr(obj, "id", None) is None]
    if not new:
        return
    low, high = workstation_of(session).id_range
    following: dict[str, int] = {}
    execute = driver_statements(session.connection())
    for obj in new:
        table = RANGED[type(obj)]
        if table not in following:
            following[table] = _highest(execute, table, low, high) + 1
        if following[table] > high:
            raise RangeExhausted(table)
        obj.id = following[table]
        following[table] += 1


def _forget(session: Session, transaction: Any) -> None:
    session.info.pop(_WS_KEY, None)  # the identity is read again in the next transaction (from _Known)
    if session.info.get(_TOUCHED_KEY):
        known: _Known | None = session.info.get(_KNOWN_KEY)
        if known is not None:
            known.ws = None  # settings were written (committed or not): read again
        if transaction.parent is None:
            session.info.pop(_TOUCHED_KEY, None)


def install(factory: sessionmaker[Session]) -> None:
    """Give the sessions ``factory`` makes the hook (the store's write sessions) and the identity they share."""
    factory.configure(info={_KNOWN_KEY: _Known()})
    event.listen(factory, "before_flush", _assign)
    event.listen(factory, "after_transaction_end", _forget)
