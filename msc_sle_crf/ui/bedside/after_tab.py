"""Tab 3 of the bedside: the tolerance follow-up D1-D10 (which days are recorded on the tolerance form) and the
tolerance decision so far. It shows what the window read and emits ``open_form_requested()`` for the form."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from msc_sle_crf.formdef.bindings import Tolerance
from msc_sle_crf.formdef.engine import FormState
from msc_sle_crf.scoring.common import ScoreResult
from msc_sle_crf.ui.bedside.style import BAD, GOOD, NEUTRAL, panel
from msc_sle_crf.ui.common import named, tr

FOLLOW_UP_DAYS = range(1, 11)  # D1-D10 after the infusion


class AfterTab(QWidget):
    open_form_requested = Signal()

    def __init__(self, tolerance: Tolerance, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tolerance = tolerance  # the tolerance form and its day item
        layout = QVBoxLayout(self)
        frame, box, self.after_title = panel()
        self.tolerance_state = named(QLabel(), "next")
        self.tolerance_state.setWordWrap(True)
        box.addWidget(self.tolerance_state)
        self.days_list = named(QListWidget(), "schedule")
        box.addWidget(self.days_list, 1)
        self.open_tolerance = named(QPushButton(), "big")
        self.open_tolerance.clicked.connect(self.open_form_requested.emit)
        box.addWidget(self.open_tolerance)
        layout.addWidget(frame)

    def retranslate(self) -> None:
        self.after_title.setText(tr("Tolerance follow-up D1-D10", "Suivi de tolérance J1-J10"))
        self.open_tolerance.setText(tr("Open the D1-D10 form", "Ouvrir le formulaire J1-J10"))

    def show_tolerance(self, result: ScoreResult | None) -> None:
        """Tolerated so far, not tolerated (and why), or not decided yet (and why)."""
        if result is None or not result.computable:
            reason = result.reason.get() if result is not None and result.reason else ""
            self.tolerance_state.setText(tr("Tolerance: not decided yet", "Tolérance : pas encore déterminée")
                                         + (f" ({reason})" if reason else ""))
            self.tolerance_state.setStyleSheet(NEUTRAL)
        elif result.value:
            drivers = ", ".join(p.label.get() for p in result.breakdown)
            self.tolerance_state.setText(tr("NOT TOLERATED: ", "NON TOLÉRÉE : ") + drivers)
            self.tolerance_state.setStyleSheet(BAD)
        else:
            self.tolerance_state.setText(tr("Tolerated so far (no grade >= 3 since D0)",
                                            "Tolérée jusqu'ici (aucun grade >= 3 depuis J0)"))
            self.tolerance_state.setStyleSheet(GOOD)

    def show_days(self, form: FormState, day0: dt.date | None) -> None:
        """Each follow-up day, with its date once day 0 is known, recorded or to do."""
        group = self.tolerance.group or ""
        recorded = {form.value((group, row, self.tolerance.day)) for row in form.rows[group]}
        self.days_list.clear()
        for day in FOLLOW_UP_DAYS:
            when = f"{(day0 + dt.timedelta(days=day)):%d/%m}" if day0 else ""
            done = day in recorded
            item = QListWidgetItem(tr(f"D{day} {when}: ", f"J{day} {when} : ") +
                                   (tr("recorded", "saisi") if done else tr("to do", "à faire")))
            item.setForeground(QColor("#2e7d32" if done else "#33414e"))
            self.days_list.addItem(item)

    def show_unreadable(self, text: str) -> None:
        """The follow-up could not be read (the rest of the screen still works): say so instead of a stale list."""
        self.tolerance_state.setText(text)
        self.tolerance_state.setStyleSheet(BAD)
