"""SF-36 scored the RAND-36 way: items recoded to 0-100, each scale the mean of its answered items.

Clinical-reference.md section 5. Version 1 uses the RAND recode table; version 2 (5 levels on items 13-19 and
23-31) uses the linear equal-weight recode of the reference's DECISION. Responses are validated against the
number of levels of the version: a v2 answer of 5 on item 13 is refused under v1, 7 is refused everywhere.
Items are numbered 1-36 (RAND numbering; SF-36v2 1, 2, 3a-j, 4a-d, 5a-c, 6, 7, 8, 9a-i, 10, 11a-d).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

from msc_sle_crf.i18n import L
from msc_sle_crf.scoring.common import Part, ScoreInputError, ScoreResult, not_computable

Version = Literal["v1", "v2"]

SCALES: dict[str, tuple[L, tuple[int, ...]]] = {
    "physical_functioning": (L("Physical functioning", "Fonctionnement physique"), tuple(range(3, 13))),
    "role_physical": (L("Role limitations, physical", "Limitations dues à l'état physique"), (13, 14, 15, 16)),
    "role_emotional": (L("Role limitations, emotional", "Limitations dues à l'état émotionnel"), (17, 18, 19)),
    "energy_fatigue": (L("Energy/fatigue", "Vitalité"), (23, 27, 29, 31)),
    "emotional_wellbeing": (L("Emotional well-being", "Santé psychique"), (24, 25, 26, 28, 30)),
    "social_functioning": (L("Social functioning", "Vie et relations avec les autres"), (20, 32)),
    "pain": (L("Pain", "Douleur"), (21, 22)),
    "general_health": (L("General health", "Santé générale"), (1, 33, 34, 35, 36)),
}

_V1 = {
    **dict.fromkeys((1, 2, 20, 22, 34, 36), (100, 75, 50, 25, 0)),
    **dict.fromkeys(range(3, 13), (0, 50, 100)),
    **dict.fromkeys(range(13, 20), (0, 100)),
    **dict.fromkeys((21, 23, 26, 27, 30), (100, 80, 60, 40, 20, 0)),
    **dict.fromkeys((24, 25, 28, 29, 31), (0, 20, 40, 60, 80, 100)),
    **dict.fromkeys((32, 33, 35), (0, 25, 50, 75, 100)),
}
_V2 = dict(_V1)
_V2.update(dict.fromkeys(range(13, 20), (0, 25, 50, 75, 100)))
_V2.update(dict.fromkeys((23, 26, 27, 30), (100, 75, 50, 25, 0)))
_V2.update(dict.fromkeys((24, 25, 28, 29, 31), (0, 25, 50, 75, 100)))
TABLES = {"v1": _V1, "v2": _V2}


def levels(item: int, version: Version) -> int:
    return len(TABLES[version][item])


def recode(item: int, response: int, version: Version) -> int:
    table = TABLES[version]
    if item not in table:
        raise ScoreInputError(L(f"SF-36 has no item {item}", f"Le SF-36 n'a pas d'item {item}"))
    if isinstance(response, bool) or not isinstance(response, int) or not 1 <= response <= len(table[item]):
        raise ScoreInputError(L(f"SF-36 {version} item {item}: answer {response} is not between 1 and "
                                f"{len(table[item])}",
                                f"SF-36 {version} item {item} : la réponse {response} n'est pas entre 1 et "
                                f"{len(table[item])}"))
    return table[item][response - 1]


_ITEM_LABELS = {i: L(f"item {i}", f"item {i}") for i in range(1, 37)}


def sf36_scales(responses: Mapping[int, int | None], version: Version,
                min_items_fraction: Decimal | None = None) -> dict[str, ScoreResult]:
    """The eight 0-100 scales, exact (200/3 stays 66.666..., shown 66.7). A blank item is left out; a scale with no
    answer is not computable."""
    if version not in TABLES:
        raise ScoreInputError(L(f"SF-36 version must be v1 or v2, not {version}", "version du SF-36 : v1 ou v2"))
    recoded = {i: recode(i, r, version) for i, r in responses.items() if r is not None}
    rule = f"RAND-36 equal weights, SF-36 {version}, mean of answered items"
    out: dict[str, ScoreResult] = {}
    for key, (label, items) in SCALES.items():
        answered = [i for i in items if i in recoded]
        parts = tuple(Part(str(i), _ITEM_LABELS[i], responses.get(i), recoded.get(i)) for i in items)
        enough = answered and (min_items_fraction is None
                               or Decimal(len(answered)) / len(items) >= min_items_fraction)
        if not enough:
            reason = L(f"{label.en}: {len(answered)} of {len(items)} items answered",
                       f"{label.fr} : {len(answered)} item(s) sur {len(items)}")
            out[key] = not_computable(f"sf36_{key}", rule, reason, parts)
            continue
        mean = Decimal(sum(recoded[i] for i in answered)) / len(answered)
        out[key] = ScoreResult(f"sf36_{key}", mean, rule + f" ({len(answered)}/{len(items)} items)", parts)
    return out
