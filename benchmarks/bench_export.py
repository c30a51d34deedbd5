"""Exporting a realistic trial with its whole audit trail (issue 16).

    python benchmarks/bench_export.py            # the 500-subject trial (about 440,000 audit records)
    python benchmarks/bench_export.py --smoke    # the 20-subject trial, for CI

Path timed: ``Export.export`` as the CLI and the Export screen run it: one read transaction, the ODM snapshot and
the archival file (every record of every subject, streamed), the CSV datasets, scores, codebook, R/SAS scripts, the
audit trail CSV, both ODM files validated against the official XSD, the manifest hashed and signed, the folder
renamed into place. Floor, interleaved (A B A B): the same rows (values, instances, subjects, the whole trail) read
with bare sqlcipher3 in batches, and as many bytes as the export wrote written to one file and fsynced: what any
export of this data must do at least.

Peak memory: each of the two run once more in a child process, its peak resident set size (``VmHWM``), so the
figure is the export's own and not this process's caches: it must stay bounded (not grow with the trail).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import ROOT, Figure, env_offscreen, paired, report

env_offscreen()

from dataset import DOCTOR, copy_of, trial  # noqa: E402

from msc_sle_crf.security.keyslots import KIND_USER, normalize_secret  # noqa: E402
from msc_sle_crf.services import Site, Workspace  # noqa: E402
from msc_sle_crf.store.db import connect_raw  # noqa: E402

READS = ("SELECT * FROM item_value", "SELECT * FROM form_instance", "SELECT * FROM subject",
         "SELECT * FROM audit_event ORDER BY id")


def floor_once(db: Path, key: bytes, salt: bytes, nbytes: int, out: Path) -> int:
    """The rows read with bare sqlcipher3, and ``nbytes`` written and fsynced."""
    conn = connect_raw(db, key, salt)
    rows = 0
    try:
        conn.execute("BEGIN")
        for sql in READS:
            cur = conn.execute(sql)
            while True:
                batch = cur.fetchmany(5000)
                if not batch:
                    break
                rows += len(batch)
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    block = b"x" * (1 << 20)
    with open(out, "wb") as fh:
        left = nbytes
        while left > 0:
            fh.write(block[:left])
            left -= len(block)
        fh.flush()
        os.fsync(fh.fileno())
    out.unlink()
    return rows


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


CHILD = r"""
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
mode, db, out, nbytes = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
from msc_sle_crf.services import Site, Workspace
site = Site.open(db)
ws = Workspace.sign_in(site, {user!r}, {password!r})
if mode == "export":
    ws.export.export(out)
else:
    sys.path.insert(0, {bench!r})
    from bench_export import floor_once
    key = site.store.key
    salt = site.store.salt
    floor_once(db, key, salt, nbytes, out)
site.close()
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


def child_peak_mb(mode: str, db: Path, out: Path, nbytes: int) -> float:
    code = CHILD.format(root=str(ROOT), user=DOCTOR[0], password=DOCTOR[1], bench=str(Path(__file__).parent))
    done = subprocess.run([sys.executable, "-c", code, mode, str(db), str(out), str(nbytes)], capture_output=True,
                          text=True, check=True)
    return int(done.stdout.split()[-1]) / 1024  # VmHWM, KiB: the child's own peak (ru_maxrss counts the parent's)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int)
    args = parser.parse_args()
    runs = args.runs or (2 if args.smoke else 3)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t = trial(20 if args.smoke else 500)
        db = copy_of(t, tmp)
        site = Site.open(db)
        ws = Workspace.sign_in(site, *DOCTOR)
        key = site.keyfile.unwrap(KIND_USER, DOCTOR[0], normalize_secret(DOCTOR[1]))
        assert key is not None
        salt = bytes.fromhex(site.keyfile.db_salt_hex)
        counter = [0]
        sizes: list[int] = []
        results = []

        def export() -> None:
            counter[0] += 1
            out = tmp / f"export-{counter[0]}"
            results.append(ws.export.export(out))
            sizes.append(folder_bytes(out))
            shutil.rmtree(out)

        export()  # the size the floor writes
        nbytes = sizes[-1]
        fig = paired(Figure(f"export of a {t.subjects}-subject trial with its {t.audit_records:,}-record trail",
                            target=3.0, path="Export.export(folder): ODM snapshot + archival (XSD-validated), "
                            "datasets, codebook, scripts, trail CSV, signed manifest",
                            floor_path=f"bare sqlcipher3 read of the same rows + {nbytes / 1e6:.0f} MB written and "
                            "fsynced"),
                     export, lambda: floor_once(db, key, salt, nbytes, tmp / "floor.bin"), runs, warmup=0)
        last = results[-1]
        site.close()
        memory = Figure(f"peak memory of the export ({t.audit_records:,} records), MB", target=None,
                        path="a child process: sign in + Export.export (VmHWM)",
                        floor_path="a child process: sign in + the floor's read and write (VmHWM)",
                        values=[child_peak_mb("export", db, tmp / "child-export", nbytes)],
                        floor=[child_peak_mb("floor", db, tmp / "child-floor.bin", nbytes)],
                        note="values in MB, not ms")
        fig.note = (f"{last.subjects} subjects, {last.audit_records:,} trail lines, {last.archival_records:,} ODM "
                    f"transactions, {len(last.files)} files, {nbytes / 1e6:.1f} MB")
    report("bench_export", [fig, memory], export_bytes=nbytes, audit_records=t.audit_records)


if __name__ == "__main__":
    main()
