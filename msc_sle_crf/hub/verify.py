"""``hub verify``: the hub's whole trail re-computed (every link, every hash, every transaction's signature against
the key the trail binds to its author at that point: ``audit.TrailVerifier``), its key file's anchor, and the stored
data replayed against the trail, as ``verify`` does on a site."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from msc_sle_crf import audit
from msc_sle_crf.hub import schema
from msc_sle_crf.hub.store import HubStore, one_line


@dataclass
class HubVerifyReport:
    where: str
    audit: audit.VerifyResult
    anchor_problems: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    unexplained_total: int = 0
    replay_problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.audit.ok and not self.anchor_problems and not self.unexplained_total and not self.replay_problem


def verify_hub(dsn: str, keys: Path, progress: Callable[[int], None] | None = None) -> HubVerifyReport:
    from msc_sle_crf.security.keyslots import KeySlotFile
    from msc_sle_crf.services.receipts import check_anchor
    from msc_sle_crf.services.replay import Replay

    with HubStore(dsn) as hub:
        schema.require_current(hub)
        keyfile = KeySlotFile.load(keys)
        conn = hub.raw_connection()
        try:
            replay = Replay()
            replay.note_workstations()  # the whole trail: a handover's target must be a workstation it created
            verifier = audit.TrailVerifier(keyfile.audit_anchor, None, replay)
            result = audit.verify_connection(conn, progress=progress, verifier=verifier)
            conn.rollback()
            report = HubVerifyReport(hub.where, result)
            report.anchor_problems = list(check_anchor(conn, keyfile.audit_anchor, verifier.directory,
                                                       keyfile.db_id))
            if result.ok:
                try:
                    unexplained, total = replay.compare(conn)
                    report.unexplained = [item.line() for item in unexplained]
                    report.unexplained_total = total
                except Exception as exc:  # a SQL the hub does not take: said, never a traceback
                    conn.rollback()
                    report.replay_problem = one_line(exc, hub.params)
        finally:
            conn.close()
    return report
