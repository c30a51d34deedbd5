"""Issue 11 on the screens (offscreen): the gated start on the screen, no accidental actions, never blocked and
always lockable, a hand-over that keeps attribution, quick entry that follows the schedule, the running infusion on
the lock screen and the subject list, the optional sound, and windows that fit a 1280 x 800 laptop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.ui.bedside import BedsideWindow
from msc_sle_crf.ui.casebook import CasebookDialog
from msc_sle_crf.ui.common import STYLE
from msc_sle_crf.ui.main_window import MainWindow

from .conftest import FAST_KDF
from .helpers.bedside_ui import NORMAL, answer, check_product, make_ready
from .helpers.eligible import make_eligible

SUBJECT = "99-006"  # the demo subject confirmed eligible, before its infusion


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Site]:
    site = create_demo(tmp_path / "safety.crfdb", kdf=FAST_KDF, clock=FakeClock())
    yield site
    site.close()


@pytest.fixture
def clock(demo: Site) -> FakeClock:
    assert isinstance(demo.clock, FakeClock)
    return demo.clock


@pytest.fixture
def nurse(demo: Site) -> Workspace:
    return Workspace.sign_in(demo, "nurse.durand", "training-nurse")


@pytest.fixture
def main(qtbot, nurse: Workspace) -> MainWindow:  # type: ignore[no-untyped-def]
    window = MainWindow(nurse, idle_ms=10**9)
    qtbot.addWidget(window)
    return window


def bedside_of(main: MainWindow, qtbot, subject: str = SUBJECT) -> BedsideWindow:  # type: ignore[no-untyped-def]
    """Opened as a nurse does: the casebook, then its bedside button."""
    main.open_subject(subject)
    casebook = next(w for w in main.open_dialogs if isinstance(w, CasebookDialog))
    casebook.open_bedside()
    window = next(w for w in main.open_dialogs if isinstance(w, BedsideWindow))
    qtbot.addWidget(window)
    return window


def take_over(qtbot, main: MainWindow, user: str, password: str) -> None:  # type: ignore[no-untyped-def]
    main.lock()
    main.lock_screen.other_user.setText(user)
    main.lock_screen.other_password.setText(password)
    main.lock_screen.takeover_button.click()
    qtbot.waitUntil(lambda: main.stack.currentWidget() is main.work and main.ws.actor.username == user,
                    timeout=5000)


# ----- 1. the start on the screen ----------------------------------------------------------------------------------
def test_start_says_what_is_missing_and_is_pressed_only_when_allowed(qtbot, main: MainWindow, nurse: Workspace,
                                                                     demo: Site) -> None:
    window = bedside_of(main, qtbot)
    start = window.timer_buttons[T.Kind.START]
    assert not start.isEnabled() and start.text() == "Start (see what is missing)"
    text = window.readiness_label.text()
    assert text.startswith("Before the start: the screening criteria cannot tell eligibility yet (unknown: "
                           "SELENA-SLEDAI >= 6")
    assert "only an investigator may start without it, with a reason); the dose cohort and the weight" in text
    assert "the product and identity check is not recorded" in text and "baseline vital signs" in text
    check_product(nurse, SUBJECT)
    window.reload()
    assert "not confirmed by a second person" in window.readiness_label.text() and not start.isEnabled()
    nurse.bedside.second_check(SUBJECT, "dr.martin", "training-doctor")
    window.reload()
    assert not start.isEnabled()  # the baseline is still missing, and a nurse cannot start without it
    nurse.bedside.record_vitals(SUBJECT, "BASE", NORMAL)
    window.reload()
    # h71: the investigator's tick alone is not enough while the criteria cannot tell (a nurse cannot override it)
    assert not start.isEnabled() and "cannot tell eligibility yet" in window.readiness_label.text()
    make_eligible(Workspace.sign_in(demo, "dr.martin", "training-doctor"), SUBJECT, screening=False)
    window.reload()
    assert start.isEnabled() and start.text() == "Start…"
    assert window.readiness_label.text().startswith("Ready to start")
    qtbot.mouseClick(start, Qt.MouseButton.LeftButton)
    assert answer(window, confirm=False).startswith("Start the infusion for subject 99-006 (HTG, 1995) now, at 10:00?")
    assert window.state is not None and window.state.timer.phase is T.Phase.NOT_STARTED  # Cancel: nothing happened
    qtbot.mouseClick(start, Qt.MouseButton.LeftButton)
    answer(window)
    assert window.state.timer.phase is T.Phase.RUNNING and window.readiness_label.isHidden()


def test_an_investigator_starts_without_a_baseline_only_with_a_reason(qtbot, demo: Site) -> None:
    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    make_ready(doctor, SUBJECT, baseline=False)
    main = MainWindow(doctor, idle_ms=10**9)
    qtbot.addWidget(main)
    window = bedside_of(main, qtbot)
    start = window.timer_buttons[T.Kind.START]
    assert start.isEnabled() and start.text() == "Start without baseline…"
    window.timer_action(T.Kind.START)
    assert "although the baseline vital signs are not recorded" in window.sheet.text.text()
    assert not window.sheet.confirm_button.isEnabled()  # the reason first
    answer(window, "monitor failed, baseline on paper at 09:50")
    assert window.state is not None and window.state.timer.phase is T.Phase.RUNNING
    assert window.state.timer_events[0].reason == "monitor failed, baseline on paper at 09:50"


def test_a_screening_failure_shows_why_it_cannot_start(qtbot, main: MainWindow) -> None:
    window = bedside_of(main, qtbot, "99-004")
    assert not window.timer_buttons[T.Kind.START].isEnabled()
    assert "the subject has left the study (Screening failure)" in window.readiness_label.text()


# ----- 2. no accidental actions --------------------------------------------------------------------------------------
def test_stop_asks_names_the_time_and_can_be_undone_for_a_few_minutes(qtbot, main: MainWindow, nurse: Workspace,
                                                                      clock: FakeClock) -> None:
    make_ready(nurse, SUBJECT)
    window = bedside_of(main, qtbot)
    window.timer_action(T.Kind.START)
    answer(window)
    stop, undo = window.timer_buttons[T.Kind.STOP], window.timer_buttons[T.Kind.UNDO_STOP]
    assert stop.objectName() == "stopButton" and stop.isVisible() == window.isVisible()
    clock.advance(40 * 60)
    window.tick()
    window.timer_action(T.Kind.STOP)
    assert window.sheet.is_open and window.sheet.cancel_button.hasFocus() == window.isActiveWindow()
    assert window.sheet.property("danger") == "true"
    assert answer(window, confirm=False).startswith("Stop the infusion for subject 99-006 (HTG, 1995) now, at 10:40?")
    assert window.state is not None and window.state.timer.phase is T.Phase.RUNNING
    window.timer_action(T.Kind.STOP)
    answer(window)
    assert window.state.timer.phase is T.Phase.STOPPED
    assert not undo.isHidden() and undo.isEnabled() and undo.text() == "Undo the stop (05:00)…"
    clock.advance(60)
    window.tick()
    assert undo.text() == "Undo the stop (04:00)…"
    window.timer_action(T.Kind.UNDO_STOP)
    assert not window.sheet.confirm_button.isEnabled()  # a reason is required
    answer(window, "pressed Stop instead of Pause")
    assert window.state.timer.phase is T.Phase.RUNNING
    assert window.state.timer.running_minutes == 41
    window.timer_action(T.Kind.STOP)
    answer(window)
    clock.advance(5 * 60 + 1)
    window.tick()
    assert undo.isHidden()


def test_a_time_correction_needs_a_time_and_a_reason_and_a_refusal_keeps_what_was_typed(
        qtbot, main: MainWindow, nurse: Workspace) -> None:
    make_ready(nurse, SUBJECT)
    window = bedside_of(main, qtbot)
    window.timer_action(T.Kind.START)
    answer(window)
    window.correct_time()
    sheet = window.sheet
    assert [f.__class__.__name__ for f in sheet.fields] == ["QComboBox", "QLineEdit", "QLineEdit"]
    assert not sheet.confirm_button.isEnabled()
    sheet.fields[1].setText("10:05")  # type: ignore[union-attr]
    assert not sheet.confirm_button.isEnabled()  # no reason yet
    answer(window, "Start", "25:99", "the pump's clock")
    assert sheet.is_open and "Actual time: this time does not exist" in sheet.error.text()
    assert sheet.fields[2].text() == "the pump's clock"  # type: ignore[union-attr]
    answer(window, "Start", "09:58", "the pump's clock")
    assert not sheet.is_open and window.state is not None and window.state.timer_events[0].corrected


def test_questions_are_touch_sized(qtbot, main: MainWindow, nurse: Workspace, request: pytest.FixtureRequest) -> None:
    """The time and reason dialogs were 218 pixels wide with small fields."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setStyleSheet(STYLE)
    request.addfinalizer(lambda: app.setStyleSheet(""))
    make_ready(nurse, SUBJECT)
    window = bedside_of(main, qtbot)
    window.show()
    qtbot.waitExposed(window)
    window.timer_action(T.Kind.PAUSE if window.state and window.state.timer.phase is T.Phase.RUNNING
                        else T.Kind.START)
    answer(window)
    window.timer_action(T.Kind.PAUSE)
    QApplication.processEvents()
    sheet = window.sheet
    assert sheet.width() >= 1000 and sheet.fields[0].height() >= 48
    assert sheet.confirm_button.height() >= 52 and sheet.cancel_button.height() >= 52
    assert window.clock.isVisible()  # the timer stays in view while asking


# ----- 3. never blocked, always lockable -----------------------------------------------------------------------------
class BlockSpy(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.blocked = 0

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.WindowBlocked:
            self.blocked += 1
        return False


def test_nothing_in_the_app_blocks_the_bedside(qtbot, main: MainWindow, nurse: Workspace) -> None:
    """The casebook was window-modal (the bedside, its sibling, took no input), the forms too, and any message box
    was application-modal."""
    main.show()
    window = bedside_of(main, qtbot)
    casebook = next(w for w in main.open_dialogs if isinstance(w, CasebookDialog))
    window.show()
    assert window.parent() is None and not casebook.isModal()
    assert casebook.windowModality() is Qt.WindowModality.NonModal
    spy = BlockSpy()
    window.installEventFilter(spy)
    seen: list[str] = []

    def close_the_box() -> None:
        box = QApplication.activeModalWidget()
        seen.append(box.windowModality().name if box is not None else "none")
        if box is not None:
            box.close()

    QTimer.singleShot(50, close_the_box)
    QMessageBox.warning(casebook, "Casebook", "a refusal in the casebook")
    QTimer.singleShot(50, close_the_box)
    QMessageBox.question(main, "Main", "a question in the main window")
    assert seen == ["WindowModal", "WindowModal"] and spy.blocked == 0
    # The adverse event form opened from a flag: a window with no parent, tracked (hidden at a lock), not modal.
    make_ready(nurse, SUBJECT)
    window.reload()
    window.timer_action(T.Kind.START)
    answer(window)
    nurse.bedside.record_vitals(SUBJECT, "T15", {**NORMAL, "VSTEMP": "38,6"}, confirm=True)
    window.reload()
    assert window.state is not None
    window.open_adverse_event(window.state.readings[-1].flags[0])
    form = window.last_form
    assert form is not None and form.parent() is None and not form.isModal() and form in main.open_dialogs
    assert spy.blocked == 0
    main.lock()
    assert not form.isVisible() and not window.isVisible()


def test_every_window_shows_who_is_signed_in_and_locks(qtbot, main: MainWindow) -> None:
    window = bedside_of(main, qtbot)
    casebook = next(w for w in main.open_dialogs if isinstance(w, CasebookDialog))
    assert window.session.who.text() == "Signed in: Inès Durand IDE (formation) · Research nurse"
    assert "Inès Durand" in window.windowTitle() and "Inès Durand" in casebook.windowTitle()
    assert casebook.session.who.text() == window.session.who.text()
    assert main.lock_action.shortcutContext() is Qt.ShortcutContext.ApplicationShortcut
    assert main.lock_action.shortcut().toString() == "Ctrl+L"
    window.session.lock_button.click()  # the Lock button of the bedside locks the whole app
    assert main.stack.currentWidget() is main.lock_screen and main.ws.locked
    assert not window.isVisible() and not casebook.isVisible()


# ----- 4. hand-over --------------------------------------------------------------------------------------------------
def test_a_takeover_clears_what_the_nurse_typed_and_keeps_it_as_hers(qtbot, main: MainWindow, nurse: Workspace,
                                                                     demo: Site) -> None:
    """After a takeover the nurse's unsaved values stayed in the fields under the physician's session: one Enter
    recorded the nurse's measurement under the physician's name, and nothing said who was signed in."""
    make_ready(nurse, SUBJECT)
    window = bedside_of(main, qtbot)
    window.timer_action(T.Kind.START)
    answer(window)
    window.tabs.setCurrentIndex(1)
    for item, text in {"VSTEMP": "37,4", "VSHR": "91"}.items():
        qtbot.keyClicks(window.vital_fields[item], text)
    window.tabs.setCurrentIndex(0)
    qtbot.keyClicks(window.check_fields["lot"], "L9-typed")
    take_over(qtbot, main, "dr.martin", "training-doctor")
    assert window.bedside.ctx.actor.username == "dr.martin"
    assert all(edit.text() == "" for edit in window.vital_fields.values())
    assert window.check_fields["lot"].text() == "L1"  # the recorded check, not what the nurse typed
    assert not window.identity_box.isChecked()
    assert window.session.who.text().startswith("Signed in: Dr Claire Martin")
    assert "Dr Claire Martin" in window.windowTitle()
    readings = len(window.state.readings) if window.state else 0
    qtbot.keyClick(window.vital_fields["VSSPO2"], Qt.Key.Key_Return)  # the physician's Enter records nothing
    assert window.state is not None and len(window.state.readings) == readings
    assert main.ws.bedside.typed(SUBJECT) == {}  # the physician has no such draft
    take_over(qtbot, main, "nurse.durand", "training-nurse")
    assert window.vital_fields["VSTEMP"].text() == "37,4" and window.vital_fields["VSHR"].text() == "91"
    assert window.check_fields["lot"].text() == "L1L9-typed"  # typed after the recorded "L1"
    assert window.vitals_panel.restored.isVisibleTo(window.vitals_panel)


def test_a_lock_and_unlock_by_the_same_user_gives_the_values_back(qtbot, main: MainWindow, nurse: Workspace) -> None:
    window = bedside_of(main, qtbot)
    qtbot.keyClicks(window.vital_fields["VSTEMP"], "36,")
    main.lock()
    assert window.vital_fields["VSTEMP"].text() == ""  # not on the screen behind the lock
    main._unlock("training-nurse")
    qtbot.waitUntil(lambda: main.stack.currentWidget() is main.work, timeout=5000)
    assert window.vital_fields["VSTEMP"].text() == "36,"


# ----- 5. quick entry follows the schedule ----------------------------------------------------------------------------
def test_quick_entry_is_for_the_due_reading_or_the_next_one(qtbot, main: MainWindow, nurse: Workspace,
                                                            clock: FakeClock) -> None:
    """Quick entry said "extra" when the 30-min reading was due (taken 3 minutes early it became an extra reading,
    and the 30-min one went overdue)."""
    make_ready(nurse, SUBJECT)
    window = bedside_of(main, qtbot)
    window.timer_action(T.Kind.START)
    answer(window)
    clock.advance(15 * 60)
    window.tick()
    assert window.vitals_panel.entry_title.text() == "Reading for: 15 min after the start: due now"
    nurse.bedside.record_vitals(SUBJECT, "T15", NORMAL)
    window.reload()
    clock.advance(12 * 60)  # 27': the 30-min reading is not "due" yet (2 min before), but it is the next one
    window.tick()
    assert window.vitals_panel.entry_title.text() == "Reading for: 30 min after the start in 03:00"
    for item, text in NORMAL.items():
        window.vital_fields[item].setText(text)
    assert window.save_vitals()
    assert window.state is not None and window.state.readings[-1].timepoint == "T30"
    window.vitals_panel.extra_box.setChecked(True)
    assert window.vitals_panel.entry_title.text() == "Extra reading (not on the schedule)"
    for item, text in NORMAL.items():
        window.vital_fields[item].setText(text)
    assert window.save_vitals()
    assert window.state.readings[-1].timepoint is None and not window.vitals_panel.extra_box.isChecked()


def test_one_question_lists_every_abnormal_value_and_each_flag_keeps_its_adverse_event(
        qtbot, main: MainWindow, nurse: Workspace) -> None:
    make_ready(nurse, SUBJECT)
    window = bedside_of(main, qtbot)
    window.timer_action(T.Kind.START)
    answer(window)
    abnormal = {**NORMAL, "VSTEMP": "38,6", "VSHR": "132", "VSSYSBP": "96", "VSSPO2": "89"}
    for item, text in abnormal.items():
        window.vital_fields[item].setText(text)
    assert not window.save_vitals()
    asked = window.sheet.text.text()
    assert asked.count("\n• ") == 4 and window.sheet.cancel_button.text() == "Correct the values"
    answer(window, confirm=False)  # back to the values, nothing saved
    assert window.state is not None and len(window.state.readings) == 1
    assert window.vital_fields["VSTEMP"].text() == "38,6"
    window.save_vitals()
    answer(window)
    assert len(window.state.readings) == 2 and window.vital_fields["VSTEMP"].text() == ""
    buttons = [window.flags_box.itemAt(i).widget() for i in range(window.flags_box.count())]
    assert len(buttons) == 4


def test_a_complete_temperature_moves_on_and_a_tab_right_after_is_absorbed(qtbot, main: MainWindow) -> None:
    window = bedside_of(main, qtbot)
    window.show()
    qtbot.waitExposed(window)
    window.tabs.setCurrentIndex(1)
    panel = window.vitals_panel
    temp, hr = (window.vital_fields[i] for i in ("VSTEMP", "VSHR"))
    qtbot.keyClicks(temp, "36,")
    assert panel._advanced_into is None
    qtbot.keyClicks(temp, "9")
    assert panel._advanced_into is hr  # moved on (the focus itself is checked in a real window)
    tab = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Tab, Qt.KeyboardModifier.NoModifier)
    assert panel.eventFilter(hr, tab)  # the Tab typed out of habit is absorbed...
    assert not panel.eventFilter(hr, tab)  # ...once


# ----- 7. the running infusion on the lock screen and the subject list -------------------------------------------
def test_the_subject_list_and_the_lock_screen_show_the_running_infusion(qtbot, main: MainWindow, nurse: Workspace,
                                                                         clock: FakeClock) -> None:
    make_ready(nurse, SUBJECT)
    nurse.bedside.timer(SUBJECT, T.Kind.START)
    main.refresh_infusions()  # (the bedside's own write does this through its change record)
    clock.advance(5 * 60)
    main.update_lock_activity()
    row = next(r for r in range(main.table.rowCount()) if main.subjects.subject_at(r) == SUBJECT)
    cell = main.table.item(row, main.table.columnCount() - 1)
    assert cell.text() == "Subject 99-006 · infusion running 05:00 · next reading: 15 min after the start in 10:00"
    assert cell.font().bold()
    clock.advance(16 * 60)
    main.lock()
    main.update_lock_activity()
    text = main.lock_screen.activity.text()
    assert text.startswith("Subject 99-006 · infusion running 21:00") and "OVERDUE by 06:00" in text
    assert "#b00020" in main.lock_screen.activity.styleSheet()
    set_lang(Lang.FR)
    main.update_lock_activity()
    assert main.lock_screen.activity.text().startswith("Patient 99-006 · perfusion en cours 21:00")


def test_the_sound_is_off_by_default_and_rings_once_when_a_reading_becomes_due(
        qtbot, main: MainWindow, nurse: Workspace, clock: FakeClock) -> None:
    rang: list[int] = []
    main.alarm.beep = lambda: rang.append(1)
    make_ready(nurse, SUBJECT)
    window = bedside_of(main, qtbot)
    window.timer_action(T.Kind.START)
    answer(window)
    assert not window.vitals_panel.sound_box.isChecked() and not main.alarm.enabled
    clock.advance(13 * 60 + 30)  # T15 due at 13'
    main.update_lock_activity()
    assert rang == []  # off: no sound
    window.vitals_panel.sound_box.setChecked(True)
    assert main.alarm.enabled
    clock.advance(7 * 60)  # overdue after 20'
    main.update_lock_activity()
    main.update_lock_activity()
    assert rang == [1]


# ----- fits a 1280 x 800 laptop ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", [Lang.EN, Lang.FR])
def test_the_bedside_and_the_casebook_fit_a_1280_by_800_screen(qtbot, main: MainWindow, nurse: Workspace,
                                                              request: pytest.FixtureRequest, lang: Lang) -> None:
    """The bedside (800 px plus its title bar) ran about 25 px below an 800-pixel screen; the casebook was 1360 px
    wide."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setStyleSheet(STYLE)
    request.addfinalizer(lambda: app.setStyleSheet(""))
    set_lang(lang)
    make_ready(nurse, SUBJECT)
    window = bedside_of(main, qtbot)
    casebook = next(w for w in main.open_dialogs if isinstance(w, CasebookDialog))
    window.timer_action(T.Kind.START)
    answer(window)
    window.timer_action(T.Kind.PAUSE)  # with a question open, the tallest state
    for tab in range(window.tabs.count()):
        window.tabs.setCurrentIndex(tab)
        QApplication.processEvents()
        hint = window.minimumSizeHint()
        assert hint.width() <= 1280 and hint.height() <= 800 - 34, (tab, hint)
    assert casebook.width() <= 1280 and casebook.minimumSizeHint().width() <= 1280
