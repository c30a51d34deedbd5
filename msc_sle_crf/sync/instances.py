"""Which database *is* a workstation (docs/workstations.md, "One workstation file, one database"). No Qt.

A workstation file (``workstation add``) could be opened twice, on two laptops: two databases would then both be
"WS-02", give the same subject numbers to different patients and write packets the others cannot tell apart. Each
``workstation open`` therefore draws a random instance id, kept as the read-only setting ``workstation_instance``
with its own ``workstation_open`` record (so the fork's first packet carries it to the others), and every packet's
manifest names the instance that wrote it. An importer that knows a workstation as one instance refuses a packet
(or relayed records) of another in one line; the first instance a site hears of is the site's.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from msc_sle_crf.clock import format_stored, parse_iso_utc
from msc_sle_crf.store.tables import AuditEvent, SiteSetting
from msc_sle_crf.sync.ownership import opened_ws

INSTANCE_KEY = "workstation_instance"
# The one-time token of a workstation file (docs/workstations.md, "Which opening is the site's"): its hash is in the
# ``workstation_add`` record, the token itself only inside the file (sealed under a key derived from the database
# key); ``workstation open`` presents it in a ``workstation_open`` record (item ``workstation_token``) written just
# before the instance record. An instance record of a workstation whose add record holds a token binds only when
# that token was presented first: a copy of another workstation relabelled WS-nn cannot claim WS-nn.
TOKEN_KEY = "workstation_token"  # noqa: S105 - a setting name, not a secret
_TOKEN_INFO = b"msc-sle-crf/workstation-token/v1"


@dataclass(frozen=True)
class Instance:
    id: str
    opened_utc: str  # when that database was opened from its workstation file (UTC)
    offset: int = 0  # the opening laptop's UTC offset then (minutes)

    def when(self) -> str:
        return format_stored(self.opened_utc, self.offset, seconds=False, offset=False)

    def manifest(self) -> dict[str, object]:
        return {"id": self.id, "opened_utc": self.opened_utc, "offset": self.offset}

    @classmethod
    def of(cls, value: object) -> Instance | None:
        """The ``instance`` of a packet manifest (None: a packet of a version before instances, or of WS-01)."""
        if not isinstance(value, dict) or not isinstance(value.get("id"), str):
            return None
        try:
            offset = int(value.get("offset") or 0)
            opened = str(value.get("opened_utc"))
            parse_iso_utc(opened)
        except (TypeError, ValueError):
            return None
        return cls(value["id"], opened, offset)


def new_id() -> str:
    return secrets.token_hex(8)


def new_token() -> str:
    return secrets.token_hex(16)


def token_hash(token: str) -> str:
    return hashlib.sha256(f"msc-sle-crf/workstation-token:{token}".encode()).hexdigest()


def _token_key(db_key: bytes, ws: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(hashes.SHA256(), 32, salt=ws.encode(), info=_TOKEN_INFO).derive(db_key)


def seal_token(db_key: bytes, ws: str, token: str) -> str:
    """The token as the workstation file's manifest carries it (AES-256-GCM under a key derived from the database
    key: only someone who opens the file with an account of the site reads it)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return (nonce + AESGCM(_token_key(db_key, ws)).encrypt(nonce, token.encode(), ws.encode())).hex()


def open_token(db_key: bytes, ws: str, sealed: object) -> str | None:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not isinstance(sealed, str):
        return None
    try:
        raw = bytes.fromhex(sealed)
        return AESGCM(_token_key(db_key, ws)).decrypt(raw[:12], raw[12:], ws.encode()).decode()
    except (ValueError, InvalidTag, UnicodeDecodeError):
        return None


def add_tokens(session: Session) -> dict[str, str]:
    """The token hash of each workstation an administrator's ``workstation_add`` record created (with a token)."""
    out: dict[str, str] = {}
    for role, item, value in session.execute(select(AuditEvent.role, AuditEvent.item, AuditEvent.new_value)
                                             .where(AuditEvent.action == "workstation_add").order_by(AuditEvent.id)):
        note_add(out, role, item, value)
    return out


def note_add(tokens: dict[str, str], role: object, item: object, value: object) -> None:
    from msc_sle_crf.sync.ownership import added_ws

    ws = added_ws(str(role) if role else None, str(item) if item else None, str(value) if value else None)
    if ws is None or ws in tokens:
        return
    try:
        token = json.loads(str(value)).get("token")
    except (ValueError, AttributeError):
        token = None
    if isinstance(token, str):
        tokens[ws] = token


class Binder:
    """Which opening of each workstation file binds, fed ``workstation_open`` records in trail order: the first
    instance record of a workstation binds, and when the workstation's add record holds a token, only one that
    follows a record presenting that token."""

    def __init__(self, tokens: dict[str, str], known: dict[str, Instance] | None = None) -> None:
        self.tokens = tokens
        self.known: dict[str, Instance] = dict(known or {})
        self._presented: set[str] = set()

    def feed(self, item: object, value: object, ts: object, offset: object, detail: object) -> Instance | None:
        """The instance a record states, if it may bind (None: not an instance record, or one that may not)."""
        ws = opened_ws(str(detail) if detail else None)
        if ws is None or not value:
            return None
        if item == TOKEN_KEY:
            if ws in self.tokens and token_hash(str(value)) == self.tokens[ws]:
                self._presented.add(ws)
            return None
        if item != INSTANCE_KEY:
            return None
        if ws in self.tokens and ws not in self._presented:
            return None  # no token presented: a relabelled copy's claim
        self._presented.discard(ws)
        return Instance(str(value), str(ts), int(str(offset or 0)))

    def bind(self, ws_of: str, instance: Instance) -> None:
        self.known.setdefault(ws_of, instance)


def known(session: Session) -> dict[str, Instance]:
    """The instance each workstation is known as here: the first valid ``workstation_open … workstation_instance``
    record of that workstation in this trail (its own, or a copy a packet brought: the first one heard of binds;
    after its file's one-time token, when its ``workstation_add`` holds one)."""
    binder = Binder(add_tokens(session))
    for item, value, ts, offset, detail in session.execute(
            select(AuditEvent.item, AuditEvent.new_value, AuditEvent.ts_utc, AuditEvent.utc_offset_min,
                   AuditEvent.detail)
            .where(AuditEvent.action == "workstation_open", AuditEvent.item.in_((INSTANCE_KEY, TOKEN_KEY)))
            .order_by(AuditEvent.id)):
        found = binder.feed(item, value, ts, offset, detail)
        ws = opened_ws(detail)
        if found is not None and ws is not None:
            binder.bind(ws, found)
    return binder.known


def own(session: Session, ws: str) -> Instance | None:
    """This database's instance (None: WS-01, the hub, or a workstation opened before instances existed)."""
    row = session.get(SiteSetting, INSTANCE_KEY)
    if row is None:
        return None
    found = known(session).get(ws)
    return found if found is not None and found.id == row.value else Instance(row.value, row.updated_utc)


def local_text(ts_utc: str | None) -> str:
    """A stored UTC time as this computer's local dd/mm/yyyy HH:MM (what a person reads in a one-line message)."""
    if not ts_utc:
        return "?"
    try:
        return parse_iso_utc(ts_utc).astimezone().strftime("%d/%m/%Y %H:%M")
    except ValueError:
        return ts_utc


__all__ = ["INSTANCE_KEY", "TOKEN_KEY", "Binder", "Instance", "add_tokens", "known", "local_text", "new_id",
           "new_token", "note_add", "open_token", "own", "seal_token", "token_hash"]
