"""h60: the screen locks (Ctrl+L, or after 5 minutes idle) but a field's "History" and "Queries" windows stay on
screen over the lock screen, with the subject's values, who entered them and the query messages.

At the lock, the main window hides the windows it tracks (casebooks, forms: ``MainWindow.lock``); a form's own
dialogs (history, queries; opened with ``open()``, children of the form) are separate windows that Qt does not hide
with their parent, and nothing else hides them. Whoever walks up to the locked laptop reads them.

Steps: the physician opens Demographics from the casebook, opens the ⋯ menu of Weight > History of this item…
and > Queries…, and is called away: the idle lock comes. (Ctrl+L pressed in one of these two windows does not lock
at all: they are modal to the form, whose window hierarchy holds the main window's Lock action; seen in a real
window too: tests/realwin/test_h60_lock_dialogs.py.)
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTreeWidgetItemIterator

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.form import FormWindow
from msc_sle_crf.ui.main_window import MainWindow

from .conftest import make_user
from .forms_helpers import STUDY

WEIGHT = ("dm", 0, "WEIGHT")


def test_no_window_of_a_form_stays_over_the_lock_screen(qtbot, site: Site, admin: Workspace) -> None:  # type: ignore[no-untyped-def]
    dr = Workspace.sign_in(site, "dr.ld", make_user(admin, "dr.ld", "investigator"), study=STUDY)
    subject = dr.subjects.register("LKD", 1980, "F").subject.subject_number
    ref = FormRef(subject, "SCR", "demographics")
    dr.entry.save_item(ref, WEIGHT, "62,5")
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
    window.view.show_history(WEIGHT)  # what "History of this item…" (or Ctrl+H) opens
    window.view.show_queries(WEIGHT)
    qtbot.waitUntil(window.view.history_dialog.isVisible, timeout=2000)

    # The physician is called away: 5 minutes later the idle watcher fires.
    main.idle.idle.emit()
    qtbot.waitUntil(lambda: main.stack.currentWidget() is main.lock_screen, timeout=5000)
    shown = [w.windowTitle() for w in QApplication.topLevelWidgets() if w.isVisible() and w is not main]
    # Fails now: ['History — Weight', 'Queries — Weight'] over the lock screen.
    assert shown == [], shown
