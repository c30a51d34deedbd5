"""What every benchmark shares: the measured path and its physical floor timed in the same run, interleaved
(A B A B, so that the machine's changing load falls on both alike), reported as median, p95 and the ratio of the
medians, and one JSON line at the end that a script can check (``benchmarks/check.py``).

    fig = Figure("save, labs form", target=3.0)   # target: the highest acceptable ratio (or None)
    paired(fig, lambda: path(), lambda: floor(), runs=200)
    report("bench_save", [fig])                   # prints the table and the JSON line

A figure without a floor (a casebook has no physical peer) gives ``target_ms`` instead: its value is compared
with that time.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Figure:
    """One measured path (``values``, ms) and its floor (``floor``, ms) from the same run."""

    name: str
    target: float | None = None  # the highest acceptable ratio value / floor
    target_ms: float | None = None  # or: the highest acceptable median, in ms (no floor)
    path: str = ""  # which code path was timed
    floor_path: str = ""
    values: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def floor_median(self) -> float | None:
        return statistics.median(self.floor) if self.floor else None

    @property
    def ratio(self) -> float | None:
        floor = self.floor_median
        return self.median / floor if floor else None

    @property
    def met(self) -> bool | None:
        ok: bool | None = None
        if self.target is not None and self.ratio is not None:
            ok = self.ratio <= self.target
        if self.target_ms is not None:
            ok = (ok is not False) and self.median <= self.target_ms
        return ok

    def as_json(self) -> dict[str, Any]:
        def r(x: float | None, n: int = 3) -> float | None:
            return None if x is None else round(x, n)

        return {"name": self.name, "value": r(self.median), "p95": r(pct(self.values, 0.95)) if self.values else None,
                "floor": r(self.floor_median), "floor_p95": r(pct(self.floor, 0.95)) if self.floor else None,
                "ratio": r(self.ratio, 2), "target": self.target, "target_ms": self.target_ms, "met": self.met,
                "n": len(self.values), "unit": "ms", "path": self.path, "floor_path": self.floor_path,
                "note": self.note}


def timed_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def paired(fig: Figure, path: Callable[[], object], floor: Callable[[], object] | None, runs: int, *,
           warmup: int = 2, between: Callable[[], object] | None = None,
           gap: Callable[[], object] | None = None) -> Figure:
    """A B A B: the path and its floor alternately, ``runs`` times each (after ``warmup`` untimed pairs).
    ``between`` runs untimed after each pair (to let timers fire, reset state...); ``gap`` runs untimed after
    each timed call, A and B alike (an idle pause: neither runs with the other's warm caches)."""
    for _ in range(warmup):
        path()
        if floor is not None:
            floor()
        if between is not None:
            between()
    for _ in range(runs):
        fig.values.append(timed_ms(path))
        if gap is not None:
            gap()
        if floor is not None:
            fig.floor.append(timed_ms(floor))
            if gap is not None:
                gap()
        if between is not None:
            between()
    return fig


def line(fig: Figure) -> str:
    parts = [f"{fig.name}: median {fig.median:.2f} ms, p95 {pct(fig.values, 0.95):.2f} ms"]
    if fig.floor:
        assert fig.floor_median is not None
        parts.append(f"floor median {fig.floor_median:.2f} ms (p95 {pct(fig.floor, 0.95):.2f})")
        parts.append(f"ratio {fig.ratio:.2f}" + (f" (target <= {fig.target:g})" if fig.target is not None else ""))
    if fig.target_ms is not None:
        parts.append(f"target <= {fig.target_ms:g} ms")
    met = fig.met
    if met is not None:
        parts.append("MET" if met else "MISSED")
    text = "; ".join(parts) + f"  [n={len(fig.values)}]"
    if fig.path:
        text += f"\n    path: {fig.path}"
    if fig.floor_path:
        text += f"\n    floor: {fig.floor_path}"
    if fig.note:
        text += f"\n    note: {fig.note}"
    return text


def report(benchmark: str, figures: list[Figure], **extra: Any) -> None:
    """Print each figure, then the one JSON line of this benchmark (always the last line of its output)."""
    for fig in figures:
        print(line(fig))
    payload = {"benchmark": benchmark, "machine": machine(), "figures": [f.as_json() for f in figures], **extra}
    print("BENCH " + json.dumps(payload, ensure_ascii=False, sort_keys=True), flush=True)


def machine() -> dict[str, Any]:
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {"cores": os.cpu_count(), "python": sys.version.split()[0], "load1": load}


def env_offscreen() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def quiet_qt() -> None:
    """The offscreen platform warns at every window shown ("does not support propagateSizeHints"): not news."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_mode: object, _context: object, message: str) -> None:
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)
