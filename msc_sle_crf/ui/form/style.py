"""How a form looks: one style sheet for the whole form, field states as a dynamic property, state badges."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from msc_sle_crf.ui.common import named

# A field's state as shown: ok / unusual (soft) / impossible (hard) / missing / empty / calculated.
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
QLabel#error { color: #b00020; font-weight: bold; }
QLabel#gradeHelp { background: #f4f7fb; border: 1px solid #d5dbe1; border-radius: 4px; padding: 6px;
    font-size: 10pt; }
QTextBrowser#scorePanel { background: #f7faf7; border: 1px solid #cfe3cf; border-radius: 6px; font-size: 11pt; }
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


def set_state(widget: QWidget, state: str) -> None:
    """Style by a dynamic property (one style sheet for the whole form, re-polished), not per-widget sheets."""
    if widget.property("state") != state:
        widget.setProperty("state", state)
        if widget.testAttribute(Qt.WidgetAttribute.WA_WState_Polished):  # else polished when first shown
            widget.style().unpolish(widget)
            widget.style().polish(widget)



__all__ = ["BADGES", "FORM_STYLE", "named", "set_state"]
