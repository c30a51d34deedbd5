"""Append-only, tamper-evident audit trail."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.exc import DBAPIError

from msc_sle_crf import audit
from msc_sle_crf.errors import StoreError
from msc_sle_crf.services import Site, Workspace
from tests.helpers.sql import run_sql

from .conftest import make_user


@pytest.fixture
def busy(site: Site, admin: Workspace) -> Workspace:
    password = make_user(admin, "dr.h", "investigator")
    doctor = Workspace.sign_in(site, "dr.h", password)
    for initials in ("AAA", "BBB", "CCC", "DDD"):
        doctor.subjects.register(initials, 1980, "F")
    return doctor


def _verify(site: Site) -> audit.VerifyResult:
    conn = site.store.raw_connection()
    try:
        return audit.verify_connection(conn, site.keyfile.audit_anchor)
    finally:
        conn.close()


def _subject_record(site: Site, initials: str) -> int:
    """The id of the record that registered the subject with these initials."""
    rows = run_sql(site.store, f"SELECT id FROM audit_event WHERE action = 'create' AND new_value LIKE '%{initials}%'")
    return int(rows[0][0])


def _drop_triggers(site: Site) -> None:
    run_sql(site.store, "DROP TRIGGER audit_event_no_update")
    run_sql(site.store, "DROP TRIGGER audit_event_no_delete")


def test_each_record_has_who_when_where_what(busy: Workspace) -> None:
    record = busy.integrity.audit_trail(limit=1)[0]
    assert record.action == "create" and record.subject == "01-004"
    assert record.username == "dr.h" and record.workstation == "test-bench-01"
    assert record.ts_utc.endswith("Z") and record.utc_offset_min == 60
    assert json.loads(record.new_value) == {"birth_year": 1980, "initials": "DDD", "sex": "F"}


def test_chain_verifies(site: Site, busy: Workspace) -> None:
    result = _verify(site)
    assert result.ok and result.records == len(busy.integrity.audit_trail(limit=1000))


def test_triggers_refuse_update_and_delete(site: Site, busy: Workspace) -> None:
    for sql in ("UPDATE audit_event SET username = 'mallory' WHERE id = 3", "DELETE FROM audit_event WHERE id = 3"):
        with pytest.raises((DBAPIError, StoreError), match="append-only"):
            run_sql(site.store, sql)
    assert _verify(site).ok


def test_altered_record_is_named(site: Site, busy: Workspace) -> None:
    _drop_triggers(site)
    target = _subject_record(site, "BBB")
    run_sql(site.store, f"UPDATE audit_event SET new_value = replace(new_value, '1980', '1981') WHERE id = {target}")
    result = _verify(site)
    assert not result.ok and result.first_bad_id == target and "altered" in result.problem


def test_altered_record_with_recomputed_hash_is_caught_by_the_next_link(site: Site, busy: Workspace) -> None:
    _drop_triggers(site)
    target = _subject_record(site, "BBB")
    conn = site.store.raw_connection()
    row = conn.execute("SELECT " + ", ".join(audit.CANONICAL_FIELDS) + f" FROM audit_event WHERE id = {target}"
                       ).fetchone()
    conn.close()
    record = dict(zip(audit.CANONICAL_FIELDS, row, strict=True))
    record["username"] = "mallory"
    run_sql(site.store, f"UPDATE audit_event SET username = 'mallory', hash = '{audit.record_hash(record)}' "
                        f"WHERE id = {target}")
    result = _verify(site)
    # the record seals its own transaction: its author's signature no longer matches (before the next link does)
    assert not result.ok and result.first_bad_id == target and "signature" in result.problem


def test_removed_record_is_named(site: Site, busy: Workspace) -> None:
    _drop_triggers(site)
    run_sql(site.store, "DELETE FROM audit_event WHERE id = 4")
    result = _verify(site)
    assert not result.ok and result.first_bad_id == 5 and "#4" in result.problem


def test_reordered_records_are_named(site: Site, busy: Workspace) -> None:
    _drop_triggers(site)
    # Swap the content of records 6 and 7 (ids stay in place).
    run_sql(site.store, "UPDATE audit_event SET id = -6 WHERE id = 6")
    run_sql(site.store, "UPDATE audit_event SET id = 6 WHERE id = 7")
    run_sql(site.store, "UPDATE audit_event SET id = 7 WHERE id = -6")
    result = _verify(site)
    assert not result.ok and result.first_bad_id == 6


def test_removed_tail_is_caught_by_the_anchor(site: Site, busy: Workspace) -> None:
    site.anchor_audit()
    last = busy.integrity.audit_trail(limit=1)[0].id
    _drop_triggers(site)
    run_sql(site.store, f"DELETE FROM audit_event WHERE id = {last}")
    result = _verify(site)
    assert not result.ok and result.first_bad_id == last and "gone" in result.problem


def test_verify_integrity_reports_and_audits(site: Site, busy: Workspace) -> None:
    report = busy.integrity.verify()
    assert report.ok
    assert busy.integrity.audit_trail(limit=1)[0].action == "audit_verify"
