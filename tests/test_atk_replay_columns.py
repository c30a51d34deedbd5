"""Issue 18 insider attacks, part A (3): columns the replay did not compare with the trail. With raw SQL in her copy
of WS-02 the insider moves a monitor's query to another row or group, makes it look automatic (raised by the
program, not by the monitor), or changes the role a query message was written with; she switches her copy to
training mode. Before: ``verify`` said nothing and WS-01 applied the packet. Now the replay compares every column
of these rows that the trail determines (``Replay._compare_queries``; the site_init record's settings), names the row,
and the import of the packet (its replay of the subjects it touched) is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef

from .atk_common import as_user, export, import_line, problems, refusal, scalar, sql, two_sites, unchanged


@pytest.fixture
def two(tmp_path: Path, site: Site, admin: Workspace, clock: FakeClock) -> tuple[Site, Site, int]:
    """WS-02 holds a subject of its own, a value on demographics and a monitor's query on it."""
    ws1, ws2 = two_sites(tmp_path, site, admin, clock)
    doctor = as_user(ws2, "dr.house")
    doctor.subjects.register("DEF", 1975, "M")
    ref = FormRef(doctor.subjects.list()[-1].subject_number, "SCR", "demographics")
    doctor.entry.save_item(ref, ("dm", 0, "HEIGHT"), "170")
    opened = as_user(ws2, "mon.m").monitoring.open_query(ref, ("dm", 0, "HEIGHT"), "170 cm?")
    return ws1, ws2, opened.query_id


@pytest.mark.parametrize(("forgery", "said"), [
    ("update data_query set row_no = 1 where id = {qid}", "row dm:1"),
    ("update data_query set group_id = 'vs' where id = {qid}", "row vs:0"),
    ("update data_query set automatic = 1 where id = {qid}", "automatic"),
    ("drop trigger query_message_no_update; update query_message set role = 'investigator' where query_id = {qid}",
     "as 'investigator'"),
], ids=["row", "group", "automatic", "message role"])
def test_a_query_row_changed_with_sql_is_named_and_its_packet_refused(
        tmp_path: Path, two: tuple[Site, Site, int], forgery: str, said: str) -> None:
    ws1, ws2, qid = two
    sql(ws2, forgery.format(qid=qid).split("; "))
    found = problems(ws2)
    assert any(f"query #{qid}" in p and said in p for p in found), found
    with unchanged(ws1, "data_query", "query_message", "item_value"):
        line = refusal(ws1, export(ws2, tmp_path / "usb"))
    assert f"query #{qid}" in line and said in line, line


def test_an_untouched_query_travels_and_verifies(tmp_path: Path, two: tuple[Site, Site, int]) -> None:
    ws1, ws2, qid = two
    as_user(ws2, "dr.house").monitoring.answer(qid, "yes")
    assert "applied" in import_line(ws1, export(ws2, tmp_path / "usb"))
    assert problems(ws1) == [] and problems(ws2) == []
    assert scalar(ws1, f"select row_no from data_query where id = {qid}") == 0


def test_training_mode_switched_with_sql_is_named(two: tuple[Site, Site, int]) -> None:
    _ws1, ws2, _qid = two
    sql(ws2, ["update site_setting set value = '1' where key = 'training'"])
    found = problems(ws2)
    assert any("site setting training" in p and "'1'" in p for p in found), found


def test_a_table_row_moved_with_sql_is_named_and_its_packet_refused(tmp_path: Path,
                                                                     two: tuple[Site, Site, int]) -> None:
    """A row of a repeating group renumbered: the trail added row 1, not row 9 (a value moved with it was named
    already; an empty row was not)."""
    ws1, ws2, _qid = two
    nurse = as_user(ws2, "nurse.n").entry
    subject = as_user(ws2, "dr.house").subjects.list()[-1].subject_number
    vitals = FormRef(subject, "D0", "vital_signs")
    row = nurse.add_row(vitals, "vs").row
    sql(ws2, [f"update form_row set row_no = 9 where group_id = 'vs' and row_no = {row}"])
    found = problems(ws2)
    assert any("row vs:9" in p and "the trail never added it" in p for p in found), found
    assert any(f"row vs:{row}" in p and "recorded in the trail is missing" in p for p in found), found
    with unchanged(ws1, "form_row", "item_value"):
        line = refusal(ws1, export(ws2, tmp_path / "usb"))
    assert "vital_signs" in line and "row vs:" in line, line
