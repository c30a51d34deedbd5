"""Named functions that YAML forms may reference: calculated items and cross-item checks.

This is the one place they are registered. A form names a function and lists its inputs; the compiler
refuses unknown names and wrong input counts. Every function is pure, typed and unit-tested
(tests/test_form_functions.py). A missing input gives ``None`` ("not computable"), never 0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from msc_sle_crf.i18n import L

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
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


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
