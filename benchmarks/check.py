"""Read the benchmarks' JSON lines (``BENCH {...}``) and print every figure against its target.

    python benchmarks/bench_save.py | python benchmarks/check.py              # a table of figures
    python benchmarks/check.py out/*.log --strict                              # exit 1 if a target is missed

CI runs the smoke mode and prints this table without failing on targets (shared machines: figures are read by
people; ``--strict`` is for a quiet machine).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def figures(lines: list[str]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for line in lines:
        if line.startswith("BENCH "):
            data = json.loads(line[len("BENCH "):])
            out += [(str(data["benchmark"]), f) for f in data["figures"]]
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="*", help="benchmark outputs (default: standard input)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a figure misses its target")
    args = parser.parse_args()
    lines = [ln for f in args.files for ln in Path(f).read_text().splitlines()] if args.files \
        else sys.stdin.read().splitlines()
    found = figures(lines)
    missed = 0
    for bench, f in found:
        value = f"{f['value']:.2f} ms" if f.get("value") is not None else "-"
        floor = f"{f['floor']:.2f} ms" if f.get("floor") is not None else "-"
        ratio = f"{f['ratio']:.2f}" if f.get("ratio") is not None else "-"
        target = " ".join(t for t in ((f"ratio<={f['target']:g}" if f.get("target") is not None else ""),
                                      (f"<={f['target_ms']:g} ms" if f.get("target_ms") is not None else "")) if t)
        met = {True: "met", False: "MISSED", None: ""}[f.get("met")]
        missed += f.get("met") is False
        print(f"{bench:<15} {f['name'][:70]:<70} {value:>11} {floor:>11} {ratio:>6} {target:<22} {met}")
    if not found:
        print("no BENCH lines found", file=sys.stderr)
        return 2
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
