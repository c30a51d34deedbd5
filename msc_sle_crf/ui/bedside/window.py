"""The bedside screen of the infusion day: identity and product check (two people), the infusion timer, the
vital-sign schedule with countdowns and alerts, quick entry, a trend plot, and the D1-D10 follow-up.

Everything shown is computed from the database and the clock once a second; every action is saved at once
through the service layer. Closing, locking, switching user or a crash loses nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QKeySequence, QPainter, QPainterPath, QPen, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.errors import CrfError
from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.bindings import MEASURES
from msc_sle_crf.i18n import current_lang
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.infusion.vitals import PlannedPoint, PointState, next_point, schedule
from msc_sle_crf.services.bedside import BASELINE, BedsideState
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.ui.common import error_text, tr
from msc_sle_crf.ui.ops import Ops

BEDSIDE_STYLE = """
QLabel#identity { font-size: 20pt; font-weight: bold; color: #1d2b3a; }
QLabel#clock { font-size: 40pt; font-weight: bold; color: #1d2b3a; font-family: "DejaVu Sans Mono"; }
QLabel#phase { font-size: 13pt; font-weight: bold; color: white; padding: 6px 14px; border-radius: 14px; }
QLabel#next { font-size: 15pt; font-weight: bold; padding: 8px 12px; border-radius: 6px; }
QPushButton#timerButton { font-size: 15pt; font-weight: bold; min-height: 56px; min-width: 120px; }
QPushButton#big { font-size: 13pt; font-weight: bold; min-height: 48px; }
QLineEdit#vital { font-size: 20pt; min-height: 56px; max-width: 120px; }
QLabel#vitalLabel { font-size: 12pt; color: #33414e; }
QListWidget#schedule { font-size: 13pt; }
QListWidget#schedule::item { min-height: 42px; }
QLabel#flag { font-size: 12pt; font-weight: bold; color: #b00020; }
QFrame#panel { background: white; border: 1px solid #d5dbe1; border-radius: 8px; }
QCheckBox, QRadioButton { font-size: 12pt; min-height: 36px; spacing: 10px; }
QCheckBox::indicator, QRadioButton::indicator { width: 24px; height: 24px; }
QLineEdit { min-height: 40px; font-size: 12pt; }
QLabel#panelTitle { font-size: 14pt; font-weight: bold; color: #1d2b3a; }
"""
PHASE_COLORS = {T.Phase.NOT_STARTED: "#7b8794", T.Phase.RUNNING: "#2e7d32", T.Phase.PAUSED: "#b26a00",
                T.Phase.STOPPED: "#1f5fa8"}
POINT_COLORS = {PointState.OVERDUE: "#b00020", PointState.DUE: "#1f5fa8", PointState.DONE: "#2e7d32",
                PointState.NOT_DONE: "#5f6b76", PointState.UPCOMING: "#33414e", PointState.WAITING: "#8a94a0"}
VITAL_LABELS = {"temperature": ("Temperature °C", "Température °C"),
                "heart_rate": ("Heart rate /min", "Fréq. cardiaque /min"),
                "systolic_bp": ("Systolic mmHg", "Systolique mmHg"),
                "diastolic_bp": ("Diastolic mmHg", "Diastolique mmHg"),
                "respiratory_rate": ("Resp. rate /min", "Fréq. resp. /min"), "spo2": ("SpO2 %", "SpO2 %")}


def _mmss(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


class TrendPlot(QWidget):
    """Vital signs over the infusion day: one line per measure, time on the x axis. People look rather than read."""

    SERIES = (("temperature", "#b00020", Decimal(35), Decimal(41)),
              ("heart_rate", "#1f5fa8", Decimal(40), Decimal(160)),
              ("systolic_bp", "#2e7d32", Decimal(60), Decimal(200)),
              ("diastolic_bp", "#7cb342", Decimal(30), Decimal(130)),
              ("spo2", "#6a1b9a", Decimal(80), Decimal(100)))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(200)
        self.points: list[tuple[float, dict[str, Any]]] = []  # minutes since the first reading, values

    def set_readings(self, readings: list[tuple[dt.time, dict[str, Any]]]) -> None:
        if not readings:
            self.points = []
        else:
            first = dt.datetime.combine(dt.date(2000, 1, 1), readings[0][0])
            self.points = [((dt.datetime.combine(dt.date(2000, 1, 1), t) - first).total_seconds() / 60, v)
                           for t, v in readings]
        self.update()

    def paintEvent(self, _event: Any) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect()).adjusted(20, 12, -170, -28)
        painter.fillRect(self.rect(), QColor("white"))
        painter.setPen(QPen(QColor("#d5dbe1"), 1))
        painter.drawRect(area)
        if len(self.points) < 1:
            painter.setPen(QColor("#5f6b76"))
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, tr("No reading yet", "Aucune mesure"))
            return
        span = max(30.0, self.points[-1][0])
        painter.setPen(QColor("#5f6b76"))
        for minute in range(0, int(span) + 1, 30 if span <= 180 else 60):
            x = area.left() + area.width() * minute / span
            painter.drawLine(QPointF(x, area.bottom()), QPointF(x, area.bottom() + 4))
            painter.drawText(QPointF(x - 10, area.bottom() + 18), f"{minute}′")
        legend_y = area.top() + 4
        for item, color, low, high in self.SERIES:
            path = QPainterPath()
            started = False
            pen = QPen(QColor(color), 2.5)
            painter.setPen(pen)
            for minute, values in self.points:
                value = values.get(item)
                if value is None:
                    continue
                x = area.left() + area.width() * minute / span
                fraction = float((Decimal(value) - low) / (high - low))
                y = area.bottom() - area.height() * min(1.0, max(0.0, fraction))
                painter.drawEllipse(QPointF(x, y), 3.5, 3.5)
                if started:
                    path.lineTo(x, y)
                else:
                    path.moveTo(x, y)
                    started = True
            painter.drawPath(path)
            last = next((v.get(item) for _, v in reversed(self.points) if v.get(item) is not None), None)
            painter.drawText(QPointF(area.right() + 10, legend_y + 12),
                             f"{tr(*VITAL_LABELS[item]).split()[0]} {last if last is not None else '—'}")
            legend_y += 22


class BedsideWindow(QDialog):
    """One subject's infusion day. ``tick`` runs every second (tests call it directly)."""

    status_line_changed = Signal(str)

    def __init__(self, ws: Workspace, subject: str, parent: QWidget | None = None, *, ops: Ops | None = None) -> None:
        super().__init__(parent)
        self.ops = ops if ops is not None else Ops(self)
        self.setObjectName("bedside")
        self.setStyleSheet(BEDSIDE_STYLE)
        self.ws = ws
        self.study = ws.study
        self.vs = ws.study.bindings.infusion_day.vital_signs  # which items hold the six measures
        self.subject = subject
        self.bedside = ws.bedside
        self.resize(1280, 800)
        self.state: BedsideState | None = None
        self.selected_point: str | None = None
        self.ask_text = self._ask_text  # (title, question) -> (text, ok); replaceable in tests
        outer = QVBoxLayout(self)
        outer.addLayout(self._header())
        self.tabs = QTabWidget()
        self.tabs.addTab(self._check_tab(), "")
        self.tabs.addTab(self._vitals_tab(), "")
        self.tabs.addTab(self._after_tab(), "")
        outer.addWidget(self.tabs, 1)
        self.ticker = QTimer(self)
        self.ticker.setInterval(1000)
        self.ticker.timeout.connect(self.tick)
        self.ticker.start()
        QShortcut(QKeySequence("Ctrl+S"), self, self.save_vitals)
        self.retranslate()
        self.reload()

    # ----- building ---------------------------------------------------------------------------------------------
    def _header(self) -> QHBoxLayout:
        row = QHBoxLayout()
        left = QVBoxLayout()
        self.identity = QLabel(objectName="identity")
        left.addWidget(self.identity)
        self.product_line = QLabel(objectName="subtitle")
        self.product_line.setWordWrap(True)
        left.addWidget(self.product_line)
        row.addLayout(left, 1)
        self.phase = QLabel(objectName="phase")
        row.addWidget(self.phase)
        self.clock = QLabel("00:00", objectName="clock")
        self.clock.setMinimumWidth(200)
        self.clock.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.clock)
        self.correct_button = QPushButton(objectName="correct")
        self.correct_button.clicked.connect(self.correct_time)
        row.addWidget(self.correct_button)
        self.timer_buttons: dict[T.Kind, QPushButton] = {}
        for kind in T.Kind:
            button = QPushButton(objectName="timerButton")
            button.clicked.connect(lambda _c=False, k=kind: self.timer_action(k))
            self.timer_buttons[kind] = button
            row.addWidget(button)
        return row

    def _panel(self, title_attr: str) -> tuple[QFrame, QVBoxLayout]:
        frame = QFrame(objectName="panel")
        layout = QVBoxLayout(frame)
        title = QLabel(objectName="panelTitle")
        setattr(self, title_attr, title)
        layout.addWidget(title)
        return frame, layout

    def _check_tab(self) -> QWidget:
        page = QWidget()
        layout = QHBoxLayout(page)
        frame, box = self._panel("check_title")
        grid = QGridLayout()
        self.identity_box = QCheckBox(objectName="identityConfirmed")
        grid.addWidget(self.identity_box, 0, 0, 1, 2)
        self.check_fields: dict[str, QLineEdit] = {}
        self.check_labels: dict[str, QLabel] = {}
        for row, key in enumerate(("weight", "bag", "lot", "cells", "use_by", "premed"), start=1):
            label = QLabel(objectName="vitalLabel")
            edit = QLineEdit(objectName=f"check_{key}")
            self.check_labels[key] = label
            self.check_fields[key] = edit
            grid.addWidget(label, row, 0)
            grid.addWidget(edit, row, 1)
            edit.textChanged.connect(self._update_dose)
        self.cohort_label = QLabel(objectName="vitalLabel")
        grid.addWidget(self.cohort_label, 7, 0)
        cohorts = QHBoxLayout()
        self.cohort_group = QButtonGroup(self)
        self.cohort_buttons: dict[str, QRadioButton] = {}
        for code in ("1", "2", "4"):
            button = QRadioButton(f"{code} x10^6/kg")
            self.cohort_group.addButton(button)
            self.cohort_buttons[code] = button
            cohorts.addWidget(button)
            button.toggled.connect(self._update_dose)
        grid.addLayout(cohorts, 7, 1)
        box.addLayout(grid)
        self.dose_line = QLabel(objectName="next")
        self.dose_line.setWordWrap(True)
        box.addWidget(self.dose_line)
        self.record_check_button = QPushButton(objectName="big")
        self.record_check_button.clicked.connect(self.record_check)
        box.addWidget(self.record_check_button)
        baseline = QHBoxLayout()
        self.baseline_line = QLabel(objectName="next")
        baseline.addWidget(self.baseline_line, 1)
        self.baseline_button = QPushButton(objectName="big")
        self.baseline_button.clicked.connect(self.go_to_baseline)
        baseline.addWidget(self.baseline_button)
        box.addLayout(baseline)
        box.addStretch(1)
        layout.addWidget(frame, 3)
        second, second_box = self._panel("second_title")
        self.second_note = QLabel(objectName="subtitle")
        self.second_note.setWordWrap(True)
        second_box.addWidget(self.second_note)
        self.second_user = QLineEdit(objectName="secondUser")
        self.second_password = QLineEdit(objectName="secondPassword")
        self.second_password.setEchoMode(QLineEdit.EchoMode.Password)
        second_box.addWidget(self.second_user)
        second_box.addWidget(self.second_password)
        self.second_button = QPushButton(objectName="big")
        self.second_button.clicked.connect(self.second_check)
        self.second_password.returnPressed.connect(self.second_check)
        second_box.addWidget(self.second_button)
        self.second_status = QLabel(objectName="next")
        self.second_status.setWordWrap(True)
        second_box.addWidget(self.second_status)
        second_box.addStretch(1)
        layout.addWidget(second, 2)
        return page

    def _vitals_tab(self) -> QWidget:
        page = QWidget()
        layout = QHBoxLayout(page)
        frame, box = self._panel("schedule_title")
        self.next_label = QLabel(objectName="next")
        self.next_label.setWordWrap(True)
        box.addWidget(self.next_label)
        self.schedule_list = QListWidget(objectName="schedule")
        self.schedule_list.itemClicked.connect(self._pick_point)
        box.addWidget(self.schedule_list, 1)
        self.not_done_button = QPushButton(objectName="big")
        self.not_done_button.clicked.connect(self.mark_not_done)
        box.addWidget(self.not_done_button)
        layout.addWidget(frame, 2)
        right = QVBoxLayout()
        entry, entry_box = self._panel("entry_title")
        grid = QGridLayout()
        self.vital_fields: dict[str, QLineEdit] = {}
        self.vital_labels: dict[str, QLabel] = {}
        for n, item in enumerate(self.vs.readings()):
            label = QLabel(objectName="vitalLabel")
            edit = QLineEdit(objectName="vital")
            edit.setObjectName("vital")
            edit.setProperty("item", item)
            edit.textEdited.connect(lambda text, i=item: self._typed(i, text))
            edit.returnPressed.connect(self.save_vitals)
            self.vital_labels[item] = label
            self.vital_fields[item] = edit
            grid.addWidget(label, 0, n)
            grid.addWidget(edit, 1, n)
        entry_box.addLayout(grid)
        buttons = QHBoxLayout()
        self.save_button = QPushButton(objectName="primary")
        self.save_button.setMinimumHeight(52)
        self.save_button.clicked.connect(self.save_vitals)
        buttons.addWidget(self.save_button)
        entry_box.addLayout(buttons)
        self.flags_box = QVBoxLayout()
        entry_box.addLayout(self.flags_box)
        right.addWidget(entry)
        plot, plot_box = self._panel("plot_title")
        self.plot = TrendPlot()
        plot_box.addWidget(self.plot)
        right.addWidget(plot, 1)
        layout.addLayout(right, 3)
        return page

    def _after_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        frame, box = self._panel("after_title")
        self.tolerance_state = QLabel(objectName="next")
        self.tolerance_state.setWordWrap(True)
        box.addWidget(self.tolerance_state)
        self.days_list = QListWidget(objectName="schedule")
        box.addWidget(self.days_list, 1)
        self.open_tolerance = QPushButton(objectName="big")
        tolerance = self.study.bindings.tolerance
        self.open_tolerance.clicked.connect(
            lambda: self._open_form(FormRef(self.subject, tolerance.event or "", tolerance.form)))
        box.addWidget(self.open_tolerance)
        layout.addWidget(frame)
        return page

    def retranslate(self) -> None:
        self.setWindowTitle(tr(f"Infusion day — subject {self.subject}", f"Jour de perfusion — patient {self.subject}"))
        self.tabs.setTabText(0, tr("1. Identity and product", "1. Identité et produit"))
        self.tabs.setTabText(1, tr("2. Infusion and vital signs", "2. Perfusion et signes vitaux"))
        self.tabs.setTabText(2, tr("3. Days 1-10", "3. Jours 1-10"))
        labels = {T.Kind.START: ("Start", "Démarrer"), T.Kind.PAUSE: ("Pause…", "Pause…"),
                  T.Kind.RESUME: ("Resume", "Reprendre"), T.Kind.STOP: ("Stop", "Arrêter")}
        for kind, button in self.timer_buttons.items():
            button.setText(tr(*labels[kind]))
        self.check_title.setText(tr("Identity and product check", "Vérification de l'identité et du produit"))
        self.identity_box.setText(tr("I checked the subject's number, initials and year of birth against the wristband",
                                     "J'ai vérifié le numéro, les initiales et l'année de naissance sur le bracelet"))
        for key, (en, fr) in {"weight": ("Weight today (kg)", "Poids du jour (kg)"),
                              "bag": ("Product bag id", "Identifiant de la poche"), "lot": ("Lot", "Lot"),
                              "cells": ("Labelled viable cells (x10^6)", "Cellules viables étiquetées (x10^6)"),
                              "use_by": ("Use by (dd/mm/yyyy hh:mm)", "À utiliser avant (jj/mm/aaaa hh:mm)"),
                              "premed": ("Premedication", "Prémédication")}.items():
            self.check_labels[key].setText(tr(en, fr))
        self.cohort_label.setText(tr("Dose cohort", "Cohorte de dose"))
        self.correct_button.setText(tr("Correct a time…", "Corriger une heure…"))
        self.baseline_button.setText(tr("Baseline vital signs…", "Signes vitaux de référence…"))
        self.record_check_button.setText(tr("Record the check", "Enregistrer la vérification"))
        self.second_title.setText(tr("Second person", "Seconde personne"))
        self.second_note.setText(tr("A second member of staff checks the product against the prescription and signs "
                                    "in here to confirm.",
                                    "Une seconde personne vérifie le produit avec la prescription et se connecte ici "
                                    "pour confirmer."))
        self.second_user.setPlaceholderText(tr("User name", "Nom d'utilisateur"))
        self.second_password.setPlaceholderText(tr("Password", "Mot de passe"))
        self.second_button.setText(tr("Confirm the check", "Confirmer la vérification"))
        self.schedule_title.setText(tr("Vital signs schedule", "Calendrier des signes vitaux"))
        self.not_done_button.setText(tr("Reading not done…", "Mesure non faite…"))
        self.entry_title.setText(tr("Reading", "Mesure"))
        names = dict(zip(self.vs.readings(), MEASURES, strict=True))
        for item, label in self.vital_labels.items():
            label.setText(tr(*VITAL_LABELS[names[item]]))
        self.save_button.setText(tr("Save the reading (Enter)", "Enregistrer la mesure (Entrée)"))
        self.plot_title.setText(tr("Trend", "Évolution"))
        self.after_title.setText(tr("Tolerance follow-up D1-D10", "Suivi de tolérance J1-J10"))
        self.open_tolerance.setText(tr("Open the D1-D10 form", "Ouvrir le formulaire J1-J10"))
        if self.state is not None:
            self.render_state()

    # ----- data -----------------------------------------------------------------------------------------------------
    def rebind(self, ws: Workspace) -> None:
        """Another user took over the workstation: the screen stays, acting for them from now on."""
        self.ws = ws
        self.bedside = ws.bedside
        self.reload()

    def reload(self) -> None:
        try:
            self.state = self.bedside.state(self.subject)
        except CrfError as exc:
            QMessageBox.warning(self, self.windowTitle(), error_text(exc))
            return
        typed = self.bedside.typed(self.subject)
        for item, edit in self.vital_fields.items():
            if item in typed and not edit.text():
                edit.setText(typed[item])
        self.render_state()

    def _now(self) -> T.Now:
        clock = self.ws.site.clock
        return T.Now(clock.now(), clock.monotonic(), clock.boot_id())

    def current(self) -> tuple[T.TimerState, list[PlannedPoint]]:
        assert self.state is not None
        now = self._now()
        timer = T.compute(self.state.timer_events, now, self.bedside.protocol)
        done = {r.timepoint for r in self.state.readings if r.timepoint}
        points = schedule(self.bedside.protocol, timer.started, timer.stopped, now.wall, done=done,
                          not_done=set(self.state.not_done))
        return timer, points

    def tick(self) -> None:
        """Once a second: the clock, the countdowns, what is due. No database access."""
        if self.state is None:
            return
        timer, points = self.current()
        self.clock.setText(_mmss(timer.running_seconds))
        self.phase.setText(T.phase_label(timer.phase).get())
        self.phase.setStyleSheet(f"background: {PHASE_COLORS[timer.phase]};")
        allowed = T.ALLOWED[timer.phase]
        for kind, button in self.timer_buttons.items():
            button.setEnabled(kind in allowed)
            button.setVisible(kind in allowed or (kind is T.Kind.START and timer.phase is T.Phase.NOT_STARTED))
        self._render_points(points)
        status = self.status_line(timer, points)
        self.status_line_changed.emit(status)

    def status_line(self, timer: T.TimerState | None = None, points: list[PlannedPoint] | None = None) -> str:
        """One line for the lock screen: no identity, just what is running and what is due."""
        if timer is None or points is None:
            if self.state is None:
                return ""
            timer, points = self.current()
        if timer.phase is T.Phase.NOT_STARTED and not any(p.state is PointState.OVERDUE for p in points):
            return ""
        nxt = next_point(points)
        text = (tr("Infusion ", "Perfusion ") + T.phase_label(timer.phase).get().lower()
                + f" {_mmss(timer.running_seconds)}")
        if nxt is not None:
            text += " · " + self._point_text(nxt)
        return text

    def _point_text(self, p: PlannedPoint) -> str:
        if p.state is PointState.OVERDUE:
            return tr(f"{p.label.en}: OVERDUE by {_mmss(-(p.seconds_to_due or 0))}",
                      f"{p.label.fr} : EN RETARD de {_mmss(-(p.seconds_to_due or 0))}")
        if p.state is PointState.DUE:
            return tr(f"{p.label.en}: due now", f"{p.label.fr} : à faire maintenant")
        if p.state is PointState.UPCOMING and p.seconds_to_due is not None:
            return tr(f"{p.label.en} in {_mmss(p.seconds_to_due)}", f"{p.label.fr} dans {_mmss(p.seconds_to_due)}")
        return p.label.get()

    def _render_points(self, points: list[PlannedPoint]) -> None:
        offset = dt.timedelta(minutes=self.ws.site.clock.local_offset_minutes())
        selected = self.selected_point
        self.schedule_list.blockSignals(True)
        self.schedule_list.clear()
        for p in points:
            planned = f"{(p.planned + offset):%H:%M}" if p.planned is not None else "--:--"
            state = {PointState.DONE: tr("done", "faite"), PointState.NOT_DONE: tr("not done", "non faite"),
                     PointState.WAITING: tr("later", "plus tard")}.get(p.state)
            text = f"{planned}   {self._point_text(p) if state is None else p.label.get() + ' — ' + state}"
            item = QListWidgetItem(text)
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
            if p.point.id == selected:
                item.setSelected(True)
        self.schedule_list.blockSignals(False)
        nxt = next_point(points)
        if nxt is None:
            self.next_label.setText(tr("No reading due.", "Aucune mesure à faire."))
            self.next_label.setStyleSheet("background: #eef2f6;")
        else:
            self.next_label.setText(self._point_text(nxt))
            color = {PointState.OVERDUE: "#fdecea", PointState.DUE: "#e8f0fb"}.get(nxt.state, "#eef2f6")
            self.next_label.setStyleSheet(f"background: {color}; color: {POINT_COLORS[nxt.state]};")
            if self.selected_point is None or self.selected_point in {
                    p.point.id for p in points if p.state in (PointState.DONE, PointState.NOT_DONE)}:
                self.selected_point = nxt.point.id if nxt.state in (PointState.DUE, PointState.OVERDUE) else None
        self.entry_title.setText(tr("Reading", "Mesure") + (f" — {self.selected_point}" if self.selected_point
                                                            else tr(" — extra", " — supplémentaire")))

    def render_state(self) -> None:
        assert self.state is not None
        s = self.state
        self.identity.setText(f"{s.subject} · {s.initials} · {s.birth_year}")
        if s.product is None:
            self.product_line.setText(tr("Product not checked yet", "Produit non encore vérifié"))
        else:
            d = s.product.detail
            second = (tr(" · confirmed by ", " · confirmé par ") + s.product.second_by) if s.product.second_by else \
                tr(" · waiting for the second person", " · en attente de la seconde personne")
            self.product_line.setText(tr(f"Bag {d.get('bag_id')} · lot {d.get('lot')} · checked by {s.product.by}",
                                         f"Poche {d.get('bag_id')} · lot {d.get('lot')} · vérifiée par "
                                         f"{s.product.by}") + second)
            self.second_status.setText(second.strip(" ·"))
            # Show what was recorded (a new check can still be recorded over it, and both stay in the record).
            recorded = {"weight": d.get("weight_kg"), "bag": d.get("bag_id"), "lot": d.get("lot"),
                        "cells": d.get("labelled_cells_e6"), "premed": d.get("premedication")}
            use_by = d.get("use_by")
            if use_by:
                recorded["use_by"] = dt.datetime.fromisoformat(str(use_by)).strftime("%d/%m/%Y %H:%M")
            for key, value in recorded.items():
                if value is not None and not self.check_fields[key].text():
                    self.check_fields[key].setText(str(value).replace(".", ",") if key in ("weight", "cells")
                                                   and current_lang().value == "fr" else str(value))
            cohort = self.cohort_buttons.get(str(d.get("cohort")))
            if cohort is not None:
                cohort.setChecked(True)
            self.identity_box.setChecked(True)
            local = s.product.at + dt.timedelta(minutes=self.ws.site.clock.local_offset_minutes())
            self.record_check_button.setText(tr(f"Recorded at {local:%H:%M} by {s.product.by} — record again",
                                                f"Enregistrée à {local:%H:%M} par {s.product.by} — enregistrer à "
                                                "nouveau"))
        self.plot.set_readings([(r.time, self.vs.by_name(r.values)) for r in s.readings if r.time is not None])
        self.correct_button.setVisible(bool(s.timer_events))
        base = next((r for r in s.readings if r.timepoint == BASELINE), None)
        if base is not None:
            self.baseline_line.setText(tr(f"Baseline vital signs recorded at {base.time:%H:%M}",
                                          f"Signes vitaux de référence saisis à {base.time:%H:%M}"))
            self.baseline_line.setStyleSheet("background: #e8f5e9; color: #2e7d32;")
        elif BASELINE in s.not_done:
            self.baseline_line.setText(tr("Baseline vital signs not done", "Signes vitaux de référence non faits"))
            self.baseline_line.setStyleSheet("background: #eef2f6;")
        else:
            self.baseline_line.setText(tr("Baseline vital signs: to do before the start",
                                          "Signes vitaux de référence : à faire avant le début"))
            self.baseline_line.setStyleSheet("background: #e8f0fb; color: #1f5fa8;")
        self._render_flags()
        self._render_after()
        self.tick()

    def _render_flags(self) -> None:
        assert self.state is not None
        while self.flags_box.count():
            widget = self.flags_box.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        if not self.state.readings:
            return
        last = self.state.readings[-1]
        for flag in last.flags:
            row = QWidget()
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            label = QLabel("⚠ " + flag.message.get(), objectName="flag")
            line.addWidget(label, 1)
            button = QPushButton(tr(f"Adverse event: {flag.ae_term}…", f"Événement indésirable : {flag.ae_term}…"),
                                 objectName="aeButton")
            button.clicked.connect(lambda _c=False, f=flag: self.open_adverse_event(f))
            line.addWidget(button)
            self.flags_box.addWidget(row)

    def _render_after(self) -> None:

        try:
            overview = self.ws.overview.subject(self.subject)
            tolerance = self.study.bindings.tolerance
            snap = self.bedside.entry.open_form(FormRef(self.subject, tolerance.event or "", tolerance.form))
        except CrfError:
            return
        result = overview.scores.overall.get("not_tolerated_all")
        if result is None or not result.computable:
            reason = result.reason.get() if result is not None and result.reason else ""
            self.tolerance_state.setText(tr("Tolerance: not decided yet", "Tolérance : pas encore déterminée")
                                         + (f" ({reason})" if reason else ""))
            self.tolerance_state.setStyleSheet("background: #eef2f6;")
        elif result.value:
            drivers = ", ".join(p.label.get() for p in result.breakdown)
            self.tolerance_state.setText(tr("NOT TOLERATED: ", "NON TOLÉRÉE : ") + drivers)
            self.tolerance_state.setStyleSheet("background: #fdecea; color: #b00020;")
        else:
            self.tolerance_state.setText(tr("Tolerated so far (no grade >= 3 since D0)",
                                            "Tolérée jusqu'ici (aucun grade >= 3 depuis J0)"))
            self.tolerance_state.setStyleSheet("background: #e8f5e9; color: #2e7d32;")
        group = tolerance.group or ""
        days = {snap.state.value((group, r, tolerance.day)): r for r in snap.state.rows[group]}
        self.days_list.clear()
        day0 = overview.scores.day0
        for day in range(1, 11):
            when = f"{(day0 + dt.timedelta(days=day)):%d/%m}" if day0 else ""
            done = day in days
            item = QListWidgetItem(tr(f"D{day} {when}: ", f"J{day} {when} : ") +
                                   (tr("recorded", "saisi") if done else tr("to do", "à faire")))
            item.setForeground(QColor("#2e7d32" if done else "#33414e"))
            self.days_list.addItem(item)

    # ----- actions ------------------------------------------------------------------------------------------------
    def _fail(self, exc: CrfError) -> None:
        QMessageBox.warning(self, self.windowTitle(), error_text(exc))

    def _update_dose(self) -> None:
        from msc_sle_crf.infusion.vitals import dose_check

        cohort = next((c for c, b in self.cohort_buttons.items() if b.isChecked()), None)
        try:
            dose, infusion = self.study.bindings.infusion_day.dose, self.study.bindings.infusion_day.infusion
            weight = V.parse_number(self.check_fields["weight"].text(), self.study.forms[dose.form].item(dose.weight))
            cells = V.parse_number(self.check_fields["cells"].text(),
                                   self.study.forms[infusion.form].item(infusion.cells))
        except V.ParseError:
            weight = cells = None
        if cohort is None or weight is None:
            self.dose_line.setText(tr("Enter the weight and the cohort to see the planned dose.",
                                      "Saisir le poids et la cohorte pour voir la dose prévue."))
            self.dose_line.setStyleSheet("background: #eef2f6;")
            return
        planned = Decimal(cohort) * Decimal(weight)
        text = tr(f"Planned: {planned} x10^6 viable cells", f"Prévu : {planned} x10^6 cellules viables")
        style = "background: #eef2f6;"
        if cells is not None:
            check = dose_check(Decimal(cohort), Decimal(weight), Decimal(cells), self.bedside.protocol)
            text += tr(f" · labelled {cells} ({check.difference_percent:+} %)",
                       f" · étiqueté {cells} ({check.difference_percent:+} %)")
            if not check.within_tolerance:
                text += tr(f" — MISMATCH beyond {self.bedside.protocol.dose_tolerance_percent} %: check with the "
                           "investigator", f" — ÉCART au-delà de {self.bedside.protocol.dose_tolerance_percent} % : "
                           "voir avec l'investigateur")
                style = "background: #fdecea; color: #b00020;"
            else:
                style = "background: #e8f5e9; color: #2e7d32;"
        use_by = self.check_fields["use_by"].text().strip()
        if use_by:
            try:
                limit = V.parse_datetime(use_by)
            except V.ParseError:
                limit = None
            now = self.bedside._local(self._now().wall)
            if limit is not None and limit < now:
                text += tr(" — PRODUCT EXPIRED: do not infuse; call the investigator",
                           " — PRODUIT PÉRIMÉ : ne pas perfuser ; appeler l'investigateur")
                style = "background: #fdecea; color: #b00020;"
        self.dose_line.setText(text)
        self.dose_line.setStyleSheet(style)

    def go_to_baseline(self) -> None:
        self.selected_point = BASELINE
        self.tabs.setCurrentIndex(1)
        self.vital_fields[self.vs.temperature].setFocus()
        self.tick()

    def correct_time(self) -> None:
        """Change the clock time of a timer event (e.g. the pump's clock was right), with a reason."""
        if self.state is None or not self.state.timer_events:
            return
        offset = dt.timedelta(minutes=self.ws.site.clock.local_offset_minutes())
        choices = [f"{e.id}: {T.phase_label(T.Phase.RUNNING).get() if e.kind is T.Kind.START else e.kind.value} "
                   f"{(e.wall + offset):%H:%M}" for e in self.state.timer_events]
        choice, ok = QInputDialog.getItem(self, tr("Correct a time", "Corriger une heure"),
                                          tr("Which event?", "Quel événement ?"), choices, 0, False)
        if not ok:
            return
        new_time, ok = self.ask_text(tr("Correct a time", "Corriger une heure"), tr("Actual time (hh:mm)",
                                                                                    "Heure réelle (hh:mm)"))
        if not ok:
            return
        reason, ok = self.ask_text(tr("Reason for change", "Motif de modification"), tr("Why?", "Pourquoi ?"))
        if not ok:
            return
        try:
            self.bedside.correct_time(self.subject, int(choice.split(":")[0]), new_time, reason)
        except CrfError as exc:
            self._fail(exc)
            return
        self.reload()

    def record_check(self) -> None:
        cohort = next((c for c, b in self.cohort_buttons.items() if b.isChecked()), "")
        f = self.check_fields
        try:
            self.bedside.product_check(self.subject, identity_confirmed=self.identity_box.isChecked(),
                                       weight_kg=f["weight"].text(), cohort=cohort, bag_id=f["bag"].text(),
                                       lot=f["lot"].text(), labelled_cells_e6=f["cells"].text(),
                                       use_by=f["use_by"].text(), premedication=f["premed"].text())
        except CrfError as exc:
            self._fail(exc)
            return
        self.reload()

    def second_check(self) -> None:
        try:
            self.bedside.second_check(self.subject, self.second_user.text().strip(), self.second_password.text())
        except CrfError as exc:
            self.second_status.setText(error_text(exc))
            self.second_status.setStyleSheet("background: #fdecea; color: #b00020;")
            return
        finally:
            self.second_password.clear()
        self.second_status.setStyleSheet("background: #e8f5e9; color: #2e7d32;")
        self.reload()

    def timer_action(self, kind: T.Kind, reason: str | None = None) -> None:
        if kind is T.Kind.PAUSE and reason is None:
            question = tr("Why is the infusion paused?", "Pourquoi la perfusion est-elle en pause ?")
            reason, ok = self.ask_text(tr("Pause", "Pause"), question)
            if not ok:
                return
        try:
            self.bedside.timer(self.subject, kind, reason)
        except CrfError as exc:
            self._fail(exc)
            return
        self.reload()
        timer = self.state.timer if self.state else None
        if kind is T.Kind.STOP and timer is not None and timer.deviation is not None:
            text, ok = self.ask_text(tr("Protocol deviation", "Déviation au protocole"), timer.deviation.get())
            if ok and text.strip():
                try:
                    self.bedside.comment(self.subject, text)
                except CrfError as exc:
                    self._fail(exc)

    def _pick_point(self, item: QListWidgetItem) -> None:
        self.selected_point = item.data(Qt.ItemDataRole.UserRole)
        self.vital_fields[self.vs.temperature].setFocus()
        self.tick()

    def _typed(self, item: str, text: str) -> None:
        with contextlib.suppress(CrfError):  # a refusal is shown when the reading is saved
            self.bedside.save_typed(self.subject, item, text)

    def save_vitals(self, *, confirm: bool = False) -> bool:
        values = {item: edit.text() for item, edit in self.vital_fields.items() if edit.text().strip()}
        if not values:
            return False
        from msc_sle_crf.services.entry import SoftCheckNeedsConfirmation

        try:
            self.bedside.record_vitals(self.subject, self.selected_point, values, confirm=confirm)
        except SoftCheckNeedsConfirmation as exc:
            answer = QMessageBox.question(self, tr("Unusual value", "Valeur inhabituelle"),
                                          error_text(exc) + "\n\n" + tr("Save it as measured?",
                                                                        "L'enregistrer telle que mesurée ?"))
            if answer == QMessageBox.StandardButton.Yes:
                return self.save_vitals(confirm=True)
            return False
        except CrfError as exc:
            self._fail(exc)
            return False
        for edit in self.vital_fields.values():
            edit.clear()
        self.selected_point = None
        self.reload()
        self.vital_fields[self.vs.temperature].setFocus()
        return True

    def mark_not_done(self) -> None:
        if not self.selected_point:
            return
        reason, ok = self.ask_text(tr("Reading not done", "Mesure non faite"), tr("Why?", "Pourquoi ?"))
        if not ok:
            return
        try:
            self.bedside.not_done(self.subject, self.selected_point, reason)
        except CrfError as exc:
            self._fail(exc)
            return
        self.selected_point = None
        self.reload()

    def open_adverse_event(self, flag: Any) -> None:
        try:
            opened = self.bedside.prefill_adverse_event(self.subject, flag)
        except CrfError as exc:
            self._fail(exc)
            return
        window = self._open_form(opened.ref)
        if window is not None:
            window.focus_cell(opened.grade_key)

    def _open_form(self, ref: FormRef) -> Any:
        from msc_sle_crf.ui.form_view import FormWindow

        try:
            window = FormWindow(self.ws, ref, self, ops=self.ops)
        except CrfError as exc:
            self._fail(exc)
            return None
        window.finished.connect(lambda _r: self.reload())
        self.last_form = window
        window.open()
        return window

    def _ask_text(self, title: str, question: str) -> tuple[str, bool]:
        text, ok = QInputDialog.getText(self, title, question)
        return text, ok

    def save_draft(self) -> None:
        """Before another user takes over: the quick-entry fields are already kept at every keystroke."""

    def closeEvent(self, event: Any) -> None:
        self.ticker.stop()
        super().closeEvent(event)


def open_bedside(ws: Workspace, subject: str, parent: QWidget | None = None) -> BedsideWindow:
    window = BedsideWindow(ws, subject, parent)
    window.show()
    return window


__all__ = ["BedsideWindow", "TrendPlot", "current_lang", "open_bedside"]
