"""The nurse's infusion day in a real window: sign in, open the subject, product check with a second person,
baseline, start, three readings by keyboard (one abnormal), lock, takeover by the physician, the nurse's return,
stop, undo the stop, stop; and the refusals: start without the check, Enter after a reading, start for a screening
failure. Run by ``tests/realwin/test_nurse_day.py`` on a virtual display; prints one ``RESULT`` line.

    QT_QPA_PLATFORM=xcb DISPLAY=:1 python -m tests.realwin.scenario_nurse_day --shots /tmp/shots --lang fr
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.formdef import load_study
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.services import Workspace
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.ui.bedside import BedsideWindow
from msc_sle_crf.ui.casebook import CasebookDialog
from msc_sle_crf.ui.login import LoginWindow
from msc_sle_crf.ui.main_window import MainWindow
from tests.helpers.eligible import make_eligible

from .harness import Harness, keystrokes

SUBJECT, SCREEN_FAILURE = "99-006", "99-004"
PERSON_KEY_SECONDS = 0.25  # a realistic pace for a nurse typing numbers read off the monitor (about 4 keys a second)
ONE_SET = "36,9" + "80\t120\t76\t16\t97\n"  # the temperature moves on by itself once complete (36,9)


def open_subject(h: Harness, main: MainWindow, number: str) -> CasebookDialog:
    h.activate(main)
    table = main.table
    row = next(r for r in range(table.rowCount()) if main.subjects.subject_at(r) == number)
    item = table.item(row, 0)
    h.click(table.viewport(), table.visualItemRect(item).center())
    h.press("Return")
    return h.window(number, CasebookDialog)


def open_bedside(h: Harness, casebook: CasebookDialog, number: str) -> BedsideWindow:
    h.click(casebook.bedside_button)
    window = h.window(number, BedsideWindow)
    h.activate(window)
    return window


def readings(window: BedsideWindow) -> int:
    return len(window.state.readings) if window.state is not None else 0


def phase(window: BedsideWindow) -> T.Phase | None:
    return window.state.timer.phase if window.state is not None else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=Path, required=True)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--size", default="1280x800")
    args = parser.parse_args()
    h = Harness(args.shots, args.lang)
    fr = args.lang == "fr"
    clock = FakeClock()
    folder = Path(tempfile.mkdtemp(prefix="realwin-"))
    site = create_demo(folder / "day.crfdb", clock=clock)  # real Argon2 parameters: sign-ins take their real time
    # The physician has entered 99-006's screening SELENA-SLEDAI and steroids (the start needs the criteria met)
    make_eligible(Workspace.sign_in(site, "dr.martin", "training-doctor"), SUBJECT, screening=False)
    h.start_app(site, load_study())
    results = h.results

    # ----- sign in, open the subject, its bedside ------------------------------------------------------------------
    login = h.window("eCRF", LoginWindow)
    h.activate(login)
    h.shot("sign-in")
    h.type("nurse.durand\ntraining-nurse\n")
    main = h.window("eCRF", MainWindow, timeout=20)
    h.wait_until(lambda: main.table.rowCount() >= 6, "the subject list")
    h.shot("subject-list")
    casebook = open_subject(h, main, SUBJECT)
    h.shot("casebook")
    bed = open_bedside(h, casebook, SUBJECT)
    h.process(0.8)  # the window manager has framed the windows, and they fitted themselves to the screen
    h.shot("bedside-before-the-check")
    results["fits"] = {"main": h.fits(main), "casebook": h.fits(casebook), "bedside": h.fits(bed)}
    results["bedside_size"] = [bed.frameGeometry().width(), bed.frameGeometry().height()]

    # ----- refused: start without the check --------------------------------------------------------------------------
    start = bed.timer_buttons[T.Kind.START]
    h.check(not start.isEnabled(), "Start is disabled before the check")
    h.click(start)
    h.check(not bed.sheet.is_open and phase(bed) is T.Phase.NOT_STARTED, "a click on Start does nothing yet")
    results["start_refused_says"] = bed.readiness_label.text()
    h.check(("vérification" if fr else "check") in results["start_refused_says"], "Start says what is missing")

    # ----- the check, with a second person ------------------------------------------------------------------------
    h.click(bed.identity_box)
    for key, text in {"weight": "58", "bag": "UC-99-006-01", "lot": "L2026-021", "cells": "118",
                      "use_by": "25/11/2026 16:00", "premed": "paracetamol 1 g"}.items():
        h.click(bed.check_fields[key])
        h.type(text)
    h.click(bed.cohort_buttons["2"])
    h.shot("check-typed")
    h.click(bed.record_check_button)
    h.wait_until(lambda: bed.state is not None and bed.state.product is not None, "the check recorded")
    h.click(bed.second_user)
    h.type("dr.martin\ttraining-doctor\n")
    h.wait_until(lambda: bed.state is not None and bed.state.product is not None
                 and bed.state.product.second_by == "dr.martin", "the second person's confirmation", timeout=20)
    h.shot("check-confirmed")

    # ----- the baseline, by keyboard; Enter after it does nothing more -----------------------------------------------
    h.click(bed.check_tab.baseline_button)
    h.wait_until(bed.vital_fields["VSTEMP"].hasFocus, "the cursor in the temperature")
    h.type("36,8" + "76\t124\t78\t16\t98\n")
    h.wait_until(lambda: readings(bed) == 1, "the baseline saved")
    h.press("Return")  # refused: an Enter after a reading saves nothing and presses nothing
    h.process(0.5)
    h.check(readings(bed) == 1 and not bed.sheet.is_open and phase(bed) is T.Phase.NOT_STARTED,
            "Enter after a reading does nothing")
    results["enter_after_reading"] = "nothing"
    h.check(start.isEnabled(), "Start is enabled once everything is done")

    # ----- start --------------------------------------------------------------------------------------------------
    h.click(start)
    h.wait_until(lambda: bed.sheet.is_open, "the start confirmation")
    results["start_question"] = bed.sheet.text.text()
    h.shot("start-confirmation")
    h.click(bed.sheet.confirm_button)
    h.wait_until(lambda: phase(bed) is T.Phase.RUNNING, "the infusion running")

    # ----- three readings by keyboard: 15' (timed), 30' (abnormal), 45' -------------------------------------------
    clock.advance(15 * 60)
    h.process(1.2)
    h.click(bed.vital_fields["VSTEMP"])
    results["entry_title_at_15"] = bed.vitals_panel.entry_title.text()
    h.shot("reading-due-15")
    typing = h.type(ONE_SET[:-1], delay_ms=int(PERSON_KEY_SECONDS * 1000))  # the six values and the Tabs
    began = time.monotonic()
    h.press("Return")
    h.wait_until(lambda: readings(bed) == 2, "the 15-min reading saved")
    saved_after = time.monotonic() - began  # from the Enter to the reading saved and shown
    results["one_set"] = {"keystrokes": keystrokes(ONE_SET),
                          "person_seconds": round(keystrokes(ONE_SET) * PERSON_KEY_SECONDS + saved_after, 2),
                          "enter_to_saved_seconds": round(saved_after, 3),
                          "xdotool_typing_seconds": round(typing, 2),
                          "timepoint": bed.state.readings[-1].timepoint if bed.state else None}
    clock.advance(15 * 60)
    h.process(1.2)
    h.click(bed.vital_fields["VSTEMP"])
    h.type("38,7" + "124\t92\t58\t22\t90\n")
    h.wait_until(lambda: bed.sheet.is_open, "one question for every abnormal value")
    results["abnormal_question"] = bed.sheet.text.text()
    h.shot("abnormal-values-one-question")
    h.click(bed.sheet.confirm_button)
    h.wait_until(lambda: readings(bed) == 3, "the abnormal set saved")
    results["flags"] = bed.flags_box.count()
    h.shot("flags-with-adverse-event-buttons")
    clock.advance(15 * 60)
    h.process(1.2)
    h.click(bed.vital_fields["VSTEMP"])
    h.type("37,4" + "96\t112\t70\t18\t95\n")
    h.wait_until(lambda: readings(bed) == 4, "the 45-min reading saved")
    results["timepoints"] = [r.timepoint for r in bed.state.readings] if bed.state else []
    h.shot("three-readings-and-the-trend")

    # ----- lock with a value half typed, the physician takes over, the nurse comes back ---------------------------
    h.click(bed.vital_fields["VSTEMP"])
    h.type("37,")
    began = time.monotonic()
    h.press("ctrl+l")
    h.wait_until(lambda: main.stack.currentWidget() is main.lock_screen and main.isActiveWindow(),
                 "the lock screen in front")
    results["lock_seconds"] = round(time.monotonic() - began, 2)
    results["lock_screen_line"] = main.lock_screen.activity.text()
    h.shot("locked")
    h.click(main.lock_screen.other_user)
    h.type("dr.martin\ttraining-doctor")
    began = time.monotonic()
    h.press("Return")
    h.wait_until(lambda: bed.isVisible() and bed.ws.actor.username == "dr.martin"
                 and "Martin" in bed.session.who.text(), "the physician's bedside", timeout=30)
    results["takeover_seconds"] = round(time.monotonic() - began, 2)
    results["physician_sees"] = {"temperature": bed.vital_fields["VSTEMP"].text(), "who": bed.session.who.text()}
    h.activate(bed)
    h.shot("physician-took-over-empty-fields")
    h.click(bed.vital_fields["VSSPO2"])
    h.press("Return")
    h.check(readings(bed) == 4, "the physician's Enter recorded nothing")
    h.press("ctrl+l")
    h.wait_until(lambda: main.stack.currentWidget() is main.lock_screen, "locked again")
    h.click(main.lock_screen.other_user)
    h.type("nurse.durand\ttraining-nurse\n")
    h.wait_until(lambda: bed.isVisible() and bed.ws.actor.username == "nurse.durand", "the nurse back", timeout=30)
    h.activate(bed)
    results["nurse_gets_back"] = bed.vital_fields["VSTEMP"].text()
    h.shot("nurse-back-with-her-value")
    h.click(bed.vital_fields["VSTEMP"])
    h.press("ctrl+a", "BackSpace")

    # ----- stop, undo the stop, stop ----------------------------------------------------------------------------------
    clock.advance(5 * 60)
    h.process(1.2)
    h.click(bed.timer_buttons[T.Kind.STOP])
    h.wait_until(lambda: bed.sheet.is_open, "the stop confirmation")
    results["stop_question"] = bed.sheet.text.text()
    results["stop_focus_on_cancel"] = bed.sheet.cancel_button.hasFocus()
    h.shot("stop-confirmation")
    h.click(bed.sheet.confirm_button)
    h.wait_until(lambda: phase(bed) is T.Phase.STOPPED, "stopped")
    h.shot("stopped-undo-offered")
    h.click(bed.timer_buttons[T.Kind.UNDO_STOP])
    h.wait_until(lambda: bed.sheet.is_open, "the undo question")
    h.type("Stop pressed instead of Pause\n")
    h.wait_until(lambda: phase(bed) is T.Phase.RUNNING, "running again")
    h.shot("stop-undone")
    clock.advance(2 * 60)
    h.process(1.2)
    h.click(bed.timer_buttons[T.Kind.STOP])
    h.wait_until(lambda: bed.sheet.is_open, "the stop confirmation again")
    h.click(bed.sheet.confirm_button)
    h.wait_until(lambda: phase(bed) is T.Phase.STOPPED, "stopped for good")
    results["running_minutes"] = round(bed.state.timer.running_minutes) if bed.state else None
    h.shot("stopped")

    # ----- refused: start for a screening failure --------------------------------------------------------------------
    other = open_subject(h, main, SCREEN_FAILURE)
    failed = open_bedside(h, other, SCREEN_FAILURE)
    h.check(not failed.timer_buttons[T.Kind.START].isEnabled(), "no start for a screening failure")
    results["screen_failure_says"] = failed.readiness_label.text()
    h.shot("screening-failure-refused")
    h.report()
    site.close()


if __name__ == "__main__":
    main()
