"""Named functions that YAML forms may reference: calculated items and cross-item checks.

This is the one place they are registered. A form names a function and lists its inputs; the compiler
refuses unknown names and wrong input counts. Every function is pure, typed and unit-tested
(tests/test_form_functions.py). A missing input gives ``None`` ("not computable"), never 0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from msc_sle_crf.i18n import L
from msc_sle_crf.rounding import round_half_up

Value = Any  # canonical values: Decimal, int, str, datetime.date/time/datetime, tuple[str, ...]


@dataclass(frozen=True)
class CalcFunction:
    name: str
    func: Callable[..., Decimal | int | None]
    arity: int
    description: L
    precision: int | None = None


@dataclass(frozen=True)
class CheckFunction:
    """``func`` returns None when the inputs pass, or the message naming the rule when they do not.
    A check is skipped while any of its inputs is empty (missing data is reported by "required")."""

    name: str
    func: Callable[..., L | None]
    arity: int
    description: L


CALCULATIONS: dict[str, CalcFunction] = {}
CHECKS: dict[str, CheckFunction] = {}


def _register_calc(name: str, arity: int, description: L, precision: int | None = None
                   ) -> Callable[[Callable[..., Decimal | int | None]], Callable[..., Decimal | int | None]]:
    def wrap(f: Callable[..., Decimal | int | None]) -> Callable[..., Decimal | int | None]:
        CALCULATIONS[name] = CalcFunction(name, f, arity, description, precision)
        return f
    return wrap


def _register_check(name: str, arity: int, description: L
                    ) -> Callable[[Callable[..., L | None]], Callable[..., L | None]]:
    def wrap(f: Callable[..., L | None]) -> Callable[..., L | None]:
        CHECKS[name] = CheckFunction(name, f, arity, description)
        return f
    return wrap


def _q(value: Decimal, places: int) -> Decimal:
    return round_half_up(value, places)


# ----- calculations ----------------------------------------------------------------------------------------
@_register_calc("bmi", 2, L("Body mass index = weight (kg) / height (m)²",
                            "Indice de masse corporelle = poids (kg) / taille (m)²"), precision=1)
def bmi(weight_kg: Decimal | None, height_cm: Decimal | None) -> Decimal | None:
    if weight_kg is None or height_cm is None or height_cm <= 0:
        return None
    metres = Decimal(height_cm) / 100
    return _q(Decimal(weight_kg) / (metres * metres), 1)


@_register_calc("mean_arterial_pressure", 2,
                L("Mean arterial pressure = (systolic + 2 × diastolic) / 3",
                  "Pression artérielle moyenne = (systolique + 2 × diastolique) / 3"), precision=0)
def mean_arterial_pressure(systolic: Decimal | int | None, diastolic: Decimal | int | None) -> Decimal | None:
    if systolic is None or diastolic is None:
        return None
    return _q((Decimal(systolic) + 2 * Decimal(diastolic)) / 3, 0)


@_register_calc("minutes_between", 2, L("Minutes from the first time to the second",
                                        "Minutes entre la première heure et la seconde"))
def minutes_between(start: dt.time | dt.datetime | None, end: dt.time | dt.datetime | None) -> int | None:
    """Whole minutes from start to end. Two clock times are taken on the same day (an end before the start
    gives a negative duration, which a check then reports) - an infusion does not cross midnight unnoticed."""
    if start is None or end is None:
        return None
    if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
        return int((end - start).total_seconds() // 60)
    if isinstance(start, dt.time) and isinstance(end, dt.time):
        day = dt.date(2000, 1, 1)
        return int((dt.datetime.combine(day, end) - dt.datetime.combine(day, start)).total_seconds() // 60)
    return None


# ----- cross-item checks -----------------------------------------------------------------------------------
@_register_check("diastolic_below_systolic", 2,
                 L("Diastolic pressure lower than systolic", "Pression diastolique inférieure à la systolique"))
def diastolic_below_systolic(systolic: Decimal | int, diastolic: Decimal | int) -> L | None:
    if Decimal(diastolic) >= Decimal(systolic):
        return L("diastolic pressure must be lower than systolic pressure",
                 "la pression diastolique doit être inférieure à la pression systolique")
    return None


def _comparable(a: Value, b: Value) -> tuple[Any, Any] | None:
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return a, b
    if isinstance(a, dt.datetime) or isinstance(b, dt.datetime):
        return None
    if isinstance(a, dt.date) and isinstance(b, dt.date):
        return a, b
    if isinstance(a, dt.time) and isinstance(b, dt.time):
        return a, b
    if isinstance(a, str) and isinstance(b, str):  # partial dates in ISO form compare on the common prefix
        n = min(len(a), len(b))
        return a[:n], b[:n]
    return None


@_register_check("end_not_before_start", 2,
                 L("End not before start", "Fin non antérieure au début"))
def end_not_before_start(start: Value, end: Value) -> L | None:
    pair = _comparable(start, end)
    if pair is not None and pair[1] < pair[0]:
        return L("the end must not be before the start", "la fin ne doit pas précéder le début")
    return None


def check_names() -> Sequence[str]:
    return sorted(CHECKS)


def calc_names() -> Sequence[str]:
    return sorted(CALCULATIONS)


# ----- calculations backed by the scoring library ---------------------------------------------------------------
def _yes(value: Value) -> bool | None:
    return {"Y": True, "N": False}.get(value) if isinstance(value, str) else None


@_register_calc("selena_sledai_total", 24, L("SELENA-SLEDAI total: sum of the weights of the descriptors ticked "
                                             "(0-105); empty while any descriptor is unanswered",
                                             "Total SELENA-SLEDAI : somme des poids des descripteurs cochés (0-105) ; "
                                             "vide tant qu'un descripteur n'est pas renseigné"))
def selena_sledai_total(*answers: Value) -> int | None:
    from msc_sle_crf.scoring.sledai import DESCRIPTORS, selena_sledai

    result = selena_sledai({d.key: _yes(a) for d, a in zip(DESCRIPTORS, answers, strict=True)})
    return result.value if isinstance(result.value, int) else None


def _bilag(profile_key: str, grades: tuple[Value, ...]) -> int | None:
    from msc_sle_crf.scoring.bilag import PROFILES, bilag_total

    profile = PROFILES[profile_key]
    result = bilag_total({s.key: (g if isinstance(g, str) else None) for s, g in zip(profile.systems, grades,
                                                                                     strict=True)}, profile)
    return result.value if isinstance(result.value, int) else None


@_register_calc("bilag_classic_total", 8, L("BILAG classic total, A=9 B=3 C=1 D=E=0 (0-72)",
                                            "Total BILAG classique, A=9 B=3 C=1 D=E=0 (0-72)"))
def bilag_classic_total(*grades: Value) -> int | None:
    return _bilag("classic_9_3_1", grades)


@_register_calc("bilag2004_total", 9, L("BILAG-2004 total, A=12 B=8 C=1 D=E=0 (0-108)",
                                        "Total BILAG-2004, A=12 B=8 C=1 D=E=0 (0-108)"))
def bilag2004_total(*grades: Value) -> int | None:
    return _bilag("bilag2004_12_8_1", grades)


@_register_calc("eq5d_level_sum", 5, L("EQ-5D-5L level sum MO+SC+UA+PD+AD (5-25)",
                                       "Somme des niveaux EQ-5D-5L MO+SC+UA+PD+AD (5-25)"))
def eq5d_level_sum(*levels: Value) -> int | None:
    if any(not (isinstance(v, str) and v in "12345" and len(v) == 1) for v in levels):
        return None
    return sum(int(v) for v in levels)


@_register_calc("cockcroft_gault", 4, L("Creatinine clearance, Cockcroft-Gault (age, weight, creatinine, sex)",
                                        "Clairance de la créatinine, Cockcroft-Gault (âge, poids, créatinine, sexe)"),
                precision=1)
def cockcroft_gault_calc(age: Value, weight_kg: Value, creatinine_umol: Value, sex: Value) -> Decimal | None:
    from msc_sle_crf.scoring.common import ScoreInputError
    from msc_sle_crf.scoring.renal import cockcroft_gault

    try:
        result = cockcroft_gault(age, weight_kg, creatinine_umol, "µmol/L", sex)
    except ScoreInputError:
        return None
    return result.value if isinstance(result.value, Decimal) else None


@_register_calc("planned_cells", 2, L("Planned cells (x10^6) = cohort dose (x10^6/kg) x weight (kg)",
                                      "Cellules prévues (x10^6) = dose de la cohorte (x10^6/kg) x poids (kg)"),
                precision=1)
def planned_cells(cohort: Value, weight_kg: Value) -> Decimal | None:
    if cohort is None or weight_kg is None:
        return None
    try:
        return _q(Decimal(str(cohort)) * Decimal(weight_kg), 1)
    except ArithmeticError:
        return None


@_register_calc("ratio", 2, L("Value divided by its reference (e.g. x ULN)", "Valeur divisée par sa référence "
                                                                              "(ex. x LSN)"), precision=2)
def ratio(value: Value, reference: Value) -> Decimal | None:
    if value is None or reference is None or Decimal(reference) == 0:
        return None
    return _q(Decimal(value) / Decimal(reference), 2)


# ----- CTCAE checks ----------------------------------------------------------------------------------------------
@_register_check("ctcae_term_known", 1, L("The term is a CTCAE v5.0 term", "Le terme est un terme CTCAE v5.0"))
def ctcae_term_known(term: Value) -> L | None:
    from msc_sle_crf.scoring.ctcae import catalogue

    if str(term) not in catalogue():
        return L(f"'{term}' is not a CTCAE v5.0 term: pick one from the list",
                 f"« {term} » n'est pas un terme CTCAE v5.0 : choisir dans la liste")
    return None


@_register_check("ctcae_grade_exists", 2, L("The grade exists for this CTCAE term",
                                            "Le grade existe pour ce terme CTCAE"))
def ctcae_grade_exists(term: Value, grade: Value) -> L | None:
    from msc_sle_crf.scoring.ctcae import catalogue

    found = catalogue().get(str(term))
    if found is None:
        return None  # reported by ctcae_term_known
    try:
        number = int(str(grade))
    except ValueError:
        return None
    if not found.allows(number):
        allowed = ", ".join(str(g) for g in sorted(found.grades))
        return L(f"grade {number} does not exist for '{term}' (grades: {allowed})",
                 f"le grade {number} n'existe pas pour « {term} » (grades : {allowed})")
    return None
