"""The bedside screen of the infusion day: identity and product check (two people), the infusion timer, the
vital-sign schedule with countdowns and alerts, quick entry, a trend plot, and the D1-D10 follow-up.

Everything shown is computed from the database and the clock once a second; every action is saved at once
through the service layer. Closing, locking, switching user or a crash loses nothing.

The window is the controller of the room: its parts (``check_tab``, ``timer_panel``, ``vitals_panel``,
``after_tab``) show what it gives them and ask for actions by signal; the window runs each write through
``ops.run`` (a refusal is shown one way) and redraws from change records: any write that touches this subject,
from this screen or another one sharing the same ``Ops`` (a form window, the casebook), reloads it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QHBoxLayout, QInputDialog, QLabel, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from msc_sle_crf.clock import Clock, local_now
from msc_sle_crf.errors import CrfError
from msc_sle_crf.formdef.engine import CellKey
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.infusion.vitals import Flag, PlannedPoint, PointState, next_point, schedule
from msc_sle_crf.services.bedside import BASELINE, BedsideState
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.entry import FormRef, SoftCheckNeedsConfirmation
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.ui.bedside.after_tab import AfterTab
from msc_sle_crf.ui.bedside.check_tab import CheckTab, ProductEntry
from msc_sle_crf.ui.bedside.plot import TrendPlot
from msc_sle_crf.ui.bedside.style import BEDSIDE_STYLE, mmss, stored_time
from msc_sle_crf.ui.bedside.timer_panel import TimerPanel
from msc_sle_crf.ui.bedside.vitals_panel import VitalsPanel, point_text
from msc_sle_crf.ui.common import error_text, named, tr
from msc_sle_crf.ui.ops import Ops, show_error

TOLERANCE_SCORE = "not_tolerated_all"  # the tolerance decision shown on tab 3 (scoring.endpoint)

AskText = Callable[[str, str], tuple[str, bool]]  # (title, question) -> (text, ok)
R = TypeVar("R")


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
        self.last_form: QDialog | None = None  # the form window opened last (a ui.form.FormWindow)
        self._closed = False  # done(): change records no longer reload this screen
        self.ask_text: AskText = self._ask_text  # replaceable in tests
        outer = QVBoxLayout(self)
        outer.addLayout(self._header())
        self.check_tab = CheckTab(ws.study, ws.bedside.protocol, lambda: local_now(self._clock()))
        self.vitals_panel = VitalsPanel(self.vs)
        self.after_tab = AfterTab(ws.study.bindings.tolerance)
        self.tabs = QTabWidget()
        for tab in (self.check_tab, self.vitals_panel, self.after_tab):
            self.tabs.addTab(tab, "")
        outer.addWidget(self.tabs, 1)
        self._expose_parts()
        self._connect_parts()
        self.ticker = QTimer(self)
        self.ticker.setInterval(1000)
        self.ticker.timeout.connect(self.tick)
        self.ticker.start()
        QShortcut(QKeySequence("Ctrl+S"), self, self.save_vitals)
        self.ops.data_changed.connect(self._data_changed)
        self.retranslate()
        self.reload()

    # ----- building ---------------------------------------------------------------------------------------------
    def _header(self) -> QHBoxLayout:
        row = QHBoxLayout()
        left = QVBoxLayout()
        self.identity = named(QLabel(), "identity")
        left.addWidget(self.identity)
        self.product_line = named(QLabel(), "subtitle")
        self.product_line.setWordWrap(True)
        left.addWidget(self.product_line)
        row.addLayout(left, 1)
        self.timer_panel = TimerPanel()
        row.addWidget(self.timer_panel)
        return row

    def _expose_parts(self) -> None:
        """The widgets tests, screenshots and the lock screen reach through the window (as before the split)."""
        c, v = self.check_tab, self.vitals_panel
        self.phase, self.clock = self.timer_panel.phase, self.timer_panel.clock
        self.timer_buttons, self.correct_button = self.timer_panel.buttons, self.timer_panel.correct_button
        self.identity_box, self.check_fields, self.cohort_buttons = c.identity_box, c.check_fields, c.cohort_buttons
        self.dose_line, self.baseline_line = c.dose_line, c.baseline_line
        self.record_check_button = c.record_check_button
        self.second_user, self.second_password = c.second_user, c.second_password
        self.second_button, self.second_status = c.second_button, c.second_status
        self.next_label, self.schedule_list, self.vital_fields = v.next_label, v.schedule_list, v.vital_fields
        self.not_done_button = v.not_done_button
        self.flags_box, self.plot = v.flags_box, v.plot

    def _connect_parts(self) -> None:
        self.timer_panel.timer_requested.connect(self.timer_action)
        self.timer_panel.correct_requested.connect(self.correct_time)
        self.check_tab.check_requested.connect(self.record_check)
        self.check_tab.second_requested.connect(self.second_check)
        self.check_tab.baseline_requested.connect(self.go_to_baseline)
        self.vitals_panel.save_requested.connect(self.save_vitals)
        self.vitals_panel.not_done_requested.connect(self.mark_not_done)
        self.vitals_panel.typed.connect(self._typed)
        self.vitals_panel.adverse_event_requested.connect(self.open_adverse_event)
        self.vitals_panel.point_picked.connect(self._pick_point)
        self.after_tab.open_form_requested.connect(self.open_tolerance_form)

    def retranslate(self) -> None:
        self.setWindowTitle(tr(f"Infusion day — subject {self.subject}", f"Jour de perfusion — patient {self.subject}"))
        self.tabs.setTabText(0, tr("1. Identity and product", "1. Identité et produit"))
        self.tabs.setTabText(1, tr("2. Infusion and vital signs", "2. Perfusion et signes vitaux"))
        self.tabs.setTabText(2, tr("3. Days 1-10", "3. Jours 1-10"))
        for part in (self.timer_panel, self.check_tab, self.vitals_panel, self.after_tab):
            part.retranslate()
        if self.state is not None:
            self.render_state()

    # ----- data -----------------------------------------------------------------------------------------------------
    @property
    def selected_point(self) -> str | None:
        """The time point the next reading is for (None: an extra reading)."""
        return self.vitals_panel.selected_point

    @selected_point.setter
    def selected_point(self, point: str | None) -> None:
        self.vitals_panel.selected_point = point

    def _clock(self) -> Clock:
        return self.ws.site.clock

    def rebind(self, ws: Workspace) -> None:
        """Another user took over the workstation: the screen stays, acting for them from now on."""
        self.ws = ws
        self.bedside = ws.bedside
        self.reload()

    def _data_changed(self, changes: Changes) -> None:
        """A write (here or in another screen of this main window) touched this subject: redraw from the database."""
        if not self._closed and changes.touches(self.subject):
            self.reload()

    def reload(self) -> None:
        try:
            self.state = self.bedside.state(self.subject)
            typed = self.bedside.typed(self.subject)
        except CrfError as exc:
            show_error(self, self.windowTitle(), exc)
            return
        self.vitals_panel.restore_typed(typed)
        self.render_state()

    def render_state(self) -> None:
        assert self.state is not None
        s = self.state
        self.identity.setText(f"{s.subject} · {s.initials} · {s.birth_year}")
        self.product_line.setText(self.check_tab.show_product(s.product, self._clock()))
        self.check_tab.show_baseline(s.readings, list(s.not_done))
        self.vitals_panel.show_readings(s.readings)
        self.timer_panel.show_events(bool(s.timer_events))
        self._render_after()
        self.tick()

    def _render_after(self) -> None:
        tolerance = self.study.bindings.tolerance
        try:
            overview = self.ws.overview.subject(self.subject)
            snap = self.ws.entry.open_form(FormRef(self.subject, tolerance.event or "", tolerance.form))
        except CrfError as exc:
            self.after_tab.show_unreadable(error_text(exc))
            return
        self.after_tab.show_tolerance(overview.scores.overall.get(TOLERANCE_SCORE))
        self.after_tab.show_days(snap.state, overview.scores.day0)

    def _now(self) -> T.Now:
        clock = self._clock()
        return T.Now(clock.now(), clock.monotonic(), clock.boot_id())

    def current(self) -> tuple[T.TimerState, list[PlannedPoint]]:
        assert self.state is not None
        now = self._now()
        protocol = self.bedside.protocol
        timer = T.compute(self.state.timer_events, now, protocol)
        done = {r.timepoint for r in self.state.readings if r.timepoint}
        points = schedule(protocol, timer.started, timer.stopped, now.wall, done=done,
                          not_done=set(self.state.not_done))
        return timer, points

    def tick(self) -> None:
        """Once a second: the clock, the countdowns, what is due. No database access."""
        if self.state is None:
            return
        timer, points = self.current()
        self.timer_panel.show_timer(timer)
        self.vitals_panel.show_points(points, self._clock())
        self.status_line_changed.emit(self.status_line(timer, points))

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
                + f" {mmss(timer.running_seconds)}")
        if nxt is not None:
            text += " · " + point_text(nxt)
        return text

    # ----- actions: each write through ops.run (a refusal is shown there; the change record redraws) --------------
    def _run(self, write: Callable[[], R]) -> R | None:
        return self.ops.run(write, parent=self, title=self.windowTitle())

    def record_check(self, entry: ProductEntry | None = None) -> None:
        e = entry if entry is not None else self.check_tab.entry()
        self._run(lambda: self.bedside.product_check(
            self.subject, identity_confirmed=e.identity_confirmed, weight_kg=e.weight_kg, cohort=e.cohort,
            bag_id=e.bag_id, lot=e.lot, labelled_cells_e6=e.labelled_cells_e6, use_by=e.use_by,
            premedication=e.premedication))

    def second_check(self, username: str, password: str) -> None:
        """The second person's refusal is shown beside their sign-in, not in a message box."""
        done = self.ops.run(lambda: self.bedside.second_check(self.subject, username, password),
                            on_error=lambda exc: self.check_tab.second_refused(error_text(exc)))
        if done is not None:
            self.check_tab.second_confirmed()

    def go_to_baseline(self) -> None:
        self.selected_point = BASELINE
        self.tabs.setCurrentWidget(self.vitals_panel)
        self.vitals_panel.focus_entry()
        self.tick()

    def timer_action(self, kind: T.Kind, reason: str | None = None) -> None:
        if kind is T.Kind.PAUSE and reason is None:
            question = tr("Why is the infusion paused?", "Pourquoi la perfusion est-elle en pause ?")
            reason, ok = self.ask_text(tr("Pause", "Pause"), question)
            if not ok:
                return
        if self._run(lambda: self.bedside.timer(self.subject, kind, reason)) is None:
            return
        timer = self.state.timer if self.state else None
        if kind is T.Kind.STOP and timer is not None and timer.deviation is not None:
            text, ok = self.ask_text(tr("Protocol deviation", "Déviation au protocole"), timer.deviation.get())
            if ok and text.strip():
                self._run(lambda: self.bedside.comment(self.subject, text))

    def correct_time(self) -> None:
        """Change the clock time of a timer event (e.g. the pump's clock was right), with a reason."""
        if self.state is None or not self.state.timer_events:
            return
        clock = self._clock()
        events = {f"{e.id}: {T.phase_label(T.Phase.RUNNING).get() if e.kind is T.Kind.START else e.kind.value} "
                  f"{stored_time(clock, e.wall)}": e.id for e in self.state.timer_events}
        title = tr("Correct a time", "Corriger une heure")
        choice, ok = QInputDialog.getItem(self, title, tr("Which event?", "Quel événement ?"), list(events), 0, False)
        if not ok:
            return
        new_time, ok = self.ask_text(title, tr("Actual time (hh:mm)", "Heure réelle (hh:mm)"))
        if not ok:
            return
        reason, ok = self.ask_text(tr("Reason for change", "Motif de modification"), tr("Why?", "Pourquoi ?"))
        if not ok:
            return
        self._run(lambda: self.bedside.correct_time(self.subject, events[choice], new_time, reason))

    def _pick_point(self, point: str) -> None:
        self.selected_point = point
        self.vitals_panel.focus_entry()
        self.tick()

    def _typed(self, item: str, text: str) -> None:
        """Kept at every keystroke (not a recorded value: nothing to announce). A refusal is shown when the reading
        is saved."""
        with contextlib.suppress(CrfError):
            self.bedside.save_typed(self.subject, item, text)

    def save_vitals(self, *, confirm: bool = False) -> bool:
        values = self.vitals_panel.values()
        if not values:
            return False
        unusual: list[SoftCheckNeedsConfirmation] = []

        def refused(exc: CrfError) -> None:
            if isinstance(exc, SoftCheckNeedsConfirmation):
                unusual.append(exc)
            else:
                show_error(self, self.windowTitle(), exc)

        point = self.selected_point
        saved = self.ops.run(lambda: self.bedside.record_vitals(self.subject, point, values, confirm=confirm),
                             on_error=refused)
        if saved is None:
            if unusual and self._confirm_unusual(unusual[0]):
                return self.save_vitals(confirm=True)
            return False
        self.vitals_panel.clear_entry()
        self.selected_point = None  # the next due point, at the next tick
        self.tick()
        self.vitals_panel.focus_entry()
        return True

    def _confirm_unusual(self, exc: SoftCheckNeedsConfirmation) -> bool:
        answer = QMessageBox.question(self, tr("Unusual value", "Valeur inhabituelle"),
                                      error_text(exc) + "\n\n" + tr("Save it as measured?",
                                                                    "L'enregistrer telle que mesurée ?"))
        return answer == QMessageBox.StandardButton.Yes

    def mark_not_done(self) -> None:
        point = self.selected_point
        if not point:
            return
        reason, ok = self.ask_text(tr("Reading not done", "Mesure non faite"), tr("Why?", "Pourquoi ?"))
        if not ok:
            return
        if self._run(lambda: self.bedside.not_done(self.subject, point, reason)) is not None:
            self.selected_point = None
            self.tick()

    def open_adverse_event(self, flag: Flag) -> None:
        opened = self._run(lambda: self.bedside.prefill_adverse_event(self.subject, flag))
        if opened is None:
            return
        self._open_form(opened.ref, focus=opened.grade_key)

    def open_tolerance_form(self) -> None:
        tolerance = self.study.bindings.tolerance
        self._open_form(FormRef(self.subject, tolerance.event or "", tolerance.form))

    def _open_form(self, ref: FormRef, *, focus: CellKey | None = None) -> None:
        from msc_sle_crf.ui.form import FormWindow  # the one place the bedside reaches the form screen

        try:
            window = FormWindow(self.ws, ref, self, ops=self.ops)
        except CrfError as exc:
            show_error(self, self.windowTitle(), exc)
            return
        # Its writes share self.ops and redraw this screen as they happen; closing it reloads once more for the
        # writes a form screen makes without a change record.
        window.finished.connect(lambda _result: self._form_closed())
        self.last_form = window
        window.open()
        if focus is not None:
            window.focus_cell(focus)

    def _form_closed(self) -> None:
        if not self._closed:
            self.reload()

    def _ask_text(self, title: str, question: str) -> tuple[str, bool]:
        return QInputDialog.getText(self, title, question)

    def save_draft(self) -> None:
        """Before another user takes over: the quick-entry fields are already kept at every keystroke."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter belongs to the field or button that has the focus (in a vital-sign field it saves the reading).
        A dialog also "clicks" its default button on an Enter its fields pass on: that was "Correct a time…" after
        every reading once the infusion had started. A focused button still takes Enter itself."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            return
        super().keyPressEvent(event)

    def done(self, result: int) -> None:
        self._closed = True
        self.ticker.stop()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.ticker.stop()
        super().closeEvent(event)


def open_bedside(ws: Workspace, subject: str, parent: QWidget | None = None) -> BedsideWindow:
    window = BedsideWindow(ws, subject, parent)
    window.show()
    return window


__all__ = ["BedsideWindow", "TrendPlot", "open_bedside"]
