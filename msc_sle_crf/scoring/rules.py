"""Scoring configuration: every rule the clinical reference marks DECISION or CONFIRM WITH SPONSOR.

One place: ``scoring:`` in ``forms/study.yaml``. The models below have no defaults for the study's numbers (limits,
factors, windows, which side of a limit passes): a study file must say them. Code that scores without a compiled
study (a unit test, a script) reads the shipped study file's section through ``published_rules()``, so there is
never a second copy of a number that could differ from study.yaml. Changing a value there changes the rule text
shown with the scores.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from msc_sle_crf.i18n import L

Op = Literal["lt", "le", "gt", "ge"]
_OPS: dict[str, Callable[[Decimal, Decimal], bool]] = {"lt": operator.lt, "le": operator.le, "gt": operator.gt,
                                                       "ge": operator.ge}
_SIGNS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}
# A dose unit as a French reader writes it ("mg/day" reads as English on a French screen).
_UNITS_FR = {"day": "j", "week": "semaine", "month": "mois"}


def french_limit(text: str) -> str:
    """A limit written for an English reader (">= 2.5 mg/kg/day") as a French one writes it ("≥ 2,5 mg/kg/j")."""
    text = text.replace(">=", "≥").replace("<=", "≤").replace(".", ",")
    return "/".join(_UNITS_FR.get(part, part) for part in text.split("/"))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Threshold(_Frozen):
    """An exclusion limit and which side of it fails: ``op: lt, value: 40`` means "fails when below 40"."""

    op: Op
    value: Decimal

    def fails(self, x: Decimal) -> bool:
        return _OPS[self.op](Decimal(x), self.value)

    def text(self) -> str:
        return f"{_SIGNS[self.op]} {format(self.value, 'f')}"


class Requirement(_Frozen):
    """An inclusion requirement and which side of it passes: ``op: ge, value: 6`` means "met from 6 up"; the
    comparison is on the exact value."""

    op: Op
    value: Decimal

    def met(self, x: Decimal | int) -> bool:
        return _OPS[self.op](Decimal(x), self.value)

    def text(self) -> str:
        return f"{_SIGNS[self.op]} {format(self.value, 'f')}"


class Text(_Frozen):
    en: str
    fr: str

    def as_l(self) -> L:
        return L(self.en, self.fr)


class SriRules(_Frozen):
    sledai_drop: int  # SELENA-SLEDAI must fall by at least this
    max_new_bilag_b: int
    pga_worsening_tenths: int  # a rise of this many tenths or more is worsening
    rescue_medication_is_failure: bool  # CONFIRM WITH SPONSOR: optional flag
    version: str


class ResponseRules(_Frozen):
    """MCR / PCR over the visits. CONFIRM WITH SPONSOR (the SAP gives the exact rules)."""

    mcr_state: Literal["all_systems_C_or_better"]
    pcr_state: Literal["no_A_and_at_most_one_B"]
    sustained: bool  # once reached, every later visit must keep it
    visits: tuple[str, ...] = Field(min_length=1)
    label: str


class SteroidRules(_Frozen):
    """Prednisone equivalence as the reference gives it: the dose of each drug equal to ``reference_mg`` of
    prednisone (dexamethasone 0.75 mg = 5 mg prednisone). The factor is the exact ratio (5 / 0.75), computed here
    and nowhere else. CONFIRM WITH SPONSOR (betamethasone; the averaging window; pulses)."""

    reference_mg: Decimal = Field(gt=0)  # mg of prednisone the equivalent doses below are equal to
    equivalent_doses: dict[str, Decimal]  # drug -> mg of the drug equal to reference_mg of prednisone
    window_days: int = Field(ge=1)  # averaging window before each visit (the visit day excluded)
    include_pulses: bool  # whether IV pulses count in the mean dose of the reduction endpoint
    responder_reduction: Requirement  # reduction (% of the M0 mean dose) that makes a responder
    version: str

    @model_validator(mode="after")
    def _positive(self) -> SteroidRules:
        bad = [drug for drug, dose in self.equivalent_doses.items() if dose <= 0]
        if bad:
            raise ValueError(f"equivalent dose must be above 0 for {', '.join(bad)}")
        return self

    @property
    def factors(self) -> dict[str, Decimal]:
        """mg of prednisone per mg of each drug (for display: ``prednisone_mg`` converts without rounding)."""
        return {drug: self.reference_mg / dose for drug, dose in self.equivalent_doses.items()}

    def prednisone_mg(self, drug: str, dose_mg: Decimal) -> Decimal | None:
        """The prednisone equivalent of a dose, multiplied before dividing: 0.9 mg dexamethasone is exactly 6 mg
        (not 5.9999... from a rounded factor). None for a drug without an equivalence."""
        equivalent = self.equivalent_doses.get(drug)
        return None if equivalent is None else dose_mg * self.reference_mg / equivalent


class ToxicityWindow(_Frozen):
    """A window of study days (both ends included, counted from the infusion, D0 = 0) in which toxicity is
    assessed; it is decided once its last day is over and, when ``review_event`` is given, once that visit's
    toxicity review (or the D1-D10 tolerance form) is complete."""

    id: str = Field(pattern=r"^[A-Za-z0-9_]{1,16}$")
    label: Text
    from_day: int = Field(ge=0)
    to_day: int = Field(ge=0)
    review_event: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ToxicityWindow:
        if self.to_day < self.from_day:
            raise ValueError(f"window {self.id}: to_day {self.to_day} is before from_day {self.from_day}")
        return self


class ToxicityRules(_Frozen):
    """CTCAE toxicity per window; "not tolerated" = any toxicity of grade >= ``min_grade`` in the primary window."""

    min_grade: int = Field(ge=1, le=5)
    related: tuple[str, ...] = Field(min_length=1)  # relationship codes counted as related to the cells
    require_review: bool  # a window is decided only once its review form is complete
    primary_window: str  # the window of the primary endpoint (immediate tolerance)
    windows: tuple[ToxicityWindow, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ToxicityRules:
        ids = [w.id for w in self.windows]
        if len(set(ids)) != len(ids):
            raise ValueError("toxicity window ids must be unique")
        if self.primary_window not in ids:
            raise ValueError(f"primary_window '{self.primary_window}' is not one of the windows ({', '.join(ids)})")
        ordered = sorted(self.windows, key=lambda w: w.from_day)
        for before, after in itertools.pairwise(ordered):
            if after.from_day <= before.to_day:
                raise ValueError(f"toxicity windows {before.id} and {after.id} overlap")
        return self

    def window(self, window_id: str) -> ToxicityWindow:
        return next(w for w in self.windows if w.id == window_id)

    @property
    def primary(self) -> ToxicityWindow:
        return self.window(self.primary_window)


class RefractoryCriterion(_Frozen):
    """One immunosuppressant of the registry's list: the dose (in ``dose_unit``, every requirement met) and the
    duration (in ``duration_unit``) at which a failure makes the subject refractory. No dose requirement: any dose
    counts (rituximab)."""

    label: Text
    dose: tuple[Requirement, ...] = ()
    dose_unit: str | None = None
    duration: Requirement | None = None
    duration_unit: Literal["days", "months"] | None = None

    @model_validator(mode="after")
    def _units(self) -> RefractoryCriterion:
        if self.dose and not self.dose_unit:
            raise ValueError("a dose requirement needs its dose_unit")
        if self.duration is not None and self.duration_unit is None:
            raise ValueError("a duration requirement needs its duration_unit")
        return self

    def text(self) -> L:
        dose = " and ".join(f"{r.text()} {self.dose_unit}" for r in self.dose)
        dose_fr = " et ".join(french_limit(f"{r.text()} {self.dose_unit}") for r in self.dose)
        unit = {"days": ("days", "jours"), "months": ("months", "mois")}.get(self.duration_unit or "", ("", ""))
        duration = f" for {self.duration.text()} {unit[0]}" if self.duration else ""
        duration_fr = f" pendant {french_limit(self.duration.text())} {unit[1]}" if self.duration else ""
        en = f"{self.label.en} {dose}{duration}".strip() if dose or duration else f"{self.label.en} (any dose)"
        fr = f"{self.label.fr} {dose_fr}{duration_fr}".strip() if dose or duration else \
            f"{self.label.fr} (toute dose)"
        return L(en, fr)


class EligibilityRules(_Frozen):
    """Inclusion requirements (which side passes) and exclusion limits (which side fails). CONFIRM WITH SPONSOR
    (> or >=)."""

    age_min: Requirement
    age_max: Requirement
    sledai: Requirement
    prednisone_dose: Requirement  # daily prednisone equivalent (mg/day) from the corticosteroid records
    prednisone_days: Requirement  # consecutive days at that dose up to the screening date
    prednisone_pulses: bool  # whether an IV pulse counts in the daily dose for this criterion
    refractory: dict[str, RefractoryCriterion] = Field(min_length=1)  # drug code (screening form) -> criterion
    lvef: Threshold
    ast_alt_uln_multiple: Threshold
    mean_pap: Threshold
    pao2_mmhg: Threshold
    paco2_mmhg: Threshold
    neutrophils_g_l: Threshold
    platelets_g_l: Threshold
    hemoglobin_g_dl: Threshold
    cd4_per_mm3: Threshold
    crcl_ml_min: Threshold
    belimumab_washout_months: int
    rituximab_washout_months: int


class Sf36Rules(_Frozen):
    """SF-36 scoring: the half-scale rule (None: RAND, the mean of the items answered) and the instrument version
    of questionnaires entered under a form version that did not record it."""

    min_items_fraction: Decimal | None = None
    version_of_form: dict[str, Literal["v1", "v2"]] = Field(default_factory=dict)  # form version -> SF-36 version


class ScoringRules(_Frozen):
    bilag_profile: Literal["classic_9_3_1", "bilag2004_12_8_1"]
    sri: SriRules
    response: ResponseRules
    steroids: SteroidRules
    toxicity: ToxicityRules
    eligibility: EligibilityRules
    sf36: Sf36Rules


@lru_cache(maxsize=1)
def published_rules() -> ScoringRules:
    """The rules of the shipped ``forms/study.yaml`` (for scoring without a compiled study: tests, scripts)."""
    import yaml

    from msc_sle_crf.formdef import default_forms_dir

    with (default_forms_dir() / "study.yaml").open(encoding="utf-8") as f:
        data = yaml.safe_load(f)
    return ScoringRules.model_validate(data["scoring"])
