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
