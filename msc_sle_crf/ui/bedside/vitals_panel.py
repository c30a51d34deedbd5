"""Tab 2 of the bedside: the vital-sign schedule with its countdowns (what is due, what is overdue), quick entry of
one reading, the review flags of the last reading with a button that opens a pre-filled adverse event, and the
trend plot.

Quick entry follows the schedule: it is for the reading that is overdue or due, else the next one, and says which;
the nurse may pick another open time point in the schedule, or mark the reading as an extra one. Six values, Tab
between them, Enter saves (and does nothing else). A complete temperature (``36,9``) moves on to the heart rate by
itself; a Tab typed right after that move is absorbed, so a nurse who tabs out of habit does not skip a field.

The tab writes nothing: it emits ``save_requested()``, ``not_done_requested()``, ``typed(item, text)`` (kept at
every keystroke), ``adverse_event_requested(flag)`` and ``point_picked(point id)``; the window runs the writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QFont, QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
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
from msc_sle_crf.infusion.monitor import point_text
from msc_sle_crf.infusion.vitals import Flag, PlannedPoint, PointState, next_point
from msc_sle_crf.scoring import ctcae
from msc_sle_crf.services.bedside import BASELINE
from msc_sle_crf.ui.bedside.plot import TrendPlot
from msc_sle_crf.ui.bedside.style import NEUTRAL, POINT_COLORS, VITAL_LABELS, local_hm, panel
from msc_sle_crf.ui.common import named, tr

FINISHED = (PointState.DONE, PointState.NOT_DONE)
OPEN = (PointState.OVERDUE, PointState.DUE, PointState.UPCOMING)
COMPLETE_TEMPERATURE = re.compile(r"\d{2}[,.]\d")  # one decimal: nothing more can follow


class VitalsPanel(QWidget):
    save_requested = Signal()
    not_done_requested = Signal()
    typed = Signal(str, str)  # item, text
    adverse_event_requested = Signal(object)  # Flag
    point_picked = Signal(str)  # time point id

    def __init__(self, vital_signs: VitalSigns, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vs = vital_signs  # which items hold the six measures
        self.picked: str | None = None  # a time point the nurse chose in the schedule
        self.target: str | None = None  # the time point the next reading is for (None: an extra reading)
        self._advanced_into: QLineEdit | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        frame, box, self.schedule_title = panel()
        self.next_label = named(QLabel(), "next")
        self.next_label.setWordWrap(True)
        box.addWidget(self.next_label)
        self.schedule_list = named(QListWidget(), "schedule")
        self.schedule_list.itemClicked.connect(self._pick_point)
        box.addWidget(self.schedule_list, 1)
        self.not_done_button = named(QPushButton(), "big")
        self.not_done_button.setAutoDefault(True)
        self.not_done_button.clicked.connect(self.not_done_requested.emit)
        box.addWidget(self.not_done_button)
        self.sound_box = named(QCheckBox(), "soundAlert")  # off by default; the main window keeps the choice
        box.addWidget(self.sound_box)
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
        self.entry_title.setWordWrap(True)
        grid = QGridLayout()
        self.vital_fields: dict[str, QLineEdit] = {}
        self.vital_labels: dict[str, QLabel] = {}
        for n, item in enumerate(self.vs.readings()):
            label = named(QLabel(), "vitalLabel")
            label.setWordWrap(True)
            edit = named(QLineEdit(), "vital")
            edit.setProperty("item", item)
            edit.textEdited.connect(lambda text, i=item: self._edited(i, text))
            edit.returnPressed.connect(self.save_requested.emit)
            edit.installEventFilter(self)
            self.vital_labels[item] = label
            self.vital_fields[item] = edit
            grid.addWidget(label, 0, n)
            grid.addWidget(edit, 1, n)
        box.addLayout(grid)
        self.restored = named(QLabel(), "restored")
        self.restored.setWordWrap(True)
        self.restored.hide()
        box.addWidget(self.restored)
        buttons = QHBoxLayout()
        self.extra_box = named(QCheckBox(), "extraReading")
        self.extra_box.toggled.connect(lambda _on: self.point_picked.emit(""))
        buttons.addWidget(self.extra_box)
        buttons.addStretch(1)
        self.save_button = named(QPushButton(), "primary")
        self.save_button.setAutoDefault(True)
        self.save_button.setMinimumHeight(48)
        self.save_button.clicked.connect(self.save_requested.emit)
        buttons.addWidget(self.save_button)
        box.addLayout(buttons)
        self.flags_box = QVBoxLayout()
        box.addLayout(self.flags_box)
        return entry

    def retranslate(self) -> None:
        self.schedule_title.setText(tr("Vital signs schedule", "Calendrier des signes vitaux"))
        self.not_done_button.setText(tr("Reading not done…", "Mesure non faite…"))
        self.sound_box.setText(tr("Sound when a reading is due", "Son quand une mesure est à faire"))
        names = dict(zip(self.vs.readings(), MEASURES, strict=True))
        for item, label in self.vital_labels.items():
            label.setText(VITAL_LABELS[names[item]].get())
        self.extra_box.setText(tr("Extra reading (not on the schedule)", "Mesure supplémentaire (hors calendrier)"))
        self.restored.setText(tr("Your unsaved values were put back", "Vos valeurs non enregistrées sont revenues"))
        self.save_button.setText(tr("Save the reading (Enter)", "Enregistrer la mesure (Entrée)"))
        self.plot_title.setText(tr("Trend: baseline to 4 h after the end", "Évolution : de la référence à 4 h "
                                                                            "après la fin"))

    # ----- quick entry ---------------------------------------------------------------------------------------------
    def values(self) -> dict[str, str]:
        """The measures typed (by item), empty ones left out."""
        return {item: edit.text() for item, edit in self.vital_fields.items() if edit.text().strip()}

    def clear_entry(self) -> None:
        for edit in self.vital_fields.values():
            edit.clear()
        self.restored.hide()
        self._advanced_into = None

    def restore_typed(self, typed: Mapping[str, str]) -> None:
        """Put back what this user typed and did not save (after a lock, a crash or their return) into the empty
        fields, and say so."""
        put_back = False
        for item, edit in self.vital_fields.items():
            if item in typed and not edit.text():
                edit.setText(typed[item])
                put_back = True
        if put_back:
            self.restored.show()

    def focus_entry(self) -> None:
        self.vital_fields[self.vs.temperature].setFocus()

    def _edited(self, item: str, text: str) -> None:
        self._advanced_into = None
        self.restored.hide()
        self.typed.emit(item, text)
        if item == self.vs.temperature and COMPLETE_TEMPERATURE.fullmatch(text.strip()):
            nxt = self.vital_fields[self.vs.heart_rate]
            nxt.setFocus()
            nxt.selectAll()
            self._advanced_into = nxt

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """The Tab typed right after the temperature moved on by itself is absorbed (once)."""
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            advanced, self._advanced_into = self._advanced_into, None
            if (event.key() == Qt.Key.Key_Tab and obj is advanced and isinstance(obj, QLineEdit)
                    and not obj.text()):
                return True
        return False

    def _pick_point(self, item: QListWidgetItem) -> None:
        self.point_picked.emit(str(item.data(Qt.ItemDataRole.UserRole)))

    # ----- what is recorded and what is due ---------------------------------------------------------------------
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
            # the official CTCAE v5.0 term (English only), with the French search words in French (h71: "Fever" alone)
            words = ctcae.french_words(flag.ae_term)
            button = named(QPushButton(tr(f"Adverse event: {flag.ae_term}…", f"Événement indésirable : {flag.ae_term}"
                                          + (f" ({words})" if words else "") + "…")), "aeButton")
            button.setAutoDefault(True)
            button.clicked.connect(lambda _checked=False, f=flag: self.adverse_event_requested.emit(f))
            line.addWidget(button)
            self.flags_box.addWidget(row)

    def show_points(self, points: Sequence[PlannedPoint], clock: Clock, *,
                    taken: Mapping[str, str] | None = None) -> None:
        """The schedule, the next thing to do, and the time point the next reading is for: the one the nurse picked
        while it is open, else the first overdue or due one, else the next one (an extra reading if asked). A done
        point shows the time its reading was taken (``taken``), and the planned time beside it when they differ."""
        taken = taken or {}
        self.schedule_list.blockSignals(True)
        self.schedule_list.clear()
        open_points = [p for p in points if p.state in OPEN]
        by_id = {p.point.id: p for p in points}
        if self.picked is not None and (self.picked not in by_id or by_id[self.picked].state not in OPEN):
            self.picked = None
        nxt = next_point(list(points))
        chosen = by_id.get(self.picked) if self.picked else (nxt if nxt in open_points else None)
        self.target = None if self.extra_box.isChecked() or chosen is None else chosen.point.id
        for p in points:
            planned = local_hm(clock, p.planned) if p.planned is not None else "--:--"
            state = {PointState.DONE: tr("done", "faite"), PointState.NOT_DONE: tr("not done", "non faite"),
                     PointState.WAITING: tr("later", "plus tard")}.get(p.state)
            at = taken.get(p.point.id)
            if p.state is PointState.DONE and at:
                state = (state or "") + (tr(f" (planned {planned})", f" (prévue {planned})")
                                        if at != planned and p.point.id != BASELINE else "")
                planned = at
            text = f"{planned}   {point_text(p).get() if state is None else p.label.get() + ' — ' + state}"
            item = QListWidgetItem(("▶ " if p.point.id == self.target else "   ") + text)
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
            item.setSelected(p.point.id == self.target)
        self.schedule_list.blockSignals(False)
        if nxt is None:
            self.next_label.setText(tr("No reading due.", "Aucune mesure à faire."))
            self.next_label.setStyleSheet(NEUTRAL)
        else:
            self.next_label.setText(point_text(nxt).get())
            color = {PointState.OVERDUE: "#fdecea", PointState.DUE: "#e8f0fb"}.get(nxt.state, "#eef2f6")
            self.next_label.setStyleSheet(f"background: {color}; color: {POINT_COLORS[nxt.state]};")
        if self.target is not None:
            self.entry_title.setText(tr("Reading for: ", "Mesure pour : ") + point_text(by_id[self.target]).get())
        else:
            self.entry_title.setText(tr("Extra reading (not on the schedule)",
                                        "Mesure supplémentaire (hors calendrier)"))
