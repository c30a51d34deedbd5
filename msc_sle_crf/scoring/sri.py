"""SRI-4 (SLE Responder Index), always against the inclusion visit (clinical-reference.md section 3).

Responder only if all hold: SELENA-SLEDAI fell by >= 4; no new BILAG A; at most one new BILAG B; PGA did not rise
by 0.3 or more (compared in integer tenths, never in binary floating point). Any missing component gives
"not computable" (not 0). The four components are part of the result, for audit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from msc_sle_crf.i18n import L, Lang
from msc_sle_crf.rounding import format_decimal
from msc_sle_crf.scoring.bilag import CLASSIC, Profile, bilag_total
from msc_sle_crf.scoring.common import Part, ScoreResult, not_computable
from msc_sle_crf.scoring.rules import SriRules, published_rules
from msc_sle_crf.scoring.sledai import check_pga


@dataclass(frozen=True)
class VisitScores:
    sledai: int | None
    bilag: Mapping[str, str | None]
    pga: Decimal | None
    rescue_medication: bool | None = None


NEW_A = {"B", "C", "D", "E"}
NEW_B = {"C", "D", "E"}


def sri4(baseline: VisitScores, follow_up: VisitScores, profile: Profile = CLASSIC,
         rules: SriRules | None = None) -> ScoreResult:
    rules = rules if rules is not None else published_rules().sri
    rule = f"{rules.version}: SLEDAI drop >= {rules.sledai_drop}, no new BILAG A, <= {rules.max_new_bilag_b} " \
           f"new BILAG B, PGA rise < 0.{rules.pga_worsening_tenths} ({profile.key})"
    parts: list[Part] = []
    missing: list[L] = []
    # 1. SLEDAI
    if baseline.sledai is None or follow_up.sledai is None:
        missing.append(L("SELENA-SLEDAI", "SELENA-SLEDAI"))
        c1 = None
    else:
        drop = baseline.sledai - follow_up.sledai
        c1 = drop >= rules.sledai_drop
        parts.append(Part("sledai", L(f"SELENA-SLEDAI {baseline.sledai} -> {follow_up.sledai} (drop {drop})",
                                      f"SELENA-SLEDAI {baseline.sledai} -> {follow_up.sledai} (baisse {drop})"), c1))
    # 2 and 3. BILAG
    base_total = bilag_total(baseline.bilag, profile)
    follow_total = bilag_total(follow_up.bilag, profile)
    if not base_total.computable or not follow_total.computable:
        missing.append(L("BILAG grades", "cotes BILAG"))
        c2 = c3 = None
    else:
        base = {p.key: p.value for p in base_total.breakdown}
        now = {p.key: p.value for p in follow_total.breakdown}
        new_a = [s for s in profile.systems if now[s.key] == "A" and base[s.key] in NEW_A]
        new_b = [s for s in profile.systems if now[s.key] == "B" and base[s.key] in NEW_B]
        c2 = not new_a
        c3 = len(new_b) <= rules.max_new_bilag_b
        parts.append(Part("no_new_a", L("No new BILAG A" + (": new A in " + ", ".join(s.label.en for s in new_a)
                                                               if new_a else ""),
                                        "Pas de nouveau A BILAG" + (" : nouveau A en " + ", ".join(
                                            s.label.fr for s in new_a) if new_a else "")), c2))
        parts.append(Part("new_b", L(f"New BILAG B: {len(new_b)}" + (" (" + ", ".join(s.label.en for s in new_b) + ")"
                                                                     if new_b else ""),
                                     f"Nouveaux B BILAG : {len(new_b)}" + (" (" + ", ".join(
                                         s.label.fr for s in new_b) + ")" if new_b else "")), c3))
    # 4. PGA, in integer tenths
    if baseline.pga is None or follow_up.pga is None:
        missing.append(L("PGA", "PGA"))
        c4 = None
    else:
        rise_tenths = int(check_pga(follow_up.pga) * 10) - int(check_pga(baseline.pga) * 10)
        c4 = rise_tenths < rules.pga_worsening_tenths
        rise = Decimal(rise_tenths) / 10
        before_fr, after_fr, rise_fr = (format_decimal(Decimal(v), None, Lang.FR)
                                        for v in (baseline.pga, follow_up.pga, rise))
        parts.append(Part("pga", L(f"PGA {baseline.pga} -> {follow_up.pga} (rise {rise})",
                                   f"PGA {before_fr} -> {after_fr} (hausse {rise_fr})"), c4))
    components = [c1, c2, c3, c4]
    if rules.rescue_medication_is_failure:
        if follow_up.rescue_medication is None:
            missing.append(L("rescue medication", "traitement de secours"))
        else:
            components.append(not follow_up.rescue_medication)
            parts.append(Part("rescue", L("No rescue medication", "Pas de traitement de secours"),
                              not follow_up.rescue_medication))
    if missing:
        return not_computable("sri4", rule, L("missing: " + ", ".join(m.en for m in missing),
                                              "manquant : " + ", ".join(m.fr for m in missing)), tuple(parts))
    return ScoreResult("sri4", all(bool(c) for c in components), rule, tuple(parts))
