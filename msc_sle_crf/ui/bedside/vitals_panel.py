"""Tab 2 of the bedside: the vital-sign schedule with its countdowns (what is due, what is overdue), quick entry of
one reading, the review flags of the last reading with a button that opens a pre-filled adverse event, and the
trend plot.

The tab writes nothing: it emits ``save_requested()``, ``not_done_requested()``, ``typed(item, text)`` (kept at
every keystroke), ``adverse_event_requested(flag)`` and ``point_picked(point id)``; the window runs the writes.
It keeps which time point the next reading is for (``selected_point``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.clock import Clock
from msc_sle_crf.formdef.bindings import MEASURES, VitalSigns
from msc_sle_crf.infusion.vitals import Flag, PlannedPoint, PointState, next_point
from msc_sle_crf.services.bedside import Reading
from msc_sle_crf.ui.bedside.plot import TrendPlot
from msc_sle_crf.ui.bedside.style import NEUTRAL, POINT_COLORS, VITAL_LABELS, local_hm, mmss, panel
from msc_sle_crf.ui.common import named, tr

FINISHED = (PointState.DONE, PointState.NOT_DONE)


def point_text(p: PlannedPoint) -> str:
    """A time point with what to do about it now: overdue by, due now, in mm:ss."""
    if p.state is PointState.OVERDUE:
        return tr(f"{p.label.en}: OVERDUE by {mmss(-(p.seconds_to_due or 0))}",
                  f"{p.label.fr} : EN RETARD de {mmss(-(p.seconds_to_due or 0))}")
    if p.state is PointState.DUE:
        return tr(f"{p.label.en}: due now", f"{p.label.fr} : à faire maintenant")
    if p.state is PointState.UPCOMING and p.seconds_to_due is not None:
        return tr(f"{p.label.en} in {mmss(p.seconds_to_due)}", f"{p.label.fr} dans {mmss(p.seconds_to_due)}")
    return p.label.get()


class VitalsPanel(QWidget):
    save_requested = Signal()
    not_done_requested = Signal()
    typed = Signal(str, str)  # item, text
    adverse_event_requested = Signal(object)  # Flag
    point_picked = Signal(str)  # time point id

    def __init__(self, vital_signs: VitalSigns, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vs = vital_signs  # which items hold the six measures
        self.selected_point: str | None = None
        layout = QHBoxLayout(self)
        frame, box, self.schedule_title = panel()
        self.next_label = named(QLabel(), "next")
        self.next_label.setWordWrap(True)
        box.addWidget(self.next_label)
        self.schedule_list = named(QListWidget(), "schedule")
        self.schedule_list.itemClicked.connect(self._pick_point)
        box.addWidget(self.schedule_list, 1)
        self.not_done_button = named(QPushButton(), "big")
        self.not_done_button.clicked.connect(self.not_done_requested.emit)
        box.addWidget(self.not_done_button)
        layout.addWidget(frame, 2)
        right = QVBoxLayout()
        right.addWidget(self._entry_panel())
        plot, plot_box, self.plot_title = panel()
        self.plot = TrendPlot()
        plot_box.addWidget(self.plot, 1)  # the plot takes the height; the title stays on top
        right.addWidget(plot, 1)
        layout.addLayout(right, 3)

    def _entry_panel(self) -> QWidget:
        entry, box, self.entry_title = panel()
        grid = QGridLayout()
        self.vital_fields: dict[str, QLineEdit] = {}
        self.vital_labels: dict[str, QLabel] = {}
        for n, item in enumerate(self.vs.readings()):
            label = named(QLabel(), "vitalLabel")
            edit = named(QLineEdit(), "vital")
            edit.setProperty("item", item)
            edit.textEdited.connect(lambda text, i=item: self.typed.emit(i, text))
            edit.returnPressed.connect(self.save_requested.emit)
            self.vital_labels[item] = label
            self.vital_fields[item] = edit
            grid.addWidget(label, 0, n)
            grid.addWidget(edit, 1, n)
        box.addLayout(grid)
        buttons = QHBoxLayout()
        self.save_button = named(QPushButton(), "primary")
        self.save_button.setMinimumHeight(52)
        self.save_button.clicked.connect(self.save_requested.emit)
        buttons.addWidget(self.save_button)
        box.addLayout(buttons)
        self.flags_box = QVBoxLayout()
        box.addLayout(self.flags_box)
        return entry

    def retranslate(self) -> None:
        self.schedule_title.setText(tr("Vital signs schedule", "Calendrier des signes vitaux"))
        self.not_done_button.setText(tr("Reading not done…", "Mesure non faite…"))
        self.entry_title.setText(tr("Reading", "Mesure"))
        names = dict(zip(self.vs.readings(), MEASURES, strict=True))
        for item, label in self.vital_labels.items():
            label.setText(VITAL_LABELS[names[item]].get())
        self.save_button.setText(tr("Save the reading (Enter)", "Enregistrer la mesure (Entrée)"))
        self.plot_title.setText(tr("Trend", "Évolution"))

    # ----- quick entry ---------------------------------------------------------------------------------------------
    def values(self) -> dict[str, str]:
        """The measures typed (by item), empty ones left out."""
        return {item: edit.text() for item, edit in self.vital_fields.items() if edit.text().strip()}

    def clear_entry(self) -> None:
        for edit in self.vital_fields.values():
            edit.clear()

    def restore_typed(self, typed: Mapping[str, str]) -> None:
        """Put back what was typed and not saved (after a crash or a user switch) into the empty fields."""
        for item, edit in self.vital_fields.items():
            if item in typed and not edit.text():
                edit.setText(typed[item])

    def focus_entry(self) -> None:
        self.vital_fields[self.vs.temperature].setFocus()

    def _pick_point(self, item: QListWidgetItem) -> None:
        self.point_picked.emit(str(item.data(Qt.ItemDataRole.UserRole)))

    # ----- what is recorded and what is due ---------------------------------------------------------------------
    def show_readings(self, readings: Sequence[Reading]) -> None:
        self.plot.set_readings([(r.time, self.vs.by_name(r.values)) for r in readings if r.time is not None])
        self.show_flags(readings[-1].flags if readings else ())

    def show_flags(self, flags: Sequence[Flag]) -> None:
        """The review flags of the last reading, each with a button that opens a pre-filled adverse event."""
        while self.flags_box.count():
            old = self.flags_box.takeAt(0)
            widget = old.widget() if old is not None else None
            if widget is not None:
                widget.hide()  # at once: deleteLater waits for the event loop, and the row would still paint
                widget.deleteLater()
        for flag in flags:
            row = QWidget()
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            label = named(QLabel("⚠ " + flag.message.get()), "flag")
            label.setWordWrap(True)  # a long French message must not widen the window past the screen
            line.addWidget(label, 1)
            button = named(QPushButton(tr(f"Adverse event: {flag.ae_term}…",
                                          f"Événement indésirable : {flag.ae_term}…")), "aeButton")
            button.clicked.connect(lambda _checked=False, f=flag: self.adverse_event_requested.emit(f))
            line.addWidget(button)
            self.flags_box.addWidget(row)

    def show_points(self, points: Sequence[PlannedPoint], clock: Clock) -> None:
        """The schedule, the next thing to do, and which point the next reading is for (the next due one unless
        the nurse picked another that is still open)."""
        self.schedule_list.blockSignals(True)
        self.schedule_list.clear()
        for p in points:
            planned = local_hm(clock, p.planned) if p.planned is not None else "--:--"
            state = {PointState.DONE: tr("done", "faite"), PointState.NOT_DONE: tr("not done", "non faite"),
                     PointState.WAITING: tr("later", "plus tard")}.get(p.state)
            item = QListWidgetItem(f"{planned}   {point_text(p) if state is None else p.label.get() + ' — ' + state}")
            item.setData(Qt.ItemDataRole.UserRole, p.point.id)
            item.setForeground(QColor(POINT_COLORS[p.state]))
            if p.state is PointState.OVERDUE:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
                item.setBackground(QColor("#fdecea"))
            elif p.state is PointState.DUE:
                item.setBackground(QColor("#e8f0fb"))
            self.schedule_list.addItem(item)
            if p.point.id == self.selected_point:
                item.setSelected(True)
        self.schedule_list.blockSignals(False)
        nxt = next_point(list(points))
        if nxt is None:
            self.next_label.setText(tr("No reading due.", "Aucune mesure à faire."))
            self.next_label.setStyleSheet(NEUTRAL)
        else:
            self.next_label.setText(point_text(nxt))
            color = {PointState.OVERDUE: "#fdecea", PointState.DUE: "#e8f0fb"}.get(nxt.state, "#eef2f6")
            self.next_label.setStyleSheet(f"background: {color}; color: {POINT_COLORS[nxt.state]};")
            if self.selected_point is None or self.selected_point in {
                    p.point.id for p in points if p.state in FINISHED}:
                self.selected_point = nxt.point.id if nxt.state in (PointState.DUE, PointState.OVERDUE) else None
        self.entry_title.setText(tr("Reading", "Mesure") + (f" — {self.selected_point}" if self.selected_point
                                                            else tr(" — extra", " — supplémentaire")))
