"""h76: what a new nurse and physician (h71) tripped on in French screens: hints, codes and English shown where a
person reads."""

from __future__ import annotations

import pytest

from msc_sle_crf.formdef import load_study
from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import ItemType
from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.ui.form.editors import placeholder


@pytest.mark.parametrize("lang", [Lang.FR, Lang.EN])
def test_every_decimal_hint_is_a_value_its_field_takes_without_a_question(lang: Lang) -> None:
    wrong = []
    set_lang(lang)
    try:
        for form in load_study().forms.values():
            for group in form.groups:
                for item in group.items:
                    if item.type is not ItemType.DECIMAL or item.calculated:
                        continue
                    hint = placeholder(item)
                    value = V.parse_number(hint.removeprefix("ex. ").removeprefix("e.g. "), item)
                    low = item.soft_min if item.soft_min is not None else item.hard_min
                    high = item.soft_max if item.soft_max is not None else item.hard_max
                    if (low is not None and value < low) or (high is not None and value > high):
                        wrong.append((form.id, item.id, hint))
    finally:
        set_lang(Lang.EN)
    assert not wrong, wrong


def test_the_trail_says_the_programs_own_words_in_french() -> None:
    from msc_sle_crf.trail_words import detail_text

    digest = "ab" * 32
    assert detail_text(f"meaning: approval; sha256: {digest}", Lang.FR) == f"signification : approbation ; sha256 : " \
                                                                           f"{digest}"
    assert detail_text(f"meaning: approval; sha256: {digest}", Lang.EN) == f"meaning: approval; sha256: {digest}"
    assert detail_text("all checks passed", Lang.FR) == "tous les contrôles sont satisfaits"
