"""h60: "Enter a value instead" then leaving the field empty: the screen shows an empty, required field while the
database keeps "Not done", and the form is marked complete under a "Creatinine: required" line.

"Enter a value instead" (the ⋯ menu of a field marked "Not done") opens the field again on screen only
(ui/form/writes.py ``clear_missing``: the stored code stays until a value is committed). Left empty, nothing is
committed (the empty text equals what the form remembers as saved), so the form now shows a blank field that the
database, the PDF and "Mark complete" all see as "Not done — sample lost". "Mark complete" succeeds and the field
then says "Creatinine: required" beside the green "Complete" state.

Steps: renal function at screening, sample date filled; ⋯ of Creatinine > Not done… (reason "sample lost"); ⋯ >
Enter a value instead; Tab (nothing typed); Ctrl+Return.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.status import FormStatus
from msc_sle_crf.ui.form import FormView

from .conftest import make_user
from .forms_helpers import STUDY

CREAT = ("lb", 0, "CREAT")


def _menu_action(qtbot, view: FormView, text: str) -> None:  # type: ignore[no-untyped-def]
    menu = QMenu(view)
    qtbot.addWidget(menu)
    view.fields[CREAT].fill_menu(menu)
    next(a for a in menu.actions() if a.text().startswith(text)).trigger()


def test_the_screen_and_the_database_agree_after_enter_a_value_instead(qtbot, site: Site,  # type: ignore[no-untyped-def]
                                                                       admin: Workspace) -> None:
    dr = Workspace.sign_in(site, "dr.ev", make_user(admin, "dr.ev", "investigator"), study=STUDY)
    subject = dr.subjects.register("EVI", 1980, "F").subject.subject_number
    ref = FormRef(subject, "SCR", "renal_function")
    dr.entry.save_item(ref, ("lb", 0, "LBDAT"), "20/11/2026")
    view = FormView(dr, ref, ask_missing=lambda field, code: "sample lost")
    qtbot.addWidget(view)
    view.show()
    view.activateWindow()
    qtbot.waitUntil(view.isActiveWindow, timeout=3000)
    field = view.fields[CREAT]

    _menu_action(qtbot, view, "Not done")
    assert field.message.text() == "Not done — sample lost"
    _menu_action(qtbot, view, "Enter a value instead")
    line = field.editor.focus_widget()
    qtbot.waitUntil(line.hasFocus, timeout=2000)
    qtbot.keyClick(line, Qt.Key.Key_Tab)  # changed her mind: nothing typed
    qtbot.keyClick(view.focusWidget() or view, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)

    stored = [r.new_value for r in dr.entry.item_history(ref, CREAT)][-1]
    shown = field.message.text() if field._message is not None and field.message.isVisible() else ""
    # Fails now: stored "[ND] sample lost", the form complete, the field showing "Creatinine: required".
    if stored is not None and stored.startswith("[ND]"):
        assert "Not done" in shown, (view.status, stored, shown)
    else:
        assert view.status is not FormStatus.COMPLETE, (view.status, stored, shown)
