"""Issue 13, item 6: the subject list from one read model, kept up to date by the change records."""

from __future__ import annotations

import pytest

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.services.overview import Overview
from msc_sle_crf.ui.main_window import MainWindow

from .conftest import make_user


@pytest.fixture
def doctor(site: Site, admin: Workspace) -> Workspace:
    ws = Workspace.sign_in(site, "dr.l", make_user(admin, "dr.l", "investigator"))
    for n in range(5):
        ws.subjects.register("ABC", 1970 + n, "F")
    return ws


def test_a_save_reads_again_only_its_subject(qtbot, doctor: Workspace, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    window = MainWindow(doctor, idle_ms=10**9)
    qtbot.addWidget(window)
    assert window.table.rowCount() == 5
    reads: list[object] = []
    real = Overview._read_inputs
    monkeypatch.setattr(Overview, "_read_inputs", lambda self, numbers: reads.append(numbers) or real(self, numbers))
    def refused(exc: Exception) -> None:
        raise AssertionError(exc)

    ref = FormRef("01-003", "SCR", "demographics")
    before = window.table.item(2, 4).text()
    window.ops.run(lambda: doctor.entry.save_item(ref, ("dm", 0, "HEIGHT"), "165"), on_error=refused)
    assert reads == [{"01-003"}]  # one subject read again, not the whole trial
    assert window.table.item(2, 0).text() == "01-003" and window.table.item(2, 4).text() == before
    window.ops.run(lambda: doctor.subjects.register("XYZ", 1990, "M"), on_error=refused)
    assert reads[-1] == {"01-006"} and window.table.rowCount() == 6


def test_a_new_subject_and_unannounced_writes_are_seen(qtbot, site: Site, doctor: Workspace, admin: Workspace) -> None:
    window = MainWindow(doctor, idle_ms=10**9)
    qtbot.addWidget(window)
    window.ops.run(lambda: doctor.subjects.register("XYZ", 1990, "M"))
    assert window.table.rowCount() == 6 and window.table.item(5, 1).text() == "XYZ"
    other = Workspace.sign_in(site, "dr.m", make_user(admin, "dr.m", "investigator"))
    other.subjects.register("QQQ", 1991, "F")  # written without this window's operations
    window.refresh()  # an explicit refresh sees it: the store moved on since the model was read
    assert window.table.rowCount() == 7


def test_rows_follow_the_day(doctor: Workspace, clock) -> None:  # type: ignore[no-untyped-def]
    rows = doctor.overview.subject_rows()
    first = rows[0].next_action.en
    clock.advance(400 * 86400)  # a year later, nothing written: the same model, rows computed for the new day
    later = doctor.overview.subject_rows()
    assert [r.subject.subject_number for r in later] == [r.subject.subject_number for r in rows]
    assert later[0] is not rows[0] and later[0].next_action.en == first  # screening: still to complete
