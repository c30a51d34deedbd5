"""Eligibility derived from the screening data: every inclusion and exclusion criterion, each met, failed or
unknown, with the limit applied (clinical-reference.md section 9; each limit and its side is configuration,
``scoring.eligibility``). The investigator confirms the result; the app never decides alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from msc_sle_crf.i18n import L
from msc_sle_crf.scoring.common import Part, ScoreResult
from msc_sle_crf.scoring.rules import EligibilityRules, Threshold, french_limit, published_rules

MET, FAILED, UNKNOWN = "met", "failed", "unknown"
RULE = "MSC-SLE eligibility (registry text; limits configurable, to be confirmed against the protocol)"


@dataclass(frozen=True)
class Criterion:
    key: str
    label: Callable[[EligibilityRules], L]  # from the rules: "Age >= 18 and <= 70 years"
    check: Callable[[Mapping[str, Any], EligibilityRules], str | tuple[str, L]]  # state, or state and detail
    limit: Callable[[EligibilityRules], Threshold] | None = None  # shown with the label: "LVEF < 40"


def _num(data: Mapping[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    return None if value is None else Decimal(str(value))


def _threshold(key: str, get: Callable[[EligibilityRules], Threshold]) -> Callable[[Mapping[str, Any],
                                                                                      EligibilityRules], str]:
    def check(data: Mapping[str, Any], rules: EligibilityRules) -> str:
        value = _num(data, key)  # exact: a clearance of 29.97 shown as 30.0 still fails "< 30"
        if value is None:
            return UNKNOWN
        return FAILED if get(rules).fails(value) else MET
    return check


def _age(data: Mapping[str, Any], rules: EligibilityRules) -> str:
    age = _num(data, "age")
    return UNKNOWN if age is None else MET if rules.age_min.met(age) and rules.age_max.met(age) else FAILED


def _sledai(data: Mapping[str, Any], rules: EligibilityRules) -> str:
    score = _num(data, "sledai")
    return UNKNOWN if score is None else MET if rules.sledai.met(score) else FAILED


def _prednisone(data: Mapping[str, Any], rules: EligibilityRules) -> str | tuple[str, L]:
    """From the corticosteroid records: the consecutive days up to screening at the required daily dose."""
    days = data.get("prednisone_days")
    if days is None:
        return UNKNOWN
    state = MET if rules.prednisone_days.met(int(days)) else FAILED
    return state, L(f"{days} day(s) at that dose", f"{days} jour(s) à cette dose")


def _refractory_row(row: Mapping[str, Any], rules: EligibilityRules) -> tuple[str, L | None]:
    """One immunosuppressant row: met when it failed at or above its drug's dose for its duration (each compared
    exactly); unknown while a value the criterion needs is missing."""
    criterion = rules.refractory.get(str(row.get("drug")))
    if criterion is None or row.get("failed") is False:
        return FAILED, None
    dose = _num(row, "dose")
    duration = _num(row, criterion.duration_unit) if criterion.duration_unit else None
    needed = [row.get("failed"), *([dose] if criterion.dose else []),
              *([duration] if criterion.duration is not None else [])]
    if any(v is None for v in needed):
        return UNKNOWN, None
    dose_ok = dose is None or all(r.met(dose) for r in criterion.dose)
    duration_ok = criterion.duration is None or (duration is not None and criterion.duration.met(duration))
    return (MET, criterion.text()) if dose_ok and duration_ok else (FAILED, None)


def _refractory(data: Mapping[str, Any], rules: EligibilityRules) -> str | tuple[str, L]:
    """Met when one immunosuppressant failed at or above the registry's dose for its duration (per drug, from the
    rows of the screening form). No row on a completed form: not refractory."""
    rows = data.get("refractory_rows")
    if rows is None:
        return UNKNOWN
    states = [_refractory_row(row, rules) for row in rows]
    met = [detail for state, detail in states if state == MET and detail is not None]
    if met:
        return MET, L("met: " + "; ".join(d.en for d in met), "rempli : " + "; ".join(d.fr for d in met))
    return UNKNOWN if any(state == UNKNOWN for state, _ in states) else FAILED


def _yes(key: str, *, wanted: bool = True) -> Callable[[Mapping[str, Any], EligibilityRules], str]:
    def check(data: Mapping[str, Any], _config: EligibilityRules) -> str:
        value = data.get(key)
        if value is None:
            return UNKNOWN
        return MET if bool(value) is wanted else FAILED
    return check


def _months_before(date: dt.date, months: int) -> dt.date:
    year, month = divmod(date.month - 1 - months, 12)
    y, m = date.year + year, month + 1
    day = min(date.day, [31, 29 if y % 4 == 0 and (y % 100 or y % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30, 31,
                         30, 31][m - 1])
    return dt.date(y, m, day)


def _washout(key: str, months: Callable[[EligibilityRules], int]) -> Callable[[Mapping[str, Any],
                                                                                EligibilityRules], str]:
    def check(data: Mapping[str, Any], rules: EligibilityRules) -> str:
        if data.get(f"{key}_never"):
            return MET
        last, screening = data.get(f"{key}_last"), data.get("screening_date")
        if last is None or screening is None:
            return UNKNOWN
        return MET if last <= _months_before(screening, months(rules)) else FAILED
    return check


def _pregnancy(data: Mapping[str, Any], _config: EligibilityRules) -> str:
    if data.get("childbearing_potential") is False:
        return MET
    test = data.get("pregnancy_test_negative")
    return UNKNOWN if test is None else MET if test else FAILED


def _contraception(data: Mapping[str, Any], _config: EligibilityRules) -> str:
    if data.get("childbearing_potential") is False:
        return MET
    value = data.get("contraception")
    return UNKNOWN if value is None else MET if value else FAILED


def _fixed(label: L) -> Callable[[EligibilityRules], L]:
    return lambda _rules: label


def _limit_label(en: str, fr: str, get: Callable[[EligibilityRules], Threshold]) -> Callable[[EligibilityRules], L]:
    def label(rules: EligibilityRules) -> L:
        limit = get(rules).text()
        return L(f"{en} {limit}", f"{fr} {french_limit(limit)}")
    return label


def _age_label(r: EligibilityRules) -> L:
    return L(f"Age {r.age_min.text()} and {r.age_max.text()} years",
             f"Âge {french_limit(r.age_min.text())} et {french_limit(r.age_max.text())} ans")


def _prednisone_label(r: EligibilityRules) -> L:
    dose, days = french_limit(r.prednisone_dose.text()), r.prednisone_days.text()
    pulses = ("", "") if r.prednisone_pulses else (", IV pulses not counted", ", bolus IV non comptés")
    return L(f"Prednisone equivalent {r.prednisone_dose.text()} mg/day for {days} days (corticosteroid records"
             f"{pulses[0]})", f"Équivalent prednisone {dose} mg/j depuis {french_limit(days)} jours "
             f"(corticothérapie{pulses[1]})")


def _washout_label(drug: L, months: Callable[[EligibilityRules], int]) -> Callable[[EligibilityRules], L]:
    return lambda r: L(f"Exclusion: {drug.en} within the wash-out of {months(r)} months",
                       f"Exclusion : {drug.fr} dans la fenêtre de {months(r)} mois")


def _exclusion(key: str, en: str, fr: str, get: Callable[[EligibilityRules], Threshold], data_key: str | None = None
               ) -> Criterion:
    return Criterion(key, _limit_label(f"Exclusion: {en}", f"Exclusion : {fr}", get),
                     _threshold(data_key or key, get), get)


CRITERIA: tuple[Criterion, ...] = (
    Criterion("age", _age_label, _age),
    Criterion("acr", _fixed(L("SLE by ACR criteria with antinuclear antibodies", "LES selon l'ACR avec anticorps "
                              "antinucléaires")), _yes("acr_and_ana")),
    Criterion("sledai", lambda r: L(f"SELENA-SLEDAI {r.sledai.text()}",
                                    f"SELENA-SLEDAI {french_limit(r.sledai.text())}"), _sledai),
    Criterion("prednisone", _prednisone_label, _prednisone),
    Criterion("refractory", _fixed(L("Refractory to an immunosuppressant at or above its threshold",
                                     "Réfractaire à un immunosuppresseur à dose suffisante")), _refractory),
    Criterion("consent", _fixed(L("Written consent signed", "Consentement écrit signé")), _yes("consent")),
    Criterion("pregnancy", _fixed(L("Negative pregnancy test (women of childbearing potential)",
                                    "Test de grossesse négatif (femme en âge de procréer)")), _pregnancy),
    Criterion("contraception", _fixed(L("Effective contraception (women of childbearing potential)",
                                        "Contraception efficace (femme en âge de procréer)")), _contraception),
    _exclusion("lvef", "LVEF", "FEVG", lambda c: c.lvef),
    _exclusion("ast", "AST (x ULN)", "ASAT (x LSN)", lambda c: c.ast_alt_uln_multiple, "ast_uln"),
    _exclusion("alt", "ALT (x ULN)", "ALAT (x LSN)", lambda c: c.ast_alt_uln_multiple, "alt_uln"),
    _exclusion("mpap", "mean PAP (mmHg)", "PAPm (mmHg)", lambda c: c.mean_pap),
    _exclusion("pao2", "PaO2 (mmHg)", "PaO2 (mmHg)", lambda c: c.pao2_mmhg),
    _exclusion("paco2", "PaCO2 (mmHg)", "PaCO2 (mmHg)", lambda c: c.paco2_mmhg),
    _exclusion("neutrophils", "neutrophils (G/L)", "neutrophiles (G/L)", lambda c: c.neutrophils_g_l),
    _exclusion("platelets", "platelets (G/L)", "plaquettes (G/L)", lambda c: c.platelets_g_l),
    _exclusion("hemoglobin", "haemoglobin (g/dL)", "hémoglobine (g/dL)", lambda c: c.hemoglobin_g_dl),
    _exclusion("cd4", "CD4 (/mm3)", "CD4 (/mm3)", lambda c: c.cd4_per_mm3),
    _exclusion("crcl", "creatinine clearance (mL/min)", "clairance de la créatinine (mL/min)",
               lambda c: c.crcl_ml_min),
    Criterion("belimumab", _washout_label(L("belimumab", "bélimumab"), lambda c: c.belimumab_washout_months),
              _washout("belimumab", lambda c: c.belimumab_washout_months)),
    Criterion("rituximab", _washout_label(L("rituximab", "rituximab"), lambda c: c.rituximab_washout_months),
              _washout("rituximab", lambda c: c.rituximab_washout_months)),
)


def _part(criterion: Criterion, data: Mapping[str, Any], rules: EligibilityRules) -> Part:
    outcome = criterion.check(data, rules)
    state, detail = outcome if isinstance(outcome, tuple) else (outcome, None)
    label = criterion.label(rules)
    if detail is not None:
        label = L(f"{label.en} ({detail.en})", f"{label.fr} ({detail.fr})")
    return Part(criterion.key, label, state)


def eligibility(data: Mapping[str, Any], rules: EligibilityRules | None = None) -> ScoreResult:
    """True when every criterion is met; False when any fails; not computable while any is unknown."""
    rules = rules if rules is not None else published_rules().eligibility
    parts = tuple(_part(c, data, rules) for c in CRITERIA)
    failed = [p for p in parts if p.value == FAILED]
    unknown = [p for p in parts if p.value == UNKNOWN]
    if failed:
        return ScoreResult("eligibility", False, RULE, parts)
    if unknown:
        return ScoreResult("eligibility", None, RULE, parts, L("unknown: " + ", ".join(p.label.en for p in unknown),
                                                                "inconnu : " + ", ".join(p.label.fr for p in unknown)))
    return ScoreResult("eligibility", True, RULE, parts)
