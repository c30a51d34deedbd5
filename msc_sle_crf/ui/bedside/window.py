"""The bedside screen of the infusion day: identity and product check (two people), the infusion timer and its start
gate, the vital-sign schedule with countdowns and alerts, quick entry, a trend plot, and the D1-D10 follow-up.

Everything shown is computed from the database and the clock once a second; every action is saved at once
through the service layer. Closing, locking, switching user or a crash loses nothing.

The window is the controller of the room: its parts (``check_tab``, ``timer_panel``, ``vitals_panel``,
``after_tab``, the ``sheet`` that asks its questions) show what it gives them and ask for actions by signal; the
window runs each write through ``ops.run`` and redraws from change records: any write that touches this subject,
from this screen or another one sharing the same ``Ops`` (a form window, the casebook), reloads it.

It is a top-level window of its own with no parent and no default button: no other window of the app can block it
(the forms it opens have no parent either), and Enter does only what the focused field or button does. It says
who is signed in and can be locked from here (Ctrl+L works from every window). At a lock, what the user typed and
did not save is kept as their own draft and cleared from the screen: another user sees empty fields.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.clock import Clock, local_now
from msc_sle_crf.errors import CrfError, Msg
from msc_sle_crf.formdef.engine import CellKey
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.infusion.monitor import Monitor, monitor, summary
from msc_sle_crf.infusion.vitals import Flag
from msc_sle_crf.services.bedside import BASELINE, BedsideState, Readiness, VitalsNeedConfirmation
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.ui.bedside import actions
from msc_sle_crf.ui.bedside.after_tab import AfterTab
from msc_sle_crf.ui.bedside.check_tab import CheckTab, ProductEntry
from msc_sle_crf.ui.bedside.plot import TrendPlot
from msc_sle_crf.ui.bedside.sheet import Ask, Sheet
from msc_sle_crf.ui.bedside.style import BEDSIDE_STYLE
from msc_sle_crf.ui.bedside.timer_panel import TimerPanel
from msc_sle_crf.ui.bedside.vitals_panel import VitalsPanel
from msc_sle_crf.ui.common import error_text, named, tr
from msc_sle_crf.ui.lock_screen import SessionStrip
from msc_sle_crf.ui.ops import Ops
from msc_sle_crf.ui.window_policy import fit_when_shown

TOLERANCE_SCORE = "not_tolerated_all"  # the tolerance decision shown on tab 3 (scoring.endpoint)
R = TypeVar("R")
REASON_MSGS = (Msg.CHANGE_REASON_REQUIRED, Msg.CHANGE_REASON_REQUIRED_VERIFIED, Msg.CHANGE_REASON_REQUIRED_SIGNED)


class BedsideWindow(QWidget):
    """One subject's infusion day. ``tick`` runs every second (tests call it directly)."""

    status_line_changed = Signal(str)
    lock_requested = Signal()
    form_opened = Signal(object)  # a FormWindow opened from here (the main window tracks it)
    finished = Signal(int)

    def __init__(self, ws: Workspace, subject: str, parent: QWidget | None = None, *, ops: Ops | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.ops = ops if ops is not None else Ops(self)
        self.setObjectName("bedside")
        self.setStyleSheet(BEDSIDE_STYLE)
        self.ws = ws
        self.study = ws.study
        self.vs = ws.study.bindings.infusion_day.vital_signs  # which items hold the six measures
        self.subject = subject
        self.bedside = ws.bedside
        self.resize(1280, 760)
        self.state: BedsideState | None = None
        self.readiness: Readiness | None = None
        self.last_form: QWidget | None = None  # the form window opened last (a ui.form.FormWindow)
        self._closed = False  # closed: change records no longer reload this screen
        self._fitted = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 6, 8, 6)
        outer.setSpacing(4)
        outer.addLayout(self._header())
        self.sheet = Sheet()
        self.sheet.closed.connect(self._sheet_closed)
        outer.addWidget(self.sheet)
        self.check_tab = CheckTab(ws.study, ws.bedside.protocol, lambda: local_now(self._clock()))
        self.vitals_panel = VitalsPanel(self.vs)
        self.after_tab = AfterTab(ws.study.bindings.tolerance)
        self.tabs = QTabWidget()
        for tab in (self.check_tab, self.vitals_panel, self.after_tab):
            page = QScrollArea()  # on a smaller screen (1366 x 768) a page scrolls rather than leaving the screen
            page.setWidgetResizable(True)
            page.setFrameShape(QFrame.Shape.NoFrame)
            page.setWidget(tab)
            self.tabs.addTab(page, "")
        outer.addWidget(self.tabs, 1)
        outer.addStretch(0)  # the question's room when it replaces the tabs
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(True)  # a focused button takes Enter; there is no default button
        self.session.lock_button.setAutoDefault(False)
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
    def _header(self) -> QVBoxLayout:
        box = QVBoxLayout()
        box.setSpacing(2)
        top = QHBoxLayout()
        self.identity = named(QLabel(), "identity")
        top.addWidget(self.identity)
        self.session = SessionStrip()
        self.session.lock_requested.connect(self.lock_requested.emit)
        top.addWidget(self.session, 1)
        box.addLayout(top)
        row = QHBoxLayout()
        left = QVBoxLayout()
        left.setSpacing(2)
        self.product_line = named(QLabel(), "subtitle")
        self.product_line.setWordWrap(True)
        left.addWidget(self.product_line)
        self.readiness_label = named(QLabel(), "readiness")
        self.readiness_label.setWordWrap(True)
        left.addWidget(self.readiness_label)
        self.correct_button = named(QPushButton(), "correct")  # secondary: a link-like button under the lines
        self.correct_button.setFlat(True)
        self.correct_button.setStyleSheet("QPushButton { color: #1f5fa8; text-decoration: underline; "
                                          "min-height: 28px; padding: 0 4px; text-align: left; }")
        self.correct_button.clicked.connect(self.correct_time)
        left.addWidget(self.correct_button, 0, Qt.AlignmentFlag.AlignLeft)
        row.addLayout(left, 1)
        self.timer_panel = TimerPanel()
        row.addWidget(self.timer_panel, 0, Qt.AlignmentFlag.AlignTop)
        box.addLayout(row)
        return box

    def _expose_parts(self) -> None:
        """The widgets tests and screenshots reach through the window."""
        c, v = self.check_tab, self.vitals_panel
        self.phase, self.clock = self.timer_panel.phase, self.timer_panel.clock
        self.timer_buttons = self.timer_panel.buttons
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
        actor = self.ws.actor
        self.setWindowTitle(tr(f"Infusion day — subject {self.subject} — {actor.full_name}",
                               f"Jour de perfusion — patient {self.subject} — {actor.full_name}"))
        self.session.show_user(actor.full_name, actor.role)
        self.correct_button.setText(tr("Correct a time…", "Corriger une heure…"))
        self.tabs.setTabText(0, tr("1. Identity and product", "1. Identité et produit"))
        self.tabs.setTabText(1, tr("2. Infusion and vital signs", "2. Perfusion et signes vitaux"))
        self.tabs.setTabText(2, tr("3. Days 1-10", "3. Jours 1-10"))
        for part in (self.timer_panel, self.check_tab, self.vitals_panel, self.after_tab):
            part.retranslate()
        if self.state is not None:
            self.render_state()

    def showEvent(self, event: QShowEvent) -> None:
        """The first time it is shown: as large as the screen allows, title bar included (1280 x 800 laptops)."""
        super().showEvent(event)
        if not self._fitted:
            self._fitted = True
            fit_when_shown(self, 1280, 800)

    # ----- data -----------------------------------------------------------------------------------------------------
    @property
    def selected_point(self) -> str | None:
        """The time point the next reading is for (None: an extra reading)."""
        return self.vitals_panel.target

    @selected_point.setter
    def selected_point(self, point: str | None) -> None:
        self.vitals_panel.picked = point
        self.vitals_panel.target = point

    def _clock(self) -> Clock:
        return self.ws.site.clock

    def rebind(self, ws: Workspace) -> None:
        """Another user took over the workstation: the screen stays, acting for them from now on (with their own
        drafts, if any, and their name)."""
        self.ws = ws
        self.bedside = ws.bedside
        self.state = None  # nothing of the previous session is redrawn before this user's drafts are put back
        self.retranslate()
        self.reload()

    def on_lock(self) -> None:
        """Before the screen is locked (the user is still signed in): what they typed and did not save becomes
        their own draft, and leaves the screen; a question left open is cancelled."""
        with contextlib.suppress(CrfError):
            for item, edit in self.vital_fields.items():
                self.bedside.save_typed(self.subject, item, edit.text())
            self.bedside.save_check_draft(self.subject, self.check_tab.typed_values())
        self.sheet.cancel()
        self.vitals_panel.clear_entry()
        self.check_tab.clear_typing()

    def on_unlock(self) -> None:
        """The same user is back: their draft comes back."""
        self.reload()

    def _data_changed(self, changes: Changes) -> None:
        """A write (here or in another screen of this main window) touched this subject: redraw from the database."""
        if not self._closed and changes.touches(self.subject) and not self.ws.locked:
            self.reload()

    def reload(self) -> None:
        try:
            self.state = self.bedside.state(self.subject)
            self.readiness = (self.bedside.start_readiness(self.subject)
                              if self.state.timer.phase is T.Phase.NOT_STARTED else None)
            typed = self.bedside.typed(self.subject)
            draft = self.bedside.check_draft(self.subject)
        except CrfError as exc:
            self.notice(self.windowTitle(), error_text(exc))
            return
        self.vitals_panel.restore_typed(typed)
        self.check_tab.restore(draft)
        self.render_state()

    def render_state(self) -> None:
        assert self.state is not None
        s = self.state
        self.identity.setText(f"{s.subject} · {s.initials} · {s.birth_year}")
        self.product_line.setText(self.check_tab.show_product(s.product, self._clock()))
        self.check_tab.show_baseline(s.readings, list(s.not_done))
        self.vitals_panel.show_flags(s.readings[-1].flags if s.readings else ())
        self.correct_button.setVisible(bool(s.timer_events))
        actions.show_readiness(self)
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

    def current(self) -> Monitor:
        assert self.state is not None
        done = {r.timepoint for r in self.state.readings if r.timepoint}
        return monitor(self.state.timer_events, self._now(), self.bedside.protocol, done=done,
                       not_done=set(self.state.not_done))

    def tick(self) -> None:
        """Once a second: the clock, the countdowns, what is due. No database access."""
        if self.state is None:
            return
        now = self._monitor = self.current()
        can_start, label = actions.start_label(self)
        self.timer_panel.show_timer(now.timer, can_start=can_start and not self.sheet.is_open, start_label=label,
                                    undo_left=T.undo_left_seconds(now.timer, self._now(), self.bedside.protocol))
        if self.sheet.is_open:  # one thing at a time: the question first
            for button in self.timer_buttons.values():
                button.setEnabled(False)
        self.vitals_panel.show_points(list(now.points), self._clock(), taken={
            r.timepoint: r.time.strftime("%H:%M") for r in self.state.readings if r.timepoint and r.time})
        actions.draw_plot(self)
        self.status_line_changed.emit(self.status_line(now))

    def status_line(self, now: Monitor | None = None) -> str:
        """One line for the lock screen: the subject number, what is running and what is due."""
        if now is None:
            if self.state is None:
                return ""
            now = self.current()
        if not now.active and not now.overdue:
            return ""
        return summary(self.subject, now).get()

    # ----- the questions of the screen ---------------------------------------------------------------------------
    def ask(self, ask: Ask, act: Callable[[list[str]], bool]) -> None:
        """Ask in the sheet; ``act`` runs on confirmation and returns True when done (the sheet closes) or False
        (it stays open, with the refusal shown in it). The question takes the place of the tabs (the header, with
        the running clock, stays): the window keeps within an 800-pixel screen."""
        self.tabs.setEnabled(False)
        self.tabs.hide()

        def answered(values: list[str]) -> None:
            if act(values):
                self.sheet.finish()

        self.sheet.ask(ask, answered)
        self.tick()

    def notice(self, title: str, text: str) -> None:
        """A refusal or a message, inside the window (never a box over another window)."""
        self.ask(Ask(title, text, tr("OK", "OK"), notice=True), lambda _values: True)

    def _sheet_closed(self) -> None:
        self.tabs.setEnabled(True)
        self.tabs.show()
        self.tick()

    def run(self, write: Callable[[], R], *, in_sheet: bool = False) -> R | None:
        """A write through ``ops.run``; a refusal is shown in the open question (``in_sheet``) or as a notice."""
        def refused(exc: CrfError) -> None:
            if in_sheet and self.sheet.is_open:
                self.sheet.show_error(error_text(exc))
            else:
                self.notice(self.windowTitle(), error_text(exc))

        return self.ops.run(write, on_error=refused)

    # ----- actions: each write through ops.run (the change record redraws) --------------------------------------
    def record_check(self, entry: ProductEntry | None = None) -> None:
        e = entry if entry is not None else self.check_tab.entry()
        self.run(lambda: self.bedside.product_check(
            self.subject, identity_confirmed=e.identity_confirmed, weight_kg=e.weight_kg, cohort=e.cohort,
            bag_id=e.bag_id, lot=e.lot, labelled_cells_e6=e.labelled_cells_e6, use_by=e.use_by,
            premedication=e.premedication))

    def second_check(self, username: str, password: str) -> None:
        """The second person's refusal is shown beside their sign-in."""
        done = self.ops.run(lambda: self.bedside.second_check(self.subject, username, password),
                            on_error=lambda exc: self.check_tab.second_refused(error_text(exc)))
        if done is not None:
            self.check_tab.second_confirmed()

    def go_to_baseline(self) -> None:
        self.selected_point = BASELINE
        self.vitals_panel.extra_box.setChecked(False)
        self.tabs.setCurrentIndex(1)
        self.vitals_panel.focus_entry()
        self.tick()

    def timer_action(self, kind: T.Kind) -> None:
        actions.timer_action(self, kind)

    def correct_time(self) -> None:
        actions.correct_time(self)

    def _pick_point(self, point: str) -> None:
        if point:
            self.vitals_panel.extra_box.setChecked(False)
            self.selected_point = point
        self.vitals_panel.focus_entry()
        self.tick()

    def _typed(self, item: str, text: str) -> None:
        """Kept at every keystroke, for this user only (not a recorded value: nothing to announce)."""
        with contextlib.suppress(CrfError):
            self.bedside.save_typed(self.subject, item, text)

    def save_vitals(self, *, confirm: bool = False) -> bool:
        """Save the reading for the targeted time point; every unusual value and flag of the set is listed in one
        question before anything is saved."""
        values = self.vitals_panel.values()
        if not values or self.sheet.is_open:
            return False
        point = self.selected_point
        unusual: list[VitalsNeedConfirmation] = []

        def refused(exc: CrfError) -> None:
            if isinstance(exc, VitalsNeedConfirmation):
                unusual.append(exc)
            else:
                self.notice(tr("Reading not saved", "Mesure non enregistrée"), error_text(exc))

        saved = self.ops.run(lambda: self.bedside.record_vitals(self.subject, point, values, confirm=confirm),
                             on_error=refused)
        if saved is None:
            if unusual:
                actions.confirm_unusual(self, unusual[0], point, values)
            return False
        self._saved_reading()
        return True

    def _saved_reading(self) -> None:
        self.vitals_panel.clear_entry()
        self.vitals_panel.extra_box.setChecked(False)
        self.selected_point = None  # the next one, at the next tick
        self.tick()
        self.vitals_panel.focus_entry()

    def mark_not_done(self) -> None:
        actions.mark_not_done(self)

    def open_adverse_event(self, flag: Flag) -> None:
        """The adverse event row of a flag (the same one at a second click), on its form; a complete log asks the
        reason for change first, in the sheet."""
        complete: list[CrfError] = []

        def refused(exc: CrfError) -> None:
            if getattr(exc, "msg", None) in REASON_MSGS:
                complete.append(exc)
            else:
                self.notice(self.windowTitle(), error_text(exc))

        opened = self.ops.run(lambda: self.bedside.prefill_adverse_event(self.subject, flag), on_error=refused)
        if opened is not None:
            self._open_form(opened.ref, focus=opened.grade_key)
        elif complete:
            actions.ask_adverse_event_reason(self, flag, error_text(complete[0]))

    def open_tolerance_form(self) -> None:
        tolerance = self.study.bindings.tolerance
        self._open_form(FormRef(self.subject, tolerance.event or "", tolerance.form))

    def _open_form(self, ref: FormRef, *, focus: CellKey | None = None) -> None:
        """A form in a window of its own, with no parent: nothing in it (its questions included) can block this
        screen, and the timer stays in view. The main window tracks it (hidden at a lock)."""
        from msc_sle_crf.ui.form import FormWindow  # the one place the bedside reaches the form screen

        try:
            window = FormWindow(self.ws, ref, None, ops=self.ops)
        except CrfError as exc:
            self.notice(self.windowTitle(), error_text(exc))
            return
        window.finished.connect(lambda _result: self._form_closed())
        self.last_form = window
        self.form_opened.emit(window)
        window.show()
        if focus is not None:
            window.focus_cell(focus)

    def _form_closed(self) -> None:
        if not self._closed and not self.ws.locked:
            self.reload()

    def save_draft(self) -> None:
        """Before another user takes over: the quick-entry fields are kept at every keystroke; the check too."""
        self.on_lock()

    def done(self, result: int) -> None:
        self.close()
        self._finish(result)

    def _finish(self, result: int) -> None:
        if self._closed:
            return
        self._closed = True
        self.ticker.stop()
        self.finished.emit(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        super().closeEvent(event)
        self._finish(0)


def open_bedside(ws: Workspace, subject: str, parent: QWidget | None = None) -> BedsideWindow:
    window = BedsideWindow(ws, subject, parent)
    window.show()
    return window


__all__ = ["BedsideWindow", "TrendPlot", "open_bedside"]
