"""The site's signing certificate: an ECDSA P-256 key and a self-signed certificate, created once per site.

The private key is kept inside the encrypted database (PKCS#8, itself encrypted with a passphrase derived from the
database key), so it is protected exactly like the data: unreadable without a user's password.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def passphrase_from(db_key: bytes) -> bytes:
    return hashlib.sha256(b"msc-sle-crf pdf signing key\x00" + db_key).hexdigest().encode()


def fit_bytes(text: str, limit: int = 64) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes on a character boundary (certificate names are limited in
    bytes, not characters: 'Hôpital' is 8 bytes)."""
    data = text.encode("utf-8")[:limit]
    return data.decode("utf-8", errors="ignore").strip() or "MSC-SLE"


def create(common_name: str, organisation: str, now: dt.datetime, db_key: bytes) -> tuple[str, str]:
    """A new key and certificate: (certificate PEM, encrypted private key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, fit_bytes(common_name)),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, fit_bytes(organisation))])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(passphrase_from(db_key))).decode()
    return cert_pem, key_pem
