"""h60: in a real window (Xvfb + openbox, xdotool), the physician has a form's Queries window open (the ⋯ menu of
Weight > Queries…) and presses Ctrl+L; then the idle lock comes. Run by ``tests/realwin/test_h60_lock_dialogs.py``;
prints one ``RESULT`` line: whether Ctrl+L locked, and which windows are on screen once locked.

    QT_QPA_PLATFORM=xcb DISPLAY=:1 python -m tests.realwin.scenario_h60_lock_dialogs --shots /tmp/shots --lang en
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTreeWidgetItemIterator

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.formdef import load_study
from msc_sle_crf.security import keyslots
from msc_sle_crf.security.keyslots import KdfParams
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.casebook import CasebookDialog
from msc_sle_crf.ui.form import FormWindow
from msc_sle_crf.ui.login import LoginWindow
from msc_sle_crf.ui.main_window import MainWindow

from .harness import Harness

FAST = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)
DOCTOR, PASSWORD = "dr.lockq", "pw-lockq-doctor-2026"
WEIGHT = ("dm", 0, "WEIGHT")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=Path, required=True)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--size", default="1280x800")
    args = parser.parse_args()
    h = Harness(args.shots, args.lang)
    keyslots.KDF_FLOOR = FAST
    study = load_study()
    site, _admin, _code = Site.initialize(Path(tempfile.mkdtemp(prefix="realwin-h60-")) / "trial.crfdb",
                                          admin_username="admin", admin_full_name="Ada Admin",
                                          admin_password="correct-horse-42", kdf=FAST, clock=FakeClock())
    admin = Workspace.sign_in(site, "admin", "correct-horse-42")
    admin.accounts.add_user(DOCTOR, "Dr Lock", "investigator", initial_password=PASSWORD, must_change_password=False)
    doctor = Workspace.sign_in(site, DOCTOR, PASSWORD, study=study)
    subject = doctor.subjects.register("LKQ", 1980, "F").subject.subject_number
    doctor.entry.save_item(FormRef(subject, "SCR", "demographics"), WEIGHT, "62,5")

    h.start_app(site, study)
    results = h.results
    login = h.window("eCRF", LoginWindow)
    h.activate(login)
    h.type(f"{DOCTOR}\n{PASSWORD}\n")
    main_window = h.window("eCRF", MainWindow, timeout=30)
    h.activate(main_window)
    main_window.open_subject(subject)
    casebook = h.window(subject, CasebookDialog)
    found = QTreeWidgetItemIterator(casebook.tree)
    while found.value() and tuple(found.value().data(0, Qt.ItemDataRole.UserRole) or ()) != ("SCR", "demographics"):
        found += 1
    casebook.tree.itemActivated.emit(found.value(), 0)
    form = h.window(subject, FormWindow)
    h.activate(form)
    form.view.show_queries(WEIGHT)
    queries = h.window("Queries", None)
    h.activate(queries)
    h.shot("queries-window")
    h.press("ctrl+l")
    h.process(0.5)
    results["ctrl_l_locked"] = main_window.stack.currentWidget() is main_window.lock_screen
    h.shot("after-ctrl-l")
    if not results["ctrl_l_locked"]:
        main_window.idle.idle.emit()  # the idle lock, 5 minutes later
        h.wait_until(lambda: main_window.stack.currentWidget() is main_window.lock_screen, "the idle lock")
    h.process(0.5)
    h.shot("locked")
    results["shown_when_locked"] = [w.windowTitle() for w in h.windows() if w is not main_window]
    h.report()


if __name__ == "__main__":
    main()
