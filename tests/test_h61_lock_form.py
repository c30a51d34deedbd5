"""h61: the lock and a form's windows. The idle lock that comes while a "Reason for change" question waits locks at
once and keeps what was typed (the question is closed as unanswered, not as "Cancel: put the old value back"); the
form's Queries and History windows hidden by the lock come back with the form when the same user unlocks."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QTreeWidgetItemIterator

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.form import FormWindow
from msc_sle_crf.ui.main_window import MainWindow

from .conftest import make_user
from .forms_helpers import STUDY

DEMOGRAPHICS = {"BRTHDAT": "UK/06/1980", "ETHNIC": "NR", "HEIGHT": "165", "WEIGHT": "62,5", "CHILDPOT": "N"}
WEIGHT = ("dm", 0, "WEIGHT")


def _open_demographics(qtbot, site: Site, admin: Workspace, name: str, *,  # type: ignore[no-untyped-def]
                       complete: bool) -> tuple[Workspace, str, FormRef, MainWindow, FormWindow]:
    password = make_user(admin, name, "investigator")
    dr = Workspace.sign_in(site, name, password, study=STUDY)
    subject = dr.subjects.register(name[-3:].upper(), 1980, "F").subject.subject_number
    ref = FormRef(subject, "SCR", "demographics")
    for item, text in DEMOGRAPHICS.items():
        dr.entry.save_item(ref, ("dm", 0, item), text)
    if complete:
        dr.entry.mark_complete(ref)
    main = MainWindow(dr, idle_ms=600_000)
    qtbot.addWidget(main)
    main.show()
    main.open_subject(subject)
    casebook = main.open_dialogs[0]
    found = QTreeWidgetItemIterator(casebook.tree)
    while found.value() and tuple(found.value().data(0, Qt.ItemDataRole.UserRole) or ()) != ("SCR", "demographics"):
        found += 1
    casebook.tree.itemActivated.emit(found.value(), 0)
    window = next(d for d in main.open_dialogs if isinstance(d, FormWindow))
    return dr, password, ref, main, window


def _unlock(qtbot, main: MainWindow, password: str) -> None:  # type: ignore[no-untyped-def]
    main.lock_screen.password.setText(password)
    main.lock_screen.unlock_button.click()
    qtbot.waitUntil(lambda: main.stack.currentWidget() is main.work, timeout=5000)


def test_the_idle_lock_during_a_reason_question_keeps_the_typed_value(qtbot, site: Site,  # type: ignore[no-untyped-def]
                                                                      admin: Workspace) -> None:
    dr, password, ref, main, window = _open_demographics(qtbot, site, admin, "dr.iql", complete=True)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    line = window.view.fields[WEIGHT].editor.focus_widget()
    line.setFocus()
    qtbot.waitUntil(line.hasFocus, timeout=2000)
    line.selectAll()
    qtbot.keyClicks(line, "70")
    seen: dict[str, object] = {}

    def idle_comes() -> None:  # the question is on screen; nobody answers it; 5 minutes later:
        modal = QApplication.activeModalWidget()
        seen["asked"] = modal.windowTitle() if modal is not None else None
        main.idle.idle.emit()
        seen["over_lock"] = [w.windowTitle() for w in QApplication.topLevelWidgets()
                             if isinstance(w, QDialog) and w.isVisible()]
        sweeper.start()  # any question left over the lock screen (or raised by it) is closed by the test

    def sweep() -> None:
        still = QApplication.activeModalWidget()
        if isinstance(still, QDialog) and still.isVisible():
            still.reject()

    sweeper = QTimer()
    sweeper.setInterval(100)
    sweeper.timeout.connect(sweep)

    QTimer.singleShot(300, idle_comes)
    window.view.commit(WEIGHT)  # what leaving the field does: the "Reason for change" question (exec)
    qtbot.waitUntil(lambda: "over_lock" in seen, timeout=3000)
    sweeper.stop()
    assert seen["asked"] == "Reason for change"
    assert main.stack.currentWidget() is main.lock_screen
    assert seen["over_lock"] == []  # the question left the screen with the form

    _unlock(qtbot, main, password)
    assert [r.new_value for r in dr.entry.item_history(ref, WEIGHT)][-1] == "62.5"  # nothing saved
    qtbot.waitUntil(window.isVisible, timeout=2000)
    assert window.view.fields[WEIGHT].editor.text() == "70"  # before: the old value put back, "70" lost
    assert dr.entry.open_form(ref).typed == {WEIGHT: ("70", None)}


def test_a_form_s_queries_and_history_come_back_after_unlock(qtbot, site: Site,  # type: ignore[no-untyped-def]
                                                             admin: Workspace) -> None:
    _dr, password, _ref, main, window = _open_demographics(qtbot, site, admin, "dr.bck", complete=False)
    window.view.show_history(WEIGHT)
    window.view.show_queries(WEIGHT)
    history, queries = window.view.history_dialog, window.view.query_dialog
    assert history is not None and queries is not None
    qtbot.waitUntil(queries.isVisible, timeout=2000)
    main.lock()
    assert not history.isVisible() and not queries.isVisible()
    _unlock(qtbot, main, password)
    qtbot.waitUntil(queries.isVisible, timeout=2000)
    assert history.isVisible() and window.isVisible()
