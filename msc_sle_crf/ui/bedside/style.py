"""How the bedside looks: its style sheet, the colours of timer phases and schedule points, the names of the six
measures on screen, and the small helpers every part of the screen shares (a titled panel, a countdown, a stored
time)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout

from msc_sle_crf.clock import Clock, format_stored, iso_utc
from msc_sle_crf.i18n import L, Lang, current_lang
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.infusion.vitals import PointState
from msc_sle_crf.ui.common import named

BEDSIDE_STYLE = """
QLabel#identity { font-size: 18pt; font-weight: bold; color: #1d2b3a; }
QLabel#clock { font-size: 32pt; font-weight: bold; color: #1d2b3a; font-family: "DejaVu Sans Mono"; }
QLabel#phase { font-size: 13pt; font-weight: bold; color: white; padding: 6px 14px; border-radius: 14px; }
QLabel#next { font-size: 13pt; font-weight: bold; padding: 6px 10px; border-radius: 6px; }
QPushButton#timerButton { font-size: 14pt; font-weight: bold; min-height: 48px; min-width: 120px; }
QPushButton#stopButton { font-size: 14pt; font-weight: bold; min-height: 48px; min-width: 130px; color: white;
                         background: #b00020; border-radius: 4px; }
QPushButton#stopButton:disabled { background: #d9a0a8; }
QLabel#readiness { font-size: 11pt; padding: 4px 8px; border-radius: 6px; }
QLabel#restored { font-size: 11pt; color: #1f5fa8; }
QPushButton#big { font-size: 13pt; font-weight: bold; min-height: 44px; }
QLineEdit#vital { font-size: 18pt; min-height: 48px; max-width: 130px; }
QLabel#vitalLabel { font-size: 12pt; color: #33414e; }
QListWidget#schedule { font-size: 13pt; }
QListWidget#schedule::item { min-height: 34px; }
QLabel#flag { font-size: 12pt; font-weight: bold; color: #b00020; }
QFrame#panel { background: white; border: 1px solid #d5dbe1; border-radius: 8px; }
QCheckBox, QRadioButton { font-size: 12pt; min-height: 32px; spacing: 10px; }
QCheckBox::indicator, QRadioButton::indicator { width: 24px; height: 24px; }
QLineEdit { min-height: 38px; font-size: 12pt; }
QLabel#panelTitle { font-size: 13pt; font-weight: bold; color: #1d2b3a; }
QPushButton#lockButton { min-height: 30px; padding: 2px 12px; }
QPushButton#aeButton { min-height: 30px; padding: 2px 10px; font-size: 10pt; }
"""

PHASE_COLORS = {T.Phase.NOT_STARTED: "#7b8794", T.Phase.RUNNING: "#2e7d32", T.Phase.PAUSED: "#b26a00",
                T.Phase.STOPPED: "#1f5fa8"}
POINT_COLORS = {PointState.OVERDUE: "#b00020", PointState.DUE: "#1f5fa8", PointState.DONE: "#2e7d32",
                PointState.NOT_DONE: "#5f6b76", PointState.UPCOMING: "#33414e", PointState.WAITING: "#8a94a0"}

# The backgrounds of a status line: all is well, stop and look, nothing to say yet, the next thing to do.
GOOD = "background: #e8f5e9; color: #2e7d32;"
BAD = "background: #fdecea; color: #b00020;"
NEUTRAL = "background: #eef2f6;"
TO_DO = "background: #e8f0fb; color: #1f5fa8;"

# The six measures by name (``formdef.bindings.MEASURES``; which items hold them is a study binding).
VITAL_LABELS = {"temperature": L("Temperature °C", "Température °C"),
                "heart_rate": L("Heart rate /min", "Fréq. cardiaque /min"),
                "systolic_bp": L("Systolic mmHg", "Systolique mmHg"),
                "diastolic_bp": L("Diastolic mmHg", "Diastolique mmHg"),
                "respiratory_rate": L("Resp. rate /min", "Fréq. resp. /min"), "spo2": L("SpO2 %", "SpO2 %")}


def number(value: object) -> str:
    """A measured or computed number as the user writes it: decimal comma in French (``38,6``, ``+3,4``)."""
    text = str(value)
    return text.replace(".", ",") if current_lang() is Lang.FR else text


def stored_time(clock: Clock, wall: dt.datetime) -> str:
    """A recorded time (UTC) the one way stored times are shown: local date and time, then the offset."""
    return format_stored(iso_utc(wall), clock.local_offset_minutes(), seconds=False)


def local_hm(clock: Clock, wall: dt.datetime) -> str:
    """A planned time of today's schedule as the workstation's clock shows it (``10:15``)."""
    return f"{wall + dt.timedelta(minutes=clock.local_offset_minutes()):%H:%M}"


def panel() -> tuple[QFrame, QVBoxLayout, QLabel]:
    """A white panel with a title line: the frame, its layout (the title already in it), the title label."""
    frame = named(QFrame(), "panel")
    layout = QVBoxLayout(frame)
    title = named(QLabel(), "panelTitle")
    layout.addWidget(title)
    return frame, layout, title
