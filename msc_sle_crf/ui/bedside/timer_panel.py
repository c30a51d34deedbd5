"""The infusion timer in the bedside's header: its phase, the running clock, the buttons that start, pause, resume
and stop it, and the undo of a stop made by mistake. It shows a timer state and asks for actions by signal; the
window asks for a confirmation and records them.

Routine buttons (Pause, Resume) sit together; Stop, which ends the infusion, is red and set apart from them; Start
says what is still missing before it can be pressed.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QWidget

from msc_sle_crf.i18n import L
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.infusion.monitor import mmss
from msc_sle_crf.ui.bedside.style import PHASE_COLORS
from msc_sle_crf.ui.common import named

BUTTON_LABELS = {T.Kind.START: L("Start…", "Démarrer…"), T.Kind.PAUSE: L("Pause…", "Pause…"),
                 T.Kind.RESUME: L("Resume", "Reprendre"), T.Kind.STOP: L("Stop…", "Arrêter…"),
                 T.Kind.UNDO_STOP: L("Undo the stop…", "Annuler l'arrêt…")}
ROUTINE = (T.Kind.START, T.Kind.PAUSE, T.Kind.RESUME)


class TimerPanel(QWidget):
    """Phase, clock and timer buttons. Emits ``timer_requested(kind)``."""

    timer_requested = Signal(object)  # T.Kind

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        self.phase = named(QLabel(), "phase")
        self.phase.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(self.phase, 0, 0)
        self.clock = named(QLabel("00:00"), "clock")
        self.clock.setMinimumWidth(190)
        self.clock.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(self.clock, 0, 1)
        routine = QHBoxLayout()
        self.buttons: dict[T.Kind, QPushButton] = {}
        for kind in T.Kind:
            button = named(QPushButton(), "stopButton" if kind is T.Kind.STOP else "timerButton")
            button.setAutoDefault(True)  # a focused button takes Enter; the window has no default button
            button.clicked.connect(lambda _checked=False, k=kind: self.timer_requested.emit(k))
            self.buttons[kind] = button
            if kind in ROUTINE:
                routine.addWidget(button)
        grid.addLayout(routine, 0, 2)
        grid.setColumnMinimumWidth(3, 36)  # Stop (and its undo) apart from the routine buttons
        grid.addWidget(self.buttons[T.Kind.STOP], 0, 4)
        grid.addWidget(self.buttons[T.Kind.UNDO_STOP], 0, 4)

    def retranslate(self) -> None:
        for kind, button in self.buttons.items():
            button.setText(BUTTON_LABELS[kind].get())

    def show_timer(self, timer: T.TimerState, *, can_start: bool, start_label: str | None = None,
                   undo_left: float = 0.0) -> None:
        """The running time, the phase, and only the buttons the phase allows. Start is enabled only when the
        protocol allows it now (``start_label`` says how: "Start without baseline…"); an undo while it is
        possible, with the time left."""
        self.clock.setText(mmss(timer.running_seconds))
        self.phase.setText(T.phase_label(timer.phase).get())
        self.phase.setStyleSheet(f"background: {PHASE_COLORS[timer.phase]};")
        allowed = set(T.ALLOWED[timer.phase])
        if undo_left <= 0:
            allowed.discard(T.Kind.UNDO_STOP)
        shown = {kind for kind in self.buttons
                 if kind in allowed or (kind is T.Kind.START and timer.phase is T.Phase.NOT_STARTED)}
        # Hide before showing: with Pause, Resume and Stop all visible for a moment the header is wider than a
        # 1280-pixel screen, and the window grows to fit it and stays so.
        for kind, button in self.buttons.items():
            button.setEnabled(kind in allowed and (kind is not T.Kind.START or can_start))
            if kind not in shown:
                button.setVisible(False)
        for kind in shown:
            self.buttons[kind].setVisible(True)
        self.buttons[T.Kind.START].setText(start_label or BUTTON_LABELS[T.Kind.START].get())
        if T.Kind.UNDO_STOP in shown:
            self.buttons[T.Kind.UNDO_STOP].setText(
                BUTTON_LABELS[T.Kind.UNDO_STOP].get().rstrip("…") + f" ({mmss(undo_left)})…")
