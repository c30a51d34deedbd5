"""h80: visit codes and English a nurse, a physician and a statistician still met on French screens and files."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.demo import create_demo
from tests.conftest import FAST_KDF


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = create_demo(tmp_path_factory.mktemp("h80") / "demo.crfdb", kdf=FAST_KDF, clock=FakeClock())
    yield site
    site.close()


def test_the_casebook_scores_by_visit_are_headed_by_the_visits_names(demo: Site) -> None:
    """The casebook's "Scores par visite" columns were headed M0, M1, M3 (the visits' codes)."""
    from msc_sle_crf.ui.casebook import scores_html

    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    set_lang(Lang.FR)
    try:
        shown = scores_html(doctor.overview.subject("99-002"), doctor.study)
    finally:
        set_lang(Lang.EN)
    assert "<th>Mois 3</th>" in shown, shown
    assert not [code for code in ("<th>M0</th>", "<th>M1</th>", "<th>M3</th>") if code in shown]


def test_a_steroid_score_not_computable_names_the_visit_not_its_code(demo: Site) -> None:
    """The corticosteroid reasons said "pas de date pour la visite M3" / "le formulaire de corticothérapie M3"."""
    from msc_sle_crf.scoring.subject import compute

    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    ov = doctor.overview
    with ov.ctx.read() as session:
        from msc_sle_crf.services import reads

        data, _ = ov.load(session, reads.subject(session, "99-002"))
    bindings = ov.study.bindings
    steroid = bindings.scores.corticosteroids.form
    undated = {key: dataclasses.replace(form, values={k: v for k, v in form.values.items()
                                                       if k not in bindings.visit_date_items})
               if key[0] == "M3" else form for key, form in data.items()}
    unstarted = {key: form for key, form in data.items() if key != ("M3", steroid)}
    names = {e.id: e.label.as_l() for e in ov.study.meta.events}
    today = ov._today()
    no_date = compute(undated, bindings, ov.day0, ov.study.meta.scoring, today=today, visits=names)
    no_form = compute(unstarted, bindings, ov.day0, ov.study.meta.scoring, today=today, visits=names)
    date_reason = no_date.per_visit["M3"]["steroid_reduction"].reason
    form_reason = no_form.per_visit["M3"]["steroid_reduction"].reason
    assert date_reason is not None and form_reason is not None
    assert date_reason.fr == "pas de date pour la visite « Mois 3 »", date_reason.fr
    assert date_reason.en == "no date for the visit “Month 3”", date_reason.en
    assert form_reason.fr == "le formulaire de corticothérapie de la visite « Mois 3 » n'est pas commencé", \
        form_reason.fr



def test_the_file_name_offered_for_a_form_names_the_visit_and_the_form(qtbot, demo: Site,  # type: ignore[no-untyped-def]
                                                                      monkeypatch) -> None:
    """Printing a form in French offered "99-002-M6-selena_sledai.pdf" (the visit's and the form's codes)."""
    from msc_sle_crf.services.entry import FormRef
    from msc_sle_crf.ui import printing as ui_printing
    from msc_sle_crf.ui.form import FormView

    offered: list[str] = []
    monkeypatch.setattr(ui_printing, "ask_path", lambda _parent, name: offered.append(name))  # then cancelled
    nurse = Workspace.sign_in(demo, "nurse.durand", "training-nurse")
    set_lang(Lang.FR)
    try:
        view = FormView(nurse, FormRef("99-002", "M6", "selena_sledai"))
        qtbot.addWidget(view)
        assert view.print_pdf() is None
    finally:
        set_lang(Lang.EN)
    assert offered == ["99-002-Mois-6-SELENA-SLEDAI-et-evaluation-globale-du-medecin.pdf"], offered
    assert ui_printing.pdf_name(nurse, "99-002", "M6", "vital_signs") == "99-002-Month-6-Vital-signs.pdf"


@pytest.mark.parametrize("lang", [Lang.FR, Lang.EN])
def test_the_refusal_of_a_non_number_gives_an_example_the_field_takes(lang: Lang) -> None:
    """Typing "abc" in the 0-3 physician's global assessment said "un nombre est attendu, par ex. 37,5": 37,5 is
    refused there. The example is the field's hint (ui.form.editors.placeholder), a value the field takes."""
    from msc_sle_crf.formdef import load_study
    from msc_sle_crf.formdef import values as V
    from msc_sle_crf.formdef.definitions import ItemType
    from msc_sle_crf.ui.form.editors import placeholder

    checked, wrong = 0, []
    set_lang(lang)
    try:
        for form in load_study().forms.values():
            for group in form.groups:
                for item in group.items:
                    if item.type is not ItemType.DECIMAL or item.calculated:
                        continue
                    with pytest.raises(V.ParseError) as refused:
                        V.parse_number("abc", item)
                    said = refused.value.rule.get()
                    example = placeholder(item).removeprefix("ex. ").removeprefix("e.g. ")
                    checked += 1
                    if not said.endswith(example):
                        wrong.append((item.id, said, example))
    finally:
        set_lang(Lang.EN)
    assert checked and not wrong, wrong


def test_the_exported_scores_say_why_not_computable_in_french_too_with_iso_dates(demo: Site, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A French statistician's scores.csv / scores.json said why a score is not computable in English only, with a
    dd/mm/yyyy date in files otherwise ISO ("the window runs until D365 (24/11/2027)"). The English column stays
    (the same files at every site, LABELS_LANG); NOTCOMP_FR says it in French, both with ISO dates and visit names."""
    import csv
    import io
    import json
    import re

    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    set_lang(Lang.FR)
    try:
        doctor.export.export(tmp_path / "out")
    finally:
        set_lang(Lang.EN)
    raw = (tmp_path / "out" / "datasets" / "scores.csv").read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(raw)))
    why = [r for r in rows if r["NOTCOMP"]]
    assert why and all(r["NOTCOMP_FR"] for r in why), rows[0]
    assert not [r for r in rows if r["NOTCOMP_FR"] and not r["NOTCOMP"]]
    dmy = re.compile(r"\b\d\d/\d\d/\d{4}\b")
    assert not [r for r in why if dmy.search(r["NOTCOMP"] + r["NOTCOMP_FR"])], why
    window = next(r for r in why if "runs until" in r["NOTCOMP"])
    assert re.search(r"la fenêtre court jusqu'à J\d+ \(\d{4}-\d\d-\d\d\)", window["NOTCOMP_FR"]), window
    dataset = json.loads((tmp_path / "out" / "datasets-json" / "scores.json").read_text(encoding="utf-8"))
    names = [c["name"] for c in dataset["columns"]]
    assert "NOTCOMP_FR" in names
    assert not dmy.search(json.dumps(dataset["rows"], ensure_ascii=False))


def test_the_file_names_offered_for_outcomes_and_safety_are_in_the_readers_words(qtbot, demo: Site) -> None:  # type: ignore[no-untyped-def]
    """The outcomes window offered "outcomes-M3.pdf" and "safety-review-cohort-1.pdf" to a French physician."""
    from msc_sle_crf.ui.outcomes import OutcomesWindow

    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    window = OutcomesWindow(doctor)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.loading == 0, timeout=15000)
    m3, every, safety = doctor.outcomes.report("M3"), doctor.outcomes.report(None), doctor.outcomes.safety_review("1")
    set_lang(Lang.FR)
    try:
        names = [window._suggested(r, "pdf").rsplit("/", 1)[-1] for r in (m3, every, safety)]
    finally:
        set_lang(Lang.EN)
    assert names == ["criteres-Mois-3.pdf", "criteres-toutes-les-visites.pdf", "revue-de-tolerance-cohorte-1.pdf"], \
        names
    assert window._suggested(m3, "csv").endswith("outcomes-Month-3.csv")


def test_the_clinical_response_details_name_the_visits(demo: Site) -> None:
    """MCR/PCR details said "M6 : pas encore faite" and "BILAG incomplet à M3" (visit codes)."""
    nurse = Workspace.sign_in(demo, "nurse.durand", "training-nurse")
    overall = nurse.overview.subject("99-002").scores.overall
    said = [p.label.fr for key in ("mcr", "pcr") for p in overall[key].breakdown]
    assert said and all(s.startswith("« Mois ") for s in said), said
    assert "« Mois 12 » : pas encore faite" in said, said
    from msc_sle_crf.scoring.response import major_clinical_response

    follow: dict[str, dict[str, str | None]] = {"M3": {}}
    incomplete = major_clinical_response(follow, names={"M3": nurse.study.event("M3").label.as_l()})
    assert incomplete.reason is not None and incomplete.reason.fr == "BILAG incomplet à la visite « Mois 3 »", \
        incomplete.reason.fr
