"""The audit trail as read by people, the integrity check (pages and hash chain), and files leaving the
database (every export, print and backup is audited)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

import msc_sle_crf.services.receipts as receipts_mod
from msc_sle_crf import audit
from msc_sle_crf.access import Perm
from msc_sle_crf.audit import Action, VerifyResult
from msc_sle_crf.clock import format_stored
from msc_sle_crf.errors import Msg
from msc_sle_crf.i18n import Lang
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.services.esign import row_holds
from msc_sle_crf.services.replay import Replay, Unexplained
from msc_sle_crf.store.db import integrity_problems
from msc_sle_crf.store.key_change import key_change
from msc_sle_crf.store.tables import AuditEvent, FormInstance, Signature, Subject


@dataclass(frozen=True)
class AuditRecord:
    id: int
    ts_utc: str
    utc_offset_min: int
    username: str | None
    role: str | None
    workstation: str
    action: str
    subject: str | None
    item: str | None
    old_value: str | None
    new_value: str | None
    reason: str | None
    detail: str | None
    # The site's workstation (WS-01, WS-02...) the change was recorded on (issue 18): a copy's origin, else this
    # database's own workstation (or, before its fork, the one it was forked from). "" where nobody asked.
    recorded_on: str = ""

    @classmethod
    def of(cls, e: AuditEvent, recorded_on: str = "") -> AuditRecord:
        return cls(e.id, e.ts_utc, e.utc_offset_min, e.username, e.role, e.workstation, e.action, e.subject, e.item,
                   e.old_value, e.new_value, e.reason, e.detail, recorded_on)


def recorded_on(e: AuditEvent, here: Any) -> str:
    """The site workstation a record was made on: a copy names its origin; a record of this database made before
    its fork was made on the workstation it was forked from. ``here``: ``sync.identity.this_workstation``."""
    origin = audit.parse_origin(e.origin)
    if origin and isinstance(origin.get("ws"), str):
        return str(origin["ws"])
    fork = here.fork or {}
    if fork.get("ws") and e.id <= int(fork.get("id") or 0):
        return str(fork["ws"])
    return str(here.id)


@dataclass(frozen=True)
class IntegrityReport:
    page_problems: tuple[str, ...]
    audit: VerifyResult
    # "Writes after HH:MM may have been lost" (item 8): each time the trail was found to end before a record known
    # outside the WAL to have been written; the parameters of Msg.TRAIL_WRITES_LOST.
    losses: tuple[dict[str, object], ...] = ()
    # Issue 14: what the stored data holds that the trail does not explain (up to replay.MAX_NAMED, and how many)
    unexplained: tuple[Unexplained, ...] = ()
    unexplained_total: int = 0
    # the key-file anchor and the receipts checked against the trail: one line per problem
    anchor_problems: tuple[str, ...] = ()
    receipt_problems: tuple[str, ...] = ()
    receipts_checked: int = 0
    # a re-key (disable an account, "Rotate keys") stopped the check in progress: it ran again on the new key
    after_rekey: bool = False

    @property
    def ok(self) -> bool:
        return (not self.page_problems and self.audit.ok and not self.losses and not self.unexplained_total
                and not self.anchor_problems and not self.receipt_problems)

    def loss_messages(self, lang: Lang | None = None) -> list[str]:
        return [Msg.TRAIL_WRITES_LOST.render(lang, **loss) for loss in self.losses]


def _losses(conn: Any) -> tuple[dict[str, object], ...]:
    out = []
    for (detail,) in conn.execute("SELECT detail FROM audit_event WHERE action = ? ORDER BY id",
                                  (str(Action.TRAIL_LOSS_DETECTED),)).fetchall():
        try:
            d = json.loads(detail)
            out.append({"head": d["head"], "head_time": format_stored(d["head_time"], int(d.get("last_offset", 0))),
                        "last": d["last"], "last_time": format_stored(d["last_time"], int(d.get("last_offset", 0)),
                                                                      seconds=False) if d["last_time"] else "-"})
        except (ValueError, KeyError, TypeError):
            out.append({"head": "?", "head_time": "?", "last": "?", "last_time": "?"})
    return tuple(out)


class CheckStopped(Exception):
    """A check was stopped because the program is closing (``Integrity.stop_checks``)."""


class Integrity:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._running: Any = None  # the connection of a check in progress
        self._stopped = False
        self._rekey = False  # a re-key asked the check in progress to stop (it runs again on the new key)

    def _go_on(self, _records: int = 0) -> None:
        if self._stopped or self._rekey:
            raise CheckStopped

    def _stop_for_rekey(self) -> None:
        """A re-key wants the file (store/key_change.py): the check stops now and runs again on the new key."""
        self._rekey = True
        conn = self._running
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.interrupt()

    def stop_checks(self) -> None:
        """The program is closing: a check running in the background stops now (its connection is interrupted)
        instead of holding the exit until it has read the whole file."""
        self._stopped = True
        conn = self._running
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.interrupt()

    def check_after_sign_in(self) -> IntegrityReport:
        """The full check the opening no longer does (it checks in constant time): every page, the whole chain and
        its signatures against the anchor, and the data replayed against the trail, run in the background after each
        sign-in whatever the user's role, its result shown on the status bar and audited. At low priority."""
        self.ctx.check_session()
        with contextlib.suppress(OSError, AttributeError):  # a lower priority for this thread only (Linux)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        return self._check(full=False, what="check after sign-in: ")

    def records_after(self, last_id: int) -> int:
        """How many audit records were written after record ``last_id`` (the status bar's count follows writes made
        after the check). An indexed range count: no record is read."""
        from sqlalchemy import func

        self.ctx.check_session()
        with self.ctx.read() as session:
            return int(session.execute(select(func.count()).select_from(AuditEvent)
                                       .where(AuditEvent.id > last_id)).scalar() or 0)

    def audit_trail(self, *, limit: int = 200, before_id: int | None = None) -> list[AuditRecord]:
        self.ctx.require(Perm.VIEW_AUDIT)
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(AuditEvent.id < before_id)
        with self.ctx.read() as session:
            return [AuditRecord.of(e) for e in session.execute(query).scalars()]

    def _checkpoint(self, conn: Any) -> tuple[int, str] | None:
        """The head this user's own last successful check signed for: signatures up to it need no second check (the
        chain up to it is still re-computed; a change there breaks it)."""
        own = "AND origin IS NULL " if audit._has_origin(conn) else ""  # another workstation's check is its own
        row = conn.execute("SELECT id, detail FROM audit_event WHERE action = ? AND username = ? AND signer = ? "  # noqa: S608
                           + own + "AND detail LIKE '%: ok; signatures checked through #%' ORDER BY id DESC LIMIT 1",
                           (str(Action.AUDIT_VERIFY), self.ctx.actor.username, self.ctx.actor.username)).fetchone()
        match = re.search(r"\d+ records checked: ok; signatures checked through #(\d+) ([0-9a-f]{64})\Z",
                          row[1]) if row else None
        if match is None:
            return None
        through = int(match.group(1))
        # A check signs for records before its own record only. That record comes after them, so its own signature
        # (this user's) is checked in this run: a checkpoint written by anyone else, or one claiming to cover itself
        # or what follows it, makes the run fail or is ignored, and every signature is checked.
        return (through, match.group(2)) if through < int(row[0]) else None

    def _signature_rows(self, directory: audit.KeyDirectory) -> list[str]:
        """Every electronic signature row must carry its signer's own signature (made before personal keys: its
        SIGN record must precede the first signed record)."""
        problems = []
        db_id = self.ctx.site.keyfile.db_id
        with self.ctx.read() as session:
            rows = session.execute(select(Signature, FormInstance, Subject.subject_number)
                                   .join(FormInstance, FormInstance.id == Signature.instance_id)
                                   .join(Subject, Subject.id == FormInstance.subject_id)
                                   .order_by(Signature.id)).all()
            for row, instance, number in rows:
                if row_holds(session, directory, db_id=db_id, subject=number, instance=instance, row=row):
                    continue
                problems.append(f"subject {number} / visit {instance.event_id} / form {instance.form_id}: the "
                                f"electronic signature #{row.id} in the name of '{row.username}' ({row.printed_name}) "
                                "is not its signer's (forged or edited)")
        return problems

    def verify(self, *, full: bool = True, receipts: Sequence[Path] = (),
               progress: Callable[[int], None] | None = None, recheck_signatures: bool = False) -> IntegrityReport:
        """SQLCipher page check, SQLite structure check, the audit chain and its authors' signatures, the key-file
        anchor, the receipts given, and the stored data replayed against the trail. The check is audited."""
        self.ctx.require(Perm.VERIFY_AUDIT)
        loaded = [receipts_mod.load(Path(p)) for p in receipts]  # unreadable receipt: one clear line, nothing done
        return self._check(full=full, what="", loaded=loaded, progress=progress,
                           recheck_signatures=recheck_signatures)

    def _check(self, *, full: bool, what: str, loaded: Sequence[Any] = (),
               progress: Callable[[int], None] | None = None, recheck_signatures: bool = False) -> IntegrityReport:
        """The check, never at the same time as a re-key (disable an account, "Rotate keys"): one that starts while
        the key changes waits for the new key; one in progress when a re-key starts stops, lets it run, and runs
        again from the start on the new key (its report says so)."""
        self._stopped = False
        gate = key_change(self.ctx.site)
        rechecked = False
        while True:
            self._rekey = False
            try:
                with gate.reading(self._stop_for_rekey):
                    if self._stopped:
                        raise CheckStopped
                    report = self._check_once(full=full, what=what, loaded=loaded, progress=progress,
                                              recheck_signatures=recheck_signatures,
                                              after_rekey=rechecked)
            except Exception:
                if not self._rekey or self._stopped:
                    raise
                rechecked = True  # stopped for a re-key (CheckStopped, or its interrupted statement): again
                continue
            return report

    def _check_once(self, *, full: bool, what: str, loaded: Sequence[Any], progress: Callable[[int], None] | None,
                    recheck_signatures: bool, after_rekey: bool) -> IntegrityReport:
        ctx = self.ctx
        if after_rekey:
            ctx.check_session()  # the account may have been the one disabled

        def step(records: int) -> None:
            self._go_on(records)
            if progress is not None:
                progress(records)

        conn = ctx.store.raw_connection()
        self._running = conn
        try:
            problems = tuple(integrity_problems(conn, full=full, between=self._go_on))
            self._go_on()
            replay = Replay()
            replay.note_workstations()  # the whole trail: a handover's target must be a workstation it created
            checkpoint = None if recheck_signatures else self._checkpoint(conn)
            verifier = audit.TrailVerifier(ctx.site.keyfile.audit_anchor, checkpoint, replay)
            result = audit.verify_connection(conn, progress=step, verifier=verifier)
            losses = _losses(conn) if not problems else ()
            unexplained, total = replay.compare(conn) if result.ok and not problems else ([], 0)
            anchor_problems = tuple(receipts_mod.check_anchor(conn, ctx.site.keyfile.audit_anchor,
                                                              verifier.directory, ctx.site.keyfile.db_id))
            if result.ok:
                anchor_problems += tuple(self._signature_rows(verifier.directory))
            receipt_problems = tuple(p for r in loaded for p in receipts_mod.check(conn, r, ctx.site.keyfile.db_id))
        finally:
            self._running = None
            conn.close()
        report = IntegrityReport(problems, result, losses, tuple(unexplained), total, anchor_problems,
                                 receipt_problems, len(loaded), after_rekey)
        if ctx.site.store is None:  # the site was closed while this ran in the background: nothing to record
            return report
        if report.ok:
            detail = f"ok; signatures checked through #{result.last_id} {result.last_hash}"
        elif problems:
            detail = f"pages: {'; '.join(problems[:3])}"
        elif not result.ok:
            detail = f"record #{result.first_bad_id}: {result.problem}"
        elif losses:
            detail = f"{len(losses)} loss(es) of acknowledged writes detected after a crash"
        elif total:
            detail = f"{total} stored item(s) the trail does not explain, first: {unexplained[0].line()}"[:1000]
        else:
            detail = "; ".join((*anchor_problems, *receipt_problems))[:1000]
        ctx.audit_alone(Action.AUDIT_VERIFY, detail=f"{what}{result.records} records checked: {detail}")
        if report.ok:
            ctx.site.anchor_audit()
        return report

    def record_export(self, action: Action, path: Path, what: str) -> Changes:
        """Audit a file leaving the database (export, print, backup)."""
        return self.ctx.audit_alone(action, detail=f"{what} -> {path.name}")
