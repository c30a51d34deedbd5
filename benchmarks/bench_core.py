"""Speed figures of the trustworthy core. Prints figures; asserts nothing (targets are read by people).

    python benchmarks/bench_core.py            # full run (1,000,000 audit records for the verify figure)
    python benchmarks/bench_core.py --smoke    # quick run for CI (small sizes)

Targets (issue 2): unlock 0.3-0.5 s on a 2-core laptop; audited write / bare insert <= 3; verify of 1,000,000
audit records <= 15 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from msc_sle_crf import audit  # noqa: E402
from msc_sle_crf.security.keyslots import KIND_USER, KdfParams, calibrate, normalize_secret  # noqa: E402
from msc_sle_crf.services import Site, Workspace  # noqa: E402
from msc_sle_crf.store.db import connect_raw  # noqa: E402

FAST = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_unlock(site: Site, runs: int) -> None:
    params = calibrate()
    site.keyfile.set_slot(KIND_USER, "bench.user", normalize_secret("bench-password-1"), site.store.key, "t",
                          kdf=params)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        assert site.keyfile.unwrap(KIND_USER, "bench.user", normalize_secret("bench-password-1"))
        times.append(time.perf_counter() - start)
    print(f"unlock (Argon2id t={params.time_cost}, m={params.memory_kib // 1024} MiB, p={params.parallelism}): "
          f"median {statistics.median(times):.3f} s over {runs} (target 0.3-0.5 s on a 2-core laptop)")


def bench_start_to_login(db: Path, runs: int) -> None:
    code = (
        "import time; t0=time.perf_counter()\n"
        "import sys; from PySide6.QtWidgets import QApplication\n"
        "from msc_sle_crf.services import Site\nfrom msc_sle_crf.ui.login import LoginWindow\n"
        "app=QApplication(sys.argv); site=Site.open(sys.argv[1]); w=LoginWindow(site); w.show(); app.processEvents()\n"
        "print('shown', time.perf_counter()-t0, flush=True); site.close()\n"
    )
    wall, inside = [], []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True, cwd=ROOT,
                              check=True)
        wall.append(time.perf_counter() - start)
        inside.append(float(proc.stdout.split()[1]))
    print(f"process start -> login window shown (offscreen): median {statistics.median(wall):.3f} s wall "
          f"(of which {statistics.median(inside):.3f} s after the interpreter started), {runs} runs")


def bench_writes(services: Workspace, tmp: Path, n: int) -> None:
    audited = []
    for i in range(n):
        start = time.perf_counter()
        services.drafts.save("bench", {"initials": "ABC", "birth_year": 1980 + i % 20, "sex": "F", "i": i})
        audited.append(time.perf_counter() - start)
    key = os.urandom(32)
    conn = connect_raw(tmp / "bare.db", key)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE draft (id INTEGER PRIMARY KEY, user_id INTEGER, draft_key TEXT, payload TEXT, "
                 "updated_utc TEXT)")
    bare = []
    for i in range(n):
        payload = f'{{"birth_year": {1980 + i % 20}, "i": {i}, "initials": "ABC", "sex": "F"}}'
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO draft (user_id, draft_key, payload, updated_utc) VALUES (?, ?, ?, ?)",
                     (1, "bench", payload, "2026-11-25T09:00:00.000000Z"))
        conn.execute("COMMIT")
        bare.append(time.perf_counter() - start)
    conn.close()
    ma, mb = statistics.median(audited), statistics.median(bare)
    print(f"audited write via service layer: median {ma * 1000:.2f} ms, p95 {pct(audited, 0.95) * 1000:.2f} ms")
    print(f"bare sqlcipher3 insert+commit:   median {mb * 1000:.2f} ms, p95 {pct(bare, 0.95) * 1000:.2f} ms")
    print(f"ratio audited/bare (median): {ma / mb:.2f} (target <= 3), p95 ratio {pct(audited, .95) / pct(bare, .95):.2f}"
          f"  [{n} writes each, synchronous=FULL, WAL]")


def bench_verify(site: Site, records: int) -> None:
    conn = site.store.raw_connection()
    cur = conn.execute("SELECT max(id), (SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1) FROM audit_event")
    last_id, prev = cur.fetchone()
    fields = audit.CANONICAL_FIELDS
    start = time.perf_counter()
    conn.execute("BEGIN")
    batch = []
    for i in range(last_id + 1, last_id + 1 + records):
        rec = {"id": i, "ts_utc": "2026-11-25T09:00:00.000000Z", "utc_offset_min": 60, "username": "nurse.durand",
               "role": "nurse", "workstation": "bench", "action": "update", "subject": "99-001", "visit": "M1",
               "form": "vitals", "item": "VSSYSBP", "repeat_key": "T15", "old_value": "120", "new_value": str(i % 200),
               "reason": None, "detail": None, "prev_hash": prev}
        prev = audit.record_hash(rec)
        batch.append((*[rec[f] for f in fields], prev))
        if len(batch) == 20_000:
            conn.executemany(f"INSERT INTO audit_event ({', '.join(fields)}, hash) VALUES "
                             f"({', '.join('?' * (len(fields) + 1))})", batch)
            batch.clear()
    if batch:
        conn.executemany(f"INSERT INTO audit_event ({', '.join(fields)}, hash) VALUES "
                         f"({', '.join('?' * (len(fields) + 1))})", batch)
    conn.execute("COMMIT")
    build = time.perf_counter() - start
    start = time.perf_counter()
    result = audit.verify_connection(conn)
    elapsed = time.perf_counter() - start
    conn.close()
    assert result.ok, result
    size = site.db_path.stat().st_size + Path(f"{site.db_path}-wal").stat().st_size
    print(f"verify audit chain: {result.records:,} records in {elapsed:.2f} s "
          f"({result.records / elapsed:,.0f} records/s; target <= 15 s for 1,000,000) "
          f"[built in {build:.1f} s, database+wal {size / 1e6:.0f} MB]")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="small sizes, for CI")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"{'SMOKE run (small sizes)' if args.smoke else 'full run'}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        site, admin, _ = Site.initialize(tmp / "bench.crfdb", admin_username="admin", admin_full_name="Bench",
                                         admin_password="bench-password-0", kdf=FAST)
        bench_unlock(site, 3 if args.smoke else 7)
        bench_writes(Workspace(site, admin), tmp, 50 if args.smoke else 500)
        site.close()
        bench_start_to_login(tmp / "bench.crfdb", 2 if args.smoke else 5)
        site = Site.open(tmp / "bench.crfdb")
        site.sign_in("admin", "bench-password-0")
        bench_verify(site, 20_000 if args.smoke else 1_000_000)
        site.close()


if __name__ == "__main__":
    main()
