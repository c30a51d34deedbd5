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

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, select, text
from sqlalchemy.orm import Session

from msc_sle_crf import audit
from msc_sle_crf.audit import Action, AuditEntry
from msc_sle_crf.clock import Clock, SystemClock, iso_utc
from msc_sle_crf.errors import Msg, StoreError
from msc_sle_crf.hub import schema
from msc_sle_crf.hub.store import HubError, HubStore
from msc_sle_crf.i18n import L
from msc_sle_crf.security.personal import Signer

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


@dataclass(frozen=True)
class HubInitRequest:
    dsn: str  # the owner role's (it runs the migrations)
    site_db: Path
    username: str
    password: str
    out_dir: Path
    app_role: str


def init_hub(dsn: str, site_db: Path, username: str, password: str, out_dir: Path,  # noqa: PLR0917
             app_role: str, *, clock: Clock | None = None) -> HubInitResult:
    return _init(HubInitRequest(dsn, Path(site_db), username, password, Path(out_dir), app_role),
                 clock or SystemClock())


def _init(req: HubInitRequest, clock: Clock) -> HubInitResult:
    from msc_sle_crf.access import Perm
    from msc_sle_crf.services import Site, Workspace

    config_path, keys_path = _refuse_existing(req.out_dir)
    hub = HubStore(req.dsn)
    try:
        if schema.current_revision(hub) is not None or schema.has_tables(hub):
            raise HubError(L(f"the hub database {hub.where} already holds tables: a hub is made in an empty "
                             "database (ask for a new one)",
                             f"la base du hub {hub.where} contient déjà des tables : un hub se crée dans une base "
                             "vide (demandez-en une nouvelle)"))
        site = Site.open(req.site_db, clock=clock)
        with site:
            ws = Workspace.sign_in(site, req.username, req.password)
            ws.ctx.require(Perm.MANAGE_USERS)
            ws.ctx.require(Perm.BACKUP)  # the whole database leaves the site, as in a backup
            _site_trail_holds(site)
            _packet_secret(ws)  # made now if the site has none: the hub gets it with the copy
            ws.ctx.audit_alone(Action.BACKUP, detail=f"hub init: the whole database and its trail -> {hub.where}")
            schema.upgrade(hub, req.app_role)
            signer = site.signer(ws.ctx.actor.username)
            store = site.store
            assert store is not None
            with store.read() as src, hub.write() as dst:
                copied = _copy_tables(src, dst)
                fork = _become_the_hub(dst, ws.ctx.actor.username, ws.ctx.actor.role.value, signer, clock,
                                       site.workstation)
                head = fork.pop("head")
            after = _hub_trail_holds(hub, site.keyfile.audit_anchor)
            keyfile = _write_keyfile(req.site_db, keys_path, head, signer)
            config = {"format": CONFIG_FORMAT, "version": 1, "db_id": keyfile.db_id, "workstation": HUB_WS,
                      "server": {k: v for k, v in hub.params.items() if k in _KEPT}, "app_role": req.app_role,
                      "keys": KEYS_NAME, "created_utc": iso_utc(clock.now()), "created_by": ws.ctx.actor.username,
                      "from_site": fork}
            tmp = config_path.with_name(f".{config_path.name}.tmp")
            tmp.write_text(json.dumps(config, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            os.replace(tmp, config_path)
            return HubInitResult(hub.where, after.records, copied, after.signatures_checked, config_path, keys_path)
    finally:
        hub.close()


def _site_trail_holds(site: Any) -> None:
    conn = site.store.raw_connection()
    try:
        before = audit.verify_connection(conn, site.keyfile.audit_anchor)
    finally:
        conn.close()
    if not before.ok:
        raise HubError(L(f"the site's audit trail does not verify (record #{before.first_bad_id}: "
                         f"{before.problem}): nothing was copied; run 'verify' on the site",
                         f"la piste d'audit du site ne se vérifie pas (enregistrement #{before.first_bad_id} : "
                         f"{before.problem}) : rien n'a été copié ; lancez « verify » sur le site"))


def _packet_secret(ws: Any) -> None:
    from msc_sle_crf.sync import secret

    ctx = ws.ctx
    with ctx.write(data=False) as tx:
        secret.site_packet_key(tx.session, ctx.clock, ctx.site.workstation, ctx.site.signer(ctx.actor.username),
                               ctx.actor.username, ctx.actor.role.value, db_key=ctx.store.key,
                               db_id=ctx.site.keyfile.db_id)


def _copy_tables(src: Session, dst: Session) -> int:
    """Every row of every table of the models, in dependency order, ids kept; the id sequences moved past them."""
    from msc_sle_crf.store.tables import Base

    copied = 0
    for table in Base.metadata.sorted_tables:
        result = src.connection().execution_options(yield_per=BATCH).execute(
            select(table).order_by(*table.primary_key.columns))
        for batch in result.partitions():
            dst.execute(table.insert(), [dict(row._mapping) for row in batch])
            copied += len(batch)
        key = table.primary_key.columns.get("id")
        if key is not None and isinstance(key.type, Integer):
            highest = f"(SELECT coalesce(max(id), 0) FROM {table.name})"  # noqa: S608 - the models' own names
            dst.execute(text(f"SELECT setval(pg_get_serial_sequence(:t, 'id'), GREATEST(1, {highest}))"),
                        {"t": table.name})
    return copied


def _become_the_hub(dst: Session, username: str, role: str, signer: Signer, clock: Clock,  # noqa: PLR0917
                    workstation: str) -> dict[str, Any]:
    """The settings that make this database the hub, audited (signed by the administrator). Returns where the
    copy began (the site's workstation, last record and hash) and the hub's last record (``head``)."""
    from msc_sle_crf.store.tables import AuditEvent, SiteSetting
    from msc_sle_crf.sync import instances
    from msc_sle_crf.sync.identity import this_workstation

    origin = this_workstation(dst)
    last = dst.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).one()
    fork = {"ws": origin.id, "id": int(last[0]), "hash": str(last[1])}
    identity = {"workstation_id": HUB_WS, "workstation_number": str(HUB_NUMBER), "subject_range": "0-0",
                "workstation_fork": json.dumps(fork, separators=(",", ":")),
                # its own opening (sync/instances.py): a hub made from a workstation's database is not that one
                instances.INSTANCE_KEY: instances.new_id()}
    now = iso_utc(clock.now())
    entries = []
    for key, value in identity.items():
        row = dst.get(SiteSetting, key)
        old = row.value if row is not None else None
        if row is None:
            dst.add(SiteSetting(key=key, value=value, updated_utc=now))
        else:
            row.value, row.updated_utc = value, now
        # The same records as a workstation's own set-up (``workstation open``): the replay checks the identity
        # settings against them.
        entries.append(AuditEntry(Action.WORKSTATION_OPEN, username, role, item=key, old_value=old, new_value=value,
                                  reason="hub init: this database is the study's hub",
                                  detail=f"workstation {HUB_WS}: forked from {origin.id} at record #{fork['id']} "
                                         f"({str(fork['hash'])[:16]})"))
    written = audit.append_many(dst, clock, workstation, entries, signer)
    return {"ws": origin.id, "last_record": fork["id"], "last_hash": fork["hash"], "head": written[-1]}


def _hub_trail_holds(hub: HubStore, anchor: dict[str, Any] | None) -> audit.VerifyResult:
    raw = hub.raw_connection()
    try:
        after = audit.verify_connection(raw, anchor)
    finally:
        raw.close()
    if not after.ok:
        raise HubError(L(f"the copy on the hub does not verify (record #{after.first_bad_id}: {after.problem})",
                         f"la copie sur le hub ne se vérifie pas (enregistrement #{after.first_bad_id} : "
                         f"{after.problem})"))
    return after


def _write_keyfile(site_db: Path, keys_path: Path, head: dict[str, Any], signer: Signer) -> Any:
    """The site's key slots (the same accounts, the same passwords), anchored at the hub's last record."""
    from msc_sle_crf.security.keyslots import KeySlotFile
    from msc_sle_crf.store.site import anchor_message

    keyfile = KeySlotFile.load(KeySlotFile.path_for(site_db))
    keys_path.parent.mkdir(parents=True, exist_ok=True)
    keyfile.path = keys_path
    keyfile.attempts = {}
    keyfile.pending_events = []
    anchor: dict[str, Any] = {"id": int(head["id"]), "hash": str(head["hash"]), "ts": str(head["ts_utc"]),
                              "signer": signer.username}
    anchor["sig"] = base64.b64encode(signer.sign(anchor_message(keyfile.db_id, anchor["id"], anchor["hash"],
                                                                anchor["ts"]))).decode("ascii")
    keyfile.audit_anchor = anchor
    keyfile.save()
    return keyfile


