"""Append-only, hash-chained audit trail (ICH E6, 21 CFR Part 11 §11.10(e), EU Annex 11 §9).

Each record carries the SHA-256 of its canonical content, and that content includes the hash of the previous
record, so altering, removing or reordering any record breaks the chain from that point. Records are written in
the same transaction as the change they describe (see ``services``). SQLite triggers refuse UPDATE and DELETE.

Signed by its authors (issue 14): every record names the account whose session wrote it (``signer``), and the last
record of each transaction carries that account's Ed25519 signature over its id and hash, which covers, through the
chain, every record before it. ``verify`` checks each signature against the key bound to that account *at that
point of the trail*: keys are bound by the trail itself (the site's creation, an account's creation, a key change),
and only an administrator, the account itself (with its previous key) or the recovery code may bind one. Rewriting
the chain, re-attributing a record or appending one in another person's name therefore needs that person's
password. Records written before signing existed (an upgraded site) are accepted only before the first signed one.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from msc_sle_crf.access import Perm, Role, allowed
from msc_sle_crf.clock import Clock, iso_utc
from msc_sle_crf.security.personal import PublicKeys, Signer
from msc_sle_crf.security.personal import verify as verify_signature
from msc_sle_crf.store.db import driver_statements

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
    USER_ENABLE = "user_enable"  # a disabled account enabled again (with a one-time password and new keys)
    PASSWORD_CHANGE = "password_change"  # noqa: S105 - an action name, not a password
    PASSWORD_RESET = "password_reset"  # noqa: S105
    RECOVERY_CODE_USED = "recovery_code_used"
    SETTING_CHANGE = "setting_change"
    ACCESS_DENIED = "access_denied"
    EXPORT = "export"
    PRINT = "print"
    BACKUP = "backup"
    RESTORE = "restore"
    BACKUP_VERIFIED = "backup_verified"  # an automatic backup written, read back and checked; old ones pruned
    BACKUP_FAILED = "backup_failed"  # an automatic backup that could not be made (folder absent, disk full...)
    AUDIT_VERIFY = "audit_verify"
    STEP_RECOVERED = "step_recovered"  # an interrupted multi-file step completed or undone at the next start
    TRAIL_LOSS_DETECTED = "trail_loss_detected"  # the trail ends before a record known (outside the WAL) to exist
    KEY_BIND = "key_bind"  # an account's public keys (signing, sealing) bound to it from this point of the trail
    KEY_ROTATION = "key_rotation"  # the database re-keyed with a new random key; the remaining accounts re-sealed
    KEYFILE_ROLLBACK = "keyfile_rollback"  # an older key file than the database last saw was put back (refused)
    RECEIPT = "receipt"  # the trail head handed out (a receipt, a PDF, an export, a backup)
    CERTIFICATE = "certificate"  # the site CA made or imported, a personal certificate issued
    WORKSTATION_ADD = "workstation_add"  # another workstation of the site forked from this database (issue 18)
    WORKSTATION_OPEN = "workstation_open"  # a forked copy became its workstation: one record per identity setting
    SUBJECT_HANDOVER = "subject_handover"  # a subject's owning workstation changed (reason required)
    PACKET_EXPORT = "packet_export"  # a packet of this workstation's records written (issue 18)
    PACKET_IMPORT = "packet_import"  # another workstation's packet applied here (its records copied before it)
    MERGE_CONFLICT = "merge_conflict"  # two workstations changed the same thing from the same base: both kept
    CONFLICT_RESOLVED = "conflict_resolved"  # the right value entered where two workstations disagreed
    PACKET_SECRET = "packet_secret"  # noqa: S105 - the site's packet secret made (its fingerprint only, never it)
    ROW_TIMES = "row_times"  # this workstation stamps a row's own time and its record's from one reading (issue 18)


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
    # A copy of another workstation's record (issue 18): its original workstation and origin (JSON). The copy keeps
    # every canonical field of the original; only its id and prev_hash are this chain's.
    workstation: str | None = None
    origin: str | None = None


# What ``json.dumps(..., separators=(",", ":"), ensure_ascii=False)`` builds at every call, built once (the same
# encoder, the same text: it runs at every save, issue 13).
_CANONICAL_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def canonical_bytes(record: dict[str, Any]) -> bytes:
    ordered = {name: record[name] for name in CANONICAL_FIELDS}
    return _CANONICAL_JSON.encode(ordered).encode("utf-8")


def record_hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(record)).hexdigest()


# One round trip: the last record (id, hash) and the AUTOINCREMENT high-water mark. Ids are never reused, so a
# removed tail shows up as a gap at the next append.
_TAIL_SQL = (
    "SELECT (SELECT id FROM audit_event ORDER BY id DESC LIMIT 1), "
    "(SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1), "
    "(SELECT seq FROM sqlite_sequence WHERE name = 'audit_event')"
)
STORED_FIELDS = (*CANONICAL_FIELDS, "hash", "signer", "sig")
_INSERT_SQL = (
    "INSERT INTO audit_event (" + ", ".join(STORED_FIELDS) + ") VALUES ("  # noqa: S608 - constants
    + ", ".join("?" * len(STORED_FIELDS)) + ")"
)
_INSERT_UNSIGNED_SQL = (
    "INSERT INTO audit_event (" + ", ".join((*CANONICAL_FIELDS, "hash")) + ") VALUES ("  # noqa: S608 - constants
    + ", ".join("?" * (len(CANONICAL_FIELDS) + 1)) + ")"
)
_INSERT_ORIGIN_SQL = (
    "INSERT INTO audit_event (" + ", ".join((*STORED_FIELDS, "origin")) + ") VALUES ("  # noqa: S608 - constants
    + ", ".join("?" * (len(STORED_FIELDS) + 1)) + ")"
)
VERIFY_FIELDS = (*STORED_FIELDS, "origin")  # what the verifier reads: a copy's origin checks its author's signature
# The hub (issue 18) on PostgreSQL (its engine takes the same statements: hub.store converts the placeholders). The
# tail is read under a transaction-level advisory lock (the application role may only SELECT and INSERT the trail, so
# it cannot LOCK the table; the lock serialises appends as SQLite's BEGIN IMMEDIATE does). No high-water mark there:
# sqlite_sequence is SQLite's, and the role cannot delete.
PG_APPEND_LOCK = 0x4D5343_4155  # "MSC" "AU": the key of the advisory lock every hub writer takes first
_PG_TAIL_SQL = "SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1"
TX_CONTEXT = b"msc-sle-crf/audit-transaction/v1\x00"
# Events an account's session writes about someone else or about the system: failed sign-ins typed at its
# workstation, a recovery it completed, a loss it found. Every other record must be in the signer's own name.
WITNESSED = frozenset({"login_failed", "account_locked", "step_recovered", "trail_loss_detected", "restore",
                       "keyfile_rollback", "schema_upgrade"})
BINDING_ACTIONS = ("site_init", "user_add", "key_bind", "user_disable", "user_enable")
_WORKSTATION_RECORDS = ("workstation_add", "workstation_open")  # where trails part (issue 18: KeyDirectory)
RECOVERY_SIGNER = "#recovery"


def tx_message(record_id: int, record_hash: str) -> bytes:
    """What a transaction's author signs: the id and hash of its last record (the chain covers the rest)."""
    return TX_CONTEXT + f"{record_id}|{record_hash}".encode("ascii")


def _next_id_and_prev_hash(conn: Connection, execute: Callable[..., Any]) -> tuple[int, str]:
    if conn.dialect.name == "postgresql":
        execute(f"SELECT pg_advisory_xact_lock({PG_APPEND_LOCK})")
        tail = execute(_PG_TAIL_SQL).fetchone()
        return (int(tail[0]) + 1, str(tail[1])) if tail is not None else (1, GENESIS_HASH)
    last_id, last_hash, seq = execute(_TAIL_SQL).fetchone()
    next_id = max(int(last_id or 0), int(seq or 0)) + 1
    return next_id, (last_hash or GENESIS_HASH)


def _execute_batch(conn: Connection, execute: Callable[..., Any], batch: tuple[str, list[tuple[Any, ...]]]) -> None:
    """One record (a save) as one statement on the hot path's connection; many (a packet import) in one executemany
    (on a site's SQLite on the driver's connection, on the hub through SQLAlchemy, which converts the placeholders)."""
    sql, rows = batch
    if len(rows) == 1:
        execute(sql, rows[0])
    elif conn.dialect.name == "sqlite":
        conn.connection.driver_connection.executemany(sql, rows)  # type: ignore[union-attr]
    else:
        conn.exec_driver_sql(sql, rows)


def append_many(session: Session | Connection, clock: Clock, workstation: str, entries: Sequence[AuditEntry],
                signer: Signer | None) -> list[dict[str, Any]]:
    """Add records to the chain inside the caller's transaction (which must hold the write lock), the last one
    signed by ``signer`` (None only for tests and sites without personal keys). Returns the records as written.
    ``session``: the transaction's ORM session, or its connection when it has none (a value save)."""
    if not entries:
        return []
    if isinstance(session, Session):
        session.flush()  # the change being audited reaches the database first, in the same transaction
        conn = session.connection()
    else:
        conn = session
    execute = driver_statements(conn)
    next_id, prev_hash = _next_id_and_prev_hash(conn, execute)
    out = []
    batch: tuple[str, list[tuple[Any, ...]]] | None = None
    for n, entry in enumerate(entries):
        record: dict[str, Any] = {
            "id": next_id + n,
            "ts_utc": entry.ts_utc or iso_utc(clock.now()),
            "utc_offset_min": entry.utc_offset_min if entry.utc_offset_min is not None
            else clock.local_offset_minutes(),
            "username": entry.username,
            "role": entry.role,
            "workstation": entry.workstation or workstation,
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
        sig = None
        if signer is not None and n == len(entries) - 1:
            sig = base64.b64encode(signer.sign(tx_message(record["id"], digest))).decode("ascii")
        if signer is None:  # works on a trail from before the signature columns too (a recovery before upgrade)
            sql, values = _INSERT_UNSIGNED_SQL, (*(record[f] for f in CANONICAL_FIELDS), digest)
        elif entry.origin is not None:
            sql, values = _INSERT_ORIGIN_SQL, (*(record[f] for f in CANONICAL_FIELDS), digest, signer.username, sig,
                                               entry.origin)
        else:
            sql, values = _INSERT_SQL, (*(record[f] for f in CANONICAL_FIELDS), digest, signer.username, sig)
        if batch and batch[0] != sql:
            _execute_batch(conn, execute, batch)
            batch = None
        if batch is None:
            batch = (sql, [])
        batch[1].append(values)
        out.append({**record, "hash": digest, "signer": signer.username if signer is not None else None, "sig": sig,
                    "origin": entry.origin})
        prev_hash = digest
    if batch:  # consecutive records of one kind in one executemany (a packet import appends ~200,000)
        _execute_batch(conn, execute, batch)
    return out


def append(session: Session, clock: Clock, workstation: str, entry: AuditEntry,
           signer: Signer | None = None) -> dict[str, Any]:
    """Add one record (its own transaction's only record) to the chain; see ``append_many``."""
    return append_many(session, clock, workstation, [entry], signer)[-1]


# ----- keys bound by the trail -------------------------------------------------------------------------------------
@dataclass
class Account:
    """What the trail says about an account at a point: its role, whether it is active, its keys over time."""

    username: str
    role: str | None
    active: bool = True
    keys: list[tuple[int, PublicKeys]] = field(default_factory=list)  # (bound from record id, keys)
    bound_utc: list[str] = field(default_factory=list)  # when each of ``keys`` was bound
    legacy: bool = False  # created before signing existed: may introduce its own first key
    # Keys bound on other workstations of the site after they forked (issue 18), carried by their packets: by
    # workstation, (bound at, keys) in order. They check the copies of that workstation's records only.
    carried: dict[str, list[tuple[str, PublicKeys]]] = field(default_factory=dict)
    carried_disabled: dict[str, str] = field(default_factory=dict)  # workstation -> disabled there since
    # This trail's own changes of the account's state: (from record id, active). Another workstation's records are
    # judged by the state as that workstation had it (``KeyDirectory._active``): the shared part of the trail.
    status: list[tuple[int, bool]] = field(default_factory=list)
    carried_role: dict[str, str] = field(default_factory=dict)  # workstation -> the role it created the account with
    # Of ``carried_disabled``: the workstations whose disable was learnt (imported there), not made there; and the
    # origin time of the latest disable/enable each imported (the latest act holds there: store/account_state.py)
    learnt_off: set[str] = field(default_factory=set)
    learnt_utc: dict[str, str] = field(default_factory=dict)

    def role_on(self, ws: str | None) -> str | None:
        """The role the trail binds to this account for records written on workstation ``ws`` (None: here)."""
        return self.carried_role.get(ws or "", self.role) if ws else self.role

    def active_at(self, record_id: int | None) -> bool:
        """Whether this trail had the account enabled after record ``record_id`` (None: now)."""
        if record_id is None:
            return self.active
        state = True
        for since, active in self.status:
            if since <= record_id:
                state = active
        return state

    @property
    def current(self) -> PublicKeys | None:
        return self.keys[-1][1] if self.keys else None

    def key_at(self, record_id: int) -> PublicKeys | None:
        """The keys in force for a record with this id."""
        found = None
        for since, keys in self.keys:
            if since <= record_id:
                found = keys
        return found

    def key_at_time(self, ts_utc: str) -> PublicKeys | None:
        """The keys in force at a time (ISO UTC text): the last bound at or before it."""
        found = self.keys_at_time(ts_utc)
        return found[-1] if found else None

    def keys_at_time(self, ts_utc: str) -> list[PublicKeys]:
        """Every key in force at that time (two when a key was replaced at that very moment)."""
        out = []
        for n, ((_since, keys), bound) in enumerate(zip(self.keys, self.bound_utc, strict=False)):
            replaced = self.bound_utc[n + 1] if n + 1 < len(self.bound_utc) else None
            if bound <= ts_utc and (replaced is None or replaced >= ts_utc):
                out.append(keys)
        return out

    def add_key(self, since: int, keys: PublicKeys, ts_utc: str) -> None:
        self.keys.append((since, keys))
        self.bound_utc.append(ts_utc)

    def timeline(self, ws: str | None, shared_until: int | None = None) -> list[tuple[str, PublicKeys]]:
        """The keys as workstation ``ws`` bound them: this trail's bindings up to ``shared_until`` (the last record
        both trails share; None: all), then those bound there after (carried by its packets)."""
        own = [(bound, keys) for (since, keys), bound in zip(self.keys, self.bound_utc, strict=False)
               if shared_until is None or since <= shared_until + 1]
        theirs = self.carried.get(ws or "")
        if not theirs:
            return own
        return [(b, k) for b, k in own if b < theirs[0][0]] + theirs

    def keys_for(self, ws: str | None, ts_utc: str, shared_until: int | None = None) -> list[PublicKeys]:
        """Every key in force for a record written on workstation ``ws`` at that time (``keys_at_time`` for this
        trail's own records)."""
        disabled = self.carried_disabled.get(ws or "")
        if disabled is not None and disabled < ts_utc:
            return []
        line = self.timeline(ws, shared_until)
        out = []
        for n, (bound, keys) in enumerate(line):
            replaced = line[n + 1][0] if n + 1 < len(line) else None
            if bound <= ts_utc and (replaced is None or replaced >= ts_utc):
                out.append(keys)
        return out


def _keys_of(value: str | None, name: str = "keys") -> PublicKeys | None:
    try:
        data = json.loads(value or "")
        return PublicKeys.from_dict(data[name]) if isinstance(data, dict) and data.get(name) else None
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class Binding:
    record_id: int
    action: str
    account: str
    keys: PublicKeys | None
    role: str | None
    ts_utc: str = ""


def binding_of(row: Sequence[Any]) -> Binding | None:
    """The key binding (or account change) a record carries, if any. ``row`` in STORED_FIELDS order."""
    action = row[6]
    if action not in BINDING_ACTIONS:
        return None
    if action == "site_init":
        return Binding(row[0], action, RECOVERY_SIGNER, _keys_of(row[13], "recovery_keys"), "recovery", row[1])
    account = row[10]
    if not account:
        return None
    if action == "user_add":
        try:
            role = json.loads(row[13] or "{}").get("role")
        except (ValueError, AttributeError):
            role = None
        return Binding(row[0], action, str(account), _keys_of(row[13]), role, row[1])
    if action == "key_bind":
        return Binding(row[0], action, str(account), _keys_of(row[13]), None, row[1])
    return Binding(row[0], action, str(account), None, None, row[1])


class KeyDirectory:
    """The accounts and their keys, replayed from the trail in order (see the module's docstring)."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.signed_from: int | None = None  # the first signed record; unsigned records only come before it
        # Where this trail and another workstation's part (issue 18): the record this copy began after, the
        # workstations it forked (their workstation_add record), and which workstation each was forked from.
        self.fork_at: int | None = None
        self.added: dict[str, int] = {}
        self.parent: dict[str, str] = {}
        self.view: str | None = None  # checking a packet's own records as their workstation (``seen_from``)
        # The workstation whose trail this is, when known (a packet import): its own records relayed back by
        # another workstation are checked with every key it bound, not only those up to its fork.
        self.own: str | None = None

    def note_workstation(self, row: Sequence[Any]) -> None:
        """A ``workstation_add`` or ``workstation_open`` record (STORED_FIELDS order, ``origin`` after)."""
        own = len(row) <= _ORIGIN or row[_ORIGIN] is None
        try:
            data = json.loads(row[13] or "{}")
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        if row[6] == "workstation_add" and isinstance(data.get("ws"), str):
            if isinstance(data.get("from"), str):
                self.parent[data["ws"]] = data["from"]
            if own:
                self.added[data["ws"]] = int(row[0])
        elif row[6] == "workstation_open" and row[10] == "workstation_fork" and own:
            with contextlib.suppress(TypeError, ValueError):
                self.fork_at = int(data["id"])

    def shared_until(self, ws: str | None) -> int | None:
        """The last record of this trail that workstation ``ws`` holds too (None: not known: all of it)."""
        if ws is not None and ws == self.own:  # this trail's own records: all of it is "shared" with itself
            return None
        seen = set()
        while ws and ws not in seen:
            seen.add(ws)
            if ws in self.added:
                return self.added[ws]
            ws = self.parent.get(ws)
        return self.fork_at

    def keys_for(self, username: str | None, ws: str | None, ts_utc: str) -> list[PublicKeys]:
        """The keys in force for a record by ``username`` written on workstation ``ws`` at that time."""
        account = self.get(username)
        return account.keys_for(ws, ts_utc, self.shared_until(ws)) if account is not None else []

    def get(self, username: str | None) -> Account | None:
        return self.accounts.get(username or "")

    def note_unsigned(self, binding: Binding) -> None:
        """A binding in the unsigned (pre-signing) part of an upgraded site's trail."""
        if binding.action in ("user_add", "site_init"):
            acct = Account(binding.account, binding.role, legacy=True)
            if binding.keys is not None:
                acct.add_key(binding.record_id, binding.keys, binding.ts_utc)
            self.accounts[binding.account] = acct
        elif binding.action == "user_disable" and binding.account in self.accounts:
            self.accounts[binding.account].active = False
            self.accounts[binding.account].status.append((binding.record_id, False))

    def authorise(self, signer: str, bindings: list[Binding],  # noqa: PLR0911 - one rule per return
                  *, refusal_only: bool = False) -> tuple[PublicKeys | None, str | None]:
        """``refusal_only``: the transaction only records that the program refused this account (a disabled
        account's session still open in this program is told so, and that is audited with its key)."""
        """The key that must have signed a transaction by ``signer`` holding ``bindings``, or a problem."""
        account = self.accounts.get(signer)
        own_new = next((b.keys for b in bindings if b.account == signer and b.keys is not None), None)
        if self.signed_from is None and not self.accounts and own_new is not None:
            return own_new, None  # the site's creation: the first administrator binds their own key
        if account is None:
            return None, f"signed by '{signer}', who has no account at this point of the trail"
        current = self._current(account)
        if current is None:
            if account.legacy and own_new is not None:
                return own_new, None  # an account from before signing existed introduces its first key
            return None, f"signed by '{signer}', who has no key bound at this point of the trail"
        if not self._active(account) and not (refusal_only and not bindings):
            if self.view is not None and self.shared_until(self.view) is not None:  # as that workstation had it
                return None, (f"signed by '{signer}', whose account {self.view} already had as disabled when it "
                              "wrote this record")
            return None, f"signed by '{signer}', whose account was disabled earlier in the trail"
        admin = account.role == "admin"
        for b in bindings:
            if b.action == "site_init":
                return None, "a second site creation record"
            if b.action in ("user_add", "user_disable", "user_enable") and not admin:
                return None, f"'{signer}' ({account.role}) may not create or disable accounts"
            if b.action == "key_bind" and not (admin or signer in {RECOVERY_SIGNER, b.account}):
                return None, f"'{signer}' ({account.role}) may not bind keys to '{b.account}'"
        return current, None

    def _current(self, account: Account) -> PublicKeys | None:
        if self.view is None:
            return account.current
        line = account.timeline(self.view, self.shared_until(self.view))
        return line[-1][1] if line else None

    def _active(self, account: Account) -> bool:
        """Whether the account may sign here: for a packet's own records (``view``), as their workstation had it
        when it wrote them: the state in the trail both share (up to the fork), then what that workstation did or
        learnt since (its own account records, the disables it imported: ``KeyDirectory.learnt``). A disable
        made here after the fork, which that workstation had not heard of, does not make its older records
        forgeries (docs/workstations.md, "A disabled account")."""
        if self.view is None:
            return account.active
        if self.view in account.carried_disabled:
            return False
        if self.view in account.carried:
            return True
        return account.active_at(self.shared_until(self.view))

    def learnt_through(self, ws: str, through_id: int, ts_utc: str) -> None:
        """Workstation ``ws`` imported, at ``ts_utc``, a packet of this trail's records up to ``through_id`` (its
        ``packet_import`` record, copied back here): the accounts this trail had disabled by then were disabled for
        its records from that time on."""
        for acct in self.accounts.values():
            if acct.status and ws not in acct.carried_disabled and not acct.active_at(through_id):
                acct.carried_disabled[ws] = ts_utc
                acct.learnt_off.add(ws)
            elif acct.active_at(through_id) and ws in acct.learnt_off:  # our enable after our disable reached it
                acct.carried_disabled.pop(ws, None)
                acct.learnt_off.discard(ws)

    def learnt(self, bindings: list[Binding], ts_utc: str) -> None:
        """Copies of other workstations' account disables that the workstation of ``view`` imported (records of
        its packet, at its import time ``ts_utc``): from then on, that workstation had the account disabled, until
        it imported a later enable made elsewhere (issue 18: the latest by origin time holds there; a disable made
        there is lifted only by an enable made there)."""
        if self.view is None:
            return
        for b in bindings:
            acct = self.accounts.get(b.account)
            if acct is None or b.action not in ("user_disable", "user_enable") \
                    or b.ts_utc < acct.learnt_utc.get(self.view, ""):
                continue
            acct.learnt_utc[self.view] = b.ts_utc
            if b.action == "user_disable" and self.view not in acct.carried_disabled:
                acct.carried_disabled[self.view] = ts_utc
                acct.learnt_off.add(self.view)
            elif b.action == "user_enable" and self.view in acct.learnt_off:
                acct.carried_disabled.pop(self.view, None)
                acct.learnt_off.discard(self.view)

    def apply(self, bindings: list[Binding]) -> None:
        if self.view is not None:  # a packet's own records, checked as its workstation (``seen_from``)
            self._carry(self.view, bindings)
            return
        for b in bindings:
            if b.action in ("site_init", "user_add"):
                acct = Account(b.account, b.role, status=[(b.record_id, True)])
                if b.keys is not None:
                    acct.add_key(b.record_id, b.keys, b.ts_utc)
                before = self.accounts.get(b.account)
                if before is not None:  # what other workstations bound to that name stays theirs
                    acct.carried, acct.carried_disabled = before.carried, before.carried_disabled
                    acct.carried_role, acct.learnt_off, acct.learnt_utc = (before.carried_role, before.learnt_off,
                                                                           before.learnt_utc)
                self.accounts[b.account] = acct
            elif b.action == "key_bind" and b.keys is not None:
                acct = self.accounts.setdefault(b.account, Account(b.account, None))
                acct.add_key(b.record_id + 1, b.keys, b.ts_utc)  # in force after the transaction that bound it
                acct.active = True
                acct.status.append((b.record_id, True))
            elif b.action == "user_disable" and b.account in self.accounts:
                self.accounts[b.account].active = False
                self.accounts[b.account].status.append((b.record_id, False))
            elif b.action == "user_enable" and b.account in self.accounts:
                self.accounts[b.account].active = True
                self.accounts[b.account].status.append((b.record_id, True))

    def seen_from(self, ws: str) -> KeyDirectory:
        """The directory as workstation ``ws`` has it, as far as its packets told (a packet's own records are
        checked with it): the transactions it signs are checked with each account's keys as ``ws`` bound them
        (``Account.timeline``) and what they bind is bound for ``ws``; copies of other workstations' records in it
        are checked as everywhere (``keys_for``)."""
        out = copy.deepcopy(self)
        out.view = ws
        return out

    def carry(self, ws: str, signer: str, bindings: list[Binding]) -> str | None:
        """Account records made on workstation ``ws`` (copies whose author's signature was checked), applied for
        that workstation's records only, when their author could make them there: accounts created, disabled or
        enabled by an administrator; keys bound by an administrator or by the account itself. None: applied."""
        account = self.accounts.get(signer)
        admin = account is not None and account.role == "admin"
        for b in bindings:
            if b.action == "site_init":
                return f"a site creation record copied from {ws}"
            if b.action in ("user_add", "user_disable", "user_enable") and not admin:
                return f"'{signer}' may not create or disable accounts (copied from {ws})"
            if b.action == "key_bind" and not (admin or signer in {RECOVERY_SIGNER, b.account}):
                return f"'{signer}' may not bind keys to '{b.account}' (copied from {ws})"
        self._carry(ws, bindings)
        return None

    def _carry(self, ws: str, bindings: list[Binding]) -> None:
        for b in bindings:
            acct = self.accounts.get(b.account)
            if acct is None:
                if b.action != "user_add":
                    continue
                acct = self.accounts[b.account] = Account(b.account, b.role, keys=[], bound_utc=[])
            if b.action in ("user_add", "key_bind", "user_enable") and b.keys is not None:
                line = acct.carried.setdefault(ws, [])
                line.append((b.ts_utc, b.keys))
                line.sort(key=lambda entry: entry[0])
            if b.action == "user_add" and b.role:
                acct.carried_role[ws] = b.role
            if b.action in ("user_add", "user_enable"):
                acct.carried_disabled.pop(ws, None)
                acct.learnt_off.discard(ws)
            elif b.action == "user_disable":
                acct.carried_disabled[ws] = b.ts_utc
                acct.learnt_off.discard(ws)  # that workstation's own act now

    def fix_bootstrap(self, bindings: list[Binding]) -> None:
        """Bindings made by the transaction that also needed them to verify (site creation, a first key): in
        force from their own record on."""
        for b in bindings:
            acct = self.accounts.get(b.account)
            if acct is not None and acct.keys and acct.keys[-1][1] == b.keys:
                acct.keys[-1] = (b.record_id, b.keys)


# ----- roles (attack report A8; issue 18 insider round) ------------------------------------------------------------
# Every audited action a permission governs (access.py), as the services require it: an e-signature, an SDV mark, a
# lock; what is entered on a form (its entry kind: nursing or clinical, from the study); a query raised, closed or
# re-opened (MANAGE_QUERIES) or answered (the form's entry permission); an infusion-day event; a site setting; a
# workstation added. A record of such an action is refused unless the role the trail binds to its author then holds
# that permission. Records the program makes for whoever is signed in (a conflict found at import, its automatic
# query, a signature voided by a change, drafts) are not judged by role. ``ROLE_PERMS``: the actions judged.
_FORM = "form"  # the action needs the form's entry permission (ENTER_NURSING_DATA or ENTER_CLINICAL_DATA)
_UNLOCK = "unlock"  # a locked form or subject unlocked: a role of the study's ``unlock_roles``
ROLE_PERMS: dict[str, Perm | str] = {
    "sign": Perm.SIGN_INVESTIGATOR_FORMS, "source_verified": Perm.VERIFY_SOURCE_DATA,
    "data_entry": _FORM, "data_change": _FORM, "row_add": _FORM, "row_remove": _FORM, "conflict_resolved": _FORM,
    "create": _FORM, "status_change": _FORM, "query": _FORM,
    "infusion_event": Perm.ENTER_NURSING_DATA, "product_check": Perm.ENTER_NURSING_DATA,
    "two_person_check": Perm.ENTER_NURSING_DATA,
    "setting_change": Perm.EDIT_SITE_SETTINGS, "workstation_add": Perm.MANAGE_WORKSTATIONS,
}
_QUERY_KIND = re.compile(r"query #\d+ (\w+): ")
_MONITOR_QUERY_KINDS = frozenset({"open", "close", "reopen"})  # an answer is the site's; "auto" is the program's


@dataclass(frozen=True)
class StudyRoles:
    """What the study says about roles: each form's entry permission, who may unlock."""

    form_perms: dict[str, Perm]
    unlock_roles: frozenset[str]


_study_roles: list[tuple[Any, StudyRoles]] = []  # (the study, what it says), the last one asked
_may: dict[tuple[Any, ...], bool] = {}  # role_conflict's memo of role_may


def study_roles() -> StudyRoles:
    """The study this program runs: the one this process already compiled (``formdef.load_study``), else compiled
    now (once: about 0.4 s). Asked only for what depends on it (a nurse's record on a form, an unlock)."""
    from msc_sle_crf import formdef

    study = next(iter(formdef._compiled.values()), None) or formdef.load_study()  # its cache: read only
    if _study_roles and _study_roles[0][0] is study:
        return _study_roles[0][1]
    rules = StudyRoles({f.id: Perm.ENTER_NURSING_DATA if f.entry == "nursing" else Perm.ENTER_CLINICAL_DATA
                        for f in study.forms.values()}, frozenset(study.meta.signatures.unlock_roles))
    _study_roles[:] = [(study, rules)]
    _may.clear()  # what was decided with another study
    return rules


def needed_perm(row: Sequence[Any]) -> Perm | str | None:  # noqa: PLR0911
    """The permission the action of ``row`` (STORED_FIELDS order) needs; ``_FORM`` (the form's entry permission) or
    ``_UNLOCK`` (a role of the study's unlock_roles); None: not judged by role (the program's own records)."""
    action = str(row[6])
    need = ROLE_PERMS.get(action)
    if need != _FORM:
        return need
    if action == "query":
        match = _QUERY_KIND.match(row[15] or "")
        if match is None or match.group(1) == "auto":
            return None
        if match.group(1) in _MONITOR_QUERY_KINDS:
            return Perm.MANAGE_QUERIES
    elif action == "create" and row[9] == "subject":
        return Perm.REGISTER_SUBJECT
    elif action == "status_change":
        if row[13] == "locked":
            return Perm.LOCK_FORMS
        if row[12] == "locked":
            return _UNLOCK
        if row[9] == "subject":
            return None
    return _FORM


def role_may(role: Role, row: Sequence[Any]) -> bool:
    """Whether ``role`` may do what ``row`` records (``needed_perm``). A role with both entry permissions may enter
    on any form, one with neither on none; one with either (a nurse) on the forms of that entry kind in the study
    (a form the study does not have: not judged)."""
    need = needed_perm(row)
    if need is None:
        return True
    if need == _UNLOCK:
        return role.value in study_roles().unlock_roles
    if need != _FORM:
        return allowed(role, Perm(need))
    nursing, clinical = allowed(role, Perm.ENTER_NURSING_DATA), allowed(role, Perm.ENTER_CLINICAL_DATA)
    if nursing == clinical:
        return nursing
    perm = study_roles().form_perms.get(str(row[9]))
    return perm is None or allowed(role, perm)


@dataclass(frozen=True)
class RoleConflict:
    """A record whose role is not the one the trail binds to its author then, or whose author's role may not do
    what it records."""

    record_id: int
    account: str
    claimed: str
    bound: str
    action: str
    may_not: bool = False  # the role is right, but that role may not do what the record does

    def text(self) -> str:
        if self.may_not:
            return (f"record #{self.record_id} ({self.action}) is by '{self.account}', whose role '{self.bound}' may "
                    "not do that")
        return (f"record #{self.record_id} is in the name of '{self.account}' as '{self.claimed}', but the trail "
                f"binds '{self.account}' to the role '{self.bound}' at that time")


def role_conflict(directory: KeyDirectory, row: Sequence[Any], ws: str | None = None) -> RoleConflict | None:
    """``row`` (STORED_FIELDS order) against its author's account as the trail binds it at this point, on
    workstation ``ws`` for a copy of (or a packet's own) record of another workstation. Records of no account (the
    system's, the recovery code's) and accounts the trail gives no role are not judged."""
    author, claimed, action = row[3], row[4], row[6]
    if not author or claimed is None:
        return None
    account = directory.get(str(author))
    if account is None:
        return None
    bound = account.role_on(ws)
    if bound is None or bound == "recovery" or str(author) == RECOVERY_SIGNER:
        return None
    if claimed != bound:
        return RoleConflict(int(row[0]), str(author), str(claimed), bound, str(action))
    if action in ROLE_PERMS and bound in _ROLES:
        # what decides (role, action, form, a lock either way, a query's kind): memoised, verify's hot loop
        query_kind = _QUERY_KIND.match(row[15] or "") if action == "query" else None
        memo = (bound, action, row[9], row[12] == "locked", row[13] == "locked",
                query_kind.group(1) if query_kind else None)
        may = _may.get(memo)
        if may is None:
            may = _may[memo] = role_may(Role(bound), row)
        if not may:
            return RoleConflict(int(row[0]), str(author), str(claimed), bound, str(action), may_not=True)
    return None


_ROLES = frozenset(r.value for r in Role)


# ----- verification ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records: int
    first_bad_id: int | None = None
    problem: str | None = None
    last_id: int | None = None
    last_hash: str | None = None
    signatures_checked: int = 0


_SELECT_ALL = "SELECT " + ", ".join(STORED_FIELDS) + " FROM audit_event ORDER BY id"  # noqa: S608 - constant column names
_SIG_CACHE_MAX = 64


class TrailVerifier:
    """Re-computes the chain over rows in id order, checks every transaction's signature against the key bound to
    its signer at that point, and names the first record that does not hold. Memory: the accounts and the records
    of one transaction at a time."""

    def __init__(self, anchor: dict[str, Any] | None = None, trusted_through: tuple[int, str] | None = None,
                 observer: Callable[[Sequence[Any]], None] | None = None) -> None:
        self.anchor = anchor
        self.directory = KeyDirectory()
        self.observer = observer  # sees every record whose chain link and hash hold (the data replay)
        # Signatures up to this (id, hash) were checked by this verifier's own earlier, signed check: not again.
        self.trusted_through = trusted_through
        self.signatures_checked = 0

    def run(self, rows: Iterable[Sequence[Any]],  # noqa: PLR0911, PLR0912, PLR0915 - one pass, hot loop
            progress: Callable[[int], None] | None = None) -> VerifyResult:
        sha256 = hashlib.sha256
        dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        fields = CANONICAL_FIELDS
        expected_prev = GENESIS_HASH
        expected_id = 1
        count = 0
        last_id: int | None = None
        anchor = self.anchor
        anchor_id = int(anchor["id"]) if anchor else None
        anchor_seen = False
        trusted_id, trusted_hash = self.trusted_through or (0, "")
        directory = self.directory
        run_rows: list[Sequence[Any]] = []
        run_bindings: list[Binding] = []
        observer = self.observer

        def fail(rec_id: int, problem: str) -> VerifyResult:
            return VerifyResult(False, count, rec_id, problem, last_id, expected_prev, self.signatures_checked)

        for row in rows:
            rec_id = row[0]
            if rec_id != expected_id:
                missing = f"#{expected_id}" if rec_id == expected_id + 1 else f"#{expected_id}-#{rec_id - 1}"
                return fail(rec_id, f"record(s) {missing} missing before this one")
            if row[16] != expected_prev:
                return fail(rec_id, "its link to the previous record does not match (a record before it was "
                                    "altered, removed or reordered)")
            if len(row) > len(VERIFY_FIELDS):  # the canonical text made by SQLite (verify_connection): fast path
                digest = sha256(row[-1].encode("utf-8")).hexdigest()
                if digest != row[17]:  # checked again the exact way before it is called altered
                    digest = sha256(dumps(dict(zip(fields, row[:17], strict=True))).encode("utf-8")).hexdigest()
            else:
                digest = sha256(dumps(dict(zip(fields, row[:17], strict=True))).encode("utf-8")).hexdigest()
            if digest != row[17]:
                return fail(rec_id, "its content was altered after it was written")
            if anchor_id == rec_id:
                if anchor is not None and anchor.get("hash") != row[17]:
                    return fail(rec_id, "it differs from the copy anchored in the key file")
                anchor_seen = True
            if rec_id == trusted_id and row[17] != trusted_hash:
                return fail(rec_id, "it differs from the record an earlier check of this trail signed for")
            if row[6] in _WORKSTATION_RECORDS:
                directory.note_workstation(row)
            signer, sig = row[18], row[19]
            # a copy of another workstation's record binds nothing here (its accounts' keys are this trail's)
            binding = binding_of(row) if len(row) <= _ORIGIN or row[_ORIGIN] is None else None
            if signer is None:
                if directory.signed_from is not None:
                    return fail(rec_id, "it carries no signature (written outside the program, or its author is "
                                        "unknown)")
                if binding is not None:
                    directory.note_unsigned(binding)
                if observer is not None:
                    observer(row)
            else:
                if run_rows and run_rows[0][18] != signer:
                    return fail(rec_id, f"it is in a transaction begun by '{run_rows[0][18]}' but names "
                                        f"'{signer}' as its signer")
                run_rows.append(row)
                if binding is not None:
                    run_bindings.append(binding)
                if sig is not None:
                    problem = self._seal(run_rows, run_bindings, rec_id, row[17], sig, rec_id <= trusted_id)
                    if problem is not None:
                        return fail(rec_id, problem)
                    if observer is not None:
                        for r in run_rows:
                            observer(r)
                    run_rows = []
                    run_bindings = []
            expected_prev = row[17]
            expected_id = rec_id + 1
            last_id = rec_id
            count += 1
            if progress is not None and count % 100_000 == 0:
                progress(count)
        if run_rows:
            return VerifyResult(False, count, run_rows[0][0],
                                f"record(s) #{run_rows[0][0]}-#{run_rows[-1][0]} were never signed by their author "
                                "(written outside the program)", last_id, expected_prev, self.signatures_checked)
        if anchor_id is not None and not anchor_seen:
            return VerifyResult(False, count, anchor_id,
                                "it was recorded earlier but is gone (the end of the trail was removed)",
                                last_id, expected_prev, self.signatures_checked)
        return VerifyResult(True, count, None, None, last_id, expected_prev if count else None,
                            self.signatures_checked)

    def _seal(self, run_rows: list[Sequence[Any]], bindings: list[Binding], rec_id: int,  # noqa: PLR0911, PLR0917
              rec_hash: str, sig: str, trusted: bool) -> str | None:
        """Check one transaction: who may sign it, the signature, and that its records are in the signer's name."""
        directory = self.directory
        signer = str(run_rows[-1][18])
        key, problem = directory.authorise(signer, bindings,
                                           refusal_only=all(r[6] == "access_denied" for r in run_rows))
        if problem is not None or key is None:
            return problem or f"signed by '{signer}', who has no key"
        if not trusted:
            try:
                raw = base64.b64decode(sig, validate=True)
            except (ValueError, TypeError):
                return "its signature is not readable"
            self.signatures_checked += 1
            if not verify_signature(key.sign, raw, tx_message(rec_id, rec_hash)):
                return (f"its signature is not {signer}'s (the record or one before it was altered, or it was "
                        f"written by someone else in {signer}'s name)")
        account = directory.get(signer)
        problem = self._copies(run_rows)
        if problem is not None:
            return problem
        own_role = account.role_on(directory.view) if account is not None else None  # the common case, once
        for r in run_rows:
            author = r[3]
            if len(r) > _ORIGIN and r[_ORIGIN] is not None:
                continue  # a copy: its original's author and signature were checked above
            if author not in (None, signer) and r[6] not in WITNESSED and not (
                    account is not None and not account.active and r[6] == "access_denied"):
                return f"record #{r[0]} is in the name of '{author}' but was signed by '{signer}'"
            if (author != signer or r[4] != own_role or r[6] in ROLE_PERMS) and r[4] is not None:
                conflict = role_conflict(directory, r, directory.view)
                if conflict is not None:
                    return conflict.text()
        bootstrap = directory.signed_from is None
        if directory.signed_from is None:
            directory.signed_from = int(run_rows[0][0])
        directory.apply(bindings)
        if bootstrap or (account is not None and account.legacy and len(account.keys) == 1
                         and account.keys[0][1] == key):
            directory.fix_bootstrap([b for b in bindings if b.keys == key])
        return None


    def _copies(self, run_rows: list[Sequence[Any]]) -> str | None:
        """Copies of other workstations' records (issue 18) in one local transaction: each one's hash recomputed
        with its original id and link equals the original's; the copies of one original transaction follow each
        other (ids and links) and end with the original author's signature, checked with the key bound to that
        author at the time of the record."""
        return check_copies(self.directory, run_rows)


_ORIGIN = len(STORED_FIELDS)  # the origin column's index in VERIFY_FIELDS rows


def parse_origin(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def original_hash(row: Sequence[Any], origin: dict[str, Any]) -> str:
    """The hash of the original of a copied record: its canonical fields with the original's id and link."""
    record = dict(zip(CANONICAL_FIELDS, row[:17], strict=True))
    record["id"] = origin.get("id")
    record["prev_hash"] = origin.get("prev")
    return record_hash(record)


def check_copies(directory: KeyDirectory, rows: Sequence[Sequence[Any]]) -> str | None:  # noqa: PLR0911, PLR0912
    """See ``TrailVerifier._copies``; rows in VERIFY_FIELDS order (shorter rows hold no copies)."""
    group: list[dict[str, Any]] = []
    group_rows: list[Sequence[Any]] = []
    first_id = 0
    for r in rows:
        origin = parse_origin(r[_ORIGIN]) if len(r) > _ORIGIN else None
        if origin is None:
            if group:
                return (f"records #{first_id}-#{r[0] - 1} are copies of another workstation's records that do not "
                        "end with their author's signature (a copy was cut or forged)")
            continue
        try:
            o_ws, o_id, o_prev, o_hash = str(origin["ws"]), int(origin["id"]), str(origin["prev"]), str(origin["hash"])
            o_signer, o_sig = str(origin["signer"]), origin.get("sig")
        except (KeyError, TypeError, ValueError):
            return f"record #{r[0]} claims to be a copy but its origin is not readable"
        if original_hash(r, origin) != o_hash:
            return (f"record #{r[0]} is a copy of {o_ws} #{o_id} whose content differs from the original (edited "
                    "after it was written, or a made-up origin)")
        if group:
            last = group[-1]
            if (o_ws, o_id, o_prev) != (last["ws"], int(last["id"]) + 1, last["hash"]):
                return (f"record #{r[0]} is a copy of {o_ws} #{o_id} that does not follow the copy before it "
                        f"({last['ws']} #{last['id']}): a record of the original transaction is missing")
        else:
            first_id = int(r[0])
        author = r[3]
        if author not in (None, o_signer) and r[6] not in WITNESSED:
            return (f"record #{r[0]} (a copy of {o_ws} #{o_id}) is in the name of '{author}' but was signed by "
                    f"'{o_signer}'")
        conflict = role_conflict(directory, r, o_ws)
        if conflict is not None:
            return f"{conflict.text()} (a copy of {o_ws} #{o_id})"
        group.append({"ws": o_ws, "id": o_id, "hash": o_hash})
        group_rows.append(r)
        if o_sig is not None:
            account = directory.get(o_signer)
            try:
                raw = base64.b64decode(str(o_sig), validate=True)
            except (ValueError, TypeError):
                return f"record #{r[0]}: the signature of its original ({o_ws} #{o_id}) is not readable"
            keys = directory.keys_for(o_signer, o_ws, str(r[1])) if account is not None else []
            if not any(verify_signature(k.sign, raw, tx_message(o_id, o_hash)) for k in keys):
                return (f"record #{r[0]} is a copy of {o_ws} #{o_id} whose signature is not {o_signer}'s (forged, or "
                        f"signed with a key {o_ws} did not bind to {o_signer} at that time, as far as its packets "
                        "applied here tell)")
            carried = [b for b in (binding_of(g) for g in group_rows) if b is not None]
            if carried:  # the account records of that workstation travel with its packets (issue 18)
                problem = directory.carry(o_ws, o_signer, carried)
                if problem is not None:
                    return f"record #{r[0]}: {problem}"
            group = []
            group_rows = []
    if group:
        return (f"records #{first_id}-#{rows[-1][0]} are copies of another workstation's records that do not end "
                "with their author's signature (a copy was cut or forged)")
    return None


def verify_rows(rows: Iterable[Sequence[Any]], anchor: dict[str, Any] | None = None,
                progress: Callable[[int], None] | None = None) -> VerifyResult:
    """Re-compute the chain and check the signatures over rows in id order (STORED_FIELDS order)."""
    return TrailVerifier(anchor).run(rows, progress)


def is_postgresql(conn: Any) -> bool:
    """A raw connection to the hub (``hub.store.QmarkConnection``: psycopg 3, taking the site's ``?`` SQL) rather
    than a site's sqlcipher3 connection."""
    return getattr(conn, "dialect", None) == "postgresql"


def iter_rows(conn: Any, sql: str = _SELECT_ALL, params: Sequence[Any] = ()) -> Iterable[Sequence[Any]]:
    """Rows of a query in batches (on the hub through a server-side cursor: a trail of millions of records is never
    held in memory at once)."""
    if is_postgresql(conn):
        yield from conn.stream(sql, params)
        return
    cursor = conn.execute(sql, tuple(params))
    cursor.arraysize = 5000
    while True:
        batch = cursor.fetchmany()
        if not batch:
            return
        yield from batch


def verify_connection(conn: Any, anchor: dict[str, Any] | None = None,
                      progress: Callable[[int], None] | None = None, *,
                      verifier: TrailVerifier | None = None) -> VerifyResult:
    """Verify the whole trail through a raw DBAPI connection (no ORM objects; each record's canonical text made by
    SQLite, so the chain is checked at about the speed of reading it). On the hub (PostgreSQL, whose JSON functions
    do not write the canonical text) each record's text is made in Python, the exact way, origin included."""
    if is_postgresql(conn):
        sql = "SELECT " + ", ".join(VERIFY_FIELDS) + " FROM audit_event ORDER BY id"  # noqa: S608 - constants
    else:
        sql = _SELECT_WITH_CANONICAL if _has_origin(conn) else _SELECT_WITH_CANONICAL_NO_ORIGIN
    return (verifier or TrailVerifier(anchor)).run(iter_rows(conn, sql), progress)


def _has_origin(conn: Any) -> bool:
    """The trail has the origin column (schema 0009 on): an older database (a backup being checked) has not."""
    cursor = conn.execute("SELECT * FROM audit_event LIMIT 0")
    return any(d[0] == "origin" for d in cursor.description or ())


# The canonical content of each record made by SQLite itself: json_object writes what json.dumps with
# separators=(",", ":") and ensure_ascii=False writes (the same keys in the same order, UTF-8 as is, the same
# escapes; a property test checks it). A record whose hash does not match this text is checked again the exact way.
_CANONICAL_TEXT = "json_object(" + ", ".join(f"'{f}', {f}" for f in CANONICAL_FIELDS) + ")"
_SELECT_CANONICAL = "SELECT id, prev_hash, hash, " + _CANONICAL_TEXT + " FROM audit_event ORDER BY id"  # noqa: S608
_SELECT_WITH_CANONICAL = ("SELECT " + ", ".join(VERIFY_FIELDS) + ", "  # noqa: S608 - constant columns
                          + _CANONICAL_TEXT + " FROM audit_event ORDER BY id")
_SELECT_WITH_CANONICAL_NO_ORIGIN = ("SELECT " + ", ".join(STORED_FIELDS) + ", NULL, "  # noqa: S608 - constants
                                    + _CANONICAL_TEXT + " FROM audit_event ORDER BY id")

TAIL_RECORDS = 256  # what the opening checks: the newest records, whatever the size of the trail


def verify_tail(conn: Any, count: int = TAIL_RECORDS) -> VerifyResult:
    """The newest ``count`` records (raw DBAPI connection): each one's content against its hash, the links between
    them, no id missing. Constant time: what the opening of a database checks; the whole chain, the signatures and
    the anchor are ``verify_connection``'s (verify, backups, the check after sign-in)."""
    last = conn.execute("SELECT max(id) FROM audit_event").fetchone()[0]
    if last is None:
        return VerifyResult(True, 0)
    first = max(1, int(last) - count + 1)
    # hashes and links only (the columns every schema has: it runs before an older database is upgraded)
    rows = conn.execute("SELECT " + ", ".join((*CANONICAL_FIELDS, "hash"))  # noqa: S608 - constant columns
                        + " FROM audit_event WHERE id >= ? ORDER BY id", (first,)).fetchall()
    before = conn.execute("SELECT hash FROM audit_event WHERE id = ?", (first - 1,)).fetchone() if first > 1 else None
    expected_prev = GENESIS_HASH if first == 1 else (str(before[0]) if before else None)
    expected_id = first
    last_id: int | None = None
    for n, row in enumerate(rows):
        rec_id = int(row[0])
        if rec_id != expected_id:
            return VerifyResult(False, n, rec_id, f"record(s) #{expected_id}-#{rec_id - 1} missing before this one",
                                last_id, expected_prev)
        if expected_prev is not None and row[16] != expected_prev:
            return VerifyResult(False, n, rec_id, "its link to the previous record does not match (a record before "
                                "it was altered, removed or reordered)", last_id, expected_prev)
        if record_hash(dict(zip(CANONICAL_FIELDS, row[:17], strict=True))) != row[17]:
            return VerifyResult(False, n, rec_id, "its content was altered after it was written", last_id,
                                expected_prev)
        expected_prev, expected_id, last_id = str(row[17]), rec_id + 1, rec_id
    return VerifyResult(True, len(rows), None, None, last_id, expected_prev)


def _span_holds(rows: Sequence[Sequence[Any]]) -> bool:
    """Consecutive records whose hashes and links hold (the records of one transaction)."""
    for n, row in enumerate(rows):
        if record_hash(dict(zip(CANONICAL_FIELDS, row[:17], strict=True))) != row[17]:
            return False
        if n and (row[16] != rows[n - 1][17] or row[0] != rows[n - 1][0] + 1):
            return False
    return True


def directory_of(conn: Any) -> KeyDirectory:
    """The accounts and keys the trail binds, replayed from its binding transactions only (cheap: they are few).

    Each binding transaction is checked on its own: its records' hashes and links, its author's right to bind, its
    signature. The chain between transactions is ``verify``'s business; an unauthorised or badly signed binding is
    ignored here (and named by ``verify``)."""
    directory = KeyDirectory()
    placeholders = ", ".join("?" * len(BINDING_ACTIONS))
    with_origin = _has_origin(conn)
    copied_sql = "origin IS NOT NULL" if with_origin else "0"  # copies bind for their workstation only (issue 18)
    ids = [(int(r[0]), bool(r[1])) for r in conn.execute(
        "SELECT id, " + copied_sql + " FROM audit_event WHERE action IN (" + placeholders + ") ORDER BY id",  # noqa: S608
        tuple(BINDING_ACTIONS)).fetchall()]
    if with_origin:
        for row in conn.execute("SELECT " + ", ".join(VERIFY_FIELDS) + " FROM audit_event WHERE action IN "  # noqa: S608
                                "(?, ?) ORDER BY id", _WORKSTATION_RECORDS).fetchall():
            directory.note_workstation(row)
    seen_until = 0
    select = "SELECT " + ", ".join(STORED_FIELDS) + " FROM audit_event WHERE id >= ? "  # noqa: S608 - constants
    copies_sql = ("SELECT " + ", ".join(VERIFY_FIELDS) + " FROM audit_event WHERE id >= ? AND id <= (SELECT min(id) "  # noqa: S608
                  "FROM audit_event WHERE id >= ? AND sig IS NOT NULL) ORDER BY id")
    for first, copied in ids:
        if first <= seen_until:
            continue
        if copied:
            seen_until = carry_copies(directory, conn.execute(copies_sql, (first, first)).fetchall()) or first
            continue
        start = conn.execute(select + "ORDER BY id LIMIT 1", (first,)).fetchone()
        if start is None:
            continue
        if start[18] is None:  # the unsigned part of an upgraded site
            binding = binding_of(start)
            if binding is not None and directory.signed_from is None:
                directory.note_unsigned(binding)
            seen_until = first
            continue
        span_sql = select + "AND id <= (SELECT min(id) FROM audit_event WHERE id >= ? AND sig IS NOT NULL) ORDER BY id"  # noqa: S608
        span = [tuple(r) for r in conn.execute(span_sql, (first, first)).fetchall()]
        seen_until = span[-1][0] if span else first
        if span:
            apply_binding_span(directory, span)
    if with_origin:
        note_imports(directory,
                     conn.execute("SELECT new_value, detail FROM audit_event WHERE action = 'packet_export' "
                                  "AND origin IS NULL").fetchall(),
                     conn.execute("SELECT new_value, ts_utc, origin FROM audit_event WHERE action = "
                                  "'packet_import' AND origin IS NOT NULL").fetchall())
    return directory


def note_imports(directory: KeyDirectory, exports: Iterable[Sequence[Any]], imports: Iterable[Sequence[Any]]) -> None:
    """What other workstations learnt of this trail's account records: ``exports`` are this trail's own
    ``packet_export`` records as (new_value: the file id, detail), ``imports`` the copies of other workstations'
    ``packet_import`` records as (new_value, ts_utc, origin). A packet of ours imported on WS-n at T brought our
    disables up to its last record: WS-n's records by those accounts after T are not its to write
    (``KeyDirectory.learnt_through``). Relayed packets (ours imported on WS-n through WS-m) are not followed."""
    last: dict[str, int] = {}
    for file_oid, detail in exports:
        try:
            last[str(file_oid)] = int(json.loads(detail or "{}")["records"][-1])
        except (ValueError, KeyError, TypeError, IndexError):
            continue
    for file_oid, ts_utc, origin_text in imports:
        origin = parse_origin(origin_text)
        through = last.get(str(file_oid))
        if origin and through is not None and isinstance(origin.get("ws"), str):
            directory.learnt_through(origin["ws"], through, str(ts_utc))


def carry_copies(directory: KeyDirectory, rows: Sequence[Sequence[Any]]) -> int | None:
    """Copied account records (VERIFY_FIELDS rows from a copied binding record to the end of its local transaction):
    the copies up to their original author's signature are checked (``check_copies``) and, if they hold, bind for
    their workstation (``KeyDirectory.carry``). Returns the id of the last row looked at."""
    prefix: list[Sequence[Any]] = []
    for row in rows:
        origin = parse_origin(row[_ORIGIN]) if len(row) > _ORIGIN else None
        if origin is None:
            break
        prefix.append(tuple(row))
        if origin.get("sig") is not None:
            break
    if not prefix:
        return None
    check_copies(directory, prefix)  # what does not hold binds nothing here (``verify`` names it)
    return int(prefix[-1][0])


def apply_binding_span(directory: KeyDirectory, span: Sequence[Sequence[Any]]) -> None:
    """Apply one signed binding transaction (records in STORED_FIELDS order) to ``directory`` if it holds: its links
    and hashes, one signer, that signer's right to bind and signature. Anything else binds nothing (``verify`` names
    it). Shared by ``directory_of`` and the packet import's reading through a session."""
    if span[-1][19] is None or not _span_holds(span) or any(r[18] != span[-1][18] for r in span):
        return
    bindings = [b for b in (binding_of(r) for r in span) if b is not None]
    signer = str(span[-1][18])
    key, problem = directory.authorise(signer, bindings)
    if problem is not None or key is None:
        return
    try:
        raw = base64.b64decode(span[-1][19], validate=True)
    except (ValueError, TypeError):
        return
    if not verify_signature(key.sign, raw, tx_message(span[-1][0], span[-1][17])):
        return
    account = directory.get(signer)
    bootstrap = directory.signed_from is None
    if bootstrap:
        directory.signed_from = int(span[0][0])
    directory.apply(bindings)
    if bootstrap or (account is not None and account.legacy and len(account.keys) == 1
                     and account.keys[0][1] == key):
        directory.fix_bootstrap([b for b in bindings if b.keys == key])
