"""One section of a form (an item group): its fields in a grid, or one card per row of a repeating group with
"Remove row…" (not a Tab stop: Ctrl+Shift+Del in a field of the row) and "+ Add a row". A section emits what the
user asked for; the form decides."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from msc_sle_crf.formdef.definitions import ItemGroup
from msc_sle_crf.formdef.engine import CellKey, FormState
from msc_sle_crf.ui.common import tr
from msc_sle_crf.ui.form.field_parts import FieldPermissions, FieldSignals
from msc_sle_crf.ui.form.field_row import FieldEditor
from msc_sle_crf.ui.form.lazy import LazyFields, Spec
from msc_sle_crf.ui.form.style import named


class Section(QFrame):
    add_row_requested = Signal(str)  # group id
    remove_row_requested = Signal(str, int)  # group id, row number

    def __init__(self, group: ItemGroup, state: FormState, parent: QWidget, *, read_only: bool,
                 permissions: FieldPermissions, signals: FieldSignals | None = None,
                 lazy: LazyFields | None = None) -> None:
        super().__init__(parent)
        self.signals = signals
        self.lazy = lazy  # fields past the first screenful wait until reached (ui/form/lazy.py)
        self.state = state
        self.setObjectName("section")
        self.group = group
        self.permissions = permissions
        self.fields: dict[CellKey, FieldEditor] = {}
        self.setProperty("group", group.id)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        head = QHBoxLayout()
        head.addWidget(named(QLabel(group.label.get(), self), "sectionTitle"))
        head.addStretch(1)
        layout.addLayout(head)
        if group.help:
            h = named(QLabel(group.help.get(), self), "help")
            h.setWordWrap(True)
            layout.addWidget(h)
        if not group.repeating:
            layout.addLayout(self._grid(state, 0, self))
            return
        rows = state.rows[group.id]
        if not rows:
            layout.addWidget(named(QLabel(tr("No rows yet.", "Aucune ligne pour l'instant."), self), "help"))
        for number, row in enumerate(rows, start=1):
            card = named(QFrame(self), "rowCard")
            card_layout = QVBoxLayout(card)
            top = QHBoxLayout()
            top.addWidget(QLabel(f"<b>#{number}</b>", card))
            top.addStretch(1)
            remove = named(QPushButton(tr("Remove row…", "Supprimer la ligne…"), card), "removeRow")
            remove.setVisible(not read_only)
            # Not a Tab stop: a nurse tabbing from reading to reading (gloves, no mouse) landed on it. The keyboard
            # removes the row of the field it is in (Ctrl+Shift+Del, ``FormView``), the mouse clicks it; a screen
            # reader names the row it removes.
            remove.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            remove.setAccessibleName(tr(f"Remove row #{number}", f"Supprimer la ligne n° {number}"))
            remove.setToolTip(tr("From the keyboard: Ctrl+Shift+Del in a field of this row",
                                 "Au clavier : Ctrl+Maj+Suppr dans un champ de cette ligne"))
            remove.clicked.connect(lambda _c=False, r=row: self.remove_row_requested.emit(group.id, r))
            top.addWidget(remove)
            if lazy is not None:
                lazy.stop(remove)
            card_layout.addLayout(top)
            card_layout.addLayout(self._grid(state, row, card))
            layout.addWidget(card)
        add = named(QPushButton(tr("+ Add a row", "+ Ajouter une ligne"), self), "addRow")
        add.setVisible(not read_only)
        add.setShortcut(QKeySequence("Alt+A"))
        add.clicked.connect(lambda: self.add_row_requested.emit(group.id))
        if group.max_rows is not None and len(rows) >= group.max_rows:
            add.setEnabled(False)
        if lazy is not None:
            lazy.stop(add)  # a Tab stop: Shift+Tab from it builds the fields before it
        layout.addWidget(add, 0, Qt.AlignmentFlag.AlignLeft)

    def _grid(self, state: FormState, row: int, owner: QWidget) -> QGridLayout:
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(2)
        grid.setColumnStretch(1, 1)
        grid.setColumnMinimumWidth(0, 300)
        line = 0
        lazy = self.lazy
        for item in self.group.items:
            spec = Spec((self.group.id, row, item.id), item, self, grid, owner, line)
            if lazy is None or lazy.take():
                self.fields[spec.key] = self.make(spec)
                if lazy is not None:
                    lazy.built(spec.key)
            else:
                lazy.defer(spec)
            if item.grades_of:
                line += 1
            line += 2
        if lazy is not None:
            lazy.close()
        return grid

    def make(self, spec: Spec) -> FieldEditor:
        """One field (its name and its editor row) at its lines of its grid."""
        item, grid, owner, line = spec.item, spec.grid, spec.owner, spec.line
        text = html.escape(item.label.get()) + (" *" if item.required else "")
        if item.help:  # one label for the name and its help: half the widgets on a long form
            text += f'<br><span style="color:#5f6b76; font-size:10pt">{html.escape(item.help.get())}</span>'
        label = named(QLabel(text, owner), "fieldLabel")
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setWordWrap(True)
        label.setToolTip(item.id)
        field = FieldEditor(spec.key, item, self.state.codelist(item.id), owner, permissions=self.permissions,
                            signals=self.signals)
        label.setBuddy(field.editor.focus_widget())
        field.label = label
        grid.addWidget(label, line, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(field, line, 1)
        field.place_message = lambda widget, n=line + 1: grid.addWidget(widget, n, 1)
        if item.grades_of:
            field.place_extra = lambda widget, n=line + 2: grid.addWidget(widget, n, 1)
        return field
