"""A site database opened by this process: instance lock, key file, sign-in with lockout, recovery code.

Sign-in happens before the database can be read (its key is what the password unlocks), so failed attempts
are first noted in the key file and written into the encrypted audit trail at the next successful sign-in,
with their original times. When the database is already open (lock screen), they go in at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from msc_sle_crf import audit
from msc_sle_crf.access import Role
from msc_sle_crf.audit import Action, AuditEntry
from msc_sle_crf.clock import Clock, SystemClock, iso_utc
from msc_sle_crf.errors import AuthenticationError, CrfError, KeyFileError, Msg, StoreError, ValidationError
from msc_sle_crf.locations import workstation_id
from msc_sle_crf.security import ca
from msc_sle_crf.security.keyslots import (
    DB_KEY_BYTES,
    KIND_RECOVERY,
    KIND_USER,
    AttemptRecord,
    KdfParams,
    KeySlotFile,
    Slot,
    Unlocked,
    calibrate,
    new_recovery_code,
    normalize_recovery_code,
    normalize_secret,
    normalize_username,
)
from msc_sle_crf.security.personal import PersonalKeys, PublicKeys, Signer, b64
from msc_sle_crf.security.policy import check_password_policy, validate_new_user
from msc_sle_crf.site_settings import DEFAULT_SETTINGS, READ_ONLY_SETTINGS, validate_setting
from msc_sle_crf.store import journal as J
from msc_sle_crf.store.account_state import DisabledElsewhere, disabled_elsewhere
from msc_sle_crf.store.db import (
    Store,
    check_db_path,
    check_pairing,
    create_database_file,
    missing_tables,
    open_checked,
    precheck_file,
    sqlcipher_error,
    translate_db_error,
)
from msc_sle_crf.store.head import HeadWriter
from msc_sle_crf.store.head import read as read_head
from msc_sle_crf.store.instance_lock import InstanceLock
from msc_sle_crf.store.migrate import current_revision, ensure_current, head_revision, known_revisions
from msc_sle_crf.store.tables import AppUser, SiteSetting

MAX_FAILURES = 5
HEAD_INTERVAL_SECONDS = 2.0  # see store/head.py; measured in benchmarks/bench_trail_head.py
LOCKOUT_SECONDS = 300
RECOVERY_ACCOUNT = audit.RECOVERY_SIGNER
GENERATION_SETTING = "keyfile_generation"  # the key file's generation the database last saw (item 8)
CA_CERT_SETTING = "ca_certificate"
CA_KEY_SETTING = "ca_key_sealed"  # {account: the CA private key sealed to that administrator's (or recovery) key}
ANCHOR_CONTEXT = b"msc-sle-crf/anchor/v1\x00"


def anchor_message(db_id: str, record_id: int, record_hash: str, ts_utc: str) -> bytes:
    """What the author of a trail head signs (key-file anchor, receipts, PDFs, backups)."""
    return ANCHOR_CONTEXT + f"{db_id}|{record_id}|{record_hash}|{ts_utc}".encode()


def keys_json(publics: PublicKeys) -> dict[str, Any]:
    return publics.to_dict()


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


# The failed sign-in's audit detail when a disable made on another workstation holds here (issue 18).
DISABLED_ELSEWHERE_DETAIL = "account disabled on another workstation"


# ----- account changes that go with a key-slot change (a credential step) ------------------------------------------
ACCOUNT_FIELDS = ("full_name", "role", "active", "must_change_password", "disabled_utc")


def apply_account_change(session: Session, change: dict[str, Any], now: str) -> None:
    """The user-table part of a credential step: {"op": "add"|"update", "username": ..., "fields": {...}}. Used by the
    account services and, after a crash, by the recovery that completes the step."""
    fields = {k: v for k, v in dict(change.get("fields") or {}).items() if k in ACCOUNT_FIELDS}
    username = str(change["username"])
    if change["op"] == "add":
        session.add(AppUser(username=username, created_utc=now, **fields))
        session.flush()
        return
    row = session.execute(select(AppUser).where(AppUser.username == username)).scalar_one()
    for key, value in fields.items():
        setattr(row, key, value)


def _entry_dict(entry: AuditEntry) -> dict[str, Any]:
    return {**asdict(entry), "action": str(entry.action)}


def _entry_of(data: dict[str, Any]) -> AuditEntry:
    return AuditEntry(**{**data, "action": Action(data["action"])})


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
        # Interrupted steps completed or undone when this site was opened (shown to the user, and audited).
        self.notices: list[J.Notice] = []
        self._pending_step: J.Journal | None = None  # a step that needs the database key to be recovered
        # The trail head outside the WAL (see store/head.py): written at most every head_interval seconds after a
        # committed write, and always at lock, log-out and close.
        self.head_interval = HEAD_INTERVAL_SECONDS
        self._head: HeadWriter | None = None
        self._head_pending: tuple[int, str, str] | None = None
        self._head_written_at = 0.0
        # Accounts whose private keys are in memory (they typed their password in this process): they sign what
        # their sessions write. Never written anywhere.
        self._signers: dict[str, Signer] = {}
        self._last_signer: Signer | None = None
        self.rekey_completed = False  # an interrupted rotation: the database opened with the journal's new key
        self.binding_epoch = 0  # raised whenever this program binds keys in the trail (cached directories expire)
        # Accounts disabled by another workstation's act (issue 18), as read from the trail at the binding epoch.
        self._elsewhere: dict[str, DisabledElsewhere | None] = {}
        self._elsewhere_epoch = -1
        # The newest audit records as re-checked when the database was opened (None: not opened yet).
        self.opening_check: audit.VerifyResult | None = None

    # ----- opening -----------------------------------------------------------------------------------------
    @classmethod
    def open(cls, db_path: Path | str, *, clock: Clock | None = None, workstation: str | None = None) -> Site:
        """Take the instance lock, finish or undo an interrupted step, and check the file pair. No key is tried
        yet."""
        db_path = Path(db_path)
        check_db_path(db_path)
        lock = InstanceLock(db_path)
        lock.acquire()
        try:
            notices = []
            notice = J.recover_at_open(db_path)
            if notice is not None:
                notices.append(notice)
            precheck_file(db_path)
            keyfile = KeySlotFile.load(KeySlotFile.path_for(db_path))
            check_pairing(db_path, keyfile.db_salt_hex, keyfile.path)
            pending = J.Journal.load(db_path)
        except BaseException:
            lock.release()
            raise
        site = cls(db_path, keyfile, lock, clock or SystemClock(), workstation or workstation_id())
        site.notices = notices
        site._pending_step = pending
        return site

    @staticmethod
    def validate_new_site(admin_username: str, admin_full_name: str, admin_password: str | None,
                          site_settings: dict[str, str] | None) -> tuple[str, str, dict[str, str]]:
        """Every setting of a new site checked before anything is created: (user name, full name, settings). The
        password too, unless None (the command line checks the names before it asks for the password)."""
        admin_username = normalize_username(admin_username)
        validate_new_user(admin_username, admin_full_name, Role.ADMIN.value)
        if admin_password is not None:
            check_password_policy(admin_password, admin_username)
        settings = dict(DEFAULT_SETTINGS)
        for key, value in (site_settings or {}).items():
            if key in READ_ONLY_SETTINGS:
                raise ValidationError(Msg.SETTING_UNKNOWN, key=key)
            settings[key] = validate_setting(key, value)
        from msc_sle_crf.security.policy import FULL_NAME, MAX_FULL_NAME, check_name

        return admin_username, check_name(admin_full_name, FULL_NAME, max_chars=MAX_FULL_NAME), settings

    @classmethod
    def initialize(cls, db_path: Path | str, *, admin_username: str, admin_full_name: str, admin_password: str,
                   site_settings: dict[str, str] | None = None, training: bool = False,
                   kdf: KdfParams | None = None, clock: Clock | None = None, workstation: str | None = None,
                   finish: Callable[[Site, Actor], None] | None = None,
                   show_recovery_code: Callable[[str], None] | None = None) -> tuple[Site, Actor, str]:
        """Create database, key file, admin account and recovery code. Returns (site, admin, recovery code).

        All or nothing: every setting is checked first; the site is built in a temporary folder beside the target
        (``finish(site, admin)`` runs there too: e.g. making the PDF signing certificate), moved into place only
        when complete, and a journal stays until ``show_recovery_code(code)`` has returned. If anything fails or
        the program stops before that, nothing remains: the next open or init undoes the half-made site.
        """
        db_path = Path(db_path)
        clock = clock or SystemClock()
        admin_username, full_name, settings = cls.validate_new_site(admin_username, admin_full_name,
                                                                    admin_password, site_settings)
        check_db_path(db_path, creating=True)
        keyfile_path = KeySlotFile.path_for(db_path)
        if not J.Journal.path_for(db_path).exists():  # a live site is never touched (checked again under the lock)
            for existing in (db_path, keyfile_path):
                if os.path.lexists(existing):
                    raise StoreError(Msg.DB_EXISTS, path=str(existing))
        lock = InstanceLock(db_path)
        lock.acquire()
        try:
            J.recover_at_open(db_path)  # an earlier init that never showed its code is undone first
            for existing in (db_path, keyfile_path):
                if os.path.lexists(existing):
                    raise StoreError(Msg.DB_EXISTS, path=str(existing))
            for stale in db_path.parent.glob(f".{db_path.name}.init-*"):
                shutil.rmtree(stale, ignore_errors=True)
        except BaseException:
            lock.release()
            raise
        workdir = db_path.parent / f".{db_path.name}.init-{os.getpid()}"
        work_db = workdir / db_path.name
        journal: J.Journal | None = None
        site: Site | None = None
        try:
            workdir.mkdir(mode=0o700)
            site, actor, recovery_code = cls._build(work_db, lock, clock, workstation, admin_username, full_name,
                                                    admin_password, settings, training, kdf)
            if finish is not None:
                assert site.store is not None
                with site.store.building():  # nothing here is durable before the move anyway
                    finish(site, actor)
            site._close_store()
            journal = J.Journal.begin(db_path, "init", {"workdir": str(workdir)}, iso_utc(clock.now()))
            J.run_moves([{"from": str(KeySlotFile.path_for(work_db)), "to": str(keyfile_path)},
                         {"from": str(work_db), "to": str(db_path)}])
            site.db_path = db_path
            site.keyfile.path = keyfile_path
            shutil.rmtree(workdir, ignore_errors=True)
            key, site._init_key = site._init_key, b""
            site._ensure_store(key)
            if show_recovery_code is not None:
                show_recovery_code(recovery_code)
            journal.finish()
        except BaseException:
            if site is not None:
                site._close_store()
            if journal is not None:
                J.recover_at_open(db_path)
            shutil.rmtree(workdir, ignore_errors=True)
            lock.release()
            raise
        return site, actor, recovery_code

    @classmethod
    def _build(cls, db_path: Path, lock: InstanceLock, clock: Clock, workstation: str | None,  # noqa: PLR0917
               admin_username: str, full_name: str, admin_password: str, settings: dict[str, str], training: bool,
               kdf: KdfParams | None) -> tuple[Site, Actor, str]:
        db_key = os.urandom(DB_KEY_BYTES)
        db_salt = os.urandom(16)
        create_database_file(db_path, db_key, db_salt)
        now = iso_utc(clock.now())
        keyfile = KeySlotFile(path=KeySlotFile.path_for(db_path), db_id=uuid.uuid4().hex, db_salt_hex=db_salt.hex(),
                              kdf_default=kdf or calibrate(), training=training)
        recovery_code = new_recovery_code()
        admin_slot = keyfile.set_slot(KIND_USER, admin_username, normalize_secret(admin_password), db_key, now)
        recovery_slot = keyfile.set_slot(KIND_RECOVERY, None, normalize_recovery_code(recovery_code).encode(),
                                         db_key, now)
        site = cls(db_path, keyfile, lock, clock, workstation or workstation_id())
        site._init_key = db_key
        admin_keys = keyfile.unlock(KIND_USER, admin_username, normalize_secret(admin_password))
        assert admin_keys is not None and admin_keys.keys is not None and admin_slot.publics is not None
        assert recovery_slot.publics is not None
        signer = site.remember_signer(admin_username, admin_keys.keys)
        ca_pem, ca_key = ca.new_ca(settings.get("site_name", "MSC-SLE site"), keyfile.db_id, clock.now())
        sealed = {admin_username: ca.seal_key(ca_key, admin_slot.publics.box, keyfile.db_id, admin_username),
                  RECOVERY_ACCOUNT: ca.seal_key(ca_key, recovery_slot.publics.box, keyfile.db_id, RECOVERY_ACCOUNT)}
        store = open_checked(db_path, db_key, db_salt)
        site.store = store
        ensure_current(store, stamp=clock.now().strftime("%Y%m%dT%H%M%SZ"))
        with store.write() as session:
            admin = AppUser(username=admin_username, full_name=full_name, role=Role.ADMIN.value,
                            active=True, must_change_password=False, created_utc=now)
            session.add(admin)
            for key, value in settings.items():
                session.add(SiteSetting(key=key, value=value, updated_utc=now))
            for key, value in (("db_id", keyfile.db_id), ("training", "1" if training else "0"),
                               ("created_utc", now), (CA_CERT_SETTING, ca_pem),
                               (CA_KEY_SETTING, json.dumps(sealed, sort_keys=True))):
                session.add(SiteSetting(key=key, value=value, updated_utc=now))
            session.flush()
            audit.append_many(session, clock, site.workstation, [
                AuditEntry(Action.SITE_INIT, admin_username, Role.ADMIN.value, new_value=json.dumps(
                    {"db_id": keyfile.db_id, "training": training, **settings,
                     "recovery_keys": keys_json(recovery_slot.publics), "ca_fingerprint": ca.fingerprint(ca_pem)},
                    ensure_ascii=False, sort_keys=True)),
                AuditEntry(Action.USER_ADD, admin_username, Role.ADMIN.value, item=admin_username,
                           new_value=json.dumps({"username": admin_username, "role": "admin", "full_name": full_name,
                                                 "keys": keys_json(admin_slot.publics),
                                                 "must_change_password": False}, ensure_ascii=False))],
                signer)
            actor = Actor(admin.id, admin.username, admin.full_name, Role.ADMIN)
        site.save_keyfile()
        return site, actor, recovery_code

    _init_key: bytes = b""

    @property
    def training(self) -> bool:
        return self.keyfile.training

    # ----- personal keys in memory -------------------------------------------------------------------------
    def remember_signer(self, username: str, keys: PersonalKeys) -> Signer:
        signer = Signer(username, keys)
        self._signers[username] = signer
        return signer

    def signer(self, username: str) -> Signer:
        """The signer of what ``username``'s session writes (they typed their password in this process)."""
        signer = self._signers.get(username)
        if signer is None:
            raise AuthenticationError(Msg.NOT_SIGNED_IN)
        self._last_signer = signer
        return signer

    def has_signer(self, username: str) -> bool:
        return username in self._signers

    @property
    def last_signer(self) -> Signer | None:
        return self._last_signer

    # ----- key rotation (store/rekey.py) ------------------------------------------------------------------------
    def close_store_for_rekey(self) -> None:
        """Every pooled connection closed (they hold the old key); the trail head file stays open."""
        if self.store is not None:
            self.store.close()
            self.store = None

    def reopen_store(self, key: bytes) -> None:
        self.store = open_checked(self.db_path, key, bytes.fromhex(self.keyfile.db_salt_hex))

    # ----- the key file and its generation (item 8) ----------------------------------------------------------
    def save_keyfile(self) -> None:
        """Save the key file (its generation goes up) and, with the database open, record the generation there:
        an older key file put back is then detected at the next sign-in."""
        self.keyfile.save()
        if self.store is not None:
            self._record_generation()

    def _record_generation(self) -> None:
        assert self.store is not None
        with self.store.write() as session:
            session.connection().exec_driver_sql(
                "INSERT INTO site_setting (key, value, updated_utc) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE "
                "SET value = excluded.value, updated_utc = excluded.updated_utc WHERE CAST(value AS INTEGER) < "
                "CAST(excluded.value AS INTEGER)",
                (GENERATION_SETTING, str(self.keyfile.generation), iso_utc(self.clock.now())))

    def _check_generation(self, signer: Signer | None, account: str, role: str | None) -> None:
        """Refuse (and audit) a key file older than the one the database last saw."""
        assert self.store is not None
        with self.store.read() as session:
            row = session.get(SiteSetting, GENERATION_SETTING)
            recorded = int(row.value) if row is not None and row.value.isdigit() else 0
        if self.keyfile.generation >= recorded:
            return
        with self.store.write() as session:
            audit.append(session, self.clock, self.workstation, AuditEntry(
                Action.KEYFILE_ROLLBACK, account, role, detail=(
                    f"key file generation {self.keyfile.generation} is older than {recorded}, the last one the "
                    "database saw: sign-in refused")), signer)
        raise KeyFileError(Msg.KEYFILE_ROLLED_BACK, path=str(self.keyfile.path), found=self.keyfile.generation,
                           expected=recorded)

    # ----- authentication ----------------------------------------------------------------------------------
    def shown_name(self, account: str) -> str:
        """How a name typed at sign-in is recorded: an account's name, or only a keyed hash of a made-up one (a
        password typed in the name field must not end up in clear in the key file or the trail)."""
        if account == RECOVERY_ACCOUNT or self.keyfile.find(KIND_USER, account) is not None:
            return account
        return f"?{self.keyfile.account_tag(account)[:16]}"

    def _pending(self, action: Action, username: str, role: str | None, detail: str) -> None:
        self.keyfile.add_pending_event({
            "action": str(action), "username": username, "role": role, "detail": detail,
            "ts_utc": iso_utc(self.clock.now()), "utc_offset_min": self.clock.local_offset_minutes(),
        })

    def flush_pending_events(self, signer: Signer | None = None) -> None:
        """Write sign-in events noted in the key file into the audit trail (signed by the session that finds them:
        ``signer``, or the last one that signed in), then forget them there."""
        signer = signer or self._last_signer
        if self.store is None or not self.keyfile.pending_events or signer is None:
            return
        events = list(self.keyfile.pending_events)
        with self.store.write() as session:
            last = session.execute(text("SELECT ts_utc FROM audit_event ORDER BY id DESC LIMIT 1")).scalar()
            kept = [ev for ev in events if self._genuine_pending(ev, last)]
            entries = [AuditEntry(Action(ev["action"]), ev["username"], ev.get("role"), detail=ev["detail"],
                                  ts_utc=ev["ts_utc"], utc_offset_min=ev.get("utc_offset_min")) for ev in kept]
            if len(kept) < len(events):  # the signer witnesses only what the program itself notes there
                entries.append(AuditEntry(
                    Action.KEYFILE_ROLLBACK, None, None,
                    detail=f"{len(events) - len(kept)} event(s) noted in the key file were not sign-in failures "
                           "this program writes (the key file was edited): dropped, not recorded in anyone's name"))
            audit.append_many(session, self.clock, self.workstation, entries, signer)
        self.keyfile.pending_events = self.keyfile.pending_events[len(events):]
        self.save_keyfile()

    _PENDING_DETAILS = frozenset({"wrong password", "no such account", "account disabled or absent from the user "
                                  "table", "wrong recovery code", "refused: account temporarily locked",
                                  DISABLED_ELSEWHERE_DETAIL})

    def _genuine_pending(self, event: dict[str, Any], last_ts: str | None) -> bool:
        """Whether a sign-in event read from the key file is one this program writes there (a failed sign-in or a
        lockout, by an account's name or a keyed hash of a made-up one, after the last record of the trail and not
        in the future). The key file can be edited by anyone who holds it; whoever signs in next signs these events
        as a witness, so nothing else may pass through here (a forged export, verify checkpoint or account change
        in someone's name)."""
        action, name, detail, ts = (event.get("action"), event.get("username"), event.get("detail"),
                                    event.get("ts_utc"))
        role = event.get("role")
        if not (isinstance(name, str) and isinstance(ts, str) and isinstance(detail, str)):
            return False
        if action == str(Action.RESTORE):  # the restore's own record, kept in the restored key file
            # by an administrator's account, or with the site's recovery code (no account, no role: issue 19)
            by_code = name == RECOVERY_ACCOUNT and role is None
            known_detail = (by_code or role in {r.value for r in Role}) and re.fullmatch(
                r"restored backup of \S{1,40} -> [^\n]{1,300}", detail) is not None
            known_name = (self.keyfile.find(KIND_RECOVERY, None) is not None if by_code
                          else self.keyfile.find(KIND_USER, name) is not None)
        else:
            known_detail = role is None and (
                detail in self._PENDING_DETAILS if action == str(Action.LOGIN_FAILED) else
                re.fullmatch(r"\d+ consecutive failures: locked for \d+ min", detail) is not None
                if action == str(Action.ACCOUNT_LOCKED) else False)
            known_name = (name == RECOVERY_ACCOUNT or self.keyfile.find(KIND_USER, name) is not None
                          or re.fullmatch(r"\?[0-9a-f]{16}", name) is not None)
        try:
            when = datetime.fromisoformat(ts.replace("Z", "+00:00"))
            latest = datetime.fromisoformat(last_ts.replace("Z", "+00:00")) if last_ts else None
        except ValueError:
            return False
        in_time = when.tzinfo is not None and when <= self.clock.now() + timedelta(minutes=1) and (
            latest is None or latest.tzinfo is None or when >= latest - timedelta(minutes=1))
        return known_detail and known_name and in_time

    def disabled_elsewhere(self, account: str, session: Session | None = None) -> DisabledElsewhere | None:
        """Whether another workstation's disable holds for ``account`` here (``store/account_state.py``): one
        indexed look-up per account, kept until this program binds keys or imports a packet (``binding_epoch``)."""
        if self._elsewhere_epoch != self.binding_epoch:
            self._elsewhere, self._elsewhere_epoch = {}, self.binding_epoch
        if account not in self._elsewhere:
            if session is not None:
                self._elsewhere[account] = self._elsewhere_holds(session, account)
            elif self.store is None:
                return None
            else:
                with self.store.read() as own:
                    self._elsewhere[account] = self._elsewhere_holds(own, account)
        return self._elsewhere[account]

    def _elsewhere_holds(self, session: Session, account: str) -> DisabledElsewhere | None:
        found = disabled_elsewhere(session, account)
        return None if found is not None and self.last_administrator(session, account) else found

    def last_administrator(self, session: Session, account: str) -> bool:
        """``account`` is an enabled administrator here and no other administrator could work here (enabled, a
        key slot here, her own password chosen, no disable made elsewhere holding): a disable made on another
        workstation does not stop it (the rule a local disable follows, ``Msg.LAST_ADMIN``), else nobody could
        administer this workstation. An administrator enrolled here with a one-time password does not count until
        she has chosen her own (so the session that enrolled her still sees the password it must hand over)."""
        admins = session.execute(select(AppUser.username, AppUser.must_change_password).where(
            AppUser.role == Role.ADMIN.value, AppUser.active.is_(True))).all()
        return account in {name for name, _must in admins} and not any(
            name != account and not must and self.keyfile.find(KIND_USER, name) is not None
            and disabled_elsewhere(session, name) is None for name, must in admins)

    def _check_not_locked(self, account: str) -> AttemptRecord:
        record = self.keyfile.attempts.get(self.keyfile.account_tag(account)) or AttemptRecord()
        remaining = record.lock_remaining(self.clock.now())
        if remaining is not None:
            self._pending(Action.LOGIN_FAILED, self.shown_name(account), None, "refused: account temporarily locked")
            self.save_keyfile()
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
        shown = self.shown_name(account)
        self._pending(Action.LOGIN_FAILED, shown, None, detail)
        locked = record.failures >= MAX_FAILURES
        if locked:
            record.locked_until_utc = iso_utc(now + timedelta(seconds=LOCKOUT_SECONDS))
            self._pending(Action.ACCOUNT_LOCKED, shown, None,
                          f"{record.failures} consecutive failures: locked for {LOCKOUT_SECONDS // 60} min")
        self.keyfile.attempts[self.keyfile.account_tag(account)] = record
        self.keyfile.trim_attempts(now)
        self.save_keyfile()
        self.flush_pending_events()
        self.clock.sleep(failure_delay(record.failures))
        if locked:
            raise AuthenticationError(Msg.ACCOUNT_LOCKED, minutes=LOCKOUT_SECONDS // 60)
        raise AuthenticationError(message)

    def _clear_failures(self, account: str) -> None:
        tag = self.keyfile.account_tag(account)
        if tag in self.keyfile.attempts:
            del self.keyfile.attempts[tag]
            self.save_keyfile()

    def _rotation_key(self, kind: str, user: str | None, unlocked: Unlocked) -> bytes | None:
        """The new database key an interrupted rotation sealed to this account (in its journal), if any."""
        if self._pending_step is None or self._pending_step.step != "rekey" or unlocked.keys is None:
            return None
        from msc_sle_crf.store import rekey

        return rekey.journal_key(self._pending_step, kind, user, unlocked.keys)

    def _ensure_store(self, key: bytes, signer: Signer | None = None, alternative: bytes | None = None) -> Store:
        if self.store is None:
            salt = bytes.fromhex(self.keyfile.db_salt_hex)
            try:
                # In constant time (issue 13): the key, the header and the schema (open_checked), the newest audit
                # records read before anything is written (_check_audit_tail), the tables once the schema is
                # current. Every page and the whole chain are checked by verify, backups and the check after sign-in.
                store = open_checked(self.db_path, key, salt)
            except StoreError:
                if alternative is None:
                    raise
                store = open_checked(self.db_path, alternative, salt)  # the rotation had re-keyed the database
            self.rekey_completed = alternative is not None and store.key == alternative
            self.store = store
            try:
                self._check_audit_tail()
                # An interrupted step is finished first (it only needs the tables of the first schema), then the
                # schema is brought up to date (itself a journaled step).
                if self._pending_step is not None and current_revision(store) in known_revisions():
                    # before an upgrade, the trail has no signature columns yet: the recovery writes unsigned
                    # records there (the part of an upgraded trail that precedes signing)
                    self._recover_with_store(signer if current_revision(store) == head_revision() else None)
                self.upgrade_backup = ensure_current(store, stamp=self.clock.now().strftime("%Y%m%dT%H%M%SZ"))
                self._check_trail_head(signer)
                self._check_tables()
            except BaseException:
                self.store = None
                store.close()
                raise
        elif self.store.key not in (key, alternative):  # the key file unwrapped a different key: not this site's
            raise KeyFileError(Msg.KEYFILE_MISMATCH, path=str(self.keyfile.path))
        return self.store

    def _check_audit_tail(self) -> None:
        """The newest audit records read and re-checked (content, hashes, links) before anything is written: pages
        that cannot be read refuse the file (DB_CORRUPT); records that do not hold are kept in ``opening_check`` and
        shown at once (status bar, command line) while the user can still run ``verify`` to see everything. The
        anchor in the key file is compared by the full checks (after a crash that damaged the WAL it may be ahead of
        the trail, which the trail-head check records)."""
        store = self.store
        assert store is not None
        conn = store.raw_connection()
        try:
            has_trail = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_event'"
                                     ).fetchone() is not None
            self.opening_check = audit.verify_tail(conn) if has_trail else None
        except sqlcipher_error() as exc:
            raise translate_db_error(exc, self.db_path) from None
        finally:
            conn.close()

    def _check_tables(self) -> None:
        """Every table of the current schema is there (a damaged or foreign schema is refused)."""
        from msc_sle_crf.store.tables import Base

        store = self.store
        assert store is not None
        conn = store.raw_connection()
        try:
            missing = missing_tables(conn, set(Base.metadata.tables))
        except sqlcipher_error() as exc:
            raise translate_db_error(exc, self.db_path) from None
        finally:
            conn.close()
        if missing:
            raise StoreError(Msg.DB_CORRUPT, path=str(self.db_path), detail="tables missing: " + ", ".join(missing))

    def _close_store(self) -> None:
        if self._head is not None:
            self._head.close()
            self._head = None
        if self.store is not None:
            self.store.close()
            self.store = None

    # ----- the trail head outside the WAL -----------------------------------------------------------------------
    def note_head(self, record_id: int, record_hash: str, ts_utc: str) -> None:
        """A write committed with this last audit record: remember it outside the WAL (throttled)."""
        self._head_pending = (record_id, record_hash, ts_utc)
        if time.monotonic() - self._head_written_at >= self.head_interval:
            self.flush_head()

    def flush_head(self) -> None:
        if self._head_pending is None or self.store is None:
            return
        if self._head is None:
            self._head = HeadWriter(self.db_path, self.keyfile.db_id)
        self._head.write(*self._head_pending)
        self._head_pending = None
        self._head_written_at = time.monotonic()

    def _check_trail_head(self, signer: Signer | None) -> None:
        """Before anything is written: does the trail still reach the head recorded outside the WAL? If not, the
        loss is written into the trail itself (so that it stays visible to every later verify)."""
        recorded = read_head(self.db_path, self.keyfile.db_id)
        store = self.store
        if recorded is None or store is None:
            return
        with store.read() as session:
            row = session.execute(text("SELECT hash FROM audit_event WHERE id = :id"),
                                  {"id": recorded.record_id}).first()
            last = session.execute(text("SELECT id, ts_utc, utc_offset_min FROM audit_event ORDER BY id DESC "
                                        "LIMIT 1")).first()
        if row is not None and row[0] == recorded.record_hash:
            return
        detail = json.dumps({"head": recorded.record_id, "head_time": recorded.ts_utc,
                             "last": int(last[0]) if last else 0, "last_time": str(last[1]) if last else "",
                             "last_offset": int(last[2]) if last else 0}, sort_keys=True)
        with store.write() as session:
            entry = audit.append(session, self.clock, self.workstation, AuditEntry(
                Action.TRAIL_LOSS_DETECTED, None, None, detail=detail), signer)
        self._head_pending = (int(entry["id"]), str(entry["hash"]), str(entry["ts_utc"]))
        self.flush_head()

    def _recover_with_store(self, signer: Signer | None) -> None:
        """A step that needed the database key (found in its journal when the site was opened) is completed or
        undone now, before anything else reads the data."""
        journal, self._pending_step = self._pending_step, None
        if journal is None:
            return
        recovery = J.recovery_for(journal)
        if recovery.with_store is not None:
            self._last_signer = signer
            self.notices.append(recovery.with_store(self, journal))

    # ----- credential steps: a key-slot change and its audited account change, never one without the other ----
    @contextlib.contextmanager
    def credential_step(self, account: str, new_slot: Slot | None, change: dict[str, Any] | None,
                        entries: list[AuditEntry], *, if_interrupted: str) -> Iterator[list[AuditEntry]]:
        """Change ``account``'s key slot (``None``: remove it) together with its account row and audit records.

        The journal is written first, then the key file; the caller then writes ``change`` (see
        ``apply_account_change``) and the yielded audit entries in ONE database transaction. An error puts the old
        slot back. A crash before the transaction committed is finished at the next sign-in: the step is
        completed (``if_interrupted="complete"``: the user chose the new secret) or undone (``"undo"``: a
        generated one-time password nobody has seen). The entries carry the step's id so that the recovery can
        tell whether the transaction committed.
        """
        keyfile = self.keyfile
        old_slot = keyfile.find(KIND_USER, account)
        token = uuid.uuid4().hex[:12]
        tagged = [replace(e, detail=f"{e.detail} [step {token}]" if e.detail else f"[step {token}]")
                  for e in entries]
        journal = J.Journal.begin(self.db_path, "credential", {
            "account": account, "old_slot": old_slot.to_dict() if old_slot else None,
            "new_slot": new_slot.to_dict() if new_slot else None, "change": change, "token": token,
            "entries": [_entry_dict(e) for e in tagged], "if_interrupted": if_interrupted,
        }, iso_utc(self.clock.now()))
        try:
            if new_slot is None:
                keyfile.remove_slot(KIND_USER, account)
            else:
                keyfile.put_slot(new_slot)
            keyfile.attempts.pop(keyfile.account_tag(account), None)
            self.save_keyfile()
            yield tagged
        except BaseException:
            try:
                self.restore_slot(account, old_slot)
            except CrfError:
                raise  # the journal stays: the next start repairs the key file
            journal.finish()
            raise
        journal.finish()

    def authenticate(self, username: str, password: str) -> Actor:
        """Check a user's password against their key slot and the user table. Audited either way. Their personal
        keys stay in memory to sign what they write (made now for an account from before personal keys)."""
        account = normalize_username(username)
        record = self._check_not_locked(account)
        unlocked = self.keyfile.unlock(KIND_USER, account, normalize_secret(password))
        if unlocked is None:
            exists = self.keyfile.find(KIND_USER, account) is not None
            self._register_failure(account, record, "wrong password" if exists else "no such account")
        keys = unlocked.keys or PersonalKeys.generate()
        signer = Signer(account, keys)
        store = self._ensure_store(unlocked.db_key, signer, self._rotation_key(KIND_USER, account, unlocked))
        elsewhere = None
        with store.read() as session:
            user = session.execute(select(AppUser).where(AppUser.username == account)).scalar_one_or_none()
            if user is None or not user.active:
                actor = None
            else:
                actor = Actor(user.id, user.username, user.full_name, Role(user.role), user.must_change_password)
                elsewhere = self.disabled_elsewhere(account, session)
        if actor is None:
            self._register_failure(account, record, "account disabled or absent from the user table")
        if elsewhere is not None:  # the line a local disable gives (its slot is gone: "unknown or wrong password")
            self._register_failure(account, record, DISABLED_ELSEWHERE_DETAIL)
        self._check_generation(signer, account, actor.role.value)
        if unlocked.keys is None:
            self._introduce_keys(actor, password, unlocked, keys)
        self._signers[account] = signer
        self._last_signer = signer
        self._clear_failures(account)
        return actor

    def _introduce_keys(self, actor: Actor, password: str, unlocked: Unlocked, keys: PersonalKeys) -> None:
        """An account from before personal keys (a version 1 slot) gets its keys at its first sign-in: the slot
        is made again with the same password, and the keys are bound to it in the trail, signed by themselves."""
        assert self.store is not None
        slot = self.keyfile.make_slot(KIND_USER, actor.username, normalize_secret(password), unlocked.db_key,
                                      iso_utc(self.clock.now()), keys=keys)
        assert slot.publics is not None
        entry = AuditEntry(Action.KEY_BIND, actor.username, actor.role.value, item=actor.username,
                           new_value=json.dumps({"keys": keys_json(slot.publics)}),
                           detail="personal keys made at the first sign-in with this version")
        signer = Signer(actor.username, keys)
        with self.credential_step(actor.username, slot, None, [entry], if_interrupted="complete") as tagged, \
                self.store.write() as session:
            audit.append_many(session, self.clock, self.workstation, tagged, signer)
        self.binding_epoch += 1

    def sign_in(self, username: str, password: str, *, action: Action = Action.LOGIN) -> Actor:
        """Authenticate and record the sign-in (with any pending failed attempts before it)."""
        actor = self.authenticate(username, password)
        signer = self.signer(actor.username)
        self.flush_pending_events(signer)
        assert self.store is not None
        entries = []
        if self.upgrade_backup is not None:
            entries.append(AuditEntry(Action.SCHEMA_UPGRADE, actor.username, actor.role.value,
                                      detail=f"backup taken before upgrade: {self.upgrade_backup.name}"))
            self.upgrade_backup = None
        entries.append(AuditEntry(action, actor.username, actor.role.value))
        with self.store.write() as session:
            audit.append_many(session, self.clock, self.workstation, entries, signer)
        return actor

    def reset_with_recovery_code(self, recovery_code: str, username: str, new_password: str) -> Actor:
        """Set a new password for ``username`` with the site's recovery code (all passwords lost)."""
        account = normalize_username(username)
        check_password_policy(new_password, account)
        record = self._check_not_locked(RECOVERY_ACCOUNT)
        code = normalize_recovery_code(recovery_code).encode()
        unlocked = self.keyfile.unlock(KIND_RECOVERY, None, code)
        if unlocked is None:
            self._register_failure(RECOVERY_ACCOUNT, record, "wrong recovery code", Msg.BAD_RECOVERY_CODE)
        recovery_keys = unlocked.keys or PersonalKeys.generate(with_pdf=False)
        signer = self.remember_signer(RECOVERY_ACCOUNT, recovery_keys)
        store = self._ensure_store(unlocked.db_key, signer)
        self._clear_failures(RECOVERY_ACCOUNT)
        with store.read() as session:
            user = session.execute(select(AppUser).where(AppUser.username == account)).scalar_one_or_none()
            if user is None or not user.active:
                raise ValidationError(Msg.USER_UNKNOWN, user=account)
            actor = Actor(user.id, user.username, user.full_name, Role(user.role), False)
        self.flush_pending_events(signer)
        now = iso_utc(self.clock.now())
        entries = []
        if unlocked.keys is None:  # the recovery slot of an older site gets its keys now
            recovery_slot = self.keyfile.make_slot(KIND_RECOVERY, None, code, unlocked.db_key, now, keys=recovery_keys)
            self.keyfile.put_slot(recovery_slot)
            self.save_keyfile()
            assert recovery_slot.publics is not None
            entries.append(AuditEntry(Action.KEY_BIND, RECOVERY_ACCOUNT, None, item=RECOVERY_ACCOUNT,
                                      new_value=json.dumps({"keys": keys_json(recovery_slot.publics)})))
        # Nobody knows the account's old private keys: it gets new ones, bound by the recovery code.
        slot = self.keyfile.make_slot(KIND_USER, account, normalize_secret(new_password), unlocked.db_key, now)
        assert slot.publics is not None
        entries += [AuditEntry(Action.RECOVERY_CODE_USED, RECOVERY_ACCOUNT, None, item=account),
                    AuditEntry(Action.PASSWORD_RESET, RECOVERY_ACCOUNT, None, item=account,
                               detail="password set with the site recovery code"),
                    AuditEntry(Action.KEY_BIND, RECOVERY_ACCOUNT, None, item=account,
                               new_value=json.dumps({"keys": keys_json(slot.publics)}),
                               detail="new personal keys (set with the recovery code)")]
        change = {"op": "update", "username": account, "fields": {"must_change_password": False}}
        with self.credential_step(account, slot, change, entries, if_interrupted="complete") as tagged, \
                store.write() as session:
            apply_account_change(session, change, now)
            audit.append_many(session, self.clock, self.workstation, tagged, signer)
        self.binding_epoch += 1
        self.issue_certificate(account, signer, recovery_keys)
        return actor

    def issue_certificate(self, account: str, signer: Signer, opener: PersonalKeys, role: str | None = None) -> bool:
        """Issue ``account`` a personal certificate for its current PDF key with the CA key that ``opener`` (an
        administrator's or the recovery code's keys) unseals. False when it cannot (no CA, no PDF key)."""
        slot = self.keyfile.find(KIND_USER, account)
        if self.store is None or slot is None or slot.publics is None or slot.publics.pdf is None:
            return False
        with self.store.read() as session:
            settings = {r.key: r.value for r in session.execute(select(SiteSetting).where(SiteSetting.key.in_(
                (CA_CERT_SETTING, CA_KEY_SETTING, "site_name")))).scalars()}
            user = session.execute(select(AppUser).where(AppUser.username == account)).scalar_one_or_none()
        if CA_CERT_SETTING not in settings or user is None:
            return False
        try:
            sealed = json.loads(settings.get(CA_KEY_SETTING, "{}")).get(signer.username)
        except ValueError:
            sealed = None
        ca_key = ca.open_key(sealed, opener.box, self.keyfile.db_id, signer.username) if sealed else None
        if ca_key is None:
            return False
        cert_pem, serial = ca.issue(ca_key, settings[CA_CERT_SETTING], slot.publics.pdf, username=account,
                                    full_name=user.full_name, role=user.role,
                                    site_name=settings.get("site_name", ""), now=self.clock.now())
        from msc_sle_crf.store.tables import Certificate

        with self.store.write() as session:
            session.add(Certificate(username=account, serial=serial, cert_pem=cert_pem,
                                    issued_utc=iso_utc(self.clock.now())))
            audit.append(session, self.clock, self.workstation, AuditEntry(
                Action.CERTIFICATE, signer.username, role,
                item=account, new_value=serial, detail="personal PDF signing certificate issued by the site CA"),
                signer)
        return True

    def restore_slot(self, account: str, old_slot: Slot | None) -> None:
        """Put a user's previous key slot back (or remove a new one) when the audited change did not commit."""
        self.keyfile.slots = [s for s in self.keyfile.slots if not (s.kind == KIND_USER and s.user == account)]
        if old_slot is not None:
            self.keyfile.slots.append(old_slot)
        self.save_keyfile()

    # ----- closing -----------------------------------------------------------------------------------------
    def anchor_audit(self) -> None:
        """Remember the last audit record's id and hash in the key file, so removing the end of the trail
        is detected by verify."""
        if self.store is None:
            return
        from msc_sle_crf.store.tables import AuditEvent

        last: Any
        try:
            with self.store.read() as session:
                last = session.execute(select(AuditEvent.id, AuditEvent.hash, AuditEvent.ts_utc, AuditEvent.signer)
                                       .order_by(AuditEvent.id.desc()).limit(1)).first()
        except StoreError:  # a trail from before signing (not upgraded yet)
            with self.store.read() as session:
                row = session.execute(select(AuditEvent.id, AuditEvent.hash, AuditEvent.ts_utc)
                                      .order_by(AuditEvent.id.desc()).limit(1)).first()
            last = (*row, None) if row is not None else None
        if last is not None:
            anchor: dict[str, Any] = {"id": int(last[0]), "hash": str(last[1]), "ts": str(last[2])}
            # signed by the author of the last transaction (whose keys this program holds)
            signer = self._signers.get(str(last[3])) or self._last_signer
            if signer is not None:  # the head, signed by the last author: an insider re-anchoring signs as himself
                anchor["signer"] = signer.username
                anchor["sig"] = b64(signer.sign(anchor_message(self.keyfile.db_id, anchor["id"], anchor["hash"],
                                                               anchor["ts"])))
            self.keyfile.audit_anchor = anchor
            self._head_pending = (int(last[0]), str(last[1]), str(last[2]))
            self.flush_head()
            self.save_keyfile()

    def close(self) -> None:
        """Anchor the trail, close the database and ALWAYS release the instance lock. A failure to save the key
        file (a full disk) is raised after the lock is released, unless another error is already on its way, which
        then stays the one shown."""
        try:
            if self.store is not None:
                try:
                    self.anchor_audit()
                finally:
                    self._close_store()
        finally:
            self._lock.release()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self.close()
        except CrfError:
            if exc is None:
                raise  # nothing else went wrong: the key-file failure is the news
            # otherwise the first error (the one the user needs) stays visible; the lock is released anyway

    def __enter__(self) -> Site:
        return self


# ----- recovery of an interrupted credential step ---------------------------------------------------------------
def _slot_applied(keyfile: KeySlotFile, data: dict[str, Any]) -> bool:
    """Whether the key file already holds the step's new state for the account."""
    current = keyfile.find(KIND_USER, str(data["account"]))
    new = data.get("new_slot")
    if new is None:
        return current is None
    return current is not None and current.slot_id == new.get("slot_id")


def _credential_at_open(db_path: Path, journal: J.Journal) -> J.Notice | None:
    """Before any key is known: if the key file was never changed, the step simply did not happen."""
    keyfile = KeySlotFile.load(KeySlotFile.path_for(db_path))
    if _slot_applied(keyfile, journal.data):
        return None  # the database part may or may not have committed: decided at the first sign-in
    notice = J.Notice(False, journal.step, journal.started_utc)
    J._pending(db_path, notice)
    journal.finish()
    return notice


def _witness_role(site: Site) -> str | None:
    """The role of the account whose sign-in found the interrupted step (it signs what the recovery writes)."""
    signer = site._last_signer
    if signer is None or site.store is None:
        return None
    if signer.username == RECOVERY_ACCOUNT:
        return "recovery"
    with site.store.read() as session:
        user = session.execute(select(AppUser).where(AppUser.username == signer.username)).scalar_one_or_none()
    return user.role if user is not None else None


def _credential_with_store(site: Site, journal: J.Journal) -> J.Notice:
    """Complete or undo an interrupted credential step. Its records are written by the account that signs in
    (a witness, signing with its own key, "on behalf of" the step's author); a step that binds keys is completed
    only by an administrator (or the recovery code), whom the trail lets bind keys: anyone else undoes it."""
    data = journal.data
    store = site.store
    assert store is not None
    with store.read() as session:
        committed = session.execute(text("SELECT 1 FROM audit_event WHERE detail LIKE :tag LIMIT 1"),
                                    {"tag": f"%[step {data['token']}]%"}).first() is not None
    account = str(data["account"])
    applied = _slot_applied(site.keyfile, data)
    raw_entries = [_entry_of(raw) for raw in data.get("entries", [])]
    binds = any(str(e.action) in audit.BINDING_ACTIONS for e in raw_entries)
    role = _witness_role(site)
    may_complete = not binds or role in ("admin", "recovery")
    if committed or not applied:
        notice = J.Notice(committed, journal.step, journal.started_utc)
    elif data.get("if_interrupted") == "undo" or not may_complete:
        old = data.get("old_slot")
        site.restore_slot(account, Slot.from_dict(old) if old else None)
        notice = J.Notice(False, journal.step, journal.started_utc)
    else:
        notice = J.Notice(True, journal.step, journal.started_utc)
    entries = []
    witness = site._last_signer
    with store.write() as session:
        if notice.completed and not committed:
            if data.get("change"):
                apply_account_change(session, data["change"], iso_utc(site.clock.now()))
            for entry in raw_entries:
                on_behalf = f"on behalf of {entry.username}: " if witness and entry.username != witness.username \
                    else ""
                entries.append(replace(entry, username=witness.username if witness else entry.username,
                                       role=role if witness and role != "recovery" else entry.role,
                                       detail=f"{on_behalf}{entry.detail} (completed after an interruption)"))
        entries.append(AuditEntry(Action.STEP_RECOVERED, None, None, item=account, detail=notice.audit_detail()))
        audit.append_many(session, site.clock, site.workstation, entries, witness)
    site.binding_epoch += 1
    journal.finish()
    return notice


J.register("credential", at_open=_credential_at_open, with_store=_credential_with_store)


from msc_sle_crf.store import rekey as _rekey  # noqa: E402, F401 - registers the recovery of an interrupted rotation
