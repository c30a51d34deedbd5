"""Issue 18, insider attack part B, finding 2: a planted forms directory (``MSC_SLE_CRF_FORMS_DIR``) with the same
form id and version as the study's but another rule (temperature accepted up to 99 degrees). Before: the values were
accepted on WS-02, travelled, and WS-01 applied them. Rule: a form id and version names one definition; a form
instance whose definition differs from the one the receiving side runs or has recorded for that version is refused
at import (one line naming the form and version, nothing applied), and the program refuses to run forms whose
definition differs from the one the database recorded for that version (docs/workstations.md, "As built (atk-ws
B)")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import CrfError
from msc_sle_crf.formdef import load_study
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.shipped import forms_dir
from msc_sle_crf.store.tables import Subject
from msc_sle_crf.sync.service import Packets
from msc_sle_crf.sync.workstations import Workstations, open_fork

from .conftest import ADMIN_PW, make_user
from .test_issue18_ws_attacks import DOCTOR_PW, NURSE_PW, _as, _export, _problems, _refusal


def _planted(tmp_path: Path, version: str = "1.1") -> Path:
    """The shipped forms with vital_signs 1.1's temperature limit raised to 99 (same id; same version unless
    ``version`` says another)."""
    folder = tmp_path / f"planted-forms-{version}"
    shutil.copytree(forms_dir(), folder)
    vitals = folder / "vital_signs.yaml"
    text = vitals.read_text(encoding="utf-8")
    assert "        hard_max: 43\n" in text and 'version: "1.1"\n' in text
    text = text.replace("        hard_max: 43\n", "        hard_max: 99\n", 1)
    vitals.write_text(text.replace('version: "1.1"\n', f'version: "{version}"\n', 1), encoding="utf-8")
    return folder


@pytest.fixture
def two(tmp_path: Path, site: Site, admin: Workspace, clock: FakeClock) -> tuple[Site, Site]:
    make_user(admin, "dr.house", "investigator", DOCTOR_PW)
    make_user(admin, "nurse.n", "nurse", NURSE_PW)
    added = Workstations(admin.ctx).add(admin, tmp_path / "WS-02.crfws")
    opened = open_fork(added.path, tmp_path / "ws2" / "ws2.crfdb", "admin", ADMIN_PW, clock=clock)
    return site, Site.open(opened.db_path, clock=clock)


def _export_as(ws: Workspace, out: Path) -> Path:
    result = Packets(ws.ctx, ws.study).export(out)
    assert result is not None
    return result.path


def _vitals(ws: Workspace, temperature: str) -> str:
    number = ws.subjects.register("XYZ", 1990, "F").subject.subject_number
    ref = FormRef(number, "D0", "vital_signs")
    row = ws.entry.add_row(ref, "vs").row
    ws.entry.save_item(ref, ("vs", row, "VSTEMP"), temperature, confirm=True)
    return number


def test_values_entered_under_a_planted_definition_of_the_same_version_are_refused_at_import(
        tmp_path: Path, two: tuple[Site, Site]) -> None:
    ws1, ws2 = two
    planted = load_study(_planted(tmp_path))
    assert planted.forms["vital_signs"].version == "1.1"
    nurse = Workspace.sign_in(ws2, "nurse.n", NURSE_PW, study=planted)  # her copy, her forms, the program's code
    number = _vitals(nurse, "95")
    packet = _export_as(nurse, tmp_path / "usb")
    # the honest users of WS-02 are now stopped, in one line, by the program itself
    with pytest.raises(CrfError, match=r"form vital_signs version 1\.1 differs from the definition this database"):
        _export(ws2, tmp_path / "usb-honest")
    line = _refusal(ws1, packet)
    assert "vital_signs" in line and "1.1" in line and number in line, line
    with _as(ws1, "dr.house").ctx.read() as session:
        assert session.query(Subject).filter(Subject.subject_number == number).count() == 0
    assert _problems(ws1) == []


def test_without_the_study_the_receiving_side_judges_by_the_definition_it_recorded(
        tmp_path: Path, two: tuple[Site, Site]) -> None:
    """The hub runs no forms: it judges by the definitions it holds (here WS-01 has entered vitals already)."""
    ws1, ws2 = two
    _vitals(_as(ws1, "nurse.n"), "37")
    nurse = Workspace.sign_in(ws2, "nurse.n", NURSE_PW, study=load_study(_planted(tmp_path)))
    _vitals(nurse, "95")
    packet = _export_as(nurse, tmp_path / "usb")
    ws = _as(ws1, "dr.house")
    service = Packets(ws.ctx, ws.study)
    service.study = None  # as the hub: no forms loaded
    with pytest.raises(CrfError) as caught:
        service.import_file(packet)
    assert "vital_signs" in str(caught.value) and "1.1" in str(caught.value), str(caught.value)


def test_the_program_refuses_forms_that_differ_from_the_definition_recorded_for_their_version(
        tmp_path: Path, two: tuple[Site, Site], monkeypatch: pytest.MonkeyPatch) -> None:
    _ws1, ws2 = two
    _vitals(_as(ws2, "nurse.n"), "37")  # vital_signs 1.1 recorded under the shipped definition
    monkeypatch.setenv("MSC_SLE_CRF_FORMS_DIR", str(_planted(tmp_path)))
    nurse = _as(ws2, "nurse.n")
    with pytest.raises(CrfError) as caught:
        _ = nurse.study
    line = str(caught.value)
    assert "vital_signs" in line and "1.1" in line and "\n" not in line, line
    # she goes round it (the service objects built by hand): verify on that database names the second definition
    monkeypatch.delenv("MSC_SLE_CRF_FORMS_DIR")
    forced = Workspace(ws2, nurse.actor, load_study(_planted(tmp_path / "again")))
    _vitals(forced, "95")
    problems = _problems(ws2)
    assert any("form vital_signs version 1.1 was already recorded as definition" in p for p in problems), problems


def test_a_planted_definition_given_a_new_version_number_is_refused_by_a_workstation_that_does_not_run_it(
        tmp_path: Path, two: tuple[Site, Site]) -> None:
    ws1, ws2 = two
    nurse = Workspace.sign_in(ws2, "nurse.n", NURSE_PW, study=load_study(_planted(tmp_path, "1.2")))
    number = _vitals(nurse, "95")
    line = _refusal(ws1, _export_as(nurse, tmp_path / "usb"))
    assert "vital_signs" in line and "version 1.2" in line and "version 1.1" in line and number in line, line
    assert _problems(ws1) == []


def test_reworded_help_under_the_same_version_is_the_same_definition(tmp_path: Path, two: tuple[Site, Site]) -> None:
    """Wording is not a rule: a help text reworded without a new version (as the shipped forms once were) neither
    stops the program nor refuses the packets."""
    ws1, ws2 = two
    _vitals(_as(ws2, "nurse.n"), "37")
    folder = tmp_path / "reworded"
    shutil.copytree(forms_dir(), folder)
    vitals = folder / "vital_signs.yaml"
    text = vitals.read_text(encoding="utf-8")
    vitals.write_text(text.replace("Record the time the reading was actually taken.", "Note the real time.", 1),
                      encoding="utf-8")
    reworded = load_study(folder)
    assert reworded.forms["vital_signs"].content_hash() != load_study().forms["vital_signs"].content_hash()
    nurse = Workspace.sign_in(ws2, "nurse.n", NURSE_PW, study=reworded)
    _vitals(nurse, "37.2")
    ws = _as(ws1, "dr.house")
    assert "applied" in Packets(ws.ctx, ws.study).import_file(_export_as(nurse, tmp_path / "usb")).line().get()
    assert _problems(ws1) == [] and _problems(ws2) == []


def test_shipped_forms_still_travel(tmp_path: Path, two: tuple[Site, Site]) -> None:
    ws1, ws2 = two
    _vitals(_as(ws1, "nurse.n"), "37")
    _vitals(_as(ws2, "nurse.n"), "37.5")
    ws = _as(ws1, "dr.house")
    assert "applied" in Packets(ws.ctx, ws.study).import_file(_export(ws2, tmp_path / "usb")).line().get()
    assert _problems(ws1) == []
