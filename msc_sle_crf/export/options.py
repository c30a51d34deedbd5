"""What an export is asked for and what it gives back (no lxml: the screens and the services import this at start-up;
the writers load when an export runs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msc_sle_crf.i18n import L

Progress = Callable[[int, int, L], None]  # (done, total, what): the whole run counts to ``total``


class Cancelled(Exception):
    """The user cancelled: nothing was written under the target name."""


class InvalidOdm(Exception):
    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


@dataclass(frozen=True)
class ExportOptions:
    subjects: tuple[str, ...] = ()  # empty: every subject
    audit_trail: bool = True
    deidentified: bool = False


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    subjects: int
    audit_records: int  # lines of audit_trail.csv (0 without the trail)
    archival_records: int  # transactions in odm/archival.xml
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    head: tuple[int, str] = (0, "")
    seconds: float = 0.0


