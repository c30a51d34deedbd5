"""The infusion timer in the bedside's header: its phase, the running clock, the buttons that start, pause, resume
and stop it, and "Correct a time". It shows a timer state and asks for actions by signal; the window records them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from msc_sle_crf.i18n import L
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.ui.bedside.style import PHASE_COLORS, mmss
from msc_sle_crf.ui.common import named, tr

BUTTON_LABELS = {T.Kind.START: L("Start", "Démarrer"), T.Kind.PAUSE: L("Pause…", "Pause…"),
                 T.Kind.RESUME: L("Resume", "Reprendre"), T.Kind.STOP: L("Stop", "Arrêter")}


class TimerPanel(QWidget):
    """Phase, clock and timer buttons. Emits ``timer_requested(kind)`` and ``correct_requested()``."""

    timer_requested = Signal(object)  # T.Kind
    correct_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.phase = named(QLabel(), "phase")
        row.addWidget(self.phase)
        self.clock = named(QLabel("00:00"), "clock")
        self.clock.setMinimumWidth(200)
        self.clock.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.clock)
        self.correct_button = named(QPushButton(), "correct")
        self.correct_button.clicked.connect(self.correct_requested.emit)
        row.addWidget(self.correct_button)
        self.buttons: dict[T.Kind, QPushButton] = {}
        for kind in T.Kind:
            button = named(QPushButton(), "timerButton")
            button.clicked.connect(lambda _checked=False, k=kind: self.timer_requested.emit(k))
            self.buttons[kind] = button
            row.addWidget(button)

    def retranslate(self) -> None:
        self.correct_button.setText(tr("Correct a time…", "Corriger une heure…"))
        for kind, button in self.buttons.items():
            button.setText(BUTTON_LABELS[kind].get())

    def show_timer(self, timer: T.TimerState) -> None:
        """The running time, the phase, and only the buttons the phase allows (Start stays visible before it)."""
        self.clock.setText(mmss(timer.running_seconds))
        self.phase.setText(T.phase_label(timer.phase).get())
        self.phase.setStyleSheet(f"background: {PHASE_COLORS[timer.phase]};")
        allowed = T.ALLOWED[timer.phase]
        shown = {kind for kind in self.buttons
                 if kind in allowed or (kind is T.Kind.START and timer.phase is T.Phase.NOT_STARTED)}
        # Hide before showing: with Pause, Resume and Stop all visible for a moment the header is wider than a
        # 1280-pixel screen, and the window grows to fit it and stays so.
        for kind, button in self.buttons.items():
            button.setEnabled(kind in allowed)
            if kind not in shown:
                button.setVisible(False)
        for kind in shown:
            self.buttons[kind].setVisible(True)

    def show_events(self, recorded: bool) -> None:
        """"Correct a time" is offered once a timer event is recorded."""
        self.correct_button.setVisible(recorded)
