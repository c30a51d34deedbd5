"""h60: typing readings with Enter (as the form's hint says: "Tab/Enter: next field"), Enter after the last field
of a reading lands on the next reading's "Remove row…" button: what the nurse types next is lost, and her next
Enter asks her why the reading is removed.

Enter in a field moves the focus to the next Tab stop (ui/form/editors.py ``LineEditor``: ``returnPressed`` ->
``focusNextChild``), and the next Tab stop after a reading's last field is the "Remove row…" button at the top of
the next reading's card (Tab focus, so that the keyboard can reach it). The keys typed there go to the button
(ignored); Enter on a focused button clicks it. After the last reading, the same Enter lands on "+ Add a row", and
the next Enter adds an empty reading.

Steps: vital signs at D0 with two readings; in reading #1 type 97 in SpO2, Enter; type 10:30 (the next reading's
time), Enter.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.form import FormWindow

from .conftest import make_user
from .forms_helpers import STUDY


def test_enter_after_a_reading_goes_to_the_next_reading_not_to_its_remove_button(qtbot, site: Site,  # type: ignore[no-untyped-def]
                                                                                  admin: Workspace) -> None:
    nurse = Workspace.sign_in(site, "nurse.en", make_user(admin, "nurse.en", "nurse"), study=STUDY)
    subject = nurse.subjects.register("ENT", 1980, "F").subject.subject_number
    ref = FormRef(subject, "D0", "vital_signs")
    first, second = nurse.entry.add_row(ref, "vs").row, nurse.entry.add_row(ref, "vs").row
    window = FormWindow(nurse, ref)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    asked: list[tuple[str, str, str]] = []
    window.view.ask_reason = lambda *question: asked.append(question) or None  # type: ignore[method-assign]

    spo2 = window.view.fields[("vs", first, "VSSPO2")].editor.focus_widget()
    spo2.setFocus()
    qtbot.waitUntil(spo2.hasFocus, timeout=2000)
    qtbot.keyClicks(spo2, "97")
    qtbot.keyClick(spo2, Qt.Key.Key_Return)
    landed = QApplication.focusWidget()
    in_second = [key for key, field in dict.items(window.view.fields)
                 if key[1] == second and landed is not None and field.isAncestorOf(landed)]
    qtbot.keyClicks(landed, "10:30")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)

    # Fails now: the focus went to 'removeRow', "10:30" went nowhere, and Enter asked why reading #2 is removed.
    assert asked == [], asked
    assert in_second, landed.objectName() if landed is not None else None
