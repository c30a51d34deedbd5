"""The site's packet secret in a database (``security/packet_secret.py`` has the cryptography; docs/workstations.md
"Packets"). No Qt; ORM only (it runs on the hub's PostgreSQL session too).

    key = site_packet_key(session, clock, label, signer, username, role, db_key=..., db_id=...)  # made if missing
    keys = import_keys(session, clock, ...)   # the secret, then the first version's key (a packet of an older copy)
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from msc_sle_crf import audit
from msc_sle_crf.audit import Action, AuditEntry
from msc_sle_crf.clock import Clock, iso_utc
from msc_sle_crf.errors import Msg, StoreError
from msc_sle_crf.security import packet_secret as PS
from msc_sle_crf.security.personal import Signer
from msc_sle_crf.store.tables import AuditEvent, SiteSetting

KIND_RANDOM = "random"
KIND_LEGACY = "from the database key shared by the workstations forked before the secret existed"


def has_forked(session: Session) -> bool:
    """A database of a site that already has (or is) a fork, or a hub, made before the secret existed: they share
    the database key the first version derived the packet key from."""
    if session.get(SiteSetting, "workstation_id") is not None:
        return True
    forked = select(AuditEvent.id).where(AuditEvent.action == str(Action.WORKSTATION_ADD),
                                         AuditEvent.origin.is_(None)).limit(1)
    hub = select(AuditEvent.id).where(AuditEvent.action == str(Action.BACKUP), AuditEvent.origin.is_(None),
                                      AuditEvent.detail.startswith("hub init:")).limit(1)  # a hub made from it
    return session.execute(forked).first() is not None or session.execute(hub).first() is not None


def read(session: Session, db_key: bytes, db_id: str) -> bytes | None:
    """The secret (None: this database has none yet); an unreadable one is refused in one line."""
    row = session.get(SiteSetting, PS.SETTING)
    if row is None:
        return None
    secret = PS.unwrap(row.value, db_key, db_id)
    if secret is None:
        raise StoreError(Msg.PACKET_SECRET_UNREADABLE)
    return secret


def site_packet_key(session: Session, clock: Clock, workstation_label: str,  # noqa: PLR0917
                    signer: Signer | None, username: str, role: str, *, db_key: bytes, db_id: str,
                    forked: bool = False) -> bytes:
    """The site's packet secret, made now (in the caller's write transaction, with its audit record signed by
    ``signer``) if this database has none: 32 random bytes for a site that never forked, else the key its
    workstations already share (the first version's derivation), so that they keep agreeing. ``forked``: the caller
    knows the site has other workstations (a packet came from one)."""
    secret = read(session, db_key, db_id)
    if secret is not None:
        return secret
    legacy = forked or has_forked(session)
    secret = PS.legacy_key(db_key, db_id) if legacy else PS.new_secret()
    kind = KIND_LEGACY if legacy else KIND_RANDOM
    now = iso_utc(clock.now())
    session.add(SiteSetting(key=PS.SETTING, value=PS.stored_value(secret, db_key, db_id, "legacy" if legacy
                                                                  else "random"), updated_utc=now))
    audit.append_many(session, clock, workstation_label, [AuditEntry(
        Action.PACKET_SECRET, username, role, item=PS.SETTING,
        new_value=json.dumps({"fingerprint": PS.fingerprint(secret), "kind": "legacy" if legacy else "random"},
                             sort_keys=True),
        detail=f"the site's packet secret ({kind}); kept in this database, wrapped under its key; unchanged by key "
               "rotation")], signer)
    return secret


def import_keys(session: Session, clock: Clock, workstation_label: str,  # noqa: PLR0917
                signer: Signer | None, username: str, role: str, *, db_key: bytes, db_id: str) -> tuple[bytes, ...]:
    """What a packet may be encrypted with: the site's secret, then the first version's key from this database's key
    (a packet of a workstation not yet upgraded)."""
    secret = site_packet_key(session, clock, workstation_label, signer, username, role, db_key=db_key, db_id=db_id,
                             forked=True)
    legacy = PS.legacy_key(db_key, db_id)
    return (secret,) if legacy == secret else (secret, legacy)
