"""What a write changed: the record every service write returns, so that screens refresh from it.

Every write is audited, and an audit record already says what it touched (subject, visit, form, item, row, new
state). A change record is those facts, collected by the write transaction as it audits (``context.Tx``) and
returned once the transaction has committed: a refused or rolled-back write changes nothing and reports nothing.
Screens ask it questions ("does it touch this form?", "which cells of it?") and decide what to redraw, as Anki's
``OpChanges`` do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from msc_sle_crf.audit import Action

CellKey = tuple[str, int, str]  # (group id, row, item id): the same shape as formdef.engine.CellKey

# Actions that change what screens show about clinical data (subject lists, casebooks, forms).
DATA_ACTIONS = frozenset({
    Action.CREATE, Action.UPDATE, Action.DELETE, Action.STATUS_CHANGE, Action.SIGN, Action.SIGNATURE_INVALIDATED,
    Action.SOURCE_VERIFIED, Action.QUERY, Action.DATA_ENTRY, Action.DATA_CHANGE, Action.ROW_ADD, Action.ROW_REMOVE,
    Action.INFUSION_EVENT, Action.PRODUCT_CHECK, Action.TWO_PERSON_CHECK, Action.SUBJECT_HANDOVER,
})
ACCOUNT_ACTIONS = frozenset({Action.USER_ADD, Action.USER_DISABLE, Action.USER_ENABLE, Action.PASSWORD_CHANGE,
                             Action.PASSWORD_RESET, Action.RECOVERY_CODE_USED})

# A form's state moved (with no item named: item-level source verification is not a state).
_STATE_ACTIONS = frozenset({Action.STATUS_CHANGE, Action.SIGN, Action.SOURCE_VERIFIED, Action.CREATE})


@dataclass(frozen=True)
class Change:
    """One audited fact."""

    action: Action
    subject: str | None = None
    event: str | None = None
    form: str | None = None
    item: str | None = None
    row: tuple[str, int] | None = None  # (group id, row number) of a repeating or plain group
    new_value: str | None = None

    @classmethod
    def of(cls, action: Action, *, subject: str | None = None, visit: str | None = None, form: str | None = None,
           item: str | None = None, repeat_key: str | None = None, new_value: str | None = None) -> Change:
        row = None
        if repeat_key and ":" in repeat_key:
            group, _, number = repeat_key.rpartition(":")
            if number.isdigit():
                row = (group, int(number))
        return cls(Action(action), subject, visit, form, item, row, new_value)


@dataclass(frozen=True)
class Changes:
    """Everything one operation changed (possibly several transactions, joined with ``|``)."""

    records: tuple[Change, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.records)

    def __or__(self, other: Changes) -> Changes:
        return Changes(self.records + other.records)

    @classmethod
    def join(cls, parts: Iterable[Changes]) -> Changes:
        out: tuple[Change, ...] = ()
        for part in parts:
            out += part.records
        return cls(out)

    # ----- questions screens ask ---------------------------------------------------------------------------
    @property
    def actions(self) -> frozenset[Action]:
        return frozenset(c.action for c in self.records)

    @property
    def subjects(self) -> frozenset[str]:
        return frozenset(c.subject for c in self.records if c.subject)

    def has(self, *actions: Action) -> bool:
        return any(c.action in actions for c in self.records)

    @property
    def data(self) -> bool:
        """Clinical data, a form's state, a query, SDV or an infusion changed."""
        return any(c.action in DATA_ACTIONS for c in self.records)

    @property
    def accounts(self) -> bool:
        return any(c.action in ACCOUNT_ACTIONS for c in self.records)

    @property
    def settings(self) -> bool:
        return self.has(Action.SETTING_CHANGE)

    def touches(self, subject: str, event: str | None = None, form: str | None = None) -> bool:
        """Whether anything of this subject (of this visit, of this form) changed."""
        return any(c.subject == subject and c.action in DATA_ACTIONS
                   and (event is None or c.event in (None, event))
                   and (form is None or c.form in (None, form, "subject"))
                   for c in self.records)

    def cells(self, subject: str, event: str, form: str) -> frozenset[CellKey]:
        """The cells of one form whose value changed."""
        return frozenset((c.row[0], c.row[1], c.item) for c in self.records
                         if c.subject == subject and c.event == event and c.form == form and c.item and c.row
                         and c.action in (Action.DATA_ENTRY, Action.DATA_CHANGE))

    def structure_changed(self, subject: str, event: str, form: str) -> bool:
        """Rows added or removed, or the form's state moved: the screen needs a rebuild, not a redraw."""
        return any(c.subject == subject and c.event == event and c.form == form
                   and (c.action in (Action.ROW_ADD, Action.ROW_REMOVE, Action.CREATE)
                        or (c.action in _STATE_ACTIONS and c.item is None))
                   for c in self.records)

    def rows_changed(self, subject: str, event: str, form: str) -> frozenset[tuple[str, int]]:
        """Rows of a form added or removed."""
        return frozenset(c.row for c in self.records if (c.subject, c.event, c.form) == (subject, event, form)
                         and c.action in (Action.ROW_ADD, Action.ROW_REMOVE) and c.row is not None)

    def status_of(self, subject: str, event: str, form: str) -> str | None:
        """The form's last new state in this change, if it moved."""
        state = None
        for c in self.records:
            if (c.subject, c.event, c.form) == (subject, event, form) and c.action in _STATE_ACTIONS \
                    and c.item is None and c.new_value:
                state = c.new_value
        return state


NO_CHANGES = Changes()


class HasChanges(Protocol):
    """A write's result that carries its change record besides what the caller asked for."""

    @property
    def changes(self) -> Changes: ...


def changes_of(result: object) -> Changes:
    """The change record of any write's result (a ``Changes``, or a result with ``.changes``)."""
    if isinstance(result, Changes):
        return result
    found = getattr(result, "changes", None)
    return found if isinstance(found, Changes) else NO_CHANGES
