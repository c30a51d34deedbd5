"""An administrator disables an account in a real window, typing the reason with the keyboard as the dialog opens
(no click in the field), then opens the Administration menu with a real click. Before: the focus opened on the
Disable button (the first space of the reason pressed it), and after the re-key no menu opened any more (its
progress dialog was shown again every 200 ms, which closes an open menu). Run by
``tests/realwin/test_admin_dialogs.py``; prints one ``RESULT`` line.

    QT_QPA_PLATFORM=xcb DISPLAY=:1 python -m tests.realwin.scenario_disable_menus --shots /tmp/shots --lang en
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication, QDialog, QLineEdit, QProgressDialog

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.formdef import load_study
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.ui.login import LoginWindow
from msc_sle_crf.ui.main_window import MainWindow

from .harness import Harness


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=Path, required=True)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--size", default="1280x800")
    args = parser.parse_args()
    h = Harness(args.shots, args.lang)
    site = create_demo(Path(tempfile.mkdtemp(prefix="realwin-")) / "disable.crfdb", clock=FakeClock())
    h.start_app(site, load_study())
    results = h.results
    login = h.window("eCRF", LoginWindow)
    h.activate(login)
    h.type("admin\ntraining-manager\n")
    main = h.window("eCRF", MainWindow, timeout=30)
    panel = main.accounts
    h.wait_until(lambda: panel.table.rowCount() >= 4, "the accounts")
    # The check after sign-in runs in the background: let it end (it is not what this scenario is about).
    h.wait_until(lambda: main.status_integrity.state != "running", "the check after sign-in", timeout=60)
    row = next(r for r in range(panel.table.rowCount()) if panel.table.item(r, 0).text() == "dr.martin")
    h.click(panel.table.viewport(), panel.table.visualItemRect(panel.table.item(row, 0)).center())
    h.wait_until(panel.disable_button.isEnabled, "Disable… enabled for dr.martin")
    h.click(panel.disable_button)
    h.wait_until(lambda: any(isinstance(w, QDialog) for w in h.windows()), "the 'disable an account' dialog")
    dialog = next(w for w in h.windows() if isinstance(w, QDialog))
    h.activate(dialog)
    reason = dialog.findChild(QLineEdit, "reason")
    results["focus_in_reason"] = QApplication.focusWidget() is reason
    h.type("left the unit")  # real keys, where the focus is: no click in the field first
    results["reason_typed"] = reason.text()
    results["error_while_typing"] = dialog.error.text()
    h.shot("reason-typed")
    h.press("Return")
    h.wait_until(lambda: "disabled" in panel.status.text() or "désactivé" in panel.status.text(),
                 "the account disabled and the database re-keyed", timeout=120)
    results["status"] = panel.status.text()
    h.process(0.6)  # several of the old progress timer's periods
    results["modal_left"] = QApplication.activeModalWidget() is not None
    results["progress_dialogs_left"] = sum(isinstance(w, QProgressDialog) for w in QApplication.topLevelWidgets())
    h.activate(main)
    bar = main.menuBar()
    h.click(bar, bar.actionGeometry(main.admin_menu.menuAction()).center())
    h.wait_until(main.admin_menu.isVisible, "the Administration menu open")
    h.process(0.8)  # and still open after several of the old timer's periods
    results["menu_open"] = main.admin_menu.isVisible()
    h.shot("administration-menu")
    h.press("Escape")
    h.report()


if __name__ == "__main__":
    main()
