"""The one rounding rule of the program: half-up, applied only where a number is shown (screens, printouts, text
output). Scores and decisions keep exact values; a displayed 30.0 may be an exact 29.97, which fails "< 30".
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from msc_sle_crf.i18n import Lang, current_lang


def round_half_up(value: Decimal, places: int) -> Decimal:
    """``value`` to ``places`` decimal places, halves away from zero (66.665 -> 66.67, 2.5 -> 3, -0.5 -> -1)."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def format_decimal(value: Decimal | int, places: int | None = None, lang: Lang | None = None) -> str:
    """A number as shown to the user: rounded half-up to ``places`` (kept as is when None), decimal comma in
    French."""
    number = Decimal(value)
    if places is not None:
        number = round_half_up(number, places)
    text = format(number, "f")
    return text.replace(".", ",") if (lang or current_lang()) is Lang.FR else text
