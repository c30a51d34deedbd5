"""Two workstations of one site for the packet tests (issue 18): A made with three users and two subjects with a
lab value each, B forked from it as workstation 2. Shared by the packet, screen and hub tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.sync import packets as P
from msc_sle_crf.sync.service import Packets
from tests.conftest import ADMIN_PW, FAST_KDF, make_user

from .workstations import fork

R1 = FormRef("01-001", "SCR", "renal_function")
R2 = FormRef("01-002", "SCR", "renal_function")
CREAT = ("lb", 0, "CREAT")
LBDAT = ("lb", 0, "LBDAT")
PROTU = ("lb", 0, "PROTU")
PW = {"dr.a": "quartz-meadow-71-dr", "nurse.n": "violet-harbor-53-nn", "monitor.m": "copper-lantern-88-mm"}


@dataclass
class Pair:
    a_db: Path
    b_db: Path
    clock: FakeClock
    outbox: Path
    code: str | None = None  # the one-time code of the packet secret's last renewal (a disable, a rotation)

    def open(self, which: str, user: str = "dr.a") -> tuple[Site, Workspace]:
        site = Site.open(self.a_db if which == "A" else self.b_db, clock=self.clock)
        return site, Workspace.sign_in(site, user, ADMIN_PW if user == "admin" else PW[user])

    def export(self, which: str, user: str = "dr.a") -> Path | None:
        site, ws = self.open(which, user)
        with site:
            result = Packets(ws.ctx, ws.study).export(self.outbox / which)
        return result.path if result else None

    def import_(self, which: str, path: Path, user: str = "dr.a") -> P.ImportResult:
        site, ws = self.open(which, user)
        with site:
            return Packets(ws.ctx, ws.study).import_file(path, code=self.code).result

    def exchange(self, order: str) -> tuple[P.ImportResult, P.ImportResult]:
        """Both ways, in ``order`` ("A->B ..." or "B->A ..."): the first exports and the second applies it, then
        back. The two import results."""
        first, second = ("A", "B") if order.startswith("A") else ("B", "A")
        p1 = self.export(first)
        assert p1 is not None
        r1 = self.import_(second, p1)
        p2 = self.export(second)
        assert p2 is not None
        return r1, self.import_(first, p2)


def make_pair(tmp_path: Path) -> Pair:
    clock = FakeClock()
    a_db = tmp_path / "a" / "trial.crfdb"
    site, admin_actor, _code = Site.initialize(a_db, admin_username="admin", admin_full_name="Ada Admin",
                                               admin_password=ADMIN_PW, kdf=FAST_KDF, clock=clock)
    with site:
        admin = Workspace(site, admin_actor)
        for name, role in (("dr.a", "investigator"), ("nurse.n", "nurse"), ("monitor.m", "monitor")):
            make_user(admin, name, role, PW[name])
        doctor = Workspace.sign_in(site, "dr.a", PW["dr.a"])
        doctor.subjects.register("ABC", 1980, "F")
        doctor.subjects.register("DEF", 1975, "M")
        for ref in (R1, R2):
            doctor.entry.save_values(ref, {LBDAT: "20/11/2026", CREAT: "88"})
    b_db = tmp_path / "b" / "trial.crfdb"
    fork(a_db, b_db, 2, "admin", ADMIN_PW, clock)
    return Pair(a_db, b_db, clock, tmp_path / "outbox")
