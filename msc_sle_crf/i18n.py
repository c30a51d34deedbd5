"""Language selection for messages produced by the domain core.

The Qt UI has its own translations; the core only needs the language the user chose so that
errors name the field and the rule in that language.
"""

from __future__ import annotations

import locale
import os
from collections.abc import Callable
from enum import StrEnum


class Lang(StrEnum):
    EN = "en"
    FR = "fr"


_current: Lang | None = None
_listeners: list[Callable[[Lang], object]] = []


def default_lang() -> Lang:
    """French when the environment says so (LANGUAGE, LC_ALL, LC_MESSAGES, LANG), English otherwise."""
    for var in ("MSC_SLE_CRF_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return Lang.FR if value.lower().startswith("fr") else Lang.EN
    loc = locale.getlocale()[0] or ""
    return Lang.FR if loc.lower().startswith("fr") else Lang.EN


def current_lang() -> Lang:
    global _current  # noqa: PLW0603 - one process-wide language, switchable at run time
    if _current is None:
        _current = default_lang()
    return _current


def set_lang(lang: Lang | str) -> None:
    global _current  # noqa: PLW0603
    _current = Lang(lang)
    for listener in list(_listeners):
        listener(_current)


def on_lang_change(listener: Callable[[Lang], object]) -> None:
    """``listener(lang)`` after every ``set_lang`` (the screens' toolkit follows: Qt's own buttons, number formats).
    Registered once; a second registration of the same listener is ignored."""
    if listener not in _listeners:
        _listeners.append(listener)


class L:
    """A short text in both languages (field names, rule descriptions) used inside messages."""

    __slots__ = ("en", "fr")

    def __init__(self, en: str, fr: str) -> None:
        self.en = en
        self.fr = fr

    def get(self, lang: Lang | None = None) -> str:
        return self.fr if (lang or current_lang()) is Lang.FR else self.en

    def __str__(self) -> str:
        return self.get()

    def __repr__(self) -> str:
        return f"L({self.en!r}, {self.fr!r})"
