"""Digital signature of generated PDFs with pyHanko (PAdES baseline B-B, SHA-256, ECDSA P-256), and its check.

Any change to a signed file is then detectable by any PDF reader (and by ``verify``). Since issue 14 a PDF is signed
with the printing user's personal certificate, issued by the site's CA; ``verify_pinned`` trusts a PDF only when
its signer's certificate chains to the CA whose SHA-256 fingerprint is pinned, and names the signer."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

FIELD = "CRFSignature"


def sign(pdf: bytes, cert_pem: str, key_pem: str, passphrase: bytes, *, reason: str, location: str) -> bytes:
    certs = list(load_certs_from_pemder_data(cert_pem.encode()))
    key = load_private_key_from_pemder_data(key_pem.encode(), passphrase=passphrase)
    signer = signers.SimpleSigner(signing_cert=certs[0], signing_key=key,
                                  cert_registry=SimpleCertificateStore.from_certs(certs))
    meta = signers.PdfSignatureMetadata(field_name=FIELD, md_algorithm="sha256", reason=reason, location=location,
                                        subfilter=fields.SigSeedSubFilter.PADES)
    out = io.BytesIO()
    signers.PdfSigner(meta, signer, new_field_spec=fields.SigFieldSpec(FIELD)).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)), output=out)
    return out.getvalue()


def sign_with(pdf: bytes, key: Any, cert_pem: str, chain_pems: list[str], *, reason: str, location: str) -> bytes:
    """Sign with a key in memory (the printing user's personal key) and its certificate chain."""
    from cryptography.hazmat.primitives import serialization

    key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    signing_key = load_private_key_from_pemder_data(key_der, passphrase=None)
    cert = next(iter(load_certs_from_pemder_data(cert_pem.encode())))
    chain = [c for pem in chain_pems for c in load_certs_from_pemder_data(pem.encode())]
    signer = signers.SimpleSigner(signing_cert=cert, signing_key=signing_key,
                                  cert_registry=SimpleCertificateStore.from_certs([cert, *chain]))
    meta = signers.PdfSignatureMetadata(field_name=FIELD, md_algorithm="sha256", reason=reason, location=location,
                                        subfilter=fields.SigSeedSubFilter.PADES)
    out = io.BytesIO()
    signers.PdfSigner(meta, signer, new_field_spec=fields.SigFieldSpec(FIELD)).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)), output=out)
    return out.getvalue()


@dataclass(frozen=True)
class Verdict:
    intact: bool  # the signed bytes are unchanged and cover the whole file
    trusted: bool  # signed by the given site certificate
    summary: str
    signer: str = ""  # the signing certificate's subject (who printed)
    reason: str = ""  # the signature's reason (what was printed, and the trail head)


def verify(pdf: bytes, cert_pem: str) -> Verdict:
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        signatures = reader.embedded_signatures
        if not signatures:
            return Verdict(False, False, "no signature")
        roots = list(load_certs_from_pemder_data(cert_pem.encode()))
        status = validate_pdf_signature(signatures[-1], ValidationContext(trust_roots=roots, allow_fetching=False))
        covers_all = status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
        return Verdict(bool(status.intact and status.valid and covers_all), bool(status.trusted), status.summary())
    except Exception as exc:
        return Verdict(False, False, f"{type(exc).__name__}")


def _fingerprint(cert: Any) -> str:
    digest = hashlib.sha256(cert.dump()).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def verify_pinned(pdf: bytes, fingerprint: str) -> Verdict:
    """Check a PDF against the site CA pinned by its SHA-256 fingerprint ('AB:CD:...'): the bytes are intact and
    cover the whole file, and the signer's certificate chains to that CA. The signer is named either way."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        signatures = reader.embedded_signatures
        if not signatures:
            return Verdict(False, False, "no signature")
        embedded = signatures[-1]
        signer_cert = embedded.signer_cert
        who = signer_cert.subject.human_friendly if signer_cert is not None else ""
        reason = str(embedded.sig_object.get("/Reason", ""))
        roots = [c for c in (*embedded.other_embedded_certs, signer_cert) if c is not None
                 and _fingerprint(c) == fingerprint]
        if not roots:
            status = validate_pdf_signature(embedded, ValidationContext(trust_roots=[], allow_fetching=False))
            covers_all = status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
            return Verdict(bool(status.intact and status.valid and covers_all), False,
                           "not issued by the pinned site CA", who, reason)
        status = validate_pdf_signature(embedded, ValidationContext(trust_roots=roots[:1], allow_fetching=False))
        covers_all = status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
        return Verdict(bool(status.intact and status.valid and covers_all), bool(status.trusted), status.summary(),
                       who, reason)
    except Exception as exc:
        return Verdict(False, False, f"{type(exc).__name__}")
