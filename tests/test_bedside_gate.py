"""Issue 11 in the service layer: the start is gated (and a refusal audited), a stop made by mistake can be undone,
a bedside action writes everything or refuses before writing, one confirmation lists every abnormal value of a set,
and what is typed is kept for its typist only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.i18n import L, Lang, set_lang
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.infusion.protocol import InfusionProtocol
from msc_sle_crf.infusion.vitals import Flag, PointState, review
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.bedside import BASELINE, VitalsNeedConfirmation
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.services.demo_data import DemoWriter
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.status import FormStatus
from msc_sle_crf.store.tables import AuditEvent, InfusionEvent, ItemValue

from .conftest import FAST_KDF, make_user
from .test_infusion import confirm_eligibility

SUBJECT = "01-001"
T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
NORMAL = {"VSTEMP": "36,8", "VSHR": "76", "VSSYSBP": "124", "VSDIABP": "78", "VSRESP": "16", "VSSPO2": "98"}


@pytest.fixture
def ward(site: Site, admin: Workspace) -> dict[str, Workspace]:
    out = {}
    for name, role in (("nurse.a", "nurse"), ("nurse.b", "nurse"), ("dr.d", "investigator")):
        out[name] = Workspace.sign_in(site, name, make_user(admin, name, role))
    out["nurse.a"].subjects.register("ABC", 1980, "F")
    return out


def check(ws: Workspace, use_by: str = "25/11/2026 18:00", cells: str = "130") -> None:
    ws.bedside.product_check(SUBJECT, identity_confirmed=True, weight_kg="62,5", cohort="2", bag_id="UC-1",
                             lot="L1", labelled_cells_e6=cells, use_by=use_by, premedication="none")


def audit_count(ws: Workspace, **where: str) -> int:
    with ws.ctx.read() as session:
        query = select(func.count()).select_from(AuditEvent)
        for column, value in where.items():
            query = query.where(getattr(AuditEvent, column) == value)
        return int(session.execute(query).scalar_one())


def refused(ws: Workspace, **kwargs: str) -> str:
    with pytest.raises(ValidationError) as caught:
        ws.bedside.timer(SUBJECT, T.Kind.START, **kwargs)
    return caught.value.message()


def ready(ward: dict[str, Workspace]) -> None:
    confirm_eligibility(ward["dr.d"])
    check(ward["nurse.a"])
    ward["nurse.a"].bedside.second_check(SUBJECT, "nurse.b", "pw-b.esrun-2026")
    ward["nurse.a"].bedside.record_vitals(SUBJECT, BASELINE, NORMAL)


# ----- the start gate ------------------------------------------------------------------------------------------------
def test_the_start_is_refused_until_the_protocol_allows_it_and_each_refusal_is_audited(
        ward: dict[str, Workspace]) -> None:
    nurse = ward["nurse.a"]
    readiness = nurse.bedside.start_readiness(SUBJECT)
    assert [u.code for u in readiness.unmet] == ["eligibility", "eligibility", "dose", "product", "baseline"]
    assert "the screening criteria cannot tell eligibility yet" in readiness.unmet[1].message.en
    text = refused(nurse)
    assert text.startswith("The infusion cannot start: eligibility is not confirmed by the investigator")
    assert "the product and identity check is not recorded" in text
    confirm_eligibility(ward["dr.d"])
    check(nurse)
    assert [u.code for u in nurse.bedside.start_readiness(SUBJECT).unmet] == ["second", "baseline"]
    assert "not confirmed by a second person" in refused(nurse)
    nurse.bedside.second_check(SUBJECT, "nurse.b", "pw-b.esrun-2026")
    # Only the baseline is missing: a nurse cannot start without it; an investigator can, with a reason.
    assert "Only an investigator may start without it" in refused(nurse, override_reason="patient asleep")
    doctor = ward["dr.d"]
    assert "a reason is required" in refused(doctor)
    assert audit_count(nurse, item="start_refused") == 4
    assert nurse.bedside.state(SUBJECT).timer.phase is T.Phase.NOT_STARTED
    doctor.bedside.timer(SUBJECT, T.Kind.START, override_reason="baseline taken on paper, monitor failed")
    state = nurse.bedside.state(SUBJECT)
    assert state.timer.phase is T.Phase.RUNNING
    assert state.timer_events[0].reason == "baseline taken on paper, monitor failed"
    with nurse.ctx.read() as session:
        start = session.execute(select(InfusionEvent).where(InfusionEvent.kind == "start")).scalar_one()
    assert '"override": ["baseline"]' in (start.detail or "") and start.username == "dr.d"


def test_the_refusal_is_in_french_too(ward: dict[str, Workspace]) -> None:
    set_lang(Lang.FR)
    text = refused(ward["nurse.a"])
    assert text.startswith("La perfusion ne peut pas démarrer : l'éligibilité n'est pas confirmée")
    assert " ; " in text  # French punctuation between the reasons


def test_nothing_overrides_the_two_person_check_or_an_expired_product(ward: dict[str, Workspace],
                                                                      site: Site) -> None:
    confirm_eligibility(ward["dr.d"])
    doctor = ward["dr.d"]
    check(doctor, use_by="25/11/2026 10:30")  # 10:00 now (UTC+1); the product is good for 30 minutes
    doctor.bedside.record_vitals(SUBJECT, BASELINE, NORMAL)
    assert "second person" in refused(doctor, override_reason="urgent")
    doctor.bedside.second_check(SUBJECT, "nurse.a", "pw-a.esrun-2026")
    clock = site.clock
    assert isinstance(clock, FakeClock)
    clock.advance(45 * 60)
    assert "the product expired at 25/11/2026 10:30" in refused(doctor, override_reason="urgent")


def test_a_dose_outside_the_tolerance_needs_an_investigator_and_a_reason(ward: dict[str, Workspace]) -> None:
    confirm_eligibility(ward["dr.d"])
    check(ward["nurse.a"], cells="150")  # planned 125: +20 %
    ward["nurse.a"].bedside.second_check(SUBJECT, "nurse.b", "pw-b.esrun-2026")
    ward["nurse.a"].bedside.record_vitals(SUBJECT, BASELINE, NORMAL)
    assert "differ from the planned dose by 20.0 %" in refused(ward["nurse.a"])
    ward["dr.d"].bedside.timer(SUBJECT, T.Kind.START, override_reason="pharmacy confirmed the count")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Site]:
    site = create_demo(tmp_path / "gate.crfdb", kdf=FAST_KDF, clock=FakeClock())
    yield site
    site.close()


def test_a_screening_failure_or_a_subject_who_left_cannot_be_infused(demo: Site) -> None:
    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    for subject, why in (("99-004", "the subject has left the study (Screening failure)"),
                         ("99-005", "the subject has left the study (Consent withdrawn)")):
        codes = [u.code for u in doctor.bedside.start_readiness(subject).unmet]
        assert codes[0] == "ended"
        with pytest.raises(ValidationError, match=rf"cannot start: {why.replace('(', '.').replace(')', '.')}"):
            doctor.bedside.timer(subject, T.Kind.START, override_reason="I insist")


def test_the_screening_criteria_can_contradict_the_confirmation(demo: Site) -> None:
    """99-006 is confirmed eligible (its screening SELENA-SLEDAI and steroids are not entered yet: the criteria are
    not decided, which an investigator alone may override, with a reason); once they are, a left ventricular ejection
    fraction of 35 % fails one and the start is refused."""
    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")

    def undetermined() -> list[str]:
        unmet = [u for u in doctor.bedside.start_readiness("99-006").unmet if u.code == "eligibility"]
        assert len(unmet) == 1 and unmet[0].overridable, unmet
        return [unmet[0].message.en, unmet[0].message.fr]

    en, fr = undetermined()
    assert en.startswith("the screening criteria cannot tell eligibility yet (unknown: SELENA-SLEDAI")
    assert "only an investigator may start without it, with a reason" in en
    assert fr.startswith("les critères de sélection ne permettent pas encore de dire l'éligibilité (inconnu : ")
    writer = DemoWriter(doctor.entry, doctor.entry, doctor.study, dt.date(2026, 11, 25))
    writer.sledai("99-006", "SCR", ("arthritis", "rash", "low_complement", "proteinuria"), "1.0",
                  dt.date(2026, 11, 23))
    assert "SELENA" not in undetermined()[0]  # the steroids still unknown
    writer.steroids("99-006", "SCR", dt.date(2026, 7, 1), "15", dt.date(2026, 11, 23))
    assert all(u.code != "eligibility" for u in doctor.bedside.start_readiness("99-006").unmet)
    scr = doctor.study.bindings.scores.screening
    form = doctor.study.forms[scr.form]
    doctor.entry.save_values(FormRef("99-006", scr.event or "", scr.form),
                             {(form.group_of(scr.lvef).id, 0, scr.lvef): "35"}, confirm=True)
    unmet = [u for u in doctor.bedside.start_readiness("99-006").unmet if u.code == "eligibility"]
    assert len(unmet) == 1 and unmet[0].message.en.startswith("the screening criteria say not eligible (")
    assert not unmet[0].overridable


# ----- undo a stop ----------------------------------------------------------------------------------------------
def test_a_stop_made_by_mistake_is_undone_with_a_reason_and_the_readings_come_back(
        ward: dict[str, Workspace], site: Site) -> None:
    clock = site.clock
    assert isinstance(clock, FakeClock)
    ready(ward)
    bedside = ward["nurse.a"].bedside
    bedside.timer(SUBJECT, T.Kind.START)
    clock.advance(15 * 60)
    bedside.record_vitals(SUBJECT, "T15", NORMAL)
    clock.advance(17 * 60)
    bedside.timer(SUBJECT, T.Kind.STOP)
    state = bedside.state(SUBJECT)
    assert {"T45", "T60"}.isdisjoint(p.point.id for p in state.points)  # gone once stopped at 32'
    infusion = bedside.entry.open_form(FormRef(SUBJECT, "D0", "infusion")).state
    assert infusion.value(("ex", 0, "EXENTIM")) is not None
    clock.advance(60)
    with pytest.raises(ValidationError, match="Undo the stop: a reason is required"):
        bedside.timer(SUBJECT, T.Kind.UNDO_STOP, "  ")
    bedside.timer(SUBJECT, T.Kind.UNDO_STOP, "pressed Stop instead of Pause")
    state = bedside.state(SUBJECT)
    assert state.timer.phase is T.Phase.RUNNING and state.timer.stopped is None
    assert state.timer.running_minutes == 33  # the infusion went on: the minute after the mistaken stop counts
    assert state.timer.undone_stops[0][2] == "pressed Stop instead of Pause"
    points = {p.point.id: p.state for p in state.points}
    assert points["T45"] is PointState.UPCOMING and points["T60"] is PointState.UPCOMING
    assert points["END"] is PointState.WAITING
    infusion = bedside.entry.open_form(FormRef(SUBJECT, "D0", "infusion")).state
    assert infusion.value(("ex", 0, "EXENTIM")) is None
    assert audit_count(ward["nurse.a"], item="undo_stop") == 1
    clock.advance(20 * 60)
    bedside.timer(SUBJECT, T.Kind.STOP)
    clock.advance(6 * 60)
    with pytest.raises(ValidationError, match="only within 5 min"):
        bedside.timer(SUBJECT, T.Kind.UNDO_STOP, "too late")
    assert bedside.state(SUBJECT).timer.phase is T.Phase.STOPPED


def test_undo_in_the_timer_domain() -> None:
    protocol = InfusionProtocol(undo_stop_minutes=3)

    def ev(n: int, kind: T.Kind, minute: float, reason: str | None = None) -> T.TimerEvent:
        return T.TimerEvent(n, kind, T0 + dt.timedelta(minutes=minute), minute * 60, "b", reason)

    def at(minute: float) -> T.Now:
        return T.Now(T0 + dt.timedelta(minutes=minute), minute * 60, "b")

    events = [ev(1, T.Kind.START, 0), ev(2, T.Kind.PAUSE, 10, "chills"), ev(3, T.Kind.STOP, 12)]
    stopped = T.compute(events, at(13), protocol)
    assert stopped.phase is T.Phase.STOPPED and T.undo_left_seconds(stopped, at(13), protocol) == 120
    T.check_next(events, T.Kind.UNDO_STOP, at(14), protocol)
    with pytest.raises(T.TimerError, match="only within 3 min"):
        T.check_next(events, T.Kind.UNDO_STOP, at(15.5), protocol)
    undone = T.compute([*events, ev(4, T.Kind.UNDO_STOP, 14, "mistake")], at(20), protocol)
    assert undone.phase is T.Phase.PAUSED and undone.pauses[-1][1] is None  # back in its pause
    assert undone.running_minutes == 10 and undone.paused_seconds == 600
    with pytest.raises(T.TimerError):
        T.check_next([ev(1, T.Kind.START, 0)], T.Kind.UNDO_STOP, at(1), protocol)


# ----- one transaction or a refusal before writing ----------------------------------------------------------------
def item_rows(ws: Workspace) -> int:
    with ws.ctx.read() as session:
        return int(session.execute(select(func.count()).select_from(ItemValue)).scalar_one())


@pytest.mark.parametrize(("field", "text", "message"), [
    ("use_by", "32/13/2026", "Use-by time"),
    ("use_by", "", "Use-by time: required"),
    ("weight_kg", "abc", "Weight:"),
    ("cohort", "", "Dose cohort: required"),
    ("labelled_cells_e6", "", "Labelled viable cells: required"),
])
def test_a_refused_product_check_writes_nothing(ward: dict[str, Workspace], field: str, text: str,
                                                message: str) -> None:
    """The dose and product values were written before the use-by date was read: a refusal left them behind (and a
    missing cohort or weight ended in an unexpected error)."""
    nurse = ward["nurse.a"]
    before, audited = item_rows(nurse), audit_count(nurse)
    values = {"identity_confirmed": True, "weight_kg": "62,5", "cohort": "2", "bag_id": "UC-1", "lot": "L1",
              "labelled_cells_e6": "130", "use_by": "25/11/2026 18:00", "premedication": "none", field: text}
    with pytest.raises(ValidationError, match=message):
        nurse.bedside.product_check(SUBJECT, **values)  # type: ignore[arg-type]
    assert item_rows(nurse) == before and audit_count(nurse) == audited
    assert nurse.entry.statuses(SUBJECT) == {}


def test_a_comment_on_a_complete_infusion_form_is_recorded_whole(demo: Site) -> None:
    """The comment's event was recorded, then the complete infusion form refused the value ("a reason is
    required"): half of the action was written."""
    nurse = Workspace.sign_in(demo, "nurse.durand", "training-nurse")
    ref = FormRef("99-001", "D0", "infusion")
    assert nurse.entry.open_form(ref).status is FormStatus.COMPLETE
    nurse.bedside.comment("99-001", "pump alarm at 10:20, cleared")
    nurse.bedside.comment("99-001", "second remark")
    assert nurse.bedside.state("99-001").comments == ("pump alarm at 10:20, cleared", "second remark")
    assert nurse.entry.open_form(ref).state.value(("ex", 0, "EXCOMM")) == "pump alarm at 10:20, cleared\nsecond remark"


def test_a_time_correction_needs_a_real_time_and_a_reason(ward: dict[str, Workspace]) -> None:
    """An empty time ended in an unexpected error (a parse error the screen did not expect)."""
    ready(ward)
    bedside = ward["nurse.a"].bedside
    bedside.timer(SUBJECT, T.Kind.START)
    start = bedside.state(SUBJECT).timer_events[0].id
    for text, message in (("", "Actual time: required"), ("25:70", "Actual time: this time does not exist"),
                          ("ten", "Actual time: a time hh:mm is expected")):
        with pytest.raises(ValidationError, match=message):
            bedside.correct_time(SUBJECT, start, text, "pump clock")
    with pytest.raises(ValidationError, match="Reason for change"):
        bedside.correct_time(SUBJECT, start, "10:02", "")
    assert not bedside.state(SUBJECT).timer_events[0].corrected


# ----- one confirmation for the whole set -------------------------------------------------------------------------
def test_one_confirmation_lists_every_abnormal_value_of_the_set(ward: dict[str, Workspace]) -> None:
    """Only the temperature asked for a confirmation; the three other abnormal values went in unremarked."""
    ready(ward)
    bedside = ward["nurse.a"].bedside
    bedside.timer(SUBJECT, T.Kind.START)
    abnormal = {**NORMAL, "VSTEMP": "38,6", "VSHR": "132", "VSSYSBP": "96", "VSSPO2": "89"}
    with pytest.raises(VitalsNeedConfirmation) as caught:
        bedside.record_vitals(SUBJECT, "T15", abnormal)
    problems = [p.en for p in caught.value.problems]
    assert len(problems) == 4
    assert problems[0].startswith("Fever 38.6 °C") and "Heart rate 132/min" in problems[1]
    assert "28 mmHg below baseline" in problems[2] and problems[3].startswith("SpO2 89 %")
    assert len(bedside.state(SUBJECT).readings) == 1  # nothing saved yet
    reading = bedside.record_vitals(SUBJECT, "T15", abnormal, confirm=True)
    assert {f.code for f in reading.flags} == {"fever", "tachycardia", "hypotension", "spo2"}
    with pytest.raises(ValidationError, match="15 min after the start: already recorded"):
        bedside.record_vitals(SUBJECT, "T15", NORMAL)


def test_an_impossible_value_is_refused_naming_its_field(ward: dict[str, Workspace]) -> None:
    bedside = ward["nurse.a"].bedside
    with pytest.raises(ValidationError, match="Heart rate") as caught:
        bedside.record_vitals(SUBJECT, BASELINE, {**NORMAL, "VSHR": "780"})
    assert not isinstance(caught.value, VitalsNeedConfirmation)


def test_flags_write_numbers_as_each_language_does() -> None:
    flags = review({"temperature": Decimal("38.3")}, None, InfusionProtocol())
    assert flags[0].message.en.startswith("Fever 38.3 °C") and flags[0].message.fr.startswith("Fièvre 38,3 °C")


# ----- what is typed stays its typist's ---------------------------------------------------------------------------
def test_typed_values_belong_to_their_typist(ward: dict[str, Workspace]) -> None:
    a, b = ward["nurse.a"].bedside, ward["nurse.b"].bedside
    a.save_typed(SUBJECT, "VSTEMP", "37,1")
    a.save_check_draft(SUBJECT, {"weight": "62,5", "bag": ""})
    assert a.typed(SUBJECT) == {"VSTEMP": "37,1"} and a.check_draft(SUBJECT) == {"weight": "62,5"}
    assert b.typed(SUBJECT) == {} and b.check_draft(SUBJECT) == {}


def test_an_undetermined_eligibility_stops_a_nurse_and_an_investigator_starts_with_a_reason(demo: Site) -> None:
    """h71: 99-006 confirmed eligible by the investigator's tick alone, its SELENA-SLEDAI >= 6 and prednisone criteria
    unknown. The nurse cannot start; the investigator can, with a reason, and the override is recorded."""
    from tests.helpers.bedside_ui import check_product

    nurse = Workspace.sign_in(demo, "nurse.durand", "training-nurse")
    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    check_product(nurse, "99-006")
    nurse.bedside.second_check("99-006", "dr.martin", "training-doctor")
    nurse.bedside.record_vitals("99-006", BASELINE, NORMAL)
    with pytest.raises(ValidationError, match="cannot tell eligibility yet"):
        nurse.bedside.timer("99-006", T.Kind.START)
    with pytest.raises(ValidationError, match="a reason is required"):
        doctor.bedside.timer("99-006", T.Kind.START)
    doctor.bedside.timer("99-006", T.Kind.START, override_reason="SLEDAI 10 on the source file, entry pending")
    with doctor.ctx.read() as session:
        start = session.execute(select(InfusionEvent).where(InfusionEvent.kind == "start")).scalar_one()
    assert '"override": ["eligibility"]' in (start.detail or "")


def test_a_reading_before_its_due_window_is_that_time_point_only_when_confirmed(ward: dict[str, Workspace],
                                                                                site: Site) -> None:
    """h71: 5 minutes after the start, the reading offered as "15 min after the start" (planned 10 minutes later)
    is asked about, in both languages; confirmed, it is stored as T15; inside the due window it is not asked."""
    clock = site.clock
    assert isinstance(clock, FakeClock)
    ready(ward)
    nurse = ward["nurse.a"].bedside
    nurse.timer(SUBJECT, T.Kind.START)
    clock.advance(5 * 60)
    with pytest.raises(VitalsNeedConfirmation) as caught:
        nurse.record_vitals(SUBJECT, "T15", NORMAL)
    assert caught.value.early is not None and caught.value.early.point.id == "T15"
    assert caught.value.message(Lang.EN).startswith("15 min after the start is planned at 10:15, in 10 min: confirm")
    assert caught.value.message(Lang.FR).startswith("15 min après le début est prévue à 10:15, dans 10 min")
    assert not any(r.timepoint == "T15" for r in nurse.state(SUBJECT).readings)
    nurse.record_vitals(SUBJECT, "T15", NORMAL, confirm=True)
    assert [r.time for r in nurse.state(SUBJECT).readings if r.timepoint == "T15"] == [dt.time(10, 5)]
    clock.advance(23 * 60)  # 2 minutes before "30 min after the start": due
    nurse.record_vitals(SUBJECT, "T30", NORMAL)


# ----- an adverse event from a flag ----------------------------------------------------------------------------------
def test_an_adverse_event_from_a_flag_is_added_once_and_on_a_complete_log_with_a_reason(demo: Site) -> None:
    """h71: each click on "Adverse event: Fever…" added another Fever row (the same fever twice); on a complete log
    the click was refused with no way to give the reason."""
    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    fever = Flag("fever", L("Fever", "Fièvre"), "Fever", 1)
    ref = FormRef("99-006", "LOG", "adverse_events")
    first = doctor.bedside.prefill_adverse_event("99-006", fever)
    again = doctor.bedside.prefill_adverse_event("99-006", fever)
    assert again.row == first.row and len(doctor.entry.open_form(ref).state.rows["ae"]) == 1
    done = FormRef("99-002", "LOG", "adverse_events")  # its Fever was 200 days ago: today's is another one
    doctor.entry.mark_complete(done)
    before = len(doctor.entry.open_form(done).state.rows["ae"])
    with pytest.raises(ValidationError) as caught:
        doctor.bedside.prefill_adverse_event("99-002", fever)
    assert caught.value.msg is Msg.CHANGE_REASON_REQUIRED
    added = doctor.bedside.prefill_adverse_event("99-002", fever, reason="fever 38.6 during the infusion")
    state = doctor.entry.open_form(done).state
    assert len(state.rows["ae"]) == before + 1 and state.value(("ae", added.row, "AETERM")) == "Fever"
    assert state.value(("ae", added.row, "AETOXGR")) == "1"
    assert doctor.bedside.prefill_adverse_event("99-002", fever).row == added.row  # no reason needed to find it
