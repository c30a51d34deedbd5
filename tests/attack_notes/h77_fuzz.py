"""h77: random exchanges between two or three workstations (genuine packets, honest users), to find where the merge
and the replay disagree. Not a test (slow, random); run by hand from the repository root:

    PYTHONPATH=. QT_QPA_PLATFORM=offscreen WS=AB KINDS=value python tests/attack_notes/h77_fuzz.py 100 130 20

WS: the workstations (AB or ABC); KINDS: comma-separated among value, complete, sdv, open, answer, close, reopen;
arguments: first seed, last seed (excluded), steps per seed. Each seed: random saves, exports and deliveries (each
receiver takes a workstation's packets in order), then everything to everyone until nothing is new; it prints OK,
DIFF (values, conflicts, form states or queries differ, or a verify is not clean; with the log) or EXC (a genuine
packet refused; with the log)."""

from __future__ import annotations

import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import text

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.sync.service import Packets
from tests.conftest import ADMIN_PW
from tests.helpers.packets import CREAT, PROTU, PW, R1, R2, make_pair
from tests.helpers.workstations import fork

WS = os.environ.get("WS", "ABC")
KINDS = os.environ.get("KINDS", "value").split(",")
MONITOR = {"sdv", "open", "close", "reopen"}
STATE_SQL = ("select instance_id, group_id, row_no, item_id, value from item_value",
             "select id, status, kept, other from item_conflict", "select id, status from data_query",
             "select id, status from form_instance")


class Run:
    def __init__(self, seed: int, base: Path) -> None:
        self.rnd = random.Random(seed)
        tmp = base / f"s{seed}"
        pair = make_pair(tmp)
        self.dbs = {"A": pair.a_db, "B": pair.b_db}
        if "C" in WS:
            self.dbs["C"] = tmp / "c" / "trial.crfdb"
            fork(pair.a_db, self.dbs["C"], 3, "admin", ADMIN_PW, pair.clock)
        self.clock, self.out = pair.clock, tmp / "out"
        self.sent: dict[str, list[Path]] = {w: [] for w in WS}
        self.got: dict[tuple[str, str], int] = {}
        self.log: list[str] = []

    def open(self, w: str, user: str = "dr.a") -> tuple[Site, Workspace]:
        site = Site.open(self.dbs[w], clock=self.clock)
        return site, Workspace.sign_in(site, user, ADMIN_PW if user == "admin" else PW[user])

    def export(self, w: str) -> None:
        site, ws = self.open(w)
        with site:
            result = Packets(ws.ctx, ws.study).export(self.out / w)
        if result:
            self.sent[w].append(result.path)
            self.log.append(f"export {w} -> {result.path.name}")

    def deliver(self, src: str, dst: str) -> None:
        while self.got.get((src, dst), 0) < len(self.sent[src]):
            path = self.sent[src][self.got.get((src, dst), 0)]
            site, ws = self.open(dst)
            with site:
                try:
                    res = Packets(ws.ctx, ws.study).import_file(path).result
                except Exception as exc:
                    self.log.append(f"REFUSED {path.name} on {dst}: {exc}")
                    raise
            self.log.append(f"import {path.name} on {dst}: conflicts={res.conflicts}")
            self.got[(src, dst)] = self.got.get((src, dst), 0) + 1

    def act(self, w: str) -> None:
        kind = self.rnd.choice(KINDS)
        site, ws = self.open(w, "monitor.m" if kind in MONITOR else "dr.a")
        with site:
            self.clock.advance(self.rnd.choice([1, 30, 60]))
            try:
                self._act(ws, kind)
                self.log.append(f"{kind} on {w}")
            except Exception as exc:
                self.log.append(f"{kind} on {w} failed: {str(exc)[:80]}")

    def _act(self, ws: Workspace, kind: str) -> None:
        if kind == "value":
            ref, key = self.rnd.choice([(R1, CREAT), (R1, PROTU), (R2, CREAT)])
            ws.entry.save_item(ref, key, self.rnd.choice(["90", "91", "92", "93"] if key == CREAT
                                                          else ["0.5", "0.6", "0.7"]), reason="fuzz")
        elif kind == "complete":
            ws.entry.mark_complete(R1)
        elif kind == "sdv":
            ws.lifecycle.source_verify(R1)
        elif kind == "open":
            ws.monitoring.open_query(R1, CREAT, "check please")
        else:
            queries = ws.monitoring.queries(R1)
            if not queries:
                raise RuntimeError("no query")
            qid = self.rnd.choice(queries).id
            if kind == "answer":
                ws.monitoring.answer(qid, "answer")
            elif kind == "close":
                ws.monitoring.close(qid, "ok")
            else:
                ws.monitoring.reopen(qid, "again")

    def run(self, steps: int) -> bool:
        self.export("A")
        for w in WS[1:]:
            self.deliver("A", w)
        for _step in range(steps):
            k, w = self.rnd.random(), self.rnd.choice(WS)
            if k < 0.4:
                self.act(w)
            elif k < 0.7:
                self.export(w)
            else:
                self.deliver(self.rnd.choice([x for x in WS if x != w]), w)
        for _round in range(6):
            for w in WS:
                self.export(w)
            for src in WS:
                for dst in WS:
                    if src != dst:
                        self.deliver(src, dst)
        states = {w: self.state(w) for w in WS}
        return all(s == states["A"] and s[-1] == (True, []) for s in states.values())

    def state(self, w: str) -> tuple[Any, ...]:
        site, ws = self.open(w, "admin")
        with site:
            with ws.ctx.read() as session:
                rows = tuple(sorted(session.execute(text(sql)).all()) for sql in STATE_SQL)
            report = ws.integrity.verify(full=True)
        return (*rows, (report.audit.ok, [u.line() for u in report.unexplained]))


def main() -> None:
    first, last = int(sys.argv[1]), int(sys.argv[2])
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    base = Path(tempfile.mkdtemp(prefix="h77-fuzz-"))
    for seed in range(first, last):
        job = Run(seed, base)
        try:
            ok = job.run(steps)
        except Exception as exc:
            print(f"SEED {seed} EXC {exc}", *job.log, sep="\n", flush=True)
            continue
        print(f"SEED {seed} {'OK' if ok else 'DIFF'}", *([] if ok else job.log), sep="\n", flush=True)


if __name__ == "__main__":
    main()
