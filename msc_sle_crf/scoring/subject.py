"""Every score of one subject, from the values of all its forms: per visit (SELENA-SLEDAI, PGA, BILAG, SF-36,
EQ-5D-5L, steroid dose), against the inclusion visit (SRI-4, steroid reduction), over the follow-up (MCR, PCR),
eligibility at screening and the primary endpoint (D0-D10). Pure: the service layer loads the data.

Which forms and items feed each score, which visit is the baseline and what dates a visit are study bindings
(``bindings:`` in study.yaml, checked by the form compiler), never ids written here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from msc_sle_crf.formdef.bindings import StudyBindings
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


@dataclass(frozen=True)
class Day0:
    """Where study day 0 (the infusion date) is read: ``anchor`` in study.yaml."""

    event: str
    form: str
    item: str


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


def visit_date(forms: Mapping[str, FormData], date_items: tuple[str, ...]) -> dt.date | None:
    for form in forms.values():
        for item in date_items:
            value = form.values.get(item)
            if isinstance(value, dt.date):
                return value
    return None


def compute(data: Mapping[tuple[str, str], FormData], bindings: StudyBindings, day0_from: Day0,
            rules: ScoringRules | None = None, *, today: dt.date | None = None) -> SubjectScores:
    rules = rules or ScoringRules()
    by_event: dict[str, dict[str, FormData]] = {}
    for (event, form), form_data in data.items():
        by_event.setdefault(event, {})[form] = form_data
    anchor = by_event.get(day0_from.event, {}).get(day0_from.form)
    day0 = anchor.values.get(day0_from.item) if anchor else None
    day0 = day0 if isinstance(day0, dt.date) else None
    dates = {e: d for e, forms in by_event.items() if (d := visit_date(forms, bindings.visit_date_items)) is not None}

    steroid_form = bindings.scores.corticosteroids.form
    steroids = _steroid_records(by_event, bindings)
    per_visit: dict[str, dict[str, ScoreResult]] = {}
    visit_scores: dict[str, VisitScores] = {}
    bilag_by_visit: dict[str, dict[str, str | None]] = {}
    for event, forms in by_event.items():
        results = _visit_scores(forms, rules, bindings, visit_scores, bilag_by_visit, event)
        if event in dates and steroids and forms.get(steroid_form) is not None:
            results["prednisone_mean"] = mean_dose_before(steroids, dates[event], rules.steroids)
        if results:
            per_visit[event] = results
    return _overall(by_event, per_visit=per_visit, visit_scores=visit_scores, bilag_by_visit=bilag_by_visit,
                    steroids=steroids, dates=dates, day0=day0, rules=rules, bindings=bindings, today=today)


def _steroid_records(by_event: Mapping[str, Mapping[str, FormData]], bindings: StudyBindings) -> list[SteroidRecord]:
    b = bindings.scores.corticosteroids
    steroids: list[SteroidRecord] = []
    seen: set[tuple[Any, ...]] = set()
    for forms in by_event.values():
        cs = forms.get(b.form)
        for row in cs.rows.get(b.group or "", ()) if cs else ():
            if row.get(b.drug) is None or row.get(b.dose) is None:
                continue
            key = (row.get(b.drug), row.get(b.dose), row.get(b.start), row.get(b.end))
            if key in seen:
                continue
            seen.add(key)
            steroids.append(SteroidRecord(str(row[b.drug]), Decimal(row[b.dose]), row.get(b.start),
                                          row.get(b.end), bool(_yes(row.get(b.pulse)))))
    return steroids


def _visit_scores(forms: Mapping[str, FormData], rules: ScoringRules, bindings: StudyBindings,  # noqa: PLR0917
                  visit_scores: dict[str, VisitScores], bilag_by_visit: dict[str, dict[str, str | None]],
                  event: str) -> dict[str, ScoreResult]:
    inputs = bindings.scores
    profile = PROFILES[rules.bilag_profile]
    results: dict[str, ScoreResult] = {}
    sled = forms.get(inputs.selena_sledai.form)
    total: int | None = None
    pga: Decimal | None = None
    if sled is not None:
        descriptors = inputs.selena_sledai.descriptors
        r = selena_sledai({d.key: _yes(sled.values.get(descriptors[d.key])) for d in DESCRIPTORS})
        results["selena_sledai"] = r
        total = r.value if isinstance(r.value, int) else None
        pga_value = sled.values.get(inputs.selena_sledai.pga)
        pga = Decimal(pga_value) if pga_value is not None else None
        results["pga"] = ScoreResult("pga", pga, "PGA 0-3") if pga is not None else not_computable(
            "pga", "PGA 0-3", L("PGA not entered", "PGA non saisie"))
    bil = forms.get(inputs.bilag.form)
    grades: dict[str, str | None] = {}
    if bil is not None:
        grades = {s.key: bil.values.get(inputs.bilag.systems[s.key]) for s in profile.systems}
        bilag_by_visit[event] = grades
        results["bilag_total"] = bilag_total(grades, profile)
        results["bilag_count_A"] = count_grade(grades, "A", profile)
        results["bilag_count_B"] = count_grade(grades, "B", profile)
    if sled is not None or bil is not None:
        visit_scores[event] = VisitScores(total, grades, pga)
    sf = forms.get(inputs.sf36.form)
    if sf is not None:
        responses = {n: _int(sf.values.get(item)) for n, item in enumerate(inputs.sf36.questions, start=1)}
        for scale, result in sf36.sf36_scales(responses, "v2", rules.sf36_min_items_fraction).items():
            results[f"sf36_{scale}"] = result
    eq = forms.get(inputs.eq5d.form)
    if eq is not None:
        levels = {k: _int(eq.values.get(inputs.eq5d.dimensions[k])) for k, _ in eq5d.DIMENSIONS}
        results["eq5d_lss"] = eq5d.level_sum(levels)
        results["eq5d_profile"] = eq5d.profile(levels)
        results["eq5d_index_fr"] = eq5d.french_index(levels)
    return results


def _overall(by_event: Mapping[str, Mapping[str, FormData]], *, per_visit: dict[str, dict[str, ScoreResult]],
             visit_scores: dict[str, VisitScores], bilag_by_visit: dict[str, dict[str, str | None]],
             steroids: list[SteroidRecord], dates: dict[str, dt.date], day0: dt.date | None, rules: ScoringRules,
             bindings: StudyBindings, today: dt.date | None) -> SubjectScores:
    profile = PROFILES[rules.bilag_profile]
    overall: dict[str, ScoreResult] = {}
    baseline = bindings.baseline_visit
    base = visit_scores.get(baseline)
    for event, scores in visit_scores.items():
        if event in rules.response.visits and base is not None:
            per_visit[event]["sri4"] = sri4(base, scores, profile, rules.sri)
    for event in rules.response.visits:
        if event in dates and baseline in dates and steroids and event in per_visit:
            per_visit[event]["steroid_reduction"] = reduction_from_baseline(steroids, dates[baseline], dates[event],
                                                                            rules.steroids)
    follow = {e: g for e, g in bilag_by_visit.items() if e in rules.response.visits}
    overall["mcr"] = major_clinical_response(follow, profile, rules.response)
    overall["pcr"] = partial_clinical_response(follow, profile, rules.response)

    scr = bindings.scores.screening
    screening = by_event.get(scr.event or "", {}).get(scr.form)
    scr_sledai = per_visit.get(scr.event or "", {}).get("selena_sledai")
    if screening is not None:
        overall["eligibility"] = _eligibility(screening, scr_sledai, rules, bindings)
    ae = bindings.adverse_events
    ae_form = by_event.get(ae.event or "", {}).get(ae.form)
    events = [AdverseEvent(str(r.get(ae.term) or ""), _int(r.get(ae.grade)), r.get(ae.onset), r.get(ae.relation))
              for r in (ae_form.rows.get(ae.group or "", ()) if ae_form else ())]
    overall["not_tolerated_all"] = not_tolerated(events, day0, related_only=False, rules=rules.tolerance,
                                                 today=today)
    overall["not_tolerated_related"] = not_tolerated(events, day0, related_only=True, rules=rules.tolerance,
                                                     today=today)
    return SubjectScores(per_visit, overall, day0, dates)


def _eligibility(screening: FormData, scr_sledai: ScoreResult | None, rules: ScoringRules,
                 bindings: StudyBindings) -> ScoreResult:
    b = bindings.scores.screening
    v = screening.values
    ratio = {k: (Decimal(v[a]) / Decimal(v[u]) if v.get(a) is not None and v.get(u) else None)
             for k, a, u in (("ast_uln", b.ast, b.ast_uln), ("alt_uln", b.alt, b.alt_uln))}
    try:  # the screening form stores creatinine in µmol/L (its canonical unit)
        crcl = cockcroft_gault(_int(v.get(b.age)), v.get(b.weight), v.get(b.creatinine), "µmol/L",
                               v.get(b.sex)).value
    except ScoreInputError:
        crcl = None
    inputs = {
        "age": v.get(b.age), "acr_and_ana": _yes(v.get(b.acr_and_ana)),
        "sledai": scr_sledai.value if scr_sledai is not None else None,
        "prednisone_mg_day": v.get(b.prednisone_mg_day), "prednisone_days": v.get(b.prednisone_days),
        "refractory": _yes(v.get(b.refractory)), "consent": True if v.get(b.consent_date) else None,
        "childbearing_potential": _yes(v.get(b.childbearing_potential)),
        "pregnancy_test_negative": {"NEG": True, "POS": False}.get(str(v.get(b.pregnancy_test))),
        "contraception": _yes(v.get(b.contraception)), "lvef": v.get(b.lvef), **ratio, "mpap": v.get(b.mean_pap),
        "pao2": v.get(b.pao2), "paco2": v.get(b.paco2), "neutrophils": v.get(b.neutrophils),
        "platelets": v.get(b.platelets), "hemoglobin": v.get(b.hemoglobin), "cd4": v.get(b.cd4), "crcl": crcl,
        "belimumab_never": _yes(v.get(b.belimumab_ever)) is False, "belimumab_last": v.get(b.belimumab_last),
        "rituximab_never": _yes(v.get(b.rituximab_ever)) is False, "rituximab_last": v.get(b.rituximab_last),
        "screening_date": v.get(b.screening_date),
    }
    return eligibility(inputs, rules.eligibility)


SF36_SCORES = tuple(f"sf36_{k}" for k in ("physical_functioning", "role_physical", "role_emotional",
                                          "energy_fatigue", "emotional_wellbeing", "social_functioning", "pain",
                                          "general_health"))
def form_scores(bindings: StudyBindings) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """form -> (per-visit score names, overall score names) that the form feeds, in display order."""
    s = bindings.scores
    tolerated = ("not_tolerated_all", "not_tolerated_related")
    return {
        s.selena_sledai.form: (("selena_sledai", "pga", "sri4"), ()),
        s.bilag.form: (("bilag_total", "bilag_count_A", "bilag_count_B", "sri4"), ("mcr", "pcr")),
        s.sf36.form: (SF36_SCORES, ()),
        s.eq5d.form: (("eq5d_lss", "eq5d_profile", "eq5d_index_fr"), ()),
        s.corticosteroids.form: (("prednisone_mean", "steroid_reduction"), ()),
        s.screening.form: ((), ("eligibility",)),
        bindings.adverse_events.form: ((), tolerated),
        bindings.tolerance.form: ((), tolerated),
    }


def scores_for_form(scores: SubjectScores, bindings: StudyBindings, event: str, form_id: str) -> list[ScoreResult]:
    """The scores a form contributes to, in display order (empty for forms without scores)."""
    visit_names, overall_names = form_scores(bindings).get(form_id, ((), ()))
    per_visit = scores.per_visit.get(event, {})
    return [per_visit[n] for n in visit_names if n in per_visit] + [
        scores.overall[n] for n in overall_names if n in scores.overall]
