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
from msc_sle_crf.scoring.rules import EligibilityRules, Threshold

MET, FAILED, UNKNOWN = "met", "failed", "unknown"
RULE = "MSC-SLE eligibility (registry text; limits configurable, to be confirmed against the protocol)"


@dataclass(frozen=True)
class Criterion:
    key: str
    label: L
    check: Callable[[Mapping[str, Any], EligibilityRules], str]
    limit: Callable[[EligibilityRules], Threshold] | None = None  # shown with the label: "LVEF < 40"


def _num(data: Mapping[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    return None if value is None else Decimal(str(value))


def _threshold(key: str, get: Callable[[EligibilityRules], Threshold]) -> Callable[[Mapping[str, Any],
                                                                                      EligibilityRules], str]:
    def check(data: Mapping[str, Any], rules: EligibilityRules) -> str:
        value = _num(data, key)
        if value is None:
            return UNKNOWN
        return FAILED if get(rules).fails(value) else MET
    return check


def _age(data: Mapping[str, Any], rules: EligibilityRules) -> str:
    age = data.get("age")
    return UNKNOWN if age is None else MET if rules.age_min <= int(age) <= rules.age_max else FAILED


def _sledai(data: Mapping[str, Any], rules: EligibilityRules) -> str:
    score = data.get("sledai")
    return UNKNOWN if score is None else MET if int(score) >= rules.sledai_min else FAILED


def _prednisone(data: Mapping[str, Any], rules: EligibilityRules) -> str:
    dose, days = _num(data, "prednisone_mg_day"), data.get("prednisone_days")
    if dose is None or days is None:
        return UNKNOWN
    return MET if dose >= rules.prednisone_min_mg and int(days) >= rules.prednisone_min_days else FAILED


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


CRITERIA: tuple[Criterion, ...] = (
    Criterion("age", L("Age 18-70 years", "Âge 18-70 ans"), _age),
    Criterion("acr", L("SLE by ACR criteria with antinuclear antibodies", "LES selon l'ACR avec anticorps "
                       "antinucléaires"), _yes("acr_and_ana")),
    Criterion("sledai", L("SELENA-SLEDAI >= 6", "SELENA-SLEDAI >= 6"), _sledai),
    Criterion("prednisone", L("Prednisone >= 6 mg/day for >= 28 days", "Prednisone >= 6 mg/j depuis >= 28 jours"),
              _prednisone),
    Criterion("refractory", L("Refractory to an immunosuppressant at or above its threshold",
                              "Réfractaire à un immunosuppresseur à dose suffisante"), _yes("refractory")),
    Criterion("consent", L("Written consent signed", "Consentement écrit signé"), _yes("consent")),
    Criterion("pregnancy", L("Negative pregnancy test (women of childbearing potential)",
                             "Test de grossesse négatif (femme en âge de procréer)"), _pregnancy),
    Criterion("contraception", L("Effective contraception (women of childbearing potential)",
                                 "Contraception efficace (femme en âge de procréer)"), _contraception),
    Criterion("lvef", L("Exclusion: LVEF", "Exclusion : FEVG"),
              _threshold("lvef", lambda c: c.lvef), lambda c: c.lvef),
    Criterion("ast", L("Exclusion: AST (x ULN)", "Exclusion : ASAT (x LSN)"),
              _threshold("ast_uln", lambda c: c.ast_alt_uln_multiple), lambda c: c.ast_alt_uln_multiple),
    Criterion("alt", L("Exclusion: ALT (x ULN)", "Exclusion : ALAT (x LSN)"),
              _threshold("alt_uln", lambda c: c.ast_alt_uln_multiple), lambda c: c.ast_alt_uln_multiple),
    Criterion("mpap", L("Exclusion: mean PAP (mmHg)", "Exclusion : PAPm (mmHg)"),
              _threshold("mpap", lambda c: c.mean_pap), lambda c: c.mean_pap),
    Criterion("pao2", L("Exclusion: PaO2 (mmHg)", "Exclusion : PaO2 (mmHg)"),
              _threshold("pao2", lambda c: c.pao2_mmhg), lambda c: c.pao2_mmhg),
    Criterion("paco2", L("Exclusion: PaCO2 (mmHg)", "Exclusion : PaCO2 (mmHg)"),
              _threshold("paco2", lambda c: c.paco2_mmhg), lambda c: c.paco2_mmhg),
    Criterion("neutrophils", L("Exclusion: neutrophils (G/L)", "Exclusion : neutrophiles (G/L)"),
              _threshold("neutrophils", lambda c: c.neutrophils_g_l), lambda c: c.neutrophils_g_l),
    Criterion("platelets", L("Exclusion: platelets (G/L)", "Exclusion : plaquettes (G/L)"),
              _threshold("platelets", lambda c: c.platelets_g_l), lambda c: c.platelets_g_l),
    Criterion("hemoglobin", L("Exclusion: haemoglobin (g/dL)", "Exclusion : hémoglobine (g/dL)"),
              _threshold("hemoglobin", lambda c: c.hemoglobin_g_dl), lambda c: c.hemoglobin_g_dl),
    Criterion("cd4", L("Exclusion: CD4 (/mm3)", "Exclusion : CD4 (/mm3)"),
              _threshold("cd4", lambda c: c.cd4_per_mm3), lambda c: c.cd4_per_mm3),
    Criterion("crcl", L("Exclusion: creatinine clearance (mL/min)", "Exclusion : clairance de la créatinine (mL/min)"),
              _threshold("crcl", lambda c: c.crcl_ml_min), lambda c: c.crcl_ml_min),
    Criterion("belimumab", L("Exclusion: belimumab within the wash-out (months)",
                             "Exclusion : bélimumab dans la fenêtre (mois)"),
              _washout("belimumab", lambda c: c.belimumab_washout_months)),
    Criterion("rituximab", L("Exclusion: rituximab within the wash-out (months)",
                             "Exclusion : rituximab dans la fenêtre (mois)"),
              _washout("rituximab", lambda c: c.rituximab_washout_months)),
)


def _label(criterion: Criterion, rules: EligibilityRules) -> L:
    months = {"belimumab": rules.belimumab_washout_months, "rituximab": rules.rituximab_washout_months}
    if criterion.key in months:
        return L(criterion.label.en.replace("(months)", f"of {months[criterion.key]} months"),
                 criterion.label.fr.replace("(mois)", f"de {months[criterion.key]} mois"))
    if criterion.limit is None:
        return criterion.label
    limit = criterion.limit(rules).text()
    return L(f"{criterion.label.en} {limit}", f"{criterion.label.fr} {limit.replace('.', ',')}")


def eligibility(data: Mapping[str, Any], rules: EligibilityRules | None = None) -> ScoreResult:
    """True when every criterion is met; False when any fails; not computable while any is unknown."""
    rules = rules or EligibilityRules()
    parts = tuple(Part(c.key, _label(c, rules), c.check(data, rules)) for c in CRITERIA)
    failed = [p for p in parts if p.value == FAILED]
    unknown = [p for p in parts if p.value == UNKNOWN]
    if failed:
        return ScoreResult("eligibility", False, RULE, parts)
    if unknown:
        return ScoreResult("eligibility", None, RULE, parts, L("unknown: " + ", ".join(p.label.en for p in unknown),
                                                                "inconnu : " + ", ".join(p.label.fr for p in unknown)))
    return ScoreResult("eligibility", True, RULE, parts)
