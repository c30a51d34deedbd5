"""The small parts of a field (ui/form/field_row.py): what a user may ask of it, the signals it asks with, its
state badge and tips, and how its issues sort into the state it shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel

from msc_sle_crf.formdef.engine import CellKey, Issue, Severity
from msc_sle_crf.i18n import L

BADGE_TIPS = {"ok": L("OK", "Correct"), "soft": L("Unusual: please confirm", "Inhabituel : à confirmer"),
              "hard": L("Not possible", "Impossible"), "missing": L("Required", "Obligatoire")}


@dataclass(frozen=True)
class FieldPermissions:
    """What this user may ask of a field (decided by the form from the user's role and the form's state)."""

    enter: bool = True  # change the value (not a read-only form): type it, or say why it is missing
    raise_query: bool = False
    verify: bool = False


ENTER_ONLY = FieldPermissions()  # the default: enter values, no query or verification


class FieldSignals(QObject):
    """What fields ask for, each signal carrying the field's cell key. A form gives one to all its fields and
    connects it once (a signal connection per field and per request made a long form slow to open)."""

    edited = Signal(object, str)  # key, text: every change
    # The form's handler of a keystroke, called directly by the field (set by the form; else ``edited`` is
    # emitted): a signal emitted from Python costs a few times the call at every key.
    typed: Callable[[CellKey, str], None] | None = None
    commit_requested = Signal(object)  # key: field left, Enter, a choice picked
    confirm_requested = Signal(object)  # key: "Confirm value" (an unusual value)
    missing_requested = Signal(object, object)  # key, MissingCode: not done, unknown, not applicable
    value_requested = Signal(object)  # key: "Enter a value instead" of a missing code
    history_requested = Signal(object)
    query_requested = Signal(object)  # raise a new query
    queries_requested = Signal(object)  # see the queries of this item
    verify_requested = Signal(object)  # source-verify this item


class Badge(QLabel):
    """A field's state badge (✓ ! ✕ • =). Once its size is pinned (the form shown and polished) the glyph is shown
    as a picture drawn once per state (``style.badge_pixmap``: the same glyph, font and colour); ``text()`` is the
    glyph shown, either way."""

    glyph = ""

    def text(self) -> str:
        return self.glyph


def state_kind(hard: list[Issue], soft: list[Issue], missing: list[Issue], *, filled: bool) -> str:
    if hard:
        return "hard"
    if soft:
        return "soft"
    if missing:
        return "missing"
    return "ok" if filled else "none"


def by_severity(issues: tuple[Issue, ...]) -> tuple[list[Issue], list[Issue], list[Issue], list[Issue]]:
    """Hard, soft (not confirmed), missing, and confirmed soft issues, in one pass (at every keystroke)."""
    hard: list[Issue] = []
    soft: list[Issue] = []
    missing: list[Issue] = []
    confirmed: list[Issue] = []
    for issue in issues:
        severity = issue.severity
        if severity is Severity.HARD:
            hard.append(issue)
        elif severity is Severity.SOFT:
            (confirmed if issue.confirmed else soft).append(issue)
        elif severity is Severity.MISSING:
            missing.append(issue)
    return hard, soft, missing, confirmed
