"""h60: a completed form is signed while it shows a value that is not the one stored (and signed).

A value typed in a field stays in the user's encrypted typing buffer until the field is left (written there within
300 ms of the keystroke). If the program stops before the field is left (a crash, the battery, a kill), the form
opens again showing the typed value in the field, with the green "OK" mark and nothing saying it is not saved.
"Mark complete" refuses such a form ("Weight: the value typed has not been saved yet"), but "Sign…" does not:
``Lifecycle.sign`` checks only the form's blockers. The physician signs a screen that shows Weight 70 kg; the
signature (and the PDF, and the export) hold 62.5 kg.

Steps: Demographics completed with Weight 62.5; the physician types 70 in Weight and the program dies before she
leaves the field (the buffer holds "70", as the 300 ms flush leaves it); she signs in again, opens the form (Weight
shows 70 ✓) and clicks "Sign…", user name, password, "Sign".
"""

from __future__ import annotations

from PySide6.QtCore import Qt

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.services.lifecycle import LifecycleAction
from msc_sle_crf.ui.form import FormView

from .conftest import make_user
from .forms_helpers import STUDY

DEMOGRAPHICS = {"BRTHDAT": "UK/06/1980", "ETHNIC": "NR", "HEIGHT": "165", "WEIGHT": "62,5", "CHILDPOT": "N"}
WEIGHT = ("dm", 0, "WEIGHT")


def test_sign_is_refused_while_the_screen_shows_an_unsaved_value(qtbot, site: Site,  # type: ignore[no-untyped-def]
                                                                 admin: Workspace) -> None:
    password = make_user(admin, "dr.sg", "investigator")
    dr = Workspace.sign_in(site, "dr.sg", password, study=STUDY)
    subject = dr.subjects.register("SGN", 1980, "F").subject.subject_number
    ref = FormRef(subject, "SCR", "demographics")
    for item, text in DEMOGRAPHICS.items():
        dr.entry.save_item(ref, ("dm", 0, item), text)
    dr.entry.mark_complete(ref)
    dr.entry.save_typing(ref, WEIGHT, "70")  # typed, flushed, field never left: the program died

    again = Workspace.sign_in(site, "dr.sg", password, study=STUDY)  # the program started again
    view = FormView(again, ref)
    qtbot.addWidget(view)
    view.show()
    assert view.fields[WEIGHT].editor.text() == "70"
    assert view.fields[WEIGHT].state == "ok"  # shown as a good value: nothing says it is not saved
    assert [r.new_value for r in again.entry.item_history(ref, WEIGHT)][-1] == "62.5"  # what is stored
    sign = view.lifecycle_buttons[LifecycleAction.SIGN]
    assert sign.isVisible()
    qtbot.mouseClick(sign, Qt.MouseButton.LeftButton)
    dialog = view.sign_dialog
    qtbot.keyClicks(dialog.username, "dr.sg")
    qtbot.keyClicks(dialog.password, password)
    qtbot.mouseClick(dialog.sign_button, Qt.MouseButton.LeftButton)

    signed = again.lifecycle.signatures(ref)
    # Fails now: signed, over Weight 62.5 while the screen showed 70.
    assert signed == [], f"signed over {again.lifecycle.signatures(ref)[0].content_hash[:12]} with Weight shown 70"
    assert "Weight" in dialog.error.text() or "Weight" in view.last_error
