"""Corticosteroids: prednisone equivalents and the "average dose reduced by 25 % from M0" endpoint.

Clinical-reference.md section 8. Equivalent doses, the averaging window and whether IV pulses count in the mean
are configuration (``scoring.steroids``). The daily equivalent is the sum over every corticosteroid given that day,
IV pulses included (they are flagged, not dropped: whether the *mean* counts them is the rule's choice). A visit's
dose is the mean daily equivalent over the ``window_days`` days before it (time-weighted: every day counts once).
Values are exact; a record with an unknown drug, dose, start or pulse flag makes the result not computable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from msc_sle_crf.i18n import L
from msc_sle_crf.scoring.common import Part, ScoreInputError, ScoreResult, not_computable
from msc_sle_crf.scoring.rules import Requirement, SteroidRules, published_rules


@dataclass(frozen=True)
class SteroidRecord:
    drug: str | None
    daily_dose_mg: Decimal | None
    start: dt.date | None
    end: dt.date | None = None  # None: ongoing
    pulse: bool | None = False  # IV pulse (e.g. methylprednisolone 500 mg); None: not recorded

    @property
    def complete(self) -> bool:
        return None not in (self.drug, self.daily_dose_mg, self.start, self.pulse)

    def given_on(self, day: dt.date) -> bool:
        return self.start is not None and self.start <= day and (self.end is None or day <= self.end)


def _rules(rules: SteroidRules | None) -> SteroidRules:
    return rules if rules is not None else published_rules().steroids


def equivalent_mg(record: SteroidRecord, rules: SteroidRules | None = None) -> Decimal:
    rules = _rules(rules)
    known = ", ".join(sorted(rules.equivalent_doses))
    drug = (record.drug or "").strip().lower()
    if drug not in rules.equivalent_doses:
        raise ScoreInputError(L(f"no prednisone equivalence for '{record.drug}' (known: {known})",
                                f"pas d'équivalence prednisone pour « {record.drug} » (connus : {known})"))
    if record.daily_dose_mg is None:
        raise ScoreInputError(L(f"{record.drug}: no dose", f"{record.drug} : pas de dose"))
    if record.daily_dose_mg < 0:
        raise ScoreInputError(L("a dose cannot be negative", "une dose ne peut pas être négative"))
    mg = rules.prednisone_mg(drug, record.daily_dose_mg)
    assert mg is not None
    return mg


def daily_equivalent(records: Sequence[SteroidRecord], day: dt.date, rules: SteroidRules | None = None, *,
                     pulses: bool = True) -> Decimal:
    """Prednisone equivalent (mg) given on ``day``: every corticosteroid of the day, IV pulses included unless
    ``pulses`` is False."""
    rules = _rules(rules)
    total = Decimal(0)
    for r in records:
        if r.pulse and not pulses:
            continue
        if r.given_on(day):
            total += equivalent_mg(r, rules)
    return total


def _incomplete(records: Sequence[SteroidRecord]) -> L | None:
    bad = [r for r in records if not r.complete]
    if not bad:
        return None
    what = {"drug": L("drug", "molécule"), "daily_dose_mg": L("dose", "dose"), "start": L("start date",
                                                                                       "date de début"),
            "pulse": L("IV pulse or not", "bolus IV ou non")}
    names = [label for key, label in what.items() if any(getattr(r, key) is None for r in bad)]
    return L(f"{len(bad)} corticosteroid record(s) without " + ", ".join(n.en for n in names),
             f"{len(bad)} corticoïde(s) sans " + ", ".join(n.fr for n in names))


def mean_dose_before(records: Sequence[SteroidRecord], visit: dt.date, rules: SteroidRules | None = None
                     ) -> ScoreResult:
    """Mean daily prednisone equivalent over the window before the visit (the visit day excluded), exact."""
    rules = _rules(rules)
    pulses = "IV pulses included" if rules.include_pulses else "IV pulses excluded"
    rule = (f"mean daily prednisone equivalent over the {rules.window_days} days before the visit, {pulses} "
            f"({rules.version})")
    reason = _incomplete(records)
    if reason is not None:
        return not_computable("prednisone_mean", rule, reason)
    # Each record's prednisone equivalent times the days of the window it covers: the same sum as adding up every
    # day's equivalent, computed once per record.
    first, last = visit - dt.timedelta(days=rules.window_days), visit - dt.timedelta(days=1)
    total = Decimal(0)
    for r in records:
        if r.pulse and not rules.include_pulses:
            continue
        assert r.start is not None
        start, end = max(r.start, first), min(r.end or last, last)
        if start <= end:
            total += equivalent_mg(r, rules) * ((end - start).days + 1)
    mean = total / rules.window_days
    parts = tuple(Part(str(r.drug), L(str(r.drug) + (" (IV pulse)" if r.pulse else ""),
                                      str(r.drug) + (" (bolus IV)" if r.pulse else "")),
                       r.daily_dose_mg, equivalent_mg(r, rules)) for r in records)
    return ScoreResult("prednisone_mean", mean, rule, parts)


def reduction_from_baseline(records: Sequence[SteroidRecord], baseline_visit: dt.date, visit: dt.date,
                            rules: SteroidRules | None = None) -> ScoreResult:
    """Reduction % = (M0 dose - dose) / M0 dose x 100; responder when it meets the configured requirement
    (decided on the exact values)."""
    rules = _rules(rules)
    need = rules.responder_reduction
    rule = f"reduction {need.text()} % of the M0 mean dose ({rules.version})"
    base = mean_dose_before(records, baseline_visit, rules)
    now = mean_dose_before(records, visit, rules)
    if not base.computable or not now.computable:
        return not_computable("steroid_reduction", rule, base.reason or now.reason or L("missing", "manquant"))
    if base.value == 0:
        return not_computable("steroid_reduction", rule, L("no corticosteroid at M0", "pas de corticoïde à M0"))
    percent = (base.value - now.value) / base.value * 100
    parts = (Part("m0", L("M0 mean dose (mg/day)", "Dose moyenne M0 (mg/j)"), base.value),
             Part("visit", L("Visit mean dose (mg/day)", "Dose moyenne visite (mg/j)"), now.value),
             Part("reduction", L("Reduction (%)", "Réduction (%)"), percent))
    return ScoreResult("steroid_reduction", need.met(percent), rule, parts)


def days_at_dose(records: Sequence[SteroidRecord], until: dt.date, dose: Requirement, *, pulses: bool,
                 rules: SteroidRules | None = None, longest: int = 3660) -> ScoreResult:
    """How many consecutive days, up to and including ``until``, the daily prednisone equivalent met ``dose``
    (the eligibility criterion "prednisone >= 6 mg/day for >= 28 days"). Exact daily sums."""
    rules = _rules(rules)
    rule = f"consecutive days with prednisone equivalent {dose.text()} mg/day up to screening ({rules.version})"
    reason = _incomplete(records)
    if reason is not None:
        return not_computable("prednisone_days", rule, reason)
    days = 0
    while days < longest and dose.met(daily_equivalent(records, until - dt.timedelta(days=days), rules,
                                                       pulses=pulses)):
        days += 1
    today_dose = daily_equivalent(records, until, rules, pulses=pulses)
    return ScoreResult("prednisone_days", days, rule,
                       (Part("dose", L("Prednisone equivalent at screening (mg/day)",
                                       "Équivalent prednisone à la sélection (mg/j)"), today_dose),))
