"""Which workstation a database is (docs/workstations.md, "Workstations"). No Qt, no I/O beyond the session."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from msc_sle_crf.store.tables import SiteSetting

ID_BLOCK = 10_000_000  # rows created on workstation n get ids in [(n-1)*ID_BLOCK + 1, n*ID_BLOCK]
FIRST_WS = "WS-01"
# ``workstation_instance``: the random id drawn by each ``workstation open`` (sync/instances.py)
SETTING_KEYS = ("workstation_id", "workstation_number", "subject_range", "workstation_fork", "workstation_instance")
_WS = re.compile(r"WS-([0-9]{2})")


@dataclass(frozen=True)
class Workstation:
    id: str  # WS-01
    number: int  # 1
    subjects: tuple[int, int]  # the sequence numbers this workstation may give (inclusive)
    fork: dict[str, Any] | None  # where the copy began: {"ws", "id", "hash"}; None for the first workstation

    @property
    def id_range(self) -> tuple[int, int]:
        return (self.number - 1) * ID_BLOCK + 1, self.number * ID_BLOCK

    def owns(self, owner_ws: str | None) -> bool:
        return (owner_ws or FIRST_WS) == self.id


def ws_id(number: int) -> str:
    if not 1 <= number <= 99:
        raise ValueError(number)
    return f"WS-{number:02d}"


def ws_number(ws: str) -> int:
    match = _WS.fullmatch(ws)
    if match is None:
        raise ValueError(ws)
    return int(match.group(1))


def default_subjects(number: int) -> tuple[int, int]:
    """WS-01: 001-199, WS-02: 201-399, ... (each workstation 199 numbers, like a paper screening log's pages)."""
    low = (number - 1) * 200 + 1
    return low, low + 198


ALONE_SUBJECTS = (1, 999)  # a site that never forked: the whole screening log is its one workstation's
BLOCK = 200


def block_end(number: int) -> int:
    """The end of the block of subject numbers (199, 399, 599...) at or after ``number``."""
    return (number + BLOCK) // BLOCK * BLOCK - 1


def never_forked(session: Session) -> bool:
    """The site's first database, never forked (no identity settings, no ``workstation_add`` of its own): it keeps
    the whole range of subject numbers (``ALONE_SUBJECTS``) until its first fork splits the numbers it has not used.
    Reads the trail: asked only when the first block is used up, and by ``workstation show``."""
    from msc_sle_crf.store.tables import AuditEvent

    if session.get(SiteSetting, "workstation_id") is not None:
        return False
    return session.execute(select(AuditEvent.id).where(AuditEvent.action == "workstation_add",
                                                      AuditEvent.origin.is_(None)).limit(1)).first() is None


def subject_numbers(session: Session, here: Workstation) -> tuple[int, int]:
    """The subject numbers this workstation may give now (``here.subjects``; the whole range while never forked)."""
    return ALONE_SUBJECTS if here.id == FIRST_WS and never_forked(session) else here.subjects


def parse_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    return int(low), int(high)


def this_workstation(session: Session) -> Workstation:
    rows: dict[str, str] = {}
    for key, value in session.execute(select(SiteSetting.key, SiteSetting.value)
                                      .where(SiteSetting.key.in_(SETTING_KEYS))):
        rows[key] = value
    if "workstation_id" not in rows:
        return Workstation(FIRST_WS, 1, default_subjects(1), None)
    number = int(rows.get("workstation_number") or ws_number(rows["workstation_id"]))
    subjects = parse_range(rows["subject_range"]) if rows.get("subject_range") else default_subjects(number)
    fork = json.loads(rows["workstation_fork"]) if rows.get("workstation_fork") else None
    return Workstation(rows["workstation_id"], number, subjects, fork)
