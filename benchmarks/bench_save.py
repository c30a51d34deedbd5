"""An audited value save against a bare insert of the same bytes (issue 13, item 3).

    python benchmarks/bench_save.py            # in a copy of the 500-subject trial
    python benchmarks/bench_save.py --smoke    # in a copy of the 20-subject trial, for CI

Path timed: ``ws.entry.save_item(ref, key, text)``, what the form screen calls when a field is left: the value
checked by the form engine, stored, audited in the same transaction (synchronous=FULL, WAL), the typing buffer
cleared. Two forms: the labs form (12 items) at M12 of a subject followed to M9, and the benchmarks' largest form
(151 fields). The value alternates between two valid values so that every save writes.
Floor, interleaved: a bare sqlcipher3 connection (WAL, synchronous=FULL, same page size and cipher) inserting and
committing one row holding the same number of bytes as the save writes (the audit record and the value row).
Target: ratio <= 3.
Each figure's note gives the pages each commits to the write-ahead log (WAL frames per save, median of 30), and the
copy of the trial is flushed to disk before anything is timed (its write-back would otherwise slow the first
figure's commits, path and floor alike, by up to 10x).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness import Figure, env_offscreen, paired, report

env_offscreen()

from bigform import big_study, filled  # noqa: E402
from dataset import DOCTOR, NURSE, copy_of, trial  # noqa: E402

from msc_sle_crf import audit  # noqa: E402
from msc_sle_crf.formdef import load_study  # noqa: E402
from msc_sle_crf.services import Site, Workspace  # noqa: E402
from msc_sle_crf.services.entry import FormRef  # noqa: E402
from msc_sle_crf.store.db import PAGE_SIZE, connect_raw  # noqa: E402


def written_bytes(site: Site) -> int:
    """What the last save wrote: its audit record (canonical content and hash) and the value row."""
    conn = site.store.raw_connection()  # type: ignore[union-attr]
    try:
        cols = [*audit.CANONICAL_FIELDS, "hash"]
        row = conn.execute(f"SELECT {', '.join(cols)} FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
        record = dict(zip(cols, row, strict=True))
        value = conn.execute("SELECT * FROM item_value ORDER BY updated_utc DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return len(audit.canonical_bytes(record)) + 64 + sum(len(str(v)) for v in value if v is not None)


def wal_frames(db: Path) -> int:
    """Frames (pages) in a database's write-ahead log (its header is 32 bytes, each frame 24 + a page)."""
    wal = Path(f"{db}-wal")
    return (wal.stat().st_size - 32) // (24 + PAGE_SIZE) if wal.exists() and wal.stat().st_size > 32 else 0


def pages_per_call(fn: Callable[[], object], db: Path, checkpoint: Callable[[], object], n: int = 30) -> float:
    """Median WAL frames one call commits (the log restarted first, so that nothing is overwritten in place)."""
    checkpoint()
    fn()
    grown = []
    for _ in range(n):
        before = wal_frames(db)
        fn()
        grown.append(wal_frames(db) - before)
    return statistics.median(grown)


class BareInsert:
    """The physical floor: one row of ``size`` bytes inserted and committed, nothing else."""

    def __init__(self, folder: Path, size: int) -> None:
        self.path = folder / "bare.db"
        self.conn = connect_raw(self.path, os.urandom(32))
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT)")
        self.size = size
        self.n = 0

    def checkpoint(self) -> None:
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def __call__(self) -> None:
        self.n += 1
        payload = (f"{self.n:08d}" * (self.size // 8 + 1))[: self.size]
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("INSERT INTO t (payload) VALUES (?)", (payload,))
        self.conn.execute("COMMIT")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int)
    args = parser.parse_args()
    runs = args.runs or (30 if args.smoke else 300)
    n = 20 if args.smoke else 500
    figures = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t = trial(n)
        db = copy_of(t, tmp)
        os.sync()  # the copy's write-back done before any commit is timed
        site = Site.open(db)
        study = load_study()
        doctor = Workspace.sign_in(site, *DOCTOR, study=study)
        labs = FormRef("99-007", "M12", "labs")
        toggle = [0]

        def save_labs() -> None:
            toggle[0] ^= 1
            doctor.entry.save_item(labs, ("lb", 0, "HGB"), "12.1" if toggle[0] else "12.3")

        save_labs()
        bare = BareInsert(tmp, written_bytes(site))
        store = site.store
        assert store is not None
        pages = (pages_per_call(save_labs, db, store.checkpoint), pages_per_call(bare, bare.path, bare.checkpoint))
        figures.append(paired(Figure(
            f"audited value save, labs form (12 items), {n}-subject trial", target=3.0,
            path="DataEntry.save_item(FormRef('99-007','M12','labs'), ('lb',0,'HGB'), '12.1'|'12.3')",
            floor_path=f"bare sqlcipher3 BEGIN IMMEDIATE + INSERT {bare.size} bytes + COMMIT (WAL, FULL)",
            note=f"pages committed per call (WAL frames, median): path {pages[0]:g}, floor {pages[1]:g}"),
            save_labs, bare, runs))

        nurse = Workspace.sign_in(site, *NURSE, study=big_study(study))
        big = FormRef("99-007", "V1", "big")
        nurse.entry.save_values(big, filled(nurse.study.forms["big"]))  # a form full of data

        def save_big() -> None:
            toggle[0] ^= 1
            nurse.entry.save_item(big, ("main", 0, "I001"), "45.5" if toggle[0] else "46.5")

        save_big()
        bare_big = BareInsert(tmp / "big", written_bytes(site)) if (tmp / "big").mkdir() is None else None
        assert bare_big is not None
        pages = (pages_per_call(save_big, db, store.checkpoint),
                 pages_per_call(bare_big, bare_big.path, bare_big.checkpoint))
        figures.append(paired(Figure(
            "audited value save, largest form (151 fields, all filled)", target=3.0,
            path="DataEntry.save_item(FormRef('99-007','V1','big'), ('main',0,'I001'), '45.5'|'46.5')",
            floor_path=f"bare sqlcipher3 BEGIN IMMEDIATE + INSERT {bare_big.size} bytes + COMMIT (WAL, FULL)",
            note=f"pages committed per call (WAL frames, median): path {pages[0]:g}, floor {pages[1]:g}"),
            save_big, bare_big, runs))
        bare.conn.close()
        bare_big.conn.close()
        site.close()
    report("bench_save", figures, database_mb=round(t.size_bytes / 1e6), audit_records=t.audit_records)


if __name__ == "__main__":
    main()
