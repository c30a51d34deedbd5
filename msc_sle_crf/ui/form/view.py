"""Generated data-entry screens: any form is built from its definition (a table from item type to widget).

Each field shows its state as the user types (ok / unusual / impossible / missing) with a message naming the
rule, in the user's language. What is typed is kept in the encrypted typing buffer at every keystroke; a value
is committed (checked again and audited by the service layer) when the user leaves the field or picks a choice.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.clock import parse_iso_utc
from msc_sle_crf.errors import CrfError
from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import CodeList, Item, ItemGroup, ItemType, MissingCode
from msc_sle_crf.formdef.engine import CellKey, FormState, Issue, Severity
from msc_sle_crf.formdef.functions import CALCULATIONS
from msc_sle_crf.i18n import current_lang
from msc_sle_crf.services.entry import (
    FormIncomplete,
    FormRef,
    FormSnapshot,
    SoftCheckNeedsConfirmation,
)
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.status import FormStatus
from msc_sle_crf.ui.common import error_text, tr
from msc_sle_crf.ui.ops import Ops

# ----- look ---------------------------------------------------------------------------------------------------
COLORS = {"ok": "#2e7d32", "soft": "#b26a00", "hard": "#b00020", "missing": "#5f6b76", "none": "#5f6b76",
          "calc": "#5f6b76"}
BADGES = {"ok": "✓", "soft": "!", "hard": "✕", "missing": "•", "none": "", "calc": "="}

FORM_STYLE = """
QLabel#sectionTitle { font-size: 14pt; font-weight: bold; color: #1d2b3a; }
QLabel#fieldLabel { font-size: 12pt; color: #1d2b3a; }
QLabel#help { color: #5f6b76; font-size: 10pt; }
QLabel#formTitle { font-size: 18pt; font-weight: bold; color: #1d2b3a; }
QLabel#badge { font-size: 15pt; font-weight: bold; min-width: 22px; }
QLabel#unit { color: #33414e; min-width: 48px; }
QLabel#status { padding: 4px 12px; border-radius: 11px; font-weight: bold; color: white; }
QLabel#outdated { background: #fff4e0; border: 1px solid #f0a020; padding: 6px; border-radius: 4px; }
QFrame#section { background: white; border: 1px solid #d5dbe1; border-radius: 8px; }
QFrame#rowCard { background: #f7f9fb; border: 1px solid #e1e6eb; border-radius: 6px; }
QLineEdit { min-height: 38px; font-size: 12pt; }
QComboBox { min-height: 38px; font-size: 12pt; }
QRadioButton, QCheckBox { min-height: 34px; font-size: 12pt; spacing: 8px; }
QRadioButton::indicator, QCheckBox::indicator { width: 22px; height: 22px; }
QToolButton { min-width: 38px; min-height: 38px; font-size: 14pt; }
QPushButton#confirm { background: #fff4e0; border: 1px solid #f0a020; color: #6b4000; }
QListWidget#blockers { border: 1px solid #d32f2f; background: #fff5f5; font-size: 11pt; }
QLineEdit[state="ok"], QComboBox[state="ok"] { border: 2px solid #9cc89f; border-radius: 4px; }
QLineEdit[state="soft"], QComboBox[state="soft"] { border: 2px solid #f0a020; border-radius: 4px; }
QLineEdit[state="hard"], QComboBox[state="hard"] { border: 2px solid #d32f2f; border-radius: 4px; }
QLineEdit[state="missing"], QComboBox[state="missing"], QLineEdit[state="none"], QComboBox[state="none"] {
    border: 2px solid #b8c2cc; border-radius: 4px; }
QLineEdit[state="calc"] { border: 2px solid #d5dbe1; border-radius: 4px; background: #f2f4f6; }
QLabel#badge[state="ok"] { color: #2e7d32; }
QLabel#badge[state="soft"], QLabel#message[state="soft"] { color: #b26a00; }
QLabel#badge[state="hard"], QLabel#message[state="hard"] { color: #b00020; }
QLabel#message[state="hard"] { font-weight: bold; }
QLabel#badge[state="missing"], QLabel#badge[state="calc"], QLabel#message[state="missing"],
QLabel#message[state="ok"], QLabel#message[state="none"] { color: #5f6b76; }
"""


def _set_state(widget: QWidget, state: str) -> None:
    """Style by a dynamic property (one style sheet for the whole form, re-polished), not per-widget sheets."""
    if widget.property("state") != state:
        widget.setProperty("state", state)
        if widget.testAttribute(Qt.WidgetAttribute.WA_WState_Polished):  # else polished when first shown
            widget.style().unpolish(widget)
            widget.style().polish(widget)

STATUS_LABELS = {
    "not_started": (("Not started", "Non commencé"), "#7b8794"),
    "draft": (("In progress", "En cours de saisie"), "#1f5fa8"),
    "complete": (("Complete", "Complet"), "#2e7d32"),
    "verified": (("Source-verified", "Vérifié (SDV)"), "#00796b"),
    "signed": (("Signed", "Signé"), "#5e35b1"),
    "locked": (("Locked", "Verrouillé"), "#37474f"),
}


def status_text(status: str) -> str:
    (en, fr), _ = STATUS_LABELS.get(status, ((status, status), "#7b8794"))
    return tr(en, fr)


def _placeholder(item: Item) -> str:
    return {
        ItemType.DATE: V.date_placeholder(),
        ItemType.PARTIAL_DATE: tr("dd/mm/yyyy, UK = unknown", "jj/mm/aaaa, UK = inconnu"),
        ItemType.TIME: "hh:mm",
        ItemType.DATETIME: V.date_placeholder() + " hh:mm",
        ItemType.DECIMAL: tr("e.g. ", "ex. ") + ("37,5" if current_lang().value == "fr" else "37.5"),
    }.get(item.type, "")


# ----- editors: one per item type -----------------------------------------------------------------------------
class Editor(QWidget):
    """Common face of every editor: ``text()`` / ``set_text()``, ``edited`` on every change, ``finished`` when
    the value should be committed (field left, Enter, or a choice picked)."""

    edited = Signal(str)
    finished = Signal()

    def text(self) -> str:
        raise NotImplementedError

    def set_text(self, text: str) -> None:
        raise NotImplementedError

    def focus_widget(self) -> QWidget:
        return self


class LineEditor(QLineEdit):
    """Typed values (numbers, text, dates, times): a line edit that is its own editor (fewer widgets)."""

    edited = Signal(str)
    finished = Signal()

    def __init__(self, item: Item, parent: QWidget | None = None, *, read_only: bool = False) -> None:
        super().__init__(parent)
        self.setPlaceholderText(_placeholder(item))
        self.setReadOnly(read_only)
        if item.type is ItemType.TEXT and item.max_length:
            self.setMaxLength(item.max_length + 50)  # let the check explain; do not silently cut
        width = {ItemType.INTEGER: 120, ItemType.DECIMAL: 120, ItemType.TIME: 100, ItemType.DATE: 160,
                 ItemType.PARTIAL_DATE: 160, ItemType.DATETIME: 210}.get(item.type)
        if width:
            self.setFixedWidth(width)
        self.fixed_width = width is not None
        self.textEdited.connect(self.edited.emit)
        self.editingFinished.connect(self.finished.emit)
        self.returnPressed.connect(self.focusNextChild)

    @property
    def line(self) -> QLineEdit:
        return self

    def set_text(self, text: str) -> None:
        if self.text() != text:
            self.setText(text)

    def focus_widget(self) -> QWidget:
        return self


def _choice_grid(owner: QWidget, codelist: CodeList) -> tuple[QGridLayout, int]:
    """Choices on one line when they are short, else three per line: never wider than the form."""
    layout = QGridLayout(owner)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setHorizontalSpacing(18)
    layout.setVerticalSpacing(2)
    total = sum(len(c.label.get()) for c in codelist.items)
    return layout, (len(codelist.items) if total <= 60 else 3)


class RadioEditor(Editor):
    """A few choices as large radio buttons: one tap, no drop-down to open."""

    def __init__(self, codelist: CodeList, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, per_line = _choice_grid(self, codelist)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QRadioButton] = {}
        for code in codelist.items:
            button = QRadioButton(code.label.get(), self)
            button.setProperty("code", code.code)
            self.group.addButton(button)
            n = len(self.buttons)
            self.buttons[code.code] = button
            layout.addWidget(button, n // per_line, n % per_line)
        self.group.buttonClicked.connect(self._picked)
        self.setFocusProxy(next(iter(self.buttons.values())))

    def _picked(self, button: QRadioButton) -> None:
        self.edited.emit(str(button.property("code")))
        self.finished.emit()

    def text(self) -> str:
        checked = self.group.checkedButton()
        return str(checked.property("code")) if checked else ""

    def set_text(self, text: str) -> None:
        button = self.buttons.get(text)
        if button is not None:
            button.setChecked(True)
        elif self.group.checkedButton() is not None:
            self.group.setExclusive(False)
            self.group.checkedButton().setChecked(False)
            self.group.setExclusive(True)


class ComboEditor(Editor):
    def __init__(self, codelist: CodeList, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox(self)
        self.combo.addItem("—", "")
        for code in codelist.items:
            self.combo.addItem(code.label.get(), code.code)
        self.combo.setMinimumWidth(260)
        layout.addWidget(self.combo)
        self.combo.activated.connect(lambda _i: (self.edited.emit(self.text()), self.finished.emit()))
        self.setFocusProxy(self.combo)

    def text(self) -> str:
        return str(self.combo.currentData() or "")

    def set_text(self, text: str) -> None:
        index = self.combo.findData(text)
        self.combo.setCurrentIndex(max(index, 0))


class ChecksEditor(Editor):
    def __init__(self, codelist: CodeList, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, per_line = _choice_grid(self, codelist)
        self.boxes: dict[str, QCheckBox] = {}
        for code in codelist.items:
            box = QCheckBox(code.label.get(), self)
            box.clicked.connect(lambda _c: (self.edited.emit(self.text()), self.finished.emit()))
            n = len(self.boxes)
            self.boxes[code.code] = box
            layout.addWidget(box, n // per_line, n % per_line)
        self.setFocusProxy(next(iter(self.boxes.values())))

    def text(self) -> str:
        return ";".join(code for code, box in self.boxes.items() if box.isChecked())

    def set_text(self, text: str) -> None:
        chosen = set(text.split(";"))
        for code, box in self.boxes.items():
            box.setChecked(code in chosen)


def _choice_editor(item: Item, codelist: CodeList | None, parent: QWidget) -> Editor | LineEditor:
    assert codelist is not None
    few = len(codelist.items) <= 6 and sum(len(c.label.get()) for c in codelist.items) <= 90
    return RadioEditor(codelist, parent) if few else ComboEditor(codelist, parent)


EDITORS: dict[ItemType, Callable[[Item, CodeList | None, QWidget], Editor | LineEditor]] = {
    ItemType.INTEGER: lambda item, _c, p: LineEditor(item, p),
    ItemType.DECIMAL: lambda item, _c, p: LineEditor(item, p),
    ItemType.TEXT: lambda item, _c, p: LineEditor(item, p),
    ItemType.DATE: lambda item, _c, p: LineEditor(item, p),
    ItemType.PARTIAL_DATE: lambda item, _c, p: LineEditor(item, p),
    ItemType.TIME: lambda item, _c, p: LineEditor(item, p),
    ItemType.DATETIME: lambda item, _c, p: LineEditor(item, p),
    ItemType.CHOICE: _choice_editor,
    ItemType.YESNO: _choice_editor,
    ItemType.MULTICHOICE: lambda item, c, p: ChecksEditor(c, p) if c else LineEditor(item, p),
}


# ----- one field ------------------------------------------------------------------------------------------------
class FieldEditor(QWidget):
    """Editor, unit, state badge, confirm button and the ⋯ menu (not done, history) of one cell."""

    def __init__(self, view: FormView, key: CellKey, item: Item, codelist: CodeList | None,
                 parent: QWidget) -> None:
        super().__init__(parent)  # built in place: re-parenting a finished subtree re-styles all of it
        self.view = view
        self.key = key
        self.item = item
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        if item.calc:
            self.editor: Editor | LineEditor = LineEditor(item, self, read_only=True)
            self.editor.focus_widget().setFocusPolicy(Qt.FocusPolicy.NoFocus)
            fn = CALCULATIONS.get(item.calc.function)
            self.editor.setToolTip(tr("Calculated: ", "Calculé : ") + (fn.description.get() if fn else ""))
        else:
            self.editor = EDITORS[item.type](item, codelist, self)
        self.editor.setObjectName(f"editor_{item.id}")
        if item.lookup == "ctcae_v5" and isinstance(self.editor, LineEditor):
            self._attach_ctcae(self.editor)
        self.grade_help: QLabel | None = None
        compact = getattr(self.editor, "fixed_width", False) or isinstance(self.editor, (RadioEditor, ComboEditor,
                                                                                         ChecksEditor))
        if compact:
            self.editor.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.editor, 0 if compact else 1)
        self.unit_combo: QComboBox | None = None
        if item.alt_units:
            self.unit_combo = QComboBox(self, objectName="unit")
            self.unit_combo.addItem(item.unit or "", None)
            for alt in item.alt_units:
                self.unit_combo.addItem(alt.unit, alt.unit)
            self.unit_combo.setFixedWidth(110)
            layout.addWidget(self.unit_combo)
        elif item.unit:
            layout.addWidget(QLabel(item.unit, self, objectName="unit"))
        self.badge = QLabel(self, objectName="badge")
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.badge)
        self.marks = QLabel(self, objectName="marks")  # open queries, source-data verification
        self.marks.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.marks)
        self._confirm_button: QPushButton | None = None  # made when first needed: most fields never need it
        if compact:
            layout.addStretch(1)
        self.menu_button = QToolButton(self, objectName="more")
        self.menu_button.setText("⋯")
        self.menu_button.setToolTip(tr("Not done, unknown, history…", "Non fait, inconnu, historique…"))
        self.menu_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.menu_button.clicked.connect(self._show_menu)
        layout.addWidget(self.menu_button)
        self._message: QLabel | None = None  # made when there is something to say
        self.place_message: Callable[[QLabel], None] | None = None
        self.place_extra: Callable[[QWidget], None] | None = None
        self.state = "none"
        self.editor.edited.connect(lambda text: view.on_edited(self.key, text))
        self.editor.finished.connect(lambda: view.commit(self.key))
        if self.unit_combo is not None:
            self.unit_combo.activated.connect(lambda _i: (view.on_edited(self.key, self.editor.text()),
                                                          view.commit(self.key)))

    def _attach_ctcae(self, editor: LineEditor) -> None:
        """Search CTCAE v5.0 as the user types (term, organ class, French words); picking a term commits it."""
        from msc_sle_crf.scoring import ctcae

        self.ctcae_model = QStandardItemModel(self)
        completer = QCompleter(self.ctcae_model, self)
        completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        completer.setCompletionRole(Qt.ItemDataRole.UserRole)
        completer.setMaxVisibleItems(12)
        editor.setCompleter(completer)
        editor.setPlaceholderText(tr("Type to search CTCAE v5.0 (fièvre, hypotension…)",
                                     "Taper pour chercher dans CTCAE v5.0 (fièvre, hypotension…)"))

        def update(text: str) -> None:
            self.ctcae_model.clear()
            for term in ctcae.search(text, 25):
                entry = QStandardItem(f"{term.term}   —   {term.soc}")
                entry.setData(term.term, Qt.ItemDataRole.UserRole)
                self.ctcae_model.appendRow(entry)
            completer.complete()

        def picked(text: str) -> None:
            editor.setText(text)
            self.view.on_edited(self.key, text)
            self.view.commit(self.key)

        editor.textEdited.connect(update)
        completer.activated[str].connect(picked)
        self.completer = completer

    def show_grades(self, term: str | None) -> None:
        """Under a CTCAE grade field: that term's own grade definitions; grades the term lacks are disabled."""
        from msc_sle_crf.scoring import ctcae

        found = ctcae.catalogue().get(term or "")
        if self.grade_help is None and self.place_extra is not None:
            self.grade_help = QLabel(self.parentWidget(), objectName="gradeHelp")
            self.grade_help.setWordWrap(True)
            self.grade_help.setTextFormat(Qt.TextFormat.RichText)
            self.grade_help.setStyleSheet("QLabel { background: #f4f7fb; border: 1px solid #d5dbe1; "
                                          "border-radius: 4px; padding: 6px; font-size: 10pt; }")
            self.place_extra(self.grade_help)
        if self.grade_help is not None:
            if found is None:
                self.grade_help.setText(tr("Choose the term first: each term has its own grades.",
                                           "Choisir d'abord le terme : chaque terme a ses propres grades."))
            else:
                lines = "<br>".join(f"<b>{tr('Grade', 'Grade')} {g}</b> : "
                                    f"{html.escape(found.grades[g]) if g in found.grades else '—'}"
                                    for g in range(1, 6))
                self.grade_help.setText(f"<b>{html.escape(found.term)}</b> (CTCAE v5.0)<br>{lines}")
        if isinstance(self.editor, RadioEditor):
            for code, button in self.editor.buttons.items():
                button.setEnabled(found is None or found.allows(int(code)))
        elif isinstance(self.editor, ComboEditor):
            model = self.editor.combo.model()
            for index in range(1, self.editor.combo.count()):
                code = str(self.editor.combo.itemData(index))
                item = model.item(index) if hasattr(model, "item") else None
                if item is not None:
                    item.setEnabled(found is None or found.allows(int(code)))

    def unit(self) -> str | None:
        return self.unit_combo.currentData() if self.unit_combo is not None else None

    def set_unit(self, unit: str | None) -> None:
        if self.unit_combo is not None:
            self.unit_combo.setCurrentIndex(max(self.unit_combo.findData(unit), 0))

    @property
    def message(self) -> QLabel:
        if self._message is None:
            label = QLabel(self.parentWidget(), objectName="message")
            label.setWordWrap(True)
            label.setVisible(False)
            self._message = label
            if self.place_message is not None:
                self.place_message(label)
        return self._message

    @property
    def confirm_button(self) -> QPushButton:
        if self._confirm_button is None:
            button = QPushButton(tr("Confirm value", "Confirmer la valeur"), self, objectName="confirm")
            button.setVisible(False)
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            button.clicked.connect(lambda: self.view.confirm(self.key))
            layout = self.layout()
            assert isinstance(layout, QHBoxLayout)
            layout.insertWidget(layout.indexOf(self.badge) + 1, button)
            self._confirm_button = button
        return self._confirm_button

    def _show_menu(self) -> None:
        self.menu = QMenu(self)
        self._fill_menu()
        self.menu.popup(self.menu_button.mapToGlobal(self.menu_button.rect().bottomLeft()))

    def _fill_menu(self) -> None:
        self.menu.clear()
        cell = self.view.state.cell(self.key)
        for code in self.item.missing:
            action = self.menu.addAction(code.label() + "…")
            action.triggered.connect(lambda _c=False, code=code: self.view.mark_missing(self.key, code))
        if cell.missing is not None:
            self.menu.addAction(tr("Enter a value instead", "Saisir une valeur")).triggered.connect(
                lambda: self.view.clear_missing(self.key))
        if self.item.missing or cell.missing is not None:
            self.menu.addSeparator()
        self.menu.addAction(tr("History of this item…", "Historique de cet élément…") + "\tCtrl+H").triggered.connect(
            lambda: self.view.show_history(self.key))
        from msc_sle_crf.access import Perm

        ws = self.view.ws
        queries = self.view.queries_by_key.get(self.key, [])
        if queries or ws.can(Perm.MANAGE_QUERIES) or ws.can(Perm.VERIFY_SOURCE_DATA):
            self.menu.addSeparator()
        if ws.can(Perm.MANAGE_QUERIES):
            self.menu.addAction(tr("Raise a query…", "Ouvrir une query…")).triggered.connect(
                lambda: self.view.raise_query(self.key))
        if queries:
            self.menu.addAction(tr(f"Queries ({len(queries)})…", f"Queries ({len(queries)})…")).triggered.connect(
                lambda: self.view.show_queries(self.key))
        if ws.can(Perm.VERIFY_SOURCE_DATA):
            self.menu.addAction(tr("Source-verify this item", "Marquer cet élément vérifié (SDV)")).triggered.connect(
                lambda: self.view.verify_item(self.key))

    def show_state(self, state: FormState, *, show_missing: bool = True) -> None:
        cell = state.cell(self.key)
        issues = [i for i in cell.issues if not (i.severity is Severity.SOFT and i.confirmed)]
        confirmed = [i for i in cell.issues if i.severity is Severity.SOFT and i.confirmed]
        hard = [i for i in issues if i.severity is Severity.HARD]
        soft = [i for i in issues if i.severity is Severity.SOFT]
        missing = [i for i in issues if i.severity is Severity.MISSING]
        if self.item.calc:
            kind = "calc"
        elif hard:
            kind = "hard"
        elif soft:
            kind = "soft"
        elif missing:
            kind = "missing"
        elif cell.value is not None or cell.missing is not None:
            kind = "ok"
        else:
            kind = "none"
        self.state = kind
        self.badge.setText(BADGES[kind])
        _set_state(self.badge, kind)
        self.badge.setToolTip({"ok": tr("OK", "Correct"), "soft": tr("Unusual: please confirm", "Inhabituel : à "
                               "confirmer"), "hard": tr("Not possible", "Impossible"),
                               "missing": tr("Required", "Obligatoire")}.get(kind, ""))
        target = self.editor.focus_widget()
        if isinstance(target, (QLineEdit, QComboBox)):
            _set_state(target, kind)
        shown: list[Issue] = hard or soft or (missing if show_missing else [])
        lines = [i.message.get() for i in shown]
        if cell.missing is not None:
            lines.insert(0, f"{cell.missing.label()} — {cell.missing_reason or ''}")
        lines += [tr("Confirmed: ", "Confirmé : ") + i.message.get() for i in confirmed]
        if lines or self._message is not None:
            self.message.setText("\n".join(lines))
            _set_state(self.message, "hard" if hard else "soft" if soft else "missing")
            self.message.setVisible(bool(lines) and self.isEnabled())
        needs_confirmation = bool(soft) and not hard
        if needs_confirmation or self._confirm_button is not None:
            self.confirm_button.setVisible(needs_confirmation)
        self.editor.setEnabled(cell.missing is None)


# ----- dialogs --------------------------------------------------------------------------------------------------
REASONS = [
    ("Transcription error", "Erreur de transcription"),
    ("Data entry error", "Erreur de saisie"),
    ("New information in the source document", "Nouvelle information dans le document source"),
    ("Correction after a query", "Correction suite à une query"),
]


class ReasonDialog(QDialog):
    """Reason for change on a completed form (21 CFR 11.10(e)): picked from a list or typed."""

    def __init__(self, field: str, old: str, new: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Reason for change", "Motif de modification"))
        layout = QVBoxLayout(self)
        intro = QLabel(tr(f"The form is complete. Why is “{field}” changed from “{old or '—'}” to “{new or '—'}”?",
                          f"Le formulaire est complet. Pourquoi « {field} » passe-t-il de « {old or '—'} » à "
                          f"« {new or '—'} » ?"))
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.choice = QComboBox(objectName="reasonChoice")
        self.choice.addItem(tr("Choose a reason…", "Choisir un motif…"), "")
        for en, fr in REASONS:
            self.choice.addItem(tr(en, fr), tr(en, fr))
        self.choice.addItem(tr("Other (write it below)", "Autre (à préciser ci-dessous)"), "other")
        layout.addWidget(self.choice)
        self.detail = QLineEdit(objectName="reasonDetail")
        self.detail.setPlaceholderText(tr("Details (optional unless “Other”)",
                                          "Précisions (obligatoires si « Autre »)"))
        layout.addWidget(self.detail)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.choice.currentIndexChanged.connect(self._update)
        self.detail.textChanged.connect(self._update)
        self._update()

    def reason(self) -> str:
        picked = str(self.choice.currentData() or "")
        detail = self.detail.text().strip()
        if picked == "other":
            return detail
        return f"{picked}: {detail}" if picked and detail else picked

    def _update(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.reason()))


class MissingDialog(QDialog):
    def __init__(self, field: str, code: MissingCode, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{field} — {code.label()}")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(tr(f"Why is “{field}” {code.label().lower()}?",
                                   f"Pourquoi « {field} » : {code.label().lower()} ?")))
        self.reason = QLineEdit(objectName="missingReason")
        layout.addWidget(self.reason)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(False)
        self.reason.textChanged.connect(lambda t: ok.setEnabled(bool(t.strip())))


ACTION_LABELS = {
    "data_entry": ("Entered", "Saisie"), "data_change": ("Changed", "Modification"),
    "row_add": ("Row added", "Ligne ajoutée"), "row_remove": ("Row removed", "Ligne supprimée"),
    "query": ("Query", "Query"), "source_verified": ("Source-verified", "Vérifié (SDV)"),
}


class HistoryDialog(QDialog):
    """Who, when, old value, new value, why: the item's audit trail."""

    def __init__(self, title: str, records: list[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("History — ", "Historique — ") + title)
        self.resize(900, 360)
        layout = QVBoxLayout(self)
        self.table = QTableWidget(len(records), 6, objectName="history")
        self.table.setHorizontalHeaderLabels([tr("When", "Quand"), tr("Who", "Qui"), tr("What", "Quoi"),
                                              tr("Old value", "Ancienne valeur"), tr("New value", "Nouvelle valeur"),
                                              tr("Reason", "Motif")])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for row, r in enumerate(records):
            local = parse_iso_utc(r.ts_utc)
            from datetime import timedelta

            when = (local + timedelta(minutes=r.utc_offset_min)).strftime("%d/%m/%Y %H:%M:%S")
            offset = f"UTC{r.utc_offset_min // 60:+d}" if r.utc_offset_min % 60 == 0 else "UTC"
            what = tr(*ACTION_LABELS.get(r.action, (r.action, r.action)))
            reason = r.reason or (r.detail or "")
            for col, text in enumerate((f"{when} ({offset})", f"{r.username} ({r.role})", what, r.old_value or "—",
                                        r.new_value or "—", reason)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        layout.addWidget(self.table)
        if not records:
            layout.addWidget(QLabel(tr("Nothing recorded yet.", "Rien d'enregistré pour l'instant.")))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class QueryDialog(QDialog):
    """The queries of one item: their messages, and what this user may do (answer, close, re-open)."""

    def __init__(self, view: FormView, key: CellKey) -> None:
        super().__init__(view)
        from msc_sle_crf.access import Perm

        self.view = view
        self.key = key
        self.monitoring = view.ws.monitoring
        self.setWindowTitle(tr("Queries — ", "Queries — ") + view.fields[key].item.label.get())
        self.resize(760, 480)
        layout = QVBoxLayout(self)
        self.text = QTextBrowser(objectName="queryText")
        layout.addWidget(self.text)
        self.reply = QLineEdit(objectName="queryReply")
        self.reply.setPlaceholderText(tr("Your answer or comment", "Votre réponse ou commentaire"))
        layout.addWidget(self.reply)
        self.corrected = QLineEdit(objectName="queryCorrected")
        self.corrected.setPlaceholderText(tr("Corrected value (optional)", "Valeur corrigée (facultatif)"))
        layout.addWidget(self.corrected)
        buttons = QHBoxLayout()
        ws = view.ws
        self.answer_button = QPushButton(tr("Answer", "Répondre"), objectName="answer")
        self.close_button = QPushButton(tr("Close the query", "Clore la query"), objectName="closeQuery")
        self.reopen_button = QPushButton(tr("Re-open", "Rouvrir"), objectName="reopen")
        self.answer_button.setVisible(view.entry.can_edit(view.ref.form))
        self.corrected.setVisible(view.entry.can_edit(view.ref.form))
        for button in (self.close_button, self.reopen_button):
            button.setVisible(ws.can(Perm.MANAGE_QUERIES))
        self.answer_button.clicked.connect(self.answer)
        self.close_button.clicked.connect(lambda: self._step("close"))
        self.reopen_button.clicked.connect(lambda: self._step("reopen"))
        for button in (self.answer_button, self.close_button, self.reopen_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.error = QLabel(objectName="error")
        layout.addWidget(self.error)
        self.render()

    def _current(self) -> Any:
        queries = [q for q in self.monitoring.queries(self.view.ref) if q.key == self.key]
        return queries[-1] if queries else None

    def render(self) -> None:
        parts = []
        offset = dt.timedelta(minutes=self.view.ws.site.clock.local_offset_minutes())
        for q in [q for q in self.monitoring.queries(self.view.ref) if q.key == self.key]:
            auto = tr(" (automatic)", " (automatique)") if q.automatic else ""
            parts.append(f"<h4>#{q.id} — {html.escape(q.status)}{auto}</h4>")
            for m in q.messages:
                parts.append(f"<p><b>{(m.when + offset):%d/%m/%Y %H:%M} {html.escape(m.username)} "
                             f"({html.escape(m.role)}), {html.escape(m.kind)}</b><br>{html.escape(m.text)}</p>")
        self.text.setHtml("".join(parts))

    def answer(self) -> None:
        query = self._current()
        if query is None:
            return
        try:
            corrected = self.corrected.text().strip() or None
            self.monitoring.answer(query.id, self.reply.text(), corrected_value=corrected,
                                   reason=self.reply.text() if corrected else None)
        except CrfError as exc:
            self.error.setText(error_text(exc))
            return
        self.reply.clear()
        self.corrected.clear()
        self.view.reload()
        self.render()

    def _step(self, kind: str) -> None:
        query = self._current()
        if query is None:
            return
        try:
            if kind == "close":
                self.monitoring.close(query.id, self.reply.text())
            else:
                self.monitoring.reopen(query.id, self.reply.text())
        except CrfError as exc:
            self.error.setText(error_text(exc))
            return
        self.reply.clear()
        self.render()


class SignDialog(QDialog):
    """Electronic signature: user name and password again, the meaning, and what the signature certifies."""

    def __init__(self, study: Any, form_label: str, ref: FormRef, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Electronic signature", "Signature électronique"))
        layout = QVBoxLayout(self)
        what = QLabel(tr(f"You are signing “{form_label}” of subject {ref.subject}, visit {ref.event}.",
                         f"Vous signez « {form_label} » du patient {ref.subject}, visite {ref.event}."))
        what.setWordWrap(True)
        layout.addWidget(what)
        self.meaning = QComboBox(objectName="meaning")
        for m in study.meta.signatures.meanings:
            self.meaning.addItem(m.label.get(), m.code)
        layout.addWidget(self.meaning)
        self.username = QLineEdit(objectName="signUser")
        self.username.setPlaceholderText(tr("Your user name", "Votre nom d'utilisateur"))
        self.password = QLineEdit(objectName="signPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(tr("Your password", "Votre mot de passe"))
        layout.addWidget(self.username)
        layout.addWidget(self.password)
        legal = QLabel(tr("This electronic signature is the legally binding equivalent of my handwritten signature.",
                          "Cette signature électronique a la même valeur juridique que ma signature manuscrite."),
                       objectName="help")
        legal.setWordWrap(True)
        layout.addWidget(legal)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(tr("Sign", "Signer"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def values(self) -> tuple[str, str, str]:
        return self.username.text(), self.password.text(), str(self.meaning.currentData())


SCORE_NAMES = {
    "selena_sledai": ("SELENA-SLEDAI total", "Total SELENA-SLEDAI"), "pga": ("PGA", "PGA"),
    "sri4": ("SRI-4 responder (vs inclusion M0)", "Répondeur SRI-4 (vs inclusion M0)"),
    "bilag_total": ("BILAG total", "Total BILAG"), "bilag_count_A": ("Systems at A", "Systèmes en A"),
    "bilag_count_B": ("Systems at B", "Systèmes en B"), "mcr": ("Major clinical response", "Réponse majeure"),
    "pcr": ("Partial clinical response", "Réponse partielle"), "eq5d_lss": ("Level sum", "Somme des niveaux"),
    "eq5d_profile": ("Profile", "Profil"), "eq5d_index_fr": ("French index (information)", "Index français (info)"),
    "prednisone_mean": ("Prednisone eq., mean mg/day", "Équiv. prednisone, moyenne mg/j"),
    "steroid_reduction": ("Reduced >= 25 % from M0", "Réduction >= 25 % depuis M0"),
    "eligibility": ("Eligible", "Éligible"), "not_tolerated_all": ("Not tolerated (all AEs)", "Non tolérée (tous EI)"),
    "not_tolerated_related": ("Not tolerated (related AEs)", "Non tolérée (EI liés)"),
}


def score_results_html(results: list[Any]) -> str:
    """Scores with what they are made of and the rule (and version) used."""
    lang = current_lang()
    parts = [f"<b>{tr('Scores (from the saved values)', 'Scores (valeurs enregistrées)')}</b><table>"]
    for r in results:
        value = html.escape(r.text(lang))
        color = "#1d2b3a" if r.computable else "#8a94a0"
        detail = ""
        points = [p for p in r.breakdown if p.points not in (None, 0)]
        if r.name == "selena_sledai" and r.computable:
            detail = ", ".join(f"{p.label.get()} ({p.points})" for p in points) or tr("no descriptor", "aucun")
        elif r.name.startswith("bilag_total"):
            detail = ", ".join(f"{p.label.get()} {p.value}" for p in r.breakdown if p.value not in (None, "E"))
        elif r.name in ("sri4", "eligibility") or r.name.startswith("not_tolerated"):
            detail = "; ".join(p.label.get() + (f": {p.value}" if r.name == "eligibility" else "")
                               for p in r.breakdown if r.name != "eligibility" or p.value != "met")
        elif r.name.startswith("sf36_"):
            answered = sum(1 for p in r.breakdown if p.points is not None)
            detail = tr(f"{answered}/{len(r.breakdown)} items", f"{answered}/{len(r.breakdown)} items")
        if r.name.startswith("sf36_"):
            from msc_sle_crf.scoring.sf36 import SCALES

            label = SCALES[r.name[5:]][0].get()
        else:
            label = tr(*SCORE_NAMES.get(r.name, (r.name.replace("_", " "), r.name.replace("_", " "))))
        parts.append(f'<tr><td style="padding-right:12px">{html.escape(label)}</td>'
                     f'<td style="color:{color}; padding-right:12px"><b>{value}</b></td>'
                     f'<td style="color:#33414e">{html.escape(detail)}</td></tr>'
                     '<tr><td></td><td colspan="2" style="color:#5f6b76; font-size:9pt">'
                     f'{html.escape(r.rule)}</td></tr>')
    parts.append("</table>")
    return "".join(parts)


# ----- the form ---------------------------------------------------------------------------------------------------
class FormView(QWidget):
    """A whole form instance, generated from its definition."""

    status_changed = Signal(str)

    def __init__(self, ws: Workspace, ref: FormRef, *, ask_reason: Callable[[str, str, str], str | None] | None
                 = None, ask_missing: Callable[[str, MissingCode], str | None] | None = None,
                 parent: QWidget | None = None, ops: Ops | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("formView")
        self.setStyleSheet(FORM_STYLE)
        self.ws = ws
        self.ops = ops if ops is not None else Ops(self)
        self.entry = ws.entry
        self.ref = ref
        self.ask_reason = ask_reason or self._ask_reason
        self.ask_missing = ask_missing or self._ask_missing
        self.fields: dict[CellKey, FieldEditor] = {}
        self.show_missing = False  # "required" messages appear after a first "Mark complete"
        self.sign_with: tuple[str, str, str] | None = None  # tests: credentials instead of the dialog
        self.last_error = ""
        self.committed: dict[CellKey, tuple[str, str | None]] = {}
        self.outer = QVBoxLayout(self)
        self.outer.setContentsMargins(0, 0, 0, 0)
        self.content: QWidget | None = None
        self.reload()
        QShortcut(QKeySequence("Ctrl+Return"), self, self.mark_complete)
        QShortcut(QKeySequence("Ctrl+H"), self, lambda: self._on_focused(self.show_history))
        QShortcut(QKeySequence("Ctrl+K"), self, lambda: self._on_focused(self.confirm))

    # ----- building -------------------------------------------------------------------------------------------
    def reload(self) -> None:
        """(Re)build the screen from the service: the stored values and this user's typing buffer."""
        self.snapshot: FormSnapshot = self.entry.open_form(self.ref)
        self.state: FormState = self.snapshot.state
        self.status = self.snapshot.status
        self._load_monitoring()
        self._build()

    def _load_monitoring(self) -> None:

        monitoring = self.ws.monitoring
        self.queries_by_key: dict[CellKey, list[Any]] = {}
        try:
            for query in monitoring.queries(self.ref):
                self.queries_by_key.setdefault(query.key, []).append(query)
            self.verified = monitoring.verified_items(self.ref)
        except CrfError:
            self.verified = {}

    def raise_query(self, key: CellKey) -> None:

        text, ok = QInputDialog.getText(self, tr("Raise a query", "Ouvrir une query"),
                                        self.fields[key].item.label.get())
        if not ok or not text.strip():
            return
        try:
            self.ws.monitoring.open_query(self.ref, key, text)
        except CrfError as exc:
            QMessageBox.warning(self, tr("Query", "Query"), error_text(exc))
            return
        self._load_monitoring()
        self.refresh({key})

    def verify_item(self, key: CellKey) -> None:

        try:
            self.ws.monitoring.verify_item(self.ref, key)
        except CrfError as exc:
            QMessageBox.warning(self, tr("Source-data verification", "Vérification des données source"),
                                error_text(exc))
            return
        self._load_monitoring()
        self.refresh({key})

    def show_queries(self, key: CellKey) -> None:
        self.query_dialog = QueryDialog(self, key)
        self.query_dialog.finished.connect(lambda _r: (self._load_monitoring(), self.refresh({key})))
        self.query_dialog.open()

    def retranslate(self) -> None:
        self._build()

    def _build(self) -> None:
        if self.content is not None:
            self.content.deleteLater()
        self.fields.clear()
        self.content = QWidget(self)
        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(12)
        form = self.snapshot.form
        header = QHBoxLayout()
        title = QLabel(form.label.get(), objectName="formTitle")
        header.addWidget(title)
        header.addStretch(1)
        self.print_button = QPushButton(tr("Print PDF…", "Imprimer (PDF)…"), objectName="printForm")
        self.print_button.clicked.connect(lambda _checked=False: self.print_pdf())
        from msc_sle_crf.access import Perm

        self.print_button.setVisible(self.ws.can(Perm.PRINT) and self.status != "not_started")
        header.addWidget(self.print_button)
        self.lifecycle_buttons: dict[str, QPushButton] = {}
        for key, (en, fr) in (("verify", ("Source verified", "Données source vérifiées")),
                              ("sign", ("Sign…", "Signer…")), ("lock", ("Lock", "Verrouiller")),
                              ("unlock", ("Unlock…", "Déverrouiller…"))):
            button = QPushButton(tr(en, fr), objectName=f"lifecycle_{key}")
            button.clicked.connect(lambda _c=False, k=key: self.lifecycle_action(k))
            self.lifecycle_buttons[key] = button
            header.addWidget(button)
        self.status_label = QLabel(objectName="status")
        header.addWidget(self.status_label)
        layout.addLayout(header)
        self.lifecycle_error = QLabel(objectName="error")
        self.lifecycle_error.setWordWrap(True)
        self.lifecycle_error.setStyleSheet("color: #b00020; font-weight: bold;")
        self.lifecycle_error.setVisible(False)
        layout.addWidget(self.lifecycle_error)
        self.signature_lines = QLabel(objectName="signatures")
        self.signature_lines.setWordWrap(True)
        self.signature_lines.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.signature_lines)
        event = self.snapshot.event
        sub = QLabel(tr(f"Subject {self.ref.subject} · {event.label.en} · form {form.id} version {form.version}",
                        f"Patient {self.ref.subject} · {event.label.fr} · formulaire {form.id} version {form.version}"),
                     objectName="subtitle")
        layout.addWidget(sub)
        self.read_only = not self.entry.can_edit(form.id) or self.status == "locked"
        if self.status == "locked":
            note = QLabel(tr("Locked: unlock it (with a reason) to change it.",
                             "Verrouillé : le déverrouiller (avec un motif) pour le modifier."), objectName="outdated")
            layout.addWidget(note)
        elif self.read_only:
            note = QLabel(tr("Read only: your role cannot change this form.",
                             "Lecture seule : votre rôle ne permet pas de modifier ce formulaire."),
                          objectName="outdated")
            layout.addWidget(note)
        if self.snapshot.outdated:
            note = QLabel(tr(f"Entered under version {form.version} of this form (current version "
                             f"{self.snapshot.current_version}); shown and checked as entered.",
                             f"Saisi avec la version {form.version} de ce formulaire (version actuelle "
                             f"{self.snapshot.current_version}) ; affiché et contrôlé tel que saisi."),
                          objectName="outdated")
            note.setWordWrap(True)
            layout.addWidget(note)
        if form.help:
            help_label = QLabel(form.help.get(), objectName="help")
            help_label.setWordWrap(True)
            layout.addWidget(help_label)
        for group in form.groups:
            layout.addWidget(self._section(group))
        self.score_panel = QTextBrowser(objectName="scorePanel")
        self.score_panel.setStyleSheet("QTextBrowser { background: #f7faf7; border: 1px solid #cfe3cf; "
                                       "border-radius: 6px; font-size: 11pt; }")
        self.score_panel.setVisible(False)
        layout.addWidget(self.score_panel)
        self.blockers = QListWidget(objectName="blockers")
        self.blockers.setVisible(False)
        self.blockers.itemActivated.connect(self._go_to_blocker)
        self.blockers.itemClicked.connect(self._go_to_blocker)
        layout.addWidget(self.blockers)
        footer = QHBoxLayout()
        self.summary = QLabel(objectName="summary")
        footer.addWidget(self.summary, 1)
        hint = QLabel(tr("Tab/Enter: next field · Ctrl+K: confirm · Ctrl+H: history · Ctrl+Enter: complete",
                         "Tab/Entrée : champ suivant · Ctrl+K : confirmer · Ctrl+H : historique · "
                         "Ctrl+Entrée : terminer"), objectName="help")
        footer.addWidget(hint)
        self.complete_button = QPushButton(tr("Mark complete", "Marquer complet"), objectName="primary")
        self.complete_button.clicked.connect(self.mark_complete)
        self.complete_button.setVisible(not self.read_only and self.status in ("not_started", "draft"))
        footer.addWidget(self.complete_button)
        layout.addLayout(footer)
        layout.addStretch(1)
        self.outer.addWidget(self.content)
        self._render_lifecycle()
        self.content.show()
        self._load_values()
        self.refresh_all()
        self.refresh_scores()

    def _section(self, group: ItemGroup) -> QFrame:
        frame = QFrame(self.content, objectName="section")
        frame.setProperty("group", group.id)
        layout = QVBoxLayout(frame)
        layout.setContentsMargins(16, 12, 16, 12)
        head = QHBoxLayout()
        head.addWidget(QLabel(group.label.get(), frame, objectName="sectionTitle"))
        head.addStretch(1)
        layout.addLayout(head)
        if group.help:
            h = QLabel(group.help.get(), objectName="help")
            h.setWordWrap(True)
            layout.addWidget(h)
        if not group.repeating:
            layout.addLayout(self._grid(group, 0, frame))
            return frame
        rows = self.state.rows[group.id]
        if not rows:
            empty = QLabel(tr("No rows yet.", "Aucune ligne pour l'instant."), objectName="help")
            layout.addWidget(empty)
        for number, row in enumerate(rows, start=1):
            card = QFrame(frame, objectName="rowCard")
            card_layout = QVBoxLayout(card)
            top = QHBoxLayout()
            top.addWidget(QLabel(f"<b>#{number}</b>", card))
            top.addStretch(1)
            remove = QPushButton(tr("Remove row…", "Supprimer la ligne…"), card, objectName="removeRow")
            remove.setVisible(not self.read_only)
            remove.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            remove.clicked.connect(lambda _c=False, g=group.id, r=row: self.remove_row(g, r))
            top.addWidget(remove)
            card_layout.addLayout(top)
            card_layout.addLayout(self._grid(group, row, card))
            layout.addWidget(card)
        add = QPushButton(tr("+ Add a row", "+ Ajouter une ligne"), frame, objectName="addRow")
        add.setVisible(not self.read_only)
        add.setShortcut(QKeySequence("Alt+A"))
        add.clicked.connect(lambda: self.add_row(group.id))
        if group.max_rows is not None and len(rows) >= group.max_rows:
            add.setEnabled(False)
        layout.addWidget(add, 0, Qt.AlignmentFlag.AlignLeft)
        return frame

    def _grid(self, group: ItemGroup, row: int, owner: QWidget) -> QGridLayout:
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(2)
        grid.setColumnStretch(1, 1)
        grid.setColumnMinimumWidth(0, 300)
        line = 0
        for item in group.items:
            key = (group.id, row, item.id)
            text = html.escape(item.label.get()) + (" *" if item.required else "")
            if item.help:  # one label for the name and its help: half the widgets on a long form
                text += f'<br><span style="color:#5f6b76; font-size:10pt">{html.escape(item.help.get())}</span>'
            label = QLabel(text, owner, objectName="fieldLabel")
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setWordWrap(True)
            label.setToolTip(item.id)
            field = FieldEditor(self, key, item, self.state.codelist(item.id), owner)
            label.setBuddy(field.editor.focus_widget())
            self.fields[key] = field
            grid.addWidget(label, line, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(field, line, 1)
            field.place_message = lambda label, g=grid, n=line + 1: g.addWidget(label, n, 1)
            if item.grades_of:
                field.place_extra = lambda widget, g=grid, n=line + 2: g.addWidget(widget, n, 1)
                line += 1
            field.label = label  # type: ignore[attr-defined]
            line += 2
        return grid

    def _load_values(self) -> None:
        for key, field in self.fields.items():
            cell = self.state.cell(key)
            text = cell.text if cell.text is not None else V.edit_text(field.item, cell.value)
            field.editor.set_text(text)
            field.set_unit(cell.unit)
            if key not in self.snapshot.typed:
                self.committed[key] = (V.edit_text(field.item, cell.value), cell.unit)
            elif key not in self.committed:
                self.committed[key] = ("\0", None)  # typed but not accepted: differs from anything typed

    # ----- lifecycle and signatures -----------------------------------------------------------------------------
    def _lifecycle(self) -> Any:

        return self.ws.lifecycle

    def _render_lifecycle(self) -> None:
        from msc_sle_crf.access import Perm

        ws = self.ws
        status = self.status
        visible = {
            "verify": status == "complete" and ws.can(Perm.VERIFY_SOURCE_DATA),
            "sign": status in ("complete", "verified") and ws.can(Perm.SIGN_INVESTIGATOR_FORMS),
            "lock": status == "signed" and ws.can(Perm.LOCK_FORMS),
            "unlock": status == "locked" and ws.can(Perm.LOCK_FORMS),
        }
        for key, button in self.lifecycle_buttons.items():
            button.setVisible(visible[key])
        try:
            signatures = self._lifecycle().signatures(self.ref)
        except CrfError:
            signatures = []
        lines = []
        for sig in signatures:
            color = "#2e7d32" if sig.valid else "#b00020"
            mark = "✓" if sig.valid else "✕"
            lines.append(f'<span style="color:{color}"><b>{mark} {tr("Signed", "Signé")}:</b> '
                         f"{html.escape(sig.manifestation(current_lang()))}</span>")
        self.signature_lines.setText("<br>".join(lines))
        self.signature_lines.setVisible(bool(lines))

    def print_pdf(self, target: Any = None) -> Any:
        """This form as a signed PDF with its audit trail, made in the background, saved where the user chose."""
        from msc_sle_crf.ui.printing import ask_path, print_form

        path = target or ask_path(self, f"{self.ref.subject}-{self.ref.event}-{self.ref.form}.pdf")
        if path is None:
            return None
        self.print_job = print_form(self, self.ws, self.ref, path)
        return self.print_job

    def lifecycle_action(self, key: str) -> None:
        lifecycle = self._lifecycle()
        try:
            if key == "verify":
                lifecycle.source_verify(self.ref)
            elif key == "sign":
                dialog = SignDialog(self.ws.study, self.snapshot.form.label.get(), self.ref, self)
                if self.sign_with is not None:
                    username, password, meaning = self.sign_with
                elif dialog.exec() == QDialog.DialogCode.Accepted:
                    username, password, meaning = dialog.values()
                else:
                    return
                lifecycle.sign(self.ref, username, password, meaning)
            elif key == "lock":
                lifecycle.lock(self.ref)
            elif key == "unlock":
                reason = self.ask_reason(self.snapshot.form.label.get(), tr("locked", "verrouillé"),
                                         tr("unlocked", "déverrouillé"))
                if not reason:
                    return
                lifecycle.unlock(self.ref, reason)
        except CrfError as exc:  # shown under the header, not in a window to dismiss
            self.last_error = error_text(exc)
            self.lifecycle_error.setText(self.last_error)
            self.lifecycle_error.setVisible(True)
            return
        self.last_error = ""
        self.reload()
        self.status_changed.emit(self.status)

    # ----- scores ---------------------------------------------------------------------------------------------
    def refresh_scores(self) -> None:
        """The scores this form feeds, from the saved data of the whole subject (so SRI-4 compares with M0)."""
        from msc_sle_crf.scoring.subject import form_scores, scores_for_form

        bindings = self.ws.study.meta.bindings  # a form set without bindings has no scores to show
        if bindings is None or self.snapshot.form.id not in form_scores(bindings):
            return
        try:
            overview = self.ws.overview.subject(self.ref.subject)
        except CrfError:
            return
        results = scores_for_form(overview.scores, bindings, self.ref.event, self.snapshot.form.id)
        if not results:
            return
        self.score_panel.setHtml(score_results_html(results))
        self.score_panel.setVisible(True)
        doc_height = int(self.score_panel.document().size().height()) + 16
        self.score_panel.setFixedHeight(min(max(doc_height, 80), 420))

    # ----- state display --------------------------------------------------------------------------------------
    def refresh_all(self) -> None:
        self.refresh(set(self.fields))

    def refresh(self, keys: set[CellKey]) -> None:
        for key in keys:
            field = self.fields.get(key)
            if field is None:
                continue
            visible = self.state.visible(key)
            field.setVisible(visible)
            field.label.setVisible(visible)  # type: ignore[attr-defined]
            field.setEnabled(visible)
            if field.item.calc:
                field.editor.set_text(V.display(field.item, self.state.value(key)))
            if field.item.grades_of:
                term = self.state.cell((key[0], key[1], field.item.grades_of))
                field.show_grades(term.value if term.text is None else None)
            field.show_state(self.state, show_missing=self.show_missing)
            open_queries = [q for q in self.queries_by_key.get(key, []) if q.status != "closed"]
            marks = []
            if open_queries:
                marks.append(f'<span style="color:#b26a00"><b>{tr("Query", "Query")} ({len(open_queries)})</b></span>')
            if key in self.verified:
                marks.append('<span style="color:#00796b">SDV</span>' if self.verified[key] else
                             '<span style="color:#b00020" title="changed after verification">SDV ✕</span>')
            field.marks.setText(" ".join(marks))
            if self.read_only:
                field.editor.setEnabled(False)
                if field._confirm_button is not None:
                    field._confirm_button.setVisible(False)
            if field._message is not None:
                field._message.setVisible(visible and bool(field._message.text()))
        self._update_summary()

    def _update_summary(self) -> None:
        (en, fr), color = STATUS_LABELS.get(self.status, ((self.status, self.status), "#7b8794"))
        self.status_label.setText(tr(en, fr))
        self.status_label.setStyleSheet(f"background: {color};")
        blockers = self.state.blockers()
        hard = sum(1 for b in blockers if b.severity is Severity.HARD)
        soft = sum(1 for b in blockers if b.severity is Severity.SOFT)
        missing = sum(1 for b in blockers if b.severity is Severity.MISSING)
        if not blockers:
            self.summary.setText(tr("✓ Every check passes.", "✓ Tous les contrôles sont satisfaits."))
        else:
            self.summary.setText(tr(f"{hard} to correct · {soft} to confirm · {missing} to fill in",
                                    f"{hard} à corriger · {soft} à confirmer · {missing} à renseigner"))

    # ----- typing and committing --------------------------------------------------------------------------------
    def on_edited(self, key: CellKey, text: str) -> None:
        field = self.fields[key]
        changed = self.state.set_text(key, text, field.unit())
        changed |= {k for k, f in self.fields.items() if f.item.grades_of == key[2] and k[:2] == key[:2]}
        self.refresh(changed)
        try:
            self.entry.save_typing(self.ref, key, text, field.unit())
        except CrfError as exc:
            field.message.setText(error_text(exc))
            field.message.setVisible(True)

    def commit(self, key: CellKey, *, confirm: bool = False) -> bool:  # noqa: PLR0911 - one exit per reason
        field = self.fields.get(key)
        if field is None or field.item.calc or not field.isEnabled():
            return False
        text, unit = field.editor.text(), field.unit()
        if (text, unit) == self.committed.get(key) and not confirm:
            return False
        cell = self.state.cell(key)
        if any(i.severity is Severity.HARD and not i.rule.startswith("check:") for i in cell.issues):
            return False  # shown on the field; the text stays in the typing buffer
        if any(i.severity is Severity.SOFT and not i.confirmed for i in cell.issues) and not confirm:
            return False  # waits for "Confirm value"
        reason = None
        if FormStatus(self.status).completed:
            old = self.committed.get(key, ("", None))[0]
            reason = self.ask_reason(field.item.label.get(), old, text)
            if not reason:
                self._revert(key)
                return False
        try:
            result = self.entry.save_item(self.ref, key, text, unit, confirm=confirm, reason=reason)
        except SoftCheckNeedsConfirmation:
            self.refresh({key})
            return False
        except CrfError as exc:
            field.message.setText(error_text(exc))
            _set_state(field.message, "hard")
            field.message.setVisible(True)
            return False
        self.committed[key] = (text, unit)
        if confirm:  # a confirmed warning opened an automatic query for the monitor: show its marker
            self._load_monitoring()
            self.refresh({key})
        self.refresh_scores()
        self._render_lifecycle()  # a change of signed data shows the signature invalid at once
        if result.status != self.status:
            self.status = result.status
            self._render_lifecycle()
            self.status_changed.emit(self.status)
        self._update_summary()
        return True

    def confirm(self, key: CellKey) -> None:
        changed = self.state.confirm(key)
        self.commit(key, confirm=True)
        self.refresh(changed)

    def _revert(self, key: CellKey) -> None:
        field = self.fields[key]
        text, unit = self.committed.get(key, ("", None))
        field.editor.set_text(text)
        field.set_unit(unit)
        self.refresh(self.state.set_text(key, text, unit))
        self.entry.save_typing(self.ref, key, None)

    def mark_missing(self, key: CellKey, code: MissingCode) -> None:
        field = self.fields[key]
        why = self.ask_missing(field.item.label.get(), code)
        if not why:
            return
        reason = None
        if FormStatus(self.status).completed:
            reason = self.ask_reason(field.item.label.get(), self.committed.get(key, ("", None))[0], code.label())
            if not reason:
                return
        try:
            result = self.entry.set_missing(self.ref, key, code, why, reason=reason)
        except CrfError as exc:
            QMessageBox.warning(self, code.label(), error_text(exc))
            return
        field.editor.set_text("")
        self.committed[key] = ("", None)
        self.refresh(self.state.set_missing(key, code, why))
        self.status = result.status
        self._update_summary()

    def clear_missing(self, key: CellKey) -> None:
        self.state.set_missing(key, None, None)
        self.refresh({key})
        self.fields[key].editor.focus_widget().setFocus()

    def add_row(self, group_id: str) -> None:
        reason = None
        if FormStatus(self.status).completed:
            reason = self.ask_reason(self.state.group(group_id).label.get(), "", tr("new row", "nouvelle ligne"))
            if not reason:
                return
        try:
            self.entry.add_row(self.ref, group_id, reason=reason)
        except CrfError as exc:
            QMessageBox.warning(self, tr("Add a row", "Ajouter une ligne"), error_text(exc))
            return
        self.reload()
        rows = self.state.rows[group_id]
        if rows:
            first = self.fields.get((group_id, rows[-1], self.state.group(group_id).items[0].id))
            if first is not None:
                first.editor.focus_widget().setFocus()

    def remove_row(self, group_id: str, row: int) -> None:
        reason = self.ask_reason(self.state.group(group_id).label.get(), f"#{row}", tr("(removed)", "(supprimée)"))
        if not reason:
            return
        try:
            self.entry.remove_row(self.ref, group_id, row, reason)
        except CrfError as exc:
            QMessageBox.warning(self, tr("Remove a row", "Supprimer une ligne"), error_text(exc))
            return
        self.reload()

    def mark_complete(self) -> bool:
        focused = QApplication.focusWidget()
        if focused is not None:  # commit what is being typed first
            for key, field in self.fields.items():
                if field.isAncestorOf(focused):
                    self.commit(key)
        self.show_missing = True
        self.refresh_all()
        try:
            self.entry.mark_complete(self.ref)
        except FormIncomplete as exc:
            self.blockers.clear()
            for b in exc.blockers:
                item = QListWidgetItem(("✕ " if b.severity is Severity.HARD else "! " if b.severity is Severity.SOFT
                                        else "• ") + b.message.get())
                item.setData(Qt.ItemDataRole.UserRole, b.key)
                self.blockers.addItem(item)
            self.blockers.setFixedHeight(min(12 + self.blockers.sizeHintForRow(0) * len(exc.blockers), 260))
            self.blockers.setVisible(True)
            self.summary.setText(tr(f"Cannot mark complete: {len(exc.blockers)} problem(s), listed above.",
                                    f"Impossible de terminer : {len(exc.blockers)} problème(s), listés ci-dessus."))
            return False
        except CrfError as exc:
            QMessageBox.warning(self, tr("Mark complete", "Marquer complet"), error_text(exc))
            return False
        self.blockers.setVisible(False)
        self.reload()
        self.status_changed.emit(self.status)
        return True

    def _go_to_blocker(self, item: QListWidgetItem) -> None:
        key = item.data(Qt.ItemDataRole.UserRole)
        field = self.fields.get(tuple(key)) if key else None
        if field is not None:
            field.editor.focus_widget().setFocus()
            scroll = self.parent()
            while scroll is not None and not isinstance(scroll, QScrollArea):
                scroll = scroll.parent()
            if isinstance(scroll, QScrollArea):
                scroll.ensureWidgetVisible(field)

    def show_history(self, key: CellKey) -> None:
        field = self.fields[key]
        try:
            records = self.entry.item_history(self.ref, key)
        except CrfError as exc:
            QMessageBox.warning(self, tr("History", "Historique"), error_text(exc))
            return
        self.history_dialog = HistoryDialog(field.item.label.get(), records, self)
        self.history_dialog.open()

    def _on_focused(self, action: Callable[[CellKey], None]) -> None:
        focused = QApplication.focusWidget()
        for key, field in self.fields.items():
            if focused is not None and field.isAncestorOf(focused):
                action(key)
                return

    def _ask_reason(self, field: str, old: str, new: str) -> str | None:
        dialog = ReasonDialog(field, old, new, self)
        return dialog.reason() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def _ask_missing(self, field: str, code: MissingCode) -> str | None:
        dialog = MissingDialog(field, code, self)
        return dialog.reason.text().strip() if dialog.exec() == QDialog.DialogCode.Accepted else None


class FormWindow(QDialog):
    """A form in its own window (non-modal), scrollable, with the form view inside."""

    def __init__(self, ws: Workspace, ref: FormRef, parent: QWidget | None = None, *, ops: Ops | None = None) -> None:
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.resize(1100, 820)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        layout.addWidget(self.scroll)
        # Built inside its final parent: moving a finished form into a window would style every widget twice.
        self.view = FormView(ws, ref, parent=self.scroll.viewport(), ops=ops)
        self.scroll.setWidget(self.view)
        self.setWindowTitle(f"{ref.subject} · {ref.event} · {self.view.snapshot.form.label.get()}")

    def retranslate(self) -> None:
        self.view.retranslate()
        self.setWindowTitle(f"{self.view.ref.subject} · {self.view.ref.event} · "
                            f"{self.view.snapshot.form.label.get()}")

    def focus_cell(self, key: CellKey) -> bool:
        """Scroll to a field and put the cursor in it (the bedside opens an adverse event at its grade)."""
        field = self.view.fields.get(key)
        if field is None:
            return False
        self.scroll.ensureWidgetVisible(field)
        field.editor.focus_widget().setFocus()
        return True

    def save_draft(self) -> None:
        """Called before another user takes over: what is typed is already in the typing buffer."""
        focused = QApplication.focusWidget()
        for key, field in self.view.fields.items():
            if focused is not None and field.isAncestorOf(focused) and not field.item.calc:
                self.view.entry.save_typing(self.view.ref, key, field.editor.text(), field.unit())
