"""h76: what a new nurse and physician (h71) tripped on in French screens: hints, codes and English shown where a
person reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QLabel

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.formdef import load_study
from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import ItemType
from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.form.editors import placeholder
from tests.conftest import FAST_KDF


@pytest.mark.parametrize("lang", [Lang.FR, Lang.EN])
def test_every_decimal_hint_is_a_value_its_field_takes_without_a_question(lang: Lang) -> None:
    wrong = []
    set_lang(lang)
    try:
        for form in load_study().forms.values():
            for group in form.groups:
                for item in group.items:
                    if item.type is not ItemType.DECIMAL or item.calculated:
                        continue
                    hint = placeholder(item)
                    value = V.parse_number(hint.removeprefix("ex. ").removeprefix("e.g. "), item)
                    low = item.soft_min if item.soft_min is not None else item.hard_min
                    high = item.soft_max if item.soft_max is not None else item.hard_max
                    if (low is not None and value < low) or (high is not None and value > high):
                        wrong.append((form.id, item.id, hint))
    finally:
        set_lang(Lang.EN)
    assert not wrong, wrong


def test_the_trail_says_the_programs_own_words_in_french() -> None:
    from msc_sle_crf.trail_words import detail_text

    digest = "ab" * 32
    assert detail_text(f"meaning: approval; sha256: {digest}", Lang.FR) == f"signification : approbation ; sha256 : " \
                                                                           f"{digest}"
    assert detail_text(f"meaning: approval; sha256: {digest}", Lang.EN) == f"meaning: approval; sha256: {digest}"
    assert detail_text("all checks passed", Lang.FR) == "tous les contrôles sont satisfaits"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = create_demo(tmp_path_factory.mktemp("h76") / "demo.crfdb", kdf=FAST_KDF, clock=FakeClock())
    yield site
    site.close()


def test_the_signing_window_of_an_investigator_offers_approval_first(qtbot, demo: Site) -> None:  # type: ignore[no-untyped-def]
    """h71: the physician's signing window offered "Author: I entered these data"; she had to pick "Approval". The
    meaning offered first follows the role (21 CFR 11.50): investigator approval, nurse author, others review. The
    window names the visit, not its code."""
    from msc_sle_crf.ui.form import FormView
    from msc_sle_crf.ui.form.dialogs import SignDialog

    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    view = FormView(doctor, FormRef("99-001", "M3", "selena_sledai"))
    qtbot.addWidget(view)
    view._sign_in_dialog()
    dialog = view.sign_dialog
    assert dialog.meaning.currentData() == "approval"
    assert "visit Month 3" in " ".join(label.text() for label in dialog.findChildren(QLabel))
    dialog.reject()
    rules = doctor.study.meta.signatures
    for role, meaning in (("nurse", "author"), ("monitor", "review")):
        other = SignDialog(rules, "Vital signs", FormRef("99-001", "M3", "selena_sledai"), role=role)
        qtbot.addWidget(other)
        assert other.meaning.currentData() == meaning


def test_the_casebook_names_organ_classes_in_french(demo: Site) -> None:
    """h71: the casebook's toxicity table said "General disorders and administration site conditions" in French."""
    from msc_sle_crf.scoring import ctcae
    from msc_sle_crf.ui.casebook import toxicity_html

    nurse = Workspace.sign_in(demo, "nurse.durand", "training-nurse")
    scores = nurse.overview.subject("99-002").scores
    socs = {soc for t in scores.begun() for soc in t.all.by_soc}
    assert "General disorders and administration site conditions" in socs
    set_lang(Lang.FR)
    try:
        shown = toxicity_html(scores)
    finally:
        set_lang(Lang.EN)
    assert "Troubles généraux et anomalies au site d&#x27;administration" in shown or \
        "Troubles généraux et anomalies au site d'administration" in shown, shown
    assert not [soc for soc in socs if soc in shown]
    assert set(ctcae.SOC_FR) >= {t.soc for t in ctcae.catalogue().values()}  # every organ class has its French name


def test_the_eligibility_criteria_read_french_in_french() -> None:
    """h71: the eligibility panel said "Mycophénolate mofétil > 2000 mg/day pendant >= 90 jours"."""
    from msc_sle_crf.scoring.eligibility import CRITERIA
    from msc_sle_crf.scoring.rules import published_rules

    rules = published_rules().eligibility
    texts = [c.label(rules).fr for c in CRITERIA] + [c.text().fr for c in rules.refractory.values()]
    english = [t for t in texts if any(w in t for w in ("/day", "/week", "/month", ">=", "<="))]
    assert not english, english
    assert "Mycophénolate mofétil > 2000 mg/j pendant ≥ 90 jours" in texts
    assert rules.refractory["MMF"].text().en == "Mycophenolate mofetil > 2000 mg/day for >= 90 days"
    from msc_sle_crf.scoring.common import SCORE_LABELS

    assert not [label.fr for label in SCORE_LABELS.values() if ">=" in label.fr or "<=" in label.fr]


def test_the_file_name_offered_for_a_visit_names_the_visit_in_the_readers_words(qtbot, demo: Site,  # type: ignore[no-untyped-def]
                                                                               monkeypatch) -> None:
    """h71: printing visit M6 in French offered "casebook-99-002-M6.pdf" (an English word and the visit's code)."""
    from msc_sle_crf.ui import printing as ui_printing
    from msc_sle_crf.ui.casebook import CasebookDialog

    offered: list[str] = []
    monkeypatch.setattr(ui_printing, "ask_path", lambda _parent, name: offered.append(name))  # then cancelled
    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    set_lang(Lang.FR)
    try:
        dialog = CasebookDialog(doctor, "99-001")
        qtbot.addWidget(dialog)
        dialog.tree.setCurrentItem(dialog.tree.topLevelItem(2).child(0))  # a form of D0
        assert dialog.print_visit() is None and dialog.print_casebook() is None
    finally:
        set_lang(Lang.EN)
    assert offered == ["visite-99-001-Jour-de-la-perfusion-J0.pdf", "cahier-99-001.pdf"]
    assert ui_printing.pdf_name(doctor, "99-002", "M6") == "visit-99-002-Month-6.pdf"


def test_a_form_window_and_a_toxicity_reason_name_the_visit_not_its_code(qtbot, demo: Site) -> None:  # type: ignore[no-untyped-def]
    """h71: the AE window was titled "99-006 · LOG · Événements indésirables" and the toxicity reason said "le
    formulaire de revue de la visite TOL n'est pas complet"."""
    from msc_sle_crf.ui.casebook import toxicity_html
    from msc_sle_crf.ui.form.window import FormWindow

    nurse = Workspace.sign_in(demo, "nurse.durand", "training-nurse")
    set_lang(Lang.FR)
    try:
        window = FormWindow(nurse, FormRef("99-002", "LOG", "adverse_events"))
        qtbot.addWidget(window)
        title = window.windowTitle()
        shown = toxicity_html(nurse.overview.subject("99-002").scores)
    finally:
        set_lang(Lang.EN)
    assert title == "99-002 · Registres (toutes visites) · Événements indésirables", title
    assert "visite « Mois 6 »" in shown or "visite « Mois 9 »" in shown, shown
    assert not [code for code in ("visite M6", "visite M9", "visite TOL") if code in shown]


def test_nothing_to_print_in_a_visit_names_the_visit(demo: Site) -> None:
    from msc_sle_crf.errors import ValidationError

    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    set_lang(Lang.FR)
    try:
        with pytest.raises(ValidationError) as refused:
            doctor.printing.casebook_pdf("99-006", event="M12")
        said = refused.value.message()
    finally:
        set_lang(Lang.EN)
    assert said == "Rien à imprimer : le patient 99-006 n'a aucun formulaire commencé à la visite « Mois 12 ».", said
