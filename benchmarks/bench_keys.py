"""Costs of issue 14 (records no insider can rewrite). Prints figures; asserts nothing (targets are read by people).

    python benchmarks/bench_keys.py            # full run: 1,000,000 signed audit records, a 300 MB re-key
    python benchmarks/bench_keys.py --smoke    # quick run for CI (small sizes)

- the signature of one audit transaction (Ed25519) and its check;
- verify of N audit records, each its own signed transaction (the worst case: one save = one transaction): the
  first check (every signature) and a later one by the same user (signatures up to their last signed check are not
  checked again; the chain still is), against reading the records alone;
- re-keying (SQLCipher PRAGMA rekey + sealing the new key to every account) of a database of about 300 MB.
The save cost (an audited save against a bare insert+commit) is benchmarks/bench_core.py's figure.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from msc_sle_crf import audit  # noqa: E402
from msc_sle_crf.clock import FakeClock  # noqa: E402
from msc_sle_crf.security import keyslots  # noqa: E402
from msc_sle_crf.security.keyslots import KdfParams  # noqa: E402
from msc_sle_crf.security.personal import PersonalKeys  # noqa: E402
from msc_sle_crf.security.personal import verify as verify_signature  # noqa: E402
from msc_sle_crf.services import Site, Workspace  # noqa: E402
from msc_sle_crf.store import rekey  # noqa: E402

FAST = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)
keyslots.KDF_FLOOR = FAST  # the benchmark measures the trail and the re-key, not Argon2
PASSWORD = "bench-password-2026-x"


def bench_sign() -> None:
    keys = PersonalKeys.generate()
    message = audit.tx_message(123456, "ab" * 32)
    n = 5000
    start = time.perf_counter()
    for _ in range(n):
        sig = keys.sign.sign(message)
    signing = (time.perf_counter() - start) / n
    public = keys.publics().sign
    start = time.perf_counter()
    for _ in range(n):
        verify_signature(public, sig, message)
    checking = (time.perf_counter() - start) / n
    print(f"Ed25519 per transaction: sign {signing * 1e6:.0f} us, check {checking * 1e6:.0f} us")


def _site(tmp: Path, name: str) -> tuple[Site, Workspace]:
    site, _admin, _code = Site.initialize(tmp / name / "trial.crfdb", admin_username="admin",
                                          admin_full_name="Bench Admin", admin_password=PASSWORD, kdf=FAST,
                                          clock=FakeClock())
    return site, Workspace.sign_in(site, "admin", PASSWORD)


def bench_verify(tmp: Path, records: int) -> None:
    site, admin = _site(tmp, "verify")
    signer = site.signer("admin")
    conn = site.store.raw_connection()  # type: ignore[union-attr]
    last_id, prev = conn.execute("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
    fields = audit.CANONICAL_FIELDS
    insert = (f"INSERT INTO audit_event ({', '.join(audit.STORED_FIELDS)}) VALUES "
              f"({', '.join('?' * len(audit.STORED_FIELDS))})")
    start = time.perf_counter()
    conn.execute("BEGIN")
    batch = []
    for i in range(last_id + 1, last_id + 1 + records):
        rec = {"id": i, "ts_utc": "2026-11-25T09:00:00.000000Z", "utc_offset_min": 60, "username": "admin",
               "role": "admin", "workstation": "bench", "action": "draft_save", "subject": None, "visit": None,
               "form": "bench", "item": None, "repeat_key": None, "old_value": None, "new_value": str(i % 200),
               "reason": None, "detail": None, "prev_hash": prev}
        prev = audit.record_hash(rec)
        sig = base64.b64encode(signer.sign(audit.tx_message(i, prev))).decode()
        batch.append((*[rec[f] for f in fields], prev, "admin", sig))
        if len(batch) == 20_000:
            conn.executemany(insert, batch)
            batch.clear()
    if batch:
        conn.executemany(insert, batch)
    conn.execute("COMMIT")
    build = time.perf_counter() - start
    start = time.perf_counter()
    count = sum(1 for _ in audit.iter_rows(conn))
    reading = time.perf_counter() - start
    start = time.perf_counter()
    chain = audit.verify_connection(conn, verifier=audit.TrailVerifier(None, (last_id + records, prev)))
    chain_only = time.perf_counter() - start
    assert chain.ok, chain
    start = time.perf_counter()
    result = audit.verify_connection(conn)
    first = time.perf_counter() - start
    conn.close()
    assert result.ok, result
    report = admin.integrity.verify(full=False)  # signs a check up to here
    assert report.ok, report
    start = time.perf_counter()
    again = admin.integrity.verify(full=False)
    later = time.perf_counter() - start
    assert again.ok
    print(f"read {count:,} audit records: {reading:.2f} s")
    print(f"chain and key bindings alone (signatures trusted): {chain_only:.2f} s = {chain_only / reading:.1f}x "
          "reading them")
    print(f"verify {result.records:,} records, {result.signatures_checked:,} signatures (one per record, worst case): "
          f"{first:.2f} s = {first / reading:.1f}x reading them  [built in {build:.0f} s]")
    print(f"verify again by the same user (integrity.verify: chain, replay, page check quick): {later:.2f} s "
          f"({again.audit.signatures_checked} signatures checked) = {later / reading:.1f}x reading them")
    site.close()


def bench_rekey(tmp: Path, megabytes: int) -> None:
    site, admin = _site(tmp, "rekey")
    for n in range(8):
        admin.accounts.add_user(f"user{n}", f"User {n}", "nurse", initial_password=f"{PASSWORD}-{n}",
                                must_change_password=False)
    conn = site.store.raw_connection()  # type: ignore[union-attr]
    payload = os.urandom(3000).hex()[:4000]  # incompressible, like encrypted pages are anyway
    rows = megabytes * 1024 * 1024 // 4200
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO draft (user_id, draft_key, payload, updated_utc) VALUES (1, ?, ?, 't')",
                     ((f"bench-{i}", payload) for i in range(rows)))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = site.db_path.stat().st_size
    seen = []
    start = time.perf_counter()
    rotation = rekey.rotate(site, progress=lambda done, total: seen.append(done))
    elapsed = time.perf_counter() - start
    print(f"re-key {size / 1e6:.0f} MB database, new key sealed to {len(rotation.accounts)} accounts: {elapsed:.1f} s "
          f"({size / 1e6 / elapsed:.0f} MB/s; {len(seen)} progress reports)")
    assert Workspace.sign_in(site, "user3", f"{PASSWORD}-3").actor.username == "user3"
    site.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="small sizes, for CI")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"{'SMOKE run (small sizes)' if args.smoke else 'full run'}")
    bench_sign()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bench_verify(tmp, 5_000 if args.smoke else 1_000_000)
        bench_rekey(tmp, 5 if args.smoke else 300)


if __name__ == "__main__":
    main()
