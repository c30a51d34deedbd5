"""Cost of recording the trail head outside the WAL (issue 15, item 8). Prints figures; asserts nothing.

    python benchmarks/bench_trail_head.py [--saves N]

Three runs of N audited saves (one subject registration each) on a fresh site: the head never written during the
run (the cost of the write itself), written after every save (interval 0), and the default (at most every
HEAD_INTERVAL_SECONDS). The difference per save is the price of the detection.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import Figure, report  # noqa: E402

from msc_sle_crf.security.keyslots import KdfParams  # noqa: E402
from msc_sle_crf.services import Site, Workspace  # noqa: E402
from msc_sle_crf.store.site import HEAD_INTERVAL_SECONDS  # noqa: E402

FAST = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)
PW = "bench-password-1"


def run(interval: float, saves: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.crfdb"
        site, _admin, _code = Site.initialize(db, admin_username="admin", admin_full_name="Admin",
                                              admin_password=PW, kdf=FAST)
        admin = Workspace.sign_in(site, "admin", PW)
        admin.accounts.add_user("dr.bench", "Dr Bench", "investigator", initial_password=PW,
                                must_change_password=False)
        doctor = Workspace.sign_in(site, "dr.bench", PW)
        site.head_interval = interval
        times = []
        for i in range(saves):
            start = time.perf_counter()
            doctor.subjects.register("ABC", 1950 + i % 50, "F")
            times.append(time.perf_counter() - start)
        site.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    configs = (("never during the run", 1e9), ("after every save", 0.0),
               (f"default (every {HEAD_INTERVAL_SECONDS:g} s)", HEAD_INTERVAL_SECONDS))
    medians: dict[str, list[float]] = {label: [] for label, _ in configs}
    for _round in range(args.rounds):  # interleaved rounds: the machine's load drifts; the best median is kept
        for label, interval in configs:
            medians[label].append(statistics.median(run(interval, args.saves)) * 1000)
    base = min(medians["never during the run"])
    for label, values in medians.items():
        print(f"{label:<28} best median {min(values):.2f} ms/save (rounds: "
              f"{', '.join(f'{v:.2f}' for v in values)}); cost {min(values) - base:+.2f} ms/save")
    report("bench_trail_head", [Figure(f"subject registration, head {label}", values=values,
                                       floor=medians["never during the run"]) for label, values in medians.items()])


if __name__ == "__main__":
    main()
