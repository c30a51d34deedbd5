"""Issue 18, insider attack part B, finding 3: the disabled nurse's twin. She copied WS-02's database files while
her account was enabled; the administrator then disabled her on WS-01, and the real WS-02 imported that. On the copy
(which never heard of the disable) she signs in, enters a subject and writes "packet 1 of WS-02". Before: WS-01
applied it (a copy's records were judged only as their workstation knew the disables), and then refused the real
WS-02's packet 1 for good with a wrong "restored from a backup" line. Rule: a record by an account this database
holds as disabled, written after that disable (made on any workstation it knows of), is refused, in one line saying
so, before anything is applied; so the copy cannot take WS-02's packet number (docs/workstations.md, "As built
(atk-ws B)")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.store.tables import Subject
from msc_sle_crf.sync.workstations import Workstations, open_fork

from .conftest import ADMIN_PW, make_user
from .test_issue18_ws_attacks import DOCTOR_PW, NURSE_PW, _as, _export, _import, _problems, _refusal


@pytest.fixture
def two(tmp_path: Path, site: Site, admin: Workspace, clock: FakeClock) -> tuple[Site, Site]:
    """WS-01 and WS-02 opened from its real workstation file; dr.house and nurse.n exist on both."""
    make_user(admin, "dr.house", "investigator", DOCTOR_PW)
    make_user(admin, "nurse.n", "nurse", NURSE_PW)
    added = Workstations(admin.ctx).add(admin, tmp_path / "WS-02.crfws")
    opened = open_fork(added.path, tmp_path / "ws2" / "ws2.crfdb", "admin", ADMIN_PW, clock=clock)
    return site, Site.open(opened.db_path, clock=clock)


def _subjects(site: Site) -> set[str]:
    with _as(site, "dr.house").ctx.read() as session:
        return set(session.execute(select(Subject.subject_number)).scalars())


def test_a_disabled_nurses_copy_of_ws02_cannot_take_its_packet_number(
        tmp_path: Path, two: tuple[Site, Site], clock: FakeClock, admin: Workspace) -> None:
    ws1, ws2 = two
    # her copy of WS-02's files, made while she was enabled
    folder = ws2.db_path.parent
    ws2.close()
    shutil.copytree(folder, tmp_path / "twin")
    twin = Site.open(tmp_path / "twin" / ws2.db_path.name, clock=clock)
    ws2 = Site.open(folder / ws2.db_path.name, clock=clock)
    clock.advance(3600)
    admin.accounts.disable_user("nurse.n", "left the unit")
    code = admin.accounts.take_packet_code()  # the packet secret renewed (i18-secret)
    clock.advance(60)
    assert "applied" in _import(ws2, _export(ws1, tmp_path / "from1"), code)  # the real WS-02 hears of it
    clock.advance(3600)
    fake = _as(twin, "nurse.n").subjects.register("TWN", 1990, "F").subject.subject_number
    forged = _export(twin, tmp_path / "twin-usb")
    real = _as(ws2, "dr.house").subjects.register("REA", 1970, "M").subject.subject_number
    assert fake == real == "01-201"
    genuine = _export(ws2, tmp_path / "real-usb")
    line = _refusal(ws1, forged)
    assert "nurse.n" in line and "disabled" in line and "WS-01" in line and "WS-02" in line, line
    assert "01-201" not in _subjects(ws1)
    # the real WS-02 keeps working
    assert "packet 1 of WS-02 applied" in _import(ws1, genuine)
    assert "01-201" in _subjects(ws1) and _problems(ws1) == []


def test_records_written_before_the_disable_still_travel(
        tmp_path: Path, two: tuple[Site, Site], clock: FakeClock, admin: Workspace) -> None:
    """Her work on WS-02 before she was disabled (WS-02 offline meanwhile) is hers and is applied."""
    ws1, ws2 = two
    number = _as(ws2, "nurse.n").subjects.register("OLD", 1990, "F").subject.subject_number
    clock.advance(3600)
    admin.accounts.disable_user("nurse.n", "left the unit")
    assert "applied" in _import(ws1, _export(ws2, tmp_path / "usb"))
    assert number in _subjects(ws1) and _problems(ws1) == []

