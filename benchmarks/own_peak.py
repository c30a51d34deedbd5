"""Run ``python -m MODULE ARGS...`` and write this process's own peak resident memory (MB) to the file named by
``BENCH_PEAK_FILE`` when it exits:

    python benchmarks/own_peak.py -m msc_sle_crf hub ingest ...

Why not the parent's ``wait4``/``RUSAGE_CHILDREN`` ``ru_maxrss``: on Linux a child's ``ru_maxrss`` starts from the
high-water mark of the memory it was forked (vfork'd) from, so it reports at least the parent's own peak (a
benchmark holding a 256 MB packet and its floor's work). ``VmHWM`` in ``/proc/self/status`` belongs to the memory
the program was exec'd into: this process's own peak, start-up included."""

from __future__ import annotations

import atexit
import os
import resource
import runpy
import sys


def own_peak_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # elsewhere: the best there is


def _write() -> None:
    target = os.environ.get("BENCH_PEAK_FILE")
    if target:
        with open(target, "w", encoding="ascii") as out:
            out.write(f"{own_peak_mb():.1f}\n")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "-m":
        raise SystemExit("usage: own_peak.py -m MODULE [ARGS...]")
    atexit.register(_write)
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    sys.path[0] = os.getcwd()  # as ``python -m`` would (not this script's folder)
    runpy.run_module(module, run_name="__main__", alter_sys=True)
