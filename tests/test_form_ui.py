"""Generated form screens, driven with the keyboard and mouse as a nurse or a physician would (offscreen)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.status import FormStatus
from msc_sle_crf.ui.casebook import CasebookDialog
from msc_sle_crf.ui.form import FormView, HistoryDialog, RadioEditor

from .conftest import make_user
from .forms_helpers import STUDY, copy_forms, write


@pytest.fixture
def nurse(site: Site, admin: Workspace) -> Workspace:
    return Workspace.sign_in(site, "nurse.ui", make_user(admin, "nurse.ui", "nurse"), study=STUDY)


@pytest.fixture
def doctor(site: Site, admin: Workspace) -> Workspace:
    return Workspace.sign_in(site, "dr.ui", make_user(admin, "dr.ui", "investigator"), study=STUDY)


@pytest.fixture
def subject(doctor: Workspace) -> str:
    return doctor.subjects.register("ABC", 1980, "F").subject.subject_number


def show(qtbot, view: FormView) -> FormView:  # type: ignore[no-untyped-def]
    """Show the form as the active window, so focus moves and shortcuts work as on a real screen."""
    qtbot.addWidget(view)
    view.show()
    view.activateWindow()
    qtbot.waitUntil(view.isActiveWindow, timeout=3000)
    return view


def stored(entry: Workspace, ref: FormRef, key):  # type: ignore[no-untyped-def]
    """The committed value (not the typing buffer)."""
    history = [r for r in entry.entry.item_history(ref, key) if r.action in ("data_entry", "data_change")]
    return history[-1].new_value if history else None


def line(view: FormView, key) -> QLineEdit:  # type: ignore[no-untyped-def]
    widget = view.fields[key].editor.focus_widget()
    assert isinstance(widget, QLineEdit)
    return widget


def type_into(qtbot, view: FormView, key, text: str, *, leave: bool = True) -> None:  # type: ignore[no-untyped-def]
    edit = line(view, key)
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)
    if leave:
        qtbot.keyClick(edit, Qt.Key.Key_Tab)


def vitals_view(qtbot, nurse: Workspace, subject: str) -> tuple[FormView, int]:  # type: ignore[no-untyped-def]
    view = show(qtbot, FormView(nurse, FormRef(subject, "D0", "vital_signs")))
    add = next(b for b in view.findChildren(type(view.complete_button)) if b.objectName() == "addRow")
    qtbot.mouseClick(add, Qt.MouseButton.LeftButton)
    return view, view.state.rows["vs"][-1]


def test_messages_appear_as_the_user_types(qtbot, nurse: Workspace, subject: str) -> None:
    view, row = vitals_view(qtbot, nurse, subject)
    key = ("vs", row, "VSTEMP")
    type_into(qtbot, view, key, "44", leave=False)
    field = view.fields[key]
    assert field.state == "hard"
    assert field.message.text() == "Temperature: 44 °C is above the highest possible value 43 °C"
    assert field.message.isVisible()
    qtbot.keyClick(line(view, key), Qt.Key.Key_Backspace)  # "4"
    assert "below the lowest possible value 30" in field.message.text()
    qtbot.keyClicks(line(view, key), ",")  # "4," is not a number yet
    assert "a number is expected" in field.message.text()
    type_into(qtbot, view, key, "37,5")
    assert field.state == "ok" and field.badge.text() == "✓"
    assert stored(nurse, view.ref, key) == "37.5"


def test_point_or_comma_and_french_messages(qtbot, nurse: Workspace, subject: str) -> None:
    set_lang(Lang.FR)
    view, row = vitals_view(qtbot, nurse, subject)
    key = ("vs", row, "VSTEMP")
    type_into(qtbot, view, key, "37.5")
    assert view.fields[key].state == "ok"
    type_into(qtbot, view, key, "29", leave=False)
    assert view.fields[key].message.text() == ("Température : 29 °C est sous la plus petite valeur possible 30 °C")


def test_soft_value_needs_the_confirm_button(qtbot, nurse: Workspace, subject: str) -> None:
    view, row = vitals_view(qtbot, nurse, subject)
    key = ("vs", row, "VSTEMP")
    type_into(qtbot, view, key, "38,6")
    field = view.fields[key]
    assert field.state == "soft"
    assert field.confirm_button.isVisible()
    assert "unusually high (expected at most 38.0 °C): please confirm" in field.message.text()
    assert stored(nurse, view.ref, key) is None  # not stored without the confirmation
    assert nurse.entry.typed_buffer(view.ref)[key] == ("38,6", None)  # but not lost either
    qtbot.mouseClick(field.confirm_button, Qt.MouseButton.LeftButton)
    assert not field.confirm_button.isVisible()
    assert field.message.text().startswith("Confirmed: Temperature: 38.6 °C")
    assert stored(nurse, view.ref, key) == "38.6"
    assert nurse.entry.open_form(view.ref).state.issues(key)[0].confirmed


def test_enter_moves_on_and_commits(qtbot, nurse: Workspace, subject: str) -> None:
    view, row = vitals_view(qtbot, nurse, subject)
    first = line(view, ("vs", row, "VSTIM"))
    first.setFocus()
    qtbot.keyClicks(first, "10h15")
    qtbot.keyClick(first, Qt.Key.Key_Return)
    assert not first.hasFocus()
    assert stored(nurse, view.ref, ("vs", row, "VSTIM")) == "10:15"


def test_choice_is_committed_when_picked_and_show_if_reveals(qtbot, doctor: Workspace, subject: str) -> None:
    view = show(qtbot, FormView(doctor, FormRef(subject, "SCR", "demographics")))
    contra = view.fields[("dm", 0, "CONTRACP")]
    assert not contra.isVisible()
    radios = view.fields[("dm", 0, "CHILDPOT")].editor
    assert isinstance(radios, RadioEditor)
    qtbot.mouseClick(radios.buttons["Y"], Qt.MouseButton.LeftButton)
    assert contra.isVisible()
    assert stored(doctor, view.ref, ("dm", 0, "CHILDPOT")) == "Y"
    type_into(qtbot, view, ("dm", 0, "HEIGHT"), "165")
    type_into(qtbot, view, ("dm", 0, "WEIGHT"), "62,5")
    assert line(view, ("dm", 0, "BMI")).text() == "23.0"


def test_mark_complete_lists_blockers_then_changes_ask_a_reason(qtbot, doctor: Workspace, subject: str) -> None:
    reasons: list[str | None] = ["Transcription error", None]
    asked: list[tuple[str, str, str]] = []

    def ask(field: str, old: str, new: str) -> str | None:
        asked.append((field, old, new))
        return reasons.pop(0)

    view = show(qtbot, FormView(doctor, FormRef(subject, "SCR", "renal_function"), ask_reason=ask))
    qtbot.mouseClick(view.complete_button, Qt.MouseButton.LeftButton)
    assert view.blockers.isVisible()
    texts = [view.blockers.item(i).text() for i in range(view.blockers.count())]
    assert texts == ["• Sample date: required", "• Creatinine: required"]
    assert view.fields[("lb", 0, "CREAT")].message.text() == "Creatinine: required"
    type_into(qtbot, view, ("lb", 0, "LBDAT"), "20/11/2026")
    type_into(qtbot, view, ("lb", 0, "CREAT"), "88")
    qtbot.keyClick(view, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert view.status == FormStatus.COMPLETE and not view.blockers.isVisible()
    type_into(qtbot, view, ("lb", 0, "CREAT"), "89")
    assert asked == [("Creatinine", "88", "89")]
    history = doctor.entry.item_history(view.ref, ("lb", 0, "CREAT"))
    assert [(h.old_value, h.new_value, h.reason) for h in history][-1] == ("88", "89", "Transcription error")
    type_into(qtbot, view, ("lb", 0, "CREAT"), "90")  # reason dialog cancelled: the field goes back
    assert line(view, ("lb", 0, "CREAT")).text() == "89"
    assert stored(doctor, view.ref, ("lb", 0, "CREAT")) == "89"


def test_alternative_unit_picker(qtbot, doctor: Workspace, subject: str) -> None:
    view = show(qtbot, FormView(doctor, FormRef(subject, "SCR", "renal_function")))
    field = view.fields[("lb", 0, "CREAT")]
    assert field.unit_combo is not None
    field.unit_combo.setCurrentIndex(1)  # mg/dL
    type_into(qtbot, view, ("lb", 0, "CREAT"), "40", leave=False)
    assert "3536 µmol/L is above the highest possible value 3000 µmol/L" in field.message.text()
    type_into(qtbot, view, ("lb", 0, "CREAT"), "1,2")
    assert stored(doctor, view.ref, ("lb", 0, "CREAT")) == "1.2 mg/dL"


def test_typing_is_restored_after_the_window_is_gone(qtbot, nurse: Workspace, subject: str) -> None:
    view, row = vitals_view(qtbot, nurse, subject)
    key = ("vs", row, "VSHR")
    type_into(qtbot, view, key, "7", leave=False)  # interrupted mid-typing
    view.close()
    again = show(qtbot, FormView(nurse, view.ref))
    assert line(again, key).text() == "7"
    assert "below the lowest possible value 20" in again.fields[key].message.text()


def test_history_dialog_shows_who_when_old_new_why(qtbot, nurse: Workspace, subject: str) -> None:
    view, row = vitals_view(qtbot, nurse, subject)
    key = ("vs", row, "VSHR")
    type_into(qtbot, view, key, "72")
    type_into(qtbot, view, key, "74")
    view.show_history(key)
    dialog = view.history_dialog
    assert isinstance(dialog, HistoryDialog)
    table = dialog.table
    assert table.rowCount() == 2
    assert [table.item(1, c).text() for c in (1, 2, 3, 4, 5)] == ["nurse.ui (Research nurse)", "WS-01", "Entered",
                                                                   "72", "74"]
    assert table.item(0, 0).text().startswith("25/11/2026 10:00:00")


def test_not_done_with_a_reason_from_the_menu(qtbot, nurse: Workspace, subject: str) -> None:
    view, row = vitals_view(qtbot, nurse, subject)
    view.ask_missing = lambda field, code: "patient asleep"
    key = ("vs", row, "VSRESP")
    view.mark_missing(key, view.fields[key].item.missing[0])
    field = view.fields[key]
    assert not field.editor.isEnabled()
    assert field.message.text() == "Not done — patient asleep"
    assert nurse.entry.open_form(view.ref).state.cell(key).missing_reason == "patient asleep"


def test_language_switch_rebuilds_the_form(qtbot, nurse: Workspace, subject: str) -> None:
    view, row = vitals_view(qtbot, nurse, subject)
    type_into(qtbot, view, ("vs", row, "VSTEMP"), "44", leave=False)
    set_lang(Lang.FR)
    view.retranslate()
    assert view.complete_button.text() == "Marquer complet"
    assert view.fields[("vs", row, "VSTEMP")].message.text().startswith("Température : 44 °C dépasse")
    assert line(view, ("vs", row, "VSTEMP")).text() == "44"


def test_casebook_lists_visits_forms_and_states(qtbot, nurse: Workspace, subject: str) -> None:
    nurse.entry.add_row(FormRef(subject, "D0", "vital_signs"), "vs")
    dialog = CasebookDialog(nurse, subject)
    qtbot.addWidget(dialog)
    top = [dialog.tree.topLevelItem(i).text(0) for i in range(dialog.tree.topLevelItemCount())]
    assert top[:4] == ["Screening", "Inclusion (baseline)", "Infusion day (D0)", "Tolerance D1-D10"]
    d0 = dialog.tree.topLevelItem(2)
    states = {d0.child(i).text(0): d0.child(i).text(2) for i in range(d0.childCount())}
    assert states == {"Dose cohort and planned cell dose": "Not started", "Cell infusion": "Not started",
                      "Vital signs": "In progress"}
    opened = []
    dialog.form_opened.connect(opened.append)
    dialog._open(d0.child(2))
    assert opened and opened[0].view.snapshot.form.id == "vital_signs"
    opened[0].close()


def test_app_refuses_to_start_on_invalid_forms(tmp_path: Path, monkeypatch, capsys) -> None:
    folder = copy_forms(tmp_path)
    write(folder, "broken.yaml", "id: broken\nversion: '1'\nlabel: {en: B}\ngroups: []\n")
    monkeypatch.setenv("MSC_SLE_CRF_FORMS_DIR", str(folder))
    shown: list[str] = []
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(QMessageBox, "critical", lambda _p, _t, text: shown.append(text))
    from msc_sle_crf.ui.app import run_gui

    assert run_gui(tmp_path / "none.crfdb") == 2
    assert shown and "the program cannot start" in shown[0]
    assert "forms/broken.yaml:3: 'fr' is required" in shown[0]
    assert "forms/broken.yaml" in capsys.readouterr().err


def test_monitor_sees_the_form_read_only(qtbot, site: Site, admin: Workspace, nurse: Workspace,
                                         subject: str) -> None:
    ref = FormRef(subject, "D0", "vital_signs")
    row = nurse.entry.add_row(ref, "vs").row
    nurse.entry.save_item(ref, ("vs", row, "VSTEMP"), "37,2")
    monitor = Workspace.sign_in(site, "mon.ui", make_user(admin, "mon.ui", "monitor"))
    view = show(qtbot, FormView(monitor, ref))
    assert view.read_only and not view.complete_button.isVisible()
    assert not view.fields[("vs", row, "VSTEMP")].editor.isEnabled()
    assert line(view, ("vs", row, "VSTEMP")).text() == "37.2"


def test_double_click_on_a_subject_opens_the_casebook(qtbot, nurse: Workspace, subject: str) -> None:
    from msc_sle_crf.ui.main_window import MainWindow

    main = MainWindow(nurse, idle_ms=60_000)
    qtbot.addWidget(main)
    main.open_casebook(0)
    casebooks = [d for d in main.open_dialogs if isinstance(d, CasebookDialog)]
    assert casebooks and casebooks[0].subject == subject
    casebooks[0]._open(casebooks[0].tree.topLevelItem(2).child(2))
    assert len(main.open_dialogs) == 2  # the form window is tracked too: hidden at lock, closed at takeover
    main.lock()
    assert not any(d.isVisible() for d in main.open_dialogs)


def test_sign_from_the_form_and_see_the_signature_invalidated(qtbot, doctor: Workspace, subject: str) -> None:
    ref = FormRef(subject, "SCR", "renal_function")
    doctor.entry.save_values(ref, {("lb", 0, "LBDAT"): "20/11/2026", ("lb", 0, "CREAT"): "88"})
    doctor.entry.mark_complete(ref)
    view = show(qtbot, FormView(doctor, ref, ask_reason=lambda *_a: "transcription error"))
    assert view.lifecycle_buttons["sign"].isVisible() and not view.lifecycle_buttons["lock"].isVisible()
    view.sign_with = ("dr.ui", "wrong-password-9", "approval")
    view.lifecycle_action("sign")
    assert "Sign-in failed" in view.last_error and view.status == "complete"
    view.sign_with = ("dr.ui", "pw-iu.rd-2026", "approval")
    qtbot.mouseClick(view.lifecycle_buttons["sign"], Qt.MouseButton.LeftButton)
    assert view.status == "signed" and view.status_label.text() == "Signed"
    assert "✓ Signed:" in view.signature_lines.text() and "Dr.Ui (Investigator)" in view.signature_lines.text()
    type_into(qtbot, view, ("lb", 0, "CREAT"), "90")
    assert "INVALID: the data changed after signing" in view.signature_lines.text()
    assert view.status == "complete" and view.lifecycle_buttons["sign"].isVisible()


def test_queries_and_item_verification_on_the_form(qtbot, site: Site, admin: Workspace, doctor: Workspace,
                                                   subject: str) -> None:
    from msc_sle_crf.ui.form import QueryDialog

    ref = FormRef(subject, "SCR", "renal_function")
    doctor.entry.save_values(ref, {("lb", 0, "LBDAT"): "20/11/2026", ("lb", 0, "CREAT"): "88"})
    monitor = Workspace.sign_in(site, "mon.q", make_user(admin, "mon.q", "monitor")).monitoring
    monitor.open_query(ref, ("lb", 0, "CREAT"), "Source says 98")
    monitor.verify_item(ref, ("lb", 0, "LBDAT"))
    view = show(qtbot, FormView(doctor, ref))
    assert "Query (1)" in view.fields[("lb", 0, "CREAT")].marks.text()
    assert "SDV" in view.fields[("lb", 0, "LBDAT")].marks.text()
    view.show_queries(("lb", 0, "CREAT"))  # as the ⋯ menu does
    dialog = view.query_dialog
    assert isinstance(dialog, QueryDialog)
    assert "Source says 98" in dialog.text.toPlainText() and not dialog.close_button.isVisible()
    dialog.reply.setText("Transcription error")
    dialog.corrected.setText("98")
    qtbot.mouseClick(dialog.answer_button, Qt.MouseButton.LeftButton)
    assert "answer" in dialog.text.toPlainText()
    assert line(view, ("lb", 0, "CREAT")).text() == "98"
    assert monitor.queries(ref)[0].status == "answered"


def test_the_field_menu_opens_leftwards_under_its_button(qtbot, doctor: Workspace, subject: str) -> None:
    """Found in a real window at 1280x800: the ⋯ button sits at the form's right edge and its menu, opened
    rightwards from the button's left corner, ran into the screen's edge (its border cut). It now ends where the
    button ends."""
    view = show(qtbot, FormView(doctor, FormRef(subject, "SCR", "renal_function")))
    row = next(iter(view.fields.values()))
    qtbot.mouseClick(row.menu_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(row.menu.isVisible, timeout=3000)
    button_right = row.menu_button.mapToGlobal(row.menu_button.rect().bottomRight()).x()
    menu = row.menu.geometry()
    assert abs(menu.right() - button_right) <= 1 and menu.left() < button_right - 100
    row.menu.close()


def test_history_says_a_coded_value_in_words(qtbot, doctor: Workspace, subject: str) -> None:
    """Seen in a real window: the history of a yes/no item showed the stored code ("Y") where the form shows "Oui".
    It now says the code's label in the reader's language; numbers stay as they were."""
    view = show(qtbot, FormView(doctor, FormRef(subject, "SCR", "demographics")))
    radios = view.fields[("dm", 0, "CHILDPOT")].editor
    assert isinstance(radios, RadioEditor)
    qtbot.mouseClick(radios.buttons["Y"], Qt.MouseButton.LeftButton)
    set_lang(Lang.FR)
    try:
        view.show_history(("dm", 0, "CHILDPOT"))
        table = view.history_dialog.table
        assert [table.item(0, c).text() for c in (4, 5)] == ["—", "Oui"]
    finally:
        set_lang(Lang.EN)
    type_into(qtbot, view, ("dm", 0, "HEIGHT"), "165")
    view.show_history(("dm", 0, "HEIGHT"))
    assert view.history_dialog.table.item(0, 5).text() == "165"
