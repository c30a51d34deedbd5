"""Issue 12, the monitor's worklist: every query still to deal with across subjects (who must act), SDV progress per
subject and visit, per-form marks, and "verify all items of this form" (audited, replayed by verify)."""

from __future__ import annotations

import pytest

from msc_sle_crf.errors import PermissionDenied
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.services.monitoring import ANSWERED, OPEN, FormMarks, SdvProgress
from msc_sle_crf.services.subjects import Subjects

from .conftest import make_user

REF = FormRef("01-001", "SCR", "renal_function")
REF2 = FormRef("01-002", "SCR", "renal_function")
CREAT = ("lb", 0, "CREAT")
DATE = ("lb", 0, "LBDAT")


@pytest.fixture
def team(site: Site, admin: Workspace) -> dict[str, Workspace]:
    out = {"admin": admin}
    for name, role in (("dr.m", "investigator"), ("monitor.m", "monitor")):
        out[role] = Workspace.sign_in(site, name, make_user(admin, name, role))
    subjects = Subjects(out["investigator"].ctx)
    subjects.register("ABC", 1980, "F")
    subjects.register("DEF", 1975, "M")
    for ref in (REF, REF2):
        out["investigator"].entry.save_values(ref, {DATE: "20/11/2026", CREAT: "88"})
    return out


def test_worklist_lists_every_query_not_closed_with_who_must_act(team: dict[str, Workspace]) -> None:
    monitor, doctor = team["monitor"].monitoring, team["investigator"].monitoring
    first = monitor.open_query(REF, CREAT, "Source says 98").query_id
    second = monitor.open_query(REF2, DATE, "Date of the sample?").query_id
    doctor.answer(second, "21/11 on the report")
    items = {w.id: w for w in monitor.worklist()}
    assert set(items) == {first, second}
    assert items[first].status == OPEN and items[first].site_must_act
    assert (items[first].subject, items[first].event, items[first].form, items[first].key) == (
        "01-001", "SCR", "renal_function", CREAT)
    assert items[second].status == ANSWERED and not items[second].site_must_act
    assert items[second].last_text == "21/11 on the report"
    monitor.close(second, "OK")
    assert [w.id for w in monitor.worklist()] == [first]


def test_sdv_progress_and_form_marks(team: dict[str, Workspace]) -> None:
    monitor = team["monitor"].monitoring
    assert SdvProgress("01-001", "SCR", 2, 0) in monitor.sdv_progress()
    monitor.verify_item(REF, CREAT)
    monitor.open_query(REF, DATE, "?")
    assert SdvProgress("01-001", "SCR", 2, 1) in monitor.sdv_progress()
    assert monitor.form_marks("01-001")[("SCR", "renal_function")] == FormMarks(1, 0, 2, 1)
    team["investigator"].entry.save_item(REF, CREAT, "90")  # a change voids the verification
    assert monitor.form_marks("01-001")[("SCR", "renal_function")].verified == 0


def test_verify_all_items_of_a_form_is_audited_and_replays(team: dict[str, Workspace]) -> None:
    monitor, doctor = team["monitor"].monitoring, team["investigator"].monitoring
    with pytest.raises(PermissionDenied):
        doctor.verify_form(REF)
    monitor.verify_item(REF, CREAT)
    changes = monitor.verify_form(REF)
    assert changes.touches("01-001")
    assert monitor.verified_items(REF) == {CREAT: True, DATE: True}
    assert monitor.form_marks("01-001")[("SCR", "renal_function")] == FormMarks(0, 0, 2, 2)
    monitor.verify_form(REF)  # nothing left: no new mark
    history = team["investigator"].entry.item_history(REF, DATE)
    assert [h.action for h in history].count("source_verified") == 1
    report = team["admin"].integrity.verify()
    assert report.ok, report


# ----- screens ---------------------------------------------------------------------------------------------------
def _darkest(widget) -> int:  # type: ignore[no-untyped-def]
    image = widget.grab().toImage()
    return min(min(image.pixelColor(x, y).red(), image.pixelColor(x, y).green(), image.pixelColor(x, y).blue())
               for x in range(0, image.width(), 1) for y in range(0, image.height(), 2))


def test_read_only_values_are_in_full_contrast(qtbot, team: dict[str, Workspace]) -> None:  # type: ignore[no-untyped-def]
    from msc_sle_crf.ui.form import FormView, RadioEditor

    view = FormView(team["monitor"], REF)
    qtbot.addWidget(view)
    view.show()
    assert view.read_only
    editor = view.fields[CREAT].editor
    assert not editor.isEnabled() and editor.text() == "88"
    assert _darkest(editor) < 80  # the digits are dark (Qt's disabled grey is ~160)
    selena = FormRef("01-001", "SCR", "selena_sledai")
    team["investigator"].entry.save_item(selena, ("neuro", 0, "SLSEIZ"), "N")
    view = FormView(team["monitor"], selena)
    qtbot.addWidget(view)
    view.show()
    radio = view.fields[("neuro", 0, "SLSEIZ")].editor
    assert isinstance(radio, RadioEditor) and not radio.isEnabled()
    for button in radio.buttons.values():  # each choice's words, checked or not (a styled child widget)
        assert _darkest(button) < 80, button.text()


def test_worklist_round_trip_and_casebook_marks(qtbot, team: dict[str, Workspace]) -> None:  # type: ignore[no-untyped-def]
    from msc_sle_crf.ui.casebook import CasebookDialog
    from msc_sle_crf.ui.main_window import MainWindow
    from msc_sle_crf.ui.worklist import WorklistWindow, open_worklist

    monitor = team["monitor"]
    qid = monitor.monitoring.open_query(REF, CREAT, "Source says 98").query_id
    team["investigator"].monitoring.answer(qid, "Transcription error")
    main = MainWindow(monitor, idle_ms=60_000)
    qtbot.addWidget(main)
    assert main.worklist_action.isVisible()
    worklist = open_worklist(main)
    assert isinstance(worklist, WorklistWindow) and worklist in main.open_dialogs
    assert worklist.queries.rowCount() == 1
    row = [worklist.queries.item(0, c).text() for c in range(8)]
    assert row[:7] == ["01-001", "Screening", "Renal function", "Creatinine", "Answered", "Monitor", "today"]
    assert row[7] == "Transcription error"
    sdv = {(worklist.sdv.item(r, 0).text(), worklist.sdv.item(r, 2).text()) for r in range(worklist.sdv.rowCount())}
    assert ("01-001", "0 / 2") in sdv
    window = worklist.open_query(0)
    assert window is not None and window in main.open_dialogs
    dialog = window.view.query_dialog
    assert dialog is not None and "Transcription error" in dialog.text.toPlainText()
    dialog.reply.setText("OK, matches the source")
    dialog.close_button.click()
    assert monitor.monitoring.worklist() == []
    assert worklist.queries.rowCount() == 0  # redrawn from the change record

    monitor.monitoring.open_query(REF, DATE, "Date of the sample?")
    main.open_subject("01-001")
    casebook = next(d for d in main.open_dialogs if isinstance(d, CasebookDialog))
    screening = casebook.tree.topLevelItem(0)
    renal = next(screening.child(i) for i in range(screening.childCount())
                 if screening.child(i).text(0) == "Renal function")
    assert renal.text(3) == "1 query · SDV 0/2"
    assert casebook.tree.headerItem().text(3) == "Queries · SDV"
    casebook.tree.setCurrentItem(renal)
    assert casebook.verify_all_button.isEnabled() and casebook.verify_all_button.isVisibleTo(casebook)
    question = casebook.verify_question(casebook.selected_form())
    assert "the 2 item(s) not verified yet of “Renal function” — Screening?" in question
    assert "1 query(ies) still open on this form:\n• " in question and question.endswith(" — Open")
    casebook.verify_selected_form()
    box = casebook.verify_box
    assert box.isVisible() and box.text() == question
    assert box.defaultButton() is box.button(box.StandardButton.No)
    box.button(box.StandardButton.Yes).click()
    assert monitor.monitoring.verified_items(REF) == {CREAT: True, DATE: True}
    renal = next(casebook.tree.topLevelItem(0).child(i) for i in range(casebook.tree.topLevelItem(0).childCount())
                 if casebook.tree.topLevelItem(0).child(i).text(0) == "Renal function")
    assert renal.text(3) == "1 query · SDV 2/2 ✓"
    assert casebook.tree.currentItem() is renal and casebook.verify_all_button.isEnabled()  # still selected
