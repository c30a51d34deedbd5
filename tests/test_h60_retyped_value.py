"""h60: a nurse who retypes the value a field already holds can no longer mark the form complete.

Each keystroke goes to the encrypted typing buffer; leaving the field saves the value and clears the buffer, unless
the text equals the value already saved (``FormWrites.commit`` returns early). The buffer then keeps that text, and
"Mark complete" counts it as "the value typed has not been saved yet" (``DataEntry.mark_complete``): a blocker
naming a field that shows exactly what is stored, which no Tab or Enter clears.

Steps (real key events on a shown form): vital signs at D0, every field filled and saved; click into Heart rate
(72), press Backspace, type "2" (72 again), Tab; press Ctrl+Return.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.status import FormStatus
from msc_sle_crf.ui.form import FormView

from .conftest import make_user
from .forms_helpers import STUDY

VITALS = {"VSTIM": "10:15", "VSTEMP": "37,1", "VSHR": "72", "VSSYSBP": "120", "VSDIABP": "75", "VSSPO2": "98"}


@pytest.fixture
def nurse(site: Site, admin: Workspace) -> Workspace:
    return Workspace.sign_in(site, "nurse.h60", make_user(admin, "nurse.h60", "nurse"), study=STUDY)


def _show(qtbot, view: FormView) -> FormView:  # type: ignore[no-untyped-def]
    qtbot.addWidget(view)
    view.show()
    view.activateWindow()
    qtbot.waitUntil(view.isActiveWindow, timeout=3000)
    return view


def _line(view: FormView, key) -> QLineEdit:  # type: ignore[no-untyped-def]
    widget = view.fields[key].editor.focus_widget()
    assert isinstance(widget, QLineEdit)
    return widget


def test_retyping_the_saved_value_does_not_block_completion(qtbot, nurse: Workspace) -> None:  # type: ignore[no-untyped-def]
    subject = nurse.subjects.register("RTY", 1980, "F").subject.subject_number
    ref = FormRef(subject, "D0", "vital_signs")
    row = nurse.entry.add_row(ref, "vs").row
    for item, text in VITALS.items():
        nurse.entry.save_item(ref, ("vs", row, item), text)
    view = _show(qtbot, FormView(nurse, ref))
    hr = _line(view, ("vs", row, "VSHR"))
    hr.setFocus()
    hr.end(False)
    qtbot.keyClick(hr, Qt.Key.Key_Backspace)  # "7"
    qtbot.keyClicks(hr, "2")  # "72": what is saved
    qtbot.keyClick(hr, Qt.Key.Key_Tab)
    assert hr.text() == "72"
    qtbot.keyClick(view.focusWidget() or view, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)

    blockers = [view.blockers.item(i).text() for i in range(view.blockers.count())]
    assert view.status is FormStatus.COMPLETE, blockers  # fails now: "Heart rate: ... not been saved yet"
    assert nurse.entry.open_form(ref).status is FormStatus.COMPLETE
