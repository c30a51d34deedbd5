"""A form in its own window (non-modal), scrollable, with the form view inside."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLineEdit, QScrollArea, QVBoxLayout, QWidget

from msc_sle_crf.formdef.engine import CellKey
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.ui.form.view import FormView
from msc_sle_crf.ui.ops import Ops
from msc_sle_crf.ui.window_policy import NoDefaultButtonDialog


class FormWindow(NoDefaultButtonDialog):
    def __init__(self, ws: Workspace, ref: FormRef, parent: QWidget | None = None, *, ops: Ops | None = None) -> None:
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.resize(1180, 820)  # within a 1280-pixel screen with no sideways scrolling; the height fits itself
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidgetResizable(True)
        self.scroll = self.scroll_area  # type: ignore[assignment,method-assign]  # the name callers use
        layout.addWidget(self.scroll_area)
        # Built inside its final parent: moving a finished form into a window would style every widget twice.
        self.view = FormView(ws, ref, parent=self.scroll_area.viewport(), ops=ops)
        self.scroll_area.setWidget(self.view)
        # The footer ("Mark complete", what blocks it) stays below the scrolled fields: always in view (issue 12: at
        # 1280 x 800 it was under the last field, off-screen).
        footer = self.view.footer
        owner = footer.parentWidget()
        holder = owner.layout() if owner is not None else None
        if holder is not None:
            holder.removeWidget(footer)
        footer.blockers.setMaximumHeight(110)  # a long list of blockers scrolls, the button stays
        footer.setContentsMargins(16, 6, 28, 8)
        layout.addWidget(footer)
        self._title()
        self._back_after_lock: list[QWidget] = []
        self.finished.connect(lambda _result: self.view.detach())  # closed: no redrawing while unseen

    def _title(self) -> None:
        view = self.view
        visit = view.ws.study.event(view.ref.event).label.get()  # its name: "LOG" or "TOL" says nothing to a nurse
        self.setWindowTitle(f"{view.ref.subject} · {visit} · {view.snapshot.form.label.get()}")

    def showEvent(self, event: QShowEvent) -> None:
        if not self.view.listening:  # opened again after being closed: catch up with what changed meanwhile
            self.view.attach()
            self.view.reload()
        super().showEvent(event)

    def retranslate(self) -> None:
        self.view.retranslate()
        self._title()

    def focus_cell(self, key: CellKey) -> bool:
        """Scroll to a field and put the cursor in it (the bedside opens an adverse event at its grade)."""
        field = self.view.fields.get(key)
        if field is None:
            return False
        self.scroll_area.ensureWidgetVisible(field)
        field.focus()
        return True

    def on_lock(self) -> None:
        """Before the screen locks: a field losing the focus keeps its typing as the user's draft (no save, no
        "Reason for change" holding the lock); the form's own windows (history, queries, signing) hide with it, a
        password typed to sign is cleared."""
        view = self.view
        view.locking = True
        self._back_after_lock = [d for d in view.own_dialogs() if d.isVisible()]
        self._keep_texts()  # a query being raised or answered: also her own encrypted draft (killed while locked)
        for dialog in self._back_after_lock:
            password = getattr(dialog, "password", None)
            if isinstance(password, QLineEdit):
                password.clear()
            dialog.hide()

    def on_unlock(self) -> None:
        """The same user is back: the form's windows come back with it, the typing is still in its field."""
        self.view.locking = False
        for dialog in self._back_after_lock:
            if shiboken6.isValid(dialog):
                dialog.show()
        self._back_after_lock = []

    def save_draft(self) -> None:
        """Called before another user takes over: what is typed is already in the typing buffer; a query being
        raised or answered becomes the user's own draft (this window and its own windows close)."""
        self.view.keep_typing()
        self._keep_texts()

    def _keep_texts(self) -> None:
        for dialog in self.view.own_dialogs():
            keep = getattr(dialog, "keep_text", None)
            if keep is not None:
                keep()
