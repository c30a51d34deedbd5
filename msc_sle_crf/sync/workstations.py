"""Workstations of one site (docs/workstations.md, "Workstations"): fork another workstation, open a fork on its
laptop, show this workstation, hand a subject over. No Qt.

The fork is a backup (services/backup.py: one tar file holding the encrypted database and its key file, with a
manifest) taken right after a ``workstation_add`` record, so the copy's trail ends with the record that names it.
Opening it checks the file as a restore does, then writes the copy's identity (read-only settings, each with a
``workstation_open`` record: the copy's first own records) before the copy is moved into place.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from msc_sle_crf.access import Perm
from msc_sle_crf.audit import Action
from msc_sle_crf.clock import Clock, SystemClock, iso_utc
from msc_sle_crf.errors import CrfError, Msg, StoreError, ValidationError
from msc_sle_crf.i18n import L
from msc_sle_crf.services import limits, reads
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.store.tables import AuditEvent, SiteSetting, Subject
from msc_sle_crf.sync import instances, secret
from msc_sle_crf.sync.identity import (
    ALONE_SUBJECTS,
    FIRST_WS,
    SETTING_KEYS,
    Workstation,
    block_end,
    default_subjects,
    never_forked,
    parse_range,
    this_workstation,
    ws_id,
    ws_number,
)
from msc_sle_crf.sync.instances import INSTANCE_KEY
from msc_sle_crf.sync.ownership import opened_ws, owner_shown


def range_text(low: int, high: int) -> str:
    return f"{low:03d}-{high:03d}"


def handed_out(session: Session) -> dict[int, dict[str, Any]]:
    """The workstations this database knows were forked (its own ``workstation_add`` records and those it received),
    by number."""
    out: dict[int, dict[str, Any]] = {}
    for (value,) in session.execute(select(AuditEvent.new_value).where(
            AuditEvent.action == str(Action.WORKSTATION_ADD)).order_by(AuditEvent.id)):
        with contextlib.suppress(ValueError, TypeError, KeyError):
            data = json.loads(value or "{}")
            out[int(data["number"])] = data
    return out


def _known(session: Session, here: Workstation) -> dict[int, str]:
    """Every workstation number this database has heard of: itself, its origin, those handed out."""
    known = {1: FIRST_WS, here.number: here.id}
    if here.fork and isinstance(here.fork.get("ws"), str):
        with contextlib.suppress(ValueError):
            known[ws_number(here.fork["ws"])] = here.fork["ws"]
    for number in handed_out(session):
        known[number] = ws_id(number)
    return known


def _site_prefix(session: Session) -> str:
    row = session.get(SiteSetting, "site_number")
    return row.value if row else "01"


@dataclass(frozen=True)
class WorkstationInfo:
    ws: str
    number: int
    site: str
    subjects: tuple[int, int]
    id_range: tuple[int, int]
    fork: dict[str, Any] | None
    owned: int
    subjects_total: int
    known: tuple[str, ...]  # every workstation this database knows of, in order
    instance: instances.Instance | None = None  # which opening of its workstation file this database is

    @property
    def subject_numbers(self) -> str:
        return f"{self.site}-{self.subjects[0]:03d} … {self.site}-{self.subjects[1]:03d}"

    @property
    def alone(self) -> bool:
        """The site's only workstation as far as this database knows (the window then does not name it)."""
        return self.known == (FIRST_WS,)


@dataclass(frozen=True)
class Added:
    ws: str
    number: int
    subject_range: str
    path: Path
    changes: Changes


def describe(info: WorkstationInfo) -> L:
    """What ``workstation show`` prints."""
    fork_en = fork_fr = ""
    if info.fork:
        fork_en = f"; forked from {info.fork.get('ws')} at its record #{info.fork.get('id')}"
        fork_fr = f" ; copie de {info.fork.get('ws')} à son enregistrement n° {info.fork.get('id')}"
    low, high = info.id_range
    if info.instance is not None:  # the opening of the workstation file this database is (sync/instances.py)
        fork_en += f"; instance {info.instance.id}, opened {info.instance.when()}"
        fork_fr += f" ; instance {info.instance.id}, ouverte le {info.instance.when()}"
    return L(f"Workstation {info.ws} (number {info.number}){fork_en}\n"
             f"Subject numbers: {info.subject_numbers}\n"
             f"Row ids: {low:,} … {high:,}\n"
             f"Subjects entered here: {info.owned} of {info.subjects_total}\n"
             f"Workstations known: {', '.join(info.known)}",
             f"Poste {info.ws} (numéro {info.number}){fork_fr}\n"
             f"Numéros de patients : {info.subject_numbers}\n"
             f"Identifiants de lignes : {low:,} … {high:,}".replace(",", " ") + "\n"
             f"Patients saisis ici : {info.owned} sur {info.subjects_total}\n"
             f"Postes connus : {', '.join(info.known)}")


class Workstations:
    """This workstation, its forks, and the ownership of subjects."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def info(self) -> WorkstationInfo:
        self.ctx.check_session()
        with self.ctx.read() as session:
            here = this_workstation(session)
            subjects = session.execute(select(Subject.owner_ws, func.count()).group_by(Subject.owner_ws)).all()
            owned = sum(int(n) for owner, n in subjects if here.owns(owner))
            total = sum(int(n) for _owner, n in subjects)
            known = tuple(ws for _n, ws in sorted(_known(session, here).items()))
            # never forked (no identity, no fork heard of): the whole log (sync/identity.subject_numbers, without
            # reading the trail again: ``_known`` read its workstation_add records)
            alone = known == (FIRST_WS,) and session.get(SiteSetting, "workstation_id") is None
            return WorkstationInfo(here.id, here.number, _site_prefix(session),
                                   ALONE_SUBJECTS if alone else here.subjects, here.id_range, here.fork, owned,
                                   total, known, instances.own(session, here.id))

    def owner(self, subject: str) -> str:
        self.ctx.require(Perm.VIEW_DATA, subject=subject)
        with self.ctx.read() as session:
            return owner_shown(reads.subject(session, subject).owner_ws)

    def owns(self, subject: str) -> bool:
        """Whether this workstation starts the subject's forms, adds its rows and runs its infusion day."""
        self.ctx.require(Perm.VIEW_DATA, subject=subject)
        with self.ctx.read() as session:
            return this_workstation(session).owns(reads.subject(session, subject).owner_ws)

    # ----- forking -----------------------------------------------------------------------------------------------
    def choose_number(self, number: int | None) -> int:
        """The number the next workstation gets: the one asked for (if free), else the lowest free one."""
        with self.ctx.read() as session:
            here = this_workstation(session)
            known = _known(session, here)
        free = next(n for n in range(2, 100) if n not in known) if len(known) < 99 else None
        if number is None:
            if free is None:
                raise ValidationError(Msg.FIELD_RANGE, field=L("Workstation number", "Numéro de poste"), low=2,
                                      high=99)
            return free
        if not 2 <= number <= 99:
            raise ValidationError(Msg.FIELD_RANGE, field=L("Workstation number", "Numéro de poste"), low=2, high=99)
        if number in known:
            raise ValidationError(Msg.WORKSTATION_NUMBER_TAKEN, number=number, ws=known[number],
                                  free=ws_id(free) if free else "-")
        return number

    def add(self, services: Any, out: Path, *, number: int | None = None,
            progress: Callable[[int, int], None] | None = None) -> Added:
        """Fork this database as workstation WS-nn, delivered as one encrypted file (the backup format) at ``out``.
        ``services``: the signed-in ``Workspace`` (the copy is a backup's)."""
        from msc_sle_crf.services.backup import write_backup

        ctx = self.ctx
        ctx.require(Perm.MANAGE_WORKSTATIONS)
        chosen = self.choose_number(number)
        new_ws = ws_id(chosen)
        with ctx.read() as session:
            settle = _first_split(session)
            low, high = _free_block(session, chosen, settle)
        subject_range = range_text(low, high)
        changes: list[Changes] = []

        def record(path: Path) -> dict[str, Any]:
            with ctx.read() as session:
                here = this_workstation(session)
            # the file's one-time token: its hash here, the token itself only inside the file (sync/instances.py)
            token = instances.new_token()
            value = {"ws": new_ws, "number": chosen, "subject_range": subject_range, "from": here.id,
                     "token": instances.token_hash(token)}
            with ctx.write(data=False) as tx:
                # the site's packet secret, made at its first fork: the copy holds it; a disable or key rotation on
                # either side renews it as a new generation with a one-time code (sync/secret.py)
                secret.site_packet_key(tx.session, ctx.clock, ctx.site.workstation,
                                       ctx.site.signer(ctx.actor.username), ctx.actor.username,
                                       ctx.actor.role.value, db_key=ctx.store.key, db_id=ctx.site.keyfile.db_id)
                if settle is not None:  # a site that never forked keeps the numbers it used, the rest is shared
                    _settle_first(tx, settle, new_ws)
                tx.audit(Action.WORKSTATION_ADD, item=new_ws, new_value=json.dumps(value, sort_keys=True),
                         detail=f"{new_ws} forked from {here.id} -> {path.name}")
            changes.append(tx.changes)
            assert tx.last_record is not None
            fork = {"ws": here.id, "id": tx.last_record[0], "hash": tx.last_record[1]}
            return {"workstation": {"ws": new_ws, "number": chosen, "subject_range": subject_range, "fork": fork,
                                    "token": instances.seal_token(ctx.store.key, new_ws, token)}}

        path = write_backup(services, Path(out), f"workstation {new_ws}", progress=progress, record=record)
        return Added(new_ws, chosen, subject_range, path, Changes.join(changes))

    # ----- ownership -----------------------------------------------------------------------------------------------
    def handover(self, subject: str, to: str, reason: str) -> Changes:
        """Give the subject's entry to workstation ``to`` (on its current owner; audited, reason required). The new
        owner takes it when it imports the packet that carries this record."""
        ctx = self.ctx
        ctx.require(Perm.HAND_OVER_SUBJECT, subject=subject)
        clean_reason = limits.text(reason, limits.REASON, limits.MAX_REASON)
        if not clean_reason:
            raise ValidationError(Msg.FIELD_REQUIRED, field=limits.REASON)
        target = to.strip().upper()
        with ctx.write() as tx:
            session = tx.session
            row = reads.subject(session, subject)
            here = this_workstation(session)
            known = _known(session, here)
            names = ", ".join(known[n] for n in sorted(known))
            try:
                number = ws_number(target)
            except ValueError:  # not written WS-nn
                raise ValidationError(Msg.WORKSTATION_UNKNOWN, ws=to, known=names) from None
            if number not in known:  # written right, but not a workstation this database has heard of
                raise ValidationError(Msg.WORKSTATION_NOT_KNOWN_HERE, ws=target, known=names)
            if not here.owns(row.owner_ws):
                raise ValidationError(Msg.HANDOVER_NOT_OWNER, subject=subject, owner=owner_shown(row.owner_ws),
                                      here=here.id)
            if target == owner_shown(row.owner_ws):
                raise ValidationError(Msg.HANDOVER_SAME, subject=subject, ws=target)
            old = owner_shown(row.owner_ws)
            row.owner_ws = None if target == FIRST_WS else target
            tx.audit(Action.SUBJECT_HANDOVER, subject=subject, form="subject", old_value=old, new_value=target,
                     reason=clean_reason, detail=f"entry handed over from {old} to {target}")
        return tx.changes


def _first_split(session: Session) -> tuple[int, int] | None:
    """A site that never forked and went past its first block of subject numbers: the range it keeps at its first
    fork (up to the end of the block of the highest number it gave); None: nothing to settle."""
    here = this_workstation(session)
    if here.id != FIRST_WS or not never_forked(session):
        return None
    highest = max(_used_numbers(session), default=0)
    return (1, block_end(highest)) if highest > here.subjects[1] else None


def _used_numbers(session: Session) -> list[int]:
    prefix = f"{_site_prefix(session)}-"
    return [int(n[len(prefix):]) for n in session.execute(select(Subject.subject_number)).scalars()
            if n.startswith(prefix) and n[len(prefix):].isdigit()]


def _known_ranges(session: Session) -> list[tuple[int, int]]:
    """Every range of subject numbers this database has heard of: its own, those of the forks it knows of, and
    those workstations were set up with (their ``workstation_open`` records)."""
    out = [this_workstation(session).subjects]
    for data in handed_out(session).values():
        with contextlib.suppress(ValueError, TypeError, KeyError):
            out.append(parse_range(str(data["subject_range"])))
    for (value,) in session.execute(select(AuditEvent.new_value).where(
            AuditEvent.action == str(Action.WORKSTATION_OPEN), AuditEvent.item == "subject_range")):
        with contextlib.suppress(ValueError, TypeError):
            out.append(parse_range(str(value)))
    return out


def _free_block(session: Session, number: int, settle: tuple[int, int] | None) -> tuple[int, int]:
    """The new workstation's subject numbers: its own block (WS-nn: the nth block of 199) unless another
    workstation holds numbers there, else the lowest block nobody holds; one line when none is left under 999."""
    taken = [*_known_ranges(session), *([settle] if settle else [])]
    used = _used_numbers(session)

    def free(block: tuple[int, int]) -> bool:
        low, high = block
        return not any(a <= high and low <= b for a, b in taken) and not any(low <= n <= high for n in used)

    if free(default_subjects(number)):
        return default_subjects(number)
    for k in range(2, ALONE_SUBJECTS[1] // 200 + 1):
        if free(default_subjects(k)):
            return default_subjects(k)
    raise ValidationError(Msg.WORKSTATION_NO_SUBJECT_NUMBERS, ws=ws_id(number),
                          taken=", ".join(range_text(a, b) for a, b in sorted(set(taken))))


def _settle_first(tx: Any, settle: tuple[int, int], new_ws: str) -> None:
    """The first workstation's own identity, written (audited like a fork's) at its first fork."""
    session, now = tx.session, tx.ctx.now()
    value = range_text(*settle)
    detail = (f"workstation {FIRST_WS}: at its first fork ({new_ws}) it keeps the subject numbers {value} (it had "
              "used numbers past its first block); the others go to the next workstations")
    for key, val in (("workstation_id", FIRST_WS), ("workstation_number", "1"), ("subject_range", value)):
        session.add(SiteSetting(key=key, value=val, updated_utc=now))
        tx.audit(Action.WORKSTATION_OPEN, item=key, new_value=val, detail=detail)
    session.flush()


# ----- opening a fork on its laptop ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Opened:
    db_path: Path
    ws: str
    subject_range: str
    fork: dict[str, Any]
    audit_records: int
    instance: str = ""  # this opening's random id (sync/instances.py)


def _fork_of(file: Path) -> dict[str, Any]:
    from msc_sle_crf.services.backup import read_manifest

    try:
        manifest = read_manifest(file)
    except StoreError as exc:
        raise StoreError(Msg.WORKSTATION_FILE_INVALID, path=str(file), detail=exc.params.get("detail", "")) from None
    ws = manifest.get("workstation")
    if not isinstance(ws, dict) or not isinstance(ws.get("fork"), dict):
        raise StoreError(Msg.WORKSTATION_FILE_INVALID, path=str(file),
                         detail="a backup, not a workstation file (restore it with 'msc-sle-crf restore')")
    return ws


def _token(session: Session, file: Path, ws: dict[str, Any], db_key: bytes) -> str | None:
    """The file's one-time token, checked against the hash its ``workstation_add`` record holds (None: a file made
    before tokens)."""
    last = session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one_or_none()
    try:
        recorded = json.loads((last.new_value if last is not None else None) or "{}")
    except ValueError:
        recorded = {}
    expected = recorded.get("token") if isinstance(recorded, dict) else None
    if not isinstance(expected, str):
        return None
    token = instances.open_token(db_key, str(ws.get("ws")), ws.get("token"))
    if token is None or instances.token_hash(token) != expected:
        raise StoreError(Msg.WORKSTATION_FILE_INVALID, path=str(file),
                         detail="its one-time token does not match the fork recorded in its trail")
    return token


def _identity(session: Session, file: Path, ws: dict[str, Any]) -> dict[str, str]:
    """The copy's identity, from the record that ends its trail (the manifest only says where to look): the
    ``workstation_add`` record the fork points to, with the same number and range."""
    fork = ws["fork"]
    last = session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one_or_none()
    if last is None or last.id != fork.get("id") or last.hash != fork.get("hash") \
            or last.action != str(Action.WORKSTATION_ADD):
        raise StoreError(Msg.WORKSTATION_FILE_INVALID, path=str(file),
                         detail="its trail does not end with the record of this fork")
    try:
        recorded = json.loads(last.new_value or "{}")
    except ValueError:
        recorded = {}
    if (recorded.get("ws"), recorded.get("number"), recorded.get("subject_range")) != (
            ws.get("ws"), ws.get("number"), ws.get("subject_range")):
        raise StoreError(Msg.WORKSTATION_FILE_INVALID, path=str(file),
                         detail="its manifest does not match the fork recorded in its trail")
    if session.get(SiteSetting, "workstation_id") is not None and this_workstation(session).id == recorded["ws"]:
        raise StoreError(Msg.WORKSTATION_FILE_INVALID, path=str(file), detail="it was opened already")
    return {"workstation_id": str(recorded["ws"]), "workstation_number": str(int(recorded["number"])),
            "subject_range": str(recorded["subject_range"]),
            "workstation_fork": json.dumps({"ws": fork["ws"], "id": fork["id"], "hash": fork["hash"]},
                                           sort_keys=True),
            # this opening's own id: a second opening of the same file draws another one (sync/instances.py)
            INSTANCE_KEY: instances.new_id()}


def _set_up(staging: Path, file: Path, ws: dict[str, Any], username: str, password: str, *,
            clock: Clock) -> tuple[dict[str, str], int]:
    """The staged copy becomes its workstation (an administrator signs in; the identity is its first own record),
    then it is checked completely. Returns (identity settings, audit records)."""
    from msc_sle_crf.services.workspace import Workspace
    from msc_sle_crf.store.site import Site

    site = Site.open(staging, clock=clock)
    try:
        actor = site.authenticate(username, password)  # nothing written yet: the identity comes first
        services = Workspace(site, actor)
        services.ctx.require(Perm.MANAGE_WORKSTATIONS)
        with services.ctx.read() as session:
            identity = _identity(session, file, ws)
            token = _token(session, file, ws, services.ctx.store.key)
        now = iso_utc(clock.now())
        detail = (f"workstation {identity['workstation_id']}: forked from {ws['fork']['ws']} at record "
                  f"#{ws['fork']['id']} ({str(ws['fork']['hash'])[:16]})")
        with services.ctx.write(data=False) as tx:
            if token is not None:  # presented before the instance record: this opening may bind WS-nn
                tx.audit(Action.WORKSTATION_OPEN, item=instances.TOKEN_KEY, new_value=token, detail=detail)
            for key in SETTING_KEYS:
                row = tx.session.get(SiteSetting, key)  # the origin's own, when it was a settled WS-01
                old = row.value if row is not None else None
                if row is None:
                    tx.session.add(SiteSetting(key=key, value=identity[key], updated_utc=now))
                else:
                    row.value, row.updated_utc = identity[key], now
                tx.audit(Action.WORKSTATION_OPEN, item=key, old_value=old, new_value=identity[key], detail=detail)
        report = services.integrity.verify(full=True)
        if not report.ok:
            problem = "; ".join(report.page_problems[:2]) or (
                f"audit record #{report.audit.first_bad_id}: {report.audit.problem}" if not report.audit.ok
                else "; ".join(i.line() for i in report.unexplained[:2]) or "; ".join(report.anchor_problems))
            raise StoreError(Msg.WORKSTATION_FILE_INVALID, path=str(file), detail=problem)
        return identity, report.audit.records
    finally:
        site.close()


def open_fork(file: Path, db_path: Path, username: str, password: str, *, clock: Clock | None = None,
              progress: Callable[[L], None] | None = None) -> Opened:
    """Put a workstation file in place as ``db_path`` (which must not exist): checked as a restore is (manifest,
    checksums, every page, the whole trail and its signatures), by an administrator of the site; the copy's identity
    written as its first own records; then moved into place as one journaled step."""
    from msc_sle_crf.services.backup import _extract
    from msc_sle_crf.store import journal as J
    from msc_sle_crf.store.db import check_db_path
    from msc_sle_crf.store.instance_lock import InstanceLock

    file, db_path = Path(file), Path(db_path)
    clock = clock or SystemClock()
    say = progress or (lambda _step: None)
    check_db_path(db_path, creating=True)
    for existing in (db_path, Path(f"{db_path}.keys")):
        if os.path.lexists(existing):
            raise StoreError(Msg.DB_EXISTS, path=str(existing))
    ws = _fork_of(file)
    staging = db_path.with_name(f".restore-ws-{os.getpid()}{db_path.suffix}")
    staged = [staging, Path(f"{staging}.keys"), Path(f"{staging}-wal"), Path(f"{staging}-shm"),
              Path(f"{staging}.lock"), Path(f"{staging}.head"), J.Journal.path_for(staging)]
    moving = False
    try:
        say(L("Checking the workstation file", "Contrôle du fichier du poste"))
        _extract(file, staging)
        say(L("Checking every page and the audit trail", "Contrôle de chaque page et de la piste d'audit"))
        identity, records = _set_up(staging, file, ws, username, password, clock=clock)
        say(L("Putting the workstation's database in place", "Mise en place de la base du poste"))
        with InstanceLock(db_path):
            moves = [{"from": str(staging), "to": str(db_path)},
                     {"from": f"{staging}.keys", "to": f"{db_path}.keys"}]
            journal = J.Journal.begin(db_path, "restore", {"moves": moves, "backup": str(file)}, iso_utc(clock.now()))
            moving = True
            J.run_moves(moves)
            journal.finish()
            moving = False
        return Opened(db_path, identity["workstation_id"], identity["subject_range"], json.loads(
            identity["workstation_fork"]), records, identity[INSTANCE_KEY])
    except CrfError:
        raise
    except OSError as exc:
        raise StoreError(Msg.OUTPUT_NOT_WRITABLE, path=str(db_path), detail=exc.strerror or str(exc)) from None
    finally:
        if not moving:
            for leftover in staged:
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()


__all__ = ["Added", "Opened", "WorkstationInfo", "Workstations", "describe", "handed_out", "open_fork",
           "opened_ws", "range_text"]
