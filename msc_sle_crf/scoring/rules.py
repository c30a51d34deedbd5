"""Scoring configuration: every rule the clinical reference marks DECISION or CONFIRM WITH SPONSOR.

Lives under ``scoring:`` in ``forms/study.yaml``; the defaults below are the reference's decisions, so a study file
without the section scores as documented. Changing a value there changes the rule version shown with the scores.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Threshold(_Frozen):
    """A limit and which side of it fails: ``op: lt, value: 40`` means "fails when below 40"."""

    op: Literal["lt", "le", "gt", "ge"]
    value: Decimal

    def fails(self, x: Decimal) -> bool:
        return {"lt": x < self.value, "le": x <= self.value, "gt": x > self.value, "ge": x >= self.value}[self.op]

    def text(self) -> str:
        return {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}[self.op] + " " + format(self.value, "f")


class SriRules(_Frozen):
    sledai_drop: int = 4  # SELENA-SLEDAI must fall by at least this
    max_new_bilag_b: int = 1
    pga_worsening_tenths: int = 3  # a rise of 0.3 or more is worsening
    rescue_medication_is_failure: bool = False  # CONFIRM WITH SPONSOR: optional flag, off by default
    version: str = "SRI-4 (Furie 2009)"


class ResponseRules(_Frozen):
    """MCR / PCR over the visits. CONFIRM WITH SPONSOR (the SAP gives the exact rules)."""

    mcr_state: Literal["all_systems_C_or_better"] = "all_systems_C_or_better"
    pcr_state: Literal["no_A_and_at_most_one_B"] = "no_A_and_at_most_one_B"
    sustained: bool = True  # once reached, every later visit must keep it
    visits: tuple[str, ...] = ("M3", "M6", "M9", "M12")
    label: str = "per SAP (draft rule, to be confirmed)"


class SteroidRules(_Frozen):
    """Prednisone-equivalence factors (mg prednisone per mg of the drug). CONFIRM WITH SPONSOR (betamethasone)."""

    factors: dict[str, Decimal] = Field(default_factory=lambda: {
        "prednisone": Decimal(1), "prednisolone": Decimal(1), "methylprednisolone": Decimal("1.25"),
        "dexamethasone": Decimal(5) / Decimal("0.75"), "hydrocortisone": Decimal("0.25"),
        "betamethasone": Decimal(5) / Decimal("0.75"),
    })
    window_days: int = 28  # averaging window before each visit
    include_pulses: bool = False
    responder_reduction_percent: Decimal = Decimal(25)
    version: str = "factors v1 (betamethasone 0.75 mg = 5 mg prednisone)"


class ToleranceRules(_Frozen):
    window_days: int = 10  # D0 to D10 inclusive
    min_grade: int = 3  # "not tolerated" if any toxicity of grade >= 3
    related: tuple[str, ...] = ("related", "probably_related", "possibly_related")  # relationship codes counted


class EligibilityRules(_Frozen):
    """Inclusion and exclusion limits; each says which side fails. CONFIRM WITH SPONSOR (> or >=)."""

    age_min: int = 18
    age_max: int = 70
    sledai_min: int = 6
    prednisone_min_mg: Decimal = Decimal(6)
    prednisone_min_days: int = 28
    lvef: Threshold = Threshold(op="lt", value=Decimal(40))
    ast_alt_uln_multiple: Threshold = Threshold(op="gt", value=Decimal(2))
    mean_pap: Threshold = Threshold(op="gt", value=Decimal(50))
    pao2_mmhg: Threshold = Threshold(op="lt", value=Decimal(70))
    paco2_mmhg: Threshold = Threshold(op="gt", value=Decimal(50))
    neutrophils_g_l: Threshold = Threshold(op="lt", value=Decimal("0.5"))
    platelets_g_l: Threshold = Threshold(op="lt", value=Decimal(30))
    hemoglobin_g_dl: Threshold = Threshold(op="lt", value=Decimal(8))
    cd4_per_mm3: Threshold = Threshold(op="lt", value=Decimal(200))
    crcl_ml_min: Threshold = Threshold(op="lt", value=Decimal(30))
    belimumab_washout_months: int = 2
    rituximab_washout_months: int = 6


class ScoringRules(_Frozen):
    bilag_profile: Literal["classic_9_3_1", "bilag2004_12_8_1"] = "classic_9_3_1"
    sri: SriRules = SriRules()
    response: ResponseRules = ResponseRules()
    steroids: SteroidRules = SteroidRules()
    tolerance: ToleranceRules = ToleranceRules()
    eligibility: EligibilityRules = EligibilityRules()
    sf36_min_items_fraction: Decimal | None = None  # None: RAND rule (mean of the items answered)
