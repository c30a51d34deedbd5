"""The site's certificate authority (issue 14): it issues each printing user's personal certificate.

Its private key (ECDSA P-256) is never stored in clear nor derivable from the database key: it is sealed (HPKE) to
each administrator's personal X25519 key and to the recovery code's, so only an administrator's password (or the
recovery code) opens it. A PDF is trusted when its signer's certificate chains to the CA whose SHA-256
fingerprint is pinned (shown at ``init``, on the casebook cover, in the Administration menu): a certificate with
the same names made by another site has another fingerprint and fails.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from msc_sle_crf.security.personal import b64, open_sealed, seal, unb64

CA_YEARS = 20
USER_YEARS = 10


def fit_bytes(text: str, limit: int = 64) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes on a character boundary (certificate names are limited in
    bytes, not characters: 'Hôpital' is 8 bytes)."""
    data = text.encode("utf-8")[:limit]
    return data.decode("utf-8", errors="ignore").strip() or "MSC-SLE"


def fingerprint(cert_pem: str) -> str:
    """SHA-256 of the certificate (DER), as 32 colon-separated hex pairs: what is pinned and shown."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def normalize_fingerprint(text: str) -> str:
    clean = "".join(ch for ch in text.upper() if ch in "0123456789ABCDEF")
    return ":".join(clean[i:i + 2] for i in range(0, len(clean), 2))


def given_fingerprint(text: str) -> str:
    """A fingerprint typed by a person, normalized; one clear line when it cannot be one (not 64 hex digits)."""
    from msc_sle_crf.errors import Msg, ValidationError

    clean = normalize_fingerprint(text)
    digits = len(clean.replace(":", ""))
    if digits != 64 or any(ch not in "0123456789ABCDEF:" for ch in text.upper().replace(" ", "")):
        raise ValidationError(Msg.FINGERPRINT_MALFORMED, given=text[:80], digits=digits)
    return clean


def new_ca(site_name: str, db_id: str, now: dt.datetime) -> tuple[str, ec.EllipticCurvePrivateKey]:
    """A new CA key and its self-signed certificate (PEM). The site's id is in its name, so two sites never make
    the same name (the fingerprint is what is trusted anyway)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, fit_bytes(f"MSC-SLE eCRF CA {db_id[:8]}")),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, fit_bytes(site_name))])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key


def issue(ca_key: ec.EllipticCurvePrivateKey, ca_cert_pem: str, public_der: bytes, *, username: str,
          full_name: str, role: str, site_name: str, now: dt.datetime) -> tuple[str, str]:
    """A personal certificate for a user's PDF key: (PEM, serial as hex)."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem.encode())
    public = serialization.load_der_public_key(public_der)
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise ValueError("a personal certificate needs an EC public key")
    serial = x509.random_serial_number()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, fit_bytes(full_name)),
                         x509.NameAttribute(NameOID.USER_ID, fit_bytes(username)),
                         x509.NameAttribute(NameOID.TITLE, fit_bytes(role)),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, fit_bytes(site_name))])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject).public_key(public)
            .serial_number(serial).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(min(now + dt.timedelta(days=365 * USER_YEARS), ca_cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_cert.public_key()), critical=False)  # type: ignore[arg-type]
            .sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode(), format(serial, "x")


def _info(db_id: str, account: str) -> bytes:
    return f"msc-sle-crf|ca-key|{db_id}|{account}".encode()


def seal_key(ca_key: ec.EllipticCurvePrivateKey, box_public: bytes, db_id: str, account: str) -> str:
    der = ca_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    return b64(seal(box_public, der, _info(db_id, account)))


def open_key(sealed: str, box: Any, db_id: str, account: str) -> ec.EllipticCurvePrivateKey | None:
    try:
        der = open_sealed(box, unb64(sealed), _info(db_id, account))
    except ValueError:
        return None
    if der is None:
        return None
    key = serialization.load_der_private_key(der, password=None)
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def subject_names(cert_pem: str) -> dict[str, str]:
    """The names in a certificate's subject: {"cn": ..., "uid": ..., "title": ..., "o": ...}."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    out = {}
    for key, oid in (("cn", NameOID.COMMON_NAME), ("uid", NameOID.USER_ID), ("title", NameOID.TITLE),
                     ("o", NameOID.ORGANIZATION_NAME)):
        attrs = cert.subject.get_attributes_for_oid(oid)
        if attrs:
            out[key] = str(attrs[0].value)
    return out
