"""Issue 18, follow-ups of the workstation part: a write refused because another workstation owns the subject is
audited like any refused action (reads write nothing); a site that never forked is not stopped at subject 199, and
its first fork splits the numbers it has not used; the account set travels with packets."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import PermissionDenied
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.store.tables import AuditEvent
from msc_sle_crf.sync.workstations import Workstations, open_fork

from .conftest import ADMIN_PW, make_user

DOCTOR_PW = "pw-house.rd-2026"
NURSE_PW = "pw-joy.esrun-2026"
PWS = {"admin": ADMIN_PW, "dr.house": DOCTOR_PW, "nurse.joy": NURSE_PW}


def _sign_in(site: Site, user: str) -> Workspace:
    return Workspace.sign_in(site, user, PWS[user])


def _fork(origin: Site, tmp_path: Path, clock: FakeClock, name: str) -> Site:
    admin = _sign_in(origin, "admin")
    added = Workstations(admin.ctx).add(admin, tmp_path / f"{name}.crfws")
    opened = open_fork(added.path, tmp_path / name / "trial.crfdb", "admin", ADMIN_PW, clock=clock)
    return Site.open(opened.db_path, clock=clock)


def _verify_clean(site: Site) -> None:
    report = _sign_in(site, "admin").integrity.verify()
    assert report.ok, (report.audit.problem, [u.line() for u in report.unexplained], report.anchor_problems)


@pytest.fixture
def origin(site: Site, admin: Workspace) -> Site:
    make_user(admin, "dr.house", "investigator", DOCTOR_PW)
    make_user(admin, "nurse.joy", "nurse", NURSE_PW)
    doctor = _sign_in(site, "dr.house")
    doctor.subjects.register("ABC", 1980, "F")
    doctor.entry.save_values(FormRef("01-001", "SCR", "renal_function"), {("lb", 0, "LBDAT"): "20/11/2026"})
    return site


def _denied(ws: Workspace) -> list[tuple[str | None, str | None, str | None]]:
    with ws.ctx.read() as session:
        return [tuple(r) for r in session.execute(select(AuditEvent.username, AuditEvent.subject, AuditEvent.detail)
                                                  .where(AuditEvent.action == "access_denied")
                                                  .order_by(AuditEvent.id)).all()]


# ----- 3. ownership refusals are audited -------------------------------------------------------------------------
def test_an_ownership_refusal_is_audited_once_and_a_read_writes_nothing(
        tmp_path: Path, origin: Site, clock: FakeClock) -> None:
    copy = _fork(origin, tmp_path, clock, "ws02")
    doctor2, nurse2 = _sign_in(copy, "dr.house"), _sign_in(copy, "nurse.joy")
    with doctor2.ctx.read() as session:
        records_before = session.execute(select(func.max(AuditEvent.id))).scalar()
    # reading and asking write nothing
    doctor2.entry.open_form(FormRef("01-001", "SCR", "renal_function"))
    assert not Workstations(doctor2.ctx).owns("01-001")
    assert Workstations(doctor2.ctx).owner("01-001") == "WS-01"
    with doctor2.ctx.read() as session:
        assert "access_denied" not in session.execute(select(AuditEvent.action)
                                                      .where(AuditEvent.id > records_before)).scalars().all()
        records_before = session.execute(select(func.max(AuditEvent.id))).scalar()
    attempts = [
        (doctor2, lambda: doctor2.entry.save_values(FormRef("01-001", "M0", "labs"),
                                                    {("lb", 0, "LBDAT"): "20/11/2026"})),
        (doctor2, lambda: doctor2.entry.add_row(FormRef("01-001", "SCR", "corticosteroids"), "cs")),
        (nurse2, lambda: nurse2.bedside.comment("01-001", "pulse 80")),
    ]
    for _ws, attempt in attempts:
        with pytest.raises(PermissionDenied, match="is entered on WS-01"):
            attempt()
    denied = _denied(doctor2)
    assert [(u, s) for u, s, _d in denied] == [("dr.house", "01-001"), ("dr.house", "01-001"),
                                               ("nurse.joy", "01-001")]
    assert all(d == "refused on WS-02: subject 01-001 is entered on WS-01 (new forms, rows and its infusion day are "
                    "done there)" for _u, _s, d in denied)
    # nothing else of the refused writes was kept
    with doctor2.ctx.read() as session:
        since = session.execute(select(AuditEvent.action).where(AuditEvent.id > records_before)).scalars().all()
    assert sorted(set(since)) == ["access_denied"]
    _verify_clean(copy)
    copy.close()


# ----- 4. a site that never forked is not stopped at subject 199 ------------------------------------------------
def _initials(n: int) -> str:
    return "".join(chr(65 + (n // 26**i) % 26) for i in range(3))


def test_a_site_never_forked_goes_past_199_and_its_first_fork_splits_the_unused_numbers(
        tmp_path: Path, origin: Site, clock: FakeClock) -> None:
    doctor = _sign_in(origin, "dr.house")
    numbers = [doctor.subjects.register(_initials(n), 1980, "F").subject.subject_number for n in range(1, 202)]
    assert numbers[197:] == ["01-199", "01-200", "01-201", "01-202"]  # before: "No subject number left on WS-01"
    admin = _sign_in(origin, "admin")
    assert Workstations(admin.ctx).info().subjects == (1, 999)
    added = Workstations(admin.ctx).add(admin, tmp_path / "ws02.crfws")
    # WS-01 keeps its numbers up to the end of the block it is in; WS-02 gets the next block nobody holds
    assert (added.ws, added.subject_range) == ("WS-02", "401-599")
    assert Workstations(admin.ctx).info().subjects == (1, 399)
    with admin.ctx.read() as session:
        settled = session.execute(select(AuditEvent.item, AuditEvent.new_value, AuditEvent.username)
                                  .where(AuditEvent.action == "workstation_open").order_by(AuditEvent.id)).all()
    assert [tuple(r) for r in settled] == [("workstation_id", "WS-01", "admin"), ("workstation_number", "1", "admin"),
                                           ("subject_range", "001-399", "admin")]
    assert doctor.subjects.register("XYZ", 1970, "M").subject.subject_number == "01-203"
    opened = open_fork(added.path, tmp_path / "ws02" / "trial.crfdb", "admin", ADMIN_PW, clock=clock)
    copy = Site.open(opened.db_path, clock=clock)
    doctor2 = _sign_in(copy, "dr.house")
    assert doctor2.subjects.register("QRS", 1971, "F").subject.subject_number == "01-401"
    admin2 = _sign_in(copy, "admin")
    assert Workstations(admin2.ctx).info().subjects == (401, 599)
    # a third workstation, forked from WS-02: its own block is 401-599 (held): the next free one
    third = Workstations(admin2.ctx).add(admin2, tmp_path / "ws03.crfws")
    assert (third.ws, third.subject_range) == ("WS-03", "601-799")
    _verify_clean(copy)
    _verify_clean(origin)
    copy.close()


def test_a_workstation_of_a_forked_site_stops_at_the_end_of_its_block_in_one_line(
        tmp_path: Path, origin: Site, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    from msc_sle_crf.errors import ValidationError
    from msc_sle_crf.i18n import Lang
    from msc_sle_crf.services import subjects as subjects_mod
    from msc_sle_crf.sync.identity import Workstation

    doctor = _sign_in(origin, "dr.house")
    monkeypatch.setattr(subjects_mod, "this_workstation", lambda _s: Workstation("WS-01", 1, (1, 2), None))
    assert doctor.subjects.register("DEF", 1975, "M").subject.subject_number == "01-002"
    assert doctor.subjects.register("GHI", 1975, "M").subject.subject_number == "01-003"  # alone: goes on
    monkeypatch.undo()
    _fork(origin, tmp_path, clock, "ws02").close()
    monkeypatch.setattr(subjects_mod, "this_workstation", lambda _s: Workstation("WS-01", 1, (1, 3), None))
    with pytest.raises(ValidationError) as exhausted:  # forked: the block is the limit
        doctor.subjects.register("JKL", 1975, "M")
    assert exhausted.value.message() == ("No subject number left on WS-01: its numbers 01-001 to 01-003 are all "
                                         "used; register the subject on another workstation.")
    assert exhausted.value.message(Lang.FR) == (
        "Plus aucun numéro de patient sur WS-01 : ses numéros 01-001 à 01-003 sont tous pris ; inscrivez le patient "
        "sur un autre poste.")
