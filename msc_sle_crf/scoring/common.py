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

from msc_sle_crf.i18n import L, Lang, current_lang
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
    "steroid_reduction": L("Steroids reduced by >= 25 % from inclusion", "Corticoïdes réduits de ≥ 25 % depuis "
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


# The rules are written once, in English, with the score (they name published methods and their versions); shown to
# a user they are put in words in the user's language: internal codes become words, English phrases French ones.
_RULE_WORDS: tuple[tuple[str, str, str], ...] = (
    # (in the rule, English shown, French shown); longest first where one contains another
    ("all_systems_C_or_better", "every system C or better", "tous les systèmes C ou mieux"),
    ("no_A_and_at_most_one_B", "no A and at most one B", "aucun A et au plus un B"),
    ("classic_9_3_1", "BILAG A=9 B=3 C=1", "BILAG A=9 B=3 C=1"),
    ("per SAP (draft rule, to be confirmed)", "per the SAP (provisional rule, to be confirmed)",
     "selon le PAS (règle provisoire, à confirmer)"),
    ("registry text; limits configurable, to be confirmed against the protocol",
     "registry text; limits to be confirmed against the protocol",
     "texte du registre ; limites à confirmer avec le protocole"),
    ("MSC-SLE eligibility", "MSC-SLE eligibility", "Éligibilité MSC-SLE"),
    ("grade >= 3 with onset D0-D10 and related to the cells", "grade >= 3 with onset D0-D10 and related to the cells",
     "grade ≥ 3 débutant entre J0 et J10 et lié aux cellules"),
    ("grade >= 3 with onset D0-D10, any relationship", "grade >= 3 with onset D0-D10, any relationship",
     "grade ≥ 3 débutant entre J0 et J10, quel que soit le lien"),
    ("mean daily prednisone equivalent over the 28 days before the visit, IV pulses excluded",
     "mean daily prednisone equivalent over the 28 days before the visit, IV pulses excluded",
     "équivalent prednisone quotidien moyen sur les 28 jours avant la visite, bolus IV exclus"),
    ("reduction >= 25 % of the M0 mean dose", "reduction >= 25 % of the M0 mean dose",
     "réduction ≥ 25 % de la dose moyenne de M0"),
    ("equivalent doses; betamethasone 0.75 mg = 5 mg prednisone",
     "equivalent doses; betamethasone 0.75 mg = 5 mg prednisone",
     "doses équivalentes ; bétaméthasone 0,75 mg = 5 mg de prednisone"),
    ("RAND-36 equal weights", "RAND-36 equal weights", "RAND-36, poids égaux"),
    ("mean of answered items", "mean of the items answered", "moyenne des items renseignés"),
    ("EQ-5D-5L French value set (Andrade 2020), for information",
     "EQ-5D-5L French value set (Andrade 2020), for information",
     "EQ-5D-5L, jeu de valeurs français (Andrade 2020), à titre indicatif"),
    ("EQ-5D-5L level sum", "EQ-5D-5L level sum", "EQ-5D-5L, somme des niveaux"),
    ("EQ-5D-5L profile", "EQ-5D-5L profile", "EQ-5D-5L, profil"),
    ("SLEDAI drop >= 4, no new BILAG A, <= 1 new BILAG B, PGA rise < 0.3",
     "SLEDAI drop >= 4, no new BILAG A, <= 1 new BILAG B, PGA rise < 0.3",
     "baisse du SLEDAI >= 4, aucun nouveau BILAG A, <= 1 nouveau BILAG B, hausse de la PGA < 0,3"),
    ("24 descriptors", "24 descriptors", "24 descripteurs"),
    ("8 systems", "8 systems", "8 systèmes"),
    ("BILAG classic", "BILAG classic", "BILAG classique"),
    ("sustained", "sustained", "maintenue"),
    ("factors v", "factors v", "facteurs v"),
    ("up to ", "up to ", "jusqu'à "),
    (" items)", " items)", " items)"),
    ("x 0.85 if female", "x 0.85 if female", "x 0,85 chez la femme"),
)


def rule_text(rule: str, lang: Lang | None = None) -> str:
    """A score's rule as shown to a user: no internal code, in the user's language (French: decimal commas in the
    phrases it knows)."""
    french = (lang or current_lang()) is Lang.FR
    for source, en, fr in _RULE_WORDS:
        if source in rule:
            rule = rule.replace(source, fr if french else en)
    return rule
