"""A question asked inside the bedside window (a "sheet"), instead of a small dialog over it.

It sits between the header and the tabs: the running clock and the next reading stay in view, nothing blocks another
window of the app, the buttons and fields are touch-sized, and it goes away with the window at a lock. A question
names what it is about (the subject, the time), may ask for text (required fields must be filled before the
confirming button is enabled) or a choice, and calls back only when confirmed. An irreversible action puts its
button apart in red, and the focus starts on Cancel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QComboBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout

from msc_sle_crf.ui.common import named, tr

SHEET_STYLE = """
QFrame#sheet { background: #fffbe6; border: 2px solid #b26a00; border-radius: 8px; }
QFrame#sheet[danger="true"] { background: #fdecea; border-color: #b00020; }
QLabel#sheetTitle { font-size: 15pt; font-weight: bold; color: #1d2b3a; }
QLabel#sheetText { font-size: 13pt; color: #1d2b3a; }
QLabel#sheetError { font-size: 12pt; font-weight: bold; color: #b00020; }
QFrame#sheet QLineEdit, QFrame#sheet QComboBox { font-size: 14pt; min-height: 48px; }
QPushButton#sheetCancel { font-size: 14pt; min-height: 52px; min-width: 160px; }
QPushButton#sheetConfirm { font-size: 14pt; font-weight: bold; min-height: 52px; min-width: 220px;
                           background: #1f5fa8; color: white; border-radius: 4px; }
QPushButton#sheetConfirm[danger="true"] { background: #b00020; }
QPushButton#sheetConfirm:disabled { background: #9aa5b1; }
"""


@dataclass(frozen=True)
class AskField:
    label: str
    choices: tuple[str, ...] = ()  # a choice among these instead of free text
    required: bool = True
    placeholder: str = ""


@dataclass(frozen=True)
class Ask:
    title: str
    text: str
    confirm: str
    fields: tuple[AskField, ...] = ()
    danger: bool = False  # irreversible (or hard to take back): red, and the focus starts on Cancel
    notice: bool = False  # something to read (a refusal): one button, no Cancel
    cancel_first: bool = False  # the focus starts on Cancel (an Enter typed on after the last value goes back)


Answer = Callable[[list[str]], None]


class Sheet(QFrame):
    """One question at a time; ``answered`` after a confirmation, ``closed`` whatever the outcome."""

    closed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("sheet")
        self.setStyleSheet(SHEET_STYLE)
        box = QVBoxLayout(self)
        box.setContentsMargins(16, 10, 16, 10)
        self.title = named(QLabel(), "sheetTitle")
        self.text = named(QLabel(), "sheetText")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        box.addWidget(self.title)
        box.addWidget(self.text)
        self.grid = QGridLayout()
        box.addLayout(self.grid)
        self.error = named(QLabel(), "sheetError")
        self.error.setWordWrap(True)
        self.error.hide()
        box.addWidget(self.error)
        row = QHBoxLayout()
        self.cancel_button = named(QPushButton(), "sheetCancel")
        self.cancel_button.setAutoDefault(True)  # a focused button takes Enter (there is no default button)
        self.cancel_button.clicked.connect(self.cancel)
        self.confirm_button = named(QPushButton(), "sheetConfirm")
        self.confirm_button.setAutoDefault(True)
        self.confirm_button.clicked.connect(self._confirm)
        row.addWidget(self.cancel_button)
        row.addStretch(1)  # the confirming button apart from Cancel
        row.addWidget(self.confirm_button)
        box.addLayout(row)
        self.fields: list[QLineEdit | QComboBox] = []
        self.ask_: Ask | None = None
        self._on_answer: Answer | None = None
        self.hide()

    @property
    def is_open(self) -> bool:
        return self.ask_ is not None

    def ask(self, ask: Ask, on_answer: Answer) -> None:
        """Show a question (replacing any open one, which is cancelled)."""
        if self.is_open:
            self.cancel()
        self.ask_ = ask
        self._on_answer = on_answer
        self.title.setText(ask.title)
        self.text.setText(ask.text)
        self.cancel_button.setText(tr("Cancel", "Annuler"))
        self.confirm_button.setText(ask.confirm)
        self.cancel_button.setVisible(not ask.notice)
        for widget in (self, self.confirm_button):
            widget.setProperty("danger", "true" if ask.danger else "false")
            widget.style().unpolish(widget)
            widget.style().polish(widget)
        self._clear_fields()
        for n, spec in enumerate(ask.fields):
            label = QLabel(spec.label + ("" if spec.required else tr(" (optional)", " (facultatif)")))
            label.setStyleSheet("font-size: 13pt;")
            field: QLineEdit | QComboBox
            if spec.choices:
                field = QComboBox()
                field.addItems(list(spec.choices))
                field.currentIndexChanged.connect(self._update)
            else:
                field = QLineEdit()
                field.setPlaceholderText(spec.placeholder)
                field.textChanged.connect(self._update)
                field.returnPressed.connect(lambda n=n: self._field_enter(n))
            self.grid.addWidget(label, n, 0)
            self.grid.addWidget(field, n, 1)
            self.fields.append(field)
        self.error.hide()
        self._update()
        self.show()
        first = next((f for f in self.fields if isinstance(f, QLineEdit)), None)
        if (ask.danger or ask.cancel_first) and not ask.fields:
            self.cancel_button.setFocus()
        elif ask.notice:
            self.confirm_button.setFocus()
        elif first is not None:
            first.setFocus()
        else:
            self.confirm_button.setFocus()

    def _clear_fields(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        self.fields = []

    def values(self) -> list[str]:
        return [f.currentText() if isinstance(f, QComboBox) else f.text().strip() for f in self.fields]

    def _update(self) -> None:
        ask = self.ask_
        if ask is None:
            return
        filled = all(value or not spec.required for value, spec in zip(self.values(), ask.fields, strict=True))
        self.confirm_button.setEnabled(filled)

    def _field_enter(self, n: int) -> None:
        """Enter in a field goes to the next one; in the last one it confirms, once every required field is
        filled."""
        if n + 1 < len(self.fields):
            self.fields[n + 1].setFocus()
        elif self.confirm_button.isEnabled():
            self._confirm()

    def show_error(self, text: str) -> None:
        """A refusal of the answer: shown here, the question stays open with what was typed."""
        self.error.setText(text)
        self.error.show()

    def _confirm(self) -> None:
        if self.ask_ is None or not self.confirm_button.isEnabled():
            return
        callback, values = self._on_answer, self.values()
        if callback is not None:
            callback(values)

    def finish(self) -> None:
        """The answer was taken: close the question."""
        self.ask_ = None
        self._on_answer = None
        self._clear_fields()
        self.hide()
        self.closed.emit()

    def cancel(self) -> None:
        if self.ask_ is not None:
            self.finish()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.cancel()
            event.accept()
            return
        super().keyPressEvent(event)
