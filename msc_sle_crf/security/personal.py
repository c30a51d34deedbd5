"""Personal keys: what makes a record, a signature or a PDF provably one person's (issue 14).

Each account (and the site's recovery code) holds three key pairs, made with ``cryptography`` (no hand-written
crypto):

- an **X25519** key pair (``box``): the database key and the site CA's private key are sealed to its public key
  with HPKE (RFC 9180: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM). Anyone holding the database key can
  seal a *new* database key to every remaining account without knowing their passwords: that is what makes key
  rotation (revocation) possible;
- an **Ed25519** key pair (``sign``): signs each audit transaction, each electronic signature, each receipt and
  anchor. Its public key is bound to the account in the audit trail;
- an **ECDSA P-256** key pair (``pdf``): the key of the account's personal certificate, issued by the site CA,
  that signs the PDFs the account prints (P-256 because PDF readers check it; Ed25519 in PDF is too new).

The private keys are stored only wrapped under the account's password-derived key (see ``keyslots``).
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_RAW = serialization.Encoding.Raw
_RAW_PUB = serialization.PublicFormat.Raw
_RAW_PRIV = serialization.PrivateFormat.Raw
_DER = serialization.Encoding.DER
_PKCS8 = serialization.PrivateFormat.PKCS8
_SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
_NONE = serialization.NoEncryption()
BLOB_VERSION = 1


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(str(text).encode("ascii"), validate=True)


@dataclass(frozen=True)
class PublicKeys:
    """The public half of an account's keys (all bytes: raw X25519, raw Ed25519, DER SubjectPublicKeyInfo)."""

    box: bytes
    sign: bytes
    pdf: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"box": b64(self.box), "sign": b64(self.sign), "pdf": b64(self.pdf) if self.pdf else None}

    @classmethod
    def from_dict(cls, data: Any) -> PublicKeys:
        if not isinstance(data, dict):
            raise TypeError("public keys have the wrong type")
        box, sign = unb64(data["box"]), unb64(data["sign"])
        if len(box) != 32 or len(sign) != 32:
            raise ValueError("public key of the wrong length")
        pdf = data.get("pdf")
        return cls(box, sign, unb64(pdf) if pdf else None)

    def sign_id(self) -> str:
        """A short printable id of the signing key (for messages and the trail)."""
        return self.sign.hex()[:16]


@dataclass(frozen=True)
class PersonalKeys:
    box: X25519PrivateKey
    sign: Ed25519PrivateKey
    pdf: ec.EllipticCurvePrivateKey | None = None

    @classmethod
    def generate(cls, *, with_pdf: bool = True) -> PersonalKeys:
        return cls(X25519PrivateKey.generate(), Ed25519PrivateKey.generate(),
                   ec.generate_private_key(ec.SECP256R1()) if with_pdf else None)

    def replace_signing(self) -> PersonalKeys:
        """New box and signing keys, the same PDF key (its certificate stays valid)."""
        return PersonalKeys(X25519PrivateKey.generate(), Ed25519PrivateKey.generate(), self.pdf)

    def publics(self) -> PublicKeys:
        pdf = self.pdf.public_key().public_bytes(_DER, _SPKI) if self.pdf is not None else None
        return PublicKeys(self.box.public_key().public_bytes(_RAW, _RAW_PUB),
                          self.sign.public_key().public_bytes(_RAW, _RAW_PUB), pdf)

    def to_bytes(self) -> bytes:
        pdf = self.pdf.private_bytes(_DER, _PKCS8, _NONE) if self.pdf is not None else b""
        return (struct.pack(">B", BLOB_VERSION) + self.box.private_bytes(_RAW, _RAW_PRIV, _NONE)
                + self.sign.private_bytes(_RAW, _RAW_PRIV, _NONE) + pdf)

    @classmethod
    def from_bytes(cls, data: bytes) -> PersonalKeys:
        if len(data) < 65 or data[0] != BLOB_VERSION:
            raise ValueError("unknown personal key format")
        pdf = None
        if len(data) > 65:
            loaded = serialization.load_der_private_key(data[65:], password=None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise ValueError("the PDF key is not an EC key")
            pdf = loaded
        return cls(X25519PrivateKey.from_private_bytes(data[1:33]), Ed25519PrivateKey.from_private_bytes(data[33:65]),
                   pdf)


def seal(box_public: bytes, plaintext: bytes, info: bytes) -> bytes:
    """HPKE single-shot encryption to an X25519 public key; ``info`` binds the context (what, for whom)."""
    return _SUITE.encrypt(plaintext, X25519PublicKey.from_public_bytes(box_public), info)


def open_sealed(box: X25519PrivateKey, ciphertext: bytes, info: bytes) -> bytes | None:
    try:
        return _SUITE.decrypt(ciphertext, box, info)
    except Exception:  # InvalidTag and malformed input alike: not for this key
        return None


def verify(sign_public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(sign_public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Signer:
    """An account whose private keys are in memory (it signed in, or typed its password for this act)."""

    username: str
    keys: PersonalKeys

    def sign(self, message: bytes) -> bytes:
        return self.keys.sign.sign(message)

    @property
    def public(self) -> PublicKeys:
        return self.keys.publics()
