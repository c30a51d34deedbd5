"""Issue 12, the monitor's worklist: every query still to deal with across subjects (who must act), SDV progress per
subject and visit, per-form marks, and "verify all items of this form" (audited, replayed by verify)."""

from __future__ import annotations

import pytest

from msc_sle_crf.errors import PermissionDenied
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.services.monitoring import ANSWERED, OPEN, FormMarks, SdvProgress
from msc_sle_crf.services.subjects import Subjects

from .conftest import make_user

REF = FormRef("01-001", "SCR", "renal_function")
REF2 = FormRef("01-002", "SCR", "renal_function")
CREAT = ("lb", 0, "CREAT")
DATE = ("lb", 0, "LBDAT")


@pytest.fixture
def team(site: Site, admin: Workspace) -> dict[str, Workspace]:
    out = {"admin": admin}
    for name, role in (("dr.m", "investigator"), ("monitor.m", "monitor")):
        out[role] = Workspace.sign_in(site, name, make_user(admin, name, role))
    subjects = Subjects(out["investigator"].ctx)
    subjects.register("ABC", 1980, "F")
    subjects.register("DEF", 1975, "M")
    for ref in (REF, REF2):
        out["investigator"].entry.save_values(ref, {DATE: "20/11/2026", CREAT: "88"})
    return out


def test_worklist_lists_every_query_not_closed_with_who_must_act(team: dict[str, Workspace]) -> None:
    monitor, doctor = team["monitor"].monitoring, team["investigator"].monitoring
    first = monitor.open_query(REF, CREAT, "Source says 98").query_id
    second = monitor.open_query(REF2, DATE, "Date of the sample?").query_id
    doctor.answer(second, "21/11 on the report")
    items = {w.id: w for w in monitor.worklist()}
    assert set(items) == {first, second}
    assert items[first].status == OPEN and items[first].site_must_act
    assert (items[first].subject, items[first].event, items[first].form, items[first].key) == (
        "01-001", "SCR", "renal_function", CREAT)
    assert items[second].status == ANSWERED and not items[second].site_must_act
    assert items[second].last_text == "21/11 on the report"
    monitor.close(second, "OK")
    assert [w.id for w in monitor.worklist()] == [first]


def test_sdv_progress_and_form_marks(team: dict[str, Workspace]) -> None:
    monitor = team["monitor"].monitoring
    assert SdvProgress("01-001", "SCR", 2, 0) in monitor.sdv_progress()
    monitor.verify_item(REF, CREAT)
    monitor.open_query(REF, DATE, "?")
    assert SdvProgress("01-001", "SCR", 2, 1) in monitor.sdv_progress()
    assert monitor.form_marks("01-001")[("SCR", "renal_function")] == FormMarks(1, 0, 2, 1)
    team["investigator"].entry.save_item(REF, CREAT, "90")  # a change voids the verification
    assert monitor.form_marks("01-001")[("SCR", "renal_function")].verified == 0


def test_verify_all_items_of_a_form_is_audited_and_replays(team: dict[str, Workspace]) -> None:
    monitor, doctor = team["monitor"].monitoring, team["investigator"].monitoring
    with pytest.raises(PermissionDenied):
        doctor.verify_form(REF)
    monitor.verify_item(REF, CREAT)
    changes = monitor.verify_form(REF)
    assert changes.touches("01-001")
    assert monitor.verified_items(REF) == {CREAT: True, DATE: True}
    assert monitor.form_marks("01-001")[("SCR", "renal_function")] == FormMarks(0, 0, 2, 2)
    monitor.verify_form(REF)  # nothing left: no new mark
    history = team["investigator"].entry.item_history(REF, DATE)
    assert [h.action for h in history].count("source_verified") == 1
    report = team["admin"].integrity.verify()
    assert report.ok, report
