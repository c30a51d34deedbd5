"""An automatic backup of a realistic trial against copying the same bytes (issue 19).

    python benchmarks/bench_backup.py            # the 500-subject trial (~180 MB)
    python benchmarks/bench_backup.py --smoke    # the 20-subject trial, for CI

Path timed: ``autobackup.run(ws, "manual")``, what runs after a lock, a log-out or once a day: the audit record,
the encrypted copy (SQLite's online backup API, the same key), every page of the copy and its whole audit chain
checked, the manifest (SHA-256 of each member), the tar written with fsync and renamed, the file read back and
compared with the manifest, old backups pruned, the result recorded. Floor, interleaved: the same database bytes
copied to the same folder with ``shutil.copyfile`` and fsync (what any backup must at least do). Target: ratio <= 4
(the path reads the data three times and writes it twice: copy, check, hash; tar; read back). Beside it, each part
once: the copy, the check of the copy, the read-back. A second figure compares the same path with a floor that also
checks every page of its copy (cipher_integrity_check + quick_check: what any backup that is verified must do at
least once); target <= 2.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from harness import Figure, env_offscreen, paired, report, timed_ms

env_offscreen()

from dataset import ADMIN, copy_of, trial  # noqa: E402

from msc_sle_crf.services import Site, Workspace  # noqa: E402
from msc_sle_crf.services import autobackup as A  # noqa: E402
from msc_sle_crf.services.backup import read_manifest, verify_written  # noqa: E402
from msc_sle_crf.store.db import connect_raw, copy_encrypted, integrity_problems  # noqa: E402


def copy_bytes(src: Path, dest: Path) -> None:
    shutil.copyfile(src, dest)
    with open(dest, "rb+") as fh:
        os.fsync(fh.fileno())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int)
    args = parser.parse_args()
    runs = args.runs or (3 if args.smoke else 5)
    with tempfile.TemporaryDirectory() as tmp:
        t = trial(20 if args.smoke else 500)
        db = copy_of(t, Path(tmp))
        folder = Path(tmp) / "backups"
        floor_dir = Path(tmp) / "floor"
        folder.mkdir()
        floor_dir.mkdir()
        site = Site.open(db)
        try:
            admin = Workspace.sign_in(site, *ADMIN)
            admin.settings.set("backup_folder", str(folder))
            admin.settings.set("backup_keep", "2")
            made: list[A.BackupOutcome] = []
            n = [0]

            def floor() -> None:
                n[0] += 1
                copy_bytes(db, floor_dir / f"copy-{n[0]}.crfdb")

            def clean() -> None:
                for leftover in floor_dir.iterdir():
                    leftover.unlink()

            fig = paired(Figure(f"automatic backup, {t.subjects} subjects ({db.stat().st_size / 1e6:.0f} MB)",
                                target=4.0, path='autobackup.run(ws, "manual"): copy, check, tar, read back, prune',
                                floor_path="shutil.copyfile of the database bytes + fsync"),
                         lambda: made.append(A.run(admin, "manual")), floor, runs, warmup=1, between=clean)
            store = site.store
            assert store is not None

            def verified_floor() -> None:
                n[0] += 1
                dest = floor_dir / f"copy-{n[0]}.crfdb"
                copy_bytes(db, dest)
                conn = connect_raw(dest, store.key, store.salt)
                try:
                    assert not integrity_problems(conn, full=False)
                finally:
                    conn.close()

            checked = paired(Figure(f"automatic backup, {t.subjects} subjects, against a checked copy",
                                    target=2.0, path='autobackup.run(ws, "manual")',
                                    floor_path="shutil.copyfile + fsync, then every page of the copy checked "
                                    "(cipher_integrity_check + quick_check): what any verified copy must do"),
                             lambda: made.append(A.run(admin, "manual")), verified_floor, max(2, runs - 2),
                             warmup=0, between=clean)
            last = made[-1].path
            # Retention held: the 2 newest by name, plus the one just made if the wall clock stepped back meanwhile
            # (its name then sorts older, and prune never removes the backup it just wrote: seen once in CI).
            kept = list(folder.iterdir())
            assert last is not None and last in kept and 2 <= len(kept) <= 3, kept
            size = last.stat().st_size
            parts = []
            tmp_copy = Path(tmp) / "part.crfdb"

            def copy_only() -> None:
                conn = store.raw_connection()
                try:
                    copy_encrypted(conn, tmp_copy, store.key, store.salt)
                finally:
                    conn.close()

            parts.append(Figure("  part: encrypted copy (online backup API)", values=[timed_ms(copy_only)]))

            def check_only() -> None:
                conn = connect_raw(tmp_copy, store.key, store.salt)
                try:
                    assert not integrity_problems(conn, full=False)
                finally:
                    conn.close()

            parts.append(Figure("  part: every page of the copy checked", values=[timed_ms(check_only)]))
            manifest = read_manifest(last)
            parts.append(Figure(f"  part: the written backup read back ({size / 1e6:.0f} MB)",
                                values=[timed_ms(lambda: verify_written(last, manifest))]))
        finally:
            site.close()
    report("bench_backup", [fig, checked, *parts])


if __name__ == "__main__":
    main()
