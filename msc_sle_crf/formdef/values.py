"""Typed values: parse what a user typed (French or English habits), store canonically, display back.

Canonical Python values: integer -> int, decimal -> Decimal, text -> str, date -> datetime.date,
partial date -> ISO 8601 reduced precision str ("2019", "2019-03", "2019-03-14"), time -> datetime.time,
datetime -> datetime.datetime (naive, local wall-clock time as read at the bedside), choice -> code str,
multiple choice -> tuple of codes in code-list order, yes/no/unknown -> "Y" | "N" | "U".

``parse`` raises ``ParseError`` with a message naming the rule, in both languages. It never raises anything
else, whatever the input (tested with hypothesis).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from msc_sle_crf.formdef.definitions import YESNO_CODELIST, CodeList, Item, ItemType
from msc_sle_crf.i18n import L, Lang, current_lang
from msc_sle_crf.rounding import format_decimal

MAX_SIGNIFICANT_DIGITS = 15
MAX_TEXT = 4000


class ParseError(ValueError):
    def __init__(self, rule: L) -> None:
        super().__init__(rule.en)
        self.rule = rule


_INT = re.compile(r"[+-]?\d+", re.ASCII)
_DEC = re.compile(r"[+-]?(\d+)(?:[.,](\d+))?", re.ASCII)
_THOUSANDS_COMMA = re.compile(r"[+-]?[1-9]\d{0,2},\d{3}", re.ASCII)  # "1,200": a thousands comma in English
_DATE_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", re.ASCII)
_DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_UNK = r"(?:UK|UN|UNK|NK|\?\?|-{1,2}|XX|__)"
_PDATE_DMY = re.compile(rf"(\d{{1,2}}|{_UNK})[/.-](\d{{1,2}}|{_UNK})[/.-](\d{{4}})", re.IGNORECASE | re.ASCII)
_PDATE_MY = re.compile(r"(\d{1,2})[/.-](\d{4})", re.ASCII)
_PDATE_ISO = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", re.ASCII)
_TIME = re.compile(r"(\d{1,2})(?:[:hH](\d{2})?|(\d{2}))", re.ASCII)


def date_placeholder(lang: Lang | None = None) -> str:
    return "jj/mm/aaaa" if (lang or current_lang()) is Lang.FR else "dd/mm/yyyy"


def _clean(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") and c not in "\n\t" for c in text)


def decimal_example(item: Item) -> Decimal:
    """A value with one decimal the field accepts without a question: 37.5 when it is in the field's usual range
    (soft limits, else hard ones), else the middle of that range (1.5 on a 0-3 scale: h71 saw "37,5" there). The
    field's hint and the refusal of a non-number both give it."""
    low = item.soft_min if item.soft_min is not None else item.hard_min
    high = item.soft_max if item.soft_max is not None else item.hard_max
    usual = Decimal("37.5")
    if (low is None or low <= usual) and (high is None or usual <= high):
        return usual
    base = low or Decimal(0)
    middle = ((base + high) / 2 if high is not None else base + 1).quantize(Decimal("0.1"))
    whole = middle == middle.to_integral() and (high is None or middle + 1 <= high)
    return middle + Decimal("0.5") if whole else middle


def parse_number(text: str, item: Item, unit: str | None = None) -> Decimal | int:
    """``unit``: the unit the number is typed in (None: the item's); its precision applies (``Item.precision_for``)
    and the refusal names it."""
    t = _clean(text).replace("\u2212", "-")
    if item.type is ItemType.INTEGER:
        if not _INT.fullmatch(t):
            raise ParseError(L("a whole number is expected", "un nombre entier est attendu"))
        if len(t.lstrip("+-").lstrip("0")) > MAX_SIGNIFICANT_DIGITS:
            raise ParseError(L("too many digits", "trop de chiffres"))
        return int(t)
    m = _DEC.fullmatch(t)
    if not m:
        if unit is not None and unit != item.unit:  # the field's example is in its own unit
            raise ParseError(L("a number is expected", "un nombre est attendu"))
        example = decimal_example(item)
        raise ParseError(L(f"a number is expected, e.g. {display(item, example, Lang.EN)}",
                           f"un nombre est attendu, par ex. {display(item, example, Lang.FR)}"))
    if len(m.group(1).lstrip("0")) + len(m.group(2) or "") > MAX_SIGNIFICANT_DIGITS:
        raise ParseError(L("too many digits", "trop de chiffres"))
    if _THOUSANDS_COMMA.fullmatch(t) and current_lang() is Lang.EN:
        # In English "1,200" is one thousand two hundred, read elsewhere as 1.2: refused, never a silent 1000x.
        whole, part = t.lstrip("+-").split(",")
        raise ParseError(L(f"“{t}” is ambiguous: type {whole}{part} without a thousands separator, or {whole}.{part}"
                           " with a decimal point",
                           f"« {t} » est ambigu : tapez {whole}{part} sans séparateur de milliers, ou {whole},{part}"
                           " avec une virgule décimale"))
    decimals = m.group(2) or ""
    precision = item.precision_for(unit)
    places = precision if precision is not None else 6
    if len(decimals.rstrip("0")) > places:  # before the Decimal is made: refused at a keystroke, made for nothing
        shown = unit or item.unit
        if shown and precision is not None:
            raise ParseError(L(f"at most {places} decimal place(s) in {shown}", f"au plus {places} décimale(s) en "
                               f"{shown}"))
        raise ParseError(L(f"at most {places} decimal place(s)", f"au plus {places} décimale(s)"))
    value = Decimal(t.replace(",", "."))
    if len(decimals) > places:  # "37.50" with one decimal place is 37.5
        value = value.quantize(Decimal(1).scaleb(-places))
    return value


def parse_date(text: str) -> dt.date:
    t = _clean(text)
    m = _DATE_DMY.fullmatch(t)
    parts: tuple[int, int, int] | None = None
    if m:
        parts = (int(m.group(3)), int(m.group(2)), int(m.group(1)))
    else:
        m = _DATE_ISO.fullmatch(t)
        if m:
            parts = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if parts is None:
        raise ParseError(L("a date dd/mm/yyyy is expected", "une date jj/mm/aaaa est attendue"))
    try:
        return dt.date(*parts)
    except ValueError:
        raise ParseError(L("this date does not exist", "cette date n'existe pas")) from None


def parse_partial_date(text: str) -> str:
    t = _clean(text).upper()
    expected = L("a date dd/mm/yyyy, UK/mm/yyyy or UK/UK/yyyy is expected (UK = unknown)",
                 "une date jj/mm/aaaa, UK/mm/aaaa ou UK/UK/aaaa est attendue (UK = inconnu)")
    year: int
    month: int | None = None
    day: int | None = None
    if m := _PDATE_DMY.fullmatch(t):
        d, mo, year = m.group(1), m.group(2), int(m.group(3))
        day = int(d) if d.isdigit() else None
        month = int(mo) if mo.isdigit() else None
        if day is not None and month is None:
            raise ParseError(L("a day cannot be known when the month is not", "le jour ne peut être connu si le "
                               "mois ne l'est pas"))
    elif m := _PDATE_MY.fullmatch(t):
        month, year = int(m.group(1)), int(m.group(2))
    elif m := _PDATE_ISO.fullmatch(t):
        year = int(m.group(1))
        month = int(m.group(2)) if m.group(2) else None
        day = int(m.group(3)) if m.group(3) else None
    else:
        raise ParseError(expected)
    if year < 1 or (month is not None and not 1 <= month <= 12):
        raise ParseError(L("this date does not exist", "cette date n'existe pas"))
    if day is not None:
        try:
            dt.date(year, month or 1, day)
        except ValueError:
            raise ParseError(L("this date does not exist", "cette date n'existe pas")) from None
        return f"{year:04d}-{month:02d}-{day:02d}"
    return f"{year:04d}-{month:02d}" if month is not None else f"{year:04d}"


def parse_time(text: str) -> dt.time:
    t = _clean(text)
    m = _TIME.fullmatch(t)
    if not m:
        raise ParseError(L("a time hh:mm is expected", "une heure hh:mm est attendue"))
    hour = int(m.group(1))
    minute = int(m.group(2) or m.group(3) or 0)
    if hour > 23 or minute > 59:
        raise ParseError(L("this time does not exist (00:00 to 23:59)", "cette heure n'existe pas (00:00 à 23:59)"))
    return dt.time(hour, minute)


def parse_datetime(text: str) -> dt.datetime:
    t = _clean(text).replace("T", " ")
    pieces = t.split()
    if len(pieces) == 3 and pieces[1].lower() in ("à", "a", "at"):
        pieces = [pieces[0], pieces[2]]
    if len(pieces) != 2:
        raise ParseError(L("a date and time dd/mm/yyyy hh:mm is expected",
                           "une date et heure jj/mm/aaaa hh:mm est attendue"))
    return dt.datetime.combine(parse_date(pieces[0]), parse_time(pieces[1]))


_YES = {"y": "Y", "yes": "Y", "o": "Y", "oui": "Y", "n": "N", "no": "N", "non": "N",
        "u": "U", "unk": "U", "unknown": "U", "inconnu": "U", "nsp": "U"}


def parse_code(text: str, codelist: CodeList) -> str:
    t = _clean(text)
    for c in codelist.items:
        if t == c.code or t.casefold() in (c.code.casefold(), c.label.en.casefold(), c.label.fr.casefold()):
            return c.code
    if codelist is YESNO_CODELIST and t.casefold() in _YES:
        return _YES[t.casefold()]
    raise ParseError(L("choose one of: " + ", ".join(c.label.en for c in codelist.items),
                       "choisir parmi : " + ", ".join(c.label.fr for c in codelist.items)))


def parse_codes(text: str, codelist: CodeList) -> tuple[str, ...]:
    parts = [p for p in re.split(r"[;,|]", _clean(text)) if p.strip()]
    codes = {parse_code(p, codelist) for p in parts}
    return tuple(c for c in codelist.codes() if c in codes)


def parse_text(text: str, item: Item) -> str:
    t = _clean(text)
    if _has_control(t):
        raise ParseError(L("contains invisible control characters", "contient des caractères de contrôle invisibles"))
    limit = item.max_length or MAX_TEXT
    if len(t) > limit:
        raise ParseError(L(f"at most {limit} characters ({len(t)} typed)",
                           f"au plus {limit} caractères ({len(t)} saisis)"))
    if item.pattern and not re.fullmatch(item.pattern, t):
        hint = item.pattern_hint
        raise ParseError(hint.as_l() if hint else L("the expected format is not respected",
                                                    "le format attendu n'est pas respecté"))
    return t


def parse(item: Item, text: str, codelist: CodeList | None = None, unit: str | None = None) -> Any:
    """Parse non-empty text typed for ``item`` (a number in ``unit``, None: the item's); raise ``ParseError``.
    Empty text means "no value" (None)."""
    if not isinstance(text, str):
        raise ParseError(L("text is expected", "du texte est attendu"))
    if not _clean(text):
        return None
    t = item.type
    if t in (ItemType.INTEGER, ItemType.DECIMAL):
        return parse_number(text, item, unit)
    if t is ItemType.TEXT:
        return parse_text(text, item)
    if t is ItemType.DATE:
        return parse_date(text)
    if t is ItemType.PARTIAL_DATE:
        return parse_partial_date(text)
    if t is ItemType.TIME:
        return parse_time(text)
    if t is ItemType.DATETIME:
        return parse_datetime(text)
    if t is ItemType.YESNO:
        return parse_code(text, YESNO_CODELIST)
    if codelist is None:
        raise ParseError(L("no code list", "pas de liste de codes"))
    if t is ItemType.CHOICE:
        return parse_code(text, codelist)
    return parse_codes(text, codelist)


# ----- storage (database text) and display -------------------------------------------------------------------
def to_storage(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return ";".join(value)
    return str(value)


def from_storage(item: Item, text: str | None) -> Any:
    if text is None:
        return None
    t = item.type
    try:
        if t is ItemType.INTEGER:
            return int(text) if "." not in text else Decimal(text)  # a canonical value from another unit
        if t is ItemType.DECIMAL:
            return Decimal(text)
        if t is ItemType.DATE:
            return dt.date.fromisoformat(text)
        if t is ItemType.TIME:
            return dt.time.fromisoformat(text)
        if t is ItemType.DATETIME:
            return dt.datetime.fromisoformat(text)
        if t is ItemType.MULTICHOICE:
            return tuple(c for c in text.split(";") if c)
    except (ValueError, InvalidOperation):
        return text  # shown as stored; never silently dropped
    return text


def display(item: Item, value: Any, lang: Lang | None = None, codelist: CodeList | None = None,
            *, with_codes: bool = False) -> str:
    """The value as a French or English user writes it (decimal comma, dd/mm/yyyy)."""
    lang = lang or current_lang()
    if value is None:
        return ""
    if isinstance(value, Decimal):
        places = item.precision
        return format_decimal(value, places if item.calculated else None, lang)
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if item.type is ItemType.PARTIAL_DATE and isinstance(value, str):
        parts = value.split("-")
        while len(parts) < 3:
            parts.append("UK")
        return f"{parts[2]}/{parts[1]}/{parts[0]}"
    cl = YESNO_CODELIST if item.type is ItemType.YESNO else codelist
    if cl is not None and isinstance(value, str):
        label = cl.label(value, lang)
        return f"{value} - {label}" if with_codes else label
    if cl is not None and isinstance(value, tuple):
        return "; ".join(cl.label(c, lang) for c in value)
    return str(value)


def edit_text(item: Item, value: Any, lang: Lang | None = None) -> str:
    """The value as it goes back into an edit box (codes stay codes)."""
    if item.type in (ItemType.CHOICE, ItemType.YESNO) and isinstance(value, str):
        return value
    if isinstance(value, tuple):
        return ";".join(value)
    return display(item, value, lang)
