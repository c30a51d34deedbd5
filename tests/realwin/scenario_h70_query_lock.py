"""h70, finding 1, in a real window: a monitor raises a query on Weight (the form's ⋯ menu > Raise a query…), types
a long text key by key, presses Ctrl+L, types her password on the lock screen; the question comes back with her
text. Run by ``tests/realwin/test_h70_real_windows.py``; prints one ``RESULT`` line.

    QT_QPA_PLATFORM=xcb DISPLAY=:70 python -m tests.realwin.scenario_h70_query_lock --shots /tmp/shots --lang fr
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QTreeWidgetItemIterator

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
MONITOR, PASSWORD = "mon.h70", "pw-h70-monitor-2026"
WEIGHT = ("dm", 0, "WEIGHT")
TEXT = "Weight 62,5 kg here but 71 kg in the nursing chart the same morning: please check"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=Path, required=True)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--size", default="1280x800")
    args = parser.parse_args()
    h = Harness(args.shots, args.lang, typing_delay_ms=15)
    keyslots.KDF_FLOOR = FAST
    study = load_study()
    site, _admin, _code = Site.initialize(Path(tempfile.mkdtemp(prefix="realwin-h70q-")) / "trial.crfdb",
                                          admin_username="admin", admin_full_name="Ada Admin",
                                          admin_password="correct-horse-42", kdf=FAST, clock=FakeClock())
    admin = Workspace.sign_in(site, "admin", "correct-horse-42")
    admin.accounts.add_user("dr.h70", "Dr H", "investigator", initial_password="pw-h70-doctor-2026",
                            must_change_password=False)
    admin.accounts.add_user(MONITOR, "Mon H", "monitor", initial_password=PASSWORD, must_change_password=False)
    doctor = Workspace.sign_in(site, "dr.h70", "pw-h70-doctor-2026", study=study)
    subject = doctor.subjects.register("QLK", 1980, "F").subject.subject_number
    doctor.entry.save_item(FormRef(subject, "SCR", "demographics"), WEIGHT, "62,5")

    h.start_app(site, study)
    results = h.results
    login = h.window("eCRF", LoginWindow)
    h.activate(login)
    h.type(f"{MONITOR}\n{PASSWORD}\n")
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
    form.view.raise_query(WEIGHT)  # what the ⋯ menu's "Raise a query…" does
    question = h.window({"en": "Raise a query", "fr": "Ouvrir une query"}[args.lang], QInputDialog)
    h.activate(question)
    h.type(TEXT)
    h.shot("query-typed")
    h.press("ctrl+l")
    h.wait_until(lambda: main_window.stack.currentWidget() is main_window.lock_screen, "the lock screen")
    h.shot("locked")
    results["shown_when_locked"] = [w.windowTitle() for w in h.windows() if w is not main_window]
    h.activate(main_window)
    main_window.lock_screen.password.setFocus()
    h.type(f"{PASSWORD}\n")
    h.wait_until(lambda: main_window.stack.currentWidget() is main_window.work, "signed back in", timeout=30)
    h.wait_until(question.isVisible, "the question back")
    h.shot("question-back")
    results["text_back"] = question.textValue()
    h.activate(question)
    h.type(" again")  # she goes on typing: her text is not replaced
    results["text_on"] = question.textValue()
    h.press("Return")  # she sends it
    h.wait_until(lambda: not question.isVisible(), "the query sent")
    ref = FormRef(subject, "SCR", "demographics")
    results["queries"] = [q.messages[0].text for q in doctor.monitoring.queries(ref)]
    h.shot("query-sent")
    h.report()


if __name__ == "__main__":
    main()
