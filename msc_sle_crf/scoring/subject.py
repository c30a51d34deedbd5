"""Every score of one subject, from the values of all its forms: per visit (SELENA-SLEDAI, PGA, BILAG, SF-36,
EQ-5D-5L, steroid dose), against the inclusion visit M0 (SRI-4, steroid reduction), over the follow-up (MCR, PCR),
eligibility at screening and the primary endpoint (D0-D10). Pure: the service layer loads the data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from msc_sle_crf.i18n import L
from msc_sle_crf.scoring import eq5d, sf36
from msc_sle_crf.scoring.bilag import PROFILES, bilag_total, count_grade
from msc_sle_crf.scoring.common import ScoreInputError, ScoreResult, not_computable
from msc_sle_crf.scoring.eligibility import eligibility
from msc_sle_crf.scoring.endpoint import AdverseEvent, not_tolerated
from msc_sle_crf.scoring.renal import cockcroft_gault
from msc_sle_crf.scoring.response import major_clinical_response, partial_clinical_response
from msc_sle_crf.scoring.rules import ScoringRules
from msc_sle_crf.scoring.sledai import DESCRIPTORS, selena_sledai
from msc_sle_crf.scoring.sri import VisitScores, sri4
from msc_sle_crf.scoring.steroids import SteroidRecord, mean_dose_before, reduction_from_baseline

BASELINE = "M0"
DATE_ITEMS = ("SLDAT", "BLDAT", "SFDAT", "EQDAT", "LBDAT", "TXDAT", "SCRDAT", "EXSTDAT")


@dataclass(frozen=True)
class FormData:
    status: str
    values: Mapping[str, Any] = field(default_factory=dict)  # items outside repeating groups (canonical values)
    rows: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)  # repeating group -> rows


@dataclass(frozen=True)
class SubjectScores:
    per_visit: dict[str, dict[str, ScoreResult]]
    overall: dict[str, ScoreResult]
    day0: dt.date | None
    visit_dates: dict[str, dt.date]


def _yes(value: Any) -> bool | None:
    return {"Y": True, "N": False}.get(value) if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def visit_date(forms: Mapping[str, FormData]) -> dt.date | None:
    for form in forms.values():
        for item in DATE_ITEMS:
            value = form.values.get(item)
            if isinstance(value, dt.date):
                return value
    return None


def compute(data: Mapping[tuple[str, str], FormData], rules: ScoringRules | None = None, *,
            today: dt.date | None = None) -> SubjectScores:
    rules = rules or ScoringRules()
    by_event: dict[str, dict[str, FormData]] = {}
    for (event, form), form_data in data.items():
        by_event.setdefault(event, {})[form] = form_data
    infusion = by_event.get("D0", {}).get("infusion")
    day0 = infusion.values.get("EXSTDAT") if infusion else None
    day0 = day0 if isinstance(day0, dt.date) else None
    dates = {e: d for e, forms in by_event.items() if (d := visit_date(forms)) is not None}

    steroids = _steroid_records(by_event)
    per_visit: dict[str, dict[str, ScoreResult]] = {}
    visit_scores: dict[str, VisitScores] = {}
    bilag_by_visit: dict[str, dict[str, str | None]] = {}
    for event, forms in by_event.items():
        results = _visit_scores(forms, rules, visit_scores, bilag_by_visit, event)
        if event in dates and steroids and forms.get("corticosteroids") is not None:
            results["prednisone_mean"] = mean_dose_before(steroids, dates[event], rules.steroids)
        if results:
            per_visit[event] = results
    return _overall(by_event, per_visit=per_visit, visit_scores=visit_scores, bilag_by_visit=bilag_by_visit,
                    steroids=steroids, dates=dates, day0=day0, rules=rules, today=today)


def _steroid_records(by_event: Mapping[str, Mapping[str, FormData]]) -> list[SteroidRecord]:
    steroids: list[SteroidRecord] = []
    seen: set[tuple[Any, ...]] = set()
    for forms in by_event.values():
        cs = forms.get("corticosteroids")
        for row in cs.rows.get("cs", ()) if cs else ():
            if row.get("CSDRUG") is None or row.get("CSDOSE") is None:
                continue
            key = (row.get("CSDRUG"), row.get("CSDOSE"), row.get("CSSTDAT"), row.get("CSENDAT"))
            if key in seen:
                continue
            seen.add(key)
            steroids.append(SteroidRecord(str(row["CSDRUG"]), Decimal(row["CSDOSE"]), row.get("CSSTDAT"),
                                          row.get("CSENDAT"), bool(_yes(row.get("CSPULSE")))))
    return steroids


def _visit_scores(forms: Mapping[str, FormData], rules: ScoringRules, visit_scores: dict[str, VisitScores],
                  bilag_by_visit: dict[str, dict[str, str | None]], event: str) -> dict[str, ScoreResult]:
    profile = PROFILES[rules.bilag_profile]
    results: dict[str, ScoreResult] = {}
    sled = forms.get("selena_sledai")
    total: int | None = None
    pga: Decimal | None = None
    if sled is not None:
        r = selena_sledai({d.key: _yes(sled.values.get(d.item)) for d in DESCRIPTORS})
        results["selena_sledai"] = r
        total = r.value if isinstance(r.value, int) else None
        pga_value = sled.values.get("SLPGA")
        pga = Decimal(pga_value) if pga_value is not None else None
        results["pga"] = ScoreResult("pga", pga, "PGA 0-3") if pga is not None else not_computable(
            "pga", "PGA 0-3", L("PGA not entered", "PGA non saisie"))
    bil = forms.get("bilag")
    grades: dict[str, str | None] = {}
    if bil is not None:
        grades = {s.key: bil.values.get(s.item) for s in profile.systems}
        bilag_by_visit[event] = grades
        results["bilag_total"] = bilag_total(grades, profile)
        results["bilag_count_A"] = count_grade(grades, "A", profile)
        results["bilag_count_B"] = count_grade(grades, "B", profile)
    if sled is not None or bil is not None:
        visit_scores[event] = VisitScores(total, grades, pga)
    sf = forms.get("sf36")
    if sf is not None:
        responses = {n: _int(sf.values.get(f"SF{n:02d}")) for n in range(1, 37)}
        for scale, result in sf36.sf36_scales(responses, "v2", rules.sf36_min_items_fraction).items():
            results[f"sf36_{scale}"] = result
    eq = forms.get("eq5d")
    if eq is not None:
        levels = {k: _int(eq.values.get(f"EQ{k}")) for k, _ in eq5d.DIMENSIONS}
        results["eq5d_lss"] = eq5d.level_sum(levels)
        results["eq5d_profile"] = eq5d.profile(levels)
        results["eq5d_index_fr"] = eq5d.french_index(levels)
    return results


def _overall(by_event: Mapping[str, Mapping[str, FormData]], *, per_visit: dict[str, dict[str, ScoreResult]],
             visit_scores: dict[str, VisitScores], bilag_by_visit: dict[str, dict[str, str | None]],
             steroids: list[SteroidRecord], dates: dict[str, dt.date], day0: dt.date | None, rules: ScoringRules,
             today: dt.date | None) -> SubjectScores:
    profile = PROFILES[rules.bilag_profile]
    overall: dict[str, ScoreResult] = {}
    base = visit_scores.get(BASELINE)
    for event, scores in visit_scores.items():
        if event in rules.response.visits and base is not None:
            per_visit[event]["sri4"] = sri4(base, scores, profile, rules.sri)
    for event in rules.response.visits:
        if event in dates and BASELINE in dates and steroids and event in per_visit:
            per_visit[event]["steroid_reduction"] = reduction_from_baseline(steroids, dates[BASELINE], dates[event],
                                                                            rules.steroids)
    follow = {e: g for e, g in bilag_by_visit.items() if e in rules.response.visits}
    overall["mcr"] = major_clinical_response(follow, profile, rules.response)
    overall["pcr"] = partial_clinical_response(follow, profile, rules.response)

    screening = by_event.get("SCR", {}).get("screening")
    scr_sledai = per_visit.get("SCR", {}).get("selena_sledai")
    if screening is not None:
        overall["eligibility"] = _eligibility(screening, scr_sledai, rules)
    ae_form = by_event.get("LOG", {}).get("adverse_events")
    events = [AdverseEvent(str(r.get("AETERM") or ""), _int(r.get("AETOXGR")), r.get("AESTDAT"), r.get("AEREL"))
              for r in (ae_form.rows.get("ae", ()) if ae_form else ())]
    overall["not_tolerated_all"] = not_tolerated(events, day0, related_only=False, rules=rules.tolerance,
                                                 today=today)
    overall["not_tolerated_related"] = not_tolerated(events, day0, related_only=True, rules=rules.tolerance,
                                                     today=today)
    return SubjectScores(per_visit, overall, day0, dates)


def _eligibility(screening: FormData, scr_sledai: ScoreResult | None, rules: ScoringRules) -> ScoreResult:
    v = screening.values
    ratio = {k: (Decimal(v[a]) / Decimal(v[u]) if v.get(a) is not None and v.get(u) else None)
             for k, a, u in (("ast_uln", "AST", "ASTULN"), ("alt_uln", "ALT", "ALTULN"))}
    try:  # the screening form stores creatinine in µmol/L (its canonical unit)
        crcl = cockcroft_gault(_int(v.get("AGE")), v.get("WEIGHT"), v.get("CREAT"), "µmol/L", v.get("SEX")).value
    except ScoreInputError:
        crcl = None
    inputs = {
        "age": v.get("AGE"), "acr_and_ana": _yes(v.get("ACRANA")),
        "sledai": scr_sledai.value if scr_sledai is not None else None,
        "prednisone_mg_day": v.get("PREDDOSE"), "prednisone_days": v.get("PREDDUR"),
        "refractory": _yes(v.get("ISREFR")), "consent": True if v.get("ICDAT") else None,
        "childbearing_potential": _yes(v.get("CHILDPOT")),
        "pregnancy_test_negative": {"NEG": True, "POS": False}.get(str(v.get("PREGTEST"))),
        "contraception": _yes(v.get("CONTRA")), "lvef": v.get("LVEF"), **ratio, "mpap": v.get("MPAP"),
        "pao2": v.get("PAO2"), "paco2": v.get("PACO2"), "neutrophils": v.get("NEUT"), "platelets": v.get("PLAT"),
        "hemoglobin": v.get("HGB"), "cd4": v.get("CD4"), "crcl": crcl,
        "belimumab_never": _yes(v.get("BELEVER")) is False, "belimumab_last": v.get("BELLAST"),
        "rituximab_never": _yes(v.get("RTXEVER")) is False, "rituximab_last": v.get("RTXLAST"),
        "screening_date": v.get("SCRDAT"),
    }
    return eligibility(inputs, rules.eligibility)


SF36_SCORES = tuple(f"sf36_{k}" for k in ("physical_functioning", "role_physical", "role_emotional",
                                          "energy_fatigue", "emotional_wellbeing", "social_functioning", "pain",
                                          "general_health"))
FORM_SCORES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # form -> (per-visit names, overall names)
    "selena_sledai": (("selena_sledai", "pga", "sri4"), ()),
    "bilag": (("bilag_total", "bilag_count_A", "bilag_count_B", "sri4"), ("mcr", "pcr")),
    "sf36": (SF36_SCORES, ()),
    "eq5d": (("eq5d_lss", "eq5d_profile", "eq5d_index_fr"), ()),
    "corticosteroids": (("prednisone_mean", "steroid_reduction"), ()),
    "screening": ((), ("eligibility",)),
    "adverse_events": ((), ("not_tolerated_all", "not_tolerated_related")),
    "tolerance": ((), ("not_tolerated_all", "not_tolerated_related")),
}


def scores_for_form(scores: SubjectScores, event: str, form_id: str) -> list[ScoreResult]:
    """The scores a form contributes to, in display order (empty for forms without scores)."""
    visit_names, overall_names = FORM_SCORES.get(form_id, ((), ()))
    per_visit = scores.per_visit.get(event, {})
    return [per_visit[n] for n in visit_names if n in per_visit] + [
        scores.overall[n] for n in overall_names if n in scores.overall]
