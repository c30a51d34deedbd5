"""One editor widget per item type, and the CTCAE term picker.

Every editor has the same face: ``text()`` / ``set_text()``, ``edited(text)`` on every change, ``finished()`` when
the value should be committed (field left, Enter, or a choice picked), ``focus_widget()``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QEvent, QObject, Qt, Signal, SignalInstance
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QPalette,
    QPixmap,
    QRegion,
    QResizeEvent,
    QShowEvent,
    QStandardItem,
    QStandardItemModel,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QCompleter,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QWidget,
)

from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import CodeList, Item, ItemType
from msc_sle_crf.ui.common import tr
from msc_sle_crf.ui.form.style import BORDER_COLOURS, PLAIN_BORDER, border_pixmap


class EditorFace(Protocol):
    """What a field row needs of its editor (a QWidget with these)."""

    edited: SignalInstance
    finished: SignalInstance

    def text(self) -> str: ...

    def set_text(self, text: str) -> None: ...

    def focus_widget(self) -> QWidget: ...


ROW_BUTTONS = ("removeRow", "addRow")  # object names of a repeating section's buttons (ui/form/sections.py)


def placeholder(item: Item) -> str:
    return {
        ItemType.DATE: V.date_placeholder(),
        ItemType.PARTIAL_DATE: tr("dd/mm/yyyy, UK = unknown", "jj/mm/aaaa, UK = inconnu"),
        ItemType.TIME: "hh:mm",
        ItemType.DATETIME: V.date_placeholder() + " hh:mm",
        ItemType.DECIMAL: tr("e.g. ", "ex. ") + V.display(item, V.decimal_example(item)),
    }.get(item.type, "")


class Editor(QWidget):
    """Base of the choice editors (a line edit is its own editor: fewer widgets)."""

    edited = Signal(str)
    finished = Signal()

    def text(self) -> str:
        raise NotImplementedError

    def set_text(self, text: str) -> None:
        raise NotImplementedError

    def focus_widget(self) -> QWidget:
        return self


def on_to_next_field(widget: QWidget) -> None:
    """Enter: on to the next field, past a row's "Remove row…" and "+ Add a row" (Tab still reaches them). A
    nurse typing readings with Enter landed on the next reading's "Remove row…": what she typed then went
    nowhere, and her next Enter asked why the reading was removed."""
    widget.focusNextChild()
    for _ in range(4):  # a row's buttons, then the next row's: never more than a few in a row
        landed = QApplication.focusWidget()
        if landed is None or landed.objectName() not in ROW_BUTTONS:
            return
        QApplication.sendEvent(landed, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Tab,
                                                 Qt.KeyboardModifier.NoModifier))


class LineEditor(QLineEdit):
    """Typed values (numbers, text, dates, times)."""

    edited = Signal(str)
    finished = Signal()

    def __init__(self, item: Item, parent: QWidget | None = None, *, read_only: bool = False) -> None:
        super().__init__(parent)
        self.setPlaceholderText(placeholder(item))
        self.setReadOnly(read_only)
        if item.type is ItemType.TEXT and item.max_length:
            self.setMaxLength(item.max_length + 50)  # let the check explain; do not silently cut
        width = {ItemType.INTEGER: 120, ItemType.DECIMAL: 120, ItemType.TIME: 100, ItemType.DATE: 160,
                 ItemType.PARTIAL_DATE: 160, ItemType.DATETIME: 210}.get(item.type)
        if width:
            self.setFixedWidth(width)
        self.fixed_width = width is not None
        self._state = "calc" if read_only else "none"
        self._surface: QColor | None = None  # what lies beneath (see ``set_surface``)
        self._overlay: QLabel | None = None  # the border in the state's colour once shown (see ``set_state``)
        self._overlay_shown = False
        self._polished = False
        if read_only:
            self.setProperty("state", "calc")  # set before the first polish: a calculated field's look never changes
        self._sheet_state: str | None = "calc" if read_only else None  # the ``state`` property (known here)
        self._borders: dict[str, QPixmap] = {}  # the border overlay's pixmap per state, at this size
        self.textEdited.connect(self.edited)  # signal to signal: no Python call per key
        self.editingFinished.connect(self.finished)
        self.returnPressed.connect(self._enter)

    def set_text(self, text: str) -> None:
        if self.text() != text:
            self.setText(text)

    def focus_widget(self) -> QWidget:
        return self

    def _enter(self) -> None:
        on_to_next_field(self)

    def set_state(self, state: str) -> None:
        """The field's state as the colour of its border. Before the line edit is first shown (a form opening):
        a ``state`` property its style sheet reads (``style.FORM_STYLE``), at no cost. Once shown: a transparent
        label over the line edit showing the border in the new state's colour (a pixmap drawn once per state and
        size, ``border_pixmap``), hidden when the state is again the one the style sheet draws. Nothing runs in
        Python when the line edit repaints (a Python ``paintEvent`` drawing the border cost ~0.15 ms at every
        keystroke), and no style sheet is applied again (a re-polish of a line edit in the form: ~0.25 ms)."""
        if state == self._state:
            return
        self._state = state
        if not self._polished and not self.testAttribute(Qt.WidgetAttribute.WA_WState_Polished):
            self.setProperty("state", state)  # drawn by the style sheet from the first polish
            self._sheet_state = state
            return
        self._polished = True  # once polished, for good (known here: no call into Qt at each state change)
        self._show_border()

    def _show_border(self) -> None:
        sheet = self._sheet_state
        if self._state == sheet or (self._state not in BORDER_COLOURS and sheet not in BORDER_COLOURS):
            if self._overlay is not None and self._overlay_shown:
                self._overlay_shown = False
                self._overlay.hide()  # the style sheet's border shows (hidden, not emptied: not painted at each key)
            return
        overlay = self._overlay
        if overlay is None:
            overlay = self._overlay = QLabel(self)
            overlay.setObjectName("stateBorder")
            overlay.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            overlay.setFixedSize(self.size())  # its pixmap changes ask no layout of anything
            _ring(overlay)
        pixmap = self._borders.get(self._state)
        if pixmap is None:
            pixmap = self._borders[self._state] = border_pixmap(BORDER_COLOURS.get(self._state, PLAIN_BORDER),
                                                                self.size(), self.devicePixelRatioF())
        overlay.setPixmap(pixmap)
        if not self._overlay_shown:
            self._overlay_shown = True
            overlay.show()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._borders.clear()
        if self._overlay is not None:
            self._overlay.setFixedSize(self.size())
            _ring(self._overlay)
            self._show_border()

    def set_surface(self, colour: str) -> None:
        """The colour of what lies beneath the field (its section or row card, plain): the field fills its rectangle
        with it (the corners outside its rounded border; Qt does it before the style sheet paints), so it is opaque
        and Qt no longer paints the section, the form and the window under it at every keystroke."""
        self._surface = QColor(colour)
        self._fill_surface()

    def _fill_surface(self) -> None:
        assert self._surface is not None
        palette = self.palette()
        if palette.color(QPalette.ColorRole.Window) != self._surface:
            palette.setColor(QPalette.ColorRole.Window, self._surface)
            self.setPalette(palette)
        self.setBackgroundRole(QPalette.ColorRole.Window)  # what is filled (the field itself is drawn with Base)
        self.setAutoFillBackground(True)

    def showEvent(self, event: QShowEvent) -> None:
        if self._surface is not None and not self.autoFillBackground():  # should a style sheet's polish clear it
            self.setAutoFillBackground(True)
        super().showEvent(event)


def _ring(overlay: QLabel) -> None:
    """The border overlay covers the border only (its pixmap is transparent inside): a keystroke repaints the text
    inside it without repainting the overlay."""
    rect = overlay.rect()
    overlay.setMask(QRegion(rect).subtracted(QRegion(rect.adjusted(RING, RING, -RING, -RING))))


RING = 4  # the 2-pixel border and its antialiased rounded corners


def _folded(text: str) -> str:
    """A first letter compared without case or accent ("é" is "e")."""
    return unicodedata.normalize("NFD", text)[:1].lower()


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
        for button in self.buttons.values():
            button.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The keyboard chooses, as a nurse with gloves expects: an arrow picks the previous or next choice (Qt's
        own arrows moved the focus without choosing), a letter the next choice starting with it ("n": Non, "o":
        Oui), Space the choice with the focus (Qt's), Enter moves on to the next field, Tab leaves the field."""
        plain = Qt.KeyboardModifier.KeypadModifier | Qt.KeyboardModifier.ShiftModifier
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent) or not isinstance(
                watched, QRadioButton) or event.modifiers() & ~plain:
            return False
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            on_to_next_field(watched)
            return True
        buttons = [b for b in self.buttons.values() if b.isEnabled()]
        if watched not in buttons:
            return False
        here = buttons.index(watched)
        step = {Qt.Key.Key_Left: -1, Qt.Key.Key_Up: -1, Qt.Key.Key_Right: 1, Qt.Key.Key_Down: 1}.get(Qt.Key(key))
        if step is not None:
            self._choose(buttons[max(0, min(len(buttons) - 1, here + step))])
            return True
        letter = _folded(event.text()[:1])
        if letter.isalnum():
            after = buttons[here + 1:] + buttons[:here + 1]  # pressed again: the next choice with that letter
            found = next((b for b in after if _folded(b.text()[:1]) == letter), None)
            if found is not None:
                self._choose(found)
            return True
        return False

    def _choose(self, button: QRadioButton) -> None:
        button.setFocus(Qt.FocusReason.OtherFocusReason)
        if not button.isChecked():
            button.click()  # as a tap: the value is committed (and a reason asked on a completed form)

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
        elif (checked := self.group.checkedButton()) is not None:
            self.group.setExclusive(False)
            checked.setChecked(False)
            self.group.setExclusive(True)

    def enable_codes(self, allowed: Callable[[str], bool]) -> None:
        for code, button in self.buttons.items():
            button.setEnabled(allowed(code))


class QuietCombo(QComboBox):
    """A drop-down in a form that the mouse wheel does not change unless the user chose it (clicked or tabbed into
    it): the wheel over it otherwise scrolls the form, as everywhere else on the page. A plain QComboBox takes the
    wheel under the pointer, picks the next entry and emits ``activated`` - stored as the user's pick (h60: 0,5 g/g
    became 0,5 mg/mmol while a physician scrolled the labs form)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # not WheelFocus: a wheel gives it no focus

    def wheelEvent(self, e: QWheelEvent) -> None:
        if not self.hasFocus():
            e.ignore()  # passed on to the parent: the form's scroll area scrolls
            return
        super().wheelEvent(e)


class ComboEditor(Editor):
    """Many choices (or long ones) in a drop-down."""

    def __init__(self, codelist: CodeList, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.combo = QuietCombo(self)
        self.combo.addItem("—", "")
        for code in codelist.items:
            self.combo.addItem(code.label.get(), code.code)
        self.combo.setMinimumWidth(260)
        layout.addWidget(self.combo)
        self.combo.activated.connect(self._picked)
        self.setFocusProxy(self.combo)

    def _picked(self, _index: int) -> None:
        self.edited.emit(self.text())
        self.finished.emit()

    def text(self) -> str:
        return str(self.combo.currentData() or "")

    def set_text(self, text: str) -> None:
        index = self.combo.findData(text)
        self.combo.setCurrentIndex(max(index, 0))

    def enable_codes(self, allowed: Callable[[str], bool]) -> None:
        model = self.combo.model()
        if not isinstance(model, QStandardItemModel):
            return
        for index in range(1, self.combo.count()):
            entry = model.item(index)
            if entry is not None:
                entry.setEnabled(allowed(str(self.combo.itemData(index))))


class ChecksEditor(Editor):
    """Several choices at once, as check boxes (stored as ``code;code``)."""

    def __init__(self, codelist: CodeList, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, per_line = _choice_grid(self, codelist)
        self.boxes: dict[str, QCheckBox] = {}
        for code in codelist.items:
            box = QCheckBox(code.label.get(), self)
            box.clicked.connect(self._picked)
            n = len(self.boxes)
            self.boxes[code.code] = box
            layout.addWidget(box, n // per_line, n % per_line)
        self.setFocusProxy(next(iter(self.boxes.values())))

    def _picked(self, _checked: bool) -> None:
        self.edited.emit(self.text())
        self.finished.emit()

    def text(self) -> str:
        return ";".join(code for code, box in self.boxes.items() if box.isChecked())

    def set_text(self, text: str) -> None:
        chosen = set(text.split(";"))
        for code, box in self.boxes.items():
            box.setChecked(code in chosen)


AnyEditor = Editor | LineEditor


def _choice_editor(item: Item, codelist: CodeList | None, parent: QWidget) -> AnyEditor:
    if codelist is None:  # the compiler guarantees a code list for choices; a line edit if not
        return LineEditor(item, parent)
    few = len(codelist.items) <= 6 and sum(len(c.label.get()) for c in codelist.items) <= 90
    return RadioEditor(codelist, parent) if few else ComboEditor(codelist, parent)


def _line(item: Item, _codelist: CodeList | None, parent: QWidget) -> AnyEditor:
    return LineEditor(item, parent)


def _checks(item: Item, codelist: CodeList | None, parent: QWidget) -> AnyEditor:
    return ChecksEditor(codelist, parent) if codelist else LineEditor(item, parent)


EDITORS: dict[ItemType, Callable[[Item, CodeList | None, QWidget], AnyEditor]] = {
    ItemType.INTEGER: _line, ItemType.DECIMAL: _line, ItemType.TEXT: _line, ItemType.DATE: _line,
    ItemType.PARTIAL_DATE: _line, ItemType.TIME: _line, ItemType.DATETIME: _line,
    ItemType.CHOICE: _choice_editor, ItemType.YESNO: _choice_editor, ItemType.MULTICHOICE: _checks,
}


def make_editor(item: Item, codelist: CodeList | None, parent: QWidget) -> AnyEditor:
    return EDITORS[item.type](item, codelist, parent)


class CtcaePicker(QObject):
    """Search CTCAE v5.0 as the user types (term, organ class, French words) in a line editor; ``picked(term)``
    when a term is chosen from the list."""

    picked = Signal(str)

    def __init__(self, editor: LineEditor) -> None:
        super().__init__(editor)
        self.editor = editor
        self.model = QStandardItemModel(self)
        self.completer = QCompleter(self.model, editor)
        self.completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.completer.setCompletionRole(Qt.ItemDataRole.UserRole)
        self.completer.setMaxVisibleItems(12)
        editor.setCompleter(self.completer)
        editor.setPlaceholderText(tr("Type to search CTCAE v5.0 (fièvre, hypotension…)",
                                     "Taper pour chercher dans CTCAE v5.0 (fièvre, hypotension…)"))
        editor.textEdited.connect(self._search)
        self.completer.activated[str].connect(self._picked)  # type: ignore[index]  # PySide6 stubs: overloaded signal

    def _search(self, text: str) -> None:
        from msc_sle_crf.scoring import ctcae

        self.model.clear()
        for term in ctcae.search(text, 25):
            french = ctcae.french_words(term.term)
            soc = ctcae.soc_label(term.soc).get()
            entry = QStandardItem(f"{term.term}" + (f" ({french})" if french else "") + f"   —   {soc}")
            entry.setData(term.term, Qt.ItemDataRole.UserRole)
            self.model.appendRow(entry)
        self.completer.complete()

    def _picked(self, text: str) -> None:
        self.editor.setText(text)
        self.picked.emit(text)
