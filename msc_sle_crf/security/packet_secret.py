"""The site's packet secret (issue 18, docs/workstations.md "Packets"): the key of the packets between the workstations
of one site, independent of each database's own key.

- 32 random bytes, made once for the site (at its first ``workstation add`` or ``hub init``), copied into every fork
  and into the hub with the database. A site that had forked before the secret existed takes as its secret the key
  its packets were made with until then (HKDF of the database key the forks share, ``legacy_key``), so its
  workstations agree without exchanging anything.
- Stored in the site setting ``packet_secret`` (read-only; written with a ``packet_secret`` audit record that names
  its fingerprint, never the secret), wrapped (AES-256-GCM) under a key derived from this database's key: readable
  only with the database key, on the hub too (whose tables are not encrypted by SQLCipher).
- "Rotate keys" re-wraps every generation under the new database key (``rewrap_before_rekey`` then ``keep_only``);
  the wraps under the old key are removed once the database opens with the new one.
- Generations (i18-secret): a disable or a rotation adds a new secret (``with_generation``); the older ones stay,
  so older packets still open. A renewed generation keeps its ``seal``: the secret under a key derived from a
  one-time code (``seal`` / ``unseal``; the code itself is never stored), carried in every packet under it.

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

from msc_sle_crf.security.keyslots import normalize_recovery_code

SETTING = "packet_secret"
SECRET_BYTES = 32
LEGACY_INFO = b"msc-sle-crf/packet/v1"  # the packet key before the secret: HKDF of the database key
WRAP_INFO = b"msc-sle-crf/packet-secret-wrap/v1"
FINGERPRINT_CONTEXT = b"msc-sle-crf/packet-secret-fingerprint/v1\x00"
SEAL_INFO = b"msc-sle-crf/packet-secret-seal/v1/"
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


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def stored_value(secret: bytes, db_key: bytes, db_id: str, kind: str) -> str:
    """The setting's value with one generation: its fingerprint (checked against the trail by ``verify``) and the
    wrapped secret."""
    return _dumps({"v": 2, "gens": [{"fp": fingerprint(secret), "kind": kind,
                                     "wraps": [_wrap(secret, db_key, db_id)]}]})


def _valid_gen(gen: Any) -> bool:
    return isinstance(gen, dict) and isinstance(gen.get("fp"), str) and isinstance(gen.get("wraps"), list)


def parse(value: str | None) -> dict[str, Any] | None:
    """The setting as ``{"v": 2, "gens": [generation, ...]}``, oldest first, the current one last (issue 18, i18-secret:
    a disable or a key rotation adds one). The first version's single secret (``{"fp", "kind", "wraps"}``) reads as
    one generation. Each generation: ``fp``, ``kind`` (random, legacy, renewed, received), ``wraps`` and, for a
    renewed one, its ``seal`` (the secret under a key derived from the one-time code: safe to store and to send)."""
    try:
        data = json.loads(value or "")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if "gens" in data:
        gens = data["gens"]
        if not isinstance(gens, list) or not gens or not all(_valid_gen(g) for g in gens):
            return None
        return {"v": 2, "gens": gens}
    if not _valid_gen(data):
        return None
    return {"v": 2, "gens": [{k: data[k] for k in ("fp", "kind", "wraps") if k in data}]}


def fingerprints(value: str | None) -> list[str] | None:
    """The fingerprints of the setting's generations, oldest first (None: unreadable)."""
    data = parse(value)
    return None if data is None else [str(g["fp"]) for g in data["gens"]]


def _open_gen(gen: dict[str, Any], kek: AESGCM, db_id: str) -> bytes | None:
    for wrap in gen["wraps"]:
        try:
            secret = kek.decrypt(base64.b64decode(wrap["nonce"]), base64.b64decode(wrap["ct"]),
                                 db_id.encode("ascii"))
        except (InvalidTag, KeyError, TypeError, ValueError):
            continue
        if len(secret) == SECRET_BYTES and fingerprint(secret) == gen["fp"]:
            return secret
    return None


def unwrap_all(value: str | None, db_key: bytes, db_id: str) -> list[tuple[dict[str, Any], bytes]] | None:
    """Every generation with its secret, oldest first (None: one of them does not open with this database key)."""
    data = parse(value)
    if data is None:
        return None
    kek = AESGCM(_kek(db_key, db_id))
    out = []
    for gen in data["gens"]:
        secret = _open_gen(gen, kek, db_id)
        if secret is None:
            return None
        out.append((gen, secret))
    return out


def unwrap(value: str | None, db_key: bytes, db_id: str) -> bytes | None:
    """The current (newest) secret, if every generation opens with this database key and is the one fingerprinted."""
    held = unwrap_all(value, db_key, db_id)
    return held[-1][1] if held else None


def with_generation(value: str, secret: bytes, db_key: bytes, db_id: str, *, kind: str,
                    seal: dict[str, str] | None) -> str | None:
    """The value with ``secret`` as its new current generation (None: the value is unreadable)."""
    data = parse(value)
    if data is None:
        return None
    gen: dict[str, Any] = {"fp": fingerprint(secret), "kind": kind, "wraps": [_wrap(secret, db_key, db_id)]}
    if seal is not None:
        gen["seal"] = seal
    gens = [g for g in data["gens"] if g["fp"] != gen["fp"]]
    # a generation received after a newer one (a late packet from a third workstation) does not become current
    # a generation renewed here is the current one, whatever the dates of those received (an act made here counts
    # as later than every copy it saw: a workstation whose clock runs ahead cannot keep this one's renewal below)
    when = "" if kind == "renewed" else str((seal or {}).get("utc") or "")
    pos = len(gens)
    while when and pos > 0 and isinstance(gens[pos - 1].get("seal"), dict) \
            and str(gens[pos - 1]["seal"].get("utc") or "") > when:
        pos -= 1
    gens.insert(pos, gen)
    data["gens"] = gens
    return _dumps(data)


def with_wrap_for(value: str, old_key: bytes, new_key: bytes, db_id: str) -> str | None:
    """The value with one more wrap of each generation, under ``new_key`` (None: they do not open with
    ``old_key``)."""
    held = unwrap_all(value, old_key, db_id)
    data = parse(value)
    if held is None or data is None:
        return None
    for gen, (_, secret) in zip(data["gens"], held, strict=True):
        gen["wraps"] = [*gen["wraps"][-(MAX_WRAPS - 1):], _wrap(secret, new_key, db_id)]
    return _dumps(data)


def only_for(value: str, db_key: bytes, db_id: str) -> str | None:
    """The value with only the wraps that open with ``db_key`` (None: a generation has none)."""
    data = parse(value)
    if data is None:
        return None
    kek = AESGCM(_kek(db_key, db_id))
    for gen in data["gens"]:
        kept = []
        for wrap in gen["wraps"]:
            try:
                kek.decrypt(base64.b64decode(wrap["nonce"]), base64.b64decode(wrap["ct"]), db_id.encode("ascii"))
            except (InvalidTag, KeyError, TypeError, ValueError):
                continue
            kept.append(wrap)
        if not kept:
            return None
        gen["wraps"] = kept[-1:]
    return _dumps(data)


# ----- the one-time code of a renewal (i18-secret) ------------------------------------------------------------------
def _seal_key(code: str, fp: str, db_id: str) -> bytes:
    """HKDF of the typed code (normalised as the recovery code is), the generation's fingerprint as salt. The code
    has 125 random bits: no slow derivation is needed against an offline guess."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=fp.encode("ascii"),
                info=SEAL_INFO + db_id.encode("ascii")).derive(normalize_recovery_code(code).encode("ascii"))


def seal(secret: bytes, code: str, db_id: str, *, by: str, utc: str) -> dict[str, str]:
    """The secret sealed under the code: stored with its generation and carried in every packet under it. ``by``
    and ``utc``: the workstation that renewed it and when (what the refusal of a packet without the code names)."""
    fp = fingerprint(secret)
    nonce = os.urandom(12)
    ct = AESGCM(_seal_key(code, fp, db_id)).encrypt(nonce, secret, _seal_aad(fp, db_id, by, utc))
    return {"by": by, "utc": utc, "nonce": base64.b64encode(nonce).decode("ascii"),
            "ct": base64.b64encode(ct).decode("ascii")}


SEAL_FIELDS = ("by", "utc", "nonce", "ct")
SEAL_MAX = 200  # characters per field: a workstation id, an ISO time, a nonce, a 32-byte secret sealed


def _seal_aad(fp: str, db_id: str, by: str, utc: str) -> bytes:
    """The seal's associated data: who renewed and when are authenticated with the secret (attack h55: a seal
    re-dated by someone holding an older generation made her generation the current one)."""
    return b"\x00".join(x.encode("utf-8") for x in (fp, db_id, by, utc))


def normal_seal(sealed: Any) -> dict[str, str] | None:
    """The seal as stored and carried on: its four fields only, each a short text (None: not a seal)."""
    if not isinstance(sealed, dict) or not all(isinstance(sealed.get(k), str) and len(sealed[k]) <= SEAL_MAX
                                               for k in SEAL_FIELDS):
        return None
    return {k: str(sealed[k]) for k in SEAL_FIELDS}


def unseal(sealed: Any, code: str, fp: str, db_id: str) -> bytes | None:
    """The secret of generation ``fp`` from its seal and the typed code (None: wrong code, or not that secret)."""
    sealed = normal_seal(sealed)
    if sealed is None or not normalize_recovery_code(code).isascii():
        return None
    try:
        secret = AESGCM(_seal_key(code, fp, db_id)).decrypt(
            base64.b64decode(sealed["nonce"]), base64.b64decode(sealed["ct"]),
            _seal_aad(fp, db_id, sealed["by"], sealed["utc"]))
    except (InvalidTag, KeyError, TypeError, ValueError, UnicodeEncodeError):
        return None
    return secret if len(secret) == SECRET_BYTES and fingerprint(secret) == fp else None


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
