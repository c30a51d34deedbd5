"""Issue 18, item 6: a packet import checks what the packet touched, not the whole database.

Before, every import replayed the whole trail and compared every stored row with it (and read every copied record's
origin), so on a hub the time of one packet grew with everything ingested before it. The import now replays the
packet's subjects' records only and compares their rows only; the scoped compare must say, about those subjects,
exactly what the whole one says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from msc_sle_crf import audit
from msc_sle_crf.services import replay as replay_mod
from msc_sle_crf.services.replay import Replay

from . import test_issue18_packets as packets_tests
from .test_issue18_packets import CREAT, PROTU, R1, R2, Pair, edit_b, refused, value

pair = packets_tests.pair  # the packet tests' two workstations (A, and B forked from it)

_SELECT = "SELECT " + ", ".join(audit.VERIFY_FIELDS) + " FROM audit_event ORDER BY id"


def test_an_import_replays_only_the_subjects_of_the_packet(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    site, ws = pair.open("A")
    with site:
        for n in range(5):  # A's own history of another subject: an import of B's packet has nothing to do with it
            pair.clock.advance(10)
            ws.entry.save_item(R1, PROTU, f"0.{n + 1}", reason="urine sample re-read")
    path = edit_b(pair, "95")  # B changes subject 01-002 only
    replayed: list[Any] = []
    original = Replay.__call__

    def counting(self: Replay, row: Any) -> None:
        if row[6] not in ("workstation_add", "workstation_open"):  # which workstations exist and wrote what
            replayed.append(row[7])  # the record's subject
        original(self, row)

    monkeypatch.setattr(replay_mod.Replay, "__call__", counting)
    assert pair.import_("A", path).copied > 0
    assert replayed and set(replayed) == {"01-002"}, sorted({str(s) for s in replayed})
    monkeypatch.undo()
    assert value(pair, "A", R2, CREAT) == 95


def _compare(db: Path, key: bytes, salt: bytes, subjects: set[str] | None) -> list[str]:
    from msc_sle_crf.store.db import connect_raw

    conn = connect_raw(db, key, salt)
    try:
        replay = Replay()
        for row in conn.execute(_SELECT).fetchall():
            if subjects is None or row[7] in subjects:
                replay(row)
        found, _total = replay.compare(conn, subjects)
    finally:
        conn.close()
    return sorted(u.line() for u in found)


def test_the_scoped_compare_says_what_the_whole_compare_says_about_those_subjects(pair: Pair) -> None:
    from msc_sle_crf.store.db import connect_raw

    site, ws = pair.open("A", "monitor.m")
    with site:
        ws.monitoring.open_query(R2, CREAT, "Please check the unit")
        store = site.store
        assert store is not None
        key, salt = store.key, store.salt
    assert salt is not None
    conn = connect_raw(pair.a_db, key, salt)
    try:  # changes nobody recorded, on both subjects, in several tables
        conn.execute("UPDATE item_value SET value = '999' WHERE item_id = 'CREAT'")
        conn.execute("UPDATE form_instance SET status = 'signed'")
        conn.execute("UPDATE data_query SET status = 'closed'")
        conn.execute("UPDATE subject SET initials = 'ZZZ' WHERE subject_number = '01-001'")
        conn.commit()
    finally:
        conn.close()
    whole = _compare(pair.a_db, key, salt, None)
    for subjects in ({"01-001"}, {"01-002"}, {"01-001", "01-002"}):
        scoped = _compare(pair.a_db, key, salt, subjects)
        wanted = tuple(f"subject {n}" for n in subjects)
        assert scoped == [line for line in whole if line.split(" / ")[0].split(":")[0] in wanted], subjects
        assert scoped  # each subject has something unexplained
    assert any("query #" in line for line in _compare(pair.a_db, key, salt, {"01-002"}))


def test_rows_a_packet_does_not_explain_are_still_refused_on_a_busy_database(pair: Pair, tmp_path: Path) -> None:
    """The insider's edited rows.json (test_issue18_packets) with more history around it: still named."""
    from .test_issue18_packets import repack

    site, ws = pair.open("A")
    with site:
        pair.clock.advance(10)
        ws.entry.save_item(R1, PROTU, "0.3", reason="urine sample re-read")
    genuine = edit_b(pair, "95").read_bytes()

    def rows_value(manifest: dict[str, Any], _records: Any, rows: Any, _signer: Any) -> None:
        manifest["username"] = "nurse.n"
        for v in rows["values"]:
            if v["item_id"] == "CREAT" and v["value"] == "95":
                v["value"] = "999"

    forged = tmp_path / "forged.crfpkt"
    forged.write_bytes(repack(pair, genuine, "nurse.n", rows_value))
    assert "its rows are not what its records say" in refused(pair, "A", forged)


def test_a_forged_row_on_a_subject_the_packet_does_not_name_is_refused(pair: Pair, tmp_path: Path) -> None:
    """The cross-check covers every subject whose rows the packet brings, not only those its records name: an insider
    who adds to B's packet (about 01-002) a signature of dr.a on 01-001's form is refused (it was applied before)."""
    from sqlalchemy import select

    from msc_sle_crf.store.tables import FormInstance, Subject

    from .test_issue18_packets import repack, snapshot

    site, ws = pair.open("A", "admin")
    with site, ws.ctx.read() as s:
        instance = s.execute(select(FormInstance.id).join(Subject, Subject.id == FormInstance.subject_id)
                             .where(Subject.subject_number == "01-001")).scalars().first()
    genuine = edit_b(pair, "95").read_bytes()

    def signature_elsewhere(manifest: dict[str, Any], _records: Any, rows: Any, _signer: Any) -> None:
        manifest["username"] = "nurse.n"
        rows["signatures"].append({"id": 10_000_777, "instance_id": instance, "user_id": 2, "username": "dr.a",
                                   "printed_name": "Dr A", "role": "investigator", "meaning": "approval",
                                   "signed_utc": "2026-11-20T10:00:00Z", "utc_offset_min": 60,
                                   "content_hash": "0" * 64, "sig": None})

    forged = tmp_path / "forged.crfpkt"
    forged.write_bytes(repack(pair, genuine, "nurse.n", signature_elsewhere))
    line = refused(pair, "A", forged)  # before any row is applied, naming the row kind and subject
    assert "brings a signature about subject 01-001, which none of its records explain" in line, line
    assert snapshot(pair, "A")["signatures"] == []
