"""The audit trail as read by people, the integrity check (pages and hash chain), and files leaving the
database (every export, print and backup is audited)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from msc_sle_crf import audit
from msc_sle_crf.access import Perm
from msc_sle_crf.audit import Action, VerifyResult
from msc_sle_crf.clock import format_stored
from msc_sle_crf.errors import Msg
from msc_sle_crf.i18n import Lang
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.store.db import integrity_problems
from msc_sle_crf.store.tables import AuditEvent


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

    @classmethod
    def of(cls, e: AuditEvent) -> AuditRecord:
        return cls(e.id, e.ts_utc, e.utc_offset_min, e.username, e.role, e.workstation, e.action, e.subject, e.item,
                   e.old_value, e.new_value, e.reason, e.detail)


@dataclass(frozen=True)
class IntegrityReport:
    page_problems: tuple[str, ...]
    audit: VerifyResult
    # "Writes after HH:MM may have been lost" (item 8): each time the trail was found to end before a record known
    # outside the WAL to have been written; the parameters of Msg.TRAIL_WRITES_LOST.
    losses: tuple[dict[str, object], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.page_problems and self.audit.ok and not self.losses

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

    def _go_on(self, _records: int) -> None:
        if self._stopped:
            raise CheckStopped

    def audit_trail(self, *, limit: int = 200, before_id: int | None = None) -> list[AuditRecord]:
        self.ctx.require(Perm.VIEW_AUDIT)
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(AuditEvent.id < before_id)
        with self.ctx.read() as session:
            return [AuditRecord.of(e) for e in session.execute(query).scalars()]

    def verify(self, *, full: bool = True) -> IntegrityReport:
        """SQLCipher page check, SQLite structure check and the audit hash chain. The check is audited."""
        self.ctx.require(Perm.VERIFY_AUDIT)
        return self._check(full=full, what="")

    def stop_checks(self) -> None:
        """The program is closing: a check running in the background stops now (its connection is interrupted)
        instead of holding the exit until it has read the whole file."""
        self._stopped = True
        conn = self._running
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.interrupt()

    def check_after_sign_in(self) -> IntegrityReport:
        """The full check the opening no longer does (it checks in constant time): every page and the whole chain
        against the anchor, run in the background after each sign-in whatever the user's role, its result shown on
        the status bar and audited. At low priority: the user works meanwhile."""
        self.ctx.check_session()
        with contextlib.suppress(OSError, AttributeError):  # a lower priority for this thread only (Linux)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        return self._check(full=False, what="check after sign-in: ")

    def _check(self, *, full: bool, what: str) -> IntegrityReport:
        ctx = self.ctx
        self._stopped = False
        conn = ctx.store.raw_connection()
        self._running = conn
        try:
            problems = tuple(integrity_problems(conn, full=full, between=lambda: self._go_on(0)))
            self._go_on(0)
            result = audit.verify_connection(conn, ctx.site.keyfile.audit_anchor, progress=self._go_on)
            losses = _losses(conn) if not problems else ()
        finally:
            self._running = None
            conn.close()
        report = IntegrityReport(problems, result, losses)
        if ctx.site.store is None:  # the site was closed while this ran in the background: nothing to record
            return report
        detail = "ok" if report.ok else (
            f"pages: {'; '.join(problems[:3])}" if problems else f"record #{result.first_bad_id}: {result.problem}"
            if not result.ok else f"{len(losses)} loss(es) of acknowledged writes detected after a crash")
        ctx.audit_alone(Action.AUDIT_VERIFY, detail=f"{what}{result.records} records checked: {detail}")
        if report.ok:
            ctx.site.anchor_audit()
        return report

    def record_export(self, action: Action, path: Path, what: str) -> Changes:
        """Audit a file leaving the database (export, print, backup)."""
        return self.ctx.audit_alone(action, detail=f"{what} -> {path.name}")
