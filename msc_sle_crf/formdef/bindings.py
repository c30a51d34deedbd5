"""Study bindings: every visit, form and item the code relies on, named in ``study.yaml`` (``bindings:``).

The bedside reads the vital signs it charts, the scores read their inputs, the schedule reads the visit dates and
the overview reads the end-of-study reason through these names, never through ids written in Python. The
compiler checks each binding against the form set (the visit exists and holds the form, the group exists, the
item exists in it and has the type the code expects) and reports a wrong one with its file and line, so renaming
``VSTEMP`` in ``vital_signs.yaml`` without renaming its binding fails ``msc-sle-crf forms check``.

Each item field declares the item types it accepts with ``Expect``; the compiler reads those declarations.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

ItemId = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,7}$")]
Ident = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
EventId = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,11}$")]


@dataclass(frozen=True)
class Expect:
    """The item types a bound item may have (values of ``formdef.definitions.ItemType``)."""

    types: tuple[str, ...]


NUMBER = Expect(("integer", "decimal"))
INTEGER = Expect(("integer",))
DECIMAL = Expect(("decimal",))
DATE = Expect(("date",))
TIME = Expect(("time",))
TEXT = Expect(("text",))
YESNO = Expect(("yesno",))
CHOICE = Expect(("choice",))
CODE = Expect(("choice", "text"))

Number = Annotated[ItemId, NUMBER]
Integer = Annotated[ItemId, INTEGER]
Decimal_ = Annotated[ItemId, DECIMAL]
Date = Annotated[ItemId, DATE]
Time = Annotated[ItemId, TIME]
Text = Annotated[ItemId, TEXT]
YesNo = Annotated[ItemId, YESNO]
Choice = Annotated[ItemId, CHOICE]
Code = Annotated[ItemId, CODE]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FormBinding(_Frozen):
    """A form the code uses: at one visit (``event``) or at any visit that holds it; its items are in ``group``
    when one is named."""

    event: EventId | None = None
    form: Ident
    group: Ident | None = None


MEASURES = ("temperature", "heart_rate", "systolic_bp", "diastolic_bp", "respiratory_rate", "spo2")


class VitalSigns(FormBinding):
    timepoint: Code
    time: Time
    temperature: Decimal_
    heart_rate: Integer
    systolic_bp: Integer
    diastolic_bp: Integer
    respiratory_rate: Integer
    spo2: Integer

    def readings(self) -> tuple[str, ...]:
        """The items of the six measured values, in the order the bedside asks for them."""
        return tuple(getattr(self, name) for name in MEASURES)

    def by_name(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Values keyed by item id -> the same values keyed by measure name (``temperature``...)."""
        return {name: values.get(getattr(self, name)) for name in MEASURES}


class Dose(FormBinding):
    cohort: Choice
    weight: Decimal_


class Infusion(FormBinding):
    date: Date
    bag: Text
    lot: Text
    cells: Decimal_
    start_time: Time
    end_time: Time
    comment: Text


class Eligibility(FormBinding):
    """Where the investigator confirms the subject is eligible (the infusion cannot start without it)."""

    confirmed: YesNo


class InfusionDay(_Frozen):
    event: EventId
    vital_signs: VitalSigns
    dose: Dose
    infusion: Infusion
    eligibility: Eligibility


class Tolerance(FormBinding):
    day: Integer


class AdverseEvents(FormBinding):
    term: Text
    grade: Choice
    onset: Date
    relation: Choice
    serious: YesNo


class ToxicityReview(FormBinding):
    """The review at each follow-up visit: it closes that visit's toxicity window; comorbidities are counted."""

    date: Date
    new_event: YesNo
    infection: YesNo
    hospitalisation: YesNo
    comorbidities: Text


class EndOfStudy(FormBinding):
    date: Date
    reason: Choice


class SledaiInputs(FormBinding):
    pga: Number
    descriptors: dict[str, Annotated[ItemId, YESNO]]  # descriptor key (scoring.sledai) -> item


class BilagInputs(FormBinding):
    systems: dict[str, Annotated[ItemId, CHOICE]]  # system key of the configured profile -> item


class Sf36Inputs(FormBinding):
    version: Choice  # the SF-36 version of the questionnaire (v1 or v2): it decides the recode table
    questions: tuple[Annotated[ItemId, CHOICE], ...] = Field(min_length=36, max_length=36)


class Eq5dInputs(FormBinding):
    dimensions: dict[str, Annotated[ItemId, CHOICE]]  # dimension key (scoring.eq5d) -> item


class SteroidInputs(FormBinding):
    drug: Choice
    dose: Decimal_
    start: Date
    end: Date
    pulse: YesNo


class RefractoryRows(FormBinding):
    """One row per immunosuppressant taken: checked against the registry's criterion for that drug."""

    drug: Choice
    dose: Decimal_
    days: Integer
    months: Integer
    failed: YesNo


class ScreeningInputs(FormBinding):
    """What eligibility reads from the screening visit."""

    screening_date: Date
    consent_date: Date
    age: Integer
    sex: Choice
    weight: Decimal_
    creatinine: Decimal_
    acr_and_ana: YesNo
    refractory: RefractoryRows
    steroid_history: FormBinding  # the corticosteroid form of the screening visit (the prednisone criterion)
    belimumab_ever: YesNo
    belimumab_last: Date
    rituximab_ever: YesNo
    rituximab_last: Date
    lvef: Integer
    ast: Integer
    ast_uln: Integer
    alt: Integer
    alt_uln: Integer
    mean_pap: Integer
    pao2: Decimal_
    paco2: Decimal_
    neutrophils: Decimal_
    platelets: Integer
    hemoglobin: Decimal_
    cd4: Integer
    childbearing_potential: YesNo
    pregnancy_test: Choice
    contraception: YesNo


class ScoreInputs(_Frozen):
    selena_sledai: SledaiInputs
    bilag: BilagInputs
    sf36: Sf36Inputs
    eq5d: Eq5dInputs
    corticosteroids: SteroidInputs
    screening: ScreeningInputs


class StudyBindings(_Frozen):
    baseline_visit: EventId  # scores compared with it (SRI-4, steroid reduction)
    follow_up_visits: tuple[EventId, ...] = Field(min_length=1)  # shown as the follow-up on the dashboard
    unscheduled_events: tuple[EventId, ...] = ()  # logs and the end of study: no target date
    visit_date_items: tuple[Annotated[ItemId, DATE], ...] = Field(min_length=1)  # what dates a visit, in order
    infusion_day: InfusionDay
    tolerance: Tolerance
    adverse_events: AdverseEvents
    toxicity_review: ToxicityReview
    end_of_study: EndOfStudy
    scores: ScoreInputs


# ----- what the compiler reads -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BoundItem:
    """One item reference found in the raw ``bindings:`` data, with where it is and what it must be."""

    path: tuple[str | int, ...]  # inside ``bindings``
    item: Any
    expect: Expect
    form_path: tuple[str | int, ...] | None  # the enclosing FormBinding, if any


def _expect_of(annotation: Any) -> Expect | None:
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, Expect):
            return meta
    return None


def walk(model: type[BaseModel], raw: Any, path: tuple[str | int, ...] = (),
         form_path: tuple[str | int, ...] | None = None) -> Iterator[BoundItem]:
    """Every item reference in raw binding data shaped like ``model`` (malformed parts are skipped: the schema
    reports them)."""
    if not isinstance(raw, dict):
        return
    if issubclass(model, FormBinding):
        form_path = path
    for name, info in model.model_fields.items():
        if name not in raw:
            continue
        value = raw[name]
        annotation = info.annotation
        metadata_expect = next((m for m in info.metadata if isinstance(m, Expect)), None)
        expect = metadata_expect or _expect_of(annotation)
        origin = get_origin(annotation)
        args = get_args(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from walk(annotation, value, (*path, name), form_path)
        elif expect is not None:
            yield BoundItem((*path, name), value, expect, form_path)
        elif origin is dict and len(args) == 2 and (inner := _expect_of(args[1])) is not None:
            if isinstance(value, dict):
                for key, item in value.items():
                    yield BoundItem((*path, name, key), item, inner, form_path)
        elif origin is tuple and args and (inner := _expect_of(args[0])) is not None and isinstance(value, list):
            for index, item in enumerate(value):
                yield BoundItem((*path, name, index), item, inner, form_path)


def form_bindings(model: type[BaseModel], raw: Any, path: tuple[str | int, ...] = ()
                  ) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """Every ``FormBinding`` in raw binding data: (its path, its raw mapping)."""
    if not isinstance(raw, dict):
        return
    if issubclass(model, FormBinding):
        yield path, raw
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if name in raw and isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from form_bindings(annotation, raw[name], (*path, name))
