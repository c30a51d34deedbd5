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
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from harness import Figure, env_offscreen, paired, report

env_offscreen()

from bigform import big_study, filled  # noqa: E402
from dataset import DOCTOR, NURSE, copy_of, trial  # noqa: E402

from msc_sle_crf import audit  # noqa: E402
from msc_sle_crf.formdef import load_study  # noqa: E402
from msc_sle_crf.services import Site, Workspace  # noqa: E402
from msc_sle_crf.services.entry import FormRef  # noqa: E402
from msc_sle_crf.store.db import connect_raw  # noqa: E402


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


class BareInsert:
    """The physical floor: one row of ``size`` bytes inserted and committed, nothing else."""

    def __init__(self, folder: Path, size: int) -> None:
        self.conn = connect_raw(folder / "bare.db", os.urandom(32))
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT)")
        self.size = size
        self.n = 0

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
        figures.append(paired(Figure(
            f"audited value save, labs form (12 items), {n}-subject trial", target=3.0,
            path="DataEntry.save_item(FormRef('99-007','M12','labs'), ('lb',0,'HGB'), '12.1'|'12.3')",
            floor_path=f"bare sqlcipher3 BEGIN IMMEDIATE + INSERT {bare.size} bytes + COMMIT (WAL, FULL)"),
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
        figures.append(paired(Figure(
            "audited value save, largest form (151 fields, all filled)", target=3.0,
            path="DataEntry.save_item(FormRef('99-007','V1','big'), ('main',0,'I001'), '45.5'|'46.5')",
            floor_path=f"bare sqlcipher3 BEGIN IMMEDIATE + INSERT {bare_big.size} bytes + COMMIT (WAL, FULL)"),
            save_big, bare_big, runs))
        bare.conn.close()
        bare_big.conn.close()
        site.close()
    report("bench_save", figures, database_mb=round(t.size_bytes / 1e6), audit_records=t.audit_records)


if __name__ == "__main__":
    main()
