"""The bedside redraws from change records: a write made in another screen sharing its ``Ops`` (the vital-sign form,
the adverse event it opened, the casebook) shows at once; a write for another subject, or after the screen was
closed, does not touch it. Its own writes go through ``ops.run``: a refusal is shown once and announces nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.i18n import L, Lang, set_lang
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.infusion.vitals import Flag
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.bedside import BASELINE
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.bedside import BedsideWindow, TrendPlot
from msc_sle_crf.ui.common import STYLE
from msc_sle_crf.ui.ops import Ops

from .conftest import FAST_KDF
from .helpers.bedside_ui import answer, make_ready

SUBJECT = "99-006"  # the demo subject still before the infusion
OTHER = "99-001"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Site]:
    site = create_demo(tmp_path / "bedside.crfdb", kdf=FAST_KDF, clock=FakeClock())
    yield site
    site.close()


@pytest.fixture
def nurse(demo: Site) -> Workspace:
    return Workspace.sign_in(demo, "nurse.durand", "training-nurse")


@pytest.fixture
def ops(qtbot) -> Ops:  # type: ignore[no-untyped-def]
    return Ops()


@pytest.fixture
def announced(ops: Ops) -> list[Changes]:
    seen: list[Changes] = []
    ops.data_changed.connect(seen.append)
    return seen


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the standard refusal box would have shown (ops.show_error), instead of a modal box."""
    shown: list[str] = []
    monkeypatch.setattr("msc_sle_crf.ui.ops.QMessageBox.warning",
                        lambda _parent, _title, text, *a: shown.append(text))
    return shown


def baseline(nurse: Workspace) -> dict[str, str]:
    vs = nurse.study.bindings.infusion_day.vital_signs
    return {vs.temperature: "36,9", vs.heart_rate: "78", vs.systolic_bp: "126", vs.diastolic_bp: "80",
            vs.respiratory_rate: "16", vs.spo2: "98"}


def vital_signs_ref(nurse: Workspace) -> tuple[FormRef, str]:
    day = nurse.study.bindings.infusion_day
    return FormRef(SUBJECT, day.event, day.vital_signs.form), day.vital_signs.group or ""


def open_bedside(qtbot, nurse: Workspace, ops: Ops) -> BedsideWindow:  # type: ignore[no-untyped-def]
    window = BedsideWindow(nurse, SUBJECT, ops=ops)
    qtbot.addWidget(window)
    return window


def test_an_adverse_event_from_a_flag_on_a_complete_log_asks_the_reason_then_opens_the_row(
        qtbot, demo: Site, ops: Ops) -> None:
    """h71: on a complete adverse event log, "Adverse event: Fever…" showed only "the form is complete; a reason for
    change is required" with OK: no way to give the reason, no way to the form."""
    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    ae = doctor.study.bindings.adverse_events
    log = FormRef("99-002", ae.event or "", ae.form)  # its Fever was 200 days ago: today's is another one
    doctor.entry.mark_complete(log)
    window = BedsideWindow(doctor, "99-002", ops=ops)
    qtbot.addWidget(window)
    fever = Flag("fever", L("Fever", "Fièvre"), "Fever", 1)
    window.open_adverse_event(fever)
    assert window.sheet.is_open and window.last_form is None
    asked = answer(window, "fever 39.2 at 15 min")
    assert "a reason for the change is required" in asked and "Give the reason to add Fever" in asked
    form = window.last_form
    assert form is not None and not window.sheet.is_open
    state = doctor.entry.open_form(log).state
    assert [state.value((ae.group or "", r, ae.term)) for r in state.rows[ae.group or ""]][-2:] == ["Fever", "Fever"]
    before = len(state.rows[ae.group or ""])
    form.close()
    window.open_adverse_event(fever)  # the same fever again: its row, no question, no third row
    assert not window.sheet.is_open and window.last_form is not form
    assert len(doctor.entry.open_form(log).state.rows[ae.group or ""]) == before
    assert window.last_form is not None
    window.last_form.close()


def test_a_vital_sign_row_changed_in_the_form_shows_at_once(qtbot, nurse: Workspace, ops: Ops,
                                                           announced: list[Changes]) -> None:
    window = open_bedside(qtbot, nurse, ops)
    for item, text in baseline(nurse).items():
        window.vital_fields[item].setText(text)
    assert window.save_vitals()
    assert announced and announced[-1].touches(SUBJECT)  # the bedside's own write announced its change
    assert window.flags_box.count() == 0
    assert "Baseline vital signs recorded at" in window.baseline_line.text()
    # The vital-sign form (another screen of the same main window) corrects the baseline temperature.
    ref, group = vital_signs_ref(nurse)
    vs = nurse.study.bindings.infusion_day.vital_signs
    row = window.state.readings[-1].row
    ops.run(lambda: nurse.entry.save_values(ref, {(group, row, vs.temperature): "38,9"}, confirm=True,
                                            reason="transcription error"))
    assert str(window.state.readings[-1].values[vs.temperature]) == "38.9"
    flags = [w.text() for w in window.findChildren(QLabel, "flag") if not w.isHidden()]
    assert any("Fever 38.9 °C" in text for text in flags), flags
    assert list(window.plot.series["temperature"].yData) == [38.9]


def test_an_adverse_event_saved_in_the_form_it_opened_shows_in_the_tolerance_tab(
        qtbot, nurse: Workspace, ops: Ops) -> None:
    window = open_bedside(qtbot, nurse, ops)
    b = nurse.bedside
    b.product_check(SUBJECT, identity_confirmed=True, weight_kg="58", cohort="2", bag_id="UC-1", lot="L1",
                    labelled_cells_e6="120", use_by="31/12/2099 16:00", premedication="none")
    b.record_vitals(SUBJECT, BASELINE, baseline(nurse))
    window.reload()
    vs = nurse.study.bindings.infusion_day.vital_signs
    fever = {**baseline(nurse), vs.temperature: "39,2"}
    for item, text in fever.items():
        window.vital_fields[item].setText(text)
    assert window.save_vitals(confirm=True)
    assert "Tolerated so far" in window.after_tab.tolerance_state.text() or \
        "not decided" in window.after_tab.tolerance_state.text()
    window.open_adverse_event(window.state.readings[-1].flags[0])
    form = window.last_form
    assert form is not None and form.view.ops is window.ops  # the form's writes reach this screen
    ae = nurse.study.bindings.adverse_events
    row = form.view.state.rows[ae.group or ""][-1]
    # The investigator grades it 3 in that form window.
    ops.run(lambda: nurse.entry.save_values(FormRef(SUBJECT, ae.event or "", ae.form),
                                            {(ae.group or "", row, ae.grade): "3"}, confirm=True))
    assert window.after_tab.tolerance_state.text().startswith("NOT TOLERATED")
    form.close()


def test_a_change_to_another_subject_or_after_closing_leaves_the_screen_alone(
        qtbot, demo: Site, nurse: Workspace, ops: Ops, warnings: list[str]) -> None:
    window = open_bedside(qtbot, nurse, ops)
    before = window.state
    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    ops.run(lambda: doctor.bedside.not_done(OTHER, "T15", "patient asleep"))
    assert window.state is before
    ops.run(lambda: doctor.bedside.comment(SUBJECT, "seen on the ward"))
    assert window.state is not before and window.state.comments == ("seen on the ward",)
    window.close()  # closed: it no longer follows the subject, even once its user has signed out
    nurse.logout()
    closed = window.state
    ops.run(lambda: doctor.bedside.not_done(SUBJECT, "T15", "patient asleep"))
    assert window.state is closed and not window.ticker.isActive()
    assert warnings == []


def test_refusals_are_shown_once_and_announce_nothing(qtbot, nurse: Workspace, ops: Ops,
                                                      announced: list[Changes], warnings: list[str]) -> None:
    """A refusal is shown inside the bedside (a notice in its sheet), never as a box over another window."""
    window = open_bedside(qtbot, nurse, ops)
    qtbot.mouseClick(window.record_check_button, Qt.MouseButton.LeftButton)  # identity not confirmed
    assert window.sheet.is_open and "Identity: confirm" in answer(window)
    window.selected_point = BASELINE
    window.mark_not_done()
    assert not window.sheet.confirm_button.isEnabled()  # no reason given: nothing to send
    answer(window, confirm=False)
    window.second_user.setText("dr.martin")
    window.second_password.setText("training-doctor")
    qtbot.mouseClick(window.second_button, Qt.MouseButton.LeftButton)  # nothing to confirm yet: shown inline
    assert "No product check to confirm" in window.second_status.text() and not window.sheet.is_open
    assert warnings == []
    assert window.second_password.text() == ""
    assert announced == []
    assert window.state is not None and window.state.product is None and window.state.not_done == {}


def test_old_flag_rows_are_gone_from_the_screen_at_once(qtbot, nurse: Workspace, ops: Ops) -> None:
    """Redrawing the flags removed the old rows only when the event loop came round: a grab in between (the
    screenshots) showed old and new rows on top of each other."""
    window = open_bedside(qtbot, nurse, ops)
    window.show()
    nurse.bedside.record_vitals(SUBJECT, BASELINE, baseline(nurse))
    vs = nurse.study.bindings.infusion_day.vital_signs
    nurse.bedside.record_vitals(SUBJECT, None, {**baseline(nurse), vs.heart_rate: "130", vs.temperature: "38,6"},
                                confirm=True)
    window.reload()
    window.tabs.setCurrentIndex(1)
    QApplication.processEvents()  # shows the new rows; deferred deletions wait for an event loop
    first = [w.text() for w in window.findChildren(QLabel, "flag") if w.isVisible()]
    assert len(first) == 2
    window.reload()
    QApplication.processEvents()
    assert [w.text() for w in window.findChildren(QLabel, "flag") if w.isVisible()] == first


def test_a_baseline_without_its_time_does_not_break_the_screen(qtbot, nurse: Workspace, ops: Ops,
                                                              warnings: list[str]) -> None:
    """The time of a reading can be cleared on the vital-sign form (a draft); the bedside still opens."""
    reading = nurse.bedside.record_vitals(SUBJECT, BASELINE, baseline(nurse))
    ref, group = vital_signs_ref(nurse)
    vs = nurse.study.bindings.infusion_day.vital_signs
    nurse.entry.save_values(ref, {(group, reading.row, vs.time): ""}, reason="wrong time")
    window = open_bedside(qtbot, nurse, ops)
    assert window.state is not None and window.state.readings[0].time is None
    assert window.baseline_line.text() == "Baseline vital signs recorded"
    assert window.plot.series["temperature"].xData is None or len(window.plot.series["temperature"].xData) == 0
    assert warnings == []


def test_enter_in_a_field_saves_the_reading_and_presses_no_button(qtbot, nurse: Workspace, ops: Ops) -> None:
    """Enter in a vital-sign field saves the reading, and only that: a dialog also "clicks" its default button on
    an Enter its fields pass on, and once the infusion had started that was "Correct a time…" after every reading
    (found in a real window). The bedside is no dialog now: it has no default button at all."""
    window = open_bedside(qtbot, nurse, ops)
    window.show()
    qtbot.waitExposed(window)
    make_ready(nurse, SUBJECT)
    window.reload()
    window.timer_action(T.Kind.START)
    answer(window)
    window.tabs.setCurrentIndex(1)
    vs = nurse.study.bindings.infusion_day.vital_signs
    clock = nurse.site.clock
    assert isinstance(clock, FakeClock)
    for round_ in (1, 2):
        clock.advance(15 * 60)  # at 15 and 30 minutes: no question about a reading taken early
        window.tick()
        for item, text in baseline(nurse).items():
            window.vital_fields[item].setText(text)
        field = window.vital_fields[vs.spo2]
        field.setFocus()
        qtbot.keyClick(field, Qt.Key.Key_Return)
        assert window.state is not None and len(window.state.readings) == 1 + round_
        assert not window.sheet.is_open and window.vital_fields[vs.temperature].text() == ""
        qtbot.keyClick(window.vital_fields[vs.temperature], Qt.Key.Key_Return)  # Enter again: nothing at all
        assert not window.sheet.is_open and len(window.state.readings) == 1 + round_
    assert window.last_form is None  # no adverse event opened either
    assert [e.kind for e in window.state.timer_events] == [T.Kind.START]  # no time changed
    window.selected_point = "T30"
    window.not_done_button.setFocus()
    qtbot.keyClick(window.not_done_button, Qt.Key.Key_Return)  # a focused button still takes Enter
    assert window.sheet.title.text() == "Reading not done"


def test_the_window_keeps_its_width_through_pause_and_resume(qtbot, request: pytest.FixtureRequest,
                                                              nurse: Workspace, ops: Ops) -> None:
    """The timer buttons were shown before the others were hidden: on Resume, Pause, Resume and Stop were all
    visible for a moment, the window grew wider than a 1280-pixel screen and stayed so (Stop cut off)."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setStyleSheet(STYLE)  # the application's look, as `msc-sle-crf run` sets it: bigger buttons
    request.addfinalizer(lambda: app.setStyleSheet(""))
    window = open_bedside(qtbot, nurse, ops)
    window.show()
    qtbot.waitExposed(window)
    width = window.width()
    nurse.bedside.record_vitals(SUBJECT, BASELINE, baseline(nurse))
    window.reload()
    make_ready(nurse, SUBJECT, baseline=False)
    window.reload()
    for kind in (T.Kind.START, T.Kind.PAUSE, T.Kind.RESUME, T.Kind.PAUSE, T.Kind.RESUME):
        window.timer_action(kind)
        if window.sheet.is_open:
            answer(window, "chills")
        QApplication.processEvents()
        assert window.width() == width, kind
    assert [k for k, b in window.timer_buttons.items() if b.isVisible()] == [T.Kind.PAUSE, T.Kind.STOP]


def test_in_french_the_screen_fits_1280_pixels_and_writes_decimal_commas(
        qtbot, request: pytest.FixtureRequest, nurse: Workspace, ops: Ops) -> None:
    """The French baseline line did not wrap (the window opened 1286 pixels wide), and the recorded check's time
    made its button wider still; numbers were shown with a decimal point."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setStyleSheet(STYLE)
    request.addfinalizer(lambda: app.setStyleSheet(""))
    set_lang(Lang.FR)
    nurse.bedside.product_check(SUBJECT, identity_confirmed=True, weight_kg="58,5", cohort="2",
                                bag_id="UC-99-006-01", lot="L2026-021", labelled_cells_e6="120",
                                use_by="31/12/2099 16:00", premedication="paracétamol 1 g")
    nurse.bedside.second_check(SUBJECT, "dr.martin", "training-doctor")
    window = open_bedside(qtbot, nurse, ops)
    window.show()
    qtbot.waitExposed(window)
    assert window.check_fields["weight"].text() == "58,5"
    assert "Prévu : 117,0 x10^6" in window.dose_line.text() and "(+2,6 %)" in window.dose_line.text()
    assert "Enregistrée le 25/11/2026 10:00 UTC+01:00 par nurse.durand" in window.check_tab.recorded_line.text()
    vs = nurse.study.bindings.infusion_day.vital_signs
    nurse.bedside.record_vitals(SUBJECT, BASELINE, baseline(nurse))
    window.reload()
    for kind in (T.Kind.START, T.Kind.PAUSE, T.Kind.RESUME):
        window.timer_action(kind)
        if window.sheet.is_open:
            answer(window, "frissons")
        if kind is T.Kind.START:  # two long flags: fever, and a systolic pressure well below the baseline
            nurse.bedside.record_vitals(SUBJECT, "T15", {**baseline(nurse), vs.temperature: "38,3",
                                                         vs.heart_rate: "104", vs.systolic_bp: "102"},
                                        confirm=True)
            window.reload()
            assert window.flags_box.count() == 2
        for tab in range(window.tabs.count()):
            window.tabs.setCurrentIndex(tab)
            QApplication.processEvents()
            assert window.width() == 1280 and window.minimumSizeHint().width() <= 1280, (kind, tab)


def test_the_trend_plot_covers_the_day_with_axes_planned_points_and_bands(qtbot) -> None:  # type: ignore[no-untyped-def]
    """The plot had no value scale, its time axis stopped at 30' while readings ran to +4 h, and a row entered late
    was drawn left of the plot: now baseline to 4 h after the end, a value axis per measure, the planned time points
    and the alert bands, readings in time order."""
    from msc_sle_crf.infusion.protocol import InfusionProtocol

    plot = TrendPlot()
    qtbot.addWidget(plot)
    start = dt.datetime(2026, 11, 25, 10, 0)
    end = start + dt.timedelta(minutes=45)
    readings = [(start + dt.timedelta(minutes=m), {"temperature": Decimal(t), "heart_rate": 80, "systolic_bp": 120})
                for m, t in ((30, "37.1"), (-10, "36.8"), (45, "38.2"), (285, "37.0"))]
    planned = [("T15", start + dt.timedelta(minutes=15)), ("P240", end + dt.timedelta(minutes=240))]
    plot.show_day(protocol=InfusionProtocol(), origin=start, end=end, planned=planned, readings=readings)
    assert list(plot.series["temperature"].xData) == [-10, 30, 45, 285]
    assert list(plot.series["temperature"].yData) == [36.8, 37.1, 38.2, 37.0]
    low, high = plot.x_range
    assert low <= -15 and high >= 45 + 240
    assert set(plot.planned_lines) == {"T15", "P240"} and plot.planned_lines["T15"][0].value() == 15
    assert plot.bands["fever"].getRegion() == (38.0, 41.0) and plot.bands["hypoxia"].getRegion() == (80.0, 92.0)
    assert plot.plots["pressure"].getAxis("left").labelText == "mmHg"
    assert plot.axis.tickStrings([0, 60], 1, 60) == ["10:00", "11:00"]
    plot.resize(600, 300)
    plot.grab()  # paints without error


def test_a_done_row_of_the_schedule_shows_the_time_the_reading_was_taken(qtbot, nurse: Workspace, ops: Ops) -> None:
    """h71: the baseline taken at 17:01 showed "17:02" once the infusion started (its planned time is the start), and
    a 15-min reading taken at 17:07 showed "17:17 ... done" (the planned time)."""
    clock = nurse.site.clock
    assert isinstance(clock, FakeClock)
    make_ready(nurse, SUBJECT)  # the baseline at 10:00
    window = open_bedside(qtbot, nurse, ops)
    clock.advance(2 * 60)
    window.reload()
    window.timer_action(T.Kind.START)
    answer(window)  # started at 10:02
    clock.advance(5 * 60)
    nurse.bedside.record_vitals(SUBJECT, "T15", baseline(nurse), confirm=True)  # 10:07, planned 10:17
    window.reload()
    rows = [window.vitals_panel.schedule_list.item(i).text().strip()
            for i in range(window.vitals_panel.schedule_list.count())]
    assert rows[0].startswith("10:00") and "done" in rows[0] and "planned" not in rows[0], rows
    assert rows[1].startswith("10:07") and rows[1].endswith("done (planned 10:17)"), rows


def test_planned_point_labels_close_together_do_not_overlap(qtbot) -> None:  # type: ignore[no-untyped-def]
    """h71: an infusion stopped at 7 minutes with its 15-min reading done drew "END" and "T15" on one spot
    ("ENDT15"): a label too close to the previous one goes one row down."""
    from msc_sle_crf.infusion.protocol import InfusionProtocol

    plot = TrendPlot()
    qtbot.addWidget(plot)
    start = dt.datetime(2026, 11, 25, 17, 2)
    end = start + dt.timedelta(minutes=7)
    planned = [("T15", start + dt.timedelta(minutes=15)), ("END", end), ("P60", end + dt.timedelta(minutes=60))]
    plot.show_day(protocol=InfusionProtocol(), origin=start, end=end, planned=planned, readings=[])
    at = {label.toPlainText(): (label.pos().x(), label.pos().y()) for label in plot.labels}
    assert at["END"][1] != at["T15"][1], at
    assert at["P60"][1] == at["END"][1], at  # far enough: back on the first row
