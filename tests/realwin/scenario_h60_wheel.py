"""h60: the physician scrolls the labs form with the mouse wheel in a real window (Xvfb + openbox, xdotool); the
pointer rests on the unit box of the urine protein/creatinine ratio (0,5 g/g saved) for one wheel notch. Run by
``tests/realwin/test_h60_wheel.py``; prints one ``RESULT`` line (what is stored, the unit shown, whether the form
scrolled).

    QT_QPA_PLATFORM=xcb DISPLAY=:1 python -m tests.realwin.scenario_h60_wheel --shots /tmp/shots --lang en
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
DOCTOR, PASSWORD = "dr.wheel", "pw-wheel-doctor-2026"
UPCR = ("lb", 0, "UPCR")


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
    admin.accounts.add_user(DOCTOR, "Dr Wheel", "investigator", initial_password=PASSWORD,
                            must_change_password=False)
    doctor = Workspace.sign_in(site, DOCTOR, PASSWORD, study=study)
    subject = doctor.subjects.register("WHL", 1980, "F").subject.subject_number
    ref = FormRef(subject, "M0", "labs")
    doctor.entry.save_item(ref, UPCR, "0,5")

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
    while found.value() and tuple(found.value().data(0, Qt.ItemDataRole.UserRole) or ()) != ("M0", "labs"):
        found += 1
    h.check(found.value() is not None, "the labs form of M0 in the casebook")
    casebook.tree.itemActivated.emit(found.value(), 0)
    form = h.window(subject, FormWindow)
    h.activate(form)
    field = form.view.fields[UPCR]
    form.scroll_area.ensureWidgetVisible(field)
    h.process(0.3)
    bar = form.scroll_area.verticalScrollBar()
    results["scroll_before"] = bar.value()
    combo = field.unit_combo
    h.check(combo is not None, "UPCR has a unit box")
    assert combo is not None
    where = combo.mapToGlobal(combo.rect().center())
    h._xdotool("mousemove", "--sync", str(where.x()), str(where.y()))
    h.process(0.2)
    h.shot("pointer-on-the-unit-box")
    h._xdotool("click", "5")  # one notch of the wheel, downwards: scroll the form
    h.process(0.5)
    h.shot("after-one-wheel-notch")
    results["scroll_after"] = bar.value()
    results["unit_shown"] = combo.currentText()
    results["stored"] = [r.new_value for r in doctor.entry.item_history(ref, UPCR)
                         if r.action in ("data_entry", "data_change")]
    h.report()


if __name__ == "__main__":
    main()
