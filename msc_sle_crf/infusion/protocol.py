"""Infusion-day configuration (``infusion:`` in forms/study.yaml). Defaults are the clinical reference's
DECISION (section 11, vital signs; section 10, dose): CONFIRM WITH SPONSOR the protocol's own schedule."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TimePoint(_Frozen):
    """A planned vital-sign reading: ``offset_min`` after the start or the end of the infusion."""

    id: str = Field(pattern=r"^[A-Z][A-Z0-9]{0,7}$")
    anchor: Literal["start", "end"]
    offset_min: int
    label_en: str
    label_fr: str


def _default_points() -> tuple[TimePoint, ...]:
    points = [TimePoint(id="BASE", anchor="start", offset_min=0, label_en="Baseline (before the start)",
                        label_fr="Référence (avant le début)")]
    for minutes in (15, 30, 45, 60):
        points.append(TimePoint(id=f"T{minutes}", anchor="start", offset_min=minutes,
                                label_en=f"{minutes} min after the start", label_fr=f"{minutes} min après le début"))
    points.append(TimePoint(id="END", anchor="end", offset_min=0, label_en="End of the infusion",
                            label_fr="Fin de la perfusion"))
    for minutes, en, fr in ((30, "30 min after the end", "30 min après la fin"), (60, "1 h after the end",
                            "1 h après la fin"), (120, "2 h after the end", "2 h après la fin"),
                            (240, "4 h after the end", "4 h après la fin")):
        points.append(TimePoint(id=f"P{minutes}", anchor="end", offset_min=minutes, label_en=en, label_fr=fr))
    return tuple(points)


class AlertLimits(_Frozen):
    fever_c: Decimal = Decimal("38.0")  # CTCAE fever starts at 38.0 °C
    spo2_min: int = 92  # SpO2 below this needs review
    sbp_fall_mmhg: int = 20  # fall in systolic pressure from baseline
    sbp_min: int = 90
    hr_max: int = 120
    hr_min: int = 50


class InfusionProtocol(_Frozen):
    min_duration_min: int = 30
    max_duration_min: int = 60
    dose_tolerance_percent: Decimal = Decimal(10)  # labelled cells vs planned: a larger gap is flagged
    due_before_min: int = 2  # a reading is "due" this long before its planned time
    overdue_after_min: int = 5  # ... and overdue this long after
    undo_stop_minutes: int = Field(default=5, ge=0, le=30)  # a Stop made by mistake can be undone this long after
    vital_signs: tuple[TimePoint, ...] = Field(default_factory=_default_points)
    alerts: AlertLimits = AlertLimits()
