"""Packets between the workstations of one site (issue 18, docs/workstations.md "Packets"). No Qt.

The interface other parts call (the hub's ``hub ingest`` calls ``import_packet`` on a PostgreSQL session)::

    key = secret.site_packet_key(session, clock, ...)      # the site's packet secret (sync/secret.py)
    result = export_packet(session, clock, workstation_label, signer, actor_username, actor_role, study,
                           out_dir, packet_key=key, db_id=db_id, ca_fingerprint=fp) -> ExportResult | None
    result = import_packet(session, clock, workstation_label, signer, actor_username, actor_role, packet_bytes,
                           *, packet_key=key, expected_db_id=db_id) -> ImportResult

Both work inside the caller's write transaction (the caller commits; an exception leaves nothing), use ORM/Core
only (no SQLite-only SQL), and append to the trail with ``audit.append_many``. A refused packet raises
``PacketRefused`` (a ``ValidationError``: one bilingual line). A packet already imported returns an
``ImportResult`` with ``duplicate=True`` and changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import io
import json
import operator
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from msc_sle_crf import audit
from msc_sle_crf.audit import Action, AuditEntry
from msc_sle_crf.clock import Clock, iso_utc
from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.fileutil import backup_kind, fsync_dir
from msc_sle_crf.i18n import L
from msc_sle_crf.security import ca, packet_secret
from msc_sle_crf.security.personal import Signer
from msc_sle_crf.security.personal import verify as verify_signature
from msc_sle_crf.store.tables import AuditEvent, SiteSetting, SyncPacketIn, SyncPacketOut
from msc_sle_crf.sync import instances, refusal_words
from msc_sle_crf.sync import rows as R
from msc_sle_crf.sync.identity import FIRST_WS, this_workstation
from msc_sle_crf.sync.instances import Instance
from msc_sle_crf.sync.ownership import added_block, added_ws, handover_problem, number_problem, opened_ws

MAGIC = b"MSC-SLE-CRF PACKET 1\n"
KEY_INFO = b"msc-sle-crf/packet/v1"
MANIFEST_CONTEXT = b"msc-sle-crf/packet-manifest/v1\x00"
PARTS = ("records.jsonl", "rows.json", "archival.xml")
# Each side's own bookkeeping: copied like any record (their authors' signatures must stay checkable) but not part
# of the set of original records two workstations compare (docs/workstations.md).
BOOKKEEPING = frozenset({"packet_export", "packet_import"})
# Records that alone are no reason for a packet (a sign-in to export, the export itself): they travel with the next.
NOT_NEWS = frozenset({*BOOKKEEPING, "packet_secret", "login", "logout", "user_switch", "lock", "unlock", "receipt",
                      "audit_verify"})
MAX_PACKET_BYTES = 2 * 1024**3


class PacketRefused(ValidationError):
    """One bilingual line: why the packet was not applied (nothing was). The checks say what they found in English;
    the French line says it in French (``refusal_words``: before, "n'est pas authentique (its rows are not what its
    records say: ...)")."""

    def __init__(self, msg: Msg, **params: Any) -> None:
        if msg in (Msg.PACKET_FORGED, Msg.PACKET_ALTERED) and isinstance(params.get("detail"), str):
            params["detail"] = refusal_words.detail_words(params["detail"])
        super().__init__(msg, **params)


def packet_key(db_key: bytes, db_id: str) -> bytes:
    """The first version's packet key (HKDF of the database key): since the site's packet secret
    (``sync/secret.py``: unchanged by key rotation) it is only the secret of a site forked before, and what a packet
    of a workstation not yet upgraded may be encrypted with."""
    return packet_secret.legacy_key(db_key, db_id)


def file_name(site_number: str, ws: str, seq: int) -> str:
    return f"PACKET-{site_number}-{ws}-{seq:05d}.crfpkt"


def manifest_message(manifest: dict[str, Any]) -> bytes:
    return MANIFEST_CONTEXT + json.dumps(manifest, sort_keys=True, separators=(",", ":"),
                                         ensure_ascii=False).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_fields(row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(audit.VERIFY_FIELDS, row, strict=True))


def _select_records(after: int) -> Any:
    cols = [getattr(AuditEvent, f) for f in audit.VERIFY_FIELDS]
    return select(*cols).where(AuditEvent.id > after).order_by(AuditEvent.id)


_SETUP_ACTIONS = ("workstation_add", "workstation_open")


def setup_records(session: Session, after: int = 0) -> list[tuple[Any, ...]]:
    """The trail's ``workstation_add`` / ``workstation_open`` records (``audit.VERIFY_FIELDS``), in order: which
    workstations the site created, which opening binds each, which workstation wrote what. Read once per import
    (the key directory, the instance binding, the handover rule and the rows' cross-check all use them)."""
    return [tuple(r) for r in session.execute(_select_records(after).where(AuditEvent.action.in_(_SETUP_ACTIONS)))]


def ca_fingerprint(session: Session) -> str | None:
    from msc_sle_crf.store.site import CA_CERT_SETTING

    pem = session.get(SiteSetting, CA_CERT_SETTING)
    return ca.fingerprint(pem.value) if pem is not None else None


def site_number(session: Session) -> str:
    row = session.get(SiteSetting, "site_number")
    return row.value if row is not None else "00"


# ----- export --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportResult:
    path: Path
    seq: int
    file_oid: str
    records: int
    first_record: int
    last_record: int


def export_packet(session: Session, clock: Clock, workstation_label: str,  # noqa: PLR0917
                  signer: Signer, actor_username: str, actor_role: str, study: Any, out_dir: Path, *,
                  packet_key: bytes, db_id: str, key_header: dict[str, Any] | None = None) -> ExportResult | None:
    """Write this workstation's records since its last packet; None when there is nothing new (no file).
    ``key_header``: the generation of the site's packet secret ``packet_key`` is (``secret.Generation.header``: its
    fingerprint and, if renewed, its seal), named in the header, which is the AES-GCM associated data."""
    ws = this_workstation(session)
    # This workstation's own packets: a fork inherits its origin's rows of this table with the rest of the database
    # (they name the origin in their FileOID); the table's key is a local number, the packet's seq is per workstation.
    prefix = f"{db_id}.{ws.id}."
    last = session.execute(select(SyncPacketOut).where(SyncPacketOut.file_oid.startswith(prefix, autoescape=True))
                           .order_by(SyncPacketOut.seq.desc()).limit(1)).scalar_one_or_none()
    row_no = int(session.execute(select(func.max(SyncPacketOut.seq))).scalar() or 0) + 1
    # a fork's first packet starts where it began (the trail before is the origin's, shared by both)
    after = last.last_record if last is not None else int((ws.fork or {}).get("id") or 0)
    records = [record_fields(r) for r in session.execute(_select_records(after)).all()]
    if not any(r["action"] not in NOT_NEWS or r["origin"] is not None for r in records):
        return None
    seq = (int(last.file_oid[len(prefix):]) if last is not None else 0) + 1
    file_oid = f"{db_id}.{ws.id}.{seq}"
    path = out_dir / file_name(site_number(session), ws.id, seq)
    if os.path.lexists(path):  # never over a file the user has (a packet of before a restore, of a twin...)
        raise ValidationError(Msg.PACKET_FILE_EXISTS, path=str(path), seq=seq)
    here = instances.own(session, ws.id)
    now = iso_utc(clock.now())
    records_bytes = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"
                            for r in records).encode("utf-8")
    rows_bytes = json.dumps(R.dump(session, records), ensure_ascii=False, sort_keys=True,
                            separators=(",", ":")).encode("utf-8")
    xml_bytes = R.archival_xml(session, study, records, file_oid=file_oid, prior=last.file_oid if last else None,
                               created=now)
    parts = {"records.jsonl": records_bytes, "rows.json": rows_bytes, "archival.xml": xml_bytes}
    manifest = {
        "format": "msc-sle-crf packet", "version": 1, "db_id": db_id, "ca_fingerprint": ca_fingerprint(session),
        "ws": ws.id, "seq": seq, "file_oid": file_oid, "prior_file_oid": last.file_oid if last else None,
        "first_record": {"id": records[0]["id"], "hash": records[0]["hash"]},
        "last_record": {"id": records[-1]["id"], "hash": records[-1]["hash"]},
        "prev_hash": records[0]["prev_hash"], "records": len(records), "created_utc": now,
        "username": signer.username, "parts": {name: _sha(data) for name, data in parts.items()},
        "instance": here.manifest() if here is not None else None,  # which opening of the workstation file wrote it
    }
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
    signature = _b64(signer.sign(manifest_message(manifest)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in (("manifest.json", manifest_bytes), ("manifest.sig", signature.encode("ascii")),
                           *parts.items()):
            zf.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0)), data)
    header = MAGIC + json.dumps({**(key_header or {}), "db_id": db_id, "ws": ws.id, "seq": seq, "file_oid": file_oid},
                                sort_keys=True).encode("ascii") + b"\n"
    nonce = os.urandom(12)
    blob = header + nonce + AESGCM(packet_key).encrypt(nonce, buffer.getvalue(), header)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)  # private from byte 0
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        session.add(SyncPacketOut(seq=row_no, file_oid=file_oid, prior_file_oid=last.file_oid if last else None,
                                  first_record=records[0]["id"], last_record=records[-1]["id"],
                                  last_hash=records[-1]["hash"], sha256=_sha(blob), created_utc=now,
                                  username=actor_username))
        audit.append_many(session, clock, workstation_label, [AuditEntry(
            Action.PACKET_EXPORT, actor_username, actor_role, new_value=file_oid,
            detail=json.dumps({"seq": seq, "records": [records[0]["id"], records[-1]["id"]],
                               "sha256": _sha(blob), "file": path.name}, sort_keys=True))], signer)
        session.flush()
        _place(tmp, path, seq)  # the caller's commit follows; a failed commit leaves a file nobody recorded
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportResult(path, seq, file_oid, len(records), records[0]["id"], records[-1]["id"])


def _place(tmp: Path, path: Path, seq: int) -> None:
    """Move the written packet to its name, never over an existing file (a hard link fails if the name exists; a
    file system without links, e.g. a FAT USB key, is checked just before the rename)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise ValidationError(Msg.PACKET_FILE_EXISTS, path=str(path), seq=seq) from None
    except OSError:
        if os.path.lexists(path):
            raise ValidationError(Msg.PACKET_FILE_EXISTS, path=str(path), seq=seq) from None
        os.replace(tmp, path)
    else:
        tmp.unlink()
    fsync_dir(path.parent)


# ----- reading a packet ----------------------------------------------------------------------------------------------
@dataclass
class Packet:
    manifest: dict[str, Any]
    records: list[dict[str, Any]]
    rows: dict[str, Any]
    sha256: str
    archival: bytes = b""  # archival.xml, when asked for (the import does not read it)


def _decrypt(keys: Sequence[bytes], rest: bytes | memoryview, aad: bytes) -> bytes | None:
    for key in keys:
        try:
            return AESGCM(key).decrypt(rest[:12], rest[12:], aad)
        except InvalidTag:
            continue
    return None


def header_of(data: bytes) -> dict[str, Any] | None:
    """A packet's clear header (None: not one): which site, workstation and number, and which generation of the
    site's packet secret it is encrypted with (``key``, and its ``seal`` if renewed)."""
    if not data.startswith(MAGIC):
        return None
    end = data.find(b"\n", len(MAGIC))
    try:
        header = json.loads(data[len(MAGIC):end]) if end > 0 else None
    except ValueError:
        return None
    return header if isinstance(header, dict) else None


def open_packet(data: bytes, *, packet_key: bytes | Sequence[bytes], expected_db_id: str, name: str,
                own_ws: str | None = None, own_instance: Instance | None = None, archival: bool = True) -> Packet:
    """Decrypt and check a packet's parts (not yet its records against this trail). ``packet_key``: the key, or the
    keys to try in turn (the site's secret, then the first version's key). ``archival=False``: archival.xml is
    checked against the manifest but not kept (``Packet.archival`` stays empty)."""
    if not data.startswith(MAGIC):
        _not_a_packet(data, name)
    end = data.find(b"\n", len(MAGIC))
    try:
        header = json.loads(data[len(MAGIC):end]) if end > 0 else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or not isinstance(header.get("db_id"), str):
        raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail="header unreadable")
    if header["db_id"] != expected_db_id:
        raise PacketRefused(Msg.PACKET_OTHER_SITE, path=name, other=str(header["db_id"])[:40])
    own = own_ws is not None and header.get("ws") == own_ws
    if own and own_instance is None:
        raise PacketRefused(Msg.PACKET_OWN, path=name, ws=own_ws)
    # the file is read in place (memory views, no copy of it); what is decrypted is released once read
    aad, rest = data[:end + 1], memoryview(data)[end + 1:]
    if len(rest) < 12 + 16:
        raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail="truncated")
    plain = _decrypt([packet_key] if isinstance(packet_key, bytes) else packet_key, rest, aad)
    del rest
    if plain is None:
        raise PacketRefused(Msg.PACKET_ALTERED, path=name,
                            detail="it does not decrypt with this site's key: truncated, altered, or of another "
                                   "site") from None
    try:
        zf = zipfile.ZipFile(io.BytesIO(plain))
    except (ValueError, zipfile.BadZipFile) as exc:
        raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail=f"content unreadable: {exc}"[:200]) from None
    del plain  # the zip's buffer holds it until the parts are read
    with zf:
        try:
            for part in ("manifest.json", "manifest.sig", *PARTS):
                zf.getinfo(part)
            manifest = json.loads(zf.read("manifest.json"))
            signature = zf.read("manifest.sig")
        except (KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail=f"content unreadable: {exc}"[:200]) from None
        if not isinstance(manifest, dict) or manifest.get("db_id") != expected_db_id or any(
                manifest.get(k) != header.get(k) for k in ("ws", "seq", "file_oid")):
            raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail="the manifest does not match the header")
        if own:  # its own packet, unless another database was opened from this workstation's file
            assert own_instance is not None and own_ws is not None
            _refuse_twin(Instance.of(manifest.get("instance")), own_instance, own_ws, name, here=True,
                         sender=own_ws)
            raise PacketRefused(Msg.PACKET_OWN, path=name, ws=own_ws)
        records, rows_bytes, xml = _read_parts(zf, manifest, name, archival)
    # the decrypted file is released here: rows.json is parsed after
    packet = Packet(manifest, _parsed(records, name), _parse_rows(rows_bytes, name), _sha(data), xml)
    packet.manifest["_sig"] = signature.decode("ascii", "replace")
    return packet


_UNREADABLE = object()


def _read_parts(zf: zipfile.ZipFile, manifest: dict[str, Any], name: str,
                keep_archival: bool) -> tuple[Any, bytes, bytes]:
    """The parts, each read once from the zip and checked against the manifest's hash: the records parsed line by
    line as they are hashed (the file's text is never held whole), ``rows.json``'s bytes (parsed by the caller
    once the decrypted file is let go), ``archival.xml`` hashed in pieces unless it is kept."""
    wanted = manifest.get("parts")
    wanted = wanted if isinstance(wanted, dict) else {}
    try:
        digest, records = _read_records(zf)
        if digest != wanted.get("records.jsonl"):
            raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail="records.jsonl does not match the manifest")
        rows_bytes = zf.read("rows.json")
        if _sha(rows_bytes) != wanted.get("rows.json"):
            raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail="rows.json does not match the manifest")
        xml_bytes = zf.read("archival.xml") if keep_archival else b""
        xml = hashlib.sha256(xml_bytes)
        if not keep_archival:
            with zf.open("archival.xml") as fh:
                while chunk := fh.read(1 << 20):
                    xml.update(chunk)
        if xml.hexdigest() != wanted.get("archival.xml"):
            raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail="archival.xml does not match the manifest")
    except (ValueError, zipfile.BadZipFile) as exc:  # a part's CRC (only someone holding the key can make one)
        raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail=f"content unreadable: {exc}"[:200]) from None
    return records, rows_bytes, xml_bytes


def _parsed(records: Any, name: str) -> list[Any]:
    if records is _UNREADABLE:
        raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail="records unreadable")
    return cast(list[Any], records)


def _parse_rows(rows_bytes: bytes, name: str) -> Any:
    """rows.json, its short repeated texts (units, users, times...) shared: ~150,000 values a packet."""
    shared: dict[str, str] = {}

    def share(obj: dict[str, Any]) -> dict[str, Any]:
        for key, value in obj.items():
            if type(value) is str and len(value) < 64:
                obj[key] = shared.setdefault(value, value)
        return obj

    try:
        return json.loads(rows_bytes.decode("utf-8"), object_hook=share)
    except ValueError:  # UnicodeDecodeError included
        raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail="records unreadable") from None


def _read_records(zf: zipfile.ZipFile) -> tuple[str, Any]:
    """records.jsonl's hash and its records (``_UNREADABLE`` if a line is not JSON in UTF-8), read line by line.
    A line ends at "\n" only: ``str.splitlines()`` also cut at U+2028/U+2029, U+0085, U+001C-U+001E..., which JSON
    leaves unescaped in a free text (a reason pasted from a word processor). A record with exactly the trail's
    fields is kept with the field names and the short repeated texts (users, roles, actions, forms...) shared
    between records, and its ``prev_hash`` shared with the record before's ``hash``: a workstation's packet holds
    ~175,000 records, held through the whole import (430 MB parsed as is, 106 MB so)."""
    fields = tuple(audit.VERIFY_FIELDS)
    values_of = operator.itemgetter(*fields)
    digest = hashlib.sha256()
    records: list[Any] = []
    shared: dict[str, str] = {}
    prev = ""
    readable = True
    with zf.open("records.jsonl") as fh:
        for line in fh:
            digest.update(line)
            if not readable or line == b"\n":
                continue
            try:
                record = json.loads(line.decode("utf-8"))
            except ValueError:  # UnicodeDecodeError included
                readable = False
                continue
            if type(record) is dict and len(record) == len(fields):
                try:
                    values = values_of(record)
                except KeyError:
                    pass  # other fields: refused by the record checks
                else:
                    record = dict(zip(fields, [shared.setdefault(v, v) if type(v) is str and len(v) < 64 else v
                                               for v in values], strict=True))
                    if record["prev_hash"] == prev:
                        record["prev_hash"] = prev
                    prev = record["hash"]
            records.append(record)
    return digest.hexdigest(), records if readable else _UNREADABLE


def _not_a_packet(data: bytes, name: str) -> None:
    kind = backup_kind(data)
    if kind == "workstation":
        raise PacketRefused(Msg.PACKET_IS_WORKSTATION_FILE, path=name)
    if kind == "backup":
        raise PacketRefused(Msg.PACKET_IS_BACKUP, path=name)
    raise PacketRefused(Msg.PACKET_UNREADABLE, path=name, detail=L("no packet header", "pas d'en-tête de paquet"))


def _refuse_twin(incoming: Instance | None, known: Instance | None, ws: str, name: str, *,
                 here: bool = False, sender: str = "") -> None:
    """A packet (or relayed records) of another opening of a workstation file than the one known here. ``here``:
    ``ws`` is this database's own workstation; ``sender``: the workstation whose packet it is."""
    if incoming is None or known is None or incoming.id == known.id:
        return
    if not here:  # a third workstation: the first opening it heard of is the site's
        raise PacketRefused(Msg.PACKET_TWIN, path=name, ws=ws, other=incoming.id, other_when=incoming.when(),
                            known=known.id, when=known.when(),
                            known_where=L("the one whose records reached this database first",
                                          "celle dont les enregistrements sont arrivés ici en premier"))
    if sender == ws:  # the other opening's own packet: which one is the site's, the others' refusals say
        raise PacketRefused(Msg.PACKET_TWIN_OWN, path=name, ws=ws, other=incoming.id, other_when=incoming.when(),
                            known=known.id, when=known.when())
    # another workstation took the other opening first: this database is the duplicate
    raise PacketRefused(Msg.PACKET_TWIN_HERE, path=name, ws=ws, other=incoming.id, other_when=incoming.when(),
                        known=known.id, when=known.when(), sender=sender)


def _check_instances(session: Session, packet: Packet, own_ws: str, name: str,
                     setup: Sequence[tuple[Any, ...]]) -> instances.Binder:
    """The packet's writer, and every workstation whose set-up records it carries (its own, relayed ones), must be
    the opening of its workstation file this database knows (the first one it heard of), if it knows one. A
    workstation whose ``workstation_add`` holds a one-time token is known only as an opening that presented it
    (here, or in the packet's own records): a packet naming another opening is refused (sync/instances.py)."""
    tokens: dict[str, str] = {}
    for row in setup:
        if row[6] == "workstation_add":  # audit.VERIFY_FIELDS: action, role, item, new_value
            instances.note_add(tokens, row[4], row[10], row[13])
    for r in packet.records:  # the packet's own relayed add records count too (their signatures are checked after)
        if r.get("action") == "workstation_add":
            instances.note_add(tokens, r.get("role"), r.get("item"), r.get("new_value"))
    binder = instances.Binder(tokens)
    for row in setup:  # the binding here (instances.known, from the same records)
        found = binder.feed(row[10], row[13], row[1], row[2], row[15])
        bound_ws = opened_ws(row[15])
        if found is not None and bound_ws is not None:
            binder.bind(bound_ws, found)
    known = binder.known
    m = packet.manifest
    origin_ws = str(m.get("ws"))
    incoming_own = Instance.of(m.get("instance"))
    _refuse_twin(incoming_own, known.get(origin_ws), origin_ws, name, here=origin_ws == own_ws, sender=origin_ws)
    for r in packet.records:
        if r.get("action") != "workstation_open":
            continue
        ws = opened_ws(r.get("detail"))
        incoming = binder.feed(r.get("item"), r.get("new_value"), r.get("ts_utc"), r.get("utc_offset_min"),
                               r.get("detail"))
        if ws is None or incoming is None:
            continue
        _refuse_twin(incoming, known.get(ws), ws, name, here=ws == own_ws, sender=origin_ws)
        binder.bind(ws, incoming)
    return binder


def _check_opened(packet: Packet, binder: instances.Binder, own_ws: str, name: str) -> None:
    """A packet of a workstation whose ``workstation_add`` holds a one-time token names the opening that presented
    it (bound here, or by the packet's own records): a copy of another workstation relabelled WS-nn does not."""
    origin_ws = str(packet.manifest.get("ws"))
    if origin_ws in binder.tokens and origin_ws != own_ws:
        incoming = Instance.of(packet.manifest.get("instance"))
        bound = binder.known.get(origin_ws)
        if incoming is None or bound is None or bound.id != incoming.id:
            raise PacketRefused(Msg.PACKET_WS_UNOPENED, path=name, ws=origin_ws,
                                other=incoming.id if incoming is not None else "-")


def _added(setup: Sequence[tuple[Any, ...]], packet: Packet) -> set[str]:
    """The workstations the site created: WS-01 and each ``workstation_add`` by an administrator, here or among the
    packet's records (checked first)."""
    out = {FIRST_WS}
    for row in setup:
        ws = added_ws(row[4], row[10], row[13]) if row[6] == "workstation_add" else None
        if ws is not None:
            out.add(ws)
    for r in packet.records:
        if r.get("action") == "workstation_add":
            ws = added_ws(r.get("role"), r.get("item"), r.get("new_value"))
            if ws is not None:
                out.add(ws)
    return out


def _check_workstations(session: Session, packet: Packet, copies: Sequence[dict[str, Any]], name: str, *,
                        own_ws: str, setup: Sequence[tuple[Any, ...]]) -> None:
    """A packet, and every record it brings, comes from a workstation the site created; each handover it brings is
    valid (sync/ownership.handover_problem: on the owner then, by a role that may, to a created workstation)."""
    from msc_sle_crf.store.tables import Subject

    added = _added(setup, packet)
    origin_ws = str(packet.manifest.get("ws"))
    for ws in [origin_ws, *sorted({str(c["ws"]) for c in copies} - {origin_ws})]:
        if ws not in added and ws != own_ws:
            raise PacketRefused(Msg.PACKET_WS_NEVER_ADDED, path=name, ws=ws)
    owners: dict[str, str | None] = {}
    for c in copies:
        r = c["record"]
        subject = r.get("subject")
        if not subject:
            continue
        if r.get("action") == "create" and r.get("form") == "subject":
            try:
                data = json.loads(r.get("new_value") or "{}")
            except ValueError:
                data = {}
            owners[subject] = data.get("owner_ws") if isinstance(data, dict) else None
        elif r.get("action") == "subject_handover":
            if subject not in owners:
                owners[subject] = session.execute(select(Subject.owner_ws).where(
                    Subject.subject_number == subject)).scalar()
            problem = handover_problem(role=r.get("role"), made_on=str(c["ws"]), owner=owners[subject],
                                       target=r.get("new_value"), added=added)
            if problem is not None:
                raise PacketRefused(Msg.PACKET_HANDOVER_INVALID, path=name, subject=subject,
                                    author=str(r.get("username")), ws=str(c["ws"]), target=str(r.get("new_value")),
                                    why=problem)
            owners[subject] = r.get("new_value")


def _blocks(setup: Sequence[tuple[Any, ...]], packet: Packet) -> dict[str, tuple[int, int]]:
    """The subject numbers the site gave each workstation it added (valid ``workstation_add`` records, here or among
    the packet's records)."""
    out: dict[str, tuple[int, int]] = {}
    found = [added_block(row[4], row[10], row[13]) for row in setup if row[6] == "workstation_add"]
    found += [added_block(r.get("role"), r.get("item"), r.get("new_value")) for r in packet.records
              if r.get("action") == "workstation_add"]
    for block in found:
        if block is not None:
            out.setdefault(block[0], block[1])
    return out


def _check_subject_numbers(packet: Packet, copies: Sequence[dict[str, Any]], name: str, *,
                           setup: Sequence[tuple[Any, ...]]) -> None:
    """Every subject the packet registers was registered inside the block of numbers the site gave the workstation
    that wrote it (sync/ownership.number_problem; insider attack B, finding 1): a number taken from another
    workstation's block is refused before anything is applied, so that workstation's own packets keep flowing."""
    blocks: dict[str, tuple[int, int]] | None = None
    for c in copies:
        r = c["record"]
        if r.get("action") != "create" or r.get("form") != "subject" or not r.get("subject"):
            continue
        if blocks is None:
            blocks = _blocks(setup, packet)
        problem = number_problem(str(r["subject"]), str(c["ws"]), blocks)
        if problem is not None:
            raise PacketRefused(Msg.PACKET_SUBJECT_NUMBER, path=name, subject=str(r["subject"]), ws=str(c["ws"]),
                                author=str(r.get("username")), why=problem)


def _check_definitions(session: Session, packet: Packet, name: str,
                       forms: Mapping[str, tuple[str, str, str]] | None) -> None:
    """A form id and version name one definition (insider attack B, finding 2): each form instance the packet brings
    was created under a definition this database holds already, or one with the rules of what it runs (``forms``:
    form id -> (version, hash, text), from the study; None on the hub) and has recorded for that form id and version
    (``formdef.definitions.differs``). A planted forms folder with the same version and another rule is refused in
    one line naming the form, version and subject, before anything is applied. A workstation (``forms`` given)
    refuses a version it neither runs nor holds (a planted form given a new version number: the study is amended by
    installing its forms everywhere, this one first); on the hub a version it does not hold binds as it comes."""
    from msc_sle_crf.formdef.definitions import differs
    from msc_sle_crf.store.tables import FormDefinitionSnapshot as Snap

    instances = packet.rows.get("instances") or []
    if not instances:
        return
    held = {str(h): (str(f), str(v)) for h, f, v in session.execute(select(Snap.content_hash, Snap.form_id,
                                                                           Snap.version))}
    brought = {str(d.get("content_hash")): d for d in packet.rows.get("definitions") or []}
    texts: dict[str, str | None] = {}

    def text_of(content_hash: str) -> str | None:
        if content_hash not in texts:
            texts[content_hash] = session.execute(select(Snap.definition_json).where(
                Snap.content_hash == content_hash)).scalar_one_or_none()
        return texts[content_hash]

    for inst in instances:
        content_hash = str(inst.get("form_hash"))
        claimed = (str(inst.get("form_id")), str(inst.get("form_version")))
        if content_hash in held and held[content_hash] == claimed:
            continue  # recorded here already
        text = brought.get(content_hash, {}).get("definition_json")
        try:
            data = json.loads(text) if isinstance(text, str) else {}
        except ValueError:
            data = {}
        form_id, version = (str(data.get("id")), str(data.get("version"))) if isinstance(data, dict) else claimed
        known: dict[str, str | None] = {h: text_of(h) for h, fv in held.items() if fv == (form_id, version)}
        if forms is not None and form_id in forms and forms[form_id][0] == version:
            known[forms[form_id][1]] = forms[form_id][2]
        if forms is not None and not known:  # a version this workstation neither runs nor holds (a bumped one)
            raise PacketRefused(Msg.PACKET_DEFINITION_UNKNOWN, path=name, form=form_id, version=version,
                                subject=str(inst.get("subject"))[:80],
                                runs=forms[form_id][0] if form_id in forms else "-")
        other = differs(content_hash, text if isinstance(text, str) else None, known)
        if other is None and (form_id, version) != claimed:  # an instance naming another form than its text
            other = "-"
        if other is not None:
            raise PacketRefused(Msg.PACKET_DEFINITION_DIFFERS, path=name, form=claimed[0], version=claimed[1],
                                subject=str(inst.get("subject"))[:80], other=content_hash[:12], known=other[:12])


def _disabled_spans(session: Session, account: audit.Account, own_ws: str) -> list[tuple[str, str | None, str]]:
    """When this database holds ``account`` as disabled: (from UTC, until UTC or None, the workstation that disabled
    it), from this trail's own disables and enables and those carried from other workstations' packets."""
    spans: list[tuple[str, str | None, str]] = []
    ids = [rid for rid, _active in account.status]
    times: dict[int, tuple[str, str | None]] = {}
    for chunk in _chunks(ids):
        for rid, ts, origin in session.execute(select(AuditEvent.id, AuditEvent.ts_utc, AuditEvent.origin)
                                               .where(AuditEvent.id.in_(chunk))):
            parsed = audit.parse_origin(origin) if origin else None
            times[int(rid)] = (str(ts), str(parsed.get("ws")) if isinstance(parsed, dict) else None)
    start: tuple[str, str] | None = None
    for rid, active in sorted(account.status):
        ts, where = times.get(rid, ("", None))
        if not active and start is None and ts:
            start = (ts, where or own_ws)
        elif active and start is not None:
            spans.append((start[0], ts or None, start[1]))
            start = None
    if start is not None:
        spans.append((start[0], None, start[1]))
    spans += [(since, None, ws) for ws, since in account.carried_disabled.items()]
    return spans


def _check_disabled_authors(session: Session, copies: Sequence[dict[str, Any]], directory: audit.KeyDirectory,
                            name: str, own_ws: str) -> None:
    """A record signed by an account this database holds as disabled, written after that disable (made here or on
    any workstation whose disable reached this database), is refused with its packet (insider attack B, finding 3:
    a copy of WS-02's database made while she was enabled, never told of her disable, sent "packet 1 of WS-02" and
    so took the real WS-02's number). Her records written before the disable still travel; a record only saying the
    program refused her (``access_denied``) is not hers to judge."""
    spans: dict[str, list[tuple[str, str | None, str]]] = {}
    for c in copies:
        r = c["record"]
        signer = r.get("signer") or r.get("username")
        if not signer or r.get("action") == str(Action.ACCESS_DENIED):
            continue
        if signer not in spans:
            account = directory.get(str(signer))
            spans[signer] = _disabled_spans(session, account, own_ws) if account is not None else []
        ts = str(r.get("ts_utc") or "")
        for since, until, where in spans[signer]:
            if since < ts and (until is None or ts < until):
                raise PacketRefused(Msg.PACKET_AUTHOR_DISABLED, path=name, record=r.get("id"), author=str(signer),
                                    ws=str(c["ws"]), when=instances.local_text(ts), where=where,
                                    disabled=instances.local_text(since))


# ----- import --------------------------------------------------------------------------------------------------------
@dataclass
class ImportResult:
    origin_ws: str
    seq: int
    file_oid: str
    duplicate: bool = False
    imported_utc: str | None = None  # when it was imported (the earlier time, for a duplicate)
    copied: int = 0  # records copied into this trail
    skipped: int = 0  # records already here (this workstation's own, or copied before)
    conflicts: int = 0
    conflict_lines: list[str] = field(default_factory=list)


def directory_of_session(session: Session, setup: Sequence[tuple[Any, ...]] | None = None) -> audit.KeyDirectory:
    """``audit.directory_of`` through a SQLAlchemy session (any database): the binding transactions only.
    ``setup``: ``setup_records(session)`` when already read."""
    directory = audit.KeyDirectory()
    cols = [getattr(AuditEvent, f) for f in audit.STORED_FIELDS]
    for row in setup_records(session) if setup is None else setup:
        directory.note_workstation(row)
    ids = session.execute(select(AuditEvent.id, AuditEvent.origin.is_not(None))
                          .where(AuditEvent.action.in_(audit.BINDING_ACTIONS)).order_by(AuditEvent.id)).all()
    seen_until = 0
    for first, copied in ids:
        if first <= seen_until:
            continue
        if copied:  # another workstation's account records: they bind for its records (audit.carry_copies)
            end = session.execute(select(func.min(AuditEvent.id)).where(AuditEvent.id >= first,
                                                                       AuditEvent.sig.is_not(None))).scalar()
            rows = session.execute(_select_records(first - 1).where(AuditEvent.id <= (end or first))).all()
            seen_until = audit.carry_copies(directory, [tuple(r) for r in rows]) or first
            continue
        end = session.execute(select(func.min(AuditEvent.id)).where(AuditEvent.id >= first,
                                                                   AuditEvent.sig.is_not(None))).scalar()
        span = [tuple(r) for r in session.execute(select(*cols).where(AuditEvent.id >= first,
                                                                     AuditEvent.id <= (end or first))
                                                  .order_by(AuditEvent.id)).all()]
        seen_until = span[-1][0] if span else first
        if not span:
            continue
        if span[0][18] is None:
            binding = audit.binding_of(span[0])
            if binding is not None and directory.signed_from is None:
                directory.note_unsigned(binding)
            continue
        audit.apply_binding_span(directory, span)
    exports = session.execute(select(AuditEvent.new_value, AuditEvent.detail).where(
        AuditEvent.action == "packet_export", AuditEvent.origin.is_(None))).all()
    imports = session.execute(select(AuditEvent.new_value, AuditEvent.ts_utc, AuditEvent.origin).where(
        AuditEvent.action == "packet_import", AuditEvent.origin.is_not(None))).all()
    audit.note_imports(directory, exports, imports)  # what the other workstations learnt of our disables (T1)
    return directory


def _row(r: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(r.get(f) for f in audit.VERIFY_FIELDS)


def _check_records(packet: Packet, directory: audit.KeyDirectory, name: str,  # noqa: PLR0912
                   shared: int = 0) -> None:
    """The packet's records: links, hashes, each transaction signed by its author, copies with their origin."""
    m = packet.manifest
    recs = packet.records
    if not recs or len(recs) != m.get("records"):
        raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail="the number of records does not match")
    if (recs[0].get("id"), recs[0].get("hash")) != tuple((m.get("first_record") or {}).get(k) for k in ("id", "hash")) \
            or (recs[-1].get("id"), recs[-1].get("hash")) != tuple((m.get("last_record") or {}).get(k)
                                                                   for k in ("id", "hash")) \
            or recs[0].get("prev_hash") != m.get("prev_hash"):
        raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail="the records do not match the manifest")
    verifier = audit.TrailVerifier()
    verifier.directory = directory.seen_from(str(m.get("ws")))  # the accounts as the exporter bound them
    verifier.directory.signed_from = verifier.directory.signed_from or 1
    prev = recs[0]["prev_hash"]
    expected_id = recs[0]["id"]
    run: list[Sequence[Any]] = []
    bindings: list[audit.Binding] = []
    learnt: list[audit.Binding] = []  # copies of account records, imported by the packet's workstation
    for n, r in enumerate(recs):
        if n < shared:  # the same record (id and hash) as this trail's: the trail both share from before a fork
            prev, expected_id = r["hash"], r["id"] + 1
            continue
        if set(r) != set(audit.VERIFY_FIELDS):
            raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail=f"record #{r.get('id')} has other fields")
        if r["id"] != expected_id or r["prev_hash"] != prev:
            raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail=f"record #{r['id']} does not follow the one "
                                                                      "before it")
        if audit.record_hash(r) != r["hash"]:
            raise PacketRefused(Msg.PACKET_FORGED, path=name, detail=f"record #{r['id']} was altered after it was "
                                                                     "written")
        if r["signer"] is None:
            raise PacketRefused(Msg.PACKET_FORGED, path=name, detail=f"record #{r['id']} is not signed")
        row = _row(r)
        if run and run[0][18] != r["signer"]:
            raise PacketRefused(Msg.PACKET_FORGED, path=name, detail=f"record #{r['id']} changes signer within a "
                                                                     "transaction")
        run.append(row)
        binding = audit.binding_of(row)
        if binding is not None:
            (bindings if r["origin"] is None else learnt).append(binding)
        if r["origin"] is None:  # its role as the trail binds it to its author on that workstation (A8)
            conflict = audit.role_conflict(verifier.directory, row, verifier.directory.view)
            if conflict is not None:
                raise PacketRefused(Msg.PACKET_ROLE_NOT_ALLOWED if conflict.may_not else Msg.PACKET_ROLE, path=name,
                                    record=conflict.record_id, account=conflict.account, claimed=conflict.claimed,
                                    bound=conflict.bound, action=conflict.action)
        if r["sig"] is not None:
            problem = verifier._seal(run, bindings, r["id"], r["hash"], r["sig"], False)
            if problem is not None:
                raise PacketRefused(Msg.PACKET_FORGED, path=name, detail=f"record #{r['id']}: {problem}"[:300])
            # another workstation's disables it imported: its own records after that import are judged with them
            verifier.directory.learnt(learnt, str(r["ts_utc"]))
            run, bindings, learnt = [], [], []
        prev, expected_id = r["hash"], r["id"] + 1
    if run:
        raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail="its last transaction is not signed (cut short)")


# What each part of rows.json holds, as a refusal names it (en, fr).
_ROW_KINDS = {
    "subjects": ("a subject row", "une ligne de sujet"), "definitions": ("a form definition", "une définition"),
    "instances": ("a form", "un formulaire"), "rows": ("a table row", "une ligne de tableau"),
    "values": ("a value", "une valeur"), "signatures": ("a signature", "une signature"),
    "verifications": ("an SDV mark", "une marque de vérification (SDV)"), "queries": ("a query", "une requête"),
    "messages": ("a query message", "un message de requête"),
    "infusion": ("an infusion-day event", "un événement du jour de perfusion"),
    "conflicts": ("a conflict between workstations", "un conflit entre postes"),
}


def _check_rows_scope(session: Session, packet: Packet, name: str) -> None:  # noqa: PLR0912
    """rows.json may only bring rows of the subjects the packet's records (its own and the copies it relays) name:
    the rows an export writes (``rows.dump``). Anything else (a new subject, an SDV mark or a closed query on a
    subject no record mentions, a row of a form the packet does not carry, a definition no form of it uses or whose
    text is not its hash) refuses the packet before anything is applied."""
    from msc_sle_crf.store.tables import FormInstance, Subject

    rows = packet.rows

    def refuse(kind: str, subject: str) -> None:
        en, fr = _ROW_KINDS.get(kind, (kind, kind))
        raise PacketRefused(Msg.PACKET_ROWS_UNEXPLAINED, path=name, kind=L(en, fr), subject=subject[:80])

    if not isinstance(rows, dict):
        raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail="rows.json is not a table of rows")
    parts: dict[str, list[dict[str, Any]]] = {}
    for key, value in rows.items():
        if key not in _ROW_KINDS or not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise PacketRefused(Msg.PACKET_ALTERED, path=name, detail=f"rows.json: unknown part {str(key)[:40]!r}")
        parts[key] = value
    named = {str(r["subject"]) for r in packet.records if r.get("subject")}
    for row in parts.get("subjects", []):
        if str(row.get("subject_number")) not in named:
            refuse("subjects", f"subject {row.get('subject_number')}")
    instances: dict[Any, str] = {}
    for row in parts.get("instances", []):
        if str(row.get("subject")) not in named:
            refuse("instances", f"subject {row.get('subject')}")
        instances[row.get("id")] = str(row.get("subject"))
    for row in parts.get("infusion", []):
        if str(row.get("subject")) not in named:
            refuse("infusion", f"subject {row.get('subject')}")

    brought = {str(row.get("subject_number")) for row in parts.get("subjects", [])}
    wanted = sorted({str(row.get("subject")) for key in ("instances", "infusion") for row in parts.get(key, [])}
                    - brought)
    held: set[str] = set()
    for chunk in _chunks(wanted):
        held |= set(session.execute(select(Subject.subject_number).where(Subject.subject_number.in_(chunk)))
                    .scalars())
    for number in wanted:  # a form of a subject neither here nor in the packet (its subject row taken out)
        if number not in held:
            refuse(next(k for k in ("instances", "infusion") if any(str(r.get("subject")) == number
                                                                     for r in parts.get(k, []))),
                   f"subject {number} (not on this workstation)")

    def where(iid: Any) -> str:  # the subject a row outside the packet's forms is about, as this database says
        found = session.execute(select(Subject.subject_number).join(FormInstance, FormInstance.subject_id ==
                                                                    Subject.id).where(FormInstance.id == iid)
                                ) .scalar_one_or_none() if isinstance(iid, int) else None
        return f"subject {found}" if found else f"form #{str(iid)[:20]} (not on this workstation)"

    for kind in ("rows", "values", "signatures", "verifications", "queries", "conflicts"):
        for row in parts.get(kind, []):
            if row.get("instance_id") not in instances:
                refuse(kind, where(row.get("instance_id")))
    queries = {row.get("id"): row.get("instance_id") for row in parts.get("queries", [])}
    for row in parts.get("messages", []):
        if row.get("query_id") not in queries:
            refuse("messages", f"query #{str(row.get('query_id'))[:20]}")
    used = {row.get("form_hash") for row in parts.get("instances", [])}
    for row in parts.get("definitions", []):
        text = row.get("definition_json")
        if row.get("content_hash") not in used or not isinstance(text, str) \
                or _sha(text.encode("utf-8")) != row.get("content_hash"):
            refuse("definitions", f"definition {str(row.get('content_hash'))[:12]}")


def _check_manifest_signature(packet: Packet, directory: audit.KeyDirectory, name: str) -> None:
    m = dict(packet.manifest)
    sig = m.pop("_sig", "")
    try:
        raw = base64.b64decode(sig, validate=True)
    except (ValueError, TypeError):
        raw = b""
    keys = directory.keys_for(str(m.get("username")), str(m.get("ws")), str(m.get("created_utc")))
    if not any(verify_signature(k.sign, raw, manifest_message(m)) for k in keys):
        raise PacketRefused(Msg.PACKET_FORGED, path=name,
                            detail=f"the manifest is not signed by {m.get('username')}'s key bound in this trail")


def import_packet(session: Session, clock: Clock, workstation_label: str,  # noqa: PLR0912, PLR0915, PLR0917
                  signer: Signer, actor_username: str, actor_role: str, packet_bytes: bytes, *,
                  packet_key: bytes | Sequence[bytes], expected_db_id: str, name: str = "packet",
                  definitions: Mapping[str, tuple[str, str, str]] | None = None) -> ImportResult:
    """Check and apply one packet inside the caller's write transaction (see the module's docstring)."""
    from msc_sle_crf.sync import merge

    ws = this_workstation(session)
    if len(packet_bytes) > MAX_PACKET_BYTES:
        raise PacketRefused(Msg.PACKET_UNREADABLE, path=name, detail="too large")
    packet = open_packet(packet_bytes, packet_key=packet_key, expected_db_id=expected_db_id, name=name,
                         own_ws=ws.id, own_instance=instances.own(session, ws.id), archival=False)
    del packet_bytes  # read: the caller may let the file's bytes go (hub ingest does)
    m = packet.manifest
    origin_ws, seq = str(m["ws"]), int(m["seq"])
    if m.get("ca_fingerprint") != ca_fingerprint(session):
        raise PacketRefused(Msg.PACKET_OTHER_SITE, path=name, other=str(m.get("ca_fingerprint"))[:40])
    setup = setup_records(session)
    binder = _check_instances(session, packet, ws.id, name, setup)  # a second opening of a file: said as such
    done = session.get(SyncPacketIn, (origin_ws, seq))
    if done is not None:
        if done.sha256 == packet.sha256 or (done.file_oid == m["file_oid"]
                                            and done.last_hash == m["last_record"]["hash"]):
            return ImportResult(origin_ws, seq, str(m["file_oid"]), duplicate=True, imported_utc=done.imported_utc)
        # the same opening wrote two different packets with this number: it went back to an older backup
        raise PacketRefused(Msg.PACKET_SENDER_RESTORED, path=name, ws=origin_ws, seq=seq,
                            when=instances.local_text(done.imported_utc))
    previous = session.execute(select(SyncPacketIn).where(SyncPacketIn.origin_ws == origin_ws)
                               .order_by(SyncPacketIn.seq.desc()).limit(1)).scalar_one_or_none()
    expected = (previous.seq if previous is not None else 0) + 1
    if seq != expected:
        raise PacketRefused(Msg.PACKET_GAP, path=name, ws=origin_ws, seq=seq, expected=expected)
    if previous is not None:
        if m.get("prior_file_oid") != previous.file_oid or m.get("prev_hash") != previous.last_hash:
            raise PacketRefused(Msg.PACKET_BROKEN_CHAIN, path=name, ws=origin_ws,
                                detail=f"it does not start where packet {previous.seq} ended")
    elif m.get("prior_file_oid") is not None:
        raise PacketRefused(Msg.PACKET_BROKEN_CHAIN, path=name, ws=origin_ws, detail="it names an earlier packet "
                            "that was never imported here")
    # its first record follows a record this workstation holds (the trail shared before a fork, or an original
    # it already has, copied from elsewhere: workstations forked at different times)
    elif not _holds_record_before(session, str(m.get("prev_hash")), int(m["first_record"]["id"])):
        raise PacketRefused(Msg.PACKET_BROKEN_CHAIN, path=name, ws=origin_ws,
                            detail="its first record follows a record this workstation does not hold yet: apply "
                                   "the packets of the workstation it was made from first")
    directory = directory_of_session(session, setup)
    directory.own = ws.id  # its own records relayed back are checked with the keys it bound after its fork too
    fork_id = int((ws.fork or {}).get("id") or 0)  # the records this workstation shares with its origin
    shared = 0
    for r in packet.records:
        if r.get("origin") is not None or int(r.get("id") or 0) > fork_id \
                or _local_hash(session, int(r.get("id") or 0)) != r.get("hash"):
            break
        shared += 1
    _check_records(packet, directory, name, shared)
    now = iso_utc(clock.now())
    copies, skipped = _copies(session, packet, ws.id, name, fork_id)
    problem = audit.check_copies(directory, [_row({**c["record"], "origin": c["origin"]}) for c in copies])
    if problem is not None:
        raise PacketRefused(Msg.PACKET_FORGED, path=name, detail=problem[:300])
    _check_manifest_signature(packet, directory, name)  # with the keys its workstation bound (just carried)
    # created by the site; handovers on the owner
    _check_workstations(session, packet, copies, name, own_ws=ws.id, setup=setup)
    _check_opened(packet, binder, ws.id, name)  # the opening of its file that presented the one-time token
    _check_subject_numbers(packet, copies, name, setup=setup)  # each registered inside its workstation's block
    _check_disabled_authors(session, copies, directory, name, ws.id)  # nothing after a disable, from anywhere
    _check_rows_scope(session, packet, name)  # rows.json: only the rows of the subjects its records name
    _check_definitions(session, packet, name, definitions)  # one definition per form id and version
    new_signatures = _new_signature_rows(session, packet)  # before the rows are applied: those not held here
    outcome = merge.apply(session, packet, copies, ws, actor_username, actor_role, now)
    entries = [AuditEntry(cast(Action, c["record"]["action"]), c["record"]["username"], c["record"]["role"],
                          subject=c["record"]["subject"], visit=c["record"]["visit"], form=c["record"]["form"],
                          item=c["record"]["item"], repeat_key=c["record"]["repeat_key"],
                          old_value=c["record"]["old_value"], new_value=c["record"]["new_value"],
                          reason=c["record"]["reason"], detail=c["record"]["detail"],
                          ts_utc=c["record"]["ts_utc"], utc_offset_min=c["record"]["utc_offset_min"],
                          workstation=c["record"]["workstation"], origin=c["origin"]) for c in copies]
    entries += outcome.entries
    entries.append(AuditEntry(Action.PACKET_IMPORT, actor_username, actor_role, new_value=str(m["file_oid"]),
                              detail=json.dumps({"ws": origin_ws, "seq": seq, "copied": len(copies),
                                                 "skipped": skipped, "conflicts": len(outcome.conflicts),
                                                 "sha256": packet.sha256}, sort_keys=True)))
    session.add(SyncPacketIn(origin_ws=origin_ws, seq=seq, file_oid=str(m["file_oid"]),
                             last_record=int(m["last_record"]["id"]), last_hash=str(m["last_record"]["hash"]),
                             sha256=packet.sha256, imported_utc=now, username=actor_username,
                             applied=len(copies), conflicts=len(outcome.conflicts)))
    audit.append_many(session, clock, workstation_label, entries, signer)
    setup += setup_records(session, max((r[0] for r in setup), default=0))  # those just copied (by the key)
    unexplained = unexplained_rows(session, touched_subjects(session, packet), setup)
    if unexplained:  # rows.json may only bring what the records say (an insider editing it is refused here)
        raise PacketRefused(Msg.PACKET_FORGED, path=name,
                            detail=f"its rows are not what its records say: {unexplained[0]}"[:300])
    _check_signature_rows(session, new_signatures, expected_db_id, name, directory)  # its signer's own (verify)
    return ImportResult(origin_ws, seq, str(m["file_oid"]), imported_utc=now, copied=len(copies), skipped=skipped,
                        conflicts=len(outcome.conflicts), conflict_lines=outcome.conflicts)


def _new_signature_rows(session: Session, packet: Packet) -> list[dict[str, Any]]:
    """The electronic signature rows the packet brings that this database does not hold yet (those it holds were
    checked when they came, or were made here; the merge keeps them as they are)."""
    from msc_sle_crf.store.tables import Signature

    rows = packet.rows.get("signatures") if isinstance(packet.rows, dict) else None
    listed = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    held: set[Any] = set()
    for chunk in _chunks([r.get("id") for r in listed]):
        held |= set(session.execute(select(Signature.id).where(Signature.id.in_(chunk))).scalars())
    return [r for r in listed if r.get("id") not in held]


def _check_signature_rows(session: Session, rows: Sequence[dict[str, Any]], db_id: str, name: str,
                          directory: audit.KeyDirectory) -> None:
    """Each new signature row carries its signer's own Ed25519 signature over it (the printed name, the time, the
    meaning, the content hash, the form), with the keys the trail binds to the signer on the workstation that made
    it: ``verify``'s rule (services/esign.py), applied before the import commits. The replay (``unexplained_rows``)
    already matched each row with its SIGN record; this covers what only the signature covers.

    ``directory``: the import's own, which the check of the copies brought up to date with the account records they
    carry (``audit.check_copies``). A row that does not hold with it is checked again with the directory read anew
    from the database, as ``verify`` reads it (a scan of the trail, seconds on a large hub: only then), and only a
    row that does not hold with that one either refuses the packet."""
    if not rows:
        return
    from msc_sle_crf.services.esign import row_holds
    from msc_sle_crf.store.tables import FormInstance, Signature, Subject

    fresh: audit.KeyDirectory | None = None
    for r in rows:
        row = Signature(**{c: r.get(c) for c in R.SIGNATURE})  # as the packet brings it (never added to the session)
        found = session.execute(select(FormInstance, Subject.subject_number).join(
            Subject, Subject.id == FormInstance.subject_id).where(FormInstance.id == row.instance_id)).first()
        if found is None:  # the scope check refuses a row about a form the packet does not bring
            raise PacketRefused(Msg.PACKET_FORGED, path=name, detail=f"signature #{row.id} names no form")
        instance, number = found
        if row_holds(session, directory, db_id=db_id, subject=number, instance=instance, row=row):
            continue
        if fresh is None:  # with the keys the records just copied bind, exactly as verify reads them
            fresh = directory_of_session(session)
        if not row_holds(session, fresh, db_id=db_id, subject=number, instance=instance, row=row):
            raise PacketRefused(Msg.PACKET_SIGNATURE_FORGED, path=name, subject=number, visit=instance.event_id,
                                form=instance.form_id, signer=str(row.username))


def identity(record: dict[str, Any], packet_ws: str) -> tuple[str, int, str]:
    """Which original a record is: (workstation, id, hash) of the record as first written."""
    origin = audit.parse_origin(record.get("origin"))
    if origin:
        return str(origin.get("ws")), int(origin.get("id") or 0), str(origin.get("hash"))
    return packet_ws, int(record["id"]), str(record["hash"])


def known_originals(session: Session, own_ws: str,
                    records: Sequence[dict[str, Any]] | None = None) -> set[tuple[str, int, str]]:
    """The originals this trail holds copies of, as (workstation, id, hash). With ``records`` (a packet's), only
    those that can be copies of these records: a copy keeps its original's subject and time, so the copies of a
    packet's records are among this trail's copies of the same subjects (the index on the subject) and, for records
    of no subject (sign-ins...), of the same times. What an import reads then grows with the packet, not with the
    trail."""
    _ = own_ws
    copies = select(AuditEvent.origin).where(AuditEvent.origin.is_not(None))
    if records is None:
        queries = [copies]
    else:
        subjects = sorted({str(r["subject"]) for r in records if r.get("subject")})
        times = sorted({str(r["ts_utc"]) for r in records if not r.get("subject")})
        queries = [copies.where(AuditEvent.subject.in_(chunk)) for chunk in _chunks(subjects)]
        if times:  # the records of no subject: few (sessions, bookkeeping), read between the packet's times
            queries.append(copies.where(AuditEvent.subject.is_(None), AuditEvent.ts_utc >= times[0],
                                        AuditEvent.ts_utc <= times[-1]))
    out: set[tuple[str, int, str]] = set()
    for query in queries:
        for (text,) in session.execute(query):
            origin = audit.parse_origin(text) or {}
            out.add((str(origin.get("ws")), int(origin.get("id") or 0), str(origin.get("hash"))))
    return out


def _chunks(values: Sequence[Any], size: int = 500) -> list[Sequence[Any]]:
    return [values[n:n + size] for n in range(0, len(values), size)]


def _holds_record_before(session: Session, prev_hash: str, first_id: int) -> bool:
    """A workstation's first packet follows a record this trail holds: the trail shared before its fork (the same id
    here, its own, found by key), or an original held under another id or as a copy (read in full: rare)."""
    if prev_hash == audit.GENESIS_HASH and first_id == 1:
        return True
    if _local_hash(session, first_id - 1) == prev_hash:
        return True
    if session.execute(select(AuditEvent.id).where(AuditEvent.hash == prev_hash, AuditEvent.origin.is_(None))
                       .limit(1)).first() is not None:
        return True
    pattern = f'%"hash":"{prev_hash}"%'  # the origin JSON's own spelling (sorted keys, no spaces), then parsed
    for (text,) in session.execute(select(AuditEvent.origin).where(AuditEvent.origin.is_not(None),
                                                                   AuditEvent.origin.like(pattern))):
        if (audit.parse_origin(text) or {}).get("hash") == prev_hash:
            return True
    return False


def _copies(session: Session, packet: Packet, own_ws: str, name: str,
            fork_id: int) -> tuple[list[dict[str, Any]], int]:
    """The packet's records not yet here, each with the origin its copy carries, in order."""
    packet_ws = str(packet.manifest["ws"])
    known = known_originals(session, own_ws, packet.records)
    out: list[dict[str, Any]] = []
    skipped = 0
    for r in packet.records:
        ws, rid, digest = identity(r, packet_ws)
        # the trail shared before this database's fork, whichever packet relays it (a hub made after a handover
        # holds WS-01's handover as its own record; WS-02's packet relays its copy of it)
        if ws == own_ws or (rid <= fork_id and _local_hash(session, rid) == digest):
            if ws == own_ws and _local_hash(session, rid) != digest:
                sent = _restored_here(session, packet, own_ws, rid)
                if sent is not None:
                    raise PacketRefused(Msg.PACKET_RESTORED_HERE, path=name, record=rid, ws=own_ws, sent=sent)
                raise PacketRefused(Msg.PACKET_FORGED, path=name,
                                    detail=f"record #{r['id']} claims to copy this workstation's record #{rid}, "
                                           "which is not here")
            skipped += 1  # this workstation's own record, or the trail both share from before the fork
            continue
        if (ws, rid, digest) in known:
            skipped += 1
            continue
        origin = r["origin"] if r["origin"] is not None else json.dumps(
            {"ws": packet_ws, "id": r["id"], "prev": r["prev_hash"], "hash": r["hash"], "signer": r["signer"],
             "sig": r["sig"]}, sort_keys=True, separators=(",", ":"))
        out.append({"record": r, "origin": origin, "ws": ws, "id": rid})
    return out, skipped


def _restored_here(session: Session, packet: Packet, own_ws: str, rid: int) -> L | None:
    """Why a record of this workstation's that a packet copies is not here, when the trail shows it: a workstation
    imported a packet of this one that this database did not write (not in its list of packets written, or with
    other content), or the record is past this trail's end. Then this database went back to a backup older than
    what it sent (None: no such sign)."""
    prefix = f"{packet.manifest.get('db_id')}.{own_ws}."
    written = dict(session.execute(select(SyncPacketOut.file_oid, SyncPacketOut.sha256).where(
        SyncPacketOut.file_oid.startswith(prefix, autoescape=True))).all())
    for r in packet.records:
        oid = str(r.get("new_value") or "")
        if r.get("action") != "packet_import" or not oid.startswith(prefix) or not oid[len(prefix):].isdigit():
            continue
        try:
            sha = json.loads(r.get("detail") or "{}").get("sha256")
        except (ValueError, AttributeError):
            sha = None
        if written.get(oid) != sha:
            n = int(oid[len(prefix):])
            return L(f"{opened_ws_of(r, packet)} imported a packet {n} of it that this database did not write",
                     f"{opened_ws_of(r, packet)} en a importé un paquet {n} que cette base n'a pas écrit")
    if rid > _local_max(session):
        return L(f"its trail here ends at record #{_local_max(session)}",
                 f"sa piste s'arrête ici à l'enregistrement n° {_local_max(session)}")
    return None


def opened_ws_of(record: dict[str, Any], packet: Packet) -> str:
    """The workstation that wrote a record of a packet (a copy: its origin's)."""
    return identity(record, str(packet.manifest.get("ws")))[0]


def _local_max(session: Session) -> int:
    return int(session.execute(select(func.max(AuditEvent.id))).scalar() or 0)


def _local_hash(session: Session, rid: int) -> str | None:
    return session.execute(select(AuditEvent.hash).where(AuditEvent.id == rid,
                                                          AuditEvent.origin.is_(None))).scalar()


def touched_subjects(session: Session, packet: Packet) -> set[str]:
    """Every subject the packet may have changed: those its records name, and those whose rows it brings (rows.json
    may name others: an insider's edit must be cross-checked too), found through the instances and queries named."""
    from msc_sle_crf.store.tables import DataQuery, FormInstance, Subject

    rows = packet.rows if isinstance(packet.rows, dict) else {}

    def listed(key: str) -> list[dict[str, Any]]:
        value = rows.get(key)
        return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []

    out = {str(r["subject"]) for r in packet.records if r.get("subject")}
    out |= {str(r.get("subject_number")) for r in listed("subjects")}
    out |= {str(r.get("subject")) for key in ("instances", "infusion") for r in listed(key)}
    instances = {r.get("instance_id") for key in ("rows", "values", "signatures", "verifications", "queries",
                                                  "conflicts") for r in listed(key)}
    queries = sorted({int(r["query_id"]) for r in listed("messages") if isinstance(r.get("query_id"), int)})
    for chunk in _chunks(queries):
        instances |= set(session.execute(select(DataQuery.instance_id).where(DataQuery.id.in_(chunk))).scalars())
    wanted = sorted(i for i in instances if isinstance(i, int))
    for chunk in _chunks(wanted):
        out |= set(session.execute(select(Subject.subject_number).join(FormInstance, FormInstance.subject_id ==
                                                                       Subject.id)
                                   .where(FormInstance.id.in_(chunk))).scalars())
    return out


class _Conn:
    """What ``Replay.compare`` reads through (plain SELECTs) on the import's own connection (any database)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def execute(self, sql: str, params: Any = None) -> Any:
        conn = self.session.connection()
        return conn.exec_driver_sql(sql, params) if params else conn.exec_driver_sql(sql)


def unexplained_rows(session: Session, subjects: set[str],
                     setup: Sequence[tuple[Any, ...]] | None = None) -> list[str]:
    """What the trail (with the copies just written) does not explain about these subjects: the same replay as
    ``verify``'s data check, inside the import's transaction."""
    from msc_sle_crf.services.replay import Replay

    if not subjects:
        return []
    # Only these subjects' records are replayed and only their rows compared: every record that shapes a subject's
    # rows names it (the replay's handlers read nothing else for them), so this is what the whole replay says about
    # them, read through the index on the subject: an import costs what the packet's subjects hold, not the trail.
    replay = Replay()
    replay.note_workstations()  # a handover's target: the workstations the trail created (fed below, in order)
    cols = [getattr(AuditEvent, f) for f in audit.VERIFY_FIELDS]
    numbers = sorted(subjects)
    # the records that say which workstation wrote what and which exist (fork set-ups, adds), merged in trail order
    # with the subjects' records (a handover is checked against its writer and target: sync/ownership.py)
    rows = [row for row in (setup_records(session) if setup is None else setup) if row[7] is None]
    # and the records that say from when each workstation stamps a row's time and its record's from one clock
    # reading (services/row_times.py: compared exactly after it), read through the index
    from msc_sle_crf.services.row_times import markers

    rows = list(heapq.merge(rows, (tuple(r) for r in markers(session)), key=lambda r: r[0]))
    # read as the replay goes (a server-side cursor on the hub), in trail order: a workstation's packet names 200
    # subjects and ~175,000 of their records, which are not held at once
    streams = [session.execute(select(*cols).where(AuditEvent.subject.in_(chunk)).order_by(AuditEvent.id)
                               .execution_options(yield_per=2000)) for chunk in _chunks(numbers)]
    for row in heapq.merge(rows, *streams, key=lambda r: r[0]):
        replay(tuple(row))
    found, _total = replay.compare(_Conn(session), numbers)
    wanted = tuple(f"subject {n}" for n in subjects)
    return [u.line() for u in found if u.where.split(" / ")[0] in wanted]
