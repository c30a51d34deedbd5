"""The bedside screen, driven minute by minute with an injected clock: what is due, what is overdue, alerts with a
pre-filled adverse event, the two-person check, and a lock or a user switch in the middle of the infusion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.ui.bedside import BedsideWindow
from msc_sle_crf.ui.main_window import MainWindow

from .conftest import FAST_KDF
from .helpers.bedside_ui import answer, make_ready


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Site]:
    site = create_demo(tmp_path / "bedside.crfdb", kdf=FAST_KDF, clock=FakeClock())
    yield site
    site.close()


@pytest.fixture
def nurse(demo: Site) -> Workspace:
    return Workspace.sign_in(demo, "nurse.durand", "training-nurse")


def fill_check(qtbot, window: BedsideWindow) -> None:  # type: ignore[no-untyped-def]
    window.identity_box.setChecked(True)
    for key, text in {"weight": "58", "bag": "UC-1", "lot": "L1", "cells": "120", "use_by": "25/11/2026 16:00",
                      "premed": "none"}.items():
        window.check_fields[key].setText(text)
    window.cohort_buttons["2"].setChecked(True)


def test_check_screen_flags_a_dose_mismatch_and_needs_a_second_person(qtbot, nurse: Workspace) -> None:
    window = BedsideWindow(nurse, "99-006")
    qtbot.addWidget(window)
    fill_check(qtbot, window)
    assert "Planned: 116 x10^6" in window.dose_line.text() and "+3.4 %" in window.dose_line.text()
    window.check_fields["cells"].setText("150")
    assert "MISMATCH beyond 10 %" in window.dose_line.text()
    window.check_fields["cells"].setText("120")
    window.check_fields["use_by"].setText("25/11/2026 08:00")  # 10:00 local now
    assert "PRODUCT EXPIRED" in window.dose_line.text()
    window.check_fields["use_by"].setText("25/11/2026 16:00")
    assert "Baseline vital signs: to do before the start" in window.baseline_line.text()
    qtbot.mouseClick(window.record_check_button, Qt.MouseButton.LeftButton)
    assert "waiting for the second person" in window.product_line.text()
    window.second_user.setText("nurse.durand")
    window.second_password.setText("training-nurse")
    qtbot.mouseClick(window.second_button, Qt.MouseButton.LeftButton)
    assert "another member of staff" in window.second_status.text()
    window.second_user.setText("dr.martin")
    window.second_password.setText("training-doctor")
    qtbot.mouseClick(window.second_button, Qt.MouseButton.LeftButton)
    assert "confirmed by dr.martin" in window.product_line.text()
    assert window.second_password.text() == ""


def test_schedule_minute_by_minute_and_alerts(qtbot, demo: Site, nurse: Workspace) -> None:
    clock = demo.clock
    assert isinstance(clock, FakeClock)
    window = BedsideWindow(nurse, "99-006")
    qtbot.addWidget(window)
    assert window.next_label.text() == "Baseline (before the start): due now"
    make_ready(nurse, "99-006", baseline=False)
    window.reload()
    for item, text in {"VSTEMP": "36,9", "VSHR": "78", "VSSYSBP": "126", "VSDIABP": "80", "VSSPO2": "98"}.items():
        window.vital_fields[item].setText(text)
    assert window.save_vitals()
    window.timer_action(T.Kind.START)
    assert answer(window).startswith("Start the infusion for subject 99-006 (HTG, 1995) now, at 10:00?")
    assert window.phase.text() == "Running"
    clock.advance(10 * 60)
    window.tick()
    assert window.clock.text() == "10:00"
    assert window.next_label.text() == "15 min after the start in 05:00"
    clock.advance(4 * 60)
    window.tick()
    assert window.next_label.text() == "15 min after the start: due now"
    clock.advance(7 * 60)
    window.tick()
    assert window.next_label.text() == "15 min after the start: OVERDUE by 06:00"
    overdue = [window.schedule_list.item(i) for i in range(window.schedule_list.count())
               if "OVERDUE" in window.schedule_list.item(i).text()]
    assert overdue and overdue[0].font().bold()
    assert "OVERDUE" in window.status_line()
    for item, text in {"VSTEMP": "38,4", "VSHR": "96", "VSSYSBP": "100", "VSDIABP": "62", "VSSPO2": "95"}.items():
        window.vital_fields[item].setText(text)
    assert not window.save_vitals()  # 38.4 °C and a fall of 26 mmHg: one question lists both
    asked = answer(window)
    assert "• Fever 38.4 °C (CTCAE grade 1)" in asked and "26 mmHg below baseline" in asked
    flags = [window.flags_box.itemAt(i).widget() for i in range(window.flags_box.count())]
    assert len(flags) == 2
    texts = " ".join(w.findChild(type(window.identity), "flag").text() for w in flags)
    assert "Fever 38.4 °C (CTCAE grade 1)" in texts and "26 mmHg below baseline" in texts
    window.open_adverse_event(window.state.readings[-1].flags[0])
    form = window.last_form
    rows = form.view.state.rows["ae"]
    assert form.view.state.value(("ae", rows[-1], "AETERM")) == "Fever"
    form.close()


def test_lock_and_user_switch_keep_the_timer_and_alerts(qtbot, demo: Site, nurse: Workspace) -> None:
    clock = demo.clock
    assert isinstance(clock, FakeClock)
    main = MainWindow(nurse, idle_ms=10**9)
    qtbot.addWidget(main)
    window = BedsideWindow(nurse, "99-006", main)
    main._track(window)
    make_ready(nurse, "99-006")
    window.reload()
    window.timer_action(T.Kind.START)
    answer(window)
    clock.advance(12 * 60)
    main.lock()
    assert main.lock_screen.activity.text().startswith("Subject 99-006 · infusion running 12:00 · next reading: "
                                                       "15 min after the start in 03:00")
    clock.advance(10 * 60)
    main.update_lock_activity()  # the lock screen keeps counting, and shows what is overdue
    assert "OVERDUE" in main.lock_screen.activity.text()
    new = Workspace(demo, demo.authenticate("dr.martin", "training-doctor"))
    main._save_open_drafts(new)
    assert window in main.open_dialogs and window.bedside.ctx.actor.username == "dr.martin"
    window.tick()
    assert window.clock.text() == "22:00"
    window.timer_action(T.Kind.STOP)
    assert "Stop the infusion for subject 99-006 (HTG, 1995) now, at 10:22? It has run 22:00." in answer(window)
    assert window.state.timer.phase is T.Phase.STOPPED
    asked = answer(window, "stopped early: chills")
    assert "22 min, outside 30-60 min" in asked  # recorded, never blocked; the comment is kept
    assert window.bedside.state("99-006").comments == ("stopped early: chills",)
