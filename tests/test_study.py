"""The MSC-SLE study as a site sees it: the TRAINING database, schedule and next actions, every score of a subject,
and the protocol's bad inputs refused with clear messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import ValidationError
from msc_sle_crf.schedule import VisitState, next_action, plan
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.services.entry import DataEntry, FormRef

from .conftest import FAST_KDF
from .forms_helpers import STUDY


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = create_demo(tmp_path_factory.mktemp("demo") / "demo.crfdb", kdf=FAST_KDF, clock=FakeClock())
    yield site
    site.close()


@pytest.fixture(scope="module")
def doctor(demo: Site) -> Workspace:
    return Workspace.sign_in(demo, "dr.martin", "training-doctor")


def test_demo_has_every_stage_with_a_next_action(doctor: Workspace) -> None:
    rows = {r.subject.initials: r for r in doctor.overview.subject_rows()}
    assert len(rows) == 8
    assert rows["ABC"].next_action.en == "Ended: Completed the 12-month follow-up"
    assert rows["SBE"].next_action.fr == "Terminé : Échec de sélection"
    assert rows["MCL"].next_action.en == "Ended: Consent withdrawn"
    assert rows["DLM"].next_action.en.startswith("Month 6: overdue since")
    assert rows["JPR"].next_action.en.startswith("Month 3 from")
    assert rows["HTG"].next_action.en == "Screening: to complete"
    assert rows["HTG"].next_action.fr == "Sélection : à compléter"
    assert rows["PLV"].next_action.en.startswith("Month 12 from")
    assert rows["RGN"].next_action.en.startswith("Tolerance D1-D10: due by")


def test_completed_subject_scores(doctor: Workspace) -> None:
    overview = doctor.overview.subject("99-001")
    m3 = overview.scores.per_visit["M3"]
    assert m3["selena_sledai"].value == 4 and overview.scores.per_visit["M0"]["selena_sledai"].value == 12
    assert m3["sri4"].value is True
    assert [p.value for p in m3["sri4"].breakdown] == [True, True, True, True]
    assert overview.scores.overall["mcr"].value is True
    assert overview.scores.overall["eligibility"].value is True
    assert overview.scores.overall["not_tolerated_all"].value is False
    assert m3["steroid_reduction"].value is True  # 15 -> 11 mg/day: 26.7 %
    assert all(p.state in (VisitState.DONE, VisitState.DONE_OUT_OF_WINDOW) for p in overview.plans)


def test_not_tolerated_subject_shows_the_driving_event(doctor: Workspace) -> None:
    scores = doctor.overview.subject("99-003").scores
    result = scores.overall["not_tolerated_related"]
    assert result.value is True
    assert [p.key for p in result.breakdown] == ["Fever"]
    assert "grade 3" in result.breakdown[0].label.en


def test_screen_failure_lists_the_failed_criterion(doctor: Workspace) -> None:
    result = doctor.overview.subject("99-004").scores.overall["eligibility"]
    assert result.value is False
    assert {p.key for p in result.breakdown if p.value == "failed"} == {"lvef"}


def test_schedule_states() -> None:
    d0 = dt.date(2026, 1, 1)
    statuses = {("M1", "vital_signs"): "complete", ("M1", "labs"): "complete", ("M1", "toxicity_review"): "complete",
                ("M1", "corticosteroids"): "complete", ("M3", "labs"): "draft",
                **{("D0", f): "complete" for f in ("dose_cohort", "infusion", "vital_signs")},
                ("TOL", "tolerance"): "complete"}
    plans = {p.event: p for p in plan(STUDY, d0, statuses, {"M1": dt.date(2026, 2, 20)}, dt.date(2026, 4, 20))}
    assert plans["M1"].state is VisitState.DONE_OUT_OF_WINDOW  # target 31/01, window 24/01-07/02
    assert plans["M3"].state is VisitState.OVERDUE  # window ended 15/04
    assert plans["M6"].state is VisitState.UPCOMING
    assert plans["SCR"].state is VisitState.TO_DO and plans["SCR"].target is None
    assert plans["M3"].target == dt.date(2026, 4, 1)
    assert next_action(list(plans.values())).en == "Month 3: overdue since 15/04/2026"
    early = {p.event: p for p in plan(STUDY, d0, {}, {}, dt.date(2026, 1, 26))}
    assert early["M1"].state is VisitState.DUE


# ----- the protocol's bad inputs ----------------------------------------------------------------------------------
@pytest.fixture
def entry(demo: Site) -> DataEntry:
    return Workspace.sign_in(demo, "dr.martin", "training-doctor").entry


def test_visit_date_before_the_infusion_is_refused(entry: DataEntry) -> None:
    ref = FormRef("99-003", "M3", "toxicity_review")
    with pytest.raises(ValidationError, match="is before the infusion"):
        entry.save_item(ref, ("review", 0, "TXDAT"), "01/01/2026")
    assert entry.typed_buffer(ref) == {}  # nothing stored, and nothing else lost


def test_ae_grade_that_does_not_exist_and_ae_ending_before_start(entry: DataEntry) -> None:
    ref = FormRef("99-002", "LOG", "adverse_events")
    row = entry.add_row(ref, "ae").row
    entry.save_item(ref, ("ae", row, "AETERM"), "Anaphylaxis")
    with pytest.raises(ValidationError) as err:
        entry.save_item(ref, ("ae", row, "AETOXGR"), "1")
    assert "grade 1 does not exist for 'Anaphylaxis' (grades: 3, 4, 5)" in err.value.message()
    entry.save_item(ref, ("ae", row, "AETOXGR"), "3")
    with pytest.raises(ValidationError, match=r"is not a CTCAE v5\.0 term"):
        entry.save_item(ref, ("ae", row, "AETERM"), "Feeling poorly")
    entry.save_item(ref, ("ae", row, "AESTDAT"), "10/11/2026")
    entry.save_item(ref, ("ae", row, "AEONGO"), "N")
    with pytest.raises(ValidationError, match="the end must not be before the start"):
        entry.save_item(ref, ("ae", row, "AEENDAT"), "09/11/2026")
    state = entry.open_form(ref).state
    assert state.value(("ae", row, "AETERM")) == "Anaphylaxis" and state.value(("ae", row, "AETOXGR")) == "3"


@pytest.mark.parametrize(("form", "key", "text", "message"), [
    ("selena_sledai", ("total", 0, "SLPGA"), "3,5", "above the highest possible value 3"),
    ("sf36", ("q1_2", 0, "SF01"), "7", "choose one of"),
    ("eq5d", ("dims", 0, "EQMO"), "0", "choose one of"),
    ("eq5d", ("dims", 0, "EQVAS"), "101", "above the highest possible value 100"),
])
def test_score_inputs_out_of_range_are_refused(entry: DataEntry, form: str, key: tuple[str, int, str], text: str,
                                               message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        entry.save_item(FormRef("99-002", "M6", form), key, text)


def test_calculated_scores_on_the_forms(entry: DataEntry) -> None:
    state = entry.open_form(FormRef("99-001", "M0", "selena_sledai")).state
    assert state.value(("total", 0, "SLTOTAL")) == 12
    bilag = entry.open_form(FormRef("99-001", "M0", "bilag")).state
    assert bilag.value(("systems", 0, "BLTOTAL")) == 9 + 3 + 3
    screening = entry.open_form(FormRef("99-001", "SCR", "screening")).state
    assert screening.value(("exclusion", 0, "CRCL")) is not None


def test_demo_database_audit_chain_is_intact(demo: Site) -> None:
    admin = Workspace.sign_in(demo, "admin", "training-manager")
    assert admin.integrity.verify().ok


def test_a_fresh_demo_shows_its_subjects_to_a_monitor(tmp_path: Path) -> None:
    site = create_demo(tmp_path / "d.crfdb", kdf=FAST_KDF, clock=FakeClock())
    services = Workspace.sign_in(site, "monitor.petit", "training-monitor")
    assert len(services.subjects.list()) == 8
    site.close()
