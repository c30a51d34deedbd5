"""The live-validation engine: states per field, soft confirmations, show-if, calculations, cross-item checks,
repeating rows, and re-checking only what depends on a change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from msc_sle_crf.formdef.definitions import MissingCode
from msc_sle_crf.i18n import Lang

from .forms_helpers import state_for


def rules(state, key) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(i.severity.value, i.rule) for i in state.issues(key)]


def test_hard_soft_missing_and_ok_states() -> None:
    s = state_for("vital_signs")
    row = s.add_row("vs")
    key = ("vs", row, "VSTEMP")
    assert rules(s, key) == [("missing", "required")]
    s.set_text(key, "44")
    assert rules(s, key) == [("hard", "hard_max")]
    assert s.issues(key)[0].message.en == "Temperature: 44 °C is above the highest possible value 43 °C"
    assert s.issues(key)[0].message.get(Lang.FR) == ("Température : 44 °C dépasse la plus grande valeur possible "
                                                      "43 °C")
    s.set_text(key, "38,4")
    assert rules(s, key) == [("soft", "soft_max")]
    assert "unusually high (expected at most 38.0 °C)" in s.issues(key)[0].message.en
    s.confirm(key)
    assert s.issues(key)[0].confirmed
    s.set_text(key, "38,6")  # another value: the confirmation does not carry over
    assert not s.issues(key)[0].confirmed
    s.set_text(key, "37.2")
    assert rules(s, key) == []
    s.set_text(key, "37,22")
    assert rules(s, key) == [("hard", "format")]
    assert s.cell(key).text == "37,22" and s.value(key) == Decimal("37.2")  # the last good value is kept


def test_not_done_needs_a_reason() -> None:
    s = state_for("vital_signs")
    key = ("vs", s.add_row("vs"), "VSRESP")
    s.set_missing(key, MissingCode.NOT_DONE, "")
    assert rules(s, key) == [("missing", "missing_reason")]
    s.set_missing(key, MissingCode.NOT_DONE, "patient asleep")
    assert rules(s, key) == []


def test_calculated_item_recomputes_when_an_input_changes() -> None:
    s = state_for("vital_signs")
    row = s.add_row("vs")
    s.set_text(("vs", row, "VSSYSBP"), "120")
    assert s.value(("vs", row, "VSMAP")) is None  # not computable yet: not 0
    changed = s.set_text(("vs", row, "VSDIABP"), "80")
    assert ("vs", row, "VSMAP") in changed
    assert s.value(("vs", row, "VSMAP")) == Decimal(93)
    s.set_text(("vs", row, "VSDIABP"), "")
    assert s.value(("vs", row, "VSMAP")) is None


def test_cross_item_check_within_a_row() -> None:
    s = state_for("vital_signs")
    r1, r2 = s.add_row("vs"), s.add_row("vs")
    s.set_text(("vs", r1, "VSSYSBP"), "100")
    s.set_text(("vs", r1, "VSDIABP"), "100")
    s.set_text(("vs", r2, "VSSYSBP"), "120")
    s.set_text(("vs", r2, "VSDIABP"), "70")
    assert ("hard", "check:diastolic_below_systolic") in rules(s, ("vs", r1, "VSDIABP"))
    assert ("hard", "check:diastolic_below_systolic") in rules(s, ("vs", r1, "VSSYSBP"))
    assert not [r for r in rules(s, ("vs", r2, "VSDIABP")) if r[1].startswith("check:")]
    blockers = [b for b in s.blockers() if b.rule.startswith("check:")]
    assert len(blockers) == 1  # reported once per row, not once per field
    s.set_text(("vs", r1, "VSSYSBP"), "130")  # fixing one field clears the other's flag
    assert not [r for r in rules(s, ("vs", r1, "VSDIABP")) if r[1].startswith("check:")]


def test_show_if_hides_and_unrequires() -> None:
    s = state_for("demographics")
    contra = ("dm", 0, "CONTRACP")
    assert not s.visible(contra)
    assert not [b for b in s.blockers() if b.key == contra]
    changed = s.set_text(("dm", 0, "CHILDPOT"), "Y")
    assert contra in changed
    assert s.visible(contra)
    assert [b.rule for b in s.blockers() if b.key == contra] == ["required"]
    s.set_text(contra, "Implant")
    s.set_text(("dm", 0, "CHILDPOT"), "N")
    assert not s.visible(contra)
    assert s.hidden_with_value() == [contra]


def test_show_if_in_repeating_rows_reads_the_same_row() -> None:
    s = state_for("concomitant_medications")
    r1, r2 = s.add_row("cm"), s.add_row("cm")
    s.set_text(("cm", r1, "CMONGO"), "N")
    s.set_text(("cm", r2, "CMONGO"), "Y")
    assert s.visible(("cm", r1, "CMENDAT"))
    assert not s.visible(("cm", r2, "CMENDAT"))


def test_date_rules() -> None:
    s = state_for("renal_function", birth_year=1980, window=(dt.date(2026, 11, 1), dt.date(2026, 11, 20)))
    key = ("lb", 0, "LBDAT")
    s.set_text(key, "26/11/2026")
    assert rules(s, key) == [("hard", "not_future")]
    s.set_text(key, "01/01/1979")
    assert ("hard", "not_before_birth") in rules(s, key)
    s.set_text(key, "24/11/2026")
    assert rules(s, key) == [("soft", "in_visit_window")]
    assert "outside the visit window 01/11/2026 - 20/11/2026" in s.issues(key)[0].message.en
    s.set_text(key, "15/11/2026")
    assert rules(s, key) == []


def test_partial_date_not_future_compares_what_is_known() -> None:
    s = state_for("medical_history")
    key = ("sle", 0, "SLEDIAG")
    s.set_text(key, "UK/11/2026")  # this month: not in the future
    assert rules(s, key) == []
    s.set_text(key, "UK/12/2026")
    assert rules(s, key) == [("hard", "not_future")]


def test_alternative_unit_is_converted_before_range_checks() -> None:
    s = state_for("renal_function")
    key = ("lb", 0, "CREAT")
    s.set_text(key, "1,2", unit="mg/dL")
    assert s.canonical(key) == Decimal("106.08")
    assert rules(s, key) == []
    s.set_text(key, "40", unit="mg/dL")  # 3536 µmol/L: impossible
    assert rules(s, key) == [("hard", "hard_max")]
    s.set_text(key, "106", unit="furlongs")
    assert rules(s, key) == [("hard", "unit")]


def test_only_dependents_are_rechecked() -> None:
    s = state_for("vital_signs")
    rows = [s.add_row("vs") for _ in range(20)]
    changed = s.set_text(("vs", rows[5], "VSTEMP"), "37")
    assert changed == {("vs", rows[5], "VSTEMP")}
    changed = s.set_text(("vs", rows[5], "VSSYSBP"), "120")
    assert changed == {("vs", rows[5], "VSSYSBP"), ("vs", rows[5], "VSMAP"), ("vs", rows[5], "VSDIABP")}


def test_min_rows_blocks_completion() -> None:
    s = state_for("vital_signs")
    assert [b.rule for b in s.blockers()] == ["min_rows"]


def _form(groups: list, checks: list | None = None):  # type: ignore[no-untyped-def]
    from msc_sle_crf.formdef.definitions import FormDef
    from msc_sle_crf.formdef.engine import FormContext, FormState

    form = FormDef.model_validate({"id": "t", "version": "1", "label": {"en": "T", "fr": "T"}, "groups": groups,
                                   "checks": checks or [],
                                   "codelists": {"sym": {"items": [
                                       {"code": "F", "label": {"en": "Fever", "fr": "Fièvre"}},
                                       {"code": "R", "label": {"en": "Rash", "fr": "Éruption"}},
                                       {"code": "H", "label": {"en": "Headache", "fr": "Céphalée"}}]}}})
    return FormState(form, FormContext(now=dt.datetime(2026, 11, 25, 10, 0), birth_year=1980))


def test_group_show_if_multichoice_and_datetime() -> None:
    s = _form([
        {"id": "g1", "label": {"en": "A", "fr": "A"}, "items": [
            {"id": "ANY", "type": "yesno", "label": {"en": "Any symptom", "fr": "Symptôme"}},
            {"id": "WHEN", "type": "datetime", "label": {"en": "When", "fr": "Quand"}, "date_rules": ["not_future"]},
        ]},
        {"id": "g2", "label": {"en": "Symptoms", "fr": "Symptômes"}, "show_if": {"item": "ANY", "op": "eq",
                                                                                   "value": "Y"},
         "items": [
             {"id": "SYM", "type": "multichoice", "codelist": "sym", "required": True,
              "label": {"en": "Which", "fr": "Lesquels"}},
             {"id": "TMAX", "type": "decimal", "precision": 1, "label": {"en": "Max T", "fr": "T max"},
              "show_if": {"item": "SYM", "op": "in", "value": ["F"]}},
         ]},
    ])
    assert not s.visible(("g2", 0, "SYM"))
    s.set_text(("g1", 0, "ANY"), "oui")
    assert s.visible(("g2", 0, "SYM"))
    assert [b.rule for b in s.blockers()] == ["required"]
    s.set_text(("g2", 0, "SYM"), "Rash; headache")
    assert s.value(("g2", 0, "SYM")) == ("R", "H")
    assert not s.visible(("g2", 0, "TMAX"))
    s.set_text(("g2", 0, "SYM"), "F;R")
    assert s.visible(("g2", 0, "TMAX"))
    s.set_text(("g1", 0, "WHEN"), "25/11/2026 10:30")
    assert rules(s, ("g1", 0, "WHEN")) == [("hard", "not_future")]
    s.set_text(("g1", 0, "WHEN"), "25/11/2026 à 09h45")
    assert s.value(("g1", 0, "WHEN")) == dt.datetime(2026, 11, 25, 9, 45)
    assert rules(s, ("g1", 0, "WHEN")) == []


def test_soft_cross_item_check_needs_confirmation_not_correction() -> None:
    s = _form([{"id": "g", "label": {"en": "G", "fr": "G"}, "items": [
        {"id": "START", "type": "date", "label": {"en": "Start", "fr": "Début"}},
        {"id": "STOP", "type": "date", "label": {"en": "Stop", "fr": "Fin"}}]}],
        checks=[{"function": "end_not_before_start", "items": ["START", "STOP"], "severity": "soft"}])
    s.set_text(("g", 0, "START"), "10/11/2026")
    s.set_text(("g", 0, "STOP"), "09/11/2026")
    assert ("soft", "check:end_not_before_start") in rules(s, ("g", 0, "STOP"))
    assert len(s.blockers()) == 1
    s.confirm(("g", 0, "STOP"))
    assert s.blockers() == []  # confirmed once for the pair
    assert s.issues(("g", 0, "START"))[0].confirmed
