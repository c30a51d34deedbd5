"""h60: an unusual corrected value given in answer to a query is recorded as "confirmed" by a user who was never
shown the warning.

services/monitoring.py ``answer`` saves the corrected value with ``confirm=True``: an unusual value (here a
temperature of 39.5 °C, above the expected 38.0) is stored at once, its audit record says "confirmed: Temperature:
39.5 °C is unusually high (expected at most 38.0 °C)" in the nurse's name, and an automatic query is opened - yet the
query window showed her no warning and asked for no confirmation (on the form, the same value waits for "Confirm
value"). A typo (39,5 for 36,5) goes in as a deliberate, confirmed value.

Steps: vital signs at D0, a reading with temperature 37,2; the monitor raises a query on it; the nurse opens the
field's queries, writes "re-measured" and 39,5 in "Corrected value", clicks "Answer" once.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.form import FormView

from .conftest import make_user
from .forms_helpers import STUDY


def test_an_unusual_corrected_value_is_not_confirmed_unseen(qtbot, site: Site,  # type: ignore[no-untyped-def]
                                                            admin: Workspace) -> None:
    nurse = Workspace.sign_in(site, "nurse.cc", make_user(admin, "nurse.cc", "nurse"), study=STUDY)
    monitor = Workspace.sign_in(site, "monitor.cc", make_user(admin, "monitor.cc", "monitor"), study=STUDY)
    subject = nurse.subjects.register("CNF", 1980, "F").subject.subject_number
    ref = FormRef(subject, "D0", "vital_signs")
    row = nurse.entry.add_row(ref, "vs").row
    key = ("vs", row, "VSTEMP")
    nurse.entry.save_item(ref, key, "37,2")
    monitor.monitoring.open_query(ref, key, "37.2 at 10:15? The chart says otherwise.")

    view = FormView(nurse, ref)
    qtbot.addWidget(view)
    view.show()
    view.show_queries(key)
    dialog = view.query_dialog
    assert "unusually" not in dialog.text.toPlainText()  # no warning on screen before the answer
    qtbot.keyClicks(dialog.reply, "re-measured")
    qtbot.keyClicks(dialog.corrected, "39,5")
    qtbot.mouseClick(dialog.answer_button, Qt.MouseButton.LeftButton)

    confirmed = [r for r in nurse.entry.item_history(ref, key) if (r.detail or "").startswith("confirmed:")]
    # Fails now: one record, "confirmed: Temperature: 39.5 °C is unusually high ...", made by that single click.
    assert confirmed == [], [(r.new_value, r.detail) for r in confirmed]
