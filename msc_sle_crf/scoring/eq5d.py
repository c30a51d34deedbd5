"""EQ-5D-5L: five dimensions at levels 1-5 and the VAS 0-100 (clinical-reference.md section 6).

The protocol sum is the level sum score (5-25); the 5-digit profile; the French value set (Andrade 2020) for
information only. Levels outside 1-5 and a VAS outside 0-100 are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from msc_sle_crf.i18n import L
from msc_sle_crf.scoring.common import Part, ScoreInputError, ScoreResult, missing_list, not_computable

DIMENSIONS: tuple[tuple[str, L], ...] = (
    ("MO", L("Mobility", "Mobilité")), ("SC", L("Self-care", "Autonomie")),
    ("UA", L("Usual activities", "Activités courantes")), ("PD", L("Pain/discomfort", "Douleurs/gêne")),
    ("AD", L("Anxiety/depression", "Anxiété/dépression")),
)
RULE_LSS = "EQ-5D-5L level sum (5-25)"
RULE_FR = "EQ-5D-5L French value set (Andrade 2020), for information"

FRENCH_DECREMENTS: dict[str, tuple[Decimal, ...]] = {  # levels 2, 3, 4, 5
    "MO": (Decimal("-0.03759"), Decimal("-0.04774"), Decimal("-0.17949"), Decimal("-0.32509")),
    "SC": (Decimal("-0.03656"), Decimal("-0.050781"), Decimal("-0.172251"), Decimal("-0.258331")),
    "UA": (Decimal("-0.03313"), Decimal("-0.03979"), Decimal("-0.15689"), Decimal("-0.24005")),
    "PD": (Decimal("-0.02198"), Decimal("-0.04704"), Decimal("-0.26374"), Decimal("-0.44399")),
    "AD": (Decimal("-0.02046"), Decimal("-0.04683"), Decimal("-0.20005"), Decimal("-0.25803")),
}


def _levels(levels: Mapping[str, int | None]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    names = dict(DIMENSIONS)
    for key, value in levels.items():
        if key not in names:
            raise ScoreInputError(L(f"EQ-5D-5L has no dimension '{key}'", f"l'EQ-5D-5L n'a pas de dimension « {key} »"))
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5):
            raise ScoreInputError(L(f"EQ-5D-5L {names[key].en}: level {value} is not between 1 and 5",
                                    f"EQ-5D-5L {names[key].fr} : le niveau {value} n'est pas entre 1 et 5"))
        out[key] = value
    return out


def level_sum(levels: Mapping[str, int | None]) -> ScoreResult:
    lv = _levels(levels)
    parts = tuple(Part(k, label, lv.get(k), lv.get(k)) for k, label in DIMENSIONS)
    missing = [label for k, label in DIMENSIONS if lv.get(k) is None]
    if missing:
        return not_computable("eq5d_lss", RULE_LSS, missing_list(missing), parts)
    return ScoreResult("eq5d_lss", sum(int(p.points or 0) for p in parts), RULE_LSS, parts)


def profile(levels: Mapping[str, int | None]) -> ScoreResult:
    lv = _levels(levels)
    missing = [label for k, label in DIMENSIONS if lv.get(k) is None]
    if missing:
        return not_computable("eq5d_profile", "EQ-5D-5L profile MO SC UA PD AD", missing_list(missing))
    return ScoreResult("eq5d_profile", "".join(str(lv[k]) for k, _ in DIMENSIONS), "EQ-5D-5L profile MO SC UA PD AD")


def french_index(levels: Mapping[str, int | None]) -> ScoreResult:
    lv = _levels(levels)
    missing = [label for k, label in DIMENSIONS if lv.get(k) is None]
    if missing:
        return not_computable("eq5d_index_fr", RULE_FR, missing_list(missing))
    parts = []
    total = Decimal(1)
    for k, label in DIMENSIONS:
        level = lv[k]
        assert level is not None
        dec = FRENCH_DECREMENTS[k][level - 2] if level > 1 else Decimal(0)
        total += dec
        parts.append(Part(k, label, level, dec))
    return ScoreResult("eq5d_index_fr", total, RULE_FR, tuple(parts))  # exact (-0.525491), shown -0.525


def check_vas(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ScoreInputError(L(f"EQ VAS: {value} is not a whole number from 0 to 100",
                                f"EQ VAS : {value} n'est pas un entier de 0 à 100"))
    return value
