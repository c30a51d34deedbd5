"""Issue 18, insider attack part B, finding 1: a subject number taken from another workstation's block. The nurse
holds WS-02's database and her password; she runs the program's own register with its number chooser forced to
give WS-01's next number. Before: WS-02's verify passed, WS-01 and WS-02 then refused each other's packets for ever,
and a third database (or the hub) that took WS-02's packet first refused WS-01's. Rule: a subject created on a
workstation outside the block of numbers the site gave it is refused at import (one line naming subject,
workstation and block, nothing applied) and reported by ``verify`` (docs/workstations.md, "As built (atk-ws B)")."""

from __future__ import annotations

from pathlib import Path

import pytest

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.sync.workstations import Workstations, open_fork

from .conftest import ADMIN_PW, make_user
from .test_issue18_ws_attacks import DOCTOR_PW, NURSE_PW, _as, _export, _import, _problems, _refusal

_ = (DOCTOR_PW, NURSE_PW)


def _fork(site: Site, tmp_path: Path, name: str, clock: FakeClock) -> Site:
    admin = _as(site, "admin")
    added = Workstations(admin.ctx).add(admin, tmp_path / f"{name}.crfws")
    return Site.open(open_fork(added.path, tmp_path / name / f"{name}.crfdb", "admin", ADMIN_PW, clock=clock).db_path,
                     clock=clock)


@pytest.fixture
def three(tmp_path: Path, site: Site, admin: Workspace, clock: FakeClock) -> tuple[Site, Site, Site]:
    """WS-01 (01-001 registered), WS-02 and WS-03 opened from their real workstation files."""
    make_user(admin, "dr.house", "investigator", DOCTOR_PW)
    make_user(admin, "nurse.n", "nurse", NURSE_PW)
    _as(site, "dr.house").subjects.register("ABC", 1980, "F")
    ws2 = _fork(site, tmp_path, "ws2", clock)
    ws3 = _fork(site, tmp_path, "ws3", clock)
    return site, ws2, ws3


def _register_forced(site: Site, user: str, sequence: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """The attacker's register: the program's own code, its number chooser forced."""
    with monkeypatch.context() as m:
        m.setattr("msc_sle_crf.services.subjects.next_sequence", lambda *_a, **_k: sequence)
        return _as(site, user).subjects.register("XYZ", 1990, "F").subject.subject_number


def test_a_subject_number_from_another_workstations_block_is_refused_and_the_victim_keeps_working(
        tmp_path: Path, three: tuple[Site, Site, Site], monkeypatch: pytest.MonkeyPatch) -> None:
    ws1, ws2, ws3 = three
    assert _register_forced(ws2, "nurse.n", 2, monkeypatch) == "01-002"
    # WS-02's own verify names it
    problems = _problems(ws2)
    assert any("01-002" in p and "WS-02" in p and "201-399" in p for p in problems), problems
    real = _as(ws1, "dr.house").subjects.register("DEF", 1970, "M").subject.subject_number
    assert real == "01-002"
    attack = _export(ws2, tmp_path / "usb2")
    victim = _export(ws1, tmp_path / "usb1")
    # the third database (or the hub) that sees the attacker's packet first refuses it in one line, before anything
    line = _refusal(ws3, attack)
    assert "01-002" in line and "WS-02" in line and "201-399" in line, line
    assert "packet 1 of WS-01 applied" in _import(ws3, victim)  # the victim's packets keep flowing
    assert _problems(ws3) == []
    line = _refusal(ws1, attack)
    assert "01-002" in line and "WS-02" in line and "201-399" in line, line
    assert _problems(ws1) == []
    with _as(ws3, "dr.house").ctx.read() as session:
        from msc_sle_crf.store.tables import Subject
        owner = session.query(Subject.owner_ws).filter(Subject.subject_number == "01-002").scalar()
    assert owner is None  # WS-01's patient


def test_a_subject_number_in_a_later_workstations_block_registered_on_ws01_is_refused(
        tmp_path: Path, three: tuple[Site, Site, Site], monkeypatch: pytest.MonkeyPatch) -> None:
    """The first workstation keeps its own block once it has forked: a number of WS-03's block made on WS-01 (the
    attacker holding WS-01's file this time) is refused where it travels."""
    ws1, _ws2, ws3 = three
    assert _register_forced(ws1, "nurse.n", 401, monkeypatch) == "01-401"
    assert any("01-401" in p and "WS-01" in p for p in _problems(ws1)), _problems(ws1)
    line = _refusal(ws3, _export(ws1, tmp_path / "usb1"))
    assert "01-401" in line and "WS-01" in line and "401-599" in line, line


def test_subjects_in_their_own_blocks_still_travel(tmp_path: Path, three: tuple[Site, Site, Site]) -> None:
    ws1, ws2, ws3 = three
    assert _as(ws2, "dr.house").subjects.register("GHI", 1960, "F").subject.subject_number == "01-201"
    assert _as(ws3, "dr.house").subjects.register("JKL", 1961, "M").subject.subject_number == "01-401"
    assert "applied" in _import(ws1, _export(ws2, tmp_path / "a"))
    assert "applied" in _import(ws1, _export(ws3, tmp_path / "b"))
    assert _problems(ws1) == [] and _problems(ws2) == [] and _problems(ws3) == []
