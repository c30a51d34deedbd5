"""Infusion day: timer from stored events (pauses, sleep, clock changes, reboot, corrections), vital-sign
schedule, review flags, dose check; and the bedside service with its two-person check."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import PermissionDenied, ValidationError
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.infusion.protocol import InfusionProtocol
from msc_sle_crf.infusion.vitals import PointState, dose_check, next_point, review, schedule
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.bedside import Bedside
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.store.tables import AuditEvent

from .conftest import make_user
from .helpers.eligible import make_eligible

CONFIG = InfusionProtocol()
T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def ev(n: int, kind: T.Kind, minutes: float, mono: float | None = None, boot: str | None = "b1",
       reason: str | None = None) -> T.TimerEvent:
    return T.TimerEvent(n, kind, T0 + dt.timedelta(minutes=minutes), mono if mono is not None else minutes * 60,
                        boot, reason)


def now(minutes: float, mono: float | None = None, boot: str = "b1") -> T.Now:
    return T.Now(T0 + dt.timedelta(minutes=minutes), mono if mono is not None else minutes * 60, boot)


def test_timer_with_a_pause() -> None:
    events = [ev(1, T.Kind.START, 0), ev(2, T.Kind.PAUSE, 10, reason="chills"), ev(3, T.Kind.RESUME, 15)]
    state = T.compute(events, now(40))
    assert state.phase is T.Phase.RUNNING
    assert state.running_minutes == 35 and state.paused_seconds == 300
    assert state.pauses[0][2] == "chills"
    stopped = T.compute([*events, ev(4, T.Kind.STOP, 50)], now(90))
    assert stopped.phase is T.Phase.STOPPED and stopped.running_minutes == 45 and stopped.deviation is None


def test_duration_outside_30_60_is_a_deviation_not_a_block() -> None:
    short = T.compute([ev(1, T.Kind.START, 0), ev(2, T.Kind.STOP, 25)], now(30))
    assert short.phase is T.Phase.STOPPED
    assert short.deviation is not None and "25 min, outside 30-60 min" in short.deviation.en


def test_wall_clock_jump_does_not_change_elapsed_time() -> None:
    events = [ev(1, T.Kind.START, 0)]
    # The wall clock jumps one hour ahead (time change) while 20 real minutes pass.
    assert T.compute(events, T.Now(T0 + dt.timedelta(minutes=80), 20 * 60, "b1")).running_minutes == 20


def test_sleep_counts_and_a_reboot_falls_back_to_the_wall_clock() -> None:
    events = [ev(1, T.Kind.START, 0)]
    # Laptop asleep for 25 minutes: the boot-time clock counts it, as the infusion goes on.
    assert T.compute(events, now(25)).running_minutes == 25
    # After a reboot the monotonic clock restarts: the wall clock is used.
    assert T.compute(events, T.Now(T0 + dt.timedelta(minutes=33), 12.0, "b2")).running_minutes == 33


def test_impossible_transitions_are_refused() -> None:
    with pytest.raises(T.TimerError):
        T.check_next([], T.Kind.PAUSE, now(0))
    with pytest.raises(T.TimerError):
        T.check_next([ev(1, T.Kind.START, 0)], T.Kind.RESUME, now(1))
    T.check_next([ev(1, T.Kind.START, 0), ev(2, T.Kind.PAUSE, 1)], T.Kind.STOP, now(2))


def test_schedule_states_and_countdown() -> None:
    start = T0
    points = {p.point.id: p for p in schedule(CONFIG, None, None, T0, done=set(), not_done=set())}
    assert points["BASE"].state is PointState.DUE and points["T15"].state is PointState.WAITING
    points = {p.point.id: p for p in schedule(CONFIG, start, None, T0 + dt.timedelta(minutes=14), done={"BASE"},
                                              not_done=set())}
    assert points["T15"].state is PointState.DUE and points["T15"].seconds_to_due == 60
    assert points["T30"].state is PointState.UPCOMING and points["END"].state is PointState.WAITING
    later = {p.point.id: p for p in schedule(CONFIG, start, None, T0 + dt.timedelta(minutes=21), done={"BASE"},
                                             not_done=set())}
    assert later["T15"].state is PointState.OVERDUE  # stays highlighted until entered or not done
    nd = {p.point.id: p for p in schedule(CONFIG, start, None, T0 + dt.timedelta(minutes=21), done={"BASE"},
                                          not_done={"T15"})}
    assert nd["T15"].state is PointState.NOT_DONE
    ended = schedule(CONFIG, start, T0 + dt.timedelta(minutes=40), T0 + dt.timedelta(minutes=41),
                     done={"BASE", "T15", "T30"}, not_done=set())
    ids = [p.point.id for p in ended]
    assert "T45" not in ids and "T60" not in ids  # the infusion ended first
    assert next_point(ended) is not None and next_point(ended).point.id == "END"


def test_review_flags_name_the_ae_term() -> None:
    base = {"systolic_bp": 124}
    flags = review({"temperature": Decimal("38.4"), "spo2": 90, "systolic_bp": 100, "heart_rate": 130}, base, CONFIG)
    assert [(f.code, f.ae_term) for f in flags] == [("fever", "Fever"), ("spo2", "Hypoxia"),
                                                    ("hypotension", "Hypotension"), ("tachycardia",
                                                                                     "Sinus tachycardia")]
    assert flags[0].grade == 1 and "24 mmHg below baseline" in flags[2].message.en
    assert review({"VSTEMP": Decimal("37.9"), "VSSPO2": 92, "VSSYSBP": 110, "VSHR": 80}, base, CONFIG) == []


def test_dose_check_tolerance() -> None:
    ok = dose_check(Decimal(2), Decimal("62.5"), Decimal(130), CONFIG)
    assert ok.planned_cells_e6 == Decimal("125.0") and ok.difference_percent == Decimal("4.0") and ok.within_tolerance
    assert not dose_check(Decimal(2), Decimal("62.5"), Decimal(140), CONFIG).within_tolerance


# ----- the service ---------------------------------------------------------------------------------------------
@pytest.fixture
def ward(site: Site, admin: Workspace) -> dict[str, Workspace]:
    out = {}
    for name, role in (("nurse.a", "nurse"), ("nurse.b", "nurse"), ("monitor.c", "monitor"),
                       ("dr.d", "investigator")):
        out[name] = Workspace.sign_in(site, name, make_user(admin, name, role))
    out["nurse.a"].subjects.register("ABC", 1980, "F")
    return out


def confirm_eligibility(doctor: Workspace, subject: str = "01-001") -> None:
    """The investigator confirms eligibility on the screening form, its criteria all met (what the start requires
    first)."""
    make_eligible(doctor, subject)


def check(bedside: Bedside) -> None:
    bedside.product_check("01-001", identity_confirmed=True, weight_kg="62,5", cohort="2", bag_id="UC-1",
                          lot="L1", labelled_cells_e6="130", use_by="25/11/2026 18:00", premedication="none")


def test_two_person_check_is_audited_and_must_be_someone_else(site: Site, ward: dict[str, Workspace]) -> None:
    bedside = ward["nurse.a"].bedside
    with pytest.raises(ValidationError, match="Identity"):
        bedside.product_check("01-001", identity_confirmed=False, weight_kg="62", cohort="2", bag_id="x",
                              lot="y", labelled_cells_e6="124", use_by="25/11/2026 18:00", premedication="")
    check(bedside)
    with pytest.raises(ValidationError, match="another member of staff"):
        bedside.second_check("01-001", "nurse.a", "pw-a.esrun-2026")
    with pytest.raises(PermissionDenied):
        bedside.second_check("01-001", "monitor.c", "pw-c.rotinom-2026")
    bedside.second_check("01-001", "nurse.b", "pw-b.esrun-2026")
    state = bedside.state("01-001")
    assert state.product is not None and state.product.second_by == "nurse.b"
    assert state.product.detail["planned_cells_e6"] == "125.0"
    with ward["nurse.a"].ctx.store.read() as session:
        actions = [a for (a,) in session.query(AuditEvent.action).filter(AuditEvent.action.in_(
            ("product_check", "two_person_check")))]
    assert actions == ["product_check", "two_person_check"]


def test_timer_events_and_vitals_through_the_service(site: Site, ward: dict[str, Workspace]) -> None:
    clock = site.clock
    assert isinstance(clock, FakeClock)
    bedside = ward["nurse.a"].bedside
    confirm_eligibility(ward["dr.d"])
    check(bedside)
    bedside.second_check("01-001", "nurse.b", "pw-b.esrun-2026")
    bedside.record_vitals("01-001", "BASE", {"VSTEMP": "36,8", "VSHR": "76", "VSSYSBP": "124", "VSDIABP": "78",
                                             "VSSPO2": "98"})
    bedside.timer("01-001", T.Kind.START)
    clock.advance(10 * 60)
    with pytest.raises(ValidationError, match="reason is required"):
        bedside.timer("01-001", T.Kind.PAUSE)
    bedside.timer("01-001", T.Kind.PAUSE, "shivering")
    clock.advance(5 * 60)
    bedside.timer("01-001", T.Kind.RESUME)
    clock.advance(5 * 60)
    reading = bedside.record_vitals("01-001", "T15", {"VSTEMP": "38,2", "VSHR": "96", "VSSYSBP": "98",
                                                      "VSDIABP": "60", "VSSPO2": "95"}, confirm=True)
    assert {f.code for f in reading.flags} == {"fever", "hypotension"}
    row = bedside.prefill_adverse_event("01-001", reading.flags[0]).row
    ae = bedside.entry.open_form(FormRef("01-001", "LOG", "adverse_events")).state
    assert ae.value(("ae", row, "AETERM")) == "Fever" and ae.value(("ae", row, "AETOXGR")) == "1"
    clock.jump_wall(3600)  # the wall clock jumps an hour: elapsed time does not
    state = bedside.state("01-001")
    assert state.timer.running_minutes == 15
    assert {p.point.id: p.state for p in state.points}["T15"] is PointState.DONE
    clock.advance(25 * 60)
    bedside.timer("01-001", T.Kind.STOP)
    state = bedside.state("01-001")
    assert state.timer.phase is T.Phase.STOPPED and state.timer.running_minutes == 40
    infusion = bedside.entry.open_form(bedside._ref("01-001", "infusion")).state
    assert infusion.value(("ex", 0, "EXSTTIM")) is not None and infusion.value(("ex", 0, "EXENTIM")) is not None
    start_id = state.timer_events[0].id
    with pytest.raises(ValidationError):
        bedside.correct_time("01-001", start_id, "10:05", " ")
    bedside.correct_time("01-001", start_id, "10:05", "clock on the pump was right")
    assert bedside.state("01-001").timer_events[0].corrected


def test_a_monitor_cannot_run_the_infusion(ward: dict[str, Workspace]) -> None:
    with pytest.raises(PermissionDenied):
        ward["monitor.c"].bedside.timer("01-001", T.Kind.START)
