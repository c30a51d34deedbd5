"""Issue 13: the audit chain verified at the speed of reading it. SQLite writes each record's canonical text
(json_object); it must be exactly what the chain's own canonical form (json.dumps) gives, for any text a user can
type, and a record is never called altered on the fast path alone."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msc_sle_crf import audit
from msc_sle_crf.store.db import connect_raw

KEY = os.urandom(32)
TEXT = st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(TEXT, min_size=14, max_size=14), number=st.integers(-2**62, 2**62))
def test_sqlite_canonical_text_is_the_chain_canonical_text(tmp_path: Path, values: list[str | None],
                                                           number: int) -> None:
    db = tmp_path / "canon.db"
    conn = connect_raw(db, KEY)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS audit_event (" + ", ".join(
            (*audit.CANONICAL_FIELDS, "hash")) + ")")
        conn.execute("DELETE FROM audit_event")
        record = dict(zip(audit.CANONICAL_FIELDS, [1, values[0] or "t", number, *values[1:14], "0" * 64],
                          strict=True))
        conn.execute("INSERT INTO audit_event VALUES (" + ",".join("?" * 18) + ")",
                     (*record.values(), audit.record_hash(record)))
        text = conn.execute(audit._SELECT_CANONICAL).fetchone()[3]
        assert text.encode("utf-8") == audit.canonical_bytes(record)
    finally:
        conn.close()


def test_an_altered_record_is_still_named(tmp_path: Path) -> None:
    conn = connect_raw(tmp_path / "t.db", os.urandom(32))
    conn.execute("CREATE TABLE audit_event (" + ", ".join(audit.STORED_FIELDS) + ")")  # unsigned records
    prev = audit.GENESIS_HASH
    for n in range(1, 6):
        record = dict.fromkeys(audit.CANONICAL_FIELDS) | {"id": n, "ts_utc": "t", "utc_offset_min": 60,
                                                              "workstation": "w", "action": "x",
                                                              "detail": f"é\n\x01 {n}", "prev_hash": prev}
        prev = audit.record_hash(record)
        conn.execute("INSERT INTO audit_event VALUES (" + ",".join("?" * 20) + ")",
                     (*record.values(), prev, None, None))
    assert audit.verify_connection(conn).ok
    conn.execute("UPDATE audit_event SET detail = 'edited' WHERE id = 3")
    result = audit.verify_connection(conn)
    assert (result.ok, result.first_bad_id, result.records) == (False, 3, 2)
    assert "altered" in (result.problem or "")
    conn.close()
