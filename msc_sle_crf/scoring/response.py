"""Major and partial clinical response (MCR, PCR) over the follow-up visits, as a configurable rule.

Per-visit states come from ``bilag.visit_states``; the rule (which state, whether it must be sustained up to the
last visit) is configuration (``scoring.response`` in study.yaml), labelled with the SAP version: the exact PCR
sub-rules are not published (clinical-reference.md section 4, CONFIRM WITH SPONSOR).
"""

from __future__ import annotations

from collections.abc import Mapping

from msc_sle_crf.i18n import L
from msc_sle_crf.scoring.bilag import CLASSIC, Profile, visit_states
from msc_sle_crf.scoring.common import Part, ScoreResult, not_computable
from msc_sle_crf.scoring.rules import ResponseRules, published_rules


def _response(name: str, state: str, visits: Mapping[str, Mapping[str, str | None]], profile: Profile,
              rules: ResponseRules, *, until: str | None, names: Mapping[str, L] | None) -> ScoreResult:
    rule = f"{name.upper()}: {state}{', sustained' if rules.sustained else ''} ({rules.label}; {profile.key})"
    parts: list[Part] = []
    reached_at: str | None = None
    lost = False
    series = rules.visits[:rules.visits.index(until) + 1] if until in rules.visits else rules.visits
    if until is not None:
        rule += f", up to {until}"
    for visit in series:
        grades = visits.get(visit)
        named = (names or {}).get(visit) or L(visit, visit)
        if grades is None:
            parts.append(Part(visit, L(f"“{named.en}”: not done yet", f"« {named.fr} » : pas encore faite"), None))
            continue
        value = visit_states(grades, profile)[state]
        en, fr = ("?", "?") if value is None else ("yes", "oui") if value else ("no", "non")
        parts.append(Part(visit, L(f"“{named.en}”: {state} = {en}", f"« {named.fr} » : {state} = {fr}"), value))
        if value is None:
            return not_computable(name, rule, L(f"BILAG incomplete at the visit “{named.en}”",
                                                f"BILAG incomplet à la visite « {named.fr} »"), tuple(parts))
        if value and reached_at is None:
            reached_at = visit
        elif not value and reached_at is not None:
            lost = True
    done = [p for p in parts if p.value is not None]
    if not done:
        return not_computable(name, rule, L("no follow-up visit graded yet", "aucune visite de suivi cotée"),
                              tuple(parts))
    achieved = reached_at is not None and not (rules.sustained and lost)
    return ScoreResult(name, achieved, rule, tuple(parts))


def major_clinical_response(visits: Mapping[str, Mapping[str, str | None]], profile: Profile = CLASSIC,
                            rules: ResponseRules | None = None, *, until: str | None = None,
                            names: Mapping[str, L] | None = None) -> ScoreResult:
    """Over the response visits (``until``: only those up to that visit, the response as it stood then; ``names``:
    visit -> its name, in the details and reasons)."""
    rules = rules if rules is not None else published_rules().response
    return _response("mcr", rules.mcr_state, visits, profile, rules, until=until, names=names)


def partial_clinical_response(visits: Mapping[str, Mapping[str, str | None]], profile: Profile = CLASSIC,
                              rules: ResponseRules | None = None, *, until: str | None = None,
                              names: Mapping[str, L] | None = None) -> ScoreResult:
    rules = rules if rules is not None else published_rules().response
    return _response("pcr", rules.pcr_state, visits, profile, rules, until=until, names=names)
