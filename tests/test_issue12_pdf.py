"""Issue 12, point 6 (and the PDF side of 3 and 5): PDFs for clinical readers. Coded values by their labels, no item
codes, SDV marks, the audit appendix in words (actions, roles, values, automatic reasons) and in French when the
reader is French; the casebook opens on a cover page and a table of contents with page numbers."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.services.entry import FormRef

from .conftest import FAST_KDF

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
VITALS = FormRef("99-001", "D0", "vital_signs")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = create_demo(tmp_path_factory.mktemp("pdf12") / "demo.crfdb", kdf=FAST_KDF, clock=FakeClock())
    monitor = Workspace.sign_in(site, "monitor.petit", "training-monitor")
    monitor.monitoring.verify_item(VITALS, ("vs", 1, "VSTEMP"))
    monitor.monitoring.verify_item(VITALS, ("vs", 1, "VSHR"))
    nurse = Workspace.sign_in(site, "nurse.durand", "training-nurse")
    for row, point in ((1, "BASE"), (2, "END")):  # as the bedside writes them
        nurse.entry.save_item(FormRef("99-008", "D0", "vital_signs"), ("vs", row, "VSTPT"), point,
                              reason="time point of the schedule")
    yield site
    site.close()


def text_of(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "x.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture
def french() -> Iterator[None]:
    set_lang(Lang.FR)
    yield
    set_lang(Lang.EN)


def test_french_form_pdf_is_in_words(demo: Site, tmp_path: Path, french: None) -> None:
    printing = Workspace.sign_in(demo, "dr.martin", "training-doctor").printing
    text = text_of(printing.form_pdf(VITALS, with_audit=True), tmp_path)
    assert "36,8" in text and not re.search(r"\b36\.8\b", text)  # decimal comma
    assert "SDV ✓ vérifié sur source" in text
    appendix = text.split("Piste d'audit de ce formulaire", 1)[1]
    for code in ("data_entry", "data_change", "source_verified", "row_add", "(nurse)", "(investigator)",
                 "(monitor)", "VSTEMP", "VSHR"):
        assert code not in text, code
    assert "Saisie —" in appendix and "Température" in appendix and "draft" not in appendix
    assert "formulaire commencé" in appendix and "form instance created" not in appendix
    assert "Vérifié sur" in appendix and "Infirmier(ère) de" in appendix  # (wrapped in their columns)
    assert re.search(r"\d\d/\d\d/2026 \d\d:\d\d", appendix)
    bedside = text_of(printing.form_pdf(FormRef("99-008", "D0", "vital_signs")), tmp_path)
    assert "Référence (avant le début)" in bedside and "Fin de la perfusion" in bedside
    assert not re.search(r"\b(BASE|END|T15)\b", bedside)
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", appendix)  # no ISO dates


def test_coded_values_by_label_and_codes_only_in_the_annotated_crf(demo: Site, tmp_path: Path) -> None:
    printing = Workspace.sign_in(demo, "dr.martin", "training-doctor").printing
    text = text_of(printing.form_pdf(FormRef("99-001", "M3", "selena_sledai")), tmp_path)
    assert "Yes" in text and "Y - Yes" not in text and "SLESEIZ" not in text
    blank = text_of(printing.blank_crf_pdf(), tmp_path)
    assert "Y=Yes" in blank and "VSTEMP" in blank


def test_casebook_opens_on_a_cover_and_a_table_of_contents_with_page_numbers(demo: Site, tmp_path: Path) -> None:
    printing = Workspace.sign_in(demo, "dr.martin", "training-doctor").printing
    text = text_of(printing.casebook_pdf("99-001"), tmp_path)
    pages = text.split("\f")
    cover = " ".join(pages[0].split())
    for expected in ("Casebook", "MSC-SLE — NCT03562065", "Site de formation / Training site (99)", "Subject 99-001",
                     "Generated", "by Dr Claire Martin (formation) (dr.martin)", "Signed electronically by",
                     "Signer's certificate", "Site certificate"):
        assert expected in cover, expected
    assert re.search(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", cover)
    toc = "\n".join(p for p in pages[1:4] if "Contents" in p or "Screening" in p)
    assert "Contents" in toc
    # every form line ends with the page it starts on, and that page shows that form's title
    entries = re.findall(r"^\s+(Renal function|Vital signs|SELENA-SLEDAI[^\n]*?) — \w[^\n]*?\s(\d+)\s*$", toc, re.M)
    assert len(entries) >= 5, toc
    for title, number in entries:
        assert title.split(" ")[0] in pages[int(number) - 1], (title, number)


def test_print_a_visit_from_the_casebook_and_offer_to_open_it(qtbot, demo: Site, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                               monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    from msc_sle_crf.ui import printing as ui_printing
    from msc_sle_crf.ui.casebook import CasebookDialog

    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    dialog = CasebookDialog(doctor, "99-001")
    qtbot.addWidget(dialog)
    assert not dialog.print_visit_button.isEnabled()
    dialog.tree.setCurrentItem(dialog.tree.topLevelItem(2).child(0))  # a form of D0
    assert dialog.print_visit_button.isEnabled() and dialog.selected_visit() == "D0"
    target = tmp_path / "d0.pdf"
    asked = []

    def chosen(box: QFileDialog) -> int:
        asked.append(Path(box.directory().absolutePath()))
        box.selectFile(str(target))
        return QFileDialog.DialogCode.Accepted

    monkeypatch.setattr(QFileDialog, "exec", chosen)
    opened: list[Path] = []
    monkeypatch.setattr(ui_printing, "open_file", lambda path: opened.append(path) or True)
    job = dialog.print_visit()
    with qtbot.waitSignal(job.finished, timeout=20000) as blocker:
        pass
    assert asked == [ui_printing.documents_folder()]  # the save dialog starts in the documents folder
    assert blocker.args == [target]
    text = text_of(target.read_bytes(), tmp_path)
    assert "Visit casebook" in text and "Infusion day (D0)" in text and "Month 3" not in text
    assert job.offer is not None and job.offer.isVisible() and str(target) in job.offer.text()
    job.offer.buttons()[0].click()  # "Open it"
    assert opened == [target]


def test_every_audit_action_has_words_in_both_languages() -> None:
    """The audit appendix and the history show actions in words: an action added later (account enabled again,
    backup checked or failed) showed as its raw code."""
    from msc_sle_crf.audit import Action
    from msc_sle_crf.i18n import Lang
    from msc_sle_crf.trail_words import ACTIONS, action_label

    for action in Action:
        assert action.value in ACTIONS, f"no words for the action '{action.value}'"  # not the code, spaced out
        assert action_label(action.value, Lang.FR) and action_label(action.value, Lang.EN)
