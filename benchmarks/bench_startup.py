"""Process start to the sign-in window, as two whole processes paired (issue 13, item 5).

    python benchmarks/bench_startup.py            # 15 pairs
    python benchmarks/bench_startup.py --smoke    # 3 pairs, for CI

Path timed: the real entry point, ``python -m msc_sle_crf run --db DB`` (what the ``msc-sle-crf`` command runs), from
the moment the process is started until its sign-in window has painted once (``MSC_SLE_CRF_EXIT_AFTER_PAINT`` makes
it end right then: ``ui/app.py exit_after_first_paint``). Floor, interleaved (A B A B): a bare PySide6 process that
shows one window, ended the same way. Both offscreen. Target: ratio <= 1.5.
"""

from __future__ import annotations

import argparse
import compileall
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import ROOT, Figure, env_offscreen, paired, report

env_offscreen()

from dataset import copy_of, trial  # noqa: E402

BARE = """
import os, sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication(sys.argv)
window = QLabel("Sign in")
window.resize(900, 640)
class FirstPaint(QObject):
    def eventFilter(self, _obj, event):
        if event.type() == QEvent.Type.Paint:
            QTimer.singleShot(0, lambda: (print("painted", flush=True), os._exit(0)))
        return False
hook = FirstPaint(window)
window.installEventFilter(hook)
window.show()
app.exec()
"""


def run(cmd: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=False, timeout=120)
    if "painted" not in proc.stdout:
        raise SystemExit(f"{cmd[:4]} did not show its window: {proc.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int)
    args = parser.parse_args()
    runs = args.runs or (3 if args.smoke else 15)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MSC_SLE_CRF_EXIT_AFTER_PAINT": "1"}
    # As installed (a wheel, the bundle): the package's bytecode is there (a checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would otherwise compile ~20 modules at every start, ~25 ms).
    compileall.compile_dir(str(ROOT / "msc_sle_crf"), quiet=1)
    with tempfile.TemporaryDirectory() as tmp_name:
        db = copy_of(trial(20), Path(tmp_name))
        fig = Figure("process start -> sign-in window painted", target=1.5,
                     path=f"{Path(sys.executable).name} -m msc_sle_crf run --db DB (whole process, until the sign-in "
                          "window's first paint)",
                     floor_path="a bare PySide6 process showing one window (whole process, until its first paint)")
        started = time.perf_counter()
        paired(fig, lambda: run([sys.executable, "-m", "msc_sle_crf", "run", "--db", str(db)], env),
               lambda: run([sys.executable, "-c", BARE], env), runs, warmup=1)
        fig.note = f"{runs} pairs in {time.perf_counter() - started:.0f} s"
    report("bench_startup", [fig])


if __name__ == "__main__":
    main()
