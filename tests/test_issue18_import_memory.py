"""Issue 18, item 6: the memory of a packet import (``hub ingest`` of a workstation's packet: 175,000 records, 256 MB).

Before, the packet was held several times at once: the file's bytes, a copy of them without the header, a second
copy without the nonce, the decrypted zip, every part read out of it, records.jsonl decoded to text, that text cut
into a list of lines, every record parsed with its own copy of each field name and of each repeated text (user, role,
action...), and archival.xml kept for the whole import though nothing reads it: 1.84 GB for one packet. Now the file
is decrypted in place, the records are parsed line by line as they are hashed (never held as text), their field
names and short repeated texts are shared, the decrypted zip is let go before rows.json is parsed, archival.xml is
only hashed. Measured here with ``tracemalloc`` on a generated packet, against its size (no timing)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from msc_sle_crf import audit
from msc_sle_crf.sync import packets as P

ROOT = Path(__file__).resolve().parents[1]
DB_ID = "db-memory-test"
RECORDS = 20_000


def _record(n: int, prev: str) -> dict[str, Any]:
    """A record shaped as a cloned trial's: few users, roles, actions and forms; a hash of its own."""
    subject = f"01-{n % 200 + 9:03d}"
    record: dict[str, Any] = {
        "id": n, "ts_utc": f"2026-11-{n % 28 + 1:02d}T10:{n % 60:02d}:00Z", "utc_offset_min": 60,
        "username": ("dr.martin", "nurse.dupont", "monitor.lee")[n % 3],
        "role": ("investigator", "nurse", "monitor")[n % 3], "workstation": "WS-02",
        "action": ("create", "update", "sign", "sdv")[n % 4], "subject": subject, "visit": ("SCR", "M1", "M3")[n % 3],
        "form": ("renal_function", "vital_signs", "labs")[n % 3], "item": f"ITEM{n % 40}",
        "repeat_key": f"lb:{n % 5}", "old_value": None, "new_value": str(n % 97), "reason": None, "detail": None,
        "prev_hash": prev, "hash": hashlib.sha256(f"record {n}".encode()).hexdigest(), "signer": "dr.martin",
        "sig": None if n % 8 else "A" * 88, "origin": None,
    }
    assert tuple(record) == audit.VERIFY_FIELDS
    return record


def make_packet(key: bytes, records: int = RECORDS) -> bytes:
    """A packet file as ``export_packet`` writes one (the parts in the proportions of a real workstation packet:
    records 36 %, rows 16 %, archival.xml 48 %); its records are not signed (``open_packet`` reads, it does not
    judge: the import's checks do)."""
    recs, prev = [], audit.GENESIS_HASH
    for n in range(1, records + 1):
        recs.append(_record(n, prev))
        prev = recs[-1]["hash"]
    records_bytes = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"
                            for r in recs).encode("utf-8")
    values = [{"instance_id": n // 14, "group_id": "lb", "row_no": n % 5, "item_id": f"ITEM{n % 40}",
               "value": str(n % 97), "unit": "mg/L", "canonical": None, "missing_code": None,
               "missing_reason": None, "confirmed": 0, "updated_utc": "2026-11-20T10:00:00Z", "updated_by": "dr.martin"}
              for n in range(len(records_bytes) // 2400 * 4)]
    rows_bytes = json.dumps({"values": values}, sort_keys=True, separators=(",", ":")).encode("utf-8")
    xml_bytes = b"<ODM>" + b"<ItemData ItemOID='I.X' Value='1'/>" * (len(records_bytes) * 4 // 3 // 36) + b"</ODM>"
    parts = {"records.jsonl": records_bytes, "rows.json": rows_bytes, "archival.xml": xml_bytes}
    manifest = {"db_id": DB_ID, "ws": "WS-02", "seq": 1, "file_oid": f"{DB_ID}.WS-02.1", "records": len(recs),
                "parts": {name: hashlib.sha256(data).hexdigest() for name, data in parts.items()}}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in (("manifest.json", json.dumps(manifest).encode()), ("manifest.sig", b"c2ln"),
                           *parts.items()):
            zf.writestr(name, data)
    header = P.MAGIC + json.dumps({"db_id": DB_ID, "ws": "WS-02", "seq": 1, "file_oid": manifest["file_oid"]},
                                  sort_keys=True).encode("ascii") + b"\n"
    nonce = os.urandom(12)
    return header + nonce + AESGCM(key).encrypt(nonce, buffer.getvalue(), header)


@pytest.fixture(scope="module")
def packet() -> tuple[bytes, bytes]:
    key = AESGCM.generate_key(256)
    return key, make_packet(key)


def _open_traced(data: bytes, key: bytes) -> tuple[P.Packet, int, int]:
    """(the packet, the peak traced while opening it, what stays allocated after), in bytes."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        opened = P.open_packet(data, packet_key=key, expected_db_id=DB_ID, name="p.crfpkt", archival=False)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return opened, peak - before, held - before


def test_opening_a_packet_does_not_hold_it_several_times(packet: tuple[bytes, bytes]) -> None:
    key, data = packet
    opened, peak, held = _open_traced(data, key)
    assert len(opened.records) == RECORDS and opened.archival == b""
    # the decrypted zip (the file's size) and the parsed records and rows: not a copy of the file, not the text of
    # the records, not archival.xml (before: 5.6x the file at the peak, 2.9x held; now 1.7x and 0.8x)
    assert peak < 1.9 * len(data), f"peak {peak / len(data):.2f}x the packet's size"
    assert held < 0.9 * len(data), f"held {held / len(data):.2f}x the packet's size"


def test_the_records_share_their_field_names_and_repeated_texts(packet: tuple[bytes, bytes]) -> None:
    key, data = packet
    opened = P.open_packet(data, packet_key=key, expected_db_id=DB_ID, name="p.crfpkt", archival=False)
    first, second = opened.records[0], opened.records[1]
    assert first == _record(1, audit.GENESIS_HASH)  # the same values, read back as written
    assert [a is b for a, b in zip(first, second, strict=True)] == [True] * len(first)  # field names shared
    assert first["workstation"] is second["workstation"] and first["signer"] is second["signer"]
    assert second["prev_hash"] is first["hash"]  # a record's prev_hash is the record before's hash: one text


def test_a_record_with_other_fields_is_kept_as_it_came(packet: tuple[bytes, bytes]) -> None:
    """Sharing the field names never changes what a record holds: an extra field stays, for the record checks
    to refuse (``_check_records``: "has other fields")."""
    key = AESGCM.generate_key(256)
    data = make_packet(key, records=3)
    opened = P.open_packet(data, packet_key=key, expected_db_id=DB_ID, name="p.crfpkt")
    assert set(opened.records[0]) == set(audit.VERIFY_FIELDS)
    end = data.find(b"\n", len(P.MAGIC))
    header, rest = data[:end + 1], data[end + 1:]
    plain = AESGCM(key).decrypt(rest[:12], rest[12:], header)
    with zipfile.ZipFile(io.BytesIO(plain)) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    lines = parts["records.jsonl"].decode().split("\n")
    lines[1] = lines[1][:-1] + ',"extra":1}'
    parts["records.jsonl"] = "\n".join(lines).encode()
    manifest = json.loads(parts["manifest.json"])
    manifest["parts"]["records.jsonl"] = hashlib.sha256(parts["records.jsonl"]).hexdigest()
    parts["manifest.json"] = json.dumps(manifest).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, part in parts.items():
            zf.writestr(name, part)
    nonce = os.urandom(12)
    altered = header + nonce + AESGCM(key).encrypt(nonce, buffer.getvalue(), header)
    reopened = P.open_packet(altered, packet_key=key, expected_db_id=DB_ID, name="p.crfpkt")
    assert reopened.records[1]["extra"] == 1 and set(reopened.records[1]) == {*audit.VERIFY_FIELDS, "extra"}
    assert reopened.records[0] == opened.records[0] and reopened.archival == opened.archival != b""


def test_the_benchmark_reports_the_ingest_process_own_peak(tmp_path: Path) -> None:
    """A child's ``ru_maxrss`` (``wait4``) starts from its parent's high-water mark: the scale benchmark reported
    its own peak as the ingest's. ``benchmarks/own_peak.py`` reports the child's own (``VmHWM``)."""
    ballast = bytearray(400 << 20)
    ballast[::4096] = b"\x01" * len(ballast[::4096])  # this process: 400 MB more, touched
    peak_file = tmp_path / "peak.txt"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "own_peak.py"), "-m", "json.tool", "--help"],
                   env={**os.environ, "BENCH_PEAK_FILE": str(peak_file)}, check=True, capture_output=True)
    del ballast
    assert 1 < float(peak_file.read_text()) < 200
