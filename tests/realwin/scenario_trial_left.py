"""A new administrator's first minutes in a real window (brief h53): signed in, she disables an account while the
check after sign-in still reads the database, then looks at the status bar (TRAINING, the check, the backups
warning) at the laptop's screen size. Before: the check failed ("Database check not completed: file is not a
database": the re-key rewrote the pages under its old key) and the bar's lines were cut at 1280 px. The check is
held at its first page pass until the re-key has asked it to stop, so that the collision happens every run (the
order driven by events, not by timing). Run by ``tests/realwin/test_trial_left.py``; prints one ``RESULT`` line.

    QT_QPA_PLATFORM=xcb DISPLAY=:1 python -m tests.realwin.scenario_trial_left --shots /tmp/shots --lang en
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication, QDialog, QLabel

import msc_sle_crf.services.integrity as I
from msc_sle_crf.clock import FakeClock
from msc_sle_crf.formdef import load_study
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.store.key_change import key_change
from msc_sle_crf.ui.login import LoginWindow
from msc_sle_crf.ui.main_window import MainWindow
from msc_sle_crf.ui.status_label import ElidedLabel

from .harness import Harness


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=Path, required=True)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--size", default="1280x800")
    args = parser.parse_args()
    h = Harness(args.shots, args.lang)
    site = create_demo(Path(tempfile.mkdtemp(prefix="realwin-")) / "trial.crfdb", clock=FakeClock())
    paused, go = threading.Event(), threading.Event()
    real = I.integrity_problems

    def pages(conn: Any, **kwargs: Any) -> list[str]:  # the check after sign-in, held once at its first pass
        if not paused.is_set():
            paused.set()
            go.wait(120)
        return real(conn, **kwargs)

    I.integrity_problems = pages  # type: ignore[assignment]
    h.start_app(site, load_study())
    results = h.results
    login = h.window("eCRF", LoginWindow)
    h.activate(login)
    h.type("admin\ntraining-manager\n")
    main = h.window("eCRF", MainWindow, timeout=30)
    panel = main.accounts
    h.wait_until(lambda: panel.table.rowCount() >= 4, "the accounts")
    h.wait_until(paused.is_set, "the check after sign-in reading the database", timeout=30)
    row = next(r for r in range(panel.table.rowCount()) if panel.table.item(r, 0).text() == "dr.martin")
    h.click(panel.table.viewport(), panel.table.visualItemRect(panel.table.item(row, 0)).center())
    h.wait_until(panel.disable_button.isEnabled, "Disable… enabled for dr.martin")
    h.click(panel.disable_button)
    h.wait_until(lambda: any(isinstance(w, QDialog) for w in h.windows()), "the 'disable an account' dialog")
    dialog = next(w for w in h.windows() if isinstance(w, QDialog))
    h.activate(dialog)
    h.type("left the unit\n")
    h.wait_until(lambda: key_change(site).wanted or "dr.martin" in panel.status.text(),
                 "the re-key waiting for the check", timeout=60)
    results["rekey_waited_for_the_check"] = key_change(site).wanted
    go.set()
    h.wait_until(lambda: "dr.martin" in panel.status.text(), "the account disabled and re-keyed", timeout=120)
    status = main.status_integrity
    h.wait_until(lambda: status.state in ("done", "failed"), "the check's result", timeout=120)
    h.process(0.3)
    results["check_state"] = status.state
    results["check_text"] = status.text()
    results["check_tooltip"] = status.toolTip()
    h.activate(main)
    h.shot("status-bar")
    width = main.width()
    results["window_width"] = width
    results["fits_screen"] = h.fits(main)
    labels = []
    for label in main.statusBar().findChildren(QLabel):
        if not label.isVisible():
            continue
        geometry = label.geometry()
        shown = label.shown() if isinstance(label, ElidedLabel) else label.text()
        labels.append({"name": label.objectName(), "text": label.text(), "shown": shown,
                       "left": geometry.left(), "right": geometry.right(),
                       "fits": label.fontMetrics().horizontalAdvance(shown) <= label.contentsRect().width()})
    results["labels"] = labels
    results["bar_right"] = main.statusBar().geometry().right()
    QApplication.processEvents()
    h.report()


if __name__ == "__main__":
    main()
