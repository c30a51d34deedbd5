"""The monitor's query round trip in a real window: sign in as the monitor, open the worklist (Ctrl+Shift+W), see
the queries across subjects (who must act), double-click the one the site answered: the form opens at the item with
its queries; close it with a comment; the worklist updates; open the subject's casebook from the SDV tab and verify
all items of a form after a question that names the query still open. Run by ``tests/realwin/test_monitor_day.py``
on a virtual display; prints one ``RESULT`` line.

    QT_QPA_PLATFORM=xcb DISPLAY=:1 python -m tests.realwin.scenario_monitor_queries --shots /tmp/shots --lang fr
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication, QTableWidget, QTreeWidgetItem

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.formdef import load_study
from msc_sle_crf.services import Workspace
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.casebook import CasebookDialog
from msc_sle_crf.ui.form import FormWindow
from msc_sle_crf.ui.login import LoginWindow
from msc_sle_crf.ui.main_window import MainWindow
from msc_sle_crf.ui.worklist import WorklistWindow

from .harness import Harness

RENAL = FormRef("99-001", "SCR", "renal_function")
LABS = FormRef("99-002", "M0", "labs")


def double_click(h: Harness, table: QTableWidget, row: int) -> None:
    item = table.item(row, 0)
    table.scrollToItem(item)
    h.process(0.2)
    where = table.viewport().mapToGlobal(table.visualItemRect(item).center())
    h._xdotool("mousemove", "--sync", str(where.x()), str(where.y()))
    h._xdotool("click", "--repeat", "2", "--delay", "90", "1")
    h.process(0.3)


def open_row(h: Harness, table: QTableWidget, row: int, title: str) -> None:
    """A double-click on the row; on a loaded machine two clicks may arrive too far apart to make one: then Enter
    on the row (selected by the first click), the other way to open it."""
    double_click(h, table, row)
    for _ in range(30):
        if any(title in w.windowTitle() for w in h.windows()):
            return
        h.process(0.1)
    h.press("Return")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=Path, required=True)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--size", default="1280x800")
    args = parser.parse_args()
    h = Harness(args.shots, args.lang)
    fr = args.lang == "fr"
    site = create_demo(Path(tempfile.mkdtemp(prefix="realwin-")) / "monitor.crfdb", clock=FakeClock())
    # Before the day: two queries raised earlier; the site answered one of them.
    monitor = Workspace.sign_in(site, "monitor.petit", "training-monitor")
    doctor = Workspace.sign_in(site, "dr.martin", "training-doctor")
    answered = monitor.monitoring.open_query(RENAL, ("lb", 0, "CREAT"), "Source: 98 µmol/L?").query_id
    doctor.monitoring.answer(answered, "Erreur de transcription, corrigé" if fr else "Transcription error, corrected",
                             corrected_value="98", reason="transcription")
    monitor.monitoring.open_query(LABS, ("lb", 0, "HGB"), "Hb 9,1 sur le compte rendu ?" if fr else
                                  "Hb 9.1 on the report?")
    h.start_app(site, load_study())
    results = h.results

    login = h.window("eCRF", LoginWindow)
    h.activate(login)
    h.type("monitor.petit\ntraining-monitor\n")
    main_window = h.window("eCRF", MainWindow, timeout=20)
    h.wait_until(lambda: main_window.table.rowCount() >= 6, "the subject list")
    h.activate(main_window)
    h.press("ctrl+shift+w")
    worklist = h.window("Liste de travail" if fr else "worklist", WorklistWindow)
    h.activate(worklist)
    h.process(0.8)
    h.shot("worklist")
    table = worklist.queries
    results["rows_before"] = [[table.item(r, c).text() for c in range(table.columnCount())]
                              for r in range(table.rowCount())]
    results["fits"] = {"main": h.fits(main_window), "worklist": h.fits(worklist)}
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == RENAL.subject)
    open_row(h, table, row, "99-001 ·")
    form = h.window("99-001 ·", FormWindow)
    dialog = form.view.query_dialog
    h.wait_until(lambda: dialog is not None and dialog.isVisible(), "the item's queries")
    assert dialog is not None
    h.activate(dialog)
    results["form_focus"] = not form.view.fields[("lb", 0, "CREAT")].visibleRegion().isEmpty()  # scrolled to it
    results["query_text"] = dialog.text.toPlainText()
    h.shot("query-opened-from-the-worklist")
    h.click(dialog.reply)
    h.type("Conforme au dossier source" if fr else "Matches the source document")
    h.click(dialog.close_button)
    h.wait_until(lambda: table.rowCount() == len(results["rows_before"]) - 1, "the worklist updated")
    results["query_after"] = dialog.text.toPlainText()
    h.shot("query-closed")
    dialog.close()
    form.close()
    h.activate(worklist)
    results["rows_after"] = [[table.item(r, c).text() for c in range(table.columnCount())]
                             for r in range(table.rowCount())]
    h.shot("worklist-after")

    # SDV: from the progress tab to the casebook, verify all items of a form
    h.click(worklist.tabs.tabBar(), worklist.tabs.tabBar().tabRect(1).center())
    sdv = worklist.sdv
    h.wait_until(lambda: worklist.tabs.currentIndex() == 1, "the SDV tab")
    h.shot("sdv-progress")
    sdv_row = next(r for r in range(sdv.rowCount()) if sdv.item(r, 0).text() == LABS.subject
                   and sdv.item(r, 1).text() == ("Inclusion (référence)" if fr else "Inclusion (baseline)"))
    results["sdv_before"] = sdv.item(sdv_row, 2).text()
    open_row(h, sdv, sdv_row, "99-002 —")
    casebook = h.window("99-002 —", CasebookDialog)
    h.activate(casebook)
    h.process(0.8)
    results["fits"]["casebook"] = h.fits(casebook)
    tree = casebook.tree

    def labs_item() -> QTreeWidgetItem:  # found again after each redraw
        inclusion = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                         if tree.topLevelItem(i).data(0, 257) == "M0")
        return next(inclusion.child(i) for i in range(inclusion.childCount())
                    if inclusion.child(i).data(0, 256) == ("M0", "labs"))

    labs = labs_item()
    tree.scrollToItem(labs)
    h.click(tree.viewport(), tree.visualItemRect(labs).center())
    results["labs_marks_before"] = labs.text(3)
    h.shot("casebook-marks")
    h.click(casebook.verify_all_button)
    box = casebook.verify_box
    h.wait_until(box.isVisible, "the question")
    results["verify_question"] = box.text()
    results["yes_button"] = box.button(box.StandardButton.Yes).text().replace("&", "")
    h.shot("verify-all-question")
    h.click(box.button(box.StandardButton.Yes))
    h.wait_until(lambda: "✓" in labs_item().text(3), "the form verified")
    results["labs_marks_after"] = labs_item().text(3)
    h.shot("casebook-verified")
    h.activate(worklist)
    results["sdv_after"] = next(sdv.item(r, 2).text() for r in range(sdv.rowCount())
                                if sdv.item(r, 0).text() == LABS.subject and sdv.item(r, 1).text()
                                == ("Inclusion (référence)" if fr else "Inclusion (baseline)"))
    h.shot("sdv-after")
    results["windows"] = sorted(w.windowTitle() for w in QApplication.topLevelWidgets() if w.isVisible())
    h.report()


if __name__ == "__main__":
    main()
