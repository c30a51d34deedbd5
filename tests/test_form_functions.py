"""Registered calculations and cross-item checks: each against hand-worked values and its boundaries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from msc_sle_crf.formdef.functions import (
    CALCULATIONS,
    CHECKS,
    bmi,
    diastolic_below_systolic,
    end_not_before_start,
    mean_arterial_pressure,
    minutes_between,
)


def test_registry_holds_what_the_forms_may_name() -> None:
    assert {"bmi", "mean_arterial_pressure", "minutes_between"} <= set(CALCULATIONS)
    assert {"diastolic_below_systolic", "end_not_before_start"} <= set(CHECKS)
    for fn in [*CALCULATIONS.values(), *CHECKS.values()]:
        assert fn.description.en and fn.description.fr


def test_bmi() -> None:
    assert bmi(Decimal("62.5"), Decimal(165)) == Decimal("23.0")  # 62.5 / 1.65^2 = 22.957
    assert bmi(Decimal(70), Decimal(175)) == Decimal("22.9")  # 22.857
    assert bmi(None, Decimal(170)) is None
    assert bmi(Decimal(70), None) is None
    assert bmi(Decimal(70), Decimal(0)) is None


def test_mean_arterial_pressure() -> None:
    assert mean_arterial_pressure(120, 80) == Decimal(93)  # 93.33
    assert mean_arterial_pressure(121, 80) == Decimal(94)  # 93.67
    assert mean_arterial_pressure(120, None) is None


def test_minutes_between() -> None:
    assert minutes_between(dt.time(10, 0), dt.time(10, 45)) == 45
    assert minutes_between(dt.time(10, 30), dt.time(10, 0)) == -30
    assert minutes_between(dt.datetime(2026, 1, 1, 23, 50), dt.datetime(2026, 1, 2, 0, 20)) == 30
    assert minutes_between(None, dt.time(1, 0)) is None
    assert minutes_between(dt.time(1, 0), dt.datetime(2026, 1, 1)) is None


def test_diastolic_below_systolic() -> None:
    assert diastolic_below_systolic(120, 80) is None
    message = diastolic_below_systolic(80, 80)
    assert message is not None and "lower than systolic" in message.en
    assert diastolic_below_systolic(Decimal(90), Decimal(100)) is not None


def test_end_not_before_start() -> None:
    assert end_not_before_start(dt.date(2020, 1, 2), dt.date(2020, 1, 2)) is None
    assert end_not_before_start(dt.date(2020, 1, 2), dt.date(2020, 1, 1)) is not None
    assert end_not_before_start(dt.time(10, 0), dt.time(9, 59)) is not None
    # partial dates compare on what both know: 2019-03 vs 2019-03-14 is not a contradiction
    assert end_not_before_start("2019-03", "2019-03-14") is None
    assert end_not_before_start("2019-03-14", "2019-03") is None
    assert end_not_before_start("2019-04", "2019-03-31") is not None
    assert end_not_before_start(dt.date(2020, 1, 1), dt.time(9, 0)) is None  # not comparable: no claim
