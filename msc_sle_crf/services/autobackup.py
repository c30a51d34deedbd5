"""Automatic encrypted backups: a folder and a schedule set by an administrator (site settings), backups made at
lock and log-out and once a day, each read back and checked after writing, old ones pruned, the status (last good
backup, its age, the last failure) kept for administrators with a warning when it is too old; all audited.

A backup made on schedule acts for the user whose session triggered it (the one who locked or logged out, or who
is signed in when the day's backup falls due), whatever their role: it is the site's policy, set by an
administrator, and it is written into the trail in that user's name (``backup`` before the copy, then
``backup_verified`` or ``backup_failed``). The files are the same encrypted backups as ``msc-sle-crf backup``
(``services/backup.py``): nothing in them opens without a password or the recovery code of their date.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from msc_sle_crf.access import Perm
from msc_sle_crf.audit import Action
from msc_sle_crf.errors import CrfError, Msg, StoreError
from msc_sle_crf.i18n import L
from msc_sle_crf.services import backup as B
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.site_settings import DEFAULT_SETTINGS
from msc_sle_crf.store.key_change import key_change
from msc_sle_crf.store.tables import AuditEvent, SiteSetting

SUFFIX = ".crfbak"
_AUTO_NAME = re.compile(r"^msc-sle-crf-(?P<db>[0-9a-f]{8})-(?P<ts>[0-9]{8}T[0-9]{6}Z)(?:-(?P<n>[0-9]+))?-auto\.crfbak$")
DAILY_HOURS = 24
RETRY_AFTER_FAILURE = dt.timedelta(hours=1)
# Status rows (not settings an administrator types: written only with the audit record they summarise)
LAST_OK_UTC, LAST_OK_FILE, LAST_OK_RECORD = "backup_last_ok_utc", "backup_last_ok_file", "backup_last_ok_record"
LAST_ERROR, LAST_ERROR_UTC = "backup_last_error", "backup_last_error_utc"
# Records that change nothing a backup would keep: a lock with none of the others since the last backup is skipped
_SESSION_ONLY = frozenset(str(a) for a in (
    Action.LOGIN, Action.LOGOUT, Action.LOCK, Action.UNLOCK, Action.USER_SWITCH, Action.BACKUP, Action.BACKUP_VERIFIED,
    Action.BACKUP_FAILED, Action.RECEIPT, Action.PRINT, Action.EXPORT, Action.AUDIT_VERIFY, Action.LOGIN_FAILED))

Reason = str  # "lock", "logout", "daily", "manual"
REASONS = {"lock": L("at lock", "au verrouillage"), "logout": L("at log-out", "à la déconnexion"),
           "daily": L("daily", "quotidienne"), "manual": L("asked for", "demandée")}


class Cancelled(Exception):
    """Raised from the copy's progress callback when the user cancels."""


def _parse(ts: str) -> dt.datetime | None:
    with contextlib.suppress(ValueError):
        value = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return None


@dataclass(frozen=True)
class BackupPolicy:
    folder: Path | None
    at_lock: bool
    daily: bool
    keep: int
    warn_hours: int

    @classmethod
    def of(cls, settings: dict[str, str]) -> BackupPolicy:
        def get(key: str) -> str:
            return settings.get(key, DEFAULT_SETTINGS[key])

        folder = get("backup_folder")
        return cls(Path(folder) if folder else None, get("backup_at_lock") == "yes", get("backup_daily") == "yes",
                   int(get("backup_keep")), int(get("backup_warn_hours")))


@dataclass(frozen=True)
class BackupStatus:
    """What administrators see: the last good backup and its age, the last failure, and whether to worry."""

    policy: BackupPolicy
    now: dt.datetime
    last_ok: dt.datetime | None
    last_file: str
    last_record: int
    last_error: str
    last_error_at: dt.datetime | None

    @property
    def age_hours(self) -> float | None:
        return None if self.last_ok is None else (self.now - self.last_ok).total_seconds() / 3600

    @property
    def too_old(self) -> bool:
        """No folder, never a good backup, or the last one older than the site's limit."""
        age = self.age_hours
        return self.policy.folder is None or age is None or age > self.policy.warn_hours

    @property
    def failing(self) -> bool:
        return bool(self.last_error) and (self.last_ok is None or (self.last_error_at or self.now) > self.last_ok)

    def line(self) -> L:
        """One line for the status bar and the Backups window."""
        if self.policy.folder is None:
            return L("Automatic backups OFF: no folder set", "Sauvegardes automatiques DÉSACTIVÉES : aucun dossier")
        age = self.age_hours
        if age is None:
            text = L("No backup yet", "Aucune sauvegarde pour l'instant")
        else:
            en = f"{age:.0f} h" if age >= 1 else f"{age * 60:.0f} min"
            fr = en.replace(".", ",")
            text = L(f"Last backup {en} ago", f"Dernière sauvegarde il y a {fr}")
        if self.too_old:
            text = L(f"⚠ {text.en} (more than {self.policy.warn_hours} h)",
                     f"⚠ {text.fr} (plus de {self.policy.warn_hours} h)")
        if self.failing:
            text = L(f"{text.en}; last attempt failed", f"{text.fr} ; dernier essai en échec")
        return text


@dataclass(frozen=True)
class BackupInfo:
    """A backup file as its manifest describes it (read without any key)."""

    path: Path
    created_utc: str
    created_by: str
    app_version: str
    trail_record: int | None
    trail_hash: str
    size: int
    db_id: str
    automatic: bool
    problem: str = ""  # why it cannot be restored (not a backup, another format)


@dataclass(frozen=True)
class BackupOutcome:
    path: Path | None  # None: skipped (nothing changed since the last backup)
    pruned: tuple[Path, ...]
    seconds: float
    changes: Changes


def status(ws: Workspace) -> BackupStatus:
    ws.ctx.check_session()
    settings = ws.settings.all()
    record = settings.get(LAST_OK_RECORD, "0")
    return BackupStatus(BackupPolicy.of(settings), ws.site.clock.now(), _parse(settings.get(LAST_OK_UTC, "")),
                        settings.get(LAST_OK_FILE, ""), int(record) if record.isdigit() else 0,
                        settings.get(LAST_ERROR, ""), _parse(settings.get(LAST_ERROR_UTC, "")))


def due(ws: Workspace, reason: Reason) -> bool:
    """Whether the schedule asks for a backup now (``reason``: lock, logout or daily)."""
    job = _job(ws)
    state = status(job)
    policy = state.policy
    if policy.folder is None:
        return False
    if reason in ("lock", "logout"):
        return policy.at_lock and _changed_since(job, state.last_record)
    if reason == "daily":
        if not policy.daily:
            return False
        if state.failing and state.last_error_at is not None and state.now - state.last_error_at < RETRY_AFTER_FAILURE:
            return False
        age = state.age_hours
        return age is None or age >= DAILY_HOURS
    return False


def _changed_since(ws: Workspace, record_id: int) -> bool:
    """Whether anything a backup keeps was written after ``record_id`` (a range of the primary key, stopped at the
    first such record)."""
    with ws.ctx.read() as session:
        found = session.execute(select(AuditEvent.id).where(
            AuditEvent.id > record_id, AuditEvent.action.not_in(_SESSION_ONLY)).limit(1)).first()
    return found is not None


def _job(ws: Workspace) -> Workspace:
    """The same user's session, not locked: a backup at lock runs after the screen locked (the user's own
    workspace stays locked; this one only backs up)."""
    return Workspace(ws.site, ws.actor, ws._study) if ws.locked else ws


def auto_name(ws: Workspace, folder: Path) -> Path:
    stamp = ws.site.clock.now().strftime("%Y%m%dT%H%M%SZ")
    base = f"msc-sle-crf-{ws.site.keyfile.db_id.replace('-', '')[:8].lower()}-{stamp}"
    candidate, n = folder / f"{base}-auto{SUFFIX}", 2
    while os.path.lexists(candidate):
        candidate, n = folder / f"{base}-{n}-auto{SUFFIX}", n + 1
    return candidate


def run(ws: Workspace, reason: Reason, *, progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None) -> BackupOutcome:
    """Make one backup into the site's folder now, read it back, prune the oldest automatic ones beyond the
    number kept, and record the result (``backup_verified`` with the status rows in the same transaction, or
    ``backup_failed`` with the reason, then the error is raised). ``reason`` "manual" needs the backup permission;
    the scheduled ones act for whoever's session triggered them."""
    job = _job(ws)
    gate = key_change(job.site)  # runs off the UI thread: never beside a re-key (store/key_change.py)
    with gate.reading(_no_stop):  # a re-key in progress closed the store: this waits for the new one
        if reason == "manual":
            job.ctx.require(Perm.BACKUP)
        else:
            job.ctx.check_session()
        policy = status(job).policy
    t0 = time.perf_counter()
    out: Path | None = None
    restarts = [0]
    try:
        if policy.folder is None:
            raise StoreError(Msg.BACKUP_FOLDER_UNSET)
        if not policy.folder.is_dir():
            raise StoreError(Msg.BACKUP_FOLDER_MISSING, path=str(policy.folder))
        out = auto_name(job, policy.folder)

        def step(done: int, total: int) -> None:
            if cancelled is not None and cancelled():
                raise Cancelled
            if progress is not None:
                progress(done, total)

        def restarted() -> None:
            restarts[0] += 1

        try:
            B.write_backup(job, out, f"automatic encrypted backup ({REASONS.get(reason, L(reason, reason)).en})",
                           progress=step, on_restart=restarted)
        except Cancelled:
            raise StoreError(Msg.BACKUP_CANCELLED) from None
        pruned = prune(policy.folder, job.site.keyfile.db_id, policy.keep, keep_also=out)
    except CrfError as exc:
        with gate.reading(_no_stop):
            _record_failure(job, reason, exc)
        raise
    with gate.reading(_no_stop):
        changes = _record_success(job, reason, out, pruned, restarts[0])
    return BackupOutcome(out, tuple(pruned), time.perf_counter() - t0, changes)


def _no_stop() -> None:
    """A short read or write at the gate: the re-key waits for it to end."""


def _upsert(tx_session: object, key: str, value: str, now: str) -> None:
    from sqlalchemy.orm import Session

    assert isinstance(tx_session, Session)
    row = tx_session.get(SiteSetting, key)
    if row is None:
        tx_session.add(SiteSetting(key=key, value=value, updated_utc=now))
    else:
        row.value, row.updated_utc = value, now


def _record_success(ws: Workspace, reason: Reason, out: Path, pruned: list[Path], restarts: int = 0) -> Changes:
    size = out.stat().st_size
    now = ws.ctx.now()
    with ws.ctx.write(data=False) as tx:
        detail = (f"{REASONS.get(reason, L(reason, reason)).en}: {out.name} ({size} bytes) read back and checked"
                  + ("; started again after a key change (disable or Rotate keys): under the new key"
                     if restarts else "")
                  + (f"; pruned: {', '.join(p.name for p in pruned)}" if pruned else ""))
        tx.audit(Action.BACKUP_VERIFIED, item=str(out.parent), detail=detail[:4000])
        tx.session.flush()
        head = tx.session.execute(select(func.max(AuditEvent.id))).scalar_one()
        for key, value in ((LAST_OK_UTC, now), (LAST_OK_FILE, str(out)), (LAST_OK_RECORD, str(head or 0)),
                           (LAST_ERROR, "")):
            _upsert(tx.session, key, value, now)
    ws.site.anchor_audit()
    return tx.changes


def _record_failure(ws: Workspace, reason: Reason, exc: CrfError) -> None:
    now = ws.ctx.now()
    line = exc.message()
    try:
        with ws.ctx.write(data=False) as tx:
            tx.audit(Action.BACKUP_FAILED, detail=f"{REASONS.get(reason, L(reason, reason)).en}: {line}"[:4000])
            _upsert(tx.session, LAST_ERROR, line[:1000], now)
            _upsert(tx.session, LAST_ERROR_UTC, now, now)
    except CrfError:
        pass  # the database itself refuses (closed, damaged): the original error is what the user must see


def prune(folder: Path, db_id: str, keep: int, *, keep_also: Path | None = None) -> list[Path]:
    """Remove this site's oldest *automatic* backups beyond ``keep`` (by the time in their names). Backups made by
    hand, another site's backups and any other file are never touched."""
    mine = db_id.replace("-", "")[:8].lower()
    autos = []
    for entry in folder.iterdir():
        match = _AUTO_NAME.match(entry.name)
        if match and match.group("db") == mine and entry.is_file() and not entry.is_symlink():
            autos.append((match.group("ts"), int(match.group("n") or 1), entry))
    autos.sort(key=lambda a: (a[0], a[1]), reverse=True)
    removed = []
    for _ts, _name, path in autos[keep:]:
        if keep_also is not None and path == keep_also:
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


def describe(path: Path) -> BackupInfo:
    """A backup's date, author, trail head and size from its manifest; ``problem`` says why it is not one."""
    try:
        manifest = B.read_manifest(path)
    except CrfError as exc:
        return BackupInfo(path, "", "", "", None, "", _size(path), "", False, exc.message())
    head = manifest.get("trail_head") or {}
    record = head.get("record_id") if isinstance(head, dict) else None
    return BackupInfo(path, str(manifest.get("created_utc", "")), str(manifest.get("created_by", "")),
                      str(manifest.get("app_version", "")), record if isinstance(record, int) else None,
                      str(head.get("record_hash", "")) if isinstance(head, dict) else "", _size(path),
                      str(manifest.get("db_id", "")), bool(_AUTO_NAME.match(path.name)))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def request_restore(ws: Workspace, path: Path) -> BackupInfo:
    """An administrator restores ``path`` from the app: allowed (administrator), the file described, and the
    request written into the trail of the database about to be kept aside (its last record)."""
    ws.ctx.require(Perm.EDIT_SITE_SETTINGS)
    ws.ctx.require(Perm.BACKUP)
    info = describe(path)
    if info.problem:
        raise StoreError(Msg.BACKUP_INVALID, path=str(path), detail=info.problem)
    ws.ctx.audit_alone(Action.RESTORE, item=str(path.parent)[:1000], detail=(
        f"restore from the app started: {path.name} of {info.created_utc} by {info.created_by} (trail "
        f"#{info.trail_record}); this database is kept aside")[:4000])
    ws.site.anchor_audit()
    return info


def list_backups(folder: Path | None) -> list[BackupInfo]:
    """The backups in ``folder`` (``*.crfbak`` and ``*.tar``), newest first by their manifest's date."""
    if folder is None or not folder.is_dir():
        return []
    found = [describe(p) for p in folder.iterdir() if p.suffix in (SUFFIX, ".tar") and p.is_file()]
    return sorted(found, key=lambda info: (info.created_utc, info.path.name), reverse=True)


__all__ = ["BackupInfo", "BackupOutcome", "BackupPolicy", "BackupStatus", "describe", "due",
           "list_backups", "prune", "request_restore", "run", "status"]
