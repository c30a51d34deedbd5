"""Typed values: French and English habits accepted, impossible input refused with the rule, never a crash."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import FormDef, ItemType
from msc_sle_crf.formdef.engine import FormContext, FormState, Severity
from msc_sle_crf.i18n import Lang

from .forms_helpers import STUDY, state_for

TEMP = STUDY.forms["vital_signs"].item("VSTEMP")
HR = STUDY.forms["vital_signs"].item("VSHR")
BRTH = STUDY.forms["demographics"].item("BRTHDAT")
MHST = STUDY.forms["medical_history"].item("MHSTDAT")
START = STUDY.forms["infusion"].item("EXSTTIM")
DATE = STUDY.forms["infusion"].item("EXSTDAT")


@pytest.mark.parametrize(("text", "expected"), [
    ("37,5", Decimal("37.5")), ("37.5", Decimal("37.5")), (" 38 ", Decimal(38)), ("37,50", Decimal("37.5")),
    ("\u221237.5", Decimal("-37.5")),
])
def test_decimal_comma_or_point(text: str, expected: Decimal) -> None:
    assert V.parse(TEMP, text) == expected


@pytest.mark.parametrize(("text", "rule"), [
    ("37,55", "at most 1 decimal place(s)"), ("37.5.1", "a number is expected"), ("1 000", "a number is expected"),
    ("abc", "a number is expected"), ("3e2", "a number is expected"), ("1" * 40, "too many digits"),
])
def test_decimal_refusals_name_the_rule(text: str, rule: str) -> None:
    with pytest.raises(V.ParseError) as err:
        V.parse(TEMP, text)
    assert rule in err.value.rule.en


def test_a_thousands_comma_is_refused_in_english_and_a_decimal_comma_in_french() -> None:
    """h62: "1,200" in English is one thousand two hundred; read as 1.2 it was stored 1000 times too low."""
    from msc_sle_crf.i18n import set_lang

    dsdna = STUDY.forms["labs"].item("DSDNA")
    with pytest.raises(V.ParseError) as err:
        V.parse(dsdna, "1,200")
    assert "ambiguous" in err.value.rule.en and "1200" in err.value.rule.en
    assert V.parse(dsdna, "12,5") == Decimal("12.5") and V.parse(TEMP, "37,2") == Decimal("37.2")
    set_lang(Lang.FR)  # French writes thousands with a space: the comma is the decimal one
    assert V.parse(dsdna, "1,200") == Decimal("1.2")


def test_integer_and_french_message() -> None:
    assert V.parse(HR, "072") == 72
    with pytest.raises(V.ParseError) as err:
        V.parse(HR, "72,5")
    assert err.value.rule.get(Lang.FR) == "un nombre entier est attendu"


@pytest.mark.parametrize(("text", "expected"), [
    ("14/03/2019", dt.date(2019, 3, 14)), ("4/3/2019", dt.date(2019, 3, 4)), ("2019-03-14", dt.date(2019, 3, 14)),
    ("14.03.2019", dt.date(2019, 3, 14)),
])
def test_dates_typed_dd_mm_yyyy(text: str, expected: dt.date) -> None:
    assert V.parse(DATE, text) == expected


@pytest.mark.parametrize("text", ["31/02/2019", "14/03/19", "03/14/2019", "yesterday"])
def test_impossible_dates_are_refused(text: str) -> None:
    with pytest.raises(V.ParseError):
        V.parse(DATE, text)


@pytest.mark.parametrize(("text", "stored", "shown"), [
    ("UK/03/2012", "2012-03", "UK/03/2012"), ("uk/uk/2012", "2012", "UK/UK/2012"), ("03/2012", "2012-03", "UK/03/2012"),
    ("2012", "2012", "UK/UK/2012"), ("14/03/2012", "2012-03-14", "14/03/2012"), ("??/03/2012", "2012-03", "UK/03/2012"),
])
def test_partial_dates(text: str, stored: str, shown: str) -> None:
    value = V.parse(MHST, text)
    assert value == stored
    assert V.display(MHST, value) == shown


@pytest.mark.parametrize("text", ["14/UK/2012", "UK/13/2012", "30/02/2012"])
def test_partial_dates_refused(text: str) -> None:
    with pytest.raises(V.ParseError):
        V.parse(MHST, text)


@pytest.mark.parametrize(("text", "expected"), [("14:30", dt.time(14, 30)), ("14h30", dt.time(14, 30)),
                                                ("9h", dt.time(9, 0)), ("0930", dt.time(9, 30))])
def test_times(text: str, expected: dt.time) -> None:
    assert V.parse(START, text) == expected


def test_time_out_of_range() -> None:
    with pytest.raises(V.ParseError) as err:
        V.parse(START, "24:10")
    assert "00:00 to 23:59" in err.value.rule.en


def test_display_follows_language() -> None:
    assert V.display(TEMP, Decimal("37.5"), Lang.FR) == "37,5"
    assert V.display(TEMP, Decimal("37.5"), Lang.EN) == "37.5"
    assert V.display(DATE, dt.date(2019, 3, 4), Lang.EN) == "04/03/2019"


def test_yes_no_words_in_both_languages() -> None:
    item = STUDY.forms["demographics"].item("CHILDPOT")
    assert [V.parse(item, t) for t in ("oui", "Non", "yes", "inconnu", "Y")] == ["Y", "N", "Y", "U", "Y"]


def test_storage_round_trip() -> None:
    for item, text in ((TEMP, "37,5"), (DATE, "14/03/2019"), (START, "14:30"), (MHST, "UK/03/2012"), (HR, "72")):
        value = V.parse(item, text)
        assert V.from_storage(item, V.to_storage(value)) == value


# ----- property-based: arbitrary text into every item type of every shipped form -----------------------------
ALL_ITEMS = [(f.id, g.id, i.id) for f in STUDY.forms.values() for g in f.groups for i in g.items if not i.calc]
TYPES_COVERED = {STUDY.forms[f].item(i).type for f, _, i in ALL_ITEMS}


def test_the_property_tests_cover_every_item_type() -> None:
    assert set(ItemType) - TYPES_COVERED == {ItemType.DATETIME}  # not in the shipped forms:
    assert ItemType.DATETIME in {i.type for i in EXTRA.form.all_items()}  # so added here


def _extra_state() -> FormState:
    form = FormDef.model_validate({
        "id": "extra", "version": "1", "label": {"en": "Extra", "fr": "Extra"},
        "codelists": {"sym": {"items": [{"code": "F", "label": {"en": "Fever", "fr": "Fièvre"}},
                                        {"code": "R", "label": {"en": "Rash", "fr": "Éruption"}}]}},
        "groups": [{"id": "g", "label": {"en": "G", "fr": "G"}, "items": [
            {"id": "SYM", "type": "multichoice", "codelist": "sym", "label": {"en": "Symptoms", "fr": "Symptômes"}},
            {"id": "WHEN", "type": "datetime", "date_rules": ["not_future"], "label": {"en": "When", "fr": "Quand"}},
        ]}]})
    return FormState(form, FormContext(now=dt.datetime(2026, 11, 25, 10, 0), birth_year=1980))


EXTRA = _extra_state()


@settings(max_examples=200, deadline=None)
@given(item_id=st.sampled_from(["SYM", "WHEN"]), text=st.one_of(
    st.text(max_size=40), st.from_regex(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}[:h]\d{2}", fullmatch=True),
    st.from_regex(r"(F|R|fever|Rash|x)([;,|] ?(F|R|fièvre|y))*", fullmatch=True)))
def test_arbitrary_text_into_multichoice_and_datetime(item_id: str, text: str) -> None:
    state = _extra_state()
    key = ("g", 0, item_id)
    state.set_text(key, text)
    cell = state.cell(key)
    if cell.text is not None:
        assert [i.rule for i in cell.issues] == ["format"]
    elif cell.value is not None and item_id == "SYM":
        assert set(cell.value) <= {"F", "R"}
    elif cell.value is not None and item_id == "WHEN" and cell.value > dt.datetime(2026, 11, 25, 10, 0):
        assert [i.rule for i in cell.issues] == ["not_future"]


typed_text = st.one_of(
    st.text(max_size=60),
    st.from_regex(r"[ +\-]?\d{1,4}([.,]\d{0,3})?\s?", fullmatch=True),
    st.from_regex(r"(\d{1,2}|UK|\?\?)/(\d{1,2}|UK)/\d{2,4}", fullmatch=True),
    st.from_regex(r"\d{1,2}[:h]\d{0,2}", fullmatch=True),
    st.sampled_from(["oui", "non", "Y", "N", "U", "PO", "IV", "SUP", "", " ", "\x00", "٣٧", "３７", "37,5", "1e9"]),
)


@settings(max_examples=300, deadline=None)
@given(target=st.sampled_from(ALL_ITEMS), text=typed_text)
def test_arbitrary_text_never_crashes_and_hard_checks_hold(target: tuple[str, str, str], text: str) -> None:
    form_id, group_id, item_id = target
    state = state_for(form_id)
    row = state.add_row(group_id) if state.group(group_id).repeating else 0
    key = (group_id, row, item_id)
    state.set_text(key, text)  # must not raise, whatever the text
    cell = state.cell(key)
    item = state.item(item_id)
    hard = [i for i in cell.issues if i.severity is Severity.HARD and not i.rule.startswith("check:")]
    if cell.text is not None:  # not parsable: refused with a message naming the field
        assert hard and hard[0].message.en.startswith(item.label.en)
        return
    value = state.canonical(key)
    if value is not None and item.type in (ItemType.INTEGER, ItemType.DECIMAL) and not hard:
        assert item.hard_min is None or value >= item.hard_min
        assert item.hard_max is None or value <= item.hard_max
    for issue in cell.issues:
        assert issue.message.en and issue.message.fr


@settings(max_examples=200, deadline=None)
@given(text=typed_text, confirm=st.booleans())
def test_service_rule_on_soft_values_via_engine(text: str, confirm: bool) -> None:
    """A value with an unconfirmed soft warning blocks completion; confirming clears the block."""
    state = state_for("vital_signs")
    key = ("vs", state.add_row("vs"), "VSTEMP")
    state.set_text(key, text)
    soft = [i for i in state.issues(key) if i.severity is Severity.SOFT]
    if soft and confirm:
        state.confirm(key)
        assert all(i.confirmed for i in state.issues(key) if i.severity is Severity.SOFT)
        assert not any(b.key == key and b.severity is Severity.SOFT for b in state.blockers())
    elif soft:
        assert any(b.key == key and b.severity is Severity.SOFT for b in state.blockers())


@pytest.mark.parametrize("text", ["٣٧", "３７", "37\u00a0", "37\u200b"])
def test_only_ascii_digits_are_numbers(text: str) -> None:
    if text.strip() == "37":  # a trailing no-break space is just whitespace
        assert V.parse(HR, text) == 37
        return
    with pytest.raises(V.ParseError):
        V.parse(HR, text)
