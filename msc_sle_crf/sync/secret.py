"""The site's packet secret in a database (``security/packet_secret.py`` has the cryptography; docs/workstations.md
"Packets"). No Qt; ORM only (it runs on the hub's PostgreSQL session too).

    key = site_packet_key(session, clock, label, signer, username, role, db_key=..., db_id=...)  # made if missing
    keys = import_keys(session, clock, ..., header=h, code=c)  # the packet's generation first, then the others
    gen = current(session, clock, ...)         # what a packet is exported under (its header names it, with its seal)
    code = renew(session, clock, ..., why=...) # a disable or a rotation: a new generation and its one-time code

Generations (i18-secret, docs/workstations.md "The packet secret after a disable"): a disable or a key rotation
draws a new secret here; its one-time code is shown once to the administrator and never stored; the new secret
travels only sealed under the code (in every packet under it), so a copy of another workstation's database taken
before reads nothing under it until the code is typed there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from msc_sle_crf import audit
from msc_sle_crf.audit import Action, AuditEntry
from msc_sle_crf.clock import Clock, iso_utc
from msc_sle_crf.errors import Msg, StoreError
from msc_sle_crf.security import packet_secret as PS
from msc_sle_crf.security.keyslots import new_recovery_code
from msc_sle_crf.security.personal import Signer
from msc_sle_crf.store.tables import AuditEvent, SiteSetting

KIND_RANDOM = "random"
KIND_LEGACY = "from the database key shared by the workstations forked before the secret existed"
RENEWED = "renewed"
RECEIVED = "received"


@dataclass(frozen=True)
class Generation:
    fp: str
    secret: bytes
    kind: str
    seal: dict[str, str] | None  # a renewed generation's: the secret under its one-time code

    def header(self) -> dict[str, Any]:
        """What a packet under this generation carries in its header (the AES-GCM associated data)."""
        return {"key": self.fp, **({"seal": self.seal} if self.seal else {})}


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


def held(session: Session, db_key: bytes, db_id: str) -> list[Generation]:
    """Every generation this database holds, oldest first (empty: none yet); an unreadable one is refused."""
    row = session.get(SiteSetting, PS.SETTING)
    if row is None:
        return []
    gens = PS.unwrap_all(row.value, db_key, db_id)
    if not gens:
        raise StoreError(Msg.PACKET_SECRET_UNREADABLE)
    return [Generation(str(g["fp"]), secret, str(g.get("kind") or ""),
                       g["seal"] if isinstance(g.get("seal"), dict) else None) for g, secret in gens]


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


def current(session: Session, clock: Clock, workstation_label: str,  # noqa: PLR0917
            signer: Signer | None, username: str, role: str, *, db_key: bytes, db_id: str) -> Generation:
    """The generation this workstation exports under: its newest (made now if it has none, as ``import_keys``)."""
    site_packet_key(session, clock, workstation_label, signer, username, role, db_key=db_key, db_id=db_id,
                    forked=True)
    return held(session, db_key, db_id)[-1]


def import_keys(session: Session, clock: Clock, workstation_label: str,  # noqa: PLR0917
                signer: Signer | None, username: str, role: str, *, db_key: bytes, db_id: str,
                header: dict[str, Any] | None = None, code: str | None = None, name: str = "packet"
                ) -> tuple[bytes, ...]:
    """What a packet may be encrypted with: the generation its header names, alone (attack h55); for a header naming
    none, every generation (newest first) and the first version's key (a workstation not yet upgraded). A
    generation this database does not hold is taken from the header's seal with ``code`` (stored here, audited, in
    the caller's transaction); without it, or with a wrong one, the packet is refused in one line."""
    site_packet_key(session, clock, workstation_label, signer, username, role, db_key=db_key, db_id=db_id,
                    forked=True)
    gens = held(session, db_key, db_id)
    header = header or {}
    want = header.get("key")
    mine = next((g for g in gens if g.fp == want), None) if isinstance(want, str) and want else None
    # a generation not held here, of this site, with its seal: taken with the code (another site's packet, or one
    # without a seal, is left to the packet's own checks: another site, or it does not decrypt)
    if mine is None and want and header.get("db_id") == db_id and isinstance(header.get("seal"), dict):
        mine = _receive(session, clock, workstation_label, signer, username, role, db_key=db_key, db_id=db_id,
                        header=header, code=code, name=name, previous=gens[-1].fp)
    if mine is not None:  # a packet naming its generation opens with that one only (attack h55)
        return (mine.secret,)
    if isinstance(want, str) and want:
        return ()  # it names a generation this site never made: it opens with nothing held here
    keys = [g.secret for g in reversed(gens)]
    legacy = PS.legacy_key(db_key, db_id)
    return tuple(keys) if legacy in keys else (*keys, legacy)


def renewed_by(header: dict[str, Any]) -> tuple[str, str]:
    """The workstation that renewed a packet's generation and when (local time), as its seal says."""
    from msc_sle_crf.sync.instances import local_text

    sealed = header.get("seal")
    if not isinstance(sealed, dict):
        sealed = {}
    return str(sealed.get("by") or "?")[:20], local_text(str(sealed.get("utc") or "")[:40] or None)


def _receive(session: Session, clock: Clock, workstation_label: str,  # noqa: PLR0917
             signer: Signer | None, username: str, role: str, *, db_key: bytes, db_id: str,
             header: dict[str, Any], code: str | None, name: str, previous: str) -> Generation:
    from msc_sle_crf.sync.packets import PacketRefused

    fp = str(header["key"])
    by, when = renewed_by(header)
    if not code or not code.strip():
        raise PacketRefused(Msg.PACKET_SECRET_CODE_NEEDED, path=name, ws=by, when=when)
    secret = PS.unseal(header.get("seal"), code, fp, db_id)
    if secret is None:
        raise PacketRefused(Msg.PACKET_SECRET_CODE_WRONG, path=name, ws=by, when=when)
    sealed = PS.normal_seal(header["seal"])  # its four fields only: nothing else rides on in later packets
    assert sealed is not None  # it unsealed
    row = session.get(SiteSetting, PS.SETTING)
    assert row is not None
    value = PS.with_generation(row.value, secret, db_key, db_id, kind=RECEIVED, seal=sealed)
    if value is None:
        raise StoreError(Msg.PACKET_SECRET_UNREADABLE)
    row.value = value
    row.updated_utc = iso_utc(clock.now())
    audit.append_many(session, clock, workstation_label, [AuditEntry(
        Action.PACKET_SECRET, username, role, item=PS.SETTING,
        new_value=json.dumps({"fingerprint": fp, "previous": previous, "kind": RECEIVED}, sort_keys=True),
        reason=f"one-time code of the renewal on {by} ({when}) typed here"[:500],
        detail=f"the site's packet secret renewed on {by} received with its one-time code (packet {name[:120]}); "
               "kept in this database, wrapped under its key; the code is not stored")], signer)
    return Generation(fp, secret, RECEIVED, sealed)


def ensure(session: Session, clock: Clock, workstation_label: str,  # noqa: PLR0917
           signer: Signer | None, username: str, role: str, *, db_key: bytes, db_id: str) -> None:
    """Before a rotation: a site forked before the secret existed takes its shared key as its secret now (from the
    database key that is about to change), so that a renewal after the rotation has a generation to follow."""
    if session.get(SiteSetting, PS.SETTING) is None and has_forked(session):
        site_packet_key(session, clock, workstation_label, signer, username, role, db_key=db_key, db_id=db_id)


def renew(session: Session, clock: Clock, workstation_label: str,  # noqa: PLR0917
          signer: Signer | None, username: str, role: str, *, db_key: bytes, db_id: str, why: str) -> str | None:
    """A new generation drawn here (a disable or a key rotation), announced by its audited record in the caller's
    transaction; returns its one-time code (to show once, never to store). None: this database has no packet
    secret yet (no packet ever left it: the first fork makes a fresh one)."""
    from msc_sle_crf.sync.identity import this_workstation

    row = session.get(SiteSetting, PS.SETTING)
    if row is None:
        return None
    previous = held(session, db_key, db_id)[-1].fp
    secret, code = PS.new_secret(), new_recovery_code()
    now = iso_utc(clock.now())
    fp = PS.fingerprint(secret)
    value = PS.with_generation(row.value, secret, db_key, db_id, kind=RENEWED,
                               seal=PS.seal(secret, code, db_id, by=this_workstation(session).id, utc=now))
    assert value is not None
    row.value = value
    row.updated_utc = now
    audit.append_many(session, clock, workstation_label, [AuditEntry(
        Action.PACKET_SECRET, username, role, item=PS.SETTING,
        new_value=json.dumps({"fingerprint": fp, "previous": previous, "kind": RENEWED}, sort_keys=True),
        reason=why[:500],
        detail="the site's packet secret renewed: this workstation's next packets are under it; the other "
               "workstations read them once the one-time code shown to the administrator is typed there (the code is "
               "not stored)")], signer)
    return code
