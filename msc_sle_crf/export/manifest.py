"""The export's manifest (SHA-256 of every file, the signed trail head, who, when, versions), its signature with
the exporting user's personal certificate (ECDSA P-256, issued by the site CA) and Ed25519 signing key, and the
check ``export-verify`` runs: a changed, added or removed file, or a manifest signed by anyone but a certificate of
the pinned site CA, fails."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "msc-sle-crf-export"
VERSION = 1
MANIFEST = "MANIFEST.json"
SIGNATURE = "MANIFEST.sig"
SIG_CONTEXT = b"msc-sle-crf/export-manifest/v1\x00"
MAX_MANIFEST = 16 * 1024 * 1024


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def listing(folder: Path) -> dict[str, dict[str, Any]]:
    """Every file under ``folder`` but the manifest and its signature: relative path -> SHA-256 and size."""
    out: dict[str, dict[str, Any]] = {}
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            if rel in (MANIFEST, SIGNATURE):
                continue
            out[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return out


def manifest_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"


def sign_manifest(data: bytes, *, pdf_key: Any, cert_pem: str, ca_pem: str, ed_signer: Any) -> bytes:
    """MANIFEST.sig: ECDSA P-256 (the user's personal certificate) and Ed25519 (their trail signing key) over the
    manifest's bytes, with the certificate chain."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from msc_sle_crf.security import ca

    digest = hashlib.sha256(data).hexdigest()
    doc = {"format": FORMAT + "-signature", "version": VERSION, "manifest_sha256": digest,
           "signer": ed_signer.username, "certificate": cert_pem, "ca_certificate": ca_pem,
           "ca_fingerprint": ca.fingerprint(ca_pem),
           "ecdsa_sha256": base64.b64encode(pdf_key.sign(SIG_CONTEXT + data, ec.ECDSA(hashes.SHA256()))).decode(),
           "ed25519": base64.b64encode(ed_signer.sign(SIG_CONTEXT + data)).decode(),
           "signing_key": base64.b64encode(ed_signer.public.sign).decode()}
    return json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n"


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    signer: str | None = None
    signer_name: str | None = None
    files: int = 0
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > MAX_MANIFEST:
            return None
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def verify(folder: Path, fingerprint: str | None) -> Verdict:  # noqa: PLR0912, PLR0915 - one check per branch
    """Check an export folder against its manifest and the manifest's signature. ``fingerprint``: the pinned site
    CA (SHA-256 as printed at init); None: the chain is checked but trust is not established (said as a problem)."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from msc_sle_crf.security import ca
    from msc_sle_crf.security.personal import verify as ed_verify

    verdict = Verdict()
    manifest_path, sig_path = folder / MANIFEST, folder / SIGNATURE
    try:
        data = manifest_path.read_bytes()
    except OSError:
        verdict.problems.append(f"{MANIFEST} is missing or unreadable: this is not an export, or it was damaged")
        return verdict
    manifest = _read_json(manifest_path)
    if manifest is None or manifest.get("format") != FORMAT:
        verdict.problems.append(f"{MANIFEST} is not an export manifest of this program")
        return verdict
    verdict.manifest = manifest
    sig = _read_json(sig_path)
    if sig is None:
        verdict.problems.append(f"{SIGNATURE} is missing or unreadable: the manifest is not signed")
    else:
        verdict.signer = str(sig.get("signer"))
        try:
            cert = x509.load_pem_x509_certificate(str(sig["certificate"]).encode())
            ca_cert = x509.load_pem_x509_certificate(str(sig["ca_certificate"]).encode())
            cert.verify_directly_issued_by(ca_cert)
            pub = cert.public_key()
            if not isinstance(pub, ec.EllipticCurvePublicKey):
                raise TypeError("not an ECDSA certificate")
            pub.verify(base64.b64decode(sig["ecdsa_sha256"]), SIG_CONTEXT + data, ec.ECDSA(hashes.SHA256()))
            names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
            verdict.signer_name = str(names[0].value) if names else None
            if not ed_verify(base64.b64decode(sig["signing_key"]), base64.b64decode(sig["ed25519"]),
                             SIG_CONTEXT + data):
                raise InvalidSignature
            head = manifest.get("trail_head") or {}
            if head.get("signer") != verdict.signer or head.get("signing_key") != sig.get("signing_key"):
                verdict.problems.append("the manifest's trail head is not signed by the manifest's signer")
            pinned = ca.fingerprint(str(sig["ca_certificate"]))
            if fingerprint is None:
                verdict.problems.append(f"no site CA fingerprint to check against (the signer's CA is {pinned}): "
                                        "give --fingerprint, or --db and --user")
            elif ca.normalize_fingerprint(fingerprint) != pinned:
                verdict.problems.append(f"the manifest is signed by '{verdict.signer}' with a certificate that does "
                                        f"not chain to the pinned site CA (its CA is {pinned}): forged or from "
                                        "another site")
        except (KeyError, ValueError, TypeError, InvalidSignature):
            verdict.problems.append("the manifest's signature does not hold: the manifest was changed after signing, "
                                    "or signed by someone else")
    listed = manifest.get("files") or {}
    present = listing(folder)
    for rel in sorted(set(listed) - set(present)):
        verdict.problems.append(f"file removed: {rel}")
    for rel in sorted(set(present) - set(listed)):
        verdict.problems.append(f"file added: {rel}")
    for rel in sorted(set(listed) & set(present)):
        if listed[rel].get("sha256") != present[rel]["sha256"]:
            verdict.problems.append(f"file changed: {rel}")
    verdict.files = len(present)
    return verdict
