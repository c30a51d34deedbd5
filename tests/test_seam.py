"""The seam between screens and services: study bindings checked by the compiler, change records returned by
every write, one acceptance rule, one way to show a stored time, one table of form states."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from msc_sle_crf.audit import Action
from msc_sle_crf.clock import format_stored, offset_text
from msc_sle_crf.errors import ValidationError
from msc_sle_crf.formdef import check_dir
from msc_sle_crf.formdef.engine import Severity
from msc_sle_crf.i18n import Lang
from msc_sle_crf.schedule import VisitState, plan
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.changes import Changes, changes_of
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.status import FormStatus

from .conftest import make_user
from .forms_helpers import STUDY, copy_forms, state_for


# ----- bindings ---------------------------------------------------------------------------------------------------
def test_renaming_a_bound_item_fails_the_form_check(tmp_path: Path) -> None:
    forms = copy_forms(tmp_path)
    path = forms / "vital_signs.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("id: VSTEMP", "id: VSTEMPC"), encoding="utf-8")
    result = check_dir(forms)
    assert result.study is None
    [error] = [e for e in result.errors if "VSTEMP" in e.message]
    assert error.file.endswith("study.yaml") and error.line > 1
    assert "not in form 'vital_signs'" in error.message and "VSTEMPC" in (error.hint or "")


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    event: D0\n    vital_signs:", "    event: D9\n    vital_signs:", "visit 'D9' is not defined"),
    ("      group: vs\n", "      group: vitals\n", "has no group 'vitals'"),
    ("pga: SLPGA", "pga: SLDAT", "item 'SLDAT' is date; the program reads it as integer or decimal"),
    ("tolerance: {event: TOL, form: tolerance", "tolerance: {event: M1, form: tolerance",
     "visit 'M1' does not hold form 'tolerance'"),
    ("        fever: SLFEVER\n", "", "no item bound for fever"),
    ("baseline_visit: M0", "baseline_visit: MO", "visit 'MO' is not defined"),
])
def test_each_kind_of_wrong_binding_is_named_with_its_line(tmp_path: Path, old: str, new: str,
                                                           expected: str) -> None:
    forms = copy_forms(tmp_path)
    study = forms / "study.yaml"
    text = study.read_text(encoding="utf-8")
    assert old in text
    study.write_text(text.replace(old, new, 1), encoding="utf-8")
    errors = check_dir(forms).errors
    assert any(expected in e.message and e.file.endswith("study.yaml") for e in errors), errors


def test_the_shipped_bindings_name_what_the_bedside_and_scores_read() -> None:
    b = STUDY.bindings
    vs = b.infusion_day.vital_signs
    form = STUDY.forms[vs.form]
    assert {form.group_of(i).id for i in vs.readings()} == {vs.group}
    assert vs.by_name({vs.temperature: 38, vs.spo2: 91})["temperature"] == 38
    assert STUDY.meta.anchor is not None and STUDY.meta.anchor.item == b.infusion_day.infusion.date


# ----- change records -----------------------------------------------------------------------------------------------
@pytest.fixture
def nurse(site: Site, admin: Workspace) -> Workspace:
    return Workspace.sign_in(site, "nurse.seam", make_user(admin, "nurse.seam", "nurse"), study=STUDY)


def test_every_write_returns_what_it_changed(nurse: Workspace) -> None:
    registered = nurse.subjects.register("ABC", 1980, "F")
    number = registered.subject.subject_number
    assert registered.changes.subjects == {number} and registered.changes.data
    ref = FormRef(number, "D0", "vital_signs")
    added = nurse.entry.add_row(ref, "vs")
    assert added.changes.structure_changed(number, "D0", "vital_signs")
    saved = nurse.entry.save_item(ref, ("vs", added.row, "VSTEMP"), "37,2")
    assert saved.changes.cells(number, "D0", "vital_signs") == {("vs", added.row, "VSTEMP")}
    assert saved.changes.touches(number, "D0", "vital_signs") and not saved.changes.touches("01-999")
    unchanged = nurse.entry.save_item(ref, ("vs", added.row, "VSTEMP"), "37.20")
    assert not unchanged.saved and not unchanged.changes  # nothing written, nothing to redraw


def test_a_refused_write_reports_no_change(nurse: Workspace) -> None:
    number = nurse.subjects.register("ABC", 1980, "F").subject.subject_number
    ref = FormRef(number, "D0", "vital_signs")
    row = nurse.entry.add_row(ref, "vs").row
    with pytest.raises(ValidationError):
        nurse.entry.save_item(ref, ("vs", row, "VSTEMP"), "44")
    assert changes_of(None) == Changes() and not Changes()


def test_a_form_state_change_is_in_the_record(site: Site, admin: Workspace) -> None:
    doctor = Workspace.sign_in(site, "dr.seam", make_user(admin, "dr.seam", "investigator"), study=STUDY)
    number = doctor.subjects.register("ABC", 1980, "F").subject.subject_number
    ref = FormRef(number, "SCR", "renal_function")
    doctor.entry.save_values(ref, {("lb", 0, "LBDAT"): "20/11/2026", ("lb", 0, "CREAT"): "88"})
    done = doctor.entry.mark_complete(ref)
    assert done.status_of(number, "SCR", "renal_function") == FormStatus.COMPLETE
    assert done.has(Action.STATUS_CHANGE)


# ----- one rule, one table, one rendering --------------------------------------------------------------------------
def test_the_acceptance_rule_is_the_engines() -> None:
    state = state_for("vital_signs")
    row = state.add_row("vs")
    key = ("vs", row, "VSTEMP")
    state.set_text(key, "44")
    refused, _ = state.acceptance(key)
    assert refused is not None and refused.severity is Severity.HARD
    state.set_text(key, "38,6")
    refused, unconfirmed = state.acceptance(key)
    assert refused is None and unconfirmed is not None
    state.confirm(key)
    assert state.acceptance(key) == (None, None)


@pytest.mark.parametrize(("minutes", "text"), [(60, "UTC+01:00"), (-90, "UTC-01:30"), (345, "UTC+05:45"),
                                              (0, "UTC+00:00"), (-210, "UTC-03:30")])
def test_offsets_that_are_not_whole_hours(minutes: int, text: str) -> None:
    assert offset_text(minutes) == text
    assert format_stored("2026-11-25T09:00:00.000000Z", minutes).endswith(text)


def test_a_stored_time_is_shown_in_the_local_time_of_its_workstation() -> None:
    assert format_stored("2026-11-25T23:30:00.000000Z", 90) == "26/11/2026 01:00:00 UTC+01:30"
    assert format_stored("2026-11-25T23:30:00.000000Z", 90, seconds=False, offset=False) == "26/11/2026 01:00"


def test_form_states_have_one_bilingual_label() -> None:
    assert FormStatus.VERIFIED.label(Lang.FR) == "Vérifié (SDV)" and FormStatus.of(None) is FormStatus.NOT_STARTED
    assert FormStatus.SIGNED.completed and not FormStatus.DRAFT.completed and not FormStatus.LOCKED.editable


def test_a_signed_visit_counts_as_done() -> None:
    event = STUDY.event("M1")
    statuses = {("M1", f): FormStatus.SIGNED for f in event.forms}
    d0 = dt.date(2026, 1, 1)
    plans = {p.event: p for p in plan(STUDY, d0, statuses, {"M1": dt.date(2026, 1, 31)}, dt.date(2026, 3, 1))}
    assert plans["M1"].state is VisitState.DONE


def test_lifecycle_actions_are_asked_of_the_service(site: Site, admin: Workspace) -> None:
    from msc_sle_crf.services.lifecycle import LifecycleAction

    monitor = Workspace.sign_in(site, "mon.seam", make_user(admin, "mon.seam", "monitor"), study=STUDY)
    doctor = Workspace.sign_in(site, "dr.seam2", make_user(admin, "dr.seam2", "investigator"), study=STUDY)
    assert monitor.lifecycle.available(FormStatus.COMPLETE) == {LifecycleAction.VERIFY}
    assert doctor.lifecycle.available(FormStatus.VERIFIED) == {LifecycleAction.SIGN}
    assert doctor.lifecycle.available(FormStatus.SIGNED) == {LifecycleAction.LOCK}
    assert monitor.lifecycle.available(FormStatus.DRAFT) == frozenset()


def test_score_results_carry_their_label() -> None:
    from msc_sle_crf.scoring.common import ScoreResult

    assert ScoreResult("bilag_total", 12, "rule").label.fr == "Total BILAG"
    assert ScoreResult("sf36_pain", 50, "rule").label.en.startswith("SF-36")
