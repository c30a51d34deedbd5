"""Monitoring: item-level source-data verification voided by a change; queries opened, answered (with a corrected
value), closed and re-opened; automatic queries when the site confirms a flagged value; counts per subject."""

from __future__ import annotations

import pytest

from msc_sle_crf.errors import PermissionDenied, ValidationError
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.services.monitoring import ANSWERED, CLOSED, OPEN, Monitoring
from msc_sle_crf.services.subjects import Subjects

from .conftest import make_user

REF = FormRef("01-001", "SCR", "renal_function")
CREAT = ("lb", 0, "CREAT")


@pytest.fixture
def team(site: Site, admin: Workspace) -> dict[str, Monitoring]:
    out = {}
    for name, role in (("dr.m", "investigator"), ("monitor.m", "monitor")):
        out[role] = Workspace.sign_in(site, name, make_user(admin, name, role)).monitoring
    Subjects(out["investigator"].ctx).register("ABC", 1980, "F")
    out["investigator"].entry.save_values(REF, {("lb", 0, "LBDAT"): "20/11/2026", CREAT: "88"})
    return out


def test_item_verification_is_voided_by_a_change(team: dict[str, Monitoring]) -> None:
    monitor, doctor = team["monitor"], team["investigator"]
    with pytest.raises(PermissionDenied):
        doctor.verify_item(REF, CREAT)
    monitor.verify_item(REF, CREAT)
    assert monitor.verified_items(REF) == {CREAT: True}
    doctor.entry.save_item(REF, CREAT, "90")
    assert monitor.verified_items(REF) == {CREAT: False}


def test_query_workflow(team: dict[str, Monitoring]) -> None:
    monitor, doctor = team["monitor"], team["investigator"]
    with pytest.raises(ValidationError, match="a text is required"):
        monitor.open_query(REF, CREAT, "  ")
    with pytest.raises(PermissionDenied):
        doctor.open_query(REF, CREAT, "I am not a monitor")
    qid = monitor.open_query(REF, CREAT, "Source says 98 µmol/L: please check").query_id
    assert monitor.open_counts() == {"01-001": 1}
    doctor.answer(qid, "Transcription error, corrected", corrected_value="98", reason="transcription error")
    assert doctor.entry.open_form(REF).state.value(CREAT) == 98
    [query] = monitor.queries(REF)
    assert query.status == ANSWERED and [m.kind for m in query.messages] == ["open", "answer"]
    monitor.reopen(qid, "Unit? the report is in mg/dL")
    assert monitor.queries(REF)[0].status == OPEN
    doctor.answer(qid, "The report is in µmol/L")
    monitor.close(qid, "OK")
    assert monitor.queries(REF)[0].status == CLOSED
    assert monitor.open_counts() == {}
    history = doctor.entry.item_history(REF, CREAT)  # data changes and query steps, in order
    changes = [h for h in history if h.action in ("data_entry", "data_change")]
    assert changes[-1].reason == "transcription error" and changes[-1].new_value == "98"
    assert [h.detail.split(":")[0] for h in history if h.action == "query"] == [
        "query #1 open", "query #1 answer", "query #1 reopen", "query #1 answer", "query #1 close"]


def test_confirming_a_flagged_value_opens_an_automatic_query(team: dict[str, Monitoring]) -> None:
    doctor = team["investigator"]
    doctor.entry.save_item(REF, CREAT, "350", confirm=True)  # above the soft limit of 300
    [query] = doctor.queries(REF)
    assert query.automatic and query.status == OPEN
    assert "unusually high" in query.messages[0].text
