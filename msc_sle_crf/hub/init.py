"""``hub init``: a new hub made from a site database (docs/workstations.md, "The hub").

1. The DSN is checked (TLS with verification) and the hub must be empty; the site's administrator signs in to the
   site, whose whole trail must verify before anything leaves it.
2. The site records, signed by that administrator, that its data went to the hub (an ``export`` record); then the
   hub's schema is made by the migrations (as the owner role given in the DSN; the application role is granted its
   part), and every row of every table and the whole audit trail are copied in one transaction, ids kept.
3. On the hub, as its own first records (signed by the administrator): the settings that make it the workstation
   ``HUB`` (number 99: rows it ever creates get ids in its own block), and where it began (``workstation_fork``).
4. The copy is verified on the hub (chain and every signature), then the hub's key file (the site's key slots: the
   same accounts open it with the same passwords; its anchor is the hub's last record) and a small config (where the
   hub is, without any password) are written in a new folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, func, select, text

from msc_sle_crf import audit
from msc_sle_crf.audit import Action, AuditEntry
from msc_sle_crf.clock import Clock, SystemClock, iso_utc
from msc_sle_crf.errors import Msg, StoreError
from msc_sle_crf.hub import schema
from msc_sle_crf.hub.store import HubError, HubStore
from msc_sle_crf.i18n import L

HUB_WS = "HUB"
HUB_NUMBER = 99
CONFIG_FORMAT = "msc-sle-crf-hub"
CONFIG_NAME = "hub.json"
KEYS_NAME = "hub.keys"
# what the hub's config keeps of the DSN: where the server is and how it is checked, never who or with what secret
_KEPT = ("host", "hostaddr", "port", "dbname", "sslmode", "sslrootcert")
BATCH = 2000


@dataclass(frozen=True)
class HubInitResult:
    where: str
    records: int
    rows: int
    signatures_checked: int
    config: Path
    keys: Path


def _refuse_existing(out_dir: Path) -> tuple[Path, Path]:
    config, keys = out_dir / CONFIG_NAME, out_dir / KEYS_NAME
    for path in (config, keys):
        if os.path.lexists(path):
            raise StoreError(Msg.OUTPUT_EXISTS, path=str(path))
    return config, keys


def init_hub(dsn: str, site_db: Path, username: str, password: str, out_dir: Path, app_role: str, *,
             clock: Clock | None = None) -> HubInitResult:
    from msc_sle_crf.access import Perm
    from msc_sle_crf.security.keyslots import KeySlotFile
    from msc_sle_crf.services import Site, Workspace
    from msc_sle_crf.store.site import anchor_message
    from msc_sle_crf.store.tables import Base, SiteSetting
    from msc_sle_crf.sync.identity import this_workstation

    config_path, keys_path = _refuse_existing(out_dir)
    hub = HubStore(dsn)
    try:
        if schema.current_revision(hub) is not None or schema.has_tables(hub):
            raise HubError(L(f"the hub database {hub.where} already holds tables: a hub is made in an empty "
                             "database (ask for a new one)",
                             f"la base du hub {hub.where} contient déjà des tables : un hub se crée dans une base "
                             "vide (demandez-en une nouvelle)"))
        site = Site.open(Path(site_db), clock=clock)
        with site:
            ws = Workspace.sign_in(site, username, password)
            ws.ctx.require(Perm.MANAGE_USERS)
            ws.ctx.require(Perm.BACKUP)  # the whole database leaves the site, as in a backup
            conn = site.store.raw_connection() if site.store is not None else None
            assert conn is not None
            try:
                before = audit.verify_connection(conn, site.keyfile.audit_anchor)
            finally:
                conn.close()
            if not before.ok:
                raise HubError(L(f"the site's audit trail does not verify (record #{before.first_bad_id}: "
                                 f"{before.problem}): nothing was copied; run 'verify' on the site",
                                 f"la piste d'audit du site ne se vérifie pas (enregistrement #{before.first_bad_id} "
                                 f": {before.problem}) : rien n'a été copié ; lancez « verify » sur le site"))
            ws.integrity.record_export(Action.BACKUP, Path(hub.where), "hub init: the whole database and its trail")
            schema.upgrade(hub, app_role)
            signer = site.signer(ws.ctx.actor.username)
            now = iso_utc((clock or SystemClock()).now())
            copied = 0
            store = site.store
            assert store is not None
            with store.read() as src, hub.write() as dst:
                for table in Base.metadata.sorted_tables:
                    result = src.connection().execution_options(yield_per=BATCH).execute(
                        select(table).order_by(*table.primary_key.columns))
                    for batch in result.partitions():
                        dst.execute(table.insert(), [dict(row._mapping) for row in batch])
                        copied += len(batch)
                    key = table.primary_key.columns.get("id")
                    if key is not None and isinstance(key.type, Integer):
                        dst.execute(text("SELECT setval(pg_get_serial_sequence(:t, 'id'), "
                                         "GREATEST(1, (SELECT coalesce(max(id), 0) FROM " + table.name + ")))"),
                                    {"t": table.name})
                origin = this_workstation(dst)
                last = dst.execute(select(audit_table().c.id, audit_table().c.hash)
                                   .order_by(audit_table().c.id.desc()).limit(1)).one()
                identity = {"workstation_id": HUB_WS, "workstation_number": str(HUB_NUMBER),
                            "subject_range": "0-0",
                            "workstation_fork": json.dumps({"ws": origin.id, "id": int(last[0]),
                                                            "hash": str(last[1])}, separators=(",", ":"))}
                entries = []
                for key_, value in identity.items():
                    row = dst.get(SiteSetting, key_)
                    old = row.value if row is not None else None
                    if row is None:
                        dst.add(SiteSetting(key=key_, value=value, updated_utc=now))
                    else:
                        row.value, row.updated_utc = value, now
                    entries.append(AuditEntry(Action.SETTING_CHANGE, ws.ctx.actor.username, ws.ctx.actor.role.value,
                                              item=key_, old_value=old, new_value=value,
                                              reason="hub init: this database is the study's hub"))
                written = audit.append_many(dst, clock or SystemClock(), site.workstation, entries, signer)
                head = written[-1]
            raw = hub.raw_connection()
            try:
                after = audit.verify_connection(raw, site.keyfile.audit_anchor)
                records = int(raw.execute("SELECT count(*) FROM audit_event").fetchone()[0])
            finally:
                raw.close()
            if not after.ok:
                raise HubError(L(f"the copy on the hub does not verify (record #{after.first_bad_id}: "
                                 f"{after.problem})", f"la copie sur le hub ne se vérifie pas (enregistrement "
                                 f"#{after.first_bad_id} : {after.problem})"))
            keyfile = KeySlotFile.load(KeySlotFile.path_for(Path(site_db)))
            out_dir.mkdir(parents=True, exist_ok=True)
            keyfile.path = keys_path
            keyfile.attempts = {}
            keyfile.pending_events = []
            anchor: dict[str, Any] = {"id": int(head["id"]), "hash": str(head["hash"]), "ts": str(head["ts_utc"]),
                                      "signer": signer.username}
            anchor["sig"] = audit_b64(signer.sign(anchor_message(keyfile.db_id, anchor["id"], anchor["hash"],
                                                                 anchor["ts"])))
            keyfile.audit_anchor = anchor
            keyfile.save()
            config = {"format": CONFIG_FORMAT, "version": 1, "db_id": keyfile.db_id, "workstation": HUB_WS,
                      "server": {k: v for k, v in hub.params.items() if k in _KEPT}, "app_role": app_role,
                      "keys": KEYS_NAME, "created_utc": now, "created_by": ws.ctx.actor.username,
                      "from_site": {"ws": origin.id, "last_record": int(last[0]), "last_hash": str(last[1])}}
            tmp = config_path.with_name(f".{config_path.name}.tmp")
            tmp.write_text(json.dumps(config, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            os.replace(tmp, config_path)
            return HubInitResult(hub.where, records, copied, after.signatures_checked, config_path, keys_path)
    finally:
        hub.close()


def audit_table() -> Any:
    from msc_sle_crf.store.tables import AuditEvent

    return AuditEvent.__table__


def audit_b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


def count_rows(hub: HubStore, table: str) -> int:
    with hub.read() as session:
        return int(session.execute(select(func.count()).select_from(text(table))).scalar() or 0)
