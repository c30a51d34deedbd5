"""Issue 18 insider attacks, part A (2): a ``merge_conflict`` record made up by the insider. She signs, as herself,
a record saying two workstations disagreed (on a form's state, a query's status or an item's value) and that the
state she wants was kept, and sets the row with raw SQL. Before: the replay took the record's word, so her copy's
``verify``, WS-01's import (its replay of the packet's subjects) and the hub's verify accepted a form signed by no one,
a query closed by no monitor, a value nobody entered. Now each kind of merge_conflict must name the records of its
two sides (form state, query or value records of the same form / query / item, from two different workstations, as
the trail holds them), and the state it keeps must be the one the merge keeps; otherwise it changes nothing and is
named (``Replay``: verify, import and hub verify alike). Real conflicts still travel and verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from msc_sle_crf.audit import Action, AuditEntry
from msc_sle_crf.clock import FakeClock
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef

from .atk_common import (
    as_user,
    count,
    export,
    forge,
    hub_refusal,
    import_line,
    problems,
    refusal,
    scalar,
    two_sites,
    unchanged,
)
from .helpers.packets import CREAT, PW, R1, make_pair
from .hub_pg import HubDb
from .test_issue18_packets import verify_clean

DATA_TABLES = ("subject", "form_instance", "item_value", "data_query", "query_message", "item_conflict")


@pytest.fixture
def two(tmp_path: Path, site: Site, admin: Workspace, clock: FakeClock) -> tuple[Site, Site, FormRef]:
    """WS-02 holds a subject of its own whose demographics an investigator completed, and a monitor's query on
    HEIGHT."""
    ws1, ws2 = two_sites(tmp_path, site, admin, clock)
    doctor = as_user(ws2, "dr.house")
    doctor.subjects.register("DEF", 1975, "M")
    subject = doctor.subjects.list()[-1].subject_number
    ref = FormRef(subject, "SCR", "demographics")
    doctor.entry.save_item(ref, ("dm", 0, "HEIGHT"), "170")
    as_user(ws2, "mon.m").monitoring.open_query(ref, ("dm", 0, "HEIGHT"), "170 cm?")
    return ws1, ws2, ref


def _instance(ref: FormRef) -> str:
    return (f"(select i.id from form_instance i join subject s on s.id = i.subject_id where s.subject_number = "
            f"'{ref.subject}' and i.event_id = '{ref.event}' and i.form_id = '{ref.form}')")


def _refused(tmp_path: Path, ws1: Site, ws2: Site) -> str:
    with unchanged(ws1, *DATA_TABLES):
        line = refusal(ws1, export(ws2, tmp_path / "usb"))
    assert "merge_conflict record" in line and "nurse.n" in line, line
    found = problems(ws2)
    assert any("merge_conflict record" in p and "nurse.n" in p for p in found), found
    return line


def test_a_made_up_form_state_conflict_cannot_sign_a_form(tmp_path: Path, two: tuple[Site, Site, FormRef]) -> None:
    ws1, ws2, ref = two
    forge(ws2, "nurse.n", [AuditEntry(Action.MERGE_CONFLICT, "nurse.n", "nurse", subject=ref.subject, visit=ref.event,
                                      form=ref.form, old_value="draft", new_value="signed",
                                      detail=json.dumps({"kind": "form", "local": "signed", "incoming": "draft",
                                                         "from": "WS-01"}))],
          [f"update form_instance set status='signed' where id = {_instance(ref)}"])
    line = _refused(tmp_path, ws1, ws2)
    assert ref.subject in line, line
    assert count(ws1, "form_instance", "status = 'signed'") == 0


def test_a_made_up_query_conflict_cannot_close_a_query(tmp_path: Path, two: tuple[Site, Site, FormRef]) -> None:
    ws1, ws2, ref = two
    qid = int(scalar(ws2, "select max(id) from data_query"))
    forge(ws2, "nurse.n", [AuditEntry(Action.MERGE_CONFLICT, "nurse.n", "nurse", subject=ref.subject, visit=ref.event,
                                      form=ref.form, item="HEIGHT", repeat_key="dm:0", old_value="open",
                                      new_value="closed", detail=json.dumps({"kind": "query", "query": qid,
                                                                             "from": "WS-01"}))],
          [f"update data_query set status='closed' where id = {qid}"])
    _refused(tmp_path, ws1, ws2)
    assert count(ws1, "data_query", "status = 'closed'") == 0


@pytest.mark.parametrize("sides", ["none", "made-up ids", "one workstation"])
def test_a_made_up_value_conflict_cannot_change_a_value(tmp_path: Path, two: tuple[Site, Site, FormRef],
                                                        sides: str) -> None:
    ws1, ws2, ref = two
    entered = int(scalar(ws2, "select max(id) from audit_event where action = 'data_entry' and item = 'HEIGHT'"))
    detail: dict[str, object] = {"kind": "item", "canonical": None}
    if sides == "made-up ids":
        detail.update(conflict=1_000_000_777, kept={"text": "190", "user": "dr.house", "ws": "WS-01", "id": 4242,
                                                    "utc": "2026-01-01T00:00:00Z"},
                      other={"text": "170", "user": "dr.house", "ws": "WS-02", "id": entered,
                             "utc": "2026-01-01T00:00:00Z"})
    elif sides == "one workstation":
        detail.update(conflict=1_000_000_777,
                      kept={"text": "170", "user": "dr.house", "ws": "WS-02", "id": entered, "utc": "x"},
                      other={"text": "170", "user": "dr.house", "ws": "WS-02", "id": entered, "utc": "x"})
    statements = [f"update item_value set value='190', canonical=NULL where item_id='HEIGHT' and instance_id = "
                  f"{_instance(ref)}"]
    if "conflict" in detail:  # the conflict row the record says (as the merge writes it)
        kept, other = (json.dumps(detail[k], sort_keys=True) for k in ("kept", "other"))
        opened = max(str(detail["kept"]["utc"]), str(detail["other"]["utc"]))  # type: ignore[index]
        statements.append(f"insert into item_conflict (id, instance_id, group_id, row_no, item_id, kept, other, "
                          f"status, opened_utc) values (1000000777, {_instance(ref)}, 'dm', 0, 'HEIGHT', '{kept}', "
                          f"'{other}', 'open', '{opened}')")
    forge(ws2, "nurse.n", [AuditEntry(Action.MERGE_CONFLICT, "nurse.n", "nurse", subject=ref.subject, visit=ref.event,
                                      form=ref.form, item="HEIGHT", repeat_key="dm:0", old_value="170",
                                      new_value="190", detail=json.dumps(detail))], statements)
    _refused(tmp_path, ws1, ws2)
    assert count(ws1, "item_value", "value = '190'") == 0


def test_real_conflicts_of_every_kind_still_travel_and_verify(tmp_path: Path,
                                                              two: tuple[Site, Site, FormRef],
                                                              clock: FakeClock) -> None:
    ws1, ws2, ref = two
    assert "applied" in import_line(ws1, export(ws2, tmp_path / "p1"))
    qid = int(scalar(ws1, "select max(id) from data_query"))
    # both change HEIGHT, and the query, and the form's state, from the same base
    clock.advance(60)
    as_user(ws1, "dr.house").entry.save_item(ref, ("dm", 0, "HEIGHT"), "171", reason="typo")
    as_user(ws1, "mon.m").monitoring.close(qid, "ok")
    clock.advance(60)
    as_user(ws2, "dr.house").entry.save_item(ref, ("dm", 0, "HEIGHT"), "172", reason="remeasured")
    as_user(ws2, "dr.house").monitoring.answer(qid, "remeasured")
    first = import_line(ws2, export(ws1, tmp_path / "p2"))
    assert "applied" in first
    assert "applied" in import_line(ws1, export(ws2, tmp_path / "p3"))
    assert count(ws1, "item_conflict") == 1 and count(ws2, "item_conflict") == 1
    assert count(ws1, "audit_event", "action = 'merge_conflict'") >= 1
    assert problems(ws1) == [] and problems(ws2) == []


def test_the_hub_refuses_a_made_up_form_state_conflict(
        hub_db: HubDb, tmp_path: Path, two: tuple[Site, Site, FormRef], clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    ws1, ws2, ref = two
    forge(ws2, "nurse.n", [AuditEntry(Action.MERGE_CONFLICT, "nurse.n", "nurse", subject=ref.subject, visit=ref.event,
                                      form=ref.form, old_value="locked", new_value="signed",
                                      detail=json.dumps({"kind": "form", "local": "locked", "incoming": "signed",
                                                         "from": "WS-01"}))],
          [f"update form_instance set status='signed' where id = {_instance(ref)}"])
    packet = export(ws2, tmp_path / "usb")
    ws1.close()
    err = hub_refusal(hub_db, ws1, packet, tmp_path, clock, monkeypatch, capsys)
    assert "merge_conflict record" in err and "'nurse.n'" in err and ref.subject in err, err


def test_a_real_conflict_restated_with_another_converted_value_is_refused(
        tmp_path: Path, two: tuple[Site, Site, FormRef], clock: FakeClock) -> None:
    """Real sides, but the converted value it keeps (what scores read) is not its kept side's."""
    ws1, ws2, ref = two
    assert "applied" in import_line(ws1, export(ws2, tmp_path / "p1"))
    clock.advance(60)
    as_user(ws1, "dr.house").entry.save_item(ref, ("dm", 0, "HEIGHT"), "171")
    clock.advance(60)
    as_user(ws2, "dr.house").entry.save_item(ref, ("dm", 0, "HEIGHT"), "172")
    assert "applied" in import_line(ws2, export(ws1, tmp_path / "p2"))
    real = json.loads(str(scalar(ws2, "select detail from audit_event where action = 'merge_conflict'")))
    assert real["kind"] == "item" and problems(ws2) == []
    forge(ws2, "nurse.n", [AuditEntry(Action.MERGE_CONFLICT, "nurse.n", "nurse", subject=ref.subject, visit=ref.event,
                                      form=ref.form, item="HEIGHT", repeat_key="dm:0", old_value=real["other"]["text"],
                                      new_value=real["kept"]["text"], detail=json.dumps({**real, "canonical": "2.5"}))],
          [f"update item_value set canonical='2.5' where item_id='HEIGHT' and instance_id = {_instance(ref)}"])
    found = problems(ws2)
    assert any("merge_conflict record" in p and "not its kept side's value" in p for p in found), found
    with unchanged(ws1, *DATA_TABLES):
        line = refusal(ws1, export(ws2, tmp_path / "p3"))
    assert "merge_conflict record" in line and "nurse.n" in line, line


@pytest.mark.parametrize("order", ["A->B first", "B->A first"])
def test_a_form_locked_with_its_subject_against_a_change_elsewhere_still_merges_and_verifies(
        tmp_path: Path, order: str) -> None:
    """The sides' records of a form state conflict include a lock of the whole subject (no record on the form
    itself): the monitor locks subject 01-001 on B while the investigator changes a value of its signed form on A.
    B's packet applied on A first was refused on main ('its state is complete; the trail says locked': the merge saw
    no change of the form in a packet that locked its subject)."""
    pair = make_pair(tmp_path)
    site, ws = pair.open("A")
    with site:
        ws.entry.mark_complete(R1)
        ws.lifecycle.sign(R1, "dr.a", PW["dr.a"], "approval")
    p = pair.export("A")
    assert p is not None
    pair.import_("B", p)  # both start from "signed"
    site, ws = pair.open("B", "monitor.m")
    with site:
        pair.clock.advance(10)
        ws.lifecycle.lock_subject("01-001")  # B: locked (a record on the subject, none on the form)
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(10)
        ws.entry.save_item(R1, CREAT, "93", reason="lab report re-read")  # A: complete again
    assert pair.exchange(order)[0].conflicts == 1
    for which in ("A", "B"):
        verify_clean(pair, which)


def test_a_subject_locked_on_one_workstation_reaches_the_other_locked(tmp_path: Path) -> None:
    """No change on A: B's lock of the whole subject is applied to its forms there (no conflict)."""
    pair = make_pair(tmp_path)
    site, ws = pair.open("A")
    with site:
        ws.entry.mark_complete(R1)
        ws.lifecycle.sign(R1, "dr.a", PW["dr.a"], "approval")
    p = pair.export("A")
    assert p is not None
    pair.import_("B", p)
    site, ws = pair.open("B", "monitor.m")
    with site:
        pair.clock.advance(10)
        ws.lifecycle.lock_subject("01-001")
    p = pair.export("B")
    assert p is not None
    assert pair.import_("A", p).conflicts == 0
    site, ws = pair.open("A")
    with site:
        assert ws.entry.statuses("01-001")[("SCR", "renal_function")].value == "locked"
    verify_clean(pair, "A")
