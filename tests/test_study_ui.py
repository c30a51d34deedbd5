"""The study's screens: CTCAE term search and grade definitions, live scores with their breakdown, the subject
dashboard, licensed questionnaire wording loaded from the site's own file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.formdef import licensed
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.casebook import CasebookDialog
from msc_sle_crf.ui.form import FormView, RadioEditor

from .conftest import FAST_KDF
from .forms_helpers import STUDY


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = create_demo(tmp_path_factory.mktemp("demo-ui") / "demo.crfdb", kdf=FAST_KDF, clock=FakeClock())
    yield site
    site.close()


@pytest.fixture
def nurse(demo: Site) -> Workspace:
    return Workspace.sign_in(demo, "nurse.durand", "training-nurse")


@pytest.fixture
def doctor(demo: Site) -> Workspace:
    return Workspace.sign_in(demo, "dr.martin", "training-doctor")


def show(qtbot, view: FormView) -> FormView:  # type: ignore[no-untyped-def]
    qtbot.addWidget(view)
    view.show()
    view.activateWindow()
    qtbot.waitUntil(view.isActiveWindow, timeout=3000)
    return view


def test_ctcae_search_and_the_terms_own_grades(qtbot, nurse: Workspace) -> None:
    ref = FormRef("99-006", "LOG", "adverse_events")
    row = nurse.entry.add_row(ref, "ae").row
    view = show(qtbot, FormView(nurse, ref))
    term = view.fields[("ae", row, "AETERM")]
    edit = term.editor.focus_widget()
    edit.setFocus()
    qtbot.keyClicks(edit, "fievre")  # QTest types ASCII only; accents are folded anyway
    model = term.ctcae_model
    assert model.rowCount() >= 1
    assert model.item(0).data(Qt.ItemDataRole.UserRole) == "Fever"
    assert "General disorders" in model.item(0).text()
    term.completer.activated[str].emit("Anaphylaxis")
    assert nurse.entry.item_history(ref, ("ae", row, "AETERM"))[-1].new_value == "Anaphylaxis"
    grade = view.fields[("ae", row, "AETOXGR")]
    assert isinstance(grade.editor, RadioEditor)
    assert [b.isEnabled() for b in grade.editor.buttons.values()] == [False, False, True, True, True]
    assert grade.grade_help is not None and "Anaphylaxis" in grade.grade_help.text()
    assert "bronchospasm" in grade.grade_help.text()


def test_sledai_form_shows_total_breakdown_and_sri4(qtbot, doctor: Workspace) -> None:
    view = show(qtbot, FormView(doctor, FormRef("99-001", "M3", "selena_sledai")))
    assert view.score_panel.isVisible()
    text = view.score_panel.toPlainText()
    assert "SELENA-SLEDAI total" in text and "Low complement (2)" in text and "Rash (2)" in text
    assert "SRI-4 responder (vs inclusion)" in text  # ScoreResult.label: the one name on every screen
    assert "SELENA-SLEDAI 12 -> 4 (drop 8)" in text
    assert "SRI-4 (Furie 2009)" in text  # the rule and its version


def test_screening_form_lists_eligibility_with_failed_criterion(qtbot, doctor: Workspace) -> None:
    view = show(qtbot, FormView(doctor, FormRef("99-004", "SCR", "screening")))
    text = view.score_panel.toPlainText()
    assert "Eligible" in text and "no" in text
    assert "Exclusion: LVEF < 40: failed" in text


def test_dashboard_shows_schedule_and_endpoint(qtbot, doctor: Workspace) -> None:
    dialog = CasebookDialog(doctor, "99-003")
    qtbot.addWidget(dialog)
    assert dialog.next_label.text().startswith("Next action: Month 3 from")
    html_text = dialog.scores.toPlainText()
    assert "Not tolerated" in html_text and "Fever, grade 3" in html_text
    d0 = dialog.tree.topLevelItem(2)
    assert d0.text(0) == "Infusion day (D0)" and d0.text(2) == "Done"


def test_licensed_wording_replaces_the_neutral_labels(tmp_path: Path, monkeypatch, doctor: Workspace) -> None:
    monkeypatch.setenv("MSC_SLE_CRF_LICENSED_DIR", str(tmp_path))
    neutral = doctor.entry.open_form(FormRef("99-001", "M6", "eq5d")).form
    assert neutral.item("EQMO").label.en == "Mobility"
    (tmp_path / "eq5d5l.yaml").write_text(
        "instrument: eq5d5l\nitems:\n  EQMO: {en: 'LICENSED MOBILITY QUESTION', fr: 'QUESTION MOBILITE SOUS LICENCE'}\n"
        "levels:\n  EQMO: {'1': {en: 'LICENSED LEVEL ONE', fr: 'NIVEAU UN'}}\n", encoding="utf-8")
    snap = doctor.entry.open_form(FormRef("99-001", "M6", "eq5d"))
    item = snap.form.item("EQMO")
    assert item.label.en == "LICENSED MOBILITY QUESTION"
    codelist = snap.form.codelist_for(item)
    assert codelist is not None and codelist.label("1") == "LICENSED LEVEL ONE" and codelist.label("2") == "Level 2"
    assert snap.form.content_hash() != neutral.content_hash()  # display only:
    assert snap.state.value(("dims", 0, "EQMO")) is not None  # the stored values still read the same
    assert licensed.apply(STUDY.forms["labs"], tmp_path) is STUDY.forms["labs"]  # no licence needed elsewhere


def test_enter_on_a_form_of_the_casebook_opens_it_and_locks_nothing(qtbot, doctor: Workspace, monkeypatch) -> None:
    """A dialog makes its first push button the default: Enter on a form in the casebook tree opened it AND pressed
    "Lock the subject" (found in a real window), and the form it opened took the same Enter as "Print PDF…". Now
    neither window presses a button on Enter, and locking the subject asks first (No by default)."""
    from PySide6.QtWidgets import QMessageBox, QPushButton

    locks: list[str] = []
    monkeypatch.setattr(type(doctor.lifecycle), "lock_subject", lambda self, subject: locks.append(subject))
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No)
    from msc_sle_crf.ui import printing

    saves: list[object] = []  # a "Print PDF…" pressed by the same Enter in the form it opened
    monkeypatch.setattr(printing, "ask_save_path", lambda *a, **k: saves.append(a) or None)
    dialog = CasebookDialog(doctor, "99-003")
    qtbot.addWidget(dialog)
    opened: list[object] = []
    dialog.form_opened.connect(opened.append)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert not any(b.isDefault() or b.autoDefault() for b in dialog.findChildren(QPushButton))
    visit = dialog.tree.topLevelItem(0)
    visit.setExpanded(True)
    dialog.tree.setCurrentItem(visit.child(0))
    dialog.tree.setFocus()
    qtbot.keyClick(dialog.tree, Qt.Key.Key_Return)
    qtbot.wait(200)
    assert opened and locks == [] and asked == [] and saves == []
    form = opened[0]
    field = next(f for f in form.view.fields.values() if f.isEnabled())  # type: ignore[attr-defined]
    field.editor.focus_widget().setFocus()
    qtbot.keyClick(field.editor.focus_widget(), Qt.Key.Key_Return)  # Enter in a field: the next field, no button
    qtbot.wait(100)
    assert saves == [] and locks == []
    for window in opened:
        window.close()  # type: ignore[attr-defined]
    dialog.lock_button.click()  # the button itself asks first; "No" locks nothing
    assert asked and "99-003" in asked[0] and locks == []
