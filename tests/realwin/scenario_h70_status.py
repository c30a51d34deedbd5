"""h70, finding 4, in a real window: the sign-in window of a second laptop (WS-02, forked from the TRAINING database)
and, once the administrator is signed in, the status bar with the backups warning at the laptop's screen size. Run by
``tests/realwin/test_h70_real_windows.py``; prints one ``RESULT`` line: what the sign-in window's subtitle says, and
what the status bar's site line and backups warning show (cut or whole).

    QT_QPA_PLATFORM=xcb DISPLAY=:70 python -m tests.realwin.scenario_h70_status --shots /tmp/shots --lang fr \
        --size 1366x768
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QLabel

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.formdef import load_study
from msc_sle_crf.services import Site
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.ui.login import LoginWindow
from msc_sle_crf.ui.main_window import MainWindow
from msc_sle_crf.ui.status_label import ElidedLabel
from tests.helpers.workstations import fork

from .harness import Harness

ADMIN, PASSWORD = "admin", "training-manager"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=Path, required=True)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--size", default="1280x800")
    args = parser.parse_args()
    h = Harness(args.shots, args.lang)
    folder = Path(tempfile.mkdtemp(prefix="realwin-h70-"))
    clock = FakeClock()
    create_demo(folder / "ws1" / "trial.crfdb", clock=clock).close()
    fork(folder / "ws1" / "trial.crfdb", folder / "ws2" / "trial.crfdb", 2, ADMIN, PASSWORD, clock)
    results = h.results
    study = load_study()
    site = Site.open(folder / "ws2" / "trial.crfdb", clock=clock)
    h.start_app(site, study)
    login = h.window("eCRF", LoginWindow)
    h.activate(login)
    h.shot("sign-in-first")
    results["subtitle_first"] = login.subtitle.text()
    h.type(f"{ADMIN}\n{PASSWORD}\n")
    main_window = h.window("eCRF", MainWindow, timeout=30)
    h.activate(main_window)
    warning = main_window.findChild(QLabel, "backup_status")
    h.wait_until(lambda: warning is not None and warning.isVisible() and bool(warning.text()), "the backups line")
    status = main_window.status_integrity  # the check after sign-in: its line comes and goes on the bar
    h.wait_until(lambda: status.state in ("done", "failed"), "the check's result", timeout=120)
    h.process(0.5)
    h.shot("status-bar")
    labels = {w.objectName(): (w.text(), w.shown()) for w in main_window.statusBar().findChildren(ElidedLabel)}
    results["status"] = labels
    results["site_name"] = main_window._settings().get("site_name", "")
    main_window.logout()  # the end of the shift: the sign-in window again
    again = h.window("eCRF", LoginWindow)
    h.process(0.3)
    h.shot("sign-in-again")
    results["subtitle_again"] = again.subtitle.text()
    h.report()


if __name__ == "__main__":
    main()
