"""Cockcroft-Gault creatinine clearance (clinical-reference.md section 9).

CrCl (mL/min) = (140 - age) x weight (kg) / (72 x SCr in mg/dL), x 0.85 for a woman. Creatinine in µmol/L is
converted with 88.4 (one code path, the reference's DECISION). Actual body weight. The value is exact: it is shown
with one decimal place, but the exclusion "< 30 mL/min" is decided on the exact value (29.97 is shown 30.0 and
excludes).
"""

from __future__ import annotations

from decimal import Decimal

from msc_sle_crf.i18n import L
from msc_sle_crf.scoring.common import Part, ScoreInputError, ScoreResult, not_computable

RULE = "Cockcroft-Gault 1976, x 0.85 if female, SCr µmol/L / 88.4 = mg/dL"
UMOL_PER_MG_DL = Decimal("88.4")


def cockcroft_gault(age: int | None, weight_kg: Decimal | None, creatinine: Decimal | None, unit: str,
                    sex: str | None) -> ScoreResult:
    missing = [name for name, v in (("age", age), ("weight", weight_kg), ("creatinine", creatinine), ("sex", sex))
               if v is None]
    if missing:
        return not_computable("crcl", RULE, L("missing: " + ", ".join(missing), "manquant : " + ", ".join(missing)))
    assert age is not None and weight_kg is not None and creatinine is not None and sex is not None
    if unit not in ("µmol/L", "umol/L", "mg/dL"):
        raise ScoreInputError(L(f"creatinine unit '{unit}' is not µmol/L or mg/dL",
                                f"unité de créatinine « {unit} » : µmol/L ou mg/dL attendu"))
    if creatinine <= 0 or weight_kg <= 0 or not 0 < age < 140:
        raise ScoreInputError(L("age, weight and creatinine must be positive (age below 140)",
                                "âge, poids et créatinine doivent être positifs (âge inférieur à 140)"))
    if sex not in ("F", "M"):
        raise ScoreInputError(L("sex must be F or M", "sexe : F ou M"))
    mg_dl = creatinine if unit == "mg/dL" else creatinine / UMOL_PER_MG_DL
    crcl = Decimal(140 - age) * weight_kg / (72 * mg_dl)
    if sex == "F":
        crcl *= Decimal("0.85")
    parts = (Part("age", L("Age (years)", "Âge (ans)"), age), Part("weight", L("Weight (kg)", "Poids (kg)"), weight_kg),
             Part("scr", L("Creatinine (mg/dL)", "Créatinine (mg/dL)"), mg_dl),
             Part("sex", L("Sex", "Sexe"), sex))
    return ScoreResult("crcl", crcl, RULE, parts)
