"""Anchors outside the database (issue 14, item 5): the trail head (record id and hash), signed by the user who
hands it out, in a receipt file the monitor keeps, in every signed PDF, in every export and backup.

``verify --receipt FILE`` (a receipt, a signed PDF, a CSV export or a backup) then detects a trail that is shorter
than the receipt or differs from it at the receipt's record: a rollback of the database together with its key file
to a state older than the receipt, or a rewritten trail. What happened after the newest receipt cannot be checked
this way (see the README).
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msc_sle_crf.audit import KeyDirectory
from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.fileutil import check_input_file
from msc_sle_crf.i18n import L
from msc_sle_crf.security.personal import b64, unb64
from msc_sle_crf.security.personal import verify as verify_signature
from msc_sle_crf.store.site import anchor_message

FORMAT = "msc-sle-crf-receipt"
VERSION = 1
MAX_RECEIPT_BYTES = 64 * 1024**3  # a backup may be large; only its manifest is read
_HEAD_TEXT = re.compile(r"trail #(\d+) ([0-9a-f]{64})")


@dataclass(frozen=True)
class Head:
    """A trail head as handed out: which site, which record, its hash; who signed it (when known)."""

    source: str
    db_id: str | None
    record_id: int
    record_hash: str
    ts_utc: str | None = None
    signer: str | None = None
    sig: str | None = None

    def text(self) -> str:
        """The head as printed on a page or in a CSV: what ``load`` finds again in the file."""
        return f"trail #{self.record_id} {self.record_hash}"


def head_document(db_id: str, record_id: int, record_hash: str, ts_utc: str, signer: Any) -> dict[str, Any]:
    """A signed head (a receipt's content; also in a backup's manifest)."""
    return {"format": FORMAT, "version": VERSION, "db_id": db_id, "record_id": record_id,
            "record_hash": record_hash, "ts_utc": ts_utc, "signer": signer.username,
            "signing_key": b64(signer.public.sign),
            "sig": b64(signer.sign(anchor_message(db_id, record_id, record_hash, ts_utc)))}


def _refuse(path: Path, en: str, fr: str) -> ValidationError:
    return ValidationError(Msg.INPUT_UNREADABLE, path=str(path)[:300], reason=L(en, fr))


def _of_document(path: Path, data: Any) -> Head:
    if isinstance(data, dict) and data.get("format") == "msc-sle-crf-export":  # an export's MANIFEST.json
        data = data.get("trail_head")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _refuse(path, "not a receipt of this program", "ce n'est pas un reçu de ce programme")
    try:
        db_id, record_hash = data["db_id"], data["record_hash"]
        if not isinstance(db_id, str) or not db_id or not isinstance(record_hash, str):
            raise TypeError
        return Head(str(path), db_id, _record_id(path, data["record_id"]), record_hash,
                    str(data.get("ts_utc") or ""), data.get("signer"), data.get("sig"))
    except (KeyError, TypeError, ValueError):
        raise _refuse(path, "the receipt is incomplete", "le reçu est incomplet") from None


def _record_id(path: Path, value: Any) -> int:
    """A record number as the trail can hold it (SQLite integers are 64-bit): anything else is not a receipt."""
    try:
        number = int(value)
    except (TypeError, ValueError):  # not a number, or more digits than Python converts
        number = 0
    if isinstance(value, bool) or not 1 <= number < 1 << 63:
        raise _refuse(path, "its record number is out of range", "son numéro d'enregistrement est hors limites")
    return number


def load(path: Path) -> Head:
    """The head a file carries: a receipt (JSON), a backup (its manifest), a signed PDF or an export (the
    'trail #N <hash>' text). One clear line when the file holds none."""
    path = check_input_file(path, max_bytes=MAX_RECEIPT_BYTES)
    if tarfile.is_tarfile(path):
        try:
            with tarfile.open(path, mode="r:") as tar:
                member = tar.getmember("MANIFEST.json")
                raw = tar.extractfile(member)
                manifest = json.loads(raw.read(1 << 20)) if raw is not None else {}
        except (KeyError, tarfile.TarError, ValueError, OSError):
            raise _refuse(path, "a tar file without a backup manifest", "une archive sans manifeste de "
                                                                         "sauvegarde") from None
        return _of_document(path, manifest.get("trail_head"))
    with open(path, "rb") as fh:
        data = fh.read(32 * 1024 * 1024)
    if data[:1] == b"{":
        try:
            return _of_document(path, json.loads(data.decode("utf-8")))
        except (UnicodeDecodeError, ValueError):
            raise _refuse(path, "not valid JSON", "JSON non valide") from None
    text = _pdf_reason(data) if data.startswith(b"%PDF") else data.decode("utf-8", errors="replace")
    matches = _HEAD_TEXT.findall(text or "")
    if not matches:
        raise _refuse(path, "it carries no trail head", "il ne porte pas de tête de piste")
    record_id, record_hash = matches[-1]
    return Head(str(path), None, _record_id(path, record_id), record_hash)


def _pdf_reason(data: bytes) -> str:
    """The reason of the PDF's signature (where the trail head is written when the PDF is signed)."""
    try:
        from pyhanko.pdf_utils.reader import PdfFileReader

        reader = PdfFileReader(io.BytesIO(data))
        sigs = reader.embedded_signatures
        if sigs:
            return str(sigs[-1].sig_object.get("/Reason", ""))
    except Exception:  # a damaged PDF: fall back to the raw bytes
        return data.decode("latin-1", errors="replace")
    return ""


def check(conn: Any, head: Head, db_id: str) -> list[str]:
    """Problems of the trail against one head (empty: the trail holds the receipt's record, unchanged)."""
    name = Path(head.source).name
    if head.db_id is not None and head.db_id != db_id:
        return [f"receipt {name}: it belongs to another site database ({head.db_id[:8]})"]
    row = conn.execute("SELECT hash FROM audit_event WHERE id = ?", (head.record_id,)).fetchone()
    if row is None:
        last = conn.execute("SELECT max(id) FROM audit_event").fetchone()[0] or 0
        return [f"receipt {name}: the trail is shorter than the receipt (it ends at #{last}; the receipt names "
                f"#{head.record_id}): records were removed or older files were put back"]
    if row[0] != head.record_hash:
        return [f"receipt {name}: the trail differs from the receipt at record #{head.record_id} (rewritten or "
                "replaced)"]
    return []


def check_anchor(conn: Any, anchor: dict[str, Any] | None, directory: KeyDirectory, db_id: str) -> list[str]:
    """The key file's anchor must be signed by the author of the record it names, with their key at that time
    (re-anchoring after removing the end of the trail then needs that author's password)."""
    if not anchor:
        return []
    row = conn.execute("SELECT signer FROM audit_event WHERE id = ?", (anchor.get("id"),)).fetchone()
    signer = str(anchor.get("signer"))
    if row is None:
        return []  # a missing anchored record is reported by the chain check
    if "sig" not in anchor:
        # an anchor from before signing existed may name a record from before too; a signed record's may not
        return [] if row[0] is None else [f"the key file's anchor (record #{anchor.get('id')}) is not signed"]
    if row[0] is not None and row[0] != signer:
        return [f"the key file's anchor (record #{anchor.get('id')}) is signed by '{signer}', but that record was "
                f"written by '{row[0]}': the end of the trail was removed and the anchor rewritten"]
    account = directory.get(signer)
    candidates = account.keys_at_time(str(anchor.get("ts", ""))) if account is not None else []
    try:
        raw = unb64(str(anchor["sig"]))
    except ValueError:
        raw = b""
    message = anchor_message(db_id, int(anchor["id"]), str(anchor["hash"]), str(anchor.get("ts", "")))
    if not any(verify_signature(keys.sign, raw, message) for keys in candidates):
        return [f"the key file's anchor (record #{anchor.get('id')}) is not signed by '{signer}'"]
    return []


def current_head(ctx: Any) -> dict[str, Any]:
    """The trail head now, signed by the signed-in user."""
    from sqlalchemy import select

    from msc_sle_crf.store.tables import AuditEvent

    with ctx.read() as session:
        row = session.execute(select(AuditEvent.id, AuditEvent.hash, AuditEvent.ts_utc)
                              .order_by(AuditEvent.id.desc()).limit(1)).one()
    return head_document(ctx.site.keyfile.db_id, int(row[0]), str(row[1]), str(row[2]),
                         ctx.site.signer(ctx.actor.username))


def write_receipt(ctx: Any, target: Path | str) -> Head:
    """A receipt the monitor keeps (any signed-in user may write one): the trail head, signed by its writer, and
    the site CA's fingerprint. Written atomically where the user chose (never over a site file); audited."""
    from msc_sle_crf.audit import Action
    from msc_sle_crf.errors import StoreError
    from msc_sle_crf.fileutil import atomic_write_bytes, safe_output_path

    ctx.check_session()
    path = safe_output_path(target, db_path=ctx.site.db_path)
    document = current_head(ctx)
    with ctx.read() as session:
        from msc_sle_crf.store.site import CA_CERT_SETTING
        from msc_sle_crf.store.tables import SiteSetting

        ca_row = session.get(SiteSetting, CA_CERT_SETTING)
    if ca_row is not None:
        from msc_sle_crf.security import ca

        document["ca_fingerprint"] = ca.fingerprint(ca_row.value)
    try:
        atomic_write_bytes(path, json.dumps(document, indent=1, sort_keys=True).encode() + b"\n", mode=0o644)
    except OSError as exc:
        raise StoreError(Msg.OUTPUT_NOT_WRITABLE, path=str(path), detail=exc.strerror or str(exc)) from None
    ctx.audit_alone(Action.RECEIPT, new_value=f"#{document['record_id']} {document['record_hash']}",
                    detail=f"receipt -> {path.name}")
    return _of_document(path, document)
