"""Verifying the audit trail's hash chain against reading it (issue 13).

    python benchmarks/bench_verify.py            # the 2,000-subject trial (about 1.75 million records)
    python benchmarks/bench_verify.py --smoke    # the 20-subject trial, for CI

Path timed: ``audit.verify_connection(conn, anchor)``, the chain check of ``msc-sle-crf verify`` and of the check
run after sign-in: every record read, its canonical content re-hashed, its link and id checked, the anchor found.
Floor, interleaved: the same rows read (the same SELECT, fetched in the same batches) and nothing done with them.
Target: ratio <= 1.5. Since issue 14 every transaction is signed by its author, and a verify that does not check
those signatures would prove nothing against an insider: a second figure times the same path against the floor that
cannot be avoided, the same read plus the Ed25519 verification of every signed record (``security.personal.verify``
over the same messages, nothing else). The page check (``cipher_integrity_check`` + ``quick_check``) is reported
beside it.
"""

from __future__ import annotations

import argparse
import base64
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
from msc_sle_crf.security.personal import verify as verify_signature  # noqa: E402
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
        directory = audit.directory_of(conn)
        signed = []
        for row in conn.execute(audit._SELECT_ALL).fetchall():
            if row[19] is not None:
                account = directory.get(row[18])
                keys = account.key_at(row[0]) if account is not None else None
                signed.append((keys.sign if keys is not None else b"",
                               base64.b64decode(row[19]), audit.tx_message(row[0], row[17])))
        assert signed and all(k for k, _s, _m in signed), "every signer's key is known"

        def read_and_check_signatures() -> None:
            read_rows(conn)
            for public, sig, message in signed:
                verify_signature(public, sig, message)

        with_sigs = paired(Figure(f"audit chain and {len(signed):,} signatures verified, {t.audit_records:,} records",
                                  target=1.5, path="audit.verify_connection(conn, anchor)",
                                  floor_path="the same read + Ed25519 verify of each signed record, nothing else"),
                           lambda: results.append(audit.verify_connection(conn, anchor)), read_and_check_signatures,
                           runs, warmup=1)
        pages = Figure(f"page check of the whole file ({db.stat().st_size / 1e6:.0f} MB)",
                       path="cipher_integrity_check + quick_check (verify, backups, the check after sign-in)",
                       values=[timed_ms(lambda: integrity_problems(conn, full=False))])
        conn.close()
    report("bench_verify", [fig, with_sigs, pages])


if __name__ == "__main__":
    main()
