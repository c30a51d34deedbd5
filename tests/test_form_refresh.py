"""An open form redraws from the change records of writes made anywhere in the window (the bedside, another form,
a query dialog, the monitor), without a manual reload; and what it decides from a change record (``refresh.plan``).
"""

from __future__ import annotations

import gc

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from msc_sle_crf.audit import Action
from msc_sle_crf.clock import FakeClock
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.changes import Change, Changes
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.status import FormStatus
from msc_sle_crf.ui.form import FormView, FormWindow
from msc_sle_crf.ui.form.refresh import plan
from msc_sle_crf.ui.ops import Ops

from .conftest import make_user
from .forms_helpers import STUDY


@pytest.fixture
def nurse(site: Site, admin: Workspace) -> Workspace:
    return Workspace.sign_in(site, "nurse.rf", make_user(admin, "nurse.rf", "nurse"), study=STUDY)


@pytest.fixture
def doctor(site: Site, admin: Workspace) -> Workspace:
    return Workspace.sign_in(site, "dr.rf", make_user(admin, "dr.rf", "investigator"), study=STUDY)


@pytest.fixture
def subject(doctor: Workspace) -> str:
    return doctor.subjects.register("RFR", 1980, "F").subject.subject_number


def show(qtbot, view: FormView) -> FormView:  # type: ignore[no-untyped-def]
    qtbot.addWidget(view)
    view.show()
    view.activateWindow()
    qtbot.waitUntil(view.isActiveWindow, timeout=3000)
    return view


def line(view: FormView, key) -> QLineEdit:  # type: ignore[no-untyped-def]
    widget = view.fields[key].editor.focus_widget()
    assert isinstance(widget, QLineEdit)
    return widget


def test_vital_signs_recorded_at_the_bedside_show_in_the_open_form(qtbot, nurse: Workspace, subject: str) -> None:
    ops = Ops()
    ref = FormRef(subject, "D0", "vital_signs")
    view = show(qtbot, FormView(nurse, ref, ops=ops))
    view.add_row("vs")
    first = view.state.rows["vs"][-1]
    typing = line(view, ("vs", first, "VSHR"))
    typing.setFocus()
    qtbot.keyClicks(typing, "7")  # being typed, not committed, when the bedside writes
    states: list[str] = []
    view.status_changed.connect(states.append)
    reading = ops.run(lambda: nurse.bedside.record_vitals(subject, None, {"VSTEMP": "38,9", "VSHR": "88"},
                                                          confirm=True))
    assert reading is not None
    assert view.state.rows["vs"] == [first, reading.row]  # the new row is on the form, nothing reloaded by hand
    assert line(view, ("vs", reading.row, "VSTEMP")).text() == "38.9"
    assert line(view, ("vs", reading.row, "VSHR")).text() == "88"
    assert "Query (1)" in view.fields[("vs", reading.row, "VSTEMP")].marks.text()  # the confirmed fever
    assert line(view, ("vs", first, "VSHR")).text() == "7"  # what was being typed is still there
    assert "below the lowest possible value 20" in view.fields[("vs", first, "VSHR")].message.text()
    assert line(view, ("vs", first, "VSHR")).hasFocus()  # and the cursor with it
    assert view.status is FormStatus.DRAFT and states == []  # the row added here already started the form


def test_a_value_saved_elsewhere_updates_the_field_and_what_depends_on_it(qtbot, doctor: Workspace,
                                                                          subject: str) -> None:
    ops = Ops()
    ref = FormRef(subject, "SCR", "demographics")
    view = show(qtbot, FormView(doctor, ref, ops=ops))
    states: list[str] = []
    view.status_changed.connect(states.append)
    assert view.status is FormStatus.NOT_STARTED
    ops.run(lambda: doctor.entry.save_values(ref, {("dm", 0, "HEIGHT"): "165", ("dm", 0, "WEIGHT"): "62,5"}))
    assert line(view, ("dm", 0, "HEIGHT")).text() == "165"
    assert line(view, ("dm", 0, "BMI")).text() == "23.0"  # the calculation follows
    assert states == ["draft"] and view.status_label.text() == "In progress"
    history = len(doctor.entry.item_history(ref, ("dm", 0, "HEIGHT")))
    height = line(view, ("dm", 0, "HEIGHT"))
    height.setFocus()
    qtbot.keyClick(height, Qt.Key.Key_Tab)  # leaving the field does not store the same value again
    assert len(doctor.entry.item_history(ref, ("dm", 0, "HEIGHT"))) == history


def test_a_value_confirmed_here_shows_its_automatic_query_at_once(qtbot, nurse: Workspace, subject: str) -> None:
    view = show(qtbot, FormView(nurse, FormRef(subject, "D0", "vital_signs")))
    view.add_row("vs")
    key = ("vs", view.state.rows["vs"][-1], "VSTEMP")
    edit = line(view, key)
    edit.setFocus()
    qtbot.keyClicks(edit, "38,6")
    assert view.fields[key].state == "soft"
    qtbot.keyClick(edit, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)  # Ctrl+K: confirm the value typed
    assert view.fields[key].state == "ok"
    assert "Query (1)" in view.fields[key].marks.text()  # the monitor's automatic query, shown without a reload


def test_the_monitors_query_and_verification_show_on_the_open_form(qtbot, site: Site, admin: Workspace,
                                                                   doctor: Workspace, subject: str) -> None:
    ops = Ops()
    ref = FormRef(subject, "SCR", "renal_function")
    doctor.entry.save_values(ref, {("lb", 0, "LBDAT"): "20/11/2026", ("lb", 0, "CREAT"): "88"})
    view = show(qtbot, FormView(doctor, ref, ops=ops))
    monitor = Workspace.sign_in(site, "mon.rf", make_user(admin, "mon.rf", "monitor"))
    ops.run(lambda: monitor.monitoring.open_query(ref, ("lb", 0, "CREAT"), "Source says 98"))
    ops.run(lambda: monitor.monitoring.verify_item(ref, ("lb", 0, "LBDAT")))
    assert "Query (1)" in view.fields[("lb", 0, "CREAT")].marks.text()
    assert view.fields[("lb", 0, "LBDAT")].marks.text().endswith("SDV</span>")
    query = monitor.monitoring.queries(ref)[0].id
    ops.run(lambda: monitor.monitoring.close(query, "ok"))
    assert "Query" not in view.fields[("lb", 0, "CREAT")].marks.text()
    ops.run(lambda: doctor.entry.save_item(ref, ("lb", 0, "LBDAT"), "21/11/2026"))  # changed after verification
    assert "SDV ✕" in view.fields[("lb", 0, "LBDAT")].marks.text()


def test_signed_in_one_window_shows_signed_in_the_other(qtbot, doctor: Workspace, subject: str) -> None:
    ops = Ops()
    ref = FormRef(subject, "SCR", "renal_function")
    doctor.entry.save_values(ref, {("lb", 0, "LBDAT"): "20/11/2026", ("lb", 0, "CREAT"): "88"})
    doctor.entry.mark_complete(ref)
    one = show(qtbot, FormView(doctor, ref, ops=ops))
    other = FormView(doctor, ref, ops=ops)
    qtbot.addWidget(other)
    states: list[str] = []
    other.status_changed.connect(states.append)
    one.sign_with = ("dr.rf", "pw-fr.rd-2026", "approval")
    one.lifecycle_action("sign")
    assert one.last_error == "" and one.status is FormStatus.SIGNED
    assert states == ["signed"] and other.status_label.text() == "Signed"
    assert "✓ Signed:" in other.signature_lines.text()
    assert not other.lifecycle_buttons["sign"].isVisibleTo(other)
    one.ask_reason = lambda *_a: "transcription error"
    edit = line(one, ("lb", 0, "CREAT"))
    edit.setFocus()
    edit.setText("90")
    one.on_edited(("lb", 0, "CREAT"), "90")
    assert one.commit(("lb", 0, "CREAT"))
    assert line(other, ("lb", 0, "CREAT")).text() == "90"
    assert "INVALID: the data changed after signing" in other.signature_lines.text()
    assert states == ["signed", "complete"]


def test_a_closed_form_window_stops_redrawing_and_catches_up_when_shown(qtbot, nurse: Workspace,
                                                                        subject: str) -> None:
    ops = Ops()
    ref = FormRef(subject, "D0", "vital_signs")
    window = FormWindow(nurse, ref, ops=ops)
    qtbot.addWidget(window)
    window.show()
    window.close()
    ops.run(lambda: nurse.entry.add_row(ref, "vs"))
    assert window.view.state.rows["vs"] == []  # not redrawn while closed
    window.show()
    assert len(window.view.state.rows["vs"]) == 1  # but up to date when shown again
    ops.run(lambda: nurse.entry.add_row(ref, "vs"))
    assert len(window.view.state.rows["vs"]) == 2


def test_a_deleted_form_is_no_longer_called(qtbot, nurse: Workspace, subject: str) -> None:
    ops = Ops()
    ref = FormRef(subject, "D0", "vital_signs")
    view = FormView(nurse, ref, ops=ops)
    destroyed: list[bool] = []
    view.destroyed.connect(lambda: destroyed.append(True))
    view.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    del view
    gc.collect()
    assert destroyed
    assert ops.run(lambda: nurse.entry.add_row(ref, "vs")) is not None  # no call into a deleted widget


def test_history_shows_the_offset_of_each_record_even_when_not_whole_hours(qtbot, nurse: Workspace, subject: str,
                                                                          clock: FakeClock) -> None:
    clock.offset_minutes = 330  # UTC+05:30
    ref = FormRef(subject, "D0", "vital_signs")
    row = nurse.entry.add_row(ref, "vs").row
    nurse.entry.save_item(ref, ("vs", row, "VSHR"), "72")
    view = show(qtbot, FormView(nurse, ref))
    view.show_history(("vs", row, "VSHR"))
    assert view.history_dialog is not None
    assert view.history_dialog.table.item(0, 0).text() == "25/11/2026 14:30:00 UTC+05:30"


def test_a_read_only_form_offers_no_change_of_value(qtbot, site: Site, admin: Workspace, doctor: Workspace,
                                                   subject: str) -> None:
    from PySide6.QtWidgets import QMenu

    ref = FormRef(subject, "SCR", "renal_function")
    doctor.entry.save_values(ref, {("lb", 0, "LBDAT"): "20/11/2026", ("lb", 0, "CREAT"): "88"})
    monitor = Workspace.sign_in(site, "mon.ro", make_user(admin, "mon.ro", "monitor"))
    view = show(qtbot, FormView(monitor, ref))
    field = view.fields[("lb", 0, "CREAT")]
    assert view.read_only and field.unit_combo is not None
    assert not field.unit_combo.isEnabled()  # no unit to change where no value can change
    menu = QMenu(field)
    field.fill_menu(menu)
    texts = [a.text() for a in menu.actions() if a.text()]
    assert not any(t.startswith(("Not done", "Unknown", "Not applicable")) for t in texts)
    assert "History of this item…\tCtrl+H" in texts and "Raise a query…" in texts


def test_the_footer_wraps_instead_of_widening_the_form(qtbot) -> None:
    from PySide6.QtWidgets import QWidget

    from msc_sle_crf.ui.common import STYLE
    from msc_sle_crf.ui.form.footer import FormFooter

    window = QWidget()
    window.setStyleSheet(STYLE)  # the app's fonts, as on the ward laptop
    qtbot.addWidget(window)
    footer = FormFooter(window)
    footer.summary.setText("Cannot mark complete: 12 problem(s), listed above.")
    # A form is about 1000 px at its narrowest; the footer must not force sideways scrolling (it did at 1100 px).
    assert footer.minimumSizeHint().width() <= 800


# ----- what a form decides from a change record (no Qt) -----------------------------------------------------------
REF = FormRef("01-001", "D0", "vital_signs")


def records(*changes: Change) -> Changes:
    return Changes(changes)


def value(item: str, row: int = 1, *, subject: str = "01-001", form: str = "vital_signs") -> Change:
    return Change.of(Action.DATA_ENTRY, subject=subject, visit="D0", form=form, item=item, repeat_key=f"vs:{row}")


def test_plan_ignores_other_subjects_and_redraws_only_values_written_elsewhere() -> None:
    assert not plan(records(value("VSHR", subject="01-002")), REF, FormStatus.DRAFT)
    elsewhere = plan(records(value("VSHR"), value("VSTEMP")), REF, FormStatus.DRAFT)
    assert elsewhere.cells == {("vs", 1, "VSHR"), ("vs", 1, "VSTEMP")} and not elsewhere.rebuild
    assert elsewhere.scores and elsewhere.monitoring  # a value confirmed elsewhere may have opened a query
    mine = plan(records(value("VSHR")), REF, FormStatus.DRAFT, own=frozenset({("vs", 1, "VSHR")}))
    assert mine.cells == frozenset() and not mine.monitoring and mine.scores
    other_form = plan(records(value("VSHR", form="tolerance")), REF, FormStatus.DRAFT)
    assert other_form.cells == frozenset() and other_form.scores  # a score may use it; this form's values did not


def test_plan_rebuilds_for_rows_and_locks_only() -> None:
    row = Change.of(Action.ROW_ADD, subject="01-001", visit="D0", form="vital_signs", repeat_key="vs:2")
    assert plan(records(row), REF, FormStatus.DRAFT).rebuild
    lock = Change.of(Action.STATUS_CHANGE, subject="01-001", visit="D0", form="vital_signs", new_value="locked")
    assert plan(records(lock), REF, FormStatus.SIGNED).rebuild
    whole = Change.of(Action.STATUS_CHANGE, subject="01-001", form="subject", new_value="locked")
    assert plan(records(whole), REF, FormStatus.SIGNED).rebuild
    signed = Change.of(Action.SIGN, subject="01-001", visit="D0", form="vital_signs", new_value="signed")
    todo = plan(records(signed), REF, FormStatus.COMPLETE)
    assert not todo.rebuild and todo.status is FormStatus.SIGNED and todo.signatures
    created = Change.of(Action.CREATE, subject="01-001", visit="D0", form="vital_signs", new_value="draft")
    assert plan(records(created), REF, FormStatus.NOT_STARTED).status is FormStatus.DRAFT  # started: a draft


def test_plan_redraws_signatures_when_signed_values_change() -> None:
    assert plan(records(value("VSHR")), REF, FormStatus.DRAFT, own=frozenset({("vs", 1, "VSHR")}),
                signed=True).signatures
    assert not plan(records(value("VSHR")), REF, FormStatus.DRAFT, own=frozenset({("vs", 1, "VSHR")})).signatures
    assert plan(records(value("VSHR")), REF, FormStatus.DRAFT, own=frozenset({("vs", 1, "VSHR")}),
                verified=frozenset({("vs", 1, "VSHR")})).monitoring
