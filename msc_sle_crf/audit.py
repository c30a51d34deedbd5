"""Append-only, hash-chained audit trail (ICH E6, 21 CFR Part 11 §11.10(e), EU Annex 11 §9).

Each record carries the SHA-256 of its canonical content, and that content includes the hash of the previous
record, so altering, removing or reordering any record breaks the chain from that point. Records are written in
the same transaction as the change they describe (see ``services``). SQLite triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from msc_sle_crf.clock import Clock, iso_utc

GENESIS_HASH = "0" * 64

# The order of the canonical fields is part of the format: never change it, add new fields at the end only
# together with a format version.
CANONICAL_FIELDS = (
    "id", "ts_utc", "utc_offset_min", "username", "role", "workstation", "action", "subject", "visit",
    "form", "item", "repeat_key", "old_value", "new_value", "reason", "detail", "prev_hash",
)


class Action(StrEnum):
    SITE_INIT = "site_init"
    SCHEMA_UPGRADE = "schema_upgrade"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    STATUS_CHANGE = "status_change"
    SIGN = "sign"
    SIGN_FAILED = "sign_failed"
    SIGNATURE_INVALIDATED = "signature_invalidated"
    SOURCE_VERIFIED = "source_verified"
    QUERY = "query"  # opened, answered, closed, re-opened
    DRAFT_SAVE = "draft_save"
    DATA_ENTRY = "data_entry"  # a value entered while the form is a draft (first entry, no reason needed)
    DATA_CHANGE = "data_change"  # a value changed on a completed form (reason for change required)
    ROW_ADD = "row_add"
    INFUSION_EVENT = "infusion_event"  # start, pause, resume, stop, time correction, reading not done, comment
    PRODUCT_CHECK = "product_check"
    TWO_PERSON_CHECK = "two_person_check"
    ROW_REMOVE = "row_remove"
    DRAFT_DISCARD = "draft_discard"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    ACCOUNT_LOCKED = "account_locked"
    LOGOUT = "logout"
    LOCK = "lock"
    UNLOCK = "unlock"
    USER_SWITCH = "user_switch"
    USER_ADD = "user_add"
    USER_DISABLE = "user_disable"
    PASSWORD_CHANGE = "password_change"  # noqa: S105 - an action name, not a password
    PASSWORD_RESET = "password_reset"  # noqa: S105
    RECOVERY_CODE_USED = "recovery_code_used"
    SETTING_CHANGE = "setting_change"
    ACCESS_DENIED = "access_denied"
    EXPORT = "export"
    PRINT = "print"
    BACKUP = "backup"
    RESTORE = "restore"
    AUDIT_VERIFY = "audit_verify"
    STEP_RECOVERED = "step_recovered"  # an interrupted multi-file step completed or undone at the next start
    TRAIL_LOSS_DETECTED = "trail_loss_detected"  # the trail ends before a record known (outside the WAL) to exist


@dataclass(frozen=True)
class AuditEntry:
    """What happened, before it gets an id, a time and a place in the chain."""

    action: Action
    username: str | None
    role: str | None
    subject: str | None = None
    visit: str | None = None
    form: str | None = None
    item: str | None = None
    repeat_key: str | None = None
    old_value: str | None = None
    new_value: str | None = None
    reason: str | None = None
    detail: str | None = None
    ts_utc: str | None = None  # set only when recording an event that happened earlier (pending sign-ins)
    utc_offset_min: int | None = None


def canonical_bytes(record: dict[str, Any]) -> bytes:
    ordered = {name: record[name] for name in CANONICAL_FIELDS}
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def record_hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(record)).hexdigest()


# One round trip: the last record (id, hash) and the AUTOINCREMENT high-water mark. Ids are never reused, so a
# removed tail shows up as a gap at the next append.
_TAIL_SQL = (
    "SELECT (SELECT id FROM audit_event ORDER BY id DESC LIMIT 1), "
    "(SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1), "
    "(SELECT seq FROM sqlite_sequence WHERE name = 'audit_event')"
)
_INSERT_SQL = (
    "INSERT INTO audit_event (" + ", ".join((*CANONICAL_FIELDS, "hash")) + ") VALUES ("  # noqa: S608 - constants
    + ", ".join("?" * (len(CANONICAL_FIELDS) + 1)) + ")"
)


def _next_id_and_prev_hash(session: Session) -> tuple[int, str]:
    last_id, last_hash, seq = session.connection().exec_driver_sql(_TAIL_SQL).one()
    next_id = max(int(last_id or 0), int(seq or 0)) + 1
    return next_id, (last_hash or GENESIS_HASH)


def append(session: Session, clock: Clock, workstation: str, entry: AuditEntry) -> dict[str, Any]:
    """Add one record to the chain inside the caller's transaction (which must hold the write lock).

    Returns the record as written (with its hash)."""
    session.flush()  # the change being audited reaches the database first, in the same transaction
    next_id, prev_hash = _next_id_and_prev_hash(session)
    record: dict[str, Any] = {
        "id": next_id,
        "ts_utc": entry.ts_utc or iso_utc(clock.now()),
        "utc_offset_min": entry.utc_offset_min if entry.utc_offset_min is not None else clock.local_offset_minutes(),
        "username": entry.username,
        "role": entry.role,
        "workstation": workstation,
        "action": str(entry.action),
        "subject": entry.subject,
        "visit": entry.visit,
        "form": entry.form,
        "item": entry.item,
        "repeat_key": entry.repeat_key,
        "old_value": entry.old_value,
        "new_value": entry.new_value,
        "reason": entry.reason,
        "detail": entry.detail,
        "prev_hash": prev_hash,
    }
    digest = record_hash(record)
    session.connection().exec_driver_sql(_INSERT_SQL, (*(record[f] for f in CANONICAL_FIELDS), digest))
    return {**record, "hash": digest}


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records: int
    first_bad_id: int | None = None
    problem: str | None = None
    last_id: int | None = None
    last_hash: str | None = None


_SELECT_ALL = "SELECT " + ", ".join((*CANONICAL_FIELDS, "hash")) + " FROM audit_event ORDER BY id"  # noqa: S608 - constant column names


def verify_rows(rows: Iterable[tuple[Any, ...]], anchor: dict[str, Any] | None = None,
                progress: Callable[[int], None] | None = None, *, first_id: int = 1,
                first_prev: str | None = GENESIS_HASH) -> VerifyResult:
    """Re-compute the chain over rows in id order (the columns of ``_SELECT_ALL``) and name the first record that
    does not hold. By default from the first record; ``first_id``/``first_prev`` start it further on
    (``first_prev=None``: the first row's link is taken as given)."""
    sha256 = hashlib.sha256
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    fields = CANONICAL_FIELDS

    def digest(row: tuple[Any, ...]) -> str:
        return sha256(dumps(dict(zip(fields, row[:17], strict=True))).encode("utf-8")).hexdigest()

    return _verify(((row[0], row[16], row[17], row) for row in rows), digest, anchor, progress, first_id,
                   first_prev)


def _verify(records: Iterable[tuple[int, str, str, Any]], digest: Callable[[Any], str],  # noqa: PLR0917
            anchor: dict[str, Any] | None, progress: Callable[[int], None] | None, first_id: int,
            first_prev: str | None) -> VerifyResult:
    """The chain rules over (id, link, stored hash, what the hash is recomputed from)."""
    expected_prev = first_prev
    expected_id = first_id
    count = 0
    last_id: int | None = None
    anchor_id = int(anchor["id"]) if anchor else None
    anchor_seen = False
    for rec_id, prev, stored, payload in records:
        if rec_id != expected_id:
            missing = f"#{expected_id}" if rec_id == expected_id + 1 else f"#{expected_id}-#{rec_id - 1}"
            return VerifyResult(False, count, rec_id, f"record(s) {missing} missing before this one", last_id,
                                expected_prev)
        if expected_prev is None:
            expected_prev = prev
        if prev != expected_prev:
            return VerifyResult(False, count, rec_id,
                                "its link to the previous record does not match (a record before it was "
                                "altered, removed or reordered)", last_id, expected_prev)
        if digest(payload) != stored:
            return VerifyResult(False, count, rec_id, "its content was altered after it was written", last_id,
                                expected_prev)
        if anchor_id == rec_id:
            if anchor is not None and anchor.get("hash") != stored:
                return VerifyResult(False, count, rec_id, "it differs from the copy anchored in the key file",
                                    last_id, expected_prev)
            anchor_seen = True
        expected_prev = stored
        expected_id = rec_id + 1
        last_id = rec_id
        count += 1
        if progress is not None and count % 100_000 == 0:
            progress(count)
    if anchor_id is not None and not anchor_seen:
        return VerifyResult(False, count, anchor_id,
                            "it was recorded earlier but is gone (the end of the trail was removed)",
                            last_id, expected_prev)
    return VerifyResult(True, count, None, None, last_id, expected_prev if count else None)


# The canonical content of each record made by SQLite itself (json_object writes what json.dumps with
# separators=(",", ":") and ensure_ascii=False writes: the same keys in the same order, UTF-8 as is, the same
# escapes): the chain is checked at the speed of reading it. Any record whose hash does not match this text is
# checked again the exact way (canonical_bytes) before it is called altered.
_SELECT_CANONICAL = ("SELECT id, prev_hash, hash, json_object("  # noqa: S608 - constant column names
                     + ", ".join(f"'{f}', {f}" for f in CANONICAL_FIELDS) + ") FROM audit_event ORDER BY id")
_SELECT_ONE = "SELECT " + ", ".join(CANONICAL_FIELDS) + " FROM audit_event WHERE id = ?"  # noqa: S608


def verify_connection(conn: Any, anchor: dict[str, Any] | None = None,
                      progress: Callable[[int], None] | None = None) -> VerifyResult:
    """Verify the whole trail through a raw DBAPI connection (no ORM objects; canonical text made by SQLite)."""
    cursor = conn.execute(_SELECT_CANONICAL)
    cursor.arraysize = 5000
    sha256 = hashlib.sha256

    def records() -> Iterable[tuple[int, str, str, Any]]:
        while True:
            batch = cursor.fetchmany()
            if not batch:
                return
            yield from batch

    def digest(payload: str) -> str:
        return sha256(payload.encode("utf-8")).hexdigest()

    def exact(rec_id: int, payload: str, stored: str) -> str:
        if digest(payload) == stored:
            return stored
        row = conn.execute(_SELECT_ONE, (rec_id,)).fetchone()
        return record_hash(dict(zip(CANONICAL_FIELDS, row, strict=True))) if row is not None else ""

    return _verify(((r, p, h, (r, js, h)) for r, p, h, js in records()), lambda x: exact(*x), anchor, progress,
                   1, GENESIS_HASH)


TAIL_RECORDS = 256  # what the opening checks: the newest records, whatever the size of the trail


def verify_tail(conn: Any, count: int = TAIL_RECORDS) -> VerifyResult:
    """The newest ``count`` records (raw DBAPI connection): each one's content against its hash, the links between
    them, no id missing. Constant time: what the opening of a database checks; the whole chain and the anchor are
    ``verify_connection`` (verify, backups, the check after sign-in)."""
    last = conn.execute("SELECT max(id) FROM audit_event").fetchone()[0]
    if last is None:
        return VerifyResult(True, 0)
    first = max(1, int(last) - count + 1)
    before = conn.execute("SELECT hash FROM audit_event WHERE id = ?", (first - 1,)).fetchone() if first > 1 else None
    prev = GENESIS_HASH if first == 1 else (str(before[0]) if before else None)
    rows = conn.execute(_SELECT_ALL.replace(" ORDER BY id", " WHERE id >= ? ORDER BY id"), (first,)).fetchall()
    return verify_rows(rows, first_id=first, first_prev=prev)
