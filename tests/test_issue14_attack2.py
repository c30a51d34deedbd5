"""Issue 14, second insider attack (2 December): manipulations with raw SQL by an insider holding one password that
`verify` did not explain before — infusion-day event details and the timer reading, a query moved to another item,
a verification mark made to cover a value the monitor never saw, a deleted subject, a single group's row hidden.
Each must now be named by the data replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from msc_sle_crf.infusion import timer as T
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef

from .conftest import ADMIN_PW, make_user
from .test_bedside_gate import SUBJECT, ready
from .test_issue14_insider import drop_guards, insider_store, sql

NURSE_PW = "pw-esrun.nurse-2026"
DOCTOR_PW = "pw-d.rotcod-2026"
LABS = FormRef(SUBJECT, "SCR", "renal_function")


@pytest.fixture
def ward_site(db_path: Path, site: Site, admin: Workspace) -> Path:
    """An infusion started after the two-person check, a lab value verified by a monitor and queried, a second
    subject registered; then the site is closed."""
    ward = {}
    for name, role, pw in (("nurse.a", "nurse", NURSE_PW), ("nurse.b", "nurse", "pw-b.esrun-2026"),
                           ("dr.d", "investigator", DOCTOR_PW), ("mon.m", "monitor", None)):
        ward[name] = Workspace.sign_in(site, name, make_user(admin, name, role, pw))
    ward["nurse.a"].subjects.register("ABC", 1980, "F")
    ready(ward)
    ward["nurse.a"].bedside.timer(SUBJECT, T.Kind.START)
    ward["nurse.a"].bedside.timer(SUBJECT, T.Kind.PAUSE, reason="patient to the bathroom")
    ward["dr.d"].entry.save_values(LABS, {("lb", 0, "LBDAT"): "20/11/2026", ("lb", 0, "CREAT"): "88"})
    ward["mon.m"].monitoring.verify_item(LABS, ("lb", 0, "CREAT"))
    ward["mon.m"].monitoring.open_query(LABS, ("lb", 0, "CREAT"), "Please confirm the unit")
    ward["dr.d"].subjects.register("DEF", 1975, "M")
    assert Workspace.sign_in(site, "admin", ADMIN_PW).integrity.verify().ok
    site.close()
    return db_path


def explained(db_path: Path, clock: Any) -> list[str]:
    site = Site.open(db_path, clock=clock)
    try:
        report = Workspace.sign_in(site, "admin", ADMIN_PW).integrity.verify()
        assert not report.ok
        return [u.line() for u in report.unexplained]
    finally:
        site.close()


def tamper(db_path: Path, *statements: str) -> None:
    store = insider_store(db_path, "nurse.a", NURSE_PW)
    drop_guards(store)
    for (trigger,) in sql(store, "SELECT name FROM sqlite_master WHERE type = 'trigger'"):
        sql(store, f"DROP TRIGGER IF EXISTS {trigger}")
    for statement in statements:
        sql(store, statement)
    store.close()


@pytest.mark.parametrize(("what", "statement"), [
    ("product check details", "UPDATE infusion_event SET detail = replace(detail, '\"bag_id\": \"UC-1\"', "
                              "'\"bag_id\": \"UC-9\"') WHERE kind = 'product_check'"),
    ("pause reason", "UPDATE infusion_event SET reason = 'planned pause' WHERE kind = 'pause'"),
    ("start's timer reading", "UPDATE infusion_event SET mono = mono - 2400 WHERE kind = 'start'"),
])
def test_an_infusion_day_event_rewritten_is_named(ward_site: Path, clock: Any, what: str, statement: str) -> None:
    tamper(ward_site, statement)
    lines = explained(ward_site, clock)
    assert any("infusion-day event" in line for line in lines), (what, lines)


def test_a_query_moved_to_another_item_is_named(ward_site: Path, clock: Any) -> None:
    tamper(ward_site, "UPDATE data_query SET item_id = 'LBDAT'")
    assert any("the trail says it was raised on" in line for line in explained(ward_site, clock))


def test_a_verification_mark_made_to_cover_a_changed_value_is_named(ward_site: Path, clock: Any) -> None:
    """The value changes through the program (audited; the monitor's mark no longer holds), then the insider makes
    the mark's hash match the new value: the screen would say 'verified' for a value the monitor never saw."""
    from msc_sle_crf.services.sdv_hash import hash_of_value

    site = Site.open(ward_site, clock=clock)
    doctor = Workspace.sign_in(site, "dr.d", DOCTOR_PW)
    doctor.entry.save_values(LABS, {("lb", 0, "CREAT"): "95"}, reason="transcription")
    assert doctor.monitoring.verified_items(LABS)[("lb", 0, "CREAT")] is False
    site.close()
    tamper(ward_site, f"UPDATE item_verification SET value_hash = '{hash_of_value('95', None, None, None)}'")
    assert any("claims the value" in line for line in explained(ward_site, clock))


def test_a_deleted_subject_is_named(ward_site: Path, clock: Any) -> None:
    tamper(ward_site, "DELETE FROM subject WHERE initials = 'DEF'")
    assert any("01-002" in line and "missing" in line for line in explained(ward_site, clock))


def test_a_single_groups_row_hidden_is_named(ward_site: Path, clock: Any) -> None:
    store = insider_store(ward_site, "nurse.a", NURSE_PW)
    iid = sql(store, "SELECT i.id FROM form_instance i WHERE i.form_id = 'renal_function'")[0][0]
    store.close()
    tamper(ward_site, "INSERT INTO form_row (instance_id, group_id, row_no, removed, created_utc) "
                      f"SELECT {iid}, 'lb', 0, 1, '2026-11-25T09:00:00.000000Z' "
                      f"WHERE NOT EXISTS (SELECT 1 FROM form_row WHERE instance_id = {iid})",
           f"UPDATE form_row SET removed = 1 WHERE instance_id = {iid}")
    # named as a removed row the trail did not remove (never added, or added and still present)
    assert any("the row is removed; the trail" in line for line in explained(ward_site, clock))



def test_a_form_definition_swapped_or_edited_is_named(ward_site: Path, clock: Any) -> None:
    """What a stored value means comes from the definition its form was created under: a copy with a unit or a
    label changed, stored under its own correct hash and pointed to by the form, or the stored text edited."""
    import hashlib

    store = insider_store(ward_site, "nurse.a", NURSE_PW)
    content_hash, text = sql(store, "SELECT d.content_hash, d.definition_json FROM form_definition d JOIN "
                                    "form_instance i ON i.form_hash = d.content_hash "
                                    "WHERE i.form_id = 'renal_function'")[0]
    store.close()
    changed = text.replace("µmol/L", "mg/dL")
    assert changed != text
    new_hash = hashlib.sha256(changed.encode()).hexdigest()
    store = insider_store(ward_site, "nurse.a", NURSE_PW)
    sql(store, "INSERT INTO form_definition (content_hash, form_id, version, definition_json, first_used_utc) "
               "SELECT :new, form_id, version, :text, first_used_utc FROM form_definition WHERE content_hash = :old",
        {"new": new_hash, "text": changed, "old": content_hash})
    tamper_with(store, "UPDATE form_instance SET form_hash = :new WHERE form_hash = :old",
                {"new": new_hash, "old": content_hash})
    assert any("created under" in line for line in explained(ward_site, clock))
    store = insider_store(ward_site, "nurse.a", NURSE_PW)
    tamper_with(store, "UPDATE form_instance SET form_hash = :old WHERE form_hash = :new",
                {"new": new_hash, "old": content_hash})
    store = insider_store(ward_site, "nurse.a", NURSE_PW)
    tamper_with(store, "UPDATE form_definition SET definition_json = :text WHERE content_hash = :old",
                {"text": changed, "old": content_hash})
    assert any("does not match its hash" in line for line in explained(ward_site, clock))


def tamper_with(store: Any, statement: str, params: dict[str, Any]) -> None:
    drop_guards(store)
    for (trigger,) in sql(store, "SELECT name FROM sqlite_master WHERE type = 'trigger'"):
        sql(store, f"DROP TRIGGER IF EXISTS {trigger}")
    sql(store, statement, params)
    store.close()


@pytest.mark.parametrize("planted", ["{not a definition", '{"id": "renal_function"}'])
def test_a_malformed_definition_planted_under_its_own_hash_is_one_clear_line(
        ward_site: Path, clock: Any, planted: str) -> None:
    """Someone with the key stores text that is not a definition under its own (correct) hash and points the form
    to it: opening the form says so in one line (it was an 'unexpected error' incident), and verify names it."""
    import hashlib

    from msc_sle_crf.errors import AuditIntegrityError
    from msc_sle_crf.services import reads

    new_hash = hashlib.sha256(planted.encode()).hexdigest()
    store = insider_store(ward_site, "nurse.a", NURSE_PW)
    sql(store, "INSERT INTO form_definition (content_hash, form_id, version, definition_json, first_used_utc) "
               "SELECT :new, d.form_id, d.version, :text, d.first_used_utc FROM form_definition d JOIN form_instance i "
               "ON i.form_hash = d.content_hash WHERE i.form_id = 'renal_function'",
        {"new": new_hash, "text": planted})
    tamper_with(store, "UPDATE form_instance SET form_hash = :new WHERE form_id = 'renal_function'",
                {"new": new_hash})
    reads._DEFINITIONS.pop(new_hash, None)
    site = Site.open(ward_site, clock=clock)
    try:
        doctor = Workspace.sign_in(site, "dr.d", DOCTOR_PW)
        with pytest.raises(AuditIntegrityError) as refused:
            doctor.entry.open_form(LABS)
        line = refused.value.message()
        assert "renal_function" in line and "damaged" in line and "\n" not in line
    finally:
        site.close()
    assert explained(ward_site, clock)
