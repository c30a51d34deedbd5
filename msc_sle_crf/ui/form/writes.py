"""What the user does to a form's values: type, commit, confirm, say why a value is missing, add and remove
rows, mark the form complete. Part of ``FormView`` (a mixin: it uses the view's fields, state and redraws).

Every write goes through ``ops.run``; its change record redraws every open screen (this form included). A refusal
shows where the user looks: under the field, in the list of what blocks completion, or in a message box.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

from msc_sle_crf.errors import CrfError
from msc_sle_crf.formdef.definitions import MissingCode
from msc_sle_crf.formdef.engine import CellKey, FormState
from msc_sle_crf.services.entry import DataEntry, FormIncomplete, FormRef, SoftCheckNeedsConfirmation
from msc_sle_crf.status import FormStatus
from msc_sle_crf.ui.common import error_text, tr
from msc_sle_crf.ui.form.conflicts import code_words
from msc_sle_crf.ui.form.field_row import FieldEditor
from msc_sle_crf.ui.form.footer import FormFooter
from msc_sle_crf.ui.form.lazy import Fields
from msc_sle_crf.ui.ops import ErrorHandler, Ops, show_error

T = TypeVar("T")


def widget_of(form: object) -> QWidget | None:
    """The form as the parent of the message boxes it shows."""
    return form if isinstance(form, QWidget) else None


def _said(field: FieldEditor, text: str) -> str:
    """A coded value as the reason question names it ("Non", not the stored "N"); other values as typed."""
    say = code_words(field.item, field.codelist) if text else None
    return (say(text) if say is not None else None) or text


def _under(field: FieldEditor) -> ErrorHandler:
    """A refusal shown under the field."""
    return lambda exc: field.show_error(error_text(exc))


class _Form(Protocol):
    """What these methods use of the view."""

    ops: Ops
    entry: DataEntry
    ref: FormRef
    fields: Fields
    state: FormState
    status: FormStatus
    committed: dict[CellKey, tuple[str, str | None]]
    conflicts: dict[CellKey, Any]  # open conflicts between workstations (ui/form/conflicts.py): a save needs a reason
    show_missing: bool
    footer: FormFooter
    _own: frozenset[CellKey] | None
    _grades: dict[CellKey, list[CellKey]]
    typing: dict[CellKey, tuple[str, str | None]]
    buffered: set[CellKey]
    locking: bool
    reopened: dict[CellKey, tuple[MissingCode, str | None]]
    _typing_timer: QTimer
    _typing_armed: bool  # the timer is running (known here: no call into Qt to ask it at each key)

    def ask_reason(self, field: str, old: str, new: str) -> str | None: ...
    def ask_missing(self, field: str, code: MissingCode) -> str | None: ...
    def refresh(self, keys: set[CellKey], *, summary: bool = True) -> None: ...
    def _draw(self, keys: set[CellKey] | list[CellKey]) -> None: ...
    def _summary_later(self) -> None: ...
    def flush_typing(self) -> None: ...
    def refresh_all(self) -> None: ...
    def focused_key(self) -> CellKey | None: ...
    def show_monitoring(self, keys: set[CellKey]) -> None: ...
    def commit(self, key: CellKey, *, confirm: bool = False) -> bool: ...
    def _run(self, fn: Callable[[], T], *, title: str = "", own: frozenset[CellKey] = ...,
             on_error: ErrorHandler | None = None) -> T | None: ...
    def _revert(self, key: CellKey) -> None: ...
    def _value_refused(self, key: CellKey, exc: CrfError) -> None: ...
    def _completion_refused(self, exc: CrfError) -> None: ...


class FormWrites:
    _own: frozenset[CellKey] | None  # the cells of the write this form is running (None: a write made elsewhere)

    # ----- the one way this form writes -----------------------------------------------------------------------
    def _run(self: _Form, fn: Callable[[], T], *, title: str = "", own: frozenset[CellKey] = frozenset(),
             on_error: ErrorHandler | None = None) -> T | None:
        """A write through ``ops.run``; ``own``: the cells it writes that the form already shows as written (its
        change record redraws the rest, here and on every other open screen)."""
        self._own = own
        try:
            return self.ops.run(fn, parent=widget_of(self), title=title, on_error=on_error)
        finally:
            self._own = None

    def _value_refused(self: _Form, key: CellKey, exc: CrfError) -> None:
        if isinstance(exc, SoftCheckNeedsConfirmation):  # the field waits for "Confirm value"
            self.refresh({key})
        else:
            self.fields[key].show_error(error_text(exc))

    def _completion_refused(self: _Form, exc: CrfError) -> None:
        if isinstance(exc, FormIncomplete):
            self.footer.show_blockers(exc.blockers)
        else:
            show_error(widget_of(self), tr("Mark complete", "Marquer complet"), exc)

    # ----- typing and committing --------------------------------------------------------------------------------
    def on_edited(self: _Form, key: CellKey, text: str) -> None:
        """Each keystroke: checked at once (what depends on this field only), shown, and kept for the encrypted
        typing buffer, written at the next idle moment (``flush_typing``)."""
        unit = self.fields[key].unit()
        changed = self.state.set_text(key, text, unit)
        grades = self._grades.get(key)
        if grades:
            changed |= set(grades)
        self._draw(changed)  # as ``refresh(changed, summary=False)``
        self._summary_later()
        self.typing[key] = (text, unit)
        if not self._typing_armed:  # not restarted by later keys: written while the user types on
            self._typing_armed = True
            self._typing_timer.start()

    def flush_typing(self: _Form) -> None:
        """What was typed since the last write goes into the typing buffer, in one transaction."""
        if self._typing_armed:
            self._typing_armed = False
            self._typing_timer.stop()
        if not self.typing:
            return
        if self.entry.ctx.site.store is None:  # the site was closed under the form (the program is ending)
            self.typing.clear()
            return
        pending = self.typing
        self.typing = dict[CellKey, tuple[str, str | None]]()
        self.buffered.update(pending)
        first = self.fields.get(next(iter(pending)))
        self._run(lambda: self.entry.save_typing_many(self.ref, dict(pending)),
                  on_error=_under(first) if first is not None else None)

    def commit(self: _Form, key: CellKey, *, confirm: bool = False) -> bool:
        """Store the value typed (the field was left, Enter pressed, a choice picked)."""
        field = self.fields.get(key)
        if field is None or field.item.calc or not field.isEnabled() or self.locking:
            if self.locking:  # the field lost the focus as the screen locks: what it holds is the user's draft
                self.flush_typing()
            return False
        text, unit = field.editor.text(), field.unit()
        if (text, unit) == self.committed.get(key) and not confirm:
            if not text and key in self.reopened:  # "Enter a value instead", then nothing: still the stored code
                code, why = self.reopened.pop(key)
                self.refresh(self.state.set_missing(key, code, why))
            if self.typing.pop(key, None) is not None or key in self.buffered:  # the saved value typed again
                self.buffered.discard(key)
                self._run(lambda: self.entry.save_typing(self.ref, key, None), on_error=_under(field))
            return False
        refused, unconfirmed = self.state.acceptance(key)
        if refused is not None or (unconfirmed is not None and not confirm):
            self.flush_typing()  # the field is left: what it holds is written to the typing buffer now
            return False  # shown on the field; the text stays in the typing buffer (or waits for "Confirm")
        reason = None
        if self.status.completed or key in self.conflicts:  # a value that resolves a conflict needs a reason too
            reason = self.ask_reason(field.item.label.get(), _said(field, self.committed.get(key, ("", None))[0]),
                                     _said(field, text))
            if not reason:
                if self.locking:  # the question was closed by the lock, not answered: the typing is kept
                    self.flush_typing()
                else:
                    self._revert(key)
                return False
        typed = self.typing.pop(key, None)  # the save clears this field's typing buffer in its own transaction
        saved = self._run(lambda: self.entry.save_item(self.ref, key, text, unit, confirm=confirm, reason=reason),
                          own=frozenset({key}), on_error=lambda exc: self._value_refused(key, exc))
        if saved is None:
            if typed is not None:  # refused: what was typed is still to be kept
                self.typing[key] = typed
                self._typing_armed = True
                self._typing_timer.start()
            return False
        self.committed[key] = (text, unit)
        self.reopened.pop(key, None)  # the value replaced the missing code
        self.buffered.discard(key)  # the save cleared its typing buffer
        return True

    def confirm(self: _Form, key: CellKey) -> None:
        """An unusual value confirmed (it opens an automatic query for the monitor)."""
        changed = self.state.confirm(key)
        self.commit(key, confirm=True)
        self.refresh(changed)

    def _revert(self: _Form, key: CellKey) -> None:
        self.typing.pop(key, None)
        field = self.fields[key]
        text, unit = self.committed.get(key, ("", None))
        field.editor.set_text(text)
        field.set_unit(unit)
        self.refresh(self.state.set_text(key, text, unit))
        self._run(lambda: self.entry.save_typing(self.ref, key, None), on_error=_under(field))

    def keep_typing(self: _Form) -> None:
        """Before another user takes over: what the focused field holds, in the typing buffer."""
        self.flush_typing()
        key = self.focused_key()
        field = self.fields.get(key) if key is not None else None
        if key is not None and field is not None and not field.item.calc:
            self._run(lambda: self.entry.save_typing(self.ref, key, field.editor.text(), field.unit()))

    # ----- missing values ---------------------------------------------------------------------------------------
    def mark_missing(self: _Form, key: CellKey, code: MissingCode) -> None:
        """Not done, unknown or not applicable, with why (and a reason for change on a completed form)."""
        field = self.fields[key]
        why = self.ask_missing(field.item.label.get(), code)
        if not why:
            return
        reason = None
        if self.status.completed or key in self.conflicts:  # a value that resolves a conflict needs a reason too
            reason = self.ask_reason(field.item.label.get(), _said(field, self.committed.get(key, ("", None))[0]),
                                     code.label())
            if not reason:
                return
        self.typing.pop(key, None)  # the missing code replaces what was typed (cleared with it)
        self.reopened.pop(key, None)
        if self._run(lambda: self.entry.set_missing(self.ref, key, code, why, reason=reason), title=code.label(),
                     own=frozenset({key})) is None:
            return
        field.editor.set_text("")
        self.committed[key] = ("", None)
        self.refresh(self.state.set_missing(key, code, why))

    def clear_missing(self: _Form, key: CellKey) -> None:
        """"Enter a value instead": the field opens again (stored once a value is committed; left empty, the
        stored missing code shows again)."""
        cell = self.state.cell(key)
        if cell.missing is not None:
            self.reopened[key] = (cell.missing, cell.missing_reason)
        self.state.set_missing(key, None, None)
        self.refresh({key})
        self.fields[key].focus()

    # ----- rows -------------------------------------------------------------------------------------------------
    def add_row(self: _Form, group_id: str) -> None:
        reason = None
        if self.status.completed:
            reason = self.ask_reason(self.state.group(group_id).label.get(), "", tr("new row", "nouvelle ligne"))
            if not reason:
                return
        added = self._run(lambda: self.entry.add_row(self.ref, group_id, reason=reason),
                          title=tr("Add a row", "Ajouter une ligne"))
        if added is not None:  # its change record rebuilt the form with the new row
            first = self.fields.get((group_id, added.row, self.state.group(group_id).items[0].id))
            if first is not None:
                first.focus()

    def remove_row(self: _Form, group_id: str, row: int) -> None:
        rows = self.state.rows[group_id]
        shown = rows.index(row) + 1 if row in rows else row  # the card's number on screen, not the stored one
        reason = self.ask_reason(self.state.group(group_id).label.get(), f"#{shown}", tr("(removed)", "(supprimée)"))
        if reason:
            self._run(lambda: self.entry.remove_row(self.ref, group_id, row, reason),
                      title=tr("Remove a row", "Supprimer une ligne"))

    # ----- completion -------------------------------------------------------------------------------------------
    def mark_complete(self: _Form) -> bool:
        """Every check again; what blocks is listed (each line leads to its field)."""
        key = self.focused_key()
        if key is not None:  # commit what is being typed first
            self.commit(key)
        self.flush_typing()  # what was typed and not accepted counts (read from the typing buffer)
        self.show_missing = True
        self.refresh_all()
        if self._run(lambda: self.entry.mark_complete(self.ref), on_error=self._completion_refused) is None:
            return False
        self.footer.hide_blockers()
        return True
