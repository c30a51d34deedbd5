"""Issue 12, item 4: finding and opening the right subject (search, filters, the new subject selected, what needs
attention shown on the list)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.ui.dialogs import NewSubjectDialog
from msc_sle_crf.ui.main_window import MainWindow

from .conftest import FAST_KDF


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = create_demo(tmp_path_factory.mktemp("demo-list") / "demo.crfdb", kdf=FAST_KDF, clock=FakeClock())
    yield site
    site.close()


def _shown(main: MainWindow) -> list[str]:
    table = main.subjects.table
    return [table.item(r, 0).text() for r in range(table.rowCount()) if not table.isRowHidden(r)]


def test_the_new_subject_is_selected_after_registration(qtbot, demo: Site) -> None:
    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    main = MainWindow(doctor, idle_ms=10**9)
    qtbot.addWidget(main)
    main.show()
    main.subjects.table.selectRow(0)  # someone was looking at the first subject
    main.new_subject()
    dialog = next(d for d in main.open_dialogs if isinstance(d, NewSubjectDialog))
    dialog.initials.setText("NEW")
    dialog.birth_year.setText("1981")
    dialog.sex.setCurrentIndex(1)
    dialog._accept()
    number = dialog.subject.subject_number
    assert main.subjects.selected() == number  # Enter now opens the new subject's casebook, not the first one
    assert main.subjects.table.hasFocus() or main.subjects.table.currentRow() == main.subjects.row_of(number)
    main.close()


def test_search_and_filters_by_number_initials_cohort_and_stage(qtbot, demo: Site) -> None:
    nurse = Workspace.sign_in(demo, "nurse.durand", "training-nurse")
    main = MainWindow(nurse, idle_ms=10**9)
    qtbot.addWidget(main)
    main.show()
    every = _shown(main)
    assert len(every) >= 8
    box = main.subjects
    box.search.setText("htg")  # initials, any case
    assert [main.subjects.table.item(main.subjects.row_of(n), 1).text() for n in _shown(main)] == ["HTG"]
    box.search.setText(every[2][-3:])  # the end of a subject number
    assert _shown(main) == [every[2]]
    box.search.clear()
    assert _shown(main) == every
    # Cohort: the dose cohorts by their labels; a subject not yet dosed has none.
    box.cohort.setCurrentIndex(box.cohort.findData("2"))
    shown = _shown(main)
    assert shown and all(box.table.item(box.row_of(n), box.COL_COHORT).text() == box.cohort.currentText()
                         for n in shown)
    box.cohort.setCurrentIndex(0)
    # Stage: screening, follow-up, ended, locked; and "visit overdue".
    box.stage.setCurrentIndex(box.stage.findData("screening"))
    screening = _shown(main)
    assert screening and all(box.table.item(box.row_of(n), box.COL_STAGE).text() == "Screening / inclusion"
                             for n in screening)
    box.stage.setCurrentIndex(box.stage.findData("overdue"))
    overdue = _shown(main)
    assert overdue and all("overdue" in box.table.item(box.row_of(n), box.COL_NEXT).text() for n in overdue)
    box.stage.setCurrentIndex(box.stage.findData("ended"))
    assert any(box.table.item(box.row_of(n), box.COL_NEXT).text().startswith("Ended") for n in _shown(main))
    assert box.count_line.text().startswith(f"{len(_shown(main))} of {len(every)}")
    main.close()


def test_the_list_names_what_needs_attention_in_french(qtbot, demo: Site) -> None:
    set_lang(Lang.FR)
    nurse = Workspace.sign_in(demo, "nurse.durand", "training-nurse")
    main = MainWindow(nurse, idle_ms=10**9)
    qtbot.addWidget(main)
    main.show()
    box = main.subjects
    headers = [box.table.horizontalHeaderItem(c).text() for c in range(box.table.columnCount())]
    assert {"Cohorte", "Étape", "Queries ouvertes", "Prochaine action"} <= set(headers)
    assert box.stage.itemText(box.stage.findData("overdue")) == "Visite en retard"
    assert box.search.placeholderText().startswith("Rechercher")
    main.close()


def test_down_or_enter_in_the_search_box_moves_to_the_list(qtbot, demo: Site) -> None:  # type: ignore[no-untyped-def]
    """h71: with gloves, the nurse types in the search box and goes on with the keyboard: Down (or Enter when more
    than one subject is left) selects the first subject shown and gives the list the keyboard; Enter then opens it."""
    from PySide6.QtCore import Qt

    from msc_sle_crf.ui.casebook import CasebookDialog

    nurse = Workspace.sign_in(demo, "nurse.durand", "training-nurse")
    main = MainWindow(nurse, idle_ms=10**9)
    qtbot.addWidget(main)
    main.show()
    box = main.subjects
    qtbot.keyClicks(box.search, "99-00")
    shown = _shown(main)
    assert len(shown) > 1
    qtbot.keyClick(box.search, Qt.Key.Key_Down)
    assert box.selected() == shown[0] and main.focusWidget() is box.table
    qtbot.keyClick(box.table, Qt.Key.Key_Down)
    assert box.selected() == shown[1]
    box.table.clearSelection()
    box.search.setFocus()
    qtbot.keyClick(box.search, Qt.Key.Key_Return)  # several left: nothing opens yet, the first one is chosen
    assert box.selected() == shown[0] and not [d for d in main.open_dialogs if isinstance(d, CasebookDialog)]
    main.close()
