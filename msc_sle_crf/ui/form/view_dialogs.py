"""The windows a form opens beside itself: raise a query, verify an item, its queries, its history; and which of
them are open (the lock hides them with the form). Part of ``FormView`` (a mixin, like ``writes.FormWrites``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Protocol, TypeVar

import shiboken6
from PySide6.QtWidgets import QDialog, QWidget

from msc_sle_crf.errors import CrfError
from msc_sle_crf.formdef.engine import CellKey
from msc_sle_crf.services.entry import DataEntry, FormRef
from msc_sle_crf.services.monitoring import QueryInfo
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.status import FormStatus
from msc_sle_crf.ui.common import tr
from msc_sle_crf.ui.form import conflicts, dialogs
from msc_sle_crf.ui.form.lazy import Fields
from msc_sle_crf.ui.form.writes import widget_of
from msc_sle_crf.ui.ops import ErrorHandler, Ops, show_error

T = TypeVar("T")


class _View(Protocol):
    """What these methods use of the view."""

    ws: Workspace
    ops: Ops
    entry: DataEntry
    ref: FormRef
    fields: Fields
    queries_by_key: dict[CellKey, list[QueryInfo]]
    history_dialog: dialogs.HistoryDialog | None
    query_dialog: dialogs.QueryDialog | None
    raise_dialog: dialogs.RaiseQueryDialog | None
    conflict_panel: conflicts.ConflictPanel | None
    status: FormStatus
    locking: bool

    def _run(self, fn: Callable[[], T], *, title: str = "", own: frozenset[CellKey] = ...,
             on_error: ErrorHandler | None = None) -> T | None: ...


def reason_draft_key(ref: FormRef, field: str) -> str:
    """Where a "Reason for change" being typed is kept (the user's own encrypted draft) when the lock closes it."""
    return "reason:" + ":".join(map(str, (ref.subject, ref.event, ref.form, field)))


class FormDialogs:
    history_dialog: dialogs.HistoryDialog | None
    query_dialog: dialogs.QueryDialog | None
    raise_dialog: dialogs.RaiseQueryDialog | None

    def question_reason(self: _View, field: str, old: str, new: str) -> str | None:
        """"Reason for change" (modal). Closed by the lock (Ctrl+L, the idle lock) while she typed her reason: her
        text is kept as her own encrypted draft (nothing in clear on disk) and put back when the question is asked
        again (the value typed in the field is kept by the lock, h61); answered or cancelled, the draft is gone."""
        key = reason_draft_key(self.ref, field)
        dialog = dialogs.ReasonDialog(field, old, new, widget_of(self), signed=self.status is FormStatus.SIGNED)
        kept = None
        with contextlib.suppress(CrfError):  # no draft readable: an empty question, as before
            kept = self.ws.drafts.load(key)
        if kept:
            dialog.choice.setCurrentIndex(max(0, dialog.choice.findData(str(kept.get("choice", "")))))
            dialog.detail.setText(str(kept.get("detail", "")))
        answered = dialog.exec() == QDialog.DialogCode.Accepted
        typed = {"choice": str(dialog.choice.currentData() or ""), "detail": dialog.detail.text()}
        with contextlib.suppress(CrfError):  # the draft is a convenience: never a refusal of the answer
            if not answered and self.locking and (typed["choice"] or typed["detail"]):
                self.ws.drafts.save(key, typed, audited=False)
            elif kept is not None:
                self.ws.drafts.discard(key, audited=False)
        return dialog.reason() if answered else None

    def raise_query(self: _View, key: CellKey) -> None:
        """Non-blocking (``open``): a lock hides it with the form and brings it back with her text."""
        dialog = dialogs.RaiseQueryDialog(self.ws, self.ref, key, self.fields[key].item.label.get(), widget_of(self))
        self.raise_dialog = dialog

        def send() -> None:
            text = dialog.textValue()
            if not text.strip():
                dialog.forget()
                return
            raised = self._run(lambda: self.ws.monitoring.open_query(self.ref, key, text), title=tr("Query", "Query"))
            if raised is None:  # refused (said in a message): her text stays her draft for the next try
                dialog.keep_text()
            else:
                dialog.forget()

        dialog.accepted.connect(send)
        dialog.open()

    def verify_item(self: _View, key: CellKey) -> None:
        self._run(lambda: self.ws.monitoring.verify_item(self.ref, key),
                  title=tr("Source-data verification", "Vérification des données source"))

    def show_queries(self: _View, key: CellKey) -> None:
        dialog = dialogs.QueryDialog(self.ws, self.ops, self.ref, key, label=self.fields[key].item.label.get(),
                                     queries=self.queries_by_key.get(key, []), parent=widget_of(self),
                                     conflicts=conflicts.by_id(self.ws, self.ref),
                                     value_text=conflicts.value_text(self.fields[key].item),
                                     unit=self.fields[key].unit())
        self.query_dialog = dialog
        dialog.open()

    def show_history(self: _View, key: CellKey) -> None:
        try:
            records = self.entry.item_history(self.ref, key)
        except CrfError as exc:
            show_error(widget_of(self), tr("History", "Historique"), exc)
            return
        field = self.fields[key]
        history = dialogs.HistoryDialog(field.item.label.get(), records, widget_of(self),
                                        conflicts=conflicts.by_id(self.ws, self.ref),
                                        code_words=conflicts.code_words(field.item, field.codelist),
                                        labels=dialogs.form_labels(self.ws, self.ref))
        self.history_dialog = history
        history.open()

    def own_dialogs(self: _View) -> list[QWidget]:
        """The windows this form opened that stay open beside it (history, queries, a query being raised, signing, a
        conflict)."""
        found = (self.history_dialog, self.query_dialog, self.raise_dialog, getattr(self, "sign_dialog", None),
                 self.conflict_panel)
        return [d for d in found if isinstance(d, QWidget) and shiboken6.isValid(d)]
