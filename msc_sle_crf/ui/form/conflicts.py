"""The conflict marker on a field (issue 18): two workstations changed the item differently; the field says so until
someone enters the right value. The marker is a link (mouse, or Tab then Space): it opens a small panel with both
values, who entered each, on which workstation and when (local date-time), and what to do about it.

Everything here is said from the stored facts (``item_conflict``: both sides), in the reader's language
(``trail_words.conflict_text``), never from the English text the import wrote into the automatic query."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.errors import CrfError
from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import ItemType
from msc_sle_crf.i18n import current_lang
from msc_sle_crf.sync.service import ConflictInfo, Packets
from msc_sle_crf.trail_words import Side, ValueText, conflict_text, when_text
from msc_sle_crf.ui.common import tr
from msc_sle_crf.ui.form.style import named

MARK = "conflict"
LINK = "conflict"


def load(ws: Any, ref: Any) -> dict[tuple[str, int, str], ConflictInfo]:
    try:
        return Packets(ws.ctx, None).conflicts(ref)
    except CrfError:  # not this user's to see: no marks
        return {}


def by_id(ws: Any, ref: Any) -> dict[int, tuple[Side, Side]]:
    """Every conflict of the form, open or resolved, by id (= its automatic query's id): kept and other side."""
    try:
        return {cid: (info.kept, info.other) for cid, info in Packets(ws.ctx, None).conflicts_by_id(ref).items()}
    except CrfError:
        return {}


def value_text(item: Any) -> ValueText:
    """A side's value as the item shows it in the reader's language (decimal comma, dd/mm/yyyy), with its unit."""

    def say(side: Side) -> str:
        if side.get("missing_code") or side.get("value") is None:
            return str(side.get("text") or "—")
        try:
            shown = V.display(item, V.from_storage(item, str(side["value"])))
        except (ValueError, TypeError, ArithmeticError):
            return str(side.get("text") or "—")
        unit = side.get("unit") or getattr(item, "unit", None)
        return f"{shown} {unit}" if unit and shown else shown

    return say


def code_words(item: Any, codelist: Any) -> Callable[[str], str | None] | None:
    """A coded item's stored codes in the reader's words ("Y" -> "Oui"; several codes joined), for the history;
    None for an item without codes (its values are said by ``trail_words.value_words``)."""
    if codelist is None and item.type is not ItemType.YESNO:
        return None

    def say(text: str) -> str | None:
        try:
            shown = V.display(item, V.from_storage(item, text), codelist=codelist)
        except (ValueError, TypeError, KeyError):
            return None
        return shown or None

    return say


def show(field: Any, info: ConflictInfo | None, view: Any = None) -> None:
    """After ``field.show_marks``: the marker (a link that opens the panel) and its explanation, or nothing."""
    if info is None:
        if field._marks is not None and field._marks.property(MARK):
            field._marks.setToolTip("")
            field._marks.setProperty(MARK, False)
        return
    label = field.marks
    text = tr("Conflict", "Conflit")
    link = (f'<a href="{LINK}" style="color:#b00020; text-decoration:underline"><b>⚠ {html.escape(text)}</b></a>')
    label.setText(f"{label.text()} {link}".strip())
    offset = view.ws.ctx.clock.local_offset_minutes() if view is not None else 0
    label.setToolTip(conflict_text(info.kept, info.other, current_lang(), offset, value_text(field.item))
                     + "\n" + tr("Click for details.", "Cliquer pour le détail."))
    label.setProperty(MARK, True)
    if view is not None and not label.property("conflict_link"):
        label.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        label.linkActivated.connect(lambda href, key=field.key: open_panel(view, key) if href == LINK else None)
        label.setProperty("conflict_link", True)


def open_panel(view: Any, key: Any) -> ConflictPanel | None:
    """The panel of the field's open conflict (the form's ``conflict_panel``), or None when it was resolved."""
    info = view.conflicts.get(key)
    field = view.fields.get(key)
    if info is None or field is None:
        return None
    panel = ConflictPanel(field.item.label.get(), info, value_text(field.item),
                          view.ws.ctx.clock.local_offset_minutes(), can_enter=not view.read_only, parent=view)
    def enter() -> None:
        panel.accept()
        field.focus()

    panel.enter_button.clicked.connect(enter)
    panel.history_button.clicked.connect(lambda: view.show_history(key))
    panel.queries_button.clicked.connect(lambda: view.show_queries(key))
    panel.queries_button.setVisible(bool(view.queries_by_key.get(key)))
    view.conflict_panel = panel
    panel.open()
    return panel


class ConflictPanel(QDialog):
    """Both values side by side, who, where, when; what to do."""

    def __init__(self, title: str, info: ConflictInfo, say: Callable[[Side], str], offset_min: int, *,
                 can_enter: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conflictPanel")
        self.setWindowTitle(tr("Conflict between workstations — ", "Conflit entre postes — ") + title)
        self.resize(720, 320)
        layout = QVBoxLayout(self)
        intro = QLabel(tr("Two workstations changed this value differently before they exchanged packets. Both "
                          "values are kept:",
                          "Deux postes ont modifié cette valeur différemment avant d'échanger leurs paquets. Les "
                          "deux valeurs sont conservées :"))
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = named(QTableWidget(2, 5), "conflictValues")
        self.table.setHorizontalHeaderLabels([tr("Value", "Valeur"), tr("Entered by", "Saisie par"),
                                              tr("Workstation", "Poste"), tr("When", "Quand"), ""])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        for row, (side, status) in enumerate(((info.kept, tr("shown now (recorded first)",
                                                              "affichée (enregistrée en premier)")),
                                               (info.other, tr("other value", "autre valeur")))):
            for col, text in enumerate((say(side), str(side.get("user") or "?"), str(side.get("ws") or "?"),
                                        when_text(side.get("utc"), offset_min), status)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.setFixedHeight(self.table.horizontalHeader().height() + 2 * self.table.rowHeight(0) + 6)
        layout.addWidget(self.table)
        if can_enter:
            todo = tr("What to do: check the source document, then enter the right value in the field (one of these "
                      "or another) and give a reason. That resolves the conflict here; the decision goes to the "
                      "other workstations with the next packet. The automatic query stays for the monitor.",
                      "Que faire : vérifiez le document source, puis saisissez la bonne valeur dans le champ (l'une "
                      "de celles-ci ou une autre) avec un motif. Le conflit est alors résolu ici ; la décision part "
                      "vers les autres postes avec le prochain paquet. La query automatique reste pour le "
                      "moniteur.")
        else:
            todo = tr("Someone who enters this form resolves it by entering the right value with a reason; you can "
                      "follow it in the query.",
                      "Une personne qui saisit ce formulaire le résout en saisissant la bonne valeur avec un motif ; "
                      "vous pouvez le suivre dans la query.")
        self.todo = named(QLabel(todo), "conflictTodo")
        self.todo.setWordWrap(True)
        layout.addWidget(self.todo)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.button(QDialogButtonBox.StandardButton.Close).setText(tr("Close", "Fermer"))
        self.enter_button = named(QPushButton(tr("Enter the right value", "Saisir la bonne valeur")), "conflictEnter")
        self.history_button = named(QPushButton(tr("History…", "Historique…")), "conflictHistory")
        self.queries_button = named(QPushButton(tr("Query…", "Query…")), "conflictQuery")
        for button in (self.enter_button, self.history_button, self.queries_button):
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        self.enter_button.setVisible(can_enter)  # after addButton, which shows the button again
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        if can_enter:
            self.enter_button.setDefault(True)
