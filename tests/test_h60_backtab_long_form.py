"""h60: Shift+Tab back from "Mark complete" through a long form skips the fields not built yet.

A long form builds the fields below the fold when they are reached (ui/form/lazy.py): by scrolling, by asking for
them, or by Tab *forwards* (the focus coming near a chunk builds it). Going *backwards* builds nothing: from the
"Mark complete" button, Shift+Tab goes to "Add a row", then straight to the reading before the last one. The last
reading (here holding an impossible heart rate, 5) is never reached, and what the nurse types to correct "the last
SpO2" goes into the previous reading's SpO2.

Steps: vital signs at D0 with 6 readings (60 fields, past EAGER_FIELDS); open the form; click "Mark complete" (or
Tab to it); press Shift+Tab three times; compare with the same form built whole.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.form import FormWindow, lazy

from .conftest import make_user

ROWS = 6


@pytest.fixture
def long_form(site: Site, admin: Workspace) -> tuple[Workspace, FormRef, int]:
    nurse = Workspace.sign_in(site, "nurse.bt", make_user(admin, "nurse.bt", "nurse"))
    subject = nurse.subjects.register("BTB", 1980, "F").subject.subject_number
    ref = FormRef(subject, "D0", "vital_signs")
    rows = [nurse.entry.add_row(ref, "vs").row for _ in range(ROWS)]
    for n, row in enumerate(rows):
        nurse.entry.save_values(ref, {("vs", row, "VSTEMP"): f"37.{n}", ("vs", row, "VSSYSBP"): str(120 + n),
                                      ("vs", row, "VSDIABP"): "80"})
    nurse.entry.save_typing(ref, ("vs", rows[-1], "VSHR"), "5")  # below the lowest possible value (20)
    return nurse, ref, rows[-1]


def _open(qtbot, ws: Workspace, ref: FormRef) -> FormWindow:  # type: ignore[no-untyped-def]
    window = FormWindow(ws, ref)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    return window


def _where(window: FormWindow, widget: QWidget | None) -> object:
    for key, field in dict.items(window.view.fields):
        if widget is not None and (field is widget or field.isAncestorOf(widget)):
            return key
    return widget.objectName() if widget is not None else None


def _back_from_complete(qtbot, window: FormWindow, steps: int) -> list[object]:  # type: ignore[no-untyped-def]
    button = window.view.complete_button
    button.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is button, timeout=2000)
    journey = []
    for _ in range(steps):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
        journey.append(_where(window, QApplication.focusWidget()))
    return journey


def test_shift_tab_from_mark_complete_reaches_the_last_reading(qtbot, long_form,
                                                                monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ws, ref, last = long_form
    window = _open(qtbot, ws, ref)
    assert window.view.lazy is not None and window.view.lazy.pending
    journey = _back_from_complete(qtbot, window, 12)
    window.close()
    # The first fields Shift+Tab reaches are the last reading's, last field first (fails now: the previous one's).
    fields = [where for where in journey if isinstance(where, tuple)]
    assert fields[0] == ("vs", last, "VSSPO2"), journey
    assert ("vs", last, "VSHR") in fields  # the impossible heart rate to correct is on the way
    monkeypatch.setattr(lazy, "EAGER_FIELDS", 10_000)  # the same form built whole at opening
    assert journey == _back_from_complete(qtbot, _open(qtbot, ws, ref), 12)
