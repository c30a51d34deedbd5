"""Shared shapes of every score: a result with its value, its breakdown and the rule (and version) used.

A missing input gives a result whose value is None and whose ``reason`` says what is missing: never a silent 0.
An input out of range raises ``ScoreInputError`` naming the input and the rule: never clamped.
Values are exact (Decimal, unrounded: an SF-36 scale of 200/3 stays 66.666...); only their display is rounded,
half-up, to the places ``DISPLAY_PLACES`` gives each score (``ScoreResult.text``, ``format_value``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from msc_sle_crf.i18n import L, Lang
from msc_sle_crf.rounding import format_decimal


class ScoreInputError(ValueError):
    def __init__(self, message: L) -> None:
        super().__init__(message.en)
        self.message = message


@dataclass(frozen=True)
class Part:
    """One line of a breakdown: a descriptor, a system, an item, a component."""

    key: str
    label: L
    value: Any  # what was entered or derived for it
    points: Decimal | int | None = None  # what it adds, where that makes sense


@dataclass(frozen=True)
class ScoreResult:
    name: str
    value: Any  # int, Decimal, bool, str, or None when not computable
    rule: str  # the rule and its version, shown with the score
    breakdown: tuple[Part, ...] = ()
    reason: L | None = None  # why it is not computable

    @property
    def computable(self) -> bool:
        return self.value is not None

    @property
    def label(self) -> L:
        """What the score is called on screen and on paper (one table for every display)."""
        return score_label(self.name)

    def text(self, lang: Lang | None = None) -> str:
        if self.value is None:
            return L("not computable", "non calculable").get(lang) + (
                f" ({self.reason.get(lang)})" if self.reason else "")
        if isinstance(self.value, bool):
            return L("yes", "oui").get(lang) if self.value else L("no", "non").get(lang)
        return format_value(self.value, display_places(self.name), lang)


# Decimal places shown for each score (display only: the value itself is never rounded). A score not listed shows
# DEFAULT_PLACES when its value is a Decimal; whole numbers always show as they are.
DEFAULT_PLACES = 2
DISPLAY_PLACES: dict[str, int] = {
    "pga": 1, "crcl": 1, "prednisone_mean": 1, "steroid_reduction_percent": 1, "eq5d_index_fr": 3,
    "fever_grade": 0, "median": 1,
}


def display_places(name: str) -> int:
    if name.startswith("sf36_"):
        return 1
    return DISPLAY_PLACES.get(name, DEFAULT_PLACES)


def format_value(value: Any, places: int, lang: Lang | None = None) -> str:
    """One value as shown: yes/no, a number rounded half-up with the language's decimal mark, or text."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return L("yes", "oui").get(lang) if value else L("no", "non").get(lang)
    if isinstance(value, Decimal):
        return format_decimal(value, places, lang)
    return str(value)


def not_computable(name: str, rule: str, reason: L, breakdown: tuple[Part, ...] = ()) -> ScoreResult:
    return ScoreResult(name, None, rule, breakdown, reason)


def missing_list(labels: list[L]) -> L:
    shown = labels[:5]
    more = len(labels) - len(shown)
    en = ", ".join(x.en for x in shown) + (f" and {more} more" if more else "")
    fr = ", ".join(x.fr for x in shown) + (f" et {more} autre(s)" if more else "")
    return L(f"missing: {en}", f"manquant : {fr}")


def to_decimal(value: Any, name: L) -> Decimal:
    if isinstance(value, bool):
        raise ScoreInputError(L(f"{name.en}: a number is expected", f"{name.fr} : un nombre est attendu"))
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise ScoreInputError(L(f"{name.en}: a number is expected", f"{name.fr} : un nombre est attendu")) from None


SCORE_LABELS: dict[str, L] = {
    "selena_sledai": L("SELENA-SLEDAI total", "Total SELENA-SLEDAI"),
    "pga": L("Physician global assessment (PGA)", "Évaluation globale du médecin (PGA)"),
    "sri4": L("SRI-4 responder (vs inclusion)", "Répondeur SRI-4 (vs inclusion)"),
    "bilag_total": L("BILAG total", "Total BILAG"),
    "bilag_count_A": L("Systems at A", "Systèmes en A"),
    "bilag_count_B": L("Systems at B", "Systèmes en B"),
    "mcr": L("Major clinical response", "Réponse clinique majeure"),
    "pcr": L("Partial clinical response", "Réponse clinique partielle"),
    "eq5d_lss": L("EQ-5D-5L level sum", "EQ-5D-5L somme des niveaux"),
    "eq5d_profile": L("EQ-5D-5L profile", "EQ-5D-5L profil"),
    "eq5d_index_fr": L("EQ-5D-5L French index (information)", "EQ-5D-5L index français (information)"),
    "prednisone_mean": L("Prednisone equivalent, mean mg/day", "Équivalent prednisone, moyenne mg/j"),
    "steroid_reduction": L("Steroids reduced by >= 25 % from inclusion", "Corticoïdes réduits de >= 25 % depuis "
                                                                          "l'inclusion"),
    "eligibility": L("Eligible", "Éligible"),
    "not_tolerated_all": L("Not tolerated (all adverse events)", "Non tolérée (tous les événements indésirables)"),
    "not_tolerated_related": L("Not tolerated (related adverse events)", "Non tolérée (événements liés)"),
    "crcl": L("Creatinine clearance (Cockcroft-Gault)", "Clairance de la créatinine (Cockcroft-Gault)"),
}


def score_label(name: str) -> L:
    if name.startswith("sf36_"):
        from msc_sle_crf.scoring.sf36 import SCALES

        scale = SCALES.get(name[5:])
        if scale is not None:
            return L(f"SF-36 {scale[0].en}", f"SF-36 {scale[0].fr}")
    return SCORE_LABELS.get(name, L(name.replace("_", " "), name.replace("_", " ")))
