"""The form compiler: the shipped forms compile; broken ones give every error with file, line and a hint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from msc_sle_crf.cli import main
from msc_sle_crf.formdef import check_dir
from msc_sle_crf.formdef.definitions import FormDef, ItemType

from .forms_helpers import STUDY, copy_forms, write


def test_shipped_forms_compile_into_frozen_odm_shaped_definitions() -> None:
    result = check_dir(Path(__file__).parents[1] / "forms")
    assert result.errors == []
    study = result.study
    assert study is not None
    assert study.meta.protocol == "NCT03562065"
    assert [e.id for e in study.meta.events][:4] == ["SCR", "M0", "D0", "TOL"]
    vitals = study.forms["vital_signs"]
    assert vitals.groups[0].repeating
    temp = vitals.item("VSTEMP")
    assert (temp.type, temp.unit, temp.hard_max, temp.soft_max) == (ItemType.DECIMAL, "°C", 43, 38)
    assert temp.label.fr == "Température"
    try:
        temp.hard_max = 99  # type: ignore[misc]
    except Exception as exc:  # pydantic refuses assignment on a frozen model
        assert "frozen" in str(exc).lower()
    else:
        raise AssertionError("definitions must be frozen")
    for form in study.forms.values():
        for item in form.all_items():
            assert item.label.en and item.label.fr


def test_content_hash_changes_with_the_definition() -> None:
    vitals = STUDY.forms["vital_signs"]
    data = vitals.model_dump(mode="json")
    data["groups"][0]["items"][2]["soft_max"] = "38.5"
    changed = FormDef.model_validate(data)
    assert changed.content_hash() != vitals.content_hash()
    assert FormDef.model_validate_json(vitals.canonical_json()).content_hash() == vitals.content_hash()


BROKEN = """
id: vitals
version: "1.1"
label: {en: Vitals, fr: Signes vitaux}
entry: nursing
groups:
  - id: vs
    label: {en: Readings}
    items:
      - id: VSTEMP
        type: decimal
        precision: 1
        label: {en: Temperature, fr: Température}
        hard_min: 30
        hard_max: 37.0
        soft_max: 38.0
      - id: VSHR
        type: integr
        label: {en: HR, fr: FC}
      - id: VSPOS
        type: choice
        codelist: postion
        labl: {en: Position, fr: Position}
      - id: VSTEMP
        type: text
        label: {en: Again, fr: Encore}
        show_if: {item: VSXX, op: eq, value: 1}
      - id: VSMAP
        type: integer
        label: {en: MAP, fr: PAM}
        calc: {function: mean_arterial, inputs: [VSHR]}
checks:
  - {function: diastolic_below_systolic, items: [VSHR]}
"""


def test_every_error_is_reported_with_file_line_and_hint(tmp_path: Path) -> None:
    folder = copy_forms(tmp_path)
    (folder / "vital_signs.yaml").unlink()
    write(folder, "vitals.yaml", BROKEN)
    result = check_dir(folder)
    assert result.study is None
    text = [str(e) for e in result.errors]
    expected = [
        "forms/vitals.yaml:7: group 'vs': 'fr' is required",
        "forms/vitals.yaml:15: item 'VSTEMP': soft_max 38 is above hard_max 37",
        "forms/vitals.yaml:17: item 'VSHR': type: 'integr' is not allowed (hint: did you mean 'integer'?)",
        "forms/vitals.yaml:21: item 'VSPOS': code list 'postion' is not defined",
        "forms/vitals.yaml:22: item 'VSPOS': unknown key 'labl' (hint: did you mean 'label'?)",
        "forms/vitals.yaml:23: item 'VSTEMP': item id 'VSTEMP' is used twice (first on line 9)",
        "forms/vitals.yaml:26: item 'VSTEMP': show_if refers to unknown item 'VSXX'",
        "forms/vitals.yaml:30: item 'VSMAP': calculation 'mean_arterial' is not registered "
        "(hint: did you mean 'mean_arterial_pressure'?)",
        "forms/vitals.yaml:32: check 'diastolic_below_systolic' takes 2 items, 1 given",
        "forms/study.yaml:21: event 'D0': form 'vital_signs' has no file in this folder",
    ]
    for line in expected:
        assert any(t.startswith(line) for t in text), f"missing: {line}\nhave:\n" + "\n".join(text)
    assert any("hint: soft limits must lie inside the hard limits" in t for t in text)


def test_contradictions_in_ranges_units_and_types(tmp_path: Path) -> None:
    folder = copy_forms(tmp_path)
    write(folder, "labs_extra.yaml", """
        id: labs_extra
        version: "1"
        label: {en: Labs, fr: Biologie}
        groups:
          - id: lb
            label: {en: Labs, fr: Biologie}
            items:
              - id: HGB
                type: decimal
                precision: 1
                label: {en: Haemoglobin, fr: Hémoglobine}
                soft_min: 3
                hard_min: 4
              - id: PLAT
                type: integer
                label: {en: Platelets, fr: Plaquettes}
                hard_max: 2.5
                alt_units: [{unit: G/L, factor: 1}]
              - id: NOTE
                type: text
                label: {en: Note, fr: Note}
                unit: mg
                pattern: "[A-Z"
              - id: DONE
                type: yesno
                label: {en: Done, fr: Fait}
                date_rules: [not_future]
              - id: CALC
                type: text
                label: {en: Calc, fr: Calc}
                required: true
                calc: {function: bmi, inputs: [HGB, PLAT]}
        """)
    text = "\n".join(str(e) for e in check_dir(folder).errors)
    for fragment in [
        "labs_extra.yaml:12: item 'HGB': soft_min 3 is below hard_min 4",
        "labs_extra.yaml:17: item 'PLAT': hard_max 2.5 is not a whole number on an integer item",
        "labs_extra.yaml:18: item 'PLAT': alternative units need a canonical 'unit'",
        "labs_extra.yaml:22: item 'NOTE': a unit applies only to integer or decimal items, not text",
        "labs_extra.yaml:23: item 'NOTE': pattern is not a valid regular expression",
        "labs_extra.yaml:23: item 'NOTE': a pattern needs a 'pattern_hint'",
        "labs_extra.yaml:27: item 'DONE': date rules apply only to date items, not yesno",
        "labs_extra.yaml:31: item 'CALC': a calculated item cannot be required",
        "item 'CALC': a calculated item must be integer or decimal",
    ]:
        assert fragment in text, f"missing: {fragment}\nhave:\n{text}"


def test_yaml_syntax_error_and_duplicate_keys(tmp_path: Path) -> None:
    folder = copy_forms(tmp_path)
    write(folder, "broken_syntax.yaml", "id: x\nlabel: {en: a, fr: b\nversion: 1\n")
    write(folder, "dup.yaml", "id: dup\nversion: '1'\nversion: '2'\nlabel: {en: a, fr: b}\n"
          "groups: [{id: g, label: {en: a, fr: b}, items: [{id: A, type: text, label: {en: a, fr: b}}]}]\n")
    text = "\n".join(str(e) for e in check_dir(folder).errors)
    assert "forms/broken_syntax.yaml:3: YAML syntax error" in text
    assert "forms/dup.yaml:3: key 'version' appears twice (first on line 2)" in text


def test_cli_forms_check_exit_status_and_output(tmp_path: Path, capsys) -> None:
    assert main(["forms", "check"]) == 0
    assert "OK: 18 forms" in capsys.readouterr().out
    folder = copy_forms(tmp_path)
    write(folder, "vitals.yaml", BROKEN)
    assert main(["--lang", "fr", "forms", "check", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "forms/vitals.yaml:15: item 'VSTEMP': soft_max 38 is above hard_max 37" in err
    assert "erreur(s) : l'application ne démarrera pas" in err


def test_cli_forms_check_as_a_command(tmp_path: Path) -> None:
    folder = copy_forms(tmp_path)
    write(folder, "vitals.yaml", BROKEN)
    proc = subprocess.run([sys.executable, "-m", "msc_sle_crf", "forms", "check", str(folder)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.count("forms/vitals.yaml:") >= 9
