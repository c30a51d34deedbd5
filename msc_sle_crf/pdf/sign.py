"""Digital signature of generated PDFs with pyHanko (PAdES baseline B-B, SHA-256, ECDSA P-256), and its check.

Any change to a signed file is then detectable by any PDF reader (and by ``verify``)."""

from __future__ import annotations

import io
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Verdict:
    intact: bool  # the signed bytes are unchanged and cover the whole file
    trusted: bool  # signed by the given site certificate
    summary: str


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
