"""Clinical scores against the published definitions (clinical-reference.md) and their boundaries."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest

from msc_sle_crf.scoring import bilag, ctcae, eq5d, sf36, sledai
from msc_sle_crf.scoring.common import ScoreInputError
from msc_sle_crf.scoring.eligibility import FAILED, MET, UNKNOWN, eligibility
from msc_sle_crf.scoring.endpoint import AdverseEvent, not_tolerated
from msc_sle_crf.scoring.renal import cockcroft_gault
from msc_sle_crf.scoring.response import major_clinical_response, partial_clinical_response
from msc_sle_crf.scoring.rules import Threshold, published_rules
from msc_sle_crf.scoring.sri import VisitScores, sri4
from msc_sle_crf.scoring.steroids import SteroidRecord, daily_equivalent, mean_dose_before, reduction_from_baseline

NONE_TICKED = {d.key: False for d in sledai.DESCRIPTORS}
RULES = published_rules()  # forms/study.yaml, the one place the numbers live


# ----- SELENA-SLEDAI --------------------------------------------------------------------------------------------
def test_sledai_has_24_descriptors_summing_to_105() -> None:
    assert len(sledai.DESCRIPTORS) == 24
    assert sledai.MAXIMUM == 105
    weights = sorted(d.weight for d in sledai.DESCRIPTORS)
    assert weights.count(8) == 8 and weights.count(4) == 6 and weights.count(2) == 7 and weights.count(1) == 3
    assert sledai.selena_sledai({d.key: True for d in sledai.DESCRIPTORS}).value == 105


def test_sledai_total_and_breakdown() -> None:
    result = sledai.selena_sledai({**NONE_TICKED, "arthritis": True, "low_complement": True})
    assert result.value == 6  # the eligibility threshold exactly
    assert [p.key for p in result.breakdown if p.points] == ["arthritis", "low_complement"]
    assert sledai.selena_sledai({**NONE_TICKED, "SLARTH": True}).value == 4  # item ids work too


def test_sledai_unanswered_descriptor_is_not_computable() -> None:
    answers = dict(NONE_TICKED)
    answers["fever"] = None
    result = sledai.selena_sledai(answers)
    assert result.value is None and result.reason is not None and "Fever" in result.reason.en
    assert sledai.selena_sledai({"arthritis": True}).value is None  # 23 unanswered, not 4


def test_sledai_rejects_bad_input() -> None:
    with pytest.raises(ScoreInputError):
        sledai.selena_sledai({"nonsense": True})
    with pytest.raises(ScoreInputError):
        sledai.selena_sledai({"fever": 1})  # type: ignore[dict-item]


@pytest.mark.parametrize("bad", ["3.5", "-0.1", "1.25", "abc"])
def test_pga_out_of_range_is_refused(bad: str) -> None:
    with pytest.raises(ScoreInputError):
        sledai.check_pga(bad)


# ----- BILAG ----------------------------------------------------------------------------------------------------
ALL_E = {s.key: "E" for s in bilag.CLASSIC.systems}


def test_bilag_classic_total_0_to_72() -> None:
    assert bilag.CLASSIC.maximum == 72 and bilag.BILAG2004.maximum == 108
    assert bilag.bilag_total({s.key: "A" for s in bilag.CLASSIC.systems}).value == 72
    grades = {**ALL_E, "renal": "B", "mucocutaneous": "B", "musculoskeletal": "C"}
    assert bilag.bilag_total(grades).value == 7  # 3 + 3 + 1, as in Wang 2014
    assert bilag.count_grade(grades, "B").value == 2


def test_bilag_2004_profile_and_no_mixing() -> None:
    grades = {s.key: "E" for s in bilag.BILAG2004.systems} | {"renal": "A", "ophthalmic": "B"}
    assert bilag.bilag_total(grades, bilag.BILAG2004).value == 20
    with pytest.raises(ScoreInputError):
        bilag.bilag_total({"ophthalmic": "B"}, bilag.CLASSIC)  # a 2004 system under the classic profile
    with pytest.raises(ScoreInputError):
        bilag.bilag_total({"renal": "F"})


def test_bilag_ungraded_system_is_not_computable() -> None:
    grades = dict(ALL_E)
    grades["renal"] = None  # type: ignore[assignment]
    assert bilag.bilag_total(grades).value is None
    assert bilag.visit_states(grades)["count_A"] is None


# ----- SRI-4 ----------------------------------------------------------------------------------------------------
def visit(sledai_total: int | None, pga: str | None, **grades: str) -> VisitScores:
    return VisitScores(sledai_total, {**ALL_E, **grades}, Decimal(pga) if pga is not None else None)


def test_sri4_responder() -> None:
    base = visit(10, "1.1", renal="A", mucocutaneous="B")
    result = sri4(base, visit(6, "1.3", renal="B"))
    assert result.value is True
    assert [p.value for p in result.breakdown] == [True, True, True, True]


def test_sri4_pga_rise_of_exactly_0_3_is_worsening() -> None:
    # 1.4 - 1.1 in binary floating point is 0.2999999999999998: compared in tenths it is 0.3, a worsening.
    assert sri4(visit(10, "1.1"), visit(6, "1.4")).value is False
    assert sri4(visit(10, "1.1"), visit(6, "1.3")).value is True


def test_sri4_sledai_drop_boundary() -> None:
    assert sri4(visit(10, "1"), visit(7, "1")).value is False  # drop 3
    assert sri4(visit(10, "1"), visit(6, "1")).value is True  # drop 4


def test_sri4_new_a_and_new_b_rules() -> None:
    assert sri4(visit(12, "1", renal="B"), visit(4, "1", renal="A")).value is False  # new A
    assert sri4(visit(12, "1", renal="A"), visit(4, "1", renal="A")).value is True  # staying A is not new
    assert sri4(visit(12, "1"), visit(4, "1", renal="B")).value is True  # one new B allowed
    assert sri4(visit(12, "1"), visit(4, "1", renal="B", general="B")).value is False  # two new B
    assert sri4(visit(12, "1", renal="A"), visit(4, "1", renal="B")).value is True  # A to B is improvement


def test_sri4_missing_component_is_not_computable_and_config_applies() -> None:
    assert sri4(visit(10, None), visit(4, "1")).value is None
    assert sri4(visit(None, "1"), visit(4, "1")).value is None
    strict = RULES.sri.model_copy(update={"sledai_drop": 6})
    assert sri4(visit(10, "1"), visit(5, "1"), rules=strict).value is False
    rescue = RULES.sri.model_copy(update={"rescue_medication_is_failure": True})
    assert sri4(visit(10, "1"), visit(4, "1"), rules=rescue).value is None  # rescue not recorded
    with_rescue = VisitScores(4, ALL_E, Decimal(1), rescue_medication=True)
    assert sri4(visit(10, "1"), with_rescue, rules=rescue).value is False


# ----- MCR / PCR ------------------------------------------------------------------------------------------------
def test_mcr_pcr_over_visits_and_sustained_rule() -> None:
    visits = {"M3": {**ALL_E, "renal": "B"}, "M6": ALL_E, "M9": ALL_E, "M12": ALL_E}
    assert major_clinical_response(visits).value is True
    assert partial_clinical_response(visits).value is True
    lost = {**visits, "M12": {**ALL_E, "renal": "B"}}
    assert major_clinical_response(lost).value is False  # sustained by default
    assert major_clinical_response(lost, rules=RULES.response.model_copy(update={"sustained": False})).value is True
    assert major_clinical_response({"M3": {**ALL_E, "renal": None}}).value is None
    assert major_clinical_response({}).value is None


# ----- SF-36 (RAND-36) ------------------------------------------------------------------------------------------
def test_sf36_rand_missing_item_example() -> None:
    # RAND example: energy items 23 = 4 (40), 27 = 3 (60), 29 = 3 (40), 31 blank -> 140 / 3 = 46.7 (v1).
    scales = sf36.sf36_scales({23: 4, 27: 3, 29: 3, 31: None}, "v1")
    assert scales["energy_fatigue"].value == Decimal(140) / 3  # exact; shown rounded
    assert scales["energy_fatigue"].text() == "46.7"
    assert scales["pain"].value is None  # no item answered: not computable


def test_sf36_v2_linear_recode_and_best_health() -> None:
    best_v2 = {**dict.fromkeys(range(3, 13), 3), **dict.fromkeys(range(13, 20), 5), 1: 1, 2: 1, 20: 1, 21: 1, 22: 1,
               23: 1, 26: 1, 27: 1, 30: 1, 24: 5, 25: 5, 28: 5, 29: 5, 31: 5, 32: 5, 33: 5, 34: 1, 35: 5, 36: 1}
    scales = sf36.sf36_scales(best_v2, "v2")
    assert {k: v.value for k, v in scales.items()} == {k: Decimal(100) for k in sf36.SCALES}
    assert sf36.recode(13, 3, "v2") == 50
    assert sf36.recode(23, 2, "v2") == 75
    assert sf36.recode(23, 2, "v1") == 80


def test_sf36_answers_outside_the_levels_are_refused() -> None:
    with pytest.raises(ScoreInputError):
        sf36.sf36_scales({13: 3}, "v1")  # v1 item 13 is yes/no
    with pytest.raises(ScoreInputError, match="answer 7"):
        sf36.recode(1, 7, "v2")
    with pytest.raises(ScoreInputError):
        sf36.recode(37, 1, "v2")


def test_sf36_half_scale_rule_is_configurable() -> None:
    scales = sf36.sf36_scales({23: 4}, "v1", min_items_fraction=Decimal("0.5"))
    assert scales["energy_fatigue"].value is None


# ----- EQ-5D-5L -------------------------------------------------------------------------------------------------
def test_eq5d_level_sum_profile_and_french_index() -> None:
    levels = {"MO": 2, "SC": 1, "UA": 3, "PD": 4, "AD": 1}
    assert eq5d.level_sum(levels).value == 11
    assert eq5d.profile(levels).value == "21341"
    assert eq5d.french_index(dict.fromkeys(levels, 5)).value == Decimal("-0.525491")  # exact, shown -0.525
    assert eq5d.french_index(dict.fromkeys(levels, 5)).text() == "-0.525"
    assert eq5d.french_index(dict.fromkeys(levels, 1)).value == Decimal(1)
    assert eq5d.level_sum({**levels, "AD": None}).value is None


@pytest.mark.parametrize("bad", [0, 6, True])
def test_eq5d_level_out_of_range_is_refused(bad: int) -> None:
    with pytest.raises(ScoreInputError):
        eq5d.level_sum({"MO": bad})
    with pytest.raises(ScoreInputError):
        eq5d.check_vas(101)


# ----- steroids -------------------------------------------------------------------------------------------------
def test_prednisone_equivalents() -> None:
    day = dt.date(2026, 1, 10)
    records = [SteroidRecord("Methylprednisolone", Decimal(8), dt.date(2026, 1, 1)),
               SteroidRecord("dexamethasone", Decimal("0.75"), dt.date(2026, 1, 5), dt.date(2026, 1, 10)),
               SteroidRecord("methylprednisolone", Decimal(500), dt.date(2026, 1, 10), dt.date(2026, 1, 10),
                             pulse=True)]
    assert daily_equivalent(records, day) == Decimal(640)  # the day's real dose: the 500 mg pulse counts (x1.25)
    assert daily_equivalent(records, day, pulses=False) == Decimal(10) + Decimal(5)
    with pytest.raises(ScoreInputError):
        daily_equivalent([SteroidRecord("cortivazol", Decimal(1), dt.date(2026, 1, 1))], day)


def test_steroid_reduction_responder_at_exactly_25_percent() -> None:
    m0 = dt.date(2026, 1, 29)
    records = [SteroidRecord("prednisone", Decimal(20), dt.date(2025, 12, 1), dt.date(2026, 3, 1)),
               SteroidRecord("prednisone", Decimal(15), dt.date(2026, 3, 2))]
    assert mean_dose_before(records, m0).value == Decimal("20.00")
    result = reduction_from_baseline(records, m0, dt.date(2026, 4, 30))
    assert result.value is True  # 20 -> 15 is exactly 25 %
    assert result.breakdown[2].value == Decimal("25.0")
    assert reduction_from_baseline(records, m0, dt.date(2026, 3, 10)).value is False  # mean still above 15


# ----- renal ----------------------------------------------------------------------------------------------------
def test_cockcroft_gault_both_units_and_sex() -> None:
    male = cockcroft_gault(40, Decimal(72), Decimal(1), "mg/dL", "M")
    assert male.value == Decimal("100.0")  # (140-40) x 72 / (72 x 1)
    female_si = cockcroft_gault(40, Decimal(72), Decimal("88.4"), "µmol/L", "F")
    assert female_si.value == Decimal("85.0")
    assert cockcroft_gault(40, None, Decimal(1), "mg/dL", "F").value is None
    with pytest.raises(ScoreInputError):
        cockcroft_gault(40, Decimal(72), Decimal(1), "mmol/L", "F")


# ----- CTCAE ----------------------------------------------------------------------------------------------------
def test_ctcae_file_is_the_documented_copy() -> None:
    assert hashlib.sha256(ctcae.CSV_PATH.read_bytes()).hexdigest() == ctcae.CSV_SHA256
    terms = ctcae.catalogue()
    assert len(terms) == 837
    assert len({t.soc for t in terms.values()}) == 26


def test_ctcae_grades_that_do_not_exist() -> None:
    assert not ctcae.grade_exists("Anaphylaxis", 1) and ctcae.grade_exists("Anaphylaxis", 3)
    assert not ctcae.grade_exists("Sinus tachycardia", 4)
    assert ctcae.grade_exists("Fever", 5)
    assert not ctcae.grade_exists("No such term", 1)
    assert ctcae.catalogue()["Hypertension"].grades[1].find(">=120/80") >= 0  # lost character repaired


def test_ctcae_search_english_french_and_organ_class() -> None:
    assert ctcae.search("fièvre")[0].term == "Fever"
    assert ctcae.search("reaction a la perf")[0].term == "Infusion related reaction"
    assert ctcae.search("infusion")[0].term == "Infusion related reaction"
    assert any(t.term == "Hypotension" for t in ctcae.search("vascular hypo"))
    assert ctcae.search("") == []


@pytest.mark.parametrize(("temp", "hours", "grade"), [
    ("37.9", None, 0), ("38.0", None, 1), ("39.0", None, 1), ("39.1", None, 2), ("40.0", None, 2),
    ("40.1", "24", 3), ("40.1", "25", 4), ("40.1", None, None),
])
def test_fever_grade_boundaries(temp: str, hours: str | None, grade: int | None) -> None:
    result = ctcae.fever_grade(Decimal(temp), Decimal(hours) if hours else None)
    assert result.value == grade


# ----- primary endpoint -----------------------------------------------------------------------------------------
D0 = dt.date(2026, 3, 2)
LATER = D0 + dt.timedelta(days=60)  # every window of these tests is over


def test_not_tolerated_all_versus_related() -> None:
    events = [AdverseEvent("Fever", 3, D0 + dt.timedelta(days=2), "not_related"),
              AdverseEvent("Headache", 1, D0, "related")]
    all_ = not_tolerated(events, D0, related_only=False, today=LATER)
    related = not_tolerated(events, D0, related_only=True, today=LATER)
    assert all_.value is True and [p.key for p in all_.breakdown] == ["Fever"]
    assert related.value is False


def test_not_tolerated_window_is_d0_to_d10_inclusive() -> None:
    assert not_tolerated([AdverseEvent("Fever", 3, D0 + dt.timedelta(days=10), "related")], D0,
                         related_only=True, today=LATER).value is True
    assert not_tolerated([AdverseEvent("Fever", 3, D0 + dt.timedelta(days=11), "related")], D0,
                         related_only=True, today=LATER).value is False
    grade_2 = [AdverseEvent("Fever", 2, D0, "related")]
    assert not_tolerated(grade_2, D0, related_only=False, today=LATER).value is False


def test_not_tolerated_not_computable_while_incomplete() -> None:
    assert not_tolerated([], None, related_only=False, today=LATER).value is None
    ungraded = [AdverseEvent("Fever", None, D0, "related")]
    assert not_tolerated(ungraded, D0, related_only=False, today=LATER).value is None
    assert not_tolerated([], D0, related_only=False, today=D0 + dt.timedelta(days=3)).value is None


# ----- eligibility ----------------------------------------------------------------------------------------------
GOOD = {"age": 35, "acr_and_ana": True, "sledai": 8, "prednisone_days": 60,
        "refractory_rows": [{"drug": "MMF", "dose": 2500, "days": 180, "months": None, "failed": True}],
        "consent": True, "childbearing_potential": True, "pregnancy_test_negative": True,
        "contraception": True, "lvef": 60, "ast_uln": "1.0", "alt_uln": "2.0", "mpap": 20, "pao2": 90, "paco2": 40,
        "neutrophils": "2.5", "platelets": 200, "hemoglobin": 12, "cd4": 600, "crcl": 95,
        "belimumab_never": True, "rituximab_last": dt.date(2025, 1, 1), "screening_date": dt.date(2026, 1, 1)}


def test_eligible_subject_and_boundaries() -> None:
    assert eligibility(GOOD).value is True
    assert eligibility({**GOOD, "alt_uln": "2.01"}).value is False  # > 2 x ULN excludes, 2.0 does not
    assert eligibility({**GOOD, "crcl": 30}).value is True  # < 30 excludes; 30.0 itself is not excluded
    assert eligibility({**GOOD, "sledai": 5}).value is False
    assert eligibility({**GOOD, "rituximab_last": dt.date(2025, 7, 2)}).value is False  # within 6 months


def test_eligibility_lists_unknown_and_failed_criteria() -> None:
    data = dict(GOOD)
    del data["cd4"]
    data["lvef"] = 35
    result = eligibility(data)
    states = {p.key: p.value for p in result.breakdown}
    assert result.value is False and states["lvef"] == FAILED and states["cd4"] == UNKNOWN and states["age"] == MET
    del data["lvef"]
    assert eligibility(data).value is None


def test_eligibility_limits_are_configuration() -> None:
    rules = RULES.eligibility.model_copy(update={"crcl_ml_min": Threshold(op="le", value=Decimal(30))})
    assert eligibility({**GOOD, "crcl": 30}, rules).value is False
