"""Speed of the study's outcome tables and safety reviews. Prints figures; asserts nothing.

    python benchmarks/bench_outcomes.py            # 500 subjects
    python benchmarks/bench_outcomes.py --smoke    # 50 subjects, for CI

Targets (issue 17): every subject scored and the outcome tables of every visit built in <= 10 s for 500 subjects
(a phase I/II site has tens; it runs off the UI thread, the window shows "Computing..." meanwhile); then, while no
data change, another visit or a cohort's safety review in <= 0.5 s (the scored subjects are kept); the signed PDF of
the outcomes at one visit in <= 5 s; the CSV in <= 0.5 s.

The trials are those of ``dataset.py`` (the TRAINING database and copies of its fully followed subject, with their
audit trails). Ends with one JSON line (``harness.report``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from dataset import DOCTOR, copy_of, trial  # noqa: E402
from harness import Figure, timed_ms  # noqa: E402
from harness import report as bench_report  # noqa: E402

from msc_sle_crf.formdef import load_study  # noqa: E402
from msc_sle_crf.i18n import Lang  # noqa: E402
from msc_sle_crf.services import Site, Workspace  # noqa: E402
from msc_sle_crf.services.outcomes import Outcomes  # noqa: E402


def timed(fn, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    return [timed_ms(fn) for _ in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    count, runs = (20, 2) if args.smoke else (500, 3)
    study = load_study()
    with tempfile.TemporaryDirectory() as tmp:
        site = Site.open(copy_of(trial(count), Path(tmp)))
        ws = Workspace.sign_in(site, *DOCTOR, study=study)
        def fresh() -> Outcomes:  # nothing kept from a previous computation
            return Outcomes(ws.ctx, ws.study, ws.overview, ws.printing, ws.settings)

        tracemalloc.start()
        report = fresh().report()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        every = timed(lambda: fresh().report(), runs)
        print(f"outcome tables, every visit, {count} subjects, computed: median {statistics.median(every):.0f} ms "
              f"(target <= 10000 ms); peak memory {peak / 2**20:.0f} MiB; {len(report.tables)} tables")
        outcomes = ws.outcomes
        outcomes.report()
        switch = timed(lambda: outcomes.report("M6"), runs)
        safety = timed(lambda: outcomes.safety_review("1"), runs)
        print(f"then another visit: median {statistics.median(switch):.0f} ms; a cohort's safety review: median "
              f"{statistics.median(safety):.0f} ms (target <= 500 ms)")
        m6 = outcomes.report("M6")
        pdf = timed(lambda: outcomes.pdf(m6, lang=Lang.EN), runs)
        print(f"signed PDF of the outcomes at M6: median {statistics.median(pdf):.0f} ms (target <= 5000 ms)")
        csv = timed(lambda: outcomes.csv(report, Lang.EN), runs)
        print(f"CSV of every visit: median {statistics.median(csv):.0f} ms (target <= 500 ms)")
        start = time.perf_counter()
        site.close()
        print(f"closed in {(time.perf_counter() - start) * 1000:.0f} ms")
    bench_report("bench_outcomes", [
        Figure(f"outcome tables, every visit, {count} subjects", target_ms=10000, values=every),
        Figure("another visit's outcome tables", target_ms=500, values=switch),
        Figure("a cohort's safety review", target_ms=500, values=safety),
        Figure("signed PDF of the outcomes at M6", target_ms=5000, values=pdf),
        Figure("CSV of every visit", target_ms=500, values=csv)])


if __name__ == "__main__":
    main()
