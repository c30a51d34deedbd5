"""Render the main screens to PNG (offscreen) so they can be looked at: python packaging/render_screens.py OUTDIR"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.security.keyslots import KdfParams
from msc_sle_crf.services import Workspace
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.casebook import CasebookDialog
from msc_sle_crf.ui.common import STYLE
from msc_sle_crf.ui.form import FormWindow
from msc_sle_crf.ui.login import LoginWindow
from msc_sle_crf.ui.main_window import MainWindow


def render_bedside(app: QApplication, site, out: Path, lang: Lang) -> None:
    """The infusion day of the subject still in screening: checked, started, three readings, one overdue."""
    from msc_sle_crf.infusion import timer as T
    from msc_sle_crf.services.bedside import BASELINE
    from msc_sle_crf.ui.bedside import BedsideWindow

    nurse = Workspace.sign_in(site, "nurse.durand", "training-nurse")
    vs = nurse.study.bindings.infusion_day.vital_signs

    def reading(*values: str) -> dict[str, str]:  # the six measures in the bedside's order
        return dict(zip(vs.readings(), values, strict=True))

    window = BedsideWindow(nurse, "99-006")
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    window.grab().save(str(out / f"bedside-1-check-{lang}.png"))
    b = window.bedside
    if b.state("99-006").product is None:
        b.product_check("99-006", identity_confirmed=True, weight_kg="58", cohort="2", bag_id="UC-99-006-01",
                        lot="L2026-021", labelled_cells_e6="120", use_by="31/12/2099 16:00",
                        premedication="paracétamol 1 g")
        b.second_check("99-006", "dr.martin", "training-doctor")
        b.record_vitals("99-006", BASELINE, reading("36,9", "78", "126", "80", "16", "98"))
        b.timer("99-006", T.Kind.START)
        b.record_vitals("99-006", "T15", reading("37,4", "88", "118", "74", "18", "97"))
        b.record_vitals("99-006", "T30", reading("38,3", "104", "102", "64", "20", "94"), confirm=True)
    window.reload()
    window.tabs.setCurrentIndex(1)
    app.processEvents()
    window.grab().save(str(out / f"bedside-2-vitals-{lang}.png"))
    window.tabs.setCurrentIndex(2)
    app.processEvents()
    window.grab().save(str(out / f"bedside-3-days-{lang}.png"))
    window.close()


def render_forms(app: QApplication, site, out: Path, lang: Lang) -> None:
    """A vital-signs form with an unusual and an impossible value, and a form whose completion is refused."""
    nurse_ws = Workspace.sign_in(site, "nurse.durand", "training-nurse")
    nurse = nurse_ws.entry
    subject = next(s.subject_number for s in nurse_ws.subjects.list() if s.initials == "HTG")  # still in screening
    ref = FormRef(subject, "D0", "vital_signs")
    if not nurse.open_form(ref).state.rows["vs"]:
        row = nurse.add_row(ref, "vs").row
        for item, text in {"VSTIM": "10:15", "VSTEMP": "37,1", "VSHR": "72", "VSSYSBP": "120", "VSDIABP": "75",
                           "VSSPO2": "98"}.items():
            nurse.save_item(ref, ("vs", row, item), text)
        nurse.add_row(ref, "vs")
    window = FormWindow(nurse_ws, ref)
    window.resize(1280, 800)
    window.show()
    view = window.view
    row = view.state.rows["vs"][-1]
    for item, text in (("VSTIM", "10:30"), ("VSTEMP", "38,6"), ("VSHR", "300")):
        field = view.fields[("vs", row, item)]
        field.editor.set_text(text)
        view.on_edited(("vs", row, item), text)
        view.commit(("vs", row, item))
    window.scroll.ensureWidgetVisible(view.fields[("vs", row, "VSSYSBP")])
    app.processEvents()
    window.grab().save(str(out / f"form-vitals-{lang}.png"))
    window.close()
    doctor = Workspace.sign_in(site, "dr.martin", "training-doctor")
    window = FormWindow(doctor, FormRef(subject, "SCR", "demographics"))
    window.resize(1280, 800)
    window.show()
    view = window.view
    for item, text in (("HEIGHT", "165"), ("WEIGHT", "62,5"), ("BRTHDAT", "31/02/1980")):
        view.fields[("dm", 0, item)].editor.set_text(text)
        view.on_edited(("dm", 0, item), text)
        view.commit(("dm", 0, item))
    view.mark_complete()
    app.processEvents()
    window.grab().save(str(out / f"form-refused-{lang}.png"))
    window.close()
    for ref, name in ((FormRef("99-001", "M3", "selena_sledai"), "form-sledai-m3"),
                      (FormRef("99-003", "LOG", "adverse_events"), "form-adverse-events")):
        window = FormWindow(doctor, ref)
        window.resize(1280, 800)
        window.show()
        if ref.form == "selena_sledai":
            window.scroll.ensureWidgetVisible(window.view.score_panel)
        app.processEvents()
        window.grab().save(str(out / f"{name}-{lang}.png"))
        window.close()
    render_bedside(app, site, out, lang)
    for number, name in (("99-001", "dashboard-completed"), ("99-003", "dashboard-not-tolerated")):
        casebook = CasebookDialog(doctor, number)
        casebook.resize(1280, 800)
        casebook.show()
        app.processEvents()
        casebook.grab().save(str(out / f"{name}-{lang}.png"))
        casebook.close()


def render_outcomes(app: QApplication, site, out: Path, lang: Lang) -> None:
    """The outcomes window: tables by cohort, the safety review of a cohort not ready yet, the plots."""
    from PySide6.QtCore import QThreadPool

    from msc_sle_crf.ui.outcomes import OutcomesWindow

    window = OutcomesWindow(Workspace.sign_in(site, "dr.martin", "training-doctor"))
    window.resize(1280, 800)
    window.show()
    for tab, cohort, name in ((0, None, "outcomes-tables"), (1, "4", "outcomes-safety-review"), (2, None,
                                                                                                  "outcomes-plots")):
        window.tabs.setCurrentIndex(tab)
        if cohort is not None:
            window.cohort.setCurrentIndex(window.cohort.findData(cohort))
        while window.loading:
            QThreadPool.globalInstance().waitForDone(100)
            app.processEvents()
        app.processEvents()
        window.grab().save(str(out / f"{name}-{lang}.png"))
    window.close()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    app.setStyle("Fusion")
    app.setStyleSheet(STYLE)
    site = create_demo(Path(tempfile.mkdtemp()) / "demo.crfdb", kdf=KdfParams(1, 1024, 1))
    for lang in (Lang.FR, Lang.EN):
        set_lang(lang)
        login = LoginWindow(site)
        login.resize(1280, 800)
        login.show()
        app.processEvents()
        login.grab().save(str(out / f"login-{lang}.png"))
        login.close()
        main_window = MainWindow(Workspace.sign_in(site, "dr.martin", "training-doctor"), idle_ms=10**9)
        main_window.resize(1280, 800)
        main_window.show()
        app.processEvents()
        main_window.grab().save(str(out / f"main-{lang}.png"))
        main_window.lock()
        app.processEvents()
        main_window.grab().save(str(out / f"lock-{lang}.png"))
        main_window.close()
        render_forms(app, site, out, lang)
        render_outcomes(app, site, out, lang)
    site.close()
    print(f"screens written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots"))
