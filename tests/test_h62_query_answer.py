"""h62: a corrected value given in a query's answer keeps its unit, and an unusual one is confirmed only after its
warning was shown in the query window (the second click, on the same value)."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.form import FormView

from .conftest import make_user
from .forms_helpers import STUDY


def test_the_corrected_value_is_stored_in_the_unit_shown(qtbot, site: Site,  # type: ignore[no-untyped-def]
                                                         admin: Workspace) -> None:
    dr = Workspace.sign_in(site, "dr.qu", make_user(admin, "dr.qu", "investigator"), study=STUDY)
    monitor = Workspace.sign_in(site, "monitor.qu", make_user(admin, "monitor.qu", "monitor"), study=STUDY)
    subject = dr.subjects.register("QUN", 1980, "F").subject.subject_number
    ref, key = FormRef(subject, "M0", "labs"), ("lb", 0, "UPCR")
    dr.entry.save_item(ref, key, "50", "mg/mmol")
    monitor.monitoring.open_query(ref, key, "The report says 45.")
    view = FormView(dr, ref)
    qtbot.addWidget(view)
    view.show_queries(key)
    dialog = view.query_dialog
    assert dialog.unit_combo is not None and dialog.unit_combo.currentData() == "mg/mmol"
    qtbot.keyClicks(dialog.reply, "transcription error")
    qtbot.keyClicks(dialog.corrected, "45")
    qtbot.mouseClick(dialog.answer_button, Qt.MouseButton.LeftButton)
    saved = [r for r in dr.entry.item_history(ref, key) if r.action in ("data_entry", "data_change")]
    assert (saved[-1].new_value, saved[-1].reason) == ("45 mg/mmol", "transcription error")
    [query] = dr.monitoring.queries(ref)
    assert query.messages[-1].text == "transcription error [→ 45 mg/mmol]"


def test_an_unusual_corrected_value_is_confirmed_on_the_second_click(qtbot, site: Site,  # type: ignore[no-untyped-def]
                                                                     admin: Workspace) -> None:
    nurse = Workspace.sign_in(site, "nurse.qc", make_user(admin, "nurse.qc", "nurse"), study=STUDY)
    monitor = Workspace.sign_in(site, "monitor.qc", make_user(admin, "monitor.qc", "monitor"), study=STUDY)
    subject = nurse.subjects.register("QCF", 1980, "F").subject.subject_number
    ref = FormRef(subject, "D0", "vital_signs")
    key = ("vs", nurse.entry.add_row(ref, "vs").row, "VSTEMP")
    nurse.entry.save_item(ref, key, "37,2")
    monitor.monitoring.open_query(ref, key, "Check against the chart.")
    view = FormView(nurse, ref)
    qtbot.addWidget(view)
    view.show_queries(key)
    dialog = view.query_dialog
    qtbot.keyClicks(dialog.reply, "re-measured")
    qtbot.keyClicks(dialog.corrected, "39,5")
    qtbot.mouseClick(dialog.answer_button, Qt.MouseButton.LeftButton)
    assert "unusually high" in dialog.error.text() and dialog.corrected.text() == "39,5"  # shown, kept
    assert nurse.entry.open_form(ref).state.value(key) == Decimal("37.2")  # nothing stored yet
    dialog.corrected.setText("39,6")  # another value: its own warning first, never confirmed unseen
    qtbot.mouseClick(dialog.answer_button, Qt.MouseButton.LeftButton)
    assert "39.6" in dialog.error.text() and nurse.entry.open_form(ref).state.value(key) == Decimal("37.2")
    dialog.corrected.setText("39,5")
    qtbot.mouseClick(dialog.answer_button, Qt.MouseButton.LeftButton)
    assert "39.5" in dialog.error.text() and nurse.entry.open_form(ref).state.value(key) == Decimal("37.2")
    qtbot.mouseClick(dialog.answer_button, Qt.MouseButton.LeftButton)  # seen: confirmed
    confirmed = [r for r in nurse.entry.item_history(ref, key) if (r.detail or "").startswith("confirmed:")]
    assert [r.new_value for r in confirmed] == ["39.5"]
    assert dialog.error.text() == "" and dialog.corrected.text() == ""
