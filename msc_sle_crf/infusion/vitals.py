"""The vital-sign schedule of the infusion day and the readings that need review.

Planned times come from the configured time points (start + offset, end + offset); the "during" points after
the actual end are dropped. A point is upcoming, due, overdue (until entered or marked not done with a reason),
done or not done. A reading is flagged against the limits and the baseline, each flag naming the CTCAE term of the
adverse event it may be.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from msc_sle_crf.i18n import L
from msc_sle_crf.infusion.protocol import InfusionProtocol, TimePoint
from msc_sle_crf.rounding import round_half_up
from msc_sle_crf.scoring.ctcae import fever_grade


class PointState(StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"
    DONE = "done"
    NOT_DONE = "not_done"
    WAITING = "waiting"  # its anchor (start or end) has not happened yet


@dataclass(frozen=True)
class PlannedPoint:
    point: TimePoint
    planned: dt.datetime | None
    state: PointState
    seconds_to_due: float | None  # countdown to the planned time (negative when late)

    @property
    def label(self) -> L:
        return L(self.point.label_en, self.point.label_fr)


def schedule(protocol: InfusionProtocol, start: dt.datetime | None, end: dt.datetime | None, now: dt.datetime, *,
             done: set[str], not_done: set[str]) -> list[PlannedPoint]:
    out: list[PlannedPoint] = []
    for point in protocol.vital_signs:
        anchor = start if point.anchor == "start" else end
        if point.id == "BASE":
            planned = start or now  # before the start: due now, until entered
        elif anchor is None:
            planned = None
        else:
            planned = anchor + dt.timedelta(minutes=point.offset_min)
            if point.anchor == "start" and end is not None and planned > end and point.id not in done:
                continue  # the infusion ended before this "during" reading
        if point.id in done:
            state = PointState.DONE
        elif point.id in not_done:
            state = PointState.NOT_DONE
        elif planned is None:
            state = PointState.WAITING
        elif point.id == "BASE" and start is None:
            state = PointState.DUE
        elif now > planned + dt.timedelta(minutes=protocol.overdue_after_min):
            state = PointState.OVERDUE
        elif now >= planned - dt.timedelta(minutes=protocol.due_before_min):
            state = PointState.DUE
        else:
            state = PointState.UPCOMING
        countdown = (planned - now).total_seconds() if planned is not None else None
        out.append(PlannedPoint(point, planned, state, countdown))
    return out


def next_point(points: list[PlannedPoint]) -> PlannedPoint | None:
    """What the nurse should do next: the first overdue or due reading, else the next upcoming one."""
    for wanted in (PointState.OVERDUE, PointState.DUE, PointState.UPCOMING):
        for p in points:
            if p.state is wanted:
                return p
    return None


@dataclass(frozen=True)
class Flag:
    code: str
    message: L
    ae_term: str  # CTCAE v5.0 term to pre-fill an adverse event with
    grade: int | None = None  # only where CTCAE defines it from the value (fever); the investigator grades


# The measure each flag is about (``formdef.bindings.MEASURES``).
FLAG_MEASURES = {"fever": "temperature", "spo2": "spo2", "hypotension": "systolic_bp", "tachycardia": "heart_rate",
                 "bradycardia": "heart_rate"}


def _fr(value: object) -> str:
    """A number as written in French: decimal comma (``38,3``)."""
    return str(value).replace(".", ",")


def review(reading: Mapping[str, Decimal | int | None], baseline: Mapping[str, Decimal | int | None] | None,
           protocol: InfusionProtocol) -> list[Flag]:
    """Values that need review. ``reading`` and ``baseline`` name the measures (``temperature``, ``heart_rate``,
    ``systolic_bp``, ``diastolic_bp``, ``respiratory_rate``, ``spo2``); which items hold them is a study binding.
    Numbers are written as each language writes them (``Fever 38.3 °C``, ``Fièvre 38,3 °C``)."""
    limits = protocol.alerts
    flags: list[Flag] = []
    temp = reading.get("temperature")
    if temp is not None and Decimal(temp) >= limits.fever_c:
        grade = fever_grade(Decimal(temp)).value
        flags.append(Flag("fever", L(f"Fever {temp} °C" + (f" (CTCAE grade {grade})" if grade else " (above 40 °C: "
                                                                                          "grade 3 or 4 by duration)"),
                                     f"Fièvre {_fr(temp)} °C" + (f" (grade CTCAE {grade})" if grade else
                                                                 " (> 40 °C : grade 3 ou 4 selon la durée)")),
                          "Fever", grade if isinstance(grade, int) else None))
    spo2 = reading.get("spo2")
    if spo2 is not None and int(spo2) < limits.spo2_min:
        flags.append(Flag("spo2", L(f"SpO2 {spo2} % (below {limits.spo2_min} %)",
                                    f"SpO2 {_fr(spo2)} % (sous {limits.spo2_min} %)"), "Hypoxia"))
    sbp = reading.get("systolic_bp")
    base_sbp = baseline.get("systolic_bp") if baseline else None
    if sbp is not None:
        fall = int(base_sbp) - int(sbp) if base_sbp is not None else 0
        if fall >= limits.sbp_fall_mmhg or int(sbp) < limits.sbp_min:
            flags.append(Flag("hypotension", L(
                f"Systolic pressure {sbp} mmHg" + (f", {fall} mmHg below baseline" if fall > 0 else ""),
                f"Pression systolique {sbp} mmHg" + (f", {fall} mmHg sous la référence" if fall > 0 else "")),
                "Hypotension"))
    hr = reading.get("heart_rate")
    if hr is not None and int(hr) > limits.hr_max:
        flags.append(Flag("tachycardia", L(f"Heart rate {hr}/min (above {limits.hr_max})",
                                           f"Fréquence cardiaque {hr}/min (au-dessus de {limits.hr_max})"),
                          "Sinus tachycardia"))
    elif hr is not None and int(hr) < limits.hr_min:
        flags.append(Flag("bradycardia", L(f"Heart rate {hr}/min (below {limits.hr_min})",
                                           f"Fréquence cardiaque {hr}/min (sous {limits.hr_min})"),
                          "Sinus bradycardia"))
    return flags


@dataclass(frozen=True)
class DoseCheck:
    planned_cells_e6: Decimal
    labelled_cells_e6: Decimal
    difference_percent: Decimal
    within_tolerance: bool


def dose_check(cohort_e6_per_kg: Decimal, weight_kg: Decimal, labelled_cells_e6: Decimal,
               protocol: InfusionProtocol) -> DoseCheck:
    planned = cohort_e6_per_kg * weight_kg
    exact = (labelled_cells_e6 - planned) / planned * 100
    # The decision uses the exact difference (10.04 % is outside a 10 % tolerance); the figure shown is rounded.
    return DoseCheck(planned, labelled_cells_e6, round_half_up(exact, 1), abs(exact) <= protocol.dose_tolerance_percent)
