"""Every score of one subject, from the values of all its forms: per visit (SELENA-SLEDAI, PGA, BILAG, SF-36,
EQ-5D-5L, steroid dose), against the inclusion visit (SRI-4, steroid reduction), over the follow-up (MCR, PCR),
eligibility at screening, toxicity per window and the primary endpoint (D0-D10). Pure: the service layer loads the
data.

Which forms and items feed each score, which visit is the baseline and what dates a visit are study bindings
(``bindings:`` in study.yaml, checked by the form compiler), never ids written here. A score whose inputs are
missing or incomplete is "not computable" with the reason; nothing is defaulted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any, Literal, cast

from msc_sle_crf.formdef.bindings import StudyBindings
from msc_sle_crf.i18n import L
from msc_sle_crf.scoring import eq5d, sf36
from msc_sle_crf.scoring.bilag import PROFILES, bilag_total, count_grade
from msc_sle_crf.scoring.common import ScoreInputError, ScoreResult, not_computable
from msc_sle_crf.scoring.eligibility import eligibility
from msc_sle_crf.scoring.renal import cockcroft_gault
from msc_sle_crf.scoring.response import major_clinical_response, partial_clinical_response
from msc_sle_crf.scoring.rules import ScoringRules, published_rules
from msc_sle_crf.scoring.sledai import DESCRIPTORS, selena_sledai
from msc_sle_crf.scoring.sri import VisitScores, sri4
from msc_sle_crf.scoring.steroids import SteroidRecord, days_at_dose, mean_dose_before, reduction_from_baseline
from msc_sle_crf.scoring.toxicity import (
    AdverseEvent,
    WindowToxicity,
    by_window,
    not_tolerated_result,
    outside_windows,
)
from msc_sle_crf.status import FormStatus

DONE = frozenset({FormStatus.COMPLETE, FormStatus.VERIFIED, FormStatus.SIGNED, FormStatus.LOCKED})


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
    version: str = ""  # the version of the form definition the data was entered under

    @property
    def done(self) -> bool:
        return FormStatus.of(self.status) in DONE


@dataclass(frozen=True)
class Review:
    """A follow-up visit's toxicity review: what the comorbidity outcome counts."""

    done: bool
    infection: bool | None
    hospitalisation: bool | None
    comorbidities: str | None  # new or worsened comorbidities, as written


@dataclass(frozen=True)
class SubjectScores:
    per_visit: dict[str, dict[str, ScoreResult]]
    overall: dict[str, ScoreResult]
    day0: dt.date | None
    visit_dates: dict[str, dt.date]
    cohort: str | None = None  # the dose cohort code (dose form of the infusion day)
    toxicity: tuple[WindowToxicity, ...] = ()
    events: tuple[AdverseEvent, ...] = ()
    outside_windows: tuple[AdverseEvent, ...] = ()  # dated events in no window (before D0, after the last)
    reviews: dict[str, Review] = field(default_factory=dict)  # visit -> toxicity review
    as_of: dt.date | None = None  # the day the scores were computed for (windows open or closed)

    def begun(self) -> tuple[WindowToxicity, ...]:
        """The toxicity windows whose first day has come."""
        return tuple(t for t in self.toxicity if t.start is not None and self.as_of is not None
                     and t.start <= self.as_of)


def _yes(value: Any) -> bool | None:
    return {"Y": True, "N": False}.get(value) if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except ArithmeticError:
        return None


def visit_date(forms: Mapping[str, FormData], date_items: tuple[str, ...]) -> dt.date | None:
    for form in forms.values():
        for item in date_items:
            value = form.values.get(item)
            if isinstance(value, dt.date):
                return value
    return None


def compute(data: Mapping[tuple[str, str], FormData], bindings: StudyBindings, day0_from: Day0,
            rules: ScoringRules | None = None, *, today: dt.date, visits: Mapping[str, L] | None = None
            ) -> SubjectScores:
    """Every score of one subject; ``visits``: visit -> its name, for the reasons a score is not computable."""
    rules = rules if rules is not None else published_rules()
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
        steroid_data = forms.get(steroid_form)
        if steroid_data is not None:
            results["prednisone_mean"] = _steroid_score(
                "prednisone_mean", {event: steroid_data}, dates,
                partial(mean_dose_before, steroids, dates.get(event, today), rules.steroids), visits or {})
        if results:
            per_visit[event] = results
    scores = _overall(by_event, per_visit=per_visit, visit_scores=visit_scores, bilag_by_visit=bilag_by_visit,
                      steroids=steroids, dates=dates, day0=day0, rules=rules, bindings=bindings, today=today,
                      visits=visits or {})
    return scores


def _steroid_problem(visit: L, form: FormData | None) -> L | None:
    """Why a visit's corticosteroid records cannot be used: only a completed form says what was taken since the
    previous visit (a form not started or still in progress leaves the period unknown)."""
    if form is None:
        return L(f"the corticosteroid form of the visit “{visit.en}” is not started",
                 f"le formulaire de corticothérapie de la visite « {visit.fr} » n'est pas commencé")
    if not form.done:
        return L(f"the corticosteroid form of the visit “{visit.en}” is not complete",
                 f"le formulaire de corticothérapie de la visite « {visit.fr} » n'est pas complet")
    return None


def _steroid_score(name: str, needed: Mapping[str, FormData | None], dates: Mapping[str, dt.date],
                   score: Callable[[], ScoreResult], visits: Mapping[str, L]) -> ScoreResult:
    """A steroid score from the visits it needs (each with its completed corticosteroid form and a date);
    ``visits`` names them in the reasons (their codes when unnamed)."""
    rule = "corticosteroid records of the visit"
    for event, form in needed.items():
        visit = visits.get(event) or L(event, event)
        problem = _steroid_problem(visit, form)
        if problem is None and event not in dates:
            problem = L(f"no date for the visit “{visit.en}”", f"pas de date pour la visite « {visit.fr} »")
        if problem is not None:
            return not_computable(name, rule, problem)
    try:
        return score()
    except ScoreInputError as exc:
        return not_computable(name, rule, exc.message)


def _steroid_records(by_event: Mapping[str, Mapping[str, FormData]], bindings: StudyBindings) -> list[SteroidRecord]:
    """Every corticosteroid row of every visit (the same prescription recorded twice counts once). A row with a
    missing drug, dose, start or pulse flag is kept: the scores that need it say so."""
    b = bindings.scores.corticosteroids
    steroids: list[SteroidRecord] = []
    seen: set[tuple[Any, ...]] = set()
    for forms in by_event.values():
        cs = forms.get(b.form)
        for row in cs.rows.get(b.group or "", ()) if cs else ():
            key = (row.get(b.drug), row.get(b.dose), row.get(b.start), row.get(b.end), row.get(b.pulse))
            if key in seen or all(v is None for v in key):
                continue
            seen.add(key)
            drug = row.get(b.drug)
            steroids.append(SteroidRecord(None if drug is None else str(drug), _decimal(row.get(b.dose)),
                                          row.get(b.start), row.get(b.end), _yes(row.get(b.pulse))))
    return steroids


def _sf36_version(form: FormData, item: str, rules: ScoringRules) -> str | None:
    version = form.values.get(item)
    if version is not None:
        return str(version)
    return rules.sf36.version_of_form.get(form.version)


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
        pga = _decimal(sled.values.get(inputs.selena_sledai.pga))
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
        results.update(_sf36(sf, rules, bindings))
    eq = forms.get(inputs.eq5d.form)
    if eq is not None:
        levels = {k: _int(eq.values.get(inputs.eq5d.dimensions[k])) for k, _ in eq5d.DIMENSIONS}
        results["eq5d_lss"] = eq5d.level_sum(levels)
        results["eq5d_profile"] = eq5d.profile(levels)
        results["eq5d_index_fr"] = eq5d.french_index(levels)
    return results


def _sf36(sf: FormData, rules: ScoringRules, bindings: StudyBindings) -> dict[str, ScoreResult]:
    inputs = bindings.scores.sf36
    names = [f"sf36_{k}" for k in sf36.SCALES]
    version = _sf36_version(sf, inputs.version, rules)
    if version not in sf36.TABLES:
        reason = L("SF-36 version not recorded", "version du SF-36 non renseignée") if version is None else \
            L(f"SF-36 version '{version}' is not v1 or v2", f"version du SF-36 « {version} » : v1 ou v2 attendu")
        return {n: not_computable(n, "RAND-36 equal weights", reason) for n in names}
    responses = {n: _int(sf.values.get(item)) for n, item in enumerate(inputs.questions, start=1)}
    try:
        scales = sf36.sf36_scales(responses, cast(Literal["v1", "v2"], version), rules.sf36.min_items_fraction)
    except ScoreInputError as exc:  # an answer the recorded version does not have: never scored with another table
        return {n: not_computable(n, f"RAND-36 equal weights, SF-36 {version}", exc.message) for n in names}
    return {f"sf36_{scale}": result for scale, result in scales.items()}


def _overall(by_event: Mapping[str, Mapping[str, FormData]], *, per_visit: dict[str, dict[str, ScoreResult]],
             visit_scores: dict[str, VisitScores], bilag_by_visit: dict[str, dict[str, str | None]],
             steroids: list[SteroidRecord], dates: dict[str, dt.date], day0: dt.date | None, rules: ScoringRules,
             bindings: StudyBindings, today: dt.date, visits: Mapping[str, L]) -> SubjectScores:
    profile = PROFILES[rules.bilag_profile]
    overall: dict[str, ScoreResult] = {}
    baseline = bindings.baseline_visit
    base = visit_scores.get(baseline)
    for event, scores in visit_scores.items():
        if event in rules.response.visits and base is not None:
            per_visit[event]["sri4"] = sri4(base, scores, profile, rules.sri)
    steroid_form = bindings.scores.corticosteroids.form
    base_form = by_event.get(baseline, {}).get(steroid_form)
    for event in rules.response.visits:
        if event not in by_event:
            continue  # the visit has not started: nothing to say about it yet
        needed = {baseline: base_form, event: by_event[event].get(steroid_form)}
        per_visit.setdefault(event, {})["steroid_reduction"] = _steroid_score(
            "steroid_reduction", needed, dates,
            partial(reduction_from_baseline, steroids, dates.get(baseline, today), dates.get(event, today),
                    rules.steroids), visits)
    follow = {e: g for e, g in bilag_by_visit.items() if e in rules.response.visits}
    overall["mcr"] = major_clinical_response(follow, profile, rules.response, names=visits)
    overall["pcr"] = partial_clinical_response(follow, profile, rules.response, names=visits)
    for event in rules.response.visits:
        if event in follow:
            per_visit[event]["mcr"] = major_clinical_response(follow, profile, rules.response, until=event,
                                                              names=visits)
            per_visit[event]["pcr"] = partial_clinical_response(follow, profile, rules.response, until=event,
                                                                names=visits)

    scr = bindings.scores.screening
    screening = by_event.get(scr.event or "", {}).get(scr.form)
    scr_sledai = per_visit.get(scr.event or "", {}).get("selena_sledai")
    if screening is not None:
        history = by_event.get(scr.event or "", {}).get(scr.steroid_history.form)
        overall["eligibility"] = _eligibility(screening, scr_sledai, history, steroids, rules, bindings)

    events = _adverse_events(by_event, bindings)
    reviews = _reviews(by_event, bindings)
    done = {event: review.done for event, review in reviews.items()}
    tol = bindings.tolerance
    tol_form = by_event.get(tol.event or "", {}).get(tol.form)
    if tol.event:
        done[tol.event] = tol_form is not None and tol_form.done
    toxicity = by_window(events, day0, rules.toxicity, today=today, reviewed=done, visits=visits)
    primary = next(t for t in toxicity if t.window.id == rules.toxicity.primary_window)
    overall["not_tolerated_all"] = not_tolerated_result(primary, rules.toxicity, related_only=False)
    overall["not_tolerated_related"] = not_tolerated_result(primary, rules.toxicity, related_only=True)
    return SubjectScores(per_visit, overall, day0, dates, _cohort(by_event, bindings), toxicity, tuple(events),
                         outside_windows(events, day0, rules.toxicity), reviews, today)


def _cohort(by_event: Mapping[str, Mapping[str, FormData]], bindings: StudyBindings) -> str | None:
    dose = bindings.infusion_day.dose
    form = by_event.get(dose.event or bindings.infusion_day.event, {}).get(dose.form)
    value = form.values.get(dose.cohort) if form is not None else None
    return None if value is None else str(value)


def _adverse_events(by_event: Mapping[str, Mapping[str, FormData]], bindings: StudyBindings) -> list[AdverseEvent]:
    ae = bindings.adverse_events
    form = by_event.get(ae.event or "", {}).get(ae.form)
    rows = form.rows.get(ae.group or "", ()) if form else ()
    return [AdverseEvent(str(r.get(ae.term) or ""), _int(r.get(ae.grade)), r.get(ae.onset), r.get(ae.relation),
                         _yes(r.get(ae.serious)), f"#{n}") for n, r in enumerate(rows, start=1)]


def _reviews(by_event: Mapping[str, Mapping[str, FormData]], bindings: StudyBindings) -> dict[str, Review]:
    b = bindings.toxicity_review
    out: dict[str, Review] = {}
    for event, forms in by_event.items():
        form = forms.get(b.form)
        if form is None:
            continue
        text = form.values.get(b.comorbidities)
        out[event] = Review(form.done, _yes(form.values.get(b.infection)), _yes(form.values.get(b.hospitalisation)),
                            str(text) if text else None)
    return out


def _refractory_rows(screening: FormData, bindings: StudyBindings) -> list[dict[str, Any]] | None:
    b = bindings.scores.screening.refractory
    if (b.group or "") not in screening.rows:
        return None  # entered under a form version without the per-drug rows: unknown, not "no drug"
    rows = screening.rows[b.group or ""]
    if not rows and not screening.done:
        return None  # not entered yet
    return [{"drug": r.get(b.drug), "dose": r.get(b.dose), "days": r.get(b.days), "months": r.get(b.months),
             "failed": _yes(r.get(b.failed))} for r in rows]


def _prednisone_days(history: FormData | None, steroids: list[SteroidRecord], screening_date: Any,
                     rules: ScoringRules) -> int | None:
    """Consecutive days at the eligibility dose up to screening, from the corticosteroid records (every visit's,
    converted to prednisone equivalents); unknown until the screening visit's corticosteroid form is complete."""
    if history is None or not history.done or not isinstance(screening_date, dt.date):
        return None
    e = rules.eligibility
    try:
        result = days_at_dose(steroids, screening_date, e.prednisone_dose, pulses=e.prednisone_pulses,
                              rules=rules.steroids)
    except ScoreInputError:
        return None
    return result.value if isinstance(result.value, int) else None


def _eligibility(screening: FormData, scr_sledai: ScoreResult | None, history: FormData | None,  # noqa: PLR0917
                 steroids: list[SteroidRecord], rules: ScoringRules, bindings: StudyBindings) -> ScoreResult:
    b = bindings.scores.screening
    v = screening.values
    ratio = {k: (Decimal(v[a]) / Decimal(v[u]) if v.get(a) is not None and v.get(u) else None)
             for k, a, u in (("ast_uln", b.ast, b.ast_uln), ("alt_uln", b.alt, b.alt_uln))}
    try:  # the screening form stores creatinine in µmol/L (its canonical unit); the clearance is exact
        crcl = cockcroft_gault(_int(v.get(b.age)), v.get(b.weight), v.get(b.creatinine), "µmol/L",
                               v.get(b.sex)).value
    except ScoreInputError:
        crcl = None
    inputs = {
        "age": v.get(b.age), "acr_and_ana": _yes(v.get(b.acr_and_ana)),
        "sledai": scr_sledai.value if scr_sledai is not None else None,
        "prednisone_days": _prednisone_days(history, steroids, v.get(b.screening_date), rules),
        "refractory_rows": _refractory_rows(screening, bindings), "consent": True if v.get(b.consent_date) else None,
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


SF36_SCORES = tuple(f"sf36_{k}" for k in sf36.SCALES)


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
