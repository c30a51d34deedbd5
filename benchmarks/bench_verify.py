"""Verifying the audit trail's hash chain against reading it (issue 13).

    python benchmarks/bench_verify.py            # the 2,000-subject trial (about 1.75 million records)
    python benchmarks/bench_verify.py --smoke    # the 20-subject trial, for CI

Path timed: ``audit.verify_connection(conn, anchor)``, the chain check of ``msc-sle-crf verify`` and of the check
run after sign-in: every record read, its canonical content re-hashed, its link and id checked, the anchor found.
Floor, interleaved: the same rows read (the same SELECT, fetched in the same batches) and nothing done with them.
Target: ratio <= 1.5. The page check (``cipher_integrity_check`` + ``quick_check``) is reported beside it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from harness import Figure, env_offscreen, paired, report, timed_ms

env_offscreen()

from dataset import (  # noqa: E402
    ADMIN,
    copy_of,
    trial,
)

from msc_sle_crf import audit  # noqa: E402
from msc_sle_crf.security.keyslots import KIND_USER, normalize_secret  # noqa: E402
from msc_sle_crf.services import Site  # noqa: E402
from msc_sle_crf.store.db import connect_raw, integrity_problems  # noqa: E402


def read_rows(conn: object) -> int:
    cursor = conn.execute(audit._SELECT_ALL)  # type: ignore[attr-defined]
    cursor.arraysize = 5000
    n = 0
    while True:
        batch = cursor.fetchmany()
        if not batch:
            return n
        n += len(batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int)
    args = parser.parse_args()
    runs = args.runs or (2 if args.smoke else 3)
    with tempfile.TemporaryDirectory() as tmp:
        t = trial(20 if args.smoke else 2000)
        db = copy_of(t, Path(tmp))
        site = Site.open(db)
        key = site.keyfile.unwrap(KIND_USER, ADMIN[0], normalize_secret(ADMIN[1]))
        assert key is not None
        anchor = site.keyfile.audit_anchor
        site.close()
        conn = connect_raw(db, key, bytes.fromhex(site.keyfile.db_salt_hex))
        results: list[audit.VerifyResult] = []
        fig = paired(Figure(f"audit chain verified, {t.audit_records:,} records", target=1.5,
                            path="audit.verify_connection(conn, anchor)",
                            floor_path="the same SELECT, rows fetched in batches of 5000, nothing done with them"),
                     lambda: results.append(audit.verify_connection(conn, anchor)), lambda: read_rows(conn), runs,
                     warmup=1)
        assert results[-1].ok, results[-1]
        pages = Figure(f"page check of the whole file ({db.stat().st_size / 1e6:.0f} MB)",
                       path="cipher_integrity_check + quick_check (verify, backups, the check after sign-in)",
                       values=[timed_ms(lambda: integrity_problems(conn, full=False))])
        conn.close()
    report("bench_verify", [fig, pages])


if __name__ == "__main__":
    main()
