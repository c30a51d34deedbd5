"""The site's packet secret (issue 18, docs/workstations.md "Packets"): the key of the packets between the workstations
of one site, independent of each database's own key.

- 32 random bytes, made once for the site (at its first ``workstation add`` or ``hub init``), copied into every fork
  and into the hub with the database. A site that had forked before the secret existed takes as its secret the key
  its packets were made with until then (HKDF of the database key the forks share, ``legacy_key``), so its
  workstations agree without exchanging anything.
- Stored in the site setting ``packet_secret`` (read-only; written with a ``packet_secret`` audit record that names
  its fingerprint, never the secret), wrapped (AES-256-GCM) under a key derived from this database's key: readable
  only with the database key, on the hub too (whose tables are not encrypted by SQLCipher).
- "Rotate keys" re-wraps it under the new database key (``rewrap_before_rekey`` then ``keep_only``): the secret, and
  so the packets, are unchanged; the wrap under the old key is removed once the database opens with the new one.

No Qt, no service: the setting is read and written through the session (or raw connection) it is given.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SETTING = "packet_secret"
SECRET_BYTES = 32
LEGACY_INFO = b"msc-sle-crf/packet/v1"  # the packet key before the secret: HKDF of the database key
WRAP_INFO = b"msc-sle-crf/packet-secret-wrap/v1"
FINGERPRINT_CONTEXT = b"msc-sle-crf/packet-secret-fingerprint/v1\x00"
MAX_WRAPS = 3  # during a rotation: the old key's and the new key's (a crashed one may leave one more)


def legacy_key(db_key: bytes, db_id: str) -> bytes:
    """The packet key of the first version: every workstation forked from one database holds its key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=db_id.encode("ascii"), info=LEGACY_INFO).derive(db_key)


def new_secret() -> bytes:
    return os.urandom(SECRET_BYTES)


def fingerprint(secret: bytes) -> str:
    """What the trail and the screens may show of the secret (it cannot be turned back into the secret)."""
    return hashlib.sha256(FINGERPRINT_CONTEXT + secret).hexdigest()[:32]


def _kek(db_key: bytes, db_id: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=db_id.encode("ascii"), info=WRAP_INFO).derive(db_key)


def _wrap(secret: bytes, db_key: bytes, db_id: str) -> dict[str, str]:
    nonce = os.urandom(12)
    sealed = AESGCM(_kek(db_key, db_id)).encrypt(nonce, secret, db_id.encode("ascii"))
    return {"nonce": base64.b64encode(nonce).decode("ascii"), "ct": base64.b64encode(sealed).decode("ascii")}


def stored_value(secret: bytes, db_key: bytes, db_id: str, kind: str) -> str:
    """The setting's value: the fingerprint (checked against the trail by ``verify``) and the wrapped secret."""
    return json.dumps({"v": 1, "fp": fingerprint(secret), "kind": kind, "wraps": [_wrap(secret, db_key, db_id)]},
                      sort_keys=True, separators=(",", ":"))


def parse(value: str | None) -> dict[str, Any] | None:
    try:
        data = json.loads(value or "")
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("wraps"), list) or not isinstance(data.get("fp"), str):
        return None
    return data


def unwrap(value: str | None, db_key: bytes, db_id: str) -> bytes | None:
    """The secret, if one of the value's wraps opens with this database key and it is the one fingerprinted."""
    data = parse(value)
    if data is None:
        return None
    kek = AESGCM(_kek(db_key, db_id))
    for wrap in data["wraps"]:
        try:
            secret = kek.decrypt(base64.b64decode(wrap["nonce"]), base64.b64decode(wrap["ct"]),
                                 db_id.encode("ascii"))
        except (InvalidTag, KeyError, TypeError, ValueError):
            continue
        if len(secret) == SECRET_BYTES and fingerprint(secret) == data["fp"]:
            return secret
    return None


def with_wrap_for(value: str, old_key: bytes, new_key: bytes, db_id: str) -> str | None:
    """The value with one more wrap, under ``new_key`` (None: the secret does not open with ``old_key``)."""
    secret = unwrap(value, old_key, db_id)
    data = parse(value)
    if secret is None or data is None:
        return None
    data["wraps"] = [*data["wraps"][-(MAX_WRAPS - 1):], _wrap(secret, new_key, db_id)]
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def only_for(value: str, db_key: bytes, db_id: str) -> str | None:
    """The value with only the wraps that open with ``db_key`` (None: none does)."""
    data = parse(value)
    if data is None:
        return None
    kek = AESGCM(_kek(db_key, db_id))
    kept = []
    for wrap in data["wraps"]:
        try:
            kek.decrypt(base64.b64decode(wrap["nonce"]), base64.b64decode(wrap["ct"]), db_id.encode("ascii"))
        except (InvalidTag, KeyError, TypeError, ValueError):
            continue
        kept.append(wrap)
    if not kept:
        return None
    data["wraps"] = kept[-1:]
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


# ----- the rotation's part (store/rekey.py): through a raw keyed DB-API connection --------------------------------
def rewrap_before_rekey(conn: Any, old_key: bytes, new_key: bytes, db_id: str) -> bool:
    """Add the wrap under the new key while the database still has the old one (committed before the re-key: a
    crash in between leaves a wrap for whichever key the database ends with). False: no secret here."""
    row = conn.execute("SELECT value FROM site_setting WHERE key = ?", (SETTING,)).fetchone()
    if row is None:
        return False
    value = with_wrap_for(str(row[0]), old_key, new_key, db_id)
    if value is None:
        return False
    conn.execute("UPDATE site_setting SET value = ? WHERE key = ?", (value, SETTING))
    conn.commit()
    return True


def keep_only(conn: Any, db_key: bytes, db_id: str) -> None:
    """After the re-key: drop the wraps under older keys."""
    row = conn.execute("SELECT value FROM site_setting WHERE key = ?", (SETTING,)).fetchone()
    if row is None:
        return
    value = only_for(str(row[0]), db_key, db_id)
    if value is not None and value != row[0]:
        conn.execute("UPDATE site_setting SET value = ? WHERE key = ?", (value, SETTING))
        conn.commit()
