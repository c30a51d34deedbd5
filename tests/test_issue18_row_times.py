"""Issue 18, hole 3: a time a row keeps beside its record (a query opened, a message, an SDV mark, a conflict
resolved) was compared with the record's within 60 s, because the writer read the row's time inside the transaction
and the record was stamped at its end. An insider with SQL on her copy could move an answer "before" a deadline or an
SDV mark by less than a minute unseen. Now the writers stamp both from one clock reading (services/row_times.py) and
the replay compares exactly every record a workstation writes after its ``row_times`` marker; records written before
it (by older versions, or before the marker) keep the tolerance and still verify."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from msc_sle_crf.clock import FakeClock, iso_utc, parse_iso_utc
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef

from .atk_common import (
    DOCTOR_PW,
    MONITOR_PW,
    as_user,
    export,
    import_line,
    problems,
    refusal,
    scalar,
    sql,
    two_sites,
    unchanged,
)
from .conftest import make_user


def _shift(stamp: str, seconds: float) -> str:
    return iso_utc(parse_iso_utc(stamp) + dt.timedelta(seconds=seconds))


@pytest.fixture
def two(tmp_path: Path, site: Site, admin: Workspace, clock: FakeClock) -> tuple[Site, Site, FormRef, int]:
    """WS-02: a subject of its own, HEIGHT entered, a monitor's query on it answered an hour later, HEIGHT verified."""
    ws1, ws2 = two_sites(tmp_path, site, admin, clock)
    doctor = as_user(ws2, "dr.house")
    doctor.subjects.register("DEF", 1975, "M")
    ref = FormRef(doctor.subjects.list()[-1].subject_number, "SCR", "demographics")
    doctor.entry.save_item(ref, ("dm", 0, "HEIGHT"), "170")
    monitor = as_user(ws2, "mon.m")
    qid = monitor.monitoring.open_query(ref, ("dm", 0, "HEIGHT"), "170 cm?").query_id
    clock.advance(3600)
    as_user(ws2, "dr.house").monitoring.answer(qid, "yes, measured")
    clock.advance(60)
    as_user(ws2, "mon.m").monitoring.verify_item(ref, ("dm", 0, "HEIGHT"))
    return ws1, ws2, ref, qid


@pytest.mark.parametrize(("table", "where", "said"), [
    ("query_message", "kind = 'answer'", "'answer' message"),
    ("data_query", "1 = 1", "opened at"),
    ("item_verification", "item_id = 'HEIGHT'", "source-data verification mark"),
], ids=["answer", "opened", "sdv"])
def test_a_row_time_moved_by_seconds_is_named_and_its_packet_refused(
        tmp_path: Path, two: tuple[Site, Site, FormRef, int], table: str, where: str, said: str) -> None:
    ws1, ws2, _ref, _qid = two
    column = {"data_query": "opened_utc"}.get(table, "utc")
    stamp = str(scalar(ws2, f"select {column} from {table} where {where}"))
    moved = _shift(stamp, -20)  # an answer 20 s "before" a deadline: under the 60 s the replay allowed
    trigger = [f"drop trigger {table}_no_update"] if table != "data_query" else []
    sql(ws2, [*trigger, f"update {table} set {column} = '{moved}' where {where}"])
    found = problems(ws2)
    # Before: verify said nothing (20 s < 60 s) and WS-01 applied the packet.
    assert any(said in p and moved in p for p in found), found
    with unchanged(ws1, "data_query", "query_message", "item_verification"):
        line = refusal(ws1, export(ws2, tmp_path / "usb"))
    assert said in line, line


def test_untouched_times_travel_and_verify_exactly_with_one_marker_per_workstation(
        tmp_path: Path, two: tuple[Site, Site, FormRef, int]) -> None:
    ws1, ws2, ref, qid = two
    as_user(ws2, "mon.m").monitoring.close(qid)
    assert "applied" in import_line(ws1, export(ws2, tmp_path / "usb"))
    as_user(ws1, "mon.m").monitoring.verify_item(ref, ("dm", 0, "HEIGHT"))  # WS-01's own first exact record
    assert problems(ws1) == [] and problems(ws2) == []
    # one marker written by each workstation (WS-02's travelled to WS-01 as a copy), whatever the records after it
    assert scalar(ws2, "select count(*) from audit_event where action = 'row_times'") == 1
    assert scalar(ws1, "select count(*) from audit_event where action = 'row_times' and origin is null") == 1
    assert scalar(ws1, "select count(*) from audit_event where action = 'row_times' and origin is not null") == 1
    for table, column in (("query_message", "utc"), ("item_verification", "utc")):
        assert scalar(ws2, f"select count(*) from {table} t where not exists (select 1 from audit_event a "
                           f"where a.ts_utc = t.{column})") == 0  # each row's time is its record's, exactly


def test_records_written_before_the_marker_keep_the_tolerance_and_later_ones_are_exact(
        site: Site, admin: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """A query written as an older version wrote it (no marker on this workstation yet) keeps the 60 s tolerance; the
    first one written by this version brings the marker, and from then on a shift of 1 s is named."""
    import msc_sle_crf.services.monitoring as M

    make_user(admin, "dr.house", "investigator", DOCTOR_PW)
    make_user(admin, "mon.m", "monitor", MONITOR_PW)
    doctor = as_user(site, "dr.house")
    doctor.subjects.register("ABC", 1980, "F")
    ref = FormRef(doctor.subjects.list()[-1].subject_number, "SCR", "demographics")
    doctor.entry.save_item(ref, ("dm", 0, "HEIGHT"), "170")
    doctor.entry.save_item(ref, ("dm", 0, "WEIGHT"), "70")
    with monkeypatch.context() as older:  # the writer of before: no marker, the row's time read on its own
        older.setattr(M, "row_time", lambda tx: tx.ctx.now())
        old = as_user(site, "mon.m").monitoring.open_query(ref, ("dm", 0, "HEIGHT"), "170 cm?").query_id
    assert scalar(site, "select count(*) from audit_event where action = 'row_times'") == 0
    new = as_user(site, "mon.m").monitoring.open_query(ref, ("dm", 0, "WEIGHT"), "70 kg?").query_id
    assert scalar(site, "select count(*) from audit_event where action = 'row_times'") == 1
    assert problems(site) == []

    def moved(qid: int, seconds: float) -> str:
        stamp = str(scalar(site, f"select opened_utc from data_query where id = {qid}"))
        sql(site, [f"update data_query set opened_utc = '{_shift(stamp, seconds)}' where id = {qid}"])
        return _shift(stamp, seconds)

    moved(old, 20)
    assert problems(site) == []  # before the marker: within the tolerance
    later = moved(new, 1)
    found = problems(site)
    assert found == [f"subject {ref.subject} / visit SCR / form demographics / item WEIGHT / row dm:0: query #{new} "
                     f"opened at {later}; the trail says {_shift(later, -1)}"], found
