"""Issue 13, item 6: a long form builds the fields below the fold when they are reached (ui/form/lazy.py), and a
field built late is the field a form built whole shows: its value, its validation line, its place in the Tab order.

The form: vital signs with 6 readings (60 fields, past ``EAGER_FIELDS``), the last reading holding values and one
impossible heart rate kept in the typing buffer (typed, not accepted: its line says why).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.form import lazy

from .conftest import make_user

ROWS = 6


@pytest.fixture
def long_form(site: Site, admin: Workspace) -> tuple[Workspace, FormRef, int]:
    nurse = Workspace.sign_in(site, "nurse.l", make_user(admin, "nurse.l", "nurse"))
    subject = nurse.subjects.register("ABC", 1980, "F").subject.subject_number
    ref = FormRef(subject, "D0", "vital_signs")
    rows = [nurse.entry.add_row(ref, "vs").row for _ in range(ROWS)]
    for n, row in enumerate(rows):
        nurse.entry.save_values(ref, {("vs", row, "VSTEMP"): f"37.{n}", ("vs", row, "VSSYSBP"): str(120 + n),
                                      ("vs", row, "VSDIABP"): "80"})
    nurse.entry.save_typing(ref, ("vs", rows[-1], "VSHR"), "5")  # below the lowest possible value (20)
    return nurse, ref, rows[-1]


def _open(qtbot, ws: Workspace, ref: FormRef):  # type: ignore[no-untyped-def]
    from msc_sle_crf.ui.form import FormWindow

    window = FormWindow(ws, ref)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    return window


def _where(window: QWidget, widget: QWidget | None) -> object:
    """The field (cell key) or named widget holding ``widget``."""
    view = window.view  # type: ignore[attr-defined]
    for key, field in dict.items(view.fields):
        if widget is not None and (field is widget or field.isAncestorOf(widget)):
            return key
    return widget.objectName() if widget is not None else None


def _tab_through(qtbot, window: QWidget, steps: int) -> list[tuple[object, str, str]]:  # type: ignore[no-untyped-def]
    """From the first field, Tab ``steps`` times: where the focus went, the field's text and its message line."""
    view = window.view  # type: ignore[attr-defined]
    first = next(iter(dict.values(view.fields)))
    first.focus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is first.editor.focus_widget(), timeout=2000)
    journey = []
    for _ in range(steps):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        where = _where(window, QApplication.focusWidget())
        field = dict.get(view.fields, where) if isinstance(where, tuple) else None
        journey.append((where, field.editor.text() if field is not None else "",
                        field.message.text() if field is not None and field._message is not None
                        and field._message.isVisible() else ""))
    return journey


def test_fields_below_the_fold_wait_until_reached(qtbot, long_form) -> None:  # type: ignore[no-untyped-def]
    ws, ref, last = long_form
    window = _open(qtbot, ws, ref)
    view = window.view
    total = len(list(view.state.keys()))
    assert dict.__len__(view.fields) < total  # not all built at opening ...
    assert not dict.__contains__(view.fields, ("vs", last, "VSHR"))
    bar = window.scroll_area.verticalScrollBar()
    assert bar.maximum() > 0  # ... yet the form has its length: the scroll bar reaches where they will be
    bar.setValue(bar.maximum())  # scrolled to the end: the last reading is built and shown
    qtbot.waitUntil(lambda: dict.__contains__(view.fields, ("vs", last, "VSHR")), timeout=3000)
    field = view.fields[("vs", last, "VSHR")]
    qtbot.waitUntil(field.isVisible, timeout=2000)
    assert field.editor.text() == "5"
    assert "lowest possible value 20" in field.message.text() and field.message.isVisible()
    assert view.fields[("vs", last, "VSTEMP")].editor.text() == f"37.{ROWS - 1}"


def test_a_field_built_late_is_reached_with_tab_as_in_a_form_built_whole(qtbot, long_form,
                                                                         monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ws, ref, last = long_form
    steps = 75  # past the last reading's heart rate
    window = _open(qtbot, ws, ref)
    assert window.view.lazy.pending
    journey = _tab_through(qtbot, window, steps)
    window.close()
    monkeypatch.setattr(lazy, "EAGER_FIELDS", 10_000)  # the same form built whole at opening
    whole = _open(qtbot, ws, ref)
    assert not whole.view.lazy.pending
    expected = _tab_through(qtbot, whole, steps)
    assert journey == expected
    reached = [entry for entry in journey if entry[0] == ("vs", last, "VSHR")]
    assert reached and reached[0][1] == "5" and "lowest possible value 20" in reached[0][2]


def test_a_field_asked_for_is_built_with_its_value(qtbot, long_form) -> None:  # type: ignore[no-untyped-def]
    ws, ref, last = long_form
    window = _open(qtbot, ws, ref)
    assert window.focus_cell(("vs", last, "VSTEMP"))  # the bedside opening a form at a field
    field = window.view.fields[("vs", last, "VSTEMP")]
    assert field.editor.text() == f"37.{ROWS - 1}"
    qtbot.waitUntil(lambda: field.editor.focus_widget().hasFocus(), timeout=2000)
    viewport = window.scroll_area.viewport()
    top = field.mapTo(viewport, field.rect().topLeft()).y()
    assert 0 <= top < viewport.height()  # scrolled to it
