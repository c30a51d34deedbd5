"""Per-user key slots beside the database (the LUKS / password-manager model).

The database key is 32 random bytes. For each user (and for the site's recovery code) the key is wrapped with
AES-256-GCM under a key derived from that user's password with Argon2id. The Argon2 parameters are stored per
slot so they can be raised later without breaking old slots. Nothing secret is stored in clear: the file holds
salts, nonces, ciphertexts and non-secret bookkeeping (failed-attempt counters, sign-in events waiting to be
written to the encrypted audit trail).

The file is JSON, versioned, with a SHA-256 checksum of its content to tell accidental damage from a wrong
password. It is always written atomically (temp file, fsync, rename).

Version 2 (issue 14): a slot holds the account's personal keys (``security.personal``: X25519, Ed25519, P-256)
wrapped under the password-derived key, their public halves in clear, and the database key sealed (HPKE) to the
X25519 public key, so that an administrator can give a *new* database key to every remaining account (rotation)
without their passwords. Failed attempts are keyed by a keyed hash (HMAC-SHA256 under ``name_key``) of the
normalised name, never by what was typed; the file carries a ``generation`` number, raised at every save, that the
database records too (an older key file put back is detected). Version 1 files and slots are still read: a
version 1 slot is upgraded at its owner's next sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import unicodedata
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from msc_sle_crf.clock import parse_iso_utc
from msc_sle_crf.errors import KeyFileError, Msg
from msc_sle_crf.fileutil import atomic_write_bytes
from msc_sle_crf.security.personal import PersonalKeys, PublicKeys, open_sealed, seal

FORMAT = "msc-sle-crf-keyslots"
VERSION = 2
DB_KEY_BYTES = 32
SALT_BYTES = 16
NONCE_BYTES = 12
_SAVING = threading.RLock()  # KeySlotFile.save: one at a time in this process
RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
RECOVERY_GROUPS = 5
RECOVERY_GROUP_LEN = 5
MAX_PENDING_EVENTS = 1000
MAX_KEYFILE_BYTES = 16 * 1024 * 1024
MAX_ATTEMPT_RECORDS = 200

KIND_USER = "user"
KIND_RECOVERY = "recovery"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _int(value: Any) -> int:
    """An integer field of the key file (bool and float are not integers here)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not an integer")
    return value


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def normalize_secret(secret: str) -> bytes:
    """Passwords are compared as NFC-normalised UTF-8, so 'é' typed either way unlocks the same slot."""
    return unicodedata.normalize("NFC", secret).encode("utf-8")


def normalize_username(name: str) -> str:
    return unicodedata.normalize("NFC", name).strip().lower()


@dataclass(frozen=True)
class KdfParams:
    """Argon2id parameters (RFC 9106). memory in KiB."""

    time_cost: int
    memory_kib: int
    parallelism: int
    version: int = 19

    def derive(self, secret: bytes, salt: bytes) -> bytes:
        return hash_secret_raw(
            secret,
            salt,
            time_cost=self.time_cost,
            memory_cost=self.memory_kib,
            parallelism=self.parallelism,
            hash_len=32,
            type=Type.ID,
            version=self.version,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KdfParams:
        if not isinstance(data, dict) or data.get("name", "argon2id") != "argon2id":
            raise ValueError("unsupported key derivation")
        params = cls(
            time_cost=_int(data["time_cost"]),
            memory_kib=_int(data["memory_kib"]),
            parallelism=_int(data["parallelism"]),
            version=_int(data.get("version", 19)),
        )
        # Argon2 itself needs t >= 1, p >= 1 and m >= 8p; the upper bounds keep a tampered file from making a
        # sign-in hang or exhaust memory.
        if not (1 <= params.time_cost <= MAX_KDF.time_cost and 1 <= params.parallelism <= MAX_KDF.parallelism
                and 8 * params.parallelism <= params.memory_kib <= MAX_KDF.memory_kib and params.version in (16, 19)):
            raise ValueError("key derivation parameters out of range")
        return params

    def to_dict(self) -> dict[str, Any]:
        return {"name": "argon2id", **asdict(self)}


# Floor from RFC 9106 / OWASP guidance; calibration only ever goes up from here.
MIN_KDF = KdfParams(time_cost=2, memory_kib=19 * 1024, parallelism=1)
# Beyond this a sign-in would take minutes or exhaust a laptop's memory: a key file asking for more is damaged.
MAX_KDF = KdfParams(time_cost=64, memory_kib=4 * 1024 * 1024, parallelism=16)
DEFAULT_MEMORY_KIB = 128 * 1024
DEFAULT_PARALLELISM = 2
# The floor every new slot respects, whatever the key file's default says (a tampered or badly calibrated default
# cannot weaken a new slot). Tests lower it to keep the suite fast; nothing else may.
KDF_FLOOR = MIN_KDF


def at_least_floor(params: KdfParams) -> KdfParams:
    floor = KDF_FLOOR
    if params.time_cost >= floor.time_cost and params.memory_kib >= floor.memory_kib \
            and params.parallelism >= floor.parallelism:
        return params
    return KdfParams(time_cost=max(params.time_cost, floor.time_cost),
                     memory_kib=max(params.memory_kib, floor.memory_kib,
                                    8 * max(params.parallelism, floor.parallelism)),
                     parallelism=max(params.parallelism, floor.parallelism), version=params.version)


def calibrate(target_seconds: float = 0.4, memory_kib: int = DEFAULT_MEMORY_KIB,
              parallelism: int = DEFAULT_PARALLELISM, max_time_cost: int = 40) -> KdfParams:
    """Choose the Argon2id time cost so that one derivation takes about ``target_seconds`` here.

    Memory stays fixed (128 MiB, affordable on a laptop, costly for a GPU attacker); the number of passes
    grows until the target is reached.
    """
    salt = os.urandom(SALT_BYTES)
    probe = KdfParams(time_cost=1, memory_kib=memory_kib, parallelism=parallelism)
    start = time.perf_counter()
    probe.derive(b"calibration", salt)
    one_pass = max(time.perf_counter() - start, 1e-3)
    time_cost = max(2, min(max_time_cost, round(target_seconds / one_pass)))
    params = at_least_floor(KdfParams(time_cost=time_cost, memory_kib=memory_kib, parallelism=parallelism))
    # One check with the chosen value: passes do not scale exactly linearly.
    start = time.perf_counter()
    params.derive(b"calibration", salt)
    elapsed = time.perf_counter() - start
    if elapsed > 0 and not (0.75 * target_seconds <= elapsed <= 1.25 * target_seconds):
        time_cost = max(2, min(max_time_cost, round(time_cost * target_seconds / elapsed)))
        params = KdfParams(time_cost=time_cost, memory_kib=memory_kib, parallelism=parallelism)
    # A busy machine makes one pass look slow: the result never goes below the fixed floor.
    return at_least_floor(params)


def new_recovery_code() -> str:
    """125 random bits as five groups of five Crockford base32 characters: 'K3QZ8-...'."""
    groups = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUP_LEN))
        for _ in range(RECOVERY_GROUPS)
    ]
    return "-".join(groups)


def normalize_recovery_code(code: str) -> str:
    """Accept lower case, spaces or no dashes, and the usual misreadings (O->0, I/L->1)."""
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    return cleaned


@dataclass
class Slot:
    """One account's (or the recovery code's) slot.

    Version 2: ``ciphertext`` is the account's personal private keys, AES-256-GCM under the password-derived key;
    ``publics`` their public halves; ``db_box`` the database key sealed to ``publics.box``. Version 1 (older
    sites): ``ciphertext`` is the database key itself and there are no personal keys yet."""

    slot_id: str
    kind: str
    user: str | None
    kdf: KdfParams
    salt: bytes
    nonce: bytes
    ciphertext: bytes
    created_utc: str
    publics: PublicKeys | None = None
    db_box: bytes | None = None

    @property
    def version(self) -> int:
        return 2 if self.publics is not None else 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "slot_id": self.slot_id,
            "kind": self.kind,
            "user": self.user,
            "kdf": self.kdf.to_dict(),
            "salt": _b64(self.salt),
            "nonce": _b64(self.nonce),
            "ciphertext": _b64(self.ciphertext),
            "created_utc": self.created_utc,
        }
        if self.publics is not None:
            out["publics"] = self.publics.to_dict()
            out["db_box"] = _b64(self.db_box or b"")
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Slot:
        kind = str(data["kind"])
        if kind not in (KIND_USER, KIND_RECOVERY):
            raise ValueError(f"unknown slot kind {kind!r}")
        publics = PublicKeys.from_dict(data["publics"]) if data.get("publics") is not None else None
        return cls(
            slot_id=str(data["slot_id"]),
            kind=kind,
            user=None if data.get("user") is None else str(data["user"]),
            kdf=KdfParams.from_dict(data["kdf"]),
            salt=_unb64(data["salt"]),
            nonce=_unb64(data["nonce"]),
            ciphertext=_unb64(data["ciphertext"]),
            created_utc=str(data["created_utc"]),
            publics=publics,
            db_box=_unb64(data["db_box"]) if publics is not None else None,
        )


@dataclass(frozen=True)
class Unlocked:
    """What a right password opens: the database key, and the personal keys (None for a version 1 slot)."""

    db_key: bytes
    keys: PersonalKeys | None


@dataclass
class AttemptRecord:
    failures: int = 0
    locked_until_utc: str | None = None
    last_failure_utc: str | None = None

    def lock_remaining(self, now: datetime) -> timedelta | None:
        """Time left on a lockout at ``now``, or None when the account is not locked."""
        if not self.locked_until_utc:
            return None
        remaining = parse_iso_utc(self.locked_until_utc) - now
        return remaining if remaining > timedelta(0) else None


def _check_shape(document: dict[str, Any]) -> None:
    """The types a hand-edited key file must still have (each wrong one is named in the message)."""
    expected: dict[str, tuple[type, ...]] = {"db_id": (str,), "db_salt": (str,), "kdf_default": (dict,),
                                             "slots": (list,), "attempts": (dict,), "pending_events": (list,),
                                             "audit_anchor": (dict, type(None)), "training": (bool,),
                                             "generation": (int,), "name_key": (str,)}
    for name, types in expected.items():
        if name in document and not isinstance(document[name], types):
            raise TypeError(f"{name} has the wrong type")
    if not all(isinstance(slot, dict) for slot in document.get("slots", [])):
        raise TypeError("slots has the wrong type")
    from msc_sle_crf.audit import Action

    actions = {a.value for a in Action}
    if not all(isinstance(ev, dict) and ev.get("action") in actions
               and all(isinstance(ev.get(k), (str, type(None))) for k in ("username", "role", "detail", "ts_utc"))
               and isinstance(ev.get("utc_offset_min", 0), (int, type(None)))
               for ev in document.get("pending_events", [])):
        raise TypeError("pending_events has the wrong type")
    anchor = document.get("audit_anchor")
    if anchor is not None and not (isinstance(anchor.get("id"), int) and isinstance(anchor.get("hash"), str)):
        raise TypeError("audit_anchor has the wrong type")


def _attempt(data: Any) -> AttemptRecord:
    if not isinstance(data, dict):
        raise TypeError("attempts has the wrong type")
    record = AttemptRecord(failures=_int(data.get("failures", 0)),
                           locked_until_utc=data.get("locked_until_utc"), last_failure_utc=data.get("last_failure_utc"))
    for stamp in (record.locked_until_utc, record.last_failure_utc):
        if stamp is not None:
            parse_iso_utc(str(stamp))
    return record


def _new_name_key() -> str:
    return _b64(os.urandom(32))


@dataclass
class KeySlotFile:
    """In-memory form of the key-slot file. Mutating methods do not write; call ``save()``."""

    path: Path
    db_id: str
    db_salt_hex: str
    kdf_default: KdfParams
    training: bool = False
    slots: list[Slot] = field(default_factory=list)
    attempts: dict[str, AttemptRecord] = field(default_factory=dict)  # keyed by ``account_tag(name)``
    pending_events: list[dict[str, Any]] = field(default_factory=list)
    audit_anchor: dict[str, Any] | None = None
    generation: int = 0  # raised at every save; the database records the last one it saw
    name_key: str = field(default_factory=_new_name_key)

    # ----- persistence -------------------------------------------------------------------------------------
    @staticmethod
    def path_for(db_path: Path) -> Path:
        return Path(f"{db_path}.keys")

    def _content(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "db_id": self.db_id,
            "db_salt": self.db_salt_hex,
            "training": self.training,
            "kdf_default": self.kdf_default.to_dict(),
            "slots": [slot.to_dict() for slot in self.slots],
            "attempts": {name: asdict(rec) for name, rec in sorted(self.attempts.items())},
            "pending_events": self.pending_events[-MAX_PENDING_EVENTS:],
            "audit_anchor": self.audit_anchor,
            "generation": self.generation,
            "name_key": self.name_key,
        }

    @staticmethod
    def _checksum(content: dict[str, Any]) -> str:
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def save(self) -> None:
        # one save at a time in this process: the re-key and the background check's thread saved at once and the
        # second found the first's temporary file ("File exists", test_ui_trial_left); each writes the whole file
        with _SAVING:
            self.generation += 1
            content = self._content()
            document = {**content, "checksum": self._checksum(content)}
            data = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"
            try:
                atomic_write_bytes(self.path, data)
            except OSError as exc:  # a full disk, a read-only folder: the old key file is still there, unchanged
                self.generation -= 1
                raise KeyFileError(Msg.KEYFILE_SAVE_FAILED, path=str(self.path),
                                   detail=exc.strerror or str(exc)) from None

    @classmethod
    def load(cls, path: Path) -> KeySlotFile:
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise KeyFileError(Msg.KEYFILE_MISSING, path=str(path)) from None
        except OSError as exc:
            raise KeyFileError(Msg.KEYFILE_CORRUPT, path=str(path), detail=exc.strerror or "unreadable") from None
        if len(raw) > MAX_KEYFILE_BYTES:
            raise KeyFileError(Msg.KEYFILE_CORRUPT, path=str(path), detail="far too large for a key file")
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise KeyFileError(Msg.KEYFILE_CORRUPT, path=str(path), detail="not valid JSON") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise KeyFileError(Msg.KEYFILE_CORRUPT, path=str(path), detail="not an MSC-SLE key file")
        version = document.get("version")
        if not isinstance(version, int):
            raise KeyFileError(Msg.KEYFILE_CORRUPT, path=str(path), detail="no format version")
        if version > VERSION:
            raise KeyFileError(Msg.KEYFILE_TOO_NEW, path=str(path), found=version)
        checksum = document.pop("checksum", None)
        if checksum != cls._checksum(document):
            raise KeyFileError(Msg.KEYFILE_CORRUPT, path=str(path), detail="checksum mismatch")
        try:
            _check_shape(document)
            keyfile = cls(
                path=path,
                db_id=str(document["db_id"]),
                db_salt_hex=str(document["db_salt"]),
                kdf_default=KdfParams.from_dict(document["kdf_default"]),
                training=bool(document.get("training", False)),
                slots=[Slot.from_dict(s) for s in document["slots"]],
                pending_events=list(document.get("pending_events", [])),
                audit_anchor=document.get("audit_anchor"),
                generation=_int(document.get("generation", 0)),
                name_key=str(document.get("name_key") or _new_name_key()),
            )
            _unb64(keyfile.name_key)
            attempts = {str(k): _attempt(v) for k, v in document.get("attempts", {}).items()}
            # Version 1 files kept the typed names: from now on only their keyed hash is kept.
            keyfile.attempts = attempts if version >= 2 else {keyfile.account_tag(k): v for k, v in attempts.items()}
            return keyfile
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
            raise KeyFileError(Msg.KEYFILE_CORRUPT, path=str(path), detail=f"invalid field ({exc})"[:200]) from None

    # ----- names ---------------------------------------------------------------------------------------------
    def account_tag(self, name: str) -> str:
        """The keyed hash under which a sign-in name's failed attempts are counted (never the typed text)."""
        digest = hmac.new(_unb64(self.name_key), normalize_username(name).encode("utf-8"), hashlib.sha256)
        return digest.hexdigest()[:32]

    def account_tags(self) -> set[str]:
        return {self.account_tag(s.user) for s in self.slots if s.kind == KIND_USER and s.user}

    # ----- slots -------------------------------------------------------------------------------------------
    @staticmethod
    def _aad(db_id: str, kind: str, user: str | None) -> bytes:
        return f"{FORMAT}|v1|{db_id}|{kind}|{user or ''}".encode()

    @staticmethod
    def _aad2(db_id: str, kind: str, user: str | None, publics: PublicKeys) -> bytes:
        return f"{FORMAT}|v2|{db_id}|{kind}|{user or ''}|".encode() + publics.box + publics.sign + (publics.pdf or b"")

    @staticmethod
    def box_info(db_id: str, kind: str, user: str | None) -> bytes:
        return f"{FORMAT}|db-key|{db_id}|{kind}|{user or ''}".encode()

    def find(self, kind: str, user: str | None = None) -> Slot | None:
        for slot in self.slots:
            if slot.kind == kind and slot.user == user:
                return slot
        return None

    def users(self) -> list[str]:
        return sorted(s.user for s in self.slots if s.kind == KIND_USER and s.user)

    def make_slot(self, kind: str, user: str | None, secret: bytes, db_key: bytes, created_utc: str, *,
                  kdf: KdfParams | None = None, keys: PersonalKeys | None = None) -> Slot:
        """A slot for (kind, user), not yet in the file (see ``put_slot``): ``keys`` (new ones when not given)
        wrapped under ``secret``, and ``db_key`` sealed to their public box key."""
        if len(db_key) != DB_KEY_BYTES:
            raise ValueError("database key must be 32 bytes")
        params = at_least_floor(kdf or self.kdf_default)
        keys = keys or PersonalKeys.generate(with_pdf=kind == KIND_USER)
        publics = keys.publics()
        salt = os.urandom(SALT_BYTES)
        nonce = os.urandom(NONCE_BYTES)
        wrapping_key = params.derive(secret, salt)
        ciphertext = AESGCM(wrapping_key).encrypt(nonce, keys.to_bytes(), self._aad2(self.db_id, kind, user, publics))
        return Slot(
            slot_id=uuid.uuid4().hex,
            kind=kind,
            user=user,
            kdf=params,
            salt=salt,
            nonce=nonce,
            ciphertext=ciphertext,
            created_utc=created_utc,
            publics=publics,
            db_box=seal(publics.box, db_key, self.box_info(self.db_id, kind, user)),
        )

    def put_slot(self, slot: Slot) -> None:
        """Put ``slot`` in the file, replacing any earlier slot of the same (kind, user)."""
        self.slots = [s for s in self.slots if not (s.kind == slot.kind and s.user == slot.user)]
        self.slots.append(slot)

    def set_slot(self, kind: str, user: str | None, secret: bytes, db_key: bytes, created_utc: str, *,
                 kdf: KdfParams | None = None, keys: PersonalKeys | None = None) -> Slot:
        """Wrap ``db_key`` under ``secret`` for (kind, user), replacing any earlier slot of theirs."""
        slot = self.make_slot(kind, user, secret, db_key, created_utc, kdf=kdf, keys=keys)
        self.put_slot(slot)
        return slot

    def remove_slot(self, kind: str, user: str | None) -> bool:
        before = len(self.slots)
        self.slots = [s for s in self.slots if not (s.kind == kind and s.user == user)]
        return len(self.slots) != before

    def resealed(self, slot: Slot, db_key: bytes) -> Slot:
        """The same slot with ``db_key`` (a new database key) sealed to its public box key: no password needed."""
        if slot.publics is None:
            raise ValueError("a version 1 slot cannot be re-sealed")
        return replace(slot, db_box=seal(slot.publics.box, db_key, self.box_info(self.db_id, slot.kind, slot.user)))

    def unlock(self, kind: str, user: str | None, secret: bytes) -> Unlocked | None:  # noqa: PLR0911
        """The database key and the personal keys, or None when the secret is wrong or there is no such slot.

        When there is no slot, a derivation with the default parameters is still done, so that timing does
        not tell whether a user name exists.
        """
        slot = self.find(kind, user)
        if slot is None:
            at_least_floor(self.kdf_default).derive(secret, b"\0" * SALT_BYTES)
            return None
        wrapping_key = slot.kdf.derive(secret, slot.salt)
        if slot.publics is None:
            try:
                key = AESGCM(wrapping_key).decrypt(slot.nonce, slot.ciphertext, self._aad(self.db_id, kind, user))
            except InvalidTag:
                return None
            return Unlocked(key, None) if len(key) == DB_KEY_BYTES else None
        try:
            blob = AESGCM(wrapping_key).decrypt(slot.nonce, slot.ciphertext,
                                                self._aad2(self.db_id, kind, user, slot.publics))
            keys = PersonalKeys.from_bytes(blob)
        except (InvalidTag, ValueError):
            return None
        if keys.publics() != slot.publics:
            return None
        opened = open_sealed(keys.box, slot.db_box or b"", self.box_info(self.db_id, kind, user))
        if opened is None or len(opened) != DB_KEY_BYTES:
            return None
        key = opened
        return Unlocked(key, keys)

    def unwrap(self, kind: str, user: str | None, secret: bytes) -> bytes | None:
        """The database key alone (see ``unlock``)."""
        unlocked = self.unlock(kind, user, secret)
        return unlocked.db_key if unlocked is not None else None

    # ----- bookkeeping -------------------------------------------------------------------------------------
    def add_pending_event(self, event: dict[str, Any]) -> None:
        self.pending_events.append(event)
        del self.pending_events[:-MAX_PENDING_EVENTS]

    def trim_attempts(self, now: datetime | None = None) -> None:
        """Keep at most MAX_ATTEMPT_RECORDS counters. Only counters of names that are not accounts, and not locked,
        are ever dropped (oldest first): made-up names cannot evict a real account's counter or a lockout."""
        if len(self.attempts) <= MAX_ATTEMPT_RECORDS:
            return
        accounts = self.account_tags()
        droppable = sorted(((tag, rec) for tag, rec in self.attempts.items()
                            if tag not in accounts and not (rec.locked_until_utc and (
                                now is None or rec.lock_remaining(now) is not None))),
                           key=lambda kv: kv[1].last_failure_utc or "")
        for tag, _ in droppable[: len(self.attempts) - MAX_ATTEMPT_RECORDS]:
            del self.attempts[tag]
