"""Forking a second workstation of a site for the packet tests (issue 18).

Until ``msc-sle-crf workstation add`` (branch ws18) is on main, a test makes a workstation the way the design says
the command does: a copy of the whole closed database and its key file (same accounts, keys, db_id and trail), then
on the copy, as its first own records, the identity settings (audited by an administrator). Swap ``fork`` for the
real command when it lands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqlalchemy import select, text

from msc_sle_crf.audit import Action
from msc_sle_crf.clock import Clock
from msc_sle_crf.security.keyslots import KeySlotFile
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.store import head
from msc_sle_crf.store.tables import AuditEvent, SiteSetting
from msc_sle_crf.sync.identity import ID_BLOCK, default_subjects, ws_id

# tables whose rows the workstation engineer's id hook puts in the workstation's block (AUTOINCREMENT ones here)
_AUTOINCREMENT = ("signature", "query_message", "item_verification", "infusion_event")


def fork(src_db: Path, dest_db: Path, number: int, admin: str, password: str, clock: Clock) -> None:
    """``src_db`` must be closed. Writes ``dest_db`` (and its key file) as workstation ``number``: with the real
    ``workstation add`` / open when it is there (branch ws18), else as a copy (below)."""
    try:
        from msc_sle_crf.sync.workstations import Workstations, open_fork  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        _copy_fork(src_db, dest_db, number, admin, password, clock)
        return
    dest_db.parent.mkdir(parents=True, exist_ok=True)
    with Site.open(src_db, clock=clock) as site:
        services = Workspace.sign_in(site, admin, password)
        added = Workstations(services.ctx).add(services, dest_db.parent / f"ws{number}.crfws", number=number)
    open_fork(added.path, dest_db, admin, password, clock=clock)


def _copy_fork(src_db: Path, dest_db: Path, number: int, admin: str, password: str, clock: Clock) -> None:
    dest_db.parent.mkdir(parents=True, exist_ok=True)
    low, high = default_subjects(number)
    with Site.open(src_db, clock=clock) as origin:  # the origin's workstation_add record, as the first version wrote
        services = Workspace.sign_in(origin, admin, password)
        value = {"ws": ws_id(number), "number": number, "subject_range": f"{low:03d}-{high:03d}", "from": "WS-01"}
        with services.ctx.write(data=False) as tx:
            tx.audit(Action.WORKSTATION_ADD, item=ws_id(number), new_value=json.dumps(value, sort_keys=True),
                     detail=f"{ws_id(number)} forked from WS-01 (test copy)")
    shutil.copyfile(src_db, dest_db)
    shutil.copyfile(KeySlotFile.path_for(src_db), KeySlotFile.path_for(dest_db))
    site = Site.open(dest_db, clock=clock)
    try:
        fork_head = head.read(src_db, site.keyfile.db_id)  # the origin's last record (written at its close)
        assert fork_head is not None
        ws = Workspace.sign_in(site, admin, password)
        ctx = ws.ctx
        with ctx.read() as session:
            last = session.execute(select(AuditEvent.id, AuditEvent.hash)
                                   .where(AuditEvent.id == fork_head.record_id)).one()
        low, high = default_subjects(number)
        settings = {"workstation_id": ws_id(number), "workstation_number": str(number),
                    "subject_range": f"{low:03d}-{high:03d}",
                    "workstation_fork": json.dumps({"ws": "WS-01", "id": last[0], "hash": last[1]}, sort_keys=True)}
        with ctx.write(data=False) as tx:
            for key, value in settings.items():
                tx.session.add(SiteSetting(key=key, value=value, updated_utc=ctx.now()))
                tx.audit(Action.SETTING_CHANGE, item=key, new_value=value, detail="workstation identity (fork)")
            for table in _AUTOINCREMENT:  # the id hook of ws18, for the tables it can be emulated on
                tx.session.execute(text("UPDATE sqlite_sequence SET seq = :seq WHERE name = :name"),
                                   {"seq": (number - 1) * ID_BLOCK, "name": table})
                tx.session.execute(text("INSERT INTO sqlite_sequence (name, seq) SELECT :name, :seq WHERE NOT "
                                        "EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = :name)"),
                                   {"seq": (number - 1) * ID_BLOCK, "name": table})
    finally:
        site.close()
