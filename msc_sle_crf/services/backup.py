"""Backup and restore: an encrypted copy of the database plus its key file, in one tar file with a manifest.

Nothing in a backup is readable without a user's password or the recovery code: the database copy is
encrypted with the same key, and the key file holds only wrapped keys. A restore is checked (manifest
hashes, page HMACs, SQLite structure, audit chain) before it replaces anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tarfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlcipher3.dbapi2 as sqlcipher

from msc_sle_crf import __version__, audit
from msc_sle_crf.access import Perm
from msc_sle_crf.audit import RECOVERY_SIGNER, Action
from msc_sle_crf.clock import Clock, SystemClock, iso_utc
from msc_sle_crf.errors import AuthenticationError, CrfError, Msg, StoreError
from msc_sle_crf.fileutil import MANIFEST_MEMBER, atomic_writer, check_input_file, safe_output_path
from msc_sle_crf.i18n import L
from msc_sle_crf.security.keyslots import KIND_RECOVERY, KeySlotFile, normalize_recovery_code
from msc_sle_crf.services.receipts import current_head
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.store import journal as J
from msc_sle_crf.store.db import check_db_path, connect_raw, copy_encrypted, integrity_problems, translate_db_error
from msc_sle_crf.store.instance_lock import InstanceLock
from msc_sle_crf.store.key_change import read_again_after_rekey, stop_if
from msc_sle_crf.store.site import Site

FORMAT = "msc-sle-crf-backup"
VERSION = 1
DB_MEMBER = "database.crfdb"
KEYS_MEMBER = "database.crfdb.keys"
MAX_MEMBER_BYTES = 64 * 1024**3


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


Progress = Callable[[int, int], None]  # (pages copied, pages in all); raising in it (a cancel) stops the copy


def create_backup(services: Workspace, out: Path, *, progress: Progress | None = None) -> Path:
    """Write a verified-consistent encrypted backup to ``out`` (atomically). Audited before the copy."""
    services.ctx.require(Perm.BACKUP)
    return write_backup(services, out, "encrypted backup", progress=progress)


def write_backup(services: Workspace, out: Path, what: str, *, progress: Progress | None = None,
                 record: Callable[[Path], dict[str, Any]] | None = None,
                 on_restart: Callable[[], None] | None = None) -> Path:
    """The backup itself (callers check who may ask for it): audited before the copy, so that the backup holds its
    own record; the copy is checked (pages, chain), then written atomically and read back (``verify_written``).
    ``record(out)``: writes the copy's record instead of a backup record (a workstation's fork) and returns what
    the manifest adds.

    Never beside a re-key (disable an account, "Rotate keys"; store/key_change.py): a backup started while the key
    changes waits for the new key; a re-key that starts while a backup runs stops it before its file is in place and
    it starts again on the new key (``on_restart`` is told), so that the copy and the key file it holds always go
    together and a disabled account's password opens neither."""
    out = safe_output_path(out, db_path=services.site.db_path)
    extra: dict[str, Any] = {}
    recorded = [False]

    def once(wanted: threading.Event) -> Path:
        if not recorded[0]:
            if out.exists():
                raise StoreError(Msg.OUTPUT_EXISTS, path=str(out))
            if record is None:
                services.integrity.record_export(Action.BACKUP, out, what)
            else:
                extra.update(record(out))
            recorded[0] = True  # the record is in the trail: a copy started again holds it too
        services.site.anchor_audit()
        return _write_copy(services, out, extra, progress, wanted)

    return read_again_after_rekey(services.site, once, on_restart)


def _write_copy(services: Workspace, out: Path, extra: dict[str, Any], progress: Progress | None,
                wanted: threading.Event) -> Path:
    """One attempt at the backup, with the key of now; ``KeyChanged`` (a re-key wants the file) before the file is
    in place."""
    tmp_db = out.with_name(f".{out.name}.{os.getpid()}.{threading.get_ident()}.db.tmp")
    store = services.ctx.store

    def step(done: int, total: int) -> None:  # the copy goes by steps of pages: a re-key stops it between two
        stop_if(wanted)
        if progress is not None:
            progress(done, total)

    try:
        conn = store.raw_connection()
        try:
            copy_encrypted(conn, tmp_db, store.key, store.salt, step)
        finally:
            conn.close()
        stop_if(wanted)
        _check_copy(tmp_db, store.key, store.salt, services)
        stop_if(wanted)
        keys = services.site.keyfile.path.read_bytes()
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "app_version": __version__,
            "created_utc": iso_utc(services.site.clock.now()),
            "created_by": services.actor.username,
            "db_id": services.site.keyfile.db_id,
            # the trail head at the copy, signed by the user who made it: the backup is also a receipt
            "trail_head": current_head(services.ctx),
            **extra,
            "files": {
                DB_MEMBER: {"sha256": _sha256_file(tmp_db), "size": tmp_db.stat().st_size},
                KEYS_MEMBER: {"sha256": hashlib.sha256(keys).hexdigest(), "size": len(keys)},
            },
        }
        with atomic_writer(out) as fh:
            with tarfile.open(fileobj=fh, mode="w") as tar:
                _add_bytes(tar, MANIFEST_MEMBER, json.dumps(manifest, indent=1).encode())
                tar.add(str(tmp_db), arcname=DB_MEMBER)
                _add_bytes(tar, KEYS_MEMBER, keys)
            stop_if(wanted)  # the last moment: past it the file is in place and the re-key waits for the read-back
        verify_written(out, manifest)
    except OSError as exc:
        raise StoreError(Msg.OUTPUT_NOT_WRITABLE, path=str(out), detail=exc.strerror or str(exc)) from None
    except sqlcipher.Error as exc:
        damaged = translate_db_error(exc, services.site.db_path)
        if damaged.msg is Msg.DB_CORRUPT:  # a page of the database could not be read: the source is the problem
            raise damaged from None
        raise StoreError(Msg.OUTPUT_NOT_WRITABLE, path=str(out), detail=str(exc)) from None
    finally:
        with contextlib.suppress(OSError):
            tmp_db.unlink()
    return out


def verify_written(path: Path, manifest: dict[str, Any]) -> None:
    """Read the written backup back from its target: the three members and nothing else, the manifest as written,
    every member's SHA-256 and size equal to those of the copy that was checked, and the database member
    encrypted (no SQLite header in clear). A copy that differs (a failing USB drive, a full share) is removed."""
    try:
        found = read_manifest(path)
        if found != manifest:
            raise _invalid(path, "the manifest read back differs")
        with tarfile.open(path, mode="r:") as tar:
            for name, expected in manifest["files"].items():
                member = tar.getmember(name)
                source = tar.extractfile(member)
                assert source is not None
                digest = hashlib.sha256()
                first = source.read(16)
                if name == DB_MEMBER and first == b"SQLite format 3\x00":
                    raise _invalid(path, "the database copy is not encrypted")
                digest.update(first)
                while block := source.read(1 << 20):
                    digest.update(block)
                if member.size != expected["size"] or digest.hexdigest() != expected["sha256"]:
                    raise _invalid(path, f"{name} read back differs from the checked copy")
    except (OSError, tarfile.TarError, KeyError) as exc:
        with contextlib.suppress(OSError):
            path.unlink()
        raise _invalid(path, f"read back failed ({exc})") from None
    except StoreError:
        with contextlib.suppress(OSError):
            path.unlink()
        raise


def read_manifest(path: Path) -> dict[str, Any]:
    """A backup's manifest (date, author, trail head, app version, members), read without any key."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            member = tar.getmember(MANIFEST_MEMBER)
            if not member.isfile() or member.size > 1 << 20:
                raise _invalid(path, "unexpected content")
            source = tar.extractfile(member)
            assert source is not None
            manifest = json.loads(source.read())
    except KeyError:
        raise _invalid(path, "no manifest") from None
    except (OSError, tarfile.TarError):
        raise _invalid(path, "not a backup file") from None
    except ValueError:
        raise _invalid(path, "manifest unreadable") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _invalid(path, "unknown backup format")
    return manifest


def _check_copy(copy: Path, key: bytes, salt: bytes | None, services: Workspace) -> None:
    """Every page of the copy and its whole audit chain (the opening of a database no longer checks them): a
    damaged database is not written out as a backup that would look good."""
    conn = connect_raw(copy, key, salt)
    try:
        problems = integrity_problems(conn, full=False)
        # The authors' signatures are not checked again here (the check after sign-in, verify and every restore
        # check them): the copy's pages, hashes and links are, which is what a faithful copy must hold.
        last = conn.execute("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
        verifier = audit.TrailVerifier(services.site.keyfile.audit_anchor,
                                       trusted_through=(int(last[0]), str(last[1])) if last else None)
        result = audit.verify_connection(conn, verifier=verifier) if not problems else None
    finally:
        conn.close()
    if problems:
        raise StoreError(Msg.DB_CORRUPT, path=str(services.site.db_path), detail="; ".join(problems[:3]))
    if result is not None and not result.ok:
        raise StoreError(Msg.AUDIT_BROKEN, record=result.first_bad_id, detail=result.problem)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


@dataclass(frozen=True)
class RestoreResult:
    db_path: Path
    created_utc: str
    audit_records: int
    replaced: tuple[Path, ...]
    # a backup of a workstation of a site with several laptops (issue 18): which one, and the last packet it knows
    # it wrote; the others may hold later packets of it (docs/workstations.md, "Restored from a backup")
    workstation: str | None = None
    last_packet: int = 0

    def workstation_warning(self) -> L | None:
        if self.workstation is None:
            return None
        ws, n = self.workstation, self.last_packet
        known_en = f"the last packet it remembers writing is its packet {n}" if n else "it remembers writing no packet"
        known_fr = (f"le dernier paquet qu'il se souvient d'avoir écrit est son paquet {n}" if n
                    else "il ne se souvient d'avoir écrit aucun paquet")
        return L(f"Warning: this is a backup of workstation {ws} ({known_en}). If {ws} sent packets after this backup "
                 "was taken, the other workstations hold records it no longer has and will refuse its next packets "
                 "(restored from a backup older than what it already sent): restore a newer backup if there is one; "
                 "see docs/workstations.md ('Restored from a backup').",
                 f"Attention : c'est une sauvegarde du poste {ws} ({known_fr}). Si {ws} a envoyé des paquets après "
                 "cette sauvegarde, les autres postes ont des enregistrements qu'il n'a plus et refuseront ses "
                 "prochains paquets (restauré depuis une sauvegarde plus ancienne que ce qu'il avait envoyé) : "
                 "restaurez une sauvegarde plus récente s'il y en a une ; voir docs/workstations.md (« Restauré "
                 "depuis une sauvegarde »).")


def _invalid(path: Path, detail: str) -> StoreError:
    return StoreError(Msg.BACKUP_INVALID, path=str(path), detail=detail)


def _extract(backup: Path, dest_db: Path) -> dict[str, Any]:
    """Extract the two files to ``dest_db`` and its key file, checking the manifest. Returns the manifest."""
    try:
        check_input_file(backup, max_bytes=2 * MAX_MEMBER_BYTES)
    except CrfError as exc:
        reason = exc.params.get("reason")
        raise _invalid(backup, reason.get() if isinstance(reason, L) else "unreadable") from None
    try:
        tar = tarfile.open(backup, mode="r:")  # noqa: SIM115 - closed by the with-block below
    except FileNotFoundError:
        raise _invalid(backup, "file not found") from None
    except (tarfile.TarError, OSError):
        raise _invalid(backup, "not a backup file") from None
    with tar:
        members = {m.name: m for m in tar.getmembers()}
        if set(members) != {MANIFEST_MEMBER, DB_MEMBER, KEYS_MEMBER} or not all(m.isfile() for m in members.values()):
            raise _invalid(backup, "unexpected content")
        manifest_file = tar.extractfile(members[MANIFEST_MEMBER])
        assert manifest_file is not None
        try:
            manifest = json.loads(manifest_file.read(1 << 20))
        except ValueError:
            raise _invalid(backup, "manifest unreadable") from None
        if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
            raise _invalid(backup, "unknown backup format")
        targets = {DB_MEMBER: dest_db, KEYS_MEMBER: KeySlotFile.path_for(dest_db)}
        for name, target in targets.items():
            member = members[name]
            expected = manifest.get("files", {}).get(name, {})
            if member.size > MAX_MEMBER_BYTES:
                raise _invalid(backup, f"{name} too large")
            source = tar.extractfile(member)
            assert source is not None
            digest = hashlib.sha256()
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                while block := source.read(1 << 20):
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != expected.get("sha256"):
                raise _invalid(backup, f"{name} does not match its checksum (damaged copy)")
    return dict(manifest)


def _finish_earlier_step(db_path: Path, force: bool) -> None:
    if os.path.lexists(J.Journal.path_for(db_path)):
        with InstanceLock(db_path):
            J.recover_at_open(db_path)  # an earlier interrupted step is finished first
    if os.path.lexists(db_path) and not force:
        raise StoreError(Msg.DB_EXISTS, path=str(db_path))


def _note_restore(staging: Path, username: str, role: str | None, detail: str, clock: Clock) -> None:
    """The restore's audit record, kept in the restored key file: it enters the trail at the next sign-in."""
    keyfile = KeySlotFile.load(KeySlotFile.path_for(staging))
    keyfile.add_pending_event({"action": str(Action.RESTORE), "username": username, "role": role, "detail": detail,
                               "ts_utc": iso_utc(clock.now()), "utc_offset_min": clock.local_offset_minutes()})
    keyfile.save()


def _moves(db_path: Path, staging: Path, clock: Clock) -> tuple[list[dict[str, Any]], list[Path]]:
    """The existing files moved aside (never deleted), then the checked copy moved into place."""
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    moves: list[dict[str, Any]] = []
    replaced: list[Path] = []
    for existing in (db_path, *J.companions(db_path)):
        if os.path.lexists(existing):
            aside = J.unique_aside(existing, f"replaced-{stamp}")
            moves.append({"from": str(existing), "to": str(aside)})
            replaced.append(aside)
    moves += [{"from": str(staging), "to": str(db_path)},
              {"from": str(KeySlotFile.path_for(staging)), "to": str(KeySlotFile.path_for(db_path))}]
    return moves, replaced


def _check_with_recovery_code(staging: Path, backup: Path, recovery_code: str) -> int:
    """The staged backup opened with the site's recovery code (every administrator password lost): every page and
    the whole audit chain checked. Returns the number of audit records."""
    keyfile = KeySlotFile.load(KeySlotFile.path_for(staging))
    unlocked = keyfile.unlock(KIND_RECOVERY, None, normalize_recovery_code(recovery_code).encode())
    if unlocked is None:
        raise AuthenticationError(Msg.BAD_RECOVERY_CODE)
    conn = connect_raw(staging, unlocked.db_key, bytes.fromhex(keyfile.db_salt_hex))
    try:
        problems = integrity_problems(conn, full=True)
        result = audit.verify_connection(conn, keyfile.audit_anchor) if not problems else None
    except sqlcipher.Error as exc:
        raise _invalid(backup, str(exc)) from None
    finally:
        conn.close()
    if problems:
        raise _invalid(backup, "; ".join(problems[:2]))
    assert result is not None
    if not result.ok:
        raise _invalid(backup, f"audit record #{result.first_bad_id}: {result.problem}")
    return result.records


def _workstation_of(services: Workspace) -> tuple[str | None, int]:
    """Whether the database is a workstation of a site with several laptops (its identity, a fork of its own, or a
    packet written), and the number of the last packet it wrote: (workstation or None, last packet)."""
    from sqlalchemy import select

    from msc_sle_crf.store.tables import AuditEvent, SiteSetting, SyncPacketOut
    from msc_sle_crf.sync.identity import this_workstation

    with services.ctx.read() as session:
        here = this_workstation(session)
        prefix = f"{services.ctx.site.keyfile.db_id}.{here.id}."
        last = session.execute(select(SyncPacketOut.file_oid).where(SyncPacketOut.file_oid.startswith(
            prefix, autoescape=True)).order_by(SyncPacketOut.seq.desc()).limit(1)).scalar()
        forked = session.get(SiteSetting, "workstation_id") is not None or session.execute(
            select(AuditEvent.id).where(AuditEvent.action == str(Action.WORKSTATION_ADD)).limit(1)).first() is not None
    if not forked and last is None:
        return None, 0
    tail = str(last)[len(prefix):] if last else ""
    return here.id, int(tail) if tail.isdigit() else 0


def _check_staged(staging: Path, backup: Path, username: str, password: str, *, recovery_code: str | None,
                  clock: Clock) -> tuple[int, str, str | None, tuple[str | None, int]]:
    """The staged backup opened and checked completely: (audit records, who restores, their role, the workstation it
    is and its last packet)."""
    if recovery_code is not None:
        return _check_with_recovery_code(staging, backup, recovery_code), RECOVERY_SIGNER, None, (None, 0)
    site = Site.open(staging, clock=clock)
    try:
        services = Workspace.sign_in(site, username, password)
        services.ctx.require(Perm.BACKUP)
        report = services.integrity.verify(full=True)
        if not report.ok:
            detail = "; ".join(report.page_problems[:2]) or (
                f"audit record #{report.audit.first_bad_id}: {report.audit.problem}")
            raise _invalid(backup, detail)
        return report.audit.records, services.actor.username, services.actor.role.value, _workstation_of(services)
    finally:
        site.close()


def restore_backup(backup: Path, db_path: Path, username: str, password: str, *, force: bool = False,
                   clock: Clock | None = None, recovery_code: str | None = None,
                   progress: Callable[[L], None] | None = None) -> RestoreResult:
    """Check a backup completely, then put it in place of ``db_path`` (moving any existing files aside).

    The moves are one journaled step: a crash between two of them is completed at the next open, so the site is
    never left without its database or its key file. The restore's audit record travels in the restored key file
    (written into the trail at the next sign-in), so it cannot be separated from the files it describes.
    """
    backup, db_path = Path(backup), Path(db_path)
    clock = clock or SystemClock()
    check_db_path(db_path, creating=True)
    _finish_earlier_step(db_path, force)
    staging = db_path.with_name(f".restore-{os.getpid()}{db_path.suffix}")
    staged = [staging, KeySlotFile.path_for(staging), Path(f"{staging}-wal"), Path(f"{staging}-shm"),
              Path(f"{staging}.lock"), Path(f"{staging}.head"), J.Journal.path_for(staging)]
    moving = False
    try:
        say = progress or (lambda _step: None)
        say(L("Checking the backup file", "Contrôle du fichier de sauvegarde"))
        manifest = _extract(backup, staging)
        if manifest.get("workstation"):  # restored, it would be a second copy of the workstation it came from
            raise StoreError(Msg.RESTORE_WORKSTATION_FILE, path=str(backup))
        say(L("Checking every page and the audit trail", "Contrôle de chaque page et de la piste d'audit"))
        records, restorer, restorer_role, (ws, last_packet) = _check_staged(
            staging, backup, username, password, recovery_code=recovery_code, clock=clock)
        _note_restore(staging, restorer, restorer_role,
                      f"restored backup of {manifest.get('created_utc')} -> {backup.name}", clock)
        say(L("Putting the backup in place (the current database is kept aside)",
              "Mise en place de la sauvegarde (la base actuelle est mise de côté)"))
        with InstanceLock(db_path):
            moves, replaced = _moves(db_path, staging, clock)
            journal = J.Journal.begin(db_path, "restore", {"moves": moves, "backup": str(backup)},
                                      iso_utc(clock.now()))
            moving = True
            J.run_moves(moves)
            journal.finish()
            moving = False
        if recovery_code is None:
            site = Site.open(db_path, clock=clock)
            try:
                Workspace.sign_in(site, username, password)  # writes the restore's record into the trail
            finally:
                site.close()
        # with the recovery code, the record enters the trail at the next sign-in (a witnessed event)
        return RestoreResult(db_path, str(manifest.get("created_utc")), records, tuple(replaced), ws, last_packet)
    except CrfError:
        raise
    except OSError as exc:
        raise StoreError(Msg.OUTPUT_NOT_WRITABLE, path=str(db_path), detail=exc.strerror or str(exc)) from None
    finally:
        if not moving:  # a half-done move is left to its journal: the next open completes it
            for leftover in staged:
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()


__all__ = ["RestoreResult", "create_backup", "read_manifest", "restore_backup", "verify_written", "write_backup"]
