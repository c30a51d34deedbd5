"""``msc-sle-crf demo``: the TRAINING database made from nothing (issue 13, item 7).

    python benchmarks/bench_demo.py            # 5 runs
    python benchmarks/bench_demo.py --smoke    # 1 run, for CI

Path timed: the whole process ``python -m msc_sle_crf demo --db NEW`` (key derivation tuned to this machine, as a
user gets it): site, accounts, the demo subjects entered through the service layer, the signing certificate.
Target: <= 3 s. No physical floor; the process start alone (``python -m msc_sle_crf --version``) is reported beside.
As installed (a wheel, the bundle): the package's bytecode is compiled first (a checkout run with
PYTHONDONTWRITEBYTECODE=1 would otherwise compile ~140 modules in every run, ~0.3-0.8 s), as bench_startup does.
"""

from __future__ import annotations

import argparse
import compileall
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import ROOT, Figure, env_offscreen, paired, report

env_offscreen()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int)
    args = parser.parse_args()
    runs = args.runs or (1 if args.smoke else 5)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    compileall.compile_dir(str(ROOT / "msc_sle_crf"), quiet=1)  # as installed (see the docstring)
    with tempfile.TemporaryDirectory() as tmp:
        count = [0]
        last: list[str] = []

        def demo() -> None:
            count[0] += 1
            proc = subprocess.run([sys.executable, "-m", "msc_sle_crf", "demo", "--db",
                                   str(Path(tmp) / f"demo{count[0]}.crfdb")], capture_output=True, text=True,
                                  cwd=ROOT, env=env, check=True, timeout=600)
            last[:] = [proc.stdout, proc.stderr]

        def start() -> None:
            subprocess.run([sys.executable, "-m", "msc_sle_crf", "--version"], capture_output=True, cwd=ROOT,
                           env=env, check=True)

        fig = paired(Figure("msc-sle-crf demo, whole process", target_ms=3000,
                            path="python -m msc_sle_crf demo --db NEW (tuned key derivation)",
                            floor_path="python -m msc_sle_crf --version (process start, for reference)"),
                     demo, start, runs, warmup=0)
        fig.target = None  # the start-up is a reference, not a floor: only the 3 s target counts
        progress = [ln for ln in last[1].replace("\r", "\n").splitlines() if ln.strip()]
        fig.note = f"progress lines on stderr: {len(progress)}; last: {progress[-1] if progress else '(none)'}"
    report("bench_demo", [fig])


if __name__ == "__main__":
    main()
