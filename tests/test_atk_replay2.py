"""Issue 18 insider attacks, part A (4): more columns the replay did not compare with the trail. With raw SQL in her
copy of WS-02 the insider backdates a query's opening or a message (an answer "before" a deadline), shows a value as
confirmed by the site when no one confirmed its warning (no automatic query for the monitor), points a second
person's product check at a newer bag nobody checked, removes the forced change of a one-time password, and deletes
or swaps personal certificate rows. Before: ``verify`` said nothing and WS-01 applied the packet. Now the replay
derives each of these columns from the trail as the writer does and names the row; the import of a packet carrying
such rows is refused (accounts and certificates are each workstation's own: they never travel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import CrfError
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef

from .atk_common import as_user, export, import_line, problems, refusal, scalar, sql, two_sites, unchanged
from .conftest import make_user

BACK = "2026-01-01T00:00:00.000000Z"


@pytest.fixture
def two(tmp_path: Path, site: Site, admin: Workspace, clock: FakeClock) -> tuple[Site, Site, FormRef, int]:
    """WS-02 holds a subject of its own, HEIGHT entered on demographics, a monitor's query on it answered by the
    site an hour later and closed by the monitor."""
    ws1, ws2 = two_sites(tmp_path, site, admin, clock)
    doctor = as_user(ws2, "dr.house")
    doctor.subjects.register("DEF", 1975, "M")
    ref = FormRef(doctor.subjects.list()[-1].subject_number, "SCR", "demographics")
    doctor.entry.save_item(ref, ("dm", 0, "HEIGHT"), "170")
    qid = as_user(ws2, "mon.m").monitoring.open_query(ref, ("dm", 0, "HEIGHT"), "170 cm?").query_id
    clock.advance(3600)
    as_user(ws2, "dr.house").monitoring.answer(qid, "yes, measured")
    clock.advance(3600)
    as_user(ws2, "mon.m").monitoring.close(qid)
    return ws1, ws2, ref, qid


@pytest.mark.parametrize(("forgery", "said"), [
    ("update data_query set opened_utc = '{back}' where id = {qid}", "opened at"),
    ("drop trigger query_message_no_update; update query_message set utc = '{back}' where query_id = {qid} and "
     "kind = 'answer'", "'answer' message"),
    ("drop trigger query_message_no_update; update query_message set utc = '{back}' where query_id = {qid} and "
     "kind = 'close'", "'close' message"),
], ids=["opened", "answered", "closed"])
def test_a_query_time_backdated_with_sql_is_named_and_its_packet_refused(
        tmp_path: Path, two: tuple[Site, Site, FormRef, int], forgery: str, said: str) -> None:
    ws1, ws2, _ref, qid = two
    sql(ws2, forgery.format(back=BACK, qid=qid).split("; "))
    found = problems(ws2)
    assert any(f"query #{qid}" in p and said in p and "2026-01-01" in p for p in found), found
    with unchanged(ws1, "data_query", "query_message"):
        line = refusal(ws1, export(ws2, tmp_path / "usb"))
    assert f"query #{qid}" in line and said in line, line


def test_untouched_query_times_travel_and_verify(tmp_path: Path, two: tuple[Site, Site, FormRef, int]) -> None:
    ws1, ws2, _ref, qid = two
    assert "applied" in import_line(ws1, export(ws2, tmp_path / "usb"))
    assert problems(ws1) == [] and problems(ws2) == []
    assert scalar(ws1, f"select utc from query_message where query_id = {qid} and kind = 'close'") == \
        scalar(ws2, f"select utc from query_message where query_id = {qid} and kind = 'close'")


def test_a_value_shown_as_confirmed_with_sql_is_named_and_its_packet_refused(
        tmp_path: Path, two: tuple[Site, Site, FormRef, int]) -> None:
    """No one confirmed a warning on HEIGHT (no automatic query): the row says its unusual-value warning was."""
    ws1, ws2, _ref, _qid = two
    sql(ws2, ["update item_value set confirmed = 'soft_max' where item_id = 'HEIGHT'"])
    found = problems(ws2)
    assert any("item HEIGHT" in p and "confirmed" in p and "soft_max" in p for p in found), found
    with unchanged(ws1, "item_value"):
        line = refusal(ws1, export(ws2, tmp_path / "usb"))
    assert "item HEIGHT" in line and "confirmed" in line, line


def test_a_value_confirmed_at_entry_travels_and_verifies(tmp_path: Path,
                                                          two: tuple[Site, Site, FormRef, int]) -> None:
    ws1, ws2, ref, _qid = two
    as_user(ws2, "dr.house").entry.save_item(ref, ("dm", 0, "WEIGHT"), "130", confirm=True)
    assert scalar(ws2, "select confirmed from item_value where item_id = 'WEIGHT'") == "soft_max"
    assert "applied" in import_line(ws1, export(ws2, tmp_path / "usb"))
    assert problems(ws1) == [] and problems(ws2) == []
    assert scalar(ws1, "select confirmed from item_value where item_id = 'WEIGHT'") == "soft_max"


# ----- the bedside second check ---------------------------------------------------------------------------------------
def _product_check(ws: Workspace, subject: str, bag: str) -> None:
    ws.bedside.product_check(subject, identity_confirmed=True, weight_kg="62,5", cohort="2", bag_id=bag, lot="L1",
                             labelled_cells_e6="130", use_by="25/11/2026 18:00", premedication="none")


def test_a_second_check_pointed_at_an_unchecked_bag_is_named_and_its_packet_refused(
        tmp_path: Path, two: tuple[Site, Site, FormRef, int], clock: FakeClock) -> None:
    """Bag UC-1 was checked by two people; bag UC-2, checked by the nurse alone later, is shown as double-checked
    once the second check's row refers to it."""
    ws1, ws2, ref, _qid = two
    nurse = as_user(ws2, "nurse.n")
    _product_check(nurse, ref.subject, "UC-1")
    nurse.bedside.second_check(ref.subject, "dr.house", "pw-house.rd-2026")
    clock.advance(600)
    _product_check(nurse, ref.subject, "UC-2")
    assert nurse.bedside.state(ref.subject).product.second_by is None  # type: ignore[union-attr]
    sql(ws2, ["drop trigger infusion_event_no_update",
              "update infusion_event set refers_to = (select max(id) from infusion_event where kind = "
              "'product_check') where kind = 'second_check'"])
    assert nurse.bedside.state(ref.subject).product.second_by == "dr.house"  # type: ignore[union-attr]
    found = problems(ws2)
    assert any(f"subject {ref.subject}" in p and "second_check" in p and "refers to" in p for p in found), found
    with unchanged(ws1, "infusion_event"):
        line = refusal(ws1, export(ws2, tmp_path / "usb"))
    assert "second_check" in line and "refers to" in line, line


def test_bedside_checks_and_corrections_travel_and_verify(tmp_path: Path, two: tuple[Site, Site, FormRef, int],
                                                          clock: FakeClock) -> None:
    ws1, ws2, ref, _qid = two
    nurse = as_user(ws2, "nurse.n")
    _product_check(nurse, ref.subject, "UC-1")
    nurse.bedside.second_check(ref.subject, "dr.house", "pw-house.rd-2026")
    clock.advance(600)
    _product_check(nurse, ref.subject, "UC-2")
    nurse.bedside.second_check(ref.subject, "dr.house", "pw-house.rd-2026")
    assert problems(ws2) == []
    assert "applied" in import_line(ws1, export(ws2, tmp_path / "usb"))
    assert problems(ws1) == []


def _infusion_day(ws2: Site, subject: str, clock: FakeClock) -> Workspace:
    """The whole infusion day on WS-02: checks, baseline, start, a stop undone, the stop, the start corrected."""
    from msc_sle_crf.infusion import timer as T
    from msc_sle_crf.services.bedside import BASELINE

    from .test_bedside_gate import NORMAL
    from .test_infusion import confirm_eligibility

    confirm_eligibility(as_user(ws2, "dr.house"), subject)
    nurse = as_user(ws2, "nurse.n")
    _product_check(nurse, subject, "UC-1")
    nurse.bedside.second_check(subject, "dr.house", "pw-house.rd-2026")
    nurse.bedside.record_vitals(subject, BASELINE, NORMAL)
    nurse.bedside.timer(subject, T.Kind.START)
    clock.advance(30 * 60)
    nurse.bedside.timer(subject, T.Kind.STOP)
    clock.advance(60)
    nurse.bedside.timer(subject, T.Kind.UNDO_STOP, "pressed Stop instead of Pause")
    clock.advance(30 * 60)
    nurse.bedside.timer(subject, T.Kind.STOP)
    start = nurse.bedside.state(subject).timer_events[0].id
    nurse.bedside.correct_time(subject, start, "10:02", "pump clock")
    return nurse


def test_a_whole_infusion_day_travels_and_verifies(tmp_path: Path, two: tuple[Site, Site, FormRef, int],
                                                   clock: FakeClock) -> None:
    ws1, ws2, ref, _qid = two
    _infusion_day(ws2, ref.subject, clock)
    assert problems(ws2) == []
    assert "applied" in import_line(ws1, export(ws2, tmp_path / "usb"))
    assert problems(ws1) == []


def test_a_time_correction_pointed_at_another_event_is_named_and_its_packet_refused(
        tmp_path: Path, two: tuple[Site, Site, FormRef, int], clock: FakeClock) -> None:
    """The start was corrected to 10:02; pointed at the stop instead, the timer reads another duration."""
    ws1, ws2, ref, _qid = two
    nurse = _infusion_day(ws2, ref.subject, clock)
    before = nurse.bedside.state(ref.subject).timer.running_minutes
    sql(ws2, ["drop trigger infusion_event_no_update",
              "update infusion_event set refers_to = (select max(id) from infusion_event where kind = 'stop') "
              "where kind = 'correct'"])
    assert nurse.bedside.state(ref.subject).timer.running_minutes != before
    found = problems(ws2)
    assert any("correct event" in p and "refers to the stop event" in p and "the trail says the start event" in p
               for p in found), found
    with unchanged(ws1, "infusion_event"):
        line = refusal(ws1, export(ws2, tmp_path / "usb"))
    assert "correct event" in line, line


# ----- accounts and certificates (each workstation's own) ------------------------------------------------------------
def test_a_forced_password_change_removed_with_sql_is_named(site: Site, admin: Workspace) -> None:
    """An administrator reset dr.house's password (one-time, to be changed at sign-in) and added nurse.k with a
    one-time password: the insider lifts both obligations, so the paper slips stay valid passwords."""
    make_user(admin, "dr.house", "investigator")
    admin.accounts.reset_password("dr.house")
    admin.accounts.add_user("nurse.k", "Nurse K", "nurse")
    assert problems(site) == []
    sql(site, ["update app_user set must_change_password = 0 where username in ('dr.house', 'nurse.k')"])
    found = problems(site)
    for user in ("dr.house", "nurse.k"):
        assert any(f"account {user}" in p and "must_change_password is False; the trail says True" in p
                   for p in found), found


def test_a_forced_password_change_added_with_sql_is_named(site: Site, admin: Workspace) -> None:
    make_user(admin, "dr.house", "investigator")  # a password of his own choice (it need not be changed)
    sql(site, ["update app_user set must_change_password = 1 where username = 'dr.house'"])
    found = problems(site)
    assert any("account dr.house" in p and "must_change_password is True; the trail says False" in p
               for p in found), found


def test_a_password_changed_by_its_owner_verifies(site: Site, admin: Workspace) -> None:
    one_time = admin.accounts.add_user("nurse.k", "Nurse K", "nurse").password
    Workspace.sign_in(site, "nurse.k", one_time).accounts.change_password(one_time, "pw-k.esrun-2026-new")
    admin.accounts.reset_password("nurse.k")
    admin.accounts.disable_user("nurse.k", "left the ward")
    admin.accounts.enable_user("nurse.k", "back on the ward")
    assert problems(site) == []


@pytest.mark.parametrize("forgery", [
    ["drop trigger certificate_no_delete", "delete from certificate where username = 'dr.house'"],
    ["drop trigger certificate_no_update",
     "update certificate set cert_pem = (select cert_pem from certificate where username = 'dr.house') "
     "where username = 'nurse.n'"],
    ["insert into certificate (username, serial, cert_pem, issued_utc) select 'nurse.n', serial, cert_pem, "
     "issued_utc from certificate where username = 'dr.house'"],
], ids=["deleted", "swapped", "copied"])
def test_a_certificate_row_changed_with_sql_is_named(site: Site, admin: Workspace, forgery: list[str]) -> None:
    make_user(admin, "dr.house", "investigator")
    make_user(admin, "nurse.n", "nurse")
    assert problems(site) == []
    sql(site, forgery)
    found = problems(site)
    assert any(p.startswith("certificate of ") and ("dr.house" in p or "nurse.n" in p) for p in found), found


# ----- what a conflict between workstations voids ---------------------------------------------------------------------
@pytest.mark.parametrize(("forgery", "said"), [
    (["update item_conflict set resolved_utc = '2026-01-01T00:00:00.000000Z'"], "resolved at 2026-01-01"),
    (["drop trigger if exists item_verification_no_update",
      "update item_verification set utc = '2099-01-01T00:00:00.000000Z'"], "is dated 2099-01-01"),
], ids=["resolution backdated", "mark postdated"])
def test_a_verification_voided_by_a_conflict_revived_with_sql_is_named_and_its_packet_refused(
        tmp_path: Path, forgery: list[str], said: str) -> None:
    """A's monitor verified CREAT; B's packet brought a conflict on it, resolved on A later by confirming A's value:
    the mark, made before the resolution, stays void. Moving the resolution before the mark (or the mark after the
    resolution) shows the value as verified again."""
    from .helpers.packets import CREAT, R1, make_pair
    from .test_issue18_packets import edit_offline

    pair = make_pair(tmp_path)
    edit_offline(pair)
    site, ws = pair.open("A", "monitor.m")
    with site:
        pair.clock.advance(5)
        ws.monitoring.verify_item(R1, CREAT)
    path = pair.export("B")
    assert path is not None and pair.import_("A", path).conflicts == 1
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(5)
        ws.entry.save_item(R1, CREAT, "90", reason="A's value checked against the lab report")
        assert ws.monitoring.verified_items(R1)[CREAT] is False
    site, ws = pair.open("A")
    with site:
        sql(site, forgery)
        assert ws.monitoring.verified_items(R1)[CREAT] is True  # the attack: the value shows as verified
        found = problems(site)
    assert any("item CREAT" in p and said in p for p in found), found
    packet = pair.export("A")
    assert packet is not None
    before = _rows(pair, "B")
    with pytest.raises(CrfError) as caught:
        pair.import_("B", packet)
    line = str(caught.value)
    assert "item CREAT" in line and said in line and "\n" not in line, line
    assert _rows(pair, "B") == before  # refused whole


def _rows(pair: Any, which: str) -> list[Any]:
    site, ws = pair.open(which, "admin")
    with site, ws.ctx.read() as session:
        return [session.execute(text(f"select * from {t} order by 1")).fetchall()
                for t in ("item_conflict", "item_verification", "item_value")] + [session.execute(text(
                    "select count(*) from audit_event where action not in ('login', 'logout', 'access_denied', "
                    "'login_failed')")).scalar()]


def test_a_conflict_resolved_and_a_mark_made_after_it_travel_and_verify(tmp_path: Path) -> None:
    from .helpers.packets import CREAT, R1, make_pair
    from .test_issue18_packets import edit_offline, verify_clean

    pair = make_pair(tmp_path)
    edit_offline(pair)
    path = pair.export("B")
    assert path is not None and pair.import_("A", path).conflicts == 1
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(5)
        ws.entry.save_item(R1, CREAT, "90", reason="A's value checked against the lab report")
    site, ws = pair.open("A", "monitor.m")
    with site:
        pair.clock.advance(5)
        ws.monitoring.verify_item(R1, CREAT)
        assert ws.monitoring.verified_items(R1)[CREAT] is True
    packet = pair.export("A")
    assert packet is not None
    pair.import_("B", packet)
    verify_clean(pair, "A")
    verify_clean(pair, "B")
