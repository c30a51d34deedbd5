"""Corticosteroids: prednisone equivalents and the "average dose reduced by 25 % from M0" endpoint.

Clinical-reference.md section 8. Factors, the averaging window and whether IV pulses count are configuration
(``scoring.steroids``). The daily equivalent is the sum over every corticosteroid given that day; a visit's dose
is the mean daily equivalent over the ``window_days`` days before it (time-weighted: every day counts once).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from msc_sle_crf.i18n import L
from msc_sle_crf.scoring.common import Part, ScoreInputError, ScoreResult, not_computable
from msc_sle_crf.scoring.rules import SteroidRules


@dataclass(frozen=True)
class SteroidRecord:
    drug: str
    daily_dose_mg: Decimal
    start: dt.date | None
    end: dt.date | None = None  # None: ongoing
    pulse: bool = False  # IV pulse (e.g. methylprednisolone 500 mg): flagged, excluded by default


def equivalent_mg(record: SteroidRecord, rules: SteroidRules) -> Decimal:
    factor = rules.factors.get(record.drug.strip().lower())
    if factor is None:
        raise ScoreInputError(L(f"no prednisone equivalence for '{record.drug}' (known: "
                                f"{', '.join(sorted(rules.factors))})",
                                f"pas d'équivalence prednisone pour « {record.drug} » (connus : "
                                f"{', '.join(sorted(rules.factors))})"))
    if record.daily_dose_mg < 0:
        raise ScoreInputError(L("a dose cannot be negative", "une dose ne peut pas être négative"))
    return record.daily_dose_mg * factor


def daily_equivalent(records: Sequence[SteroidRecord], day: dt.date, rules: SteroidRules | None = None) -> Decimal:
    rules = rules or SteroidRules()
    total = Decimal(0)
    for r in records:
        if r.pulse and not rules.include_pulses:
            continue
        if r.start is not None and r.start <= day and (r.end is None or day <= r.end):
            total += equivalent_mg(r, rules)
    return total


def mean_dose_before(records: Sequence[SteroidRecord], visit: dt.date, rules: SteroidRules | None = None
                     ) -> ScoreResult:
    """Mean daily prednisone equivalent over the window before the visit (the visit day excluded)."""
    rules = rules or SteroidRules()
    rule = f"mean daily prednisone equivalent over the {rules.window_days} days before the visit ({rules.version})"
    if any(r.start is None for r in records):
        return not_computable("prednisone_mean", rule, L("a corticosteroid has no start date",
                                                         "un corticoïde n'a pas de date de début"))
    days = [visit - dt.timedelta(days=n) for n in range(rules.window_days, 0, -1)]
    total = sum((daily_equivalent(records, d, rules) for d in days), Decimal(0))
    mean = (total / len(days)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    parts = tuple(Part(r.drug, L(r.drug, r.drug), r.daily_dose_mg, equivalent_mg(r, rules)) for r in records)
    return ScoreResult("prednisone_mean", mean, rule, parts)


def reduction_from_baseline(records: Sequence[SteroidRecord], baseline_visit: dt.date, visit: dt.date,
                            rules: SteroidRules | None = None) -> ScoreResult:
    """Reduction % = (M0 dose - dose) / M0 dose x 100; responder when >= the configured percentage."""
    rules = rules or SteroidRules()
    rule = f"reduction >= {rules.responder_reduction_percent} % of the M0 mean dose ({rules.version})"
    base = mean_dose_before(records, baseline_visit, rules)
    now = mean_dose_before(records, visit, rules)
    if not base.computable or not now.computable:
        return not_computable("steroid_reduction", rule, base.reason or now.reason or L("missing", "manquant"))
    if base.value == 0:
        return not_computable("steroid_reduction", rule, L("no corticosteroid at M0", "pas de corticoïde à M0"))
    percent = ((base.value - now.value) / base.value * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    parts = (Part("m0", L("M0 mean dose (mg/day)", "Dose moyenne M0 (mg/j)"), base.value),
             Part("visit", L("Visit mean dose (mg/day)", "Dose moyenne visite (mg/j)"), now.value),
             Part("reduction", L("Reduction (%)", "Réduction (%)"), percent))
    responder = (base.value - now.value) * 100 >= rules.responder_reduction_percent * base.value  # exact
    return ScoreResult("steroid_reduction", responder, rule, parts)
