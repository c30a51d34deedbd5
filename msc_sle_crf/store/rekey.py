"""Revocation that revokes (issue 14, item 7): the database re-keyed with a new random key.

Disabling an account, or an administrator's "Rotate keys", gives the database a new 32-byte key (SQLCipher
``PRAGMA rekey``: every page is rewritten, in one transaction) and seals it to every *remaining* account's personal
X25519 key and to the recovery code's (no password needed: ``keyslots.KeySlotFile.resealed``). A disabled user's
password, an old password, or any older key file (a ``.replaced-*`` copy, a ``.before-upgrade-*`` copy) then opens
nothing in the current database. Key files beside the database whose copy opens with the old key are re-wrapped for
the remaining accounts only; others are removed. Backups keep the keys of their date (see the README).

The step is journaled (``<db>.journal``, step "rekey") before the database changes: after a crash, the next
sign-in opens the database with whichever key it has (the old one from the key file, or the new one sealed in the
journal) and completes or undoes the step, and says so.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from msc_sle_crf.clock import iso_utc
from msc_sle_crf.errors import CrfError, Msg, ValidationError
from msc_sle_crf.i18n import L
from msc_sle_crf.security import packet_secret
from msc_sle_crf.security.keyslots import (
    DB_KEY_BYTES,
    KIND_RECOVERY,
    KIND_USER,
    KeySlotFile,
    Slot,
    new_recovery_code,
    normalize_recovery_code,
)
from msc_sle_crf.security.personal import open_sealed
from msc_sle_crf.store import journal as J
from msc_sle_crf.store.db import connect_raw, open_checked, raw_key_pragma
from msc_sle_crf.store.key_change import key_change

if TYPE_CHECKING:
    from msc_sle_crf.security.personal import PersonalKeys
    from msc_sle_crf.store.site import Site

Progress = Callable[[int, int], None]  # (bytes rewritten so far, bytes in all)


@dataclass(frozen=True)
class Rotation:
    accounts: tuple[str, ...]  # the accounts the new key was sealed to
    removed: str | None
    seconds: float
    size_bytes: int
    stale_rewrapped: tuple[Path, ...]
    stale_removed: tuple[Path, ...]
    # an older site's recovery slot (no personal keys) is replaced at the first rotation: the NEW code, shown once
    recovery_code: str | None = None
    recovery_slot: Slot | None = None
    dropped: tuple[str, ...] = ()  # key slots of no active account (added to the key file by hand): not resealed


def strays(keyfile: KeySlotFile, directory: object) -> list[str]:
    """Names of user key slots that belong to no active account of the trail (a slot copied into the key file under a
    made-up name, or left by a disabled account): a rotation drops them instead of sealing the new key to them."""
    from msc_sle_crf.audit import KeyDirectory

    assert isinstance(directory, KeyDirectory)
    out = []
    for slot in keyfile.slots:
        if slot.kind == KIND_USER and slot.user:
            account = directory.get(slot.user)
            if account is None or not account.active:
                out.append(slot.user)
    return out


def blockers(keyfile: KeySlotFile, directory: object, remove: str | None) -> list[str]:
    """Why the key cannot be rotated now (empty: it can): an account from before personal keys (its slot cannot be
    sealed without its password), or a slot whose public key is not the one the trail binds to its account (a key
    file edited to have the new key sealed to someone else). Slots of no active account are not a reason: the
    rotation drops them (``strays``)."""
    problems = []
    dropped = set(strays(keyfile, directory))
    legacy = [s.user for s in keyfile.slots if s.publics is None and s.kind == KIND_USER and s.user
              and s.user != remove and s.user not in dropped]
    if legacy:
        problems.append("these accounts have not signed in since the upgrade (no personal keys yet): "
                        + ", ".join(sorted(legacy)) + " — sign in once with each, or reset their passwords")
    from msc_sle_crf.audit import RECOVERY_SIGNER, KeyDirectory

    assert isinstance(directory, KeyDirectory)
    for slot in keyfile.slots:
        if slot.publics is None or slot.user == remove or (slot.kind == KIND_USER and slot.user in dropped):
            continue
        name = slot.user if slot.kind == KIND_USER else RECOVERY_SIGNER
        account = directory.get(name)
        bound = account.current if account is not None else None
        if bound is None or bound.box != slot.publics.box or (account is not None and not account.active):
            problems.append(f"the key file's key for '{name}' is not the one the audit trail binds to it")
    return problems


def _watch(path: Path, total: int, progress: Progress, stop: threading.Event) -> None:
    """Progress of a rekey: the pages it rewrote so far are in the write-ahead log."""
    wal = Path(f"{path}-wal")
    while not stop.wait(0.2):
        with contextlib.suppress(OSError):
            progress(min(wal.stat().st_size, total), total)


def rekey_file(path: Path, old_key: bytes, new_key: bytes, salt: bytes | None,
               progress: Progress | None = None) -> None:
    """Rewrite every page of the database under ``new_key`` (one transaction), then checkpoint it into the file."""
    total = path.stat().st_size
    stop = threading.Event()
    watcher = None
    if progress is not None:
        progress(0, total)
        watcher = threading.Thread(target=_watch, args=(path, total, progress, stop), daemon=True)
        watcher.start()
    conn = connect_raw(path, old_key, salt)
    try:
        conn.execute(raw_key_pragma(new_key, salt).replace("PRAGMA key", "PRAGMA rekey", 1))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
        stop.set()
        if watcher is not None:
            watcher.join()
    if progress is not None:
        progress(total, total)


def _stale_keyfiles(db_path: Path) -> list[Path]:
    """Key files of older copies kept beside the database (restore, upgrade)."""
    live = KeySlotFile.path_for(db_path)
    out = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(db_path.parent):
            name = entry.name
            if name.startswith(db_path.name) and ".keys" in name and Path(entry.path) != live \
                    and not name.endswith((".tmp", ".lock")) and entry.is_file(follow_symlinks=False):
                out.append(Path(entry.path))
    return sorted(out)


def _copy_of(stale: Path) -> Path:
    """The database copy a stale key file goes with: 'x.crfdb.keys.replaced-S' -> 'x.crfdb.replaced-S',
    'x.bak.keys' -> 'x.bak'."""
    name = stale.name
    if name.endswith(".keys"):
        return stale.with_name(name[: -len(".keys")])
    return stale.with_name(name.replace(".keys", "", 1))


def _rewrap_stale(site: Site, old_key: bytes, slots: list[Slot]) -> tuple[list[Path], list[Path]]:
    rewrapped, removed = [], []
    for stale in _stale_keyfiles(site.db_path):
        copy = _copy_of(stale)
        try:
            keyfile = KeySlotFile.load(stale)
            opens = copy.exists()
            if opens:
                open_checked(copy, old_key, bytes.fromhex(keyfile.db_salt_hex)).close()
        except (CrfError, OSError, ValueError):
            opens = False
        if not opens:
            with contextlib.suppress(OSError):
                stale.unlink()
            removed.append(stale)
            continue
        keyfile.slots = [keyfile.resealed(s, old_key) for s in slots]
        keyfile.attempts = {}
        keyfile.save()
        rewrapped.append(stale)
    return rewrapped, removed


def rotate(site: Site, *, remove: str | None = None, progress: Progress | None = None,
           drop: Sequence[str] = ()) -> Rotation:
    """Re-key the open database and seal the new key to every remaining account (see the module); the slots named in
    ``drop`` (``strays``) get no new key. A background check reading the file stops first (store/key_change.py)."""
    with key_change(site).changing():
        return _rotate(site, remove=remove, progress=progress, drop=drop)


def _rotate(site: Site, *, remove: str | None, progress: Progress | None, drop: Sequence[str]) -> Rotation:
    store = site.store
    assert store is not None
    keyfile = site.keyfile
    old_key, salt = store.key, store.salt
    new_key = os.urandom(DB_KEY_BYTES)
    gone = {remove, *drop} - {None}
    dropped = tuple(sorted(s.user for s in keyfile.slots if s.kind == KIND_USER and s.user and s.user in gone
                           and s.user != remove))
    remaining = [s for s in keyfile.slots if not (s.kind == KIND_USER and s.user in gone)]
    code = None
    if any(s.kind == KIND_RECOVERY and s.publics is None for s in remaining):
        code = new_recovery_code()
        remaining = [s for s in remaining if s.kind != KIND_RECOVERY]
        remaining.append(keyfile.make_slot(KIND_RECOVERY, None, normalize_recovery_code(code).encode(), new_key,
                                           iso_utc(site.clock.now())))
    new_slots = [keyfile.resealed(s, new_key) for s in remaining]
    started = time.perf_counter()
    # the site's packet secret stays the same: wrapped under the new key too before the re-key (issue 18)
    conn = store.raw_connection()
    try:
        packet_secret.rewrap_before_rekey(conn, old_key, new_key, keyfile.db_id)
    finally:
        conn.close()
    journal = J.Journal.begin(site.db_path, "rekey", {
        "new_slots": [s.to_dict() for s in new_slots], "removed": remove, "db_id": keyfile.db_id,
    }, iso_utc(site.clock.now()))
    site.close_store_for_rekey()
    try:
        rekey_file(site.db_path, old_key, new_key, salt, progress)
    except BaseException:
        site.reopen_store(old_key)  # the rekey is one transaction: the database still has its old key
        journal.finish()
        raise
    keyfile.slots = new_slots
    keyfile.attempts = {t: r for t, r in keyfile.attempts.items() if t != keyfile.account_tag(remove or "")}
    site.reopen_store(new_key)
    site.save_keyfile()
    assert site.store is not None
    conn = site.store.raw_connection()
    try:
        packet_secret.keep_only(conn, new_key, keyfile.db_id)
    finally:
        conn.close()
    rewrapped, removed = _rewrap_stale(site, old_key, new_slots)
    journal.finish()
    return Rotation(tuple(s.user or "recovery code" for s in new_slots), remove, time.perf_counter() - started,
                    site.db_path.stat().st_size, tuple(rewrapped), tuple(removed), code,
                    next((s for s in new_slots if s.kind == KIND_RECOVERY), None) if code else None, dropped)


# ----- an interrupted rotation ----------------------------------------------------------------------------------
def journal_key(journal: J.Journal, kind: str, user: str | None, keys: PersonalKeys) -> bytes | None:
    """The new database key an interrupted rotation sealed to this account (None: not one of its accounts)."""
    for raw in journal.data.get("new_slots", []):
        try:
            slot = Slot.from_dict(raw)
        except (KeyError, TypeError, ValueError):
            continue
        if slot.kind == kind and slot.user == user and slot.db_box is not None:
            return open_sealed(keys.box, slot.db_box, KeySlotFile.box_info(journal.data.get("db_id", ""), kind, user)
                               ) if journal.data.get("db_id") else None
    return None


def _rekey_with_store(site: Site, journal: J.Journal) -> J.Notice:
    """The database opened with the new key: complete (the key file gets the new slots); with the old: undo."""
    assert site.store is not None
    try:
        new_slots = [Slot.from_dict(raw) for raw in journal.data.get("new_slots", [])]
    except (KeyError, TypeError, ValueError):
        raise J.not_recoverable(journal, "the journal's slots are damaged", "les clés du journal sont endommagées"
                                ) from None
    completed = any(s.db_box is not None and s.kind in (KIND_USER, KIND_RECOVERY) for s in new_slots) \
        and site.rekey_completed
    if completed:
        site.keyfile.slots = new_slots
        site.save_keyfile()
    notice = J.Notice(completed, journal.step, journal.started_utc)
    from msc_sle_crf import audit
    from msc_sle_crf.audit import Action, AuditEntry

    with site.store.write() as session:
        audit.append(session, site.clock, site.workstation, AuditEntry(
            Action.STEP_RECOVERED, None, None, detail=notice.audit_detail()), site.last_signer)
    journal.finish()
    return notice


J.register("rekey", with_store=_rekey_with_store)


def refuse(problems: list[str]) -> ValidationError:
    return ValidationError(Msg.ROTATION_BLOCKED, reason=L("; ".join(problems), "; ".join(problems)))
