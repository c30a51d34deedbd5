"""Shared shapes of every score: a result with its value, its breakdown and the rule (and version) used.

A missing input gives a result whose value is None and whose ``reason`` says what is missing: never a silent 0.
An input out of range raises ``ScoreInputError`` naming the input and the rule: never clamped.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from msc_sle_crf.i18n import L, Lang


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

    def text(self, lang: Lang | None = None) -> str:
        if self.value is None:
            return L("not computable", "non calculable").get(lang) + (
                f" ({self.reason.get(lang)})" if self.reason else "")
        if isinstance(self.value, bool):
            return L("yes", "oui").get(lang) if self.value else L("no", "non").get(lang)
        if isinstance(self.value, Decimal):
            text = format(self.value, "f")
            return text.replace(".", ",") if lang is Lang.FR else text
        return str(self.value)


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
