"""A site database opened by this process: instance lock, key file, sign-in with lockout, recovery code.

Sign-in happens before the database can be read (its key is what the password unlocks), so failed attempts
are first noted in the key file and written into the encrypted audit trail at the next successful sign-in,
with their original times. When the database is already open (lock screen), they go in at once.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import select

from msc_sle_crf import audit
from msc_sle_crf.access import Role
from msc_sle_crf.audit import Action, AuditEntry
from msc_sle_crf.clock import Clock, SystemClock, iso_utc
from msc_sle_crf.errors import AuthenticationError, KeyFileError, Msg, StoreError, ValidationError
from msc_sle_crf.locations import workstation_id
from msc_sle_crf.security.keyslots import (
    DB_KEY_BYTES,
    KIND_RECOVERY,
    KIND_USER,
    AttemptRecord,
    KdfParams,
    KeySlotFile,
    calibrate,
    new_recovery_code,
    normalize_recovery_code,
    normalize_secret,
    normalize_username,
)
from msc_sle_crf.security.policy import check_password_policy, validate_new_user
from msc_sle_crf.site_settings import DEFAULT_SETTINGS
from msc_sle_crf.store.db import Store, check_pairing, create_database_file, open_checked, precheck_file
from msc_sle_crf.store.instance_lock import InstanceLock
from msc_sle_crf.store.migrate import ensure_current
from msc_sle_crf.store.tables import AppUser, SiteSetting

MAX_FAILURES = 5
LOCKOUT_SECONDS = 300
RECOVERY_ACCOUNT = "#recovery"


def failure_delay(failures: int) -> float:
    """Progressive delay after the n-th consecutive failure: 0.5, 1, 2, 4, 8 s."""
    return float(min(0.5 * 2 ** (failures - 1), 8.0))


@dataclass(frozen=True)
class Actor:
    user_id: int
    username: str
    full_name: str
    role: Role
    must_change_password: bool = False


class Site:
    """One database file and its key file, held open by this process."""

    def __init__(self, db_path: Path, keyfile: KeySlotFile, lock: InstanceLock, clock: Clock,
                 workstation: str) -> None:
        self.db_path = db_path
        self.keyfile = keyfile
        self._lock = lock
        self.clock = clock
        self.workstation = workstation
        self.store: Store | None = None
        self.upgrade_backup: Path | None = None

    # ----- opening -----------------------------------------------------------------------------------------
    @classmethod
    def open(cls, db_path: Path | str, *, clock: Clock | None = None, workstation: str | None = None) -> Site:
        """Take the instance lock and check the file pair. No key is tried yet."""
        db_path = Path(db_path)
        precheck_file(db_path)
        lock = InstanceLock(db_path)
        lock.acquire()
        try:
            keyfile = KeySlotFile.load(KeySlotFile.path_for(db_path))
            check_pairing(db_path, keyfile.db_salt_hex, keyfile.path)
        except BaseException:
            lock.release()
            raise
        return cls(db_path, keyfile, lock, clock or SystemClock(), workstation or workstation_id())

    @classmethod
    def initialize(cls, db_path: Path | str, *, admin_username: str, admin_full_name: str, admin_password: str,
                   site_settings: dict[str, str] | None = None, training: bool = False,
                   kdf: KdfParams | None = None, clock: Clock | None = None,
                   workstation: str | None = None) -> tuple[Site, Actor, str]:
        """Create database, key file, admin account and recovery code. Returns (site, admin, recovery code)."""
        db_path = Path(db_path)
        clock = clock or SystemClock()
        admin_username = normalize_username(admin_username)
        validate_new_user(admin_username, admin_full_name, Role.ADMIN.value)
        check_password_policy(admin_password, admin_username)
        keyfile_path = KeySlotFile.path_for(db_path)
        if db_path.exists():
            raise StoreError(Msg.DB_EXISTS, path=str(db_path))
        if keyfile_path.exists():
            raise StoreError(Msg.DB_EXISTS, path=str(keyfile_path))
        db_key = os.urandom(DB_KEY_BYTES)
        db_salt = os.urandom(16)
        lock = InstanceLock(db_path)
        db_path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
        store: Store | None = None
        try:
            create_database_file(db_path, db_key, db_salt)
            now = iso_utc(clock.now())
            keyfile = KeySlotFile(
                path=keyfile_path,
                db_id=uuid.uuid4().hex,
                db_salt_hex=db_salt.hex(),
                kdf_default=kdf or calibrate(),
                training=training,
            )
            recovery_code = new_recovery_code()
            keyfile.set_slot(KIND_USER, admin_username, normalize_secret(admin_password), db_key, now)
            keyfile.set_slot(KIND_RECOVERY, None, normalize_recovery_code(recovery_code).encode(), db_key, now)
            site = cls(db_path, keyfile, lock, clock, workstation or workstation_id())
            store = open_checked(db_path, db_key, db_salt)
            ensure_current(store, stamp=clock.now().strftime("%Y%m%dT%H%M%SZ"))
            site.store = store
            settings = {**DEFAULT_SETTINGS, **(site_settings or {})}
            with store.write() as session:
                admin = AppUser(username=admin_username, full_name=admin_full_name.strip(), role=Role.ADMIN.value,
                                active=True, must_change_password=False, created_utc=now)
                session.add(admin)
                for key, value in settings.items():
                    session.add(SiteSetting(key=key, value=value, updated_utc=now))
                for key, value in (("db_id", keyfile.db_id), ("training", "1" if training else "0"),
                                   ("created_utc", now)):
                    session.add(SiteSetting(key=key, value=value, updated_utc=now))
                session.flush()
                audit.append(session, clock, site.workstation, AuditEntry(
                    Action.SITE_INIT, admin_username, Role.ADMIN.value,
                    new_value=json.dumps({"db_id": keyfile.db_id, "training": training, **settings},
                                         ensure_ascii=False, sort_keys=True)))
                audit.append(session, clock, site.workstation, AuditEntry(
                    Action.USER_ADD, admin_username, Role.ADMIN.value, item=admin_username,
                    new_value=json.dumps({"username": admin_username, "role": "admin",
                                          "full_name": admin_full_name.strip()}, ensure_ascii=False)))
                actor = Actor(admin.id, admin.username, admin.full_name, Role.ADMIN)
            keyfile.save()
        except BaseException:
            # Nothing half-made is left behind: the files did not exist before this call (checked above).
            if store is not None:
                store.close()
            lock.release()
            for leftover in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm"), keyfile_path):
                if leftover.exists():
                    leftover.unlink()
            raise
        return site, actor, recovery_code

    @property
    def training(self) -> bool:
        return self.keyfile.training

    # ----- authentication ----------------------------------------------------------------------------------
    def _pending(self, action: Action, username: str, role: str | None, detail: str) -> None:
        self.keyfile.add_pending_event({
            "action": str(action), "username": username, "role": role, "detail": detail,
            "ts_utc": iso_utc(self.clock.now()), "utc_offset_min": self.clock.local_offset_minutes(),
        })

    def flush_pending_events(self) -> None:
        """Write sign-in events noted in the key file into the audit trail, then forget them there."""
        if self.store is None or not self.keyfile.pending_events:
            return
        events = list(self.keyfile.pending_events)
        with self.store.write() as session:
            for ev in events:
                audit.append(session, self.clock, self.workstation, AuditEntry(
                    Action(ev["action"]), ev.get("username"), ev.get("role"), detail=ev.get("detail"),
                    ts_utc=ev.get("ts_utc"), utc_offset_min=ev.get("utc_offset_min")))
        self.keyfile.pending_events = self.keyfile.pending_events[len(events):]
        self.keyfile.save()

    def _check_not_locked(self, account: str) -> AttemptRecord:
        record = self.keyfile.attempts.get(account) or AttemptRecord()
        remaining = record.lock_remaining(self.clock.now())
        if remaining is not None:
            self._pending(Action.LOGIN_FAILED, account, None, "refused: account temporarily locked")
            self.keyfile.save()
            self.flush_pending_events()
            minutes = max(1, -(-int(remaining.total_seconds()) // 60))
            raise AuthenticationError(Msg.ACCOUNT_LOCKED, minutes=minutes)
        if record.locked_until_utc:
            record = AttemptRecord()  # lockout over: start counting again
        return record

    def _register_failure(self, account: str, record: AttemptRecord, detail: str,
                          message: Msg = Msg.BAD_CREDENTIALS) -> NoReturn:
        record.failures += 1
        now = self.clock.now()
        record.last_failure_utc = iso_utc(now)
        self._pending(Action.LOGIN_FAILED, account, None, detail)
        locked = record.failures >= MAX_FAILURES
        if locked:
            record.locked_until_utc = iso_utc(now + timedelta(seconds=LOCKOUT_SECONDS))
            self._pending(Action.ACCOUNT_LOCKED, account, None,
                          f"{record.failures} consecutive failures: locked for {LOCKOUT_SECONDS // 60} min")
        self.keyfile.attempts[account] = record
        self.keyfile.trim_attempts()
        self.keyfile.save()
        self.flush_pending_events()
        self.clock.sleep(failure_delay(record.failures))
        if locked:
            raise AuthenticationError(Msg.ACCOUNT_LOCKED, minutes=LOCKOUT_SECONDS // 60)
        raise AuthenticationError(message)

    def _clear_failures(self, account: str) -> None:
        if account in self.keyfile.attempts:
            del self.keyfile.attempts[account]
            self.keyfile.save()

    def _ensure_store(self, key: bytes) -> Store:
        if self.store is None:
            store = open_checked(self.db_path, key, bytes.fromhex(self.keyfile.db_salt_hex))
            try:
                self.upgrade_backup = ensure_current(store, stamp=self.clock.now().strftime("%Y%m%dT%H%M%SZ"))
            except BaseException:
                store.close()
                raise
            self.store = store
        elif self.store.key != key:  # the key file unwrapped a different key: it does not belong here
            raise KeyFileError(Msg.KEYFILE_MISMATCH, path=str(self.keyfile.path))
        return self.store

    def authenticate(self, username: str, password: str) -> Actor:
        """Check a user's password against their key slot and the user table. Audited either way."""
        account = normalize_username(username)
        record = self._check_not_locked(account)
        key = self.keyfile.unwrap(KIND_USER, account, normalize_secret(password))
        if key is None:
            exists = self.keyfile.find(KIND_USER, account) is not None
            self._register_failure(account, record, "wrong password" if exists else "no such account")
        store = self._ensure_store(key)
        with store.read() as session:
            user = session.execute(select(AppUser).where(AppUser.username == account)).scalar_one_or_none()
            if user is None or not user.active:
                actor = None
            else:
                actor = Actor(user.id, user.username, user.full_name, Role(user.role), user.must_change_password)
        if actor is None:
            self._register_failure(account, record, "account disabled or absent from the user table")
        self._clear_failures(account)
        return actor

    def sign_in(self, username: str, password: str, *, action: Action = Action.LOGIN) -> Actor:
        """Authenticate and record the sign-in (with any pending failed attempts before it)."""
        actor = self.authenticate(username, password)
        self.flush_pending_events()
        assert self.store is not None
        with self.store.write() as session:
            if self.upgrade_backup is not None:
                audit.append(session, self.clock, self.workstation, AuditEntry(
                    Action.SCHEMA_UPGRADE, actor.username, actor.role.value,
                    detail=f"backup taken before upgrade: {self.upgrade_backup.name}"))
                self.upgrade_backup = None
            audit.append(session, self.clock, self.workstation,
                         AuditEntry(action, actor.username, actor.role.value))
        return actor

    def reset_with_recovery_code(self, recovery_code: str, username: str, new_password: str) -> Actor:
        """Set a new password for ``username`` with the site's recovery code (all passwords lost)."""
        account = normalize_username(username)
        check_password_policy(new_password, account)
        record = self._check_not_locked(RECOVERY_ACCOUNT)
        key = self.keyfile.unwrap(KIND_RECOVERY, None, normalize_recovery_code(recovery_code).encode())
        if key is None:
            self._register_failure(RECOVERY_ACCOUNT, record, "wrong recovery code", Msg.BAD_RECOVERY_CODE)
        store = self._ensure_store(key)
        self._clear_failures(RECOVERY_ACCOUNT)
        with store.read() as session:
            user = session.execute(select(AppUser).where(AppUser.username == account)).scalar_one_or_none()
            if user is None or not user.active:
                raise ValidationError(Msg.USER_UNKNOWN, user=account)
            actor = Actor(user.id, user.username, user.full_name, Role(user.role), False)
        old_slot = self.keyfile.find(KIND_USER, account)
        self.keyfile.set_slot(KIND_USER, account, normalize_secret(new_password), key, iso_utc(self.clock.now()))
        self.keyfile.attempts.pop(account, None)
        self.keyfile.save()
        try:
            self.flush_pending_events()
            with store.write() as session:
                user = session.execute(select(AppUser).where(AppUser.username == account)).scalar_one()
                user.must_change_password = False
                audit.append(session, self.clock, self.workstation, AuditEntry(
                    Action.RECOVERY_CODE_USED, RECOVERY_ACCOUNT, None, item=account))
                audit.append(session, self.clock, self.workstation, AuditEntry(
                    Action.PASSWORD_RESET, RECOVERY_ACCOUNT, None, item=account,
                    detail="password set with the site recovery code"))
        except BaseException:
            self.restore_slot(account, old_slot)
            raise
        return actor

    def restore_slot(self, account: str, old_slot: Any) -> None:
        """Put a user's previous key slot back (or remove a new one) when the audited change did not commit."""
        self.keyfile.slots = [s for s in self.keyfile.slots if not (s.kind == KIND_USER and s.user == account)]
        if old_slot is not None:
            self.keyfile.slots.append(old_slot)
        self.keyfile.save()

    # ----- closing -----------------------------------------------------------------------------------------
    def anchor_audit(self) -> None:
        """Remember the last audit record's id and hash in the key file, so removing the end of the trail
        is detected by verify."""
        if self.store is None:
            return
        from msc_sle_crf.store.tables import AuditEvent

        with self.store.read() as session:
            last = session.execute(
                select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
        if last is not None:
            self.keyfile.audit_anchor = {"id": int(last[0]), "hash": str(last[1])}
            self.keyfile.save()

    def close(self) -> None:
        if self.store is not None:
            try:
                self.anchor_audit()
            finally:
                self.store.close()
                self.store = None
        self._lock.release()

    def __enter__(self) -> Site:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
