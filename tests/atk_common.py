"""Shared set-up of the insider attack tests (issue 18, part A: tests/test_atk_*.py). The insider holds WS-02's
database and one account's password (nurse.n): she runs the program's own services with any permission check forced
open, writes raw SQL into her copy, then exports a packet. Real files throughout: WS-02 opened from its real
workstation file, packets written and read back, ``verify`` run on the databases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from msc_sle_crf import audit
from msc_sle_crf.audit import AuditEntry
from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import CrfError
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.sync.service import Packets
from msc_sle_crf.sync.workstations import Workstations, open_fork

from .conftest import ADMIN_PW, make_user

DOCTOR_PW = "pw-house.rd-2026"
NURSE_PW = "pw-n.esrun-2026"
MONITOR_PW = "pw-m.nom-2026"
PASSWORDS = {"dr.house": DOCTOR_PW, "nurse.n": NURSE_PW, "mon.m": MONITOR_PW, "admin": ADMIN_PW}


def as_user(site: Site, user: str) -> Workspace:
    return Workspace.sign_in(site, user, PASSWORDS[user])


def forced(site: Site, user: str) -> Workspace:
    """The attacker's workspace: the program's own services with every permission check answered yes."""
    ws = as_user(site, user)
    ws.ctx.can = lambda _perm: True  # type: ignore[method-assign]
    return ws


def export(site: Site, out: Path) -> Path:
    ws = as_user(site, "dr.house")
    result = Packets(ws.ctx, ws.study).export(out)
    assert result is not None
    return result.path


def import_line(site: Site, path: Path) -> str:
    ws = as_user(site, "dr.house")
    return Packets(ws.ctx, ws.study).import_file(path).line().get()


def refusal(site: Site, path: Path) -> str:
    ws = as_user(site, "dr.house")
    with pytest.raises(CrfError) as caught:
        Packets(ws.ctx, ws.study).import_file(path)
    line = str(caught.value)
    assert "\n" not in line and "Traceback" not in line
    return line


def verify_report(site: Site) -> Any:
    return as_user(site, "admin").integrity.verify()


def problems(site: Site) -> list[str]:
    """What verify says is wrong: the trail's own problem (if any), then the data the trail does not explain."""
    report = verify_report(site)
    out = [] if report.audit.ok else [str(report.audit.problem)]
    return out + [u.line() for u in report.unexplained]


def forge(site: Site, user: str, entries: list[AuditEntry], sql: list[str]) -> None:
    """Records signed as ``user`` (her own key) plus raw SQL, in one transaction."""
    ws = as_user(site, user)
    ctx = ws.ctx
    with ctx.store.write() as s:
        for q in sql:
            s.execute(text(q))
        audit.append_many(s, ctx.clock, ctx.site.workstation, entries, site.signer(user))


def sql(site: Site, statements: list[str]) -> None:
    """Raw SQL into the copy, with no audit record."""
    with as_user(site, "admin").ctx.store.write() as s:
        for q in statements:
            s.execute(text(q))


def scalar(site: Site, query: str) -> Any:
    with as_user(site, "admin").ctx.read() as session:
        return session.execute(text(query)).scalar()


def count(site: Site, table: str, where: str = "1=1") -> int:
    return int(scalar(site, f"select count(*) from {table} where {where}"))


@contextmanager
def unchanged(site: Site, *tables: str) -> Iterator[None]:
    """Nothing in these tables (and no record) changed while the block ran (an import refused whole)."""
    def snapshot() -> list[Any]:
        with as_user(site, "admin").ctx.read() as session:
            return [session.execute(text(f"select * from {t} order by 1")).fetchall()
                    for t in tables]
    before = snapshot()
    head = scalar(site, "select count(*) from audit_event where action not in ('login', 'logout', "
                        "'access_denied', 'login_failed')")
    yield
    assert snapshot() == before
    assert scalar(site, "select count(*) from audit_event where action not in ('login', 'logout', "
                        "'access_denied', 'login_failed')") == head


def two_sites(tmp_path: Path, site: Site, admin: Workspace, clock: FakeClock) -> tuple[Site, Site]:
    """WS-01 (subject 01-001 registered there) and WS-02 opened from its real workstation file; the accounts
    dr.house (investigator), nurse.n (nurse) and mon.m (monitor) exist on both."""
    make_user(admin, "dr.house", "investigator", DOCTOR_PW)
    make_user(admin, "nurse.n", "nurse", NURSE_PW)
    make_user(admin, "mon.m", "monitor", MONITOR_PW)
    as_user(site, "dr.house").subjects.register("ABC", 1980, "F")
    added = Workstations(admin.ctx).add(admin, tmp_path / "WS-02.crfws")
    opened = open_fork(added.path, tmp_path / "ws2" / "ws2.crfdb", "admin", ADMIN_PW, clock=clock)
    return site, Site.open(opened.db_path, clock=clock)


def hub_refusal(hub_db: Any, ws1: Site, packet: Path, tmp_path: Path, clock: FakeClock,
                monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """A hub made from WS-01 (``hub init``) ingests the packet with ``hub ingest`` (the command): its refusal line.
    The hub's ``verify`` stays clean (nothing applied)."""
    import io

    from msc_sle_crf.cli import main
    from msc_sle_crf.hub.init import init_hub
    from msc_sle_crf.hub.verify import verify_hub

    from .hub_pg import APP_ROLE

    hub_dir = tmp_path / "hub"
    init_hub(hub_db.owner_dsn(), ws1.db_path, "admin", ADMIN_PW, hub_dir, APP_ROLE, clock=clock)
    monkeypatch.setenv("PGPASSWORD", hub_db.cluster.app_password)
    monkeypatch.setattr("sys.stdin", io.StringIO(ADMIN_PW + "\n"))
    capsys.readouterr()
    code = main(["hub", "ingest", "--dsn", hub_db.app_dsn_no_password(), "--keys", str(hub_dir / "hub.keys"),
                 "--user", "admin", "--password-stdin", str(packet)])
    _out, err = capsys.readouterr()
    assert code != 0, err
    report = verify_hub(hub_db.app_dsn(), hub_dir / "hub.keys")
    assert report.ok, (report.audit.problem, report.unexplained)
    return err.strip()
