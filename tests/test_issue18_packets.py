"""Issue 18, items 2, 3 and 5: packets between two workstations of one site, conflicts never silent, with real
files, real databases and (for the kill) a real process."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select

from msc_sle_crf import audit
from msc_sle_crf.errors import ValidationError
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.store.tables import (
    AppUser,
    AuditEvent,
    DataQuery,
    FormInstance,
    FormRow,
    InfusionEvent,
    ItemConflict,
    ItemValue,
    ItemVerification,
    QueryMessage,
    Signature,
    Subject,
)
from msc_sle_crf.sync import packets as P
from msc_sle_crf.sync import secret
from msc_sle_crf.sync.identity import this_workstation
from msc_sle_crf.sync.service import Packets

from .conftest import ADMIN_PW, FAST_KDF, make_user
from .helpers.packets import CREAT, PROTU, PW, R1, R2, Pair, make_pair
from .helpers.workstations import fork


@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    return make_pair(tmp_path)


# ----- what two workstations must end up sharing ----------------------------------------------------------------
LOCAL_SESSION = {"login", "logout", "packet_export", "packet_import"}  # each side's own sessions and bookkeeping


def snapshot(pair: Pair, which: str) -> dict[str, Any]:
    """Every stored row of the study's data, by natural key or kept id (user ids as names)."""
    site, ws = pair.open(which, "admin")
    with site, ws.ctx.read() as s:
        users = {u.id: u.username for u in s.execute(select(AppUser)).scalars()}
        subjects = {x.id: x.subject_number for x in s.execute(select(Subject)).scalars()}
        out: dict[str, Any] = {
            "subjects": sorted((x.subject_number, x.initials, x.birth_year, x.sex, x.status, x.owner_ws)
                               for x in s.execute(select(Subject)).scalars()),
            "instances": sorted((i.id, subjects[i.subject_id], i.event_id, i.form_id, i.form_hash, i.status,
                                 i.updated_utc, i.completed_utc, users.get(i.completed_by))
                                for i in s.execute(select(FormInstance)).scalars()),
            "rows": sorted((r.instance_id, r.group_id, r.row_no, r.removed)
                           for r in s.execute(select(FormRow)).scalars()),
            "values": sorted((v.instance_id, v.group_id, v.row_no, v.item_id, v.value, v.unit, v.canonical,
                              v.missing_code, v.missing_reason, v.confirmed, v.updated_utc, users[v.updated_by])
                             for v in s.execute(select(ItemValue)).scalars()),
        }
        for name, table in (("signatures", Signature), ("sdv", ItemVerification), ("queries", DataQuery),
                            ("messages", QueryMessage), ("conflicts", ItemConflict), ("infusion", InfusionEvent)):
            cols = [c.name for c in table.__table__.columns]
            out[name] = sorted(tuple(getattr(x, c) for c in cols) for x in s.execute(select(table)).scalars())
    return out


def originals(pair: Pair, which: str) -> set[tuple[str, int, str, str]]:
    """The original records a trail holds: (workstation, id, hash, action), copies by their origin; the trail
    shared from before the fork counts as the origin's."""
    site, ws = pair.open(which, "admin")
    with site, ws.ctx.read() as s:
        me = this_workstation(s)
        fork_id = int((me.fork or {}).get("id") or 0)
        out = set()
        for rid, digest, action, origin in s.execute(select(AuditEvent.id, AuditEvent.hash, AuditEvent.action,
                                                            AuditEvent.origin)):
            o = json.loads(origin) if origin else None
            if action in LOCAL_SESSION:
                continue
            if o is not None:
                out.add((o["ws"], o["id"], o["hash"], action))
            else:
                out.add(((me.fork or {}).get("ws", me.id) if rid <= fork_id else me.id, rid, digest, action))
    return out


def verify_clean(pair: Pair, which: str) -> None:
    site, ws = pair.open(which, "admin")
    with site:
        report = ws.integrity.verify(full=True)
        assert report.audit.ok, (which, report.audit.first_bad_id, report.audit.problem)
        assert not report.unexplained, (which, [u.line() for u in report.unexplained])


def edit_offline(pair: Pair) -> None:
    """A (earlier) and B (later) change the same item of the same form differently, A another item of that form,
    B another subject."""
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.entry.save_values(R1, {CREAT: "90", PROTU: "0.5"}, reason="lab report re-read")
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, "92", reason="lab report re-read on B")
        ws.entry.save_item(R2, CREAT, "95", reason="second sample")


def value(pair: Pair, which: str, ref: FormRef, key: tuple[str, int, str]) -> Any:
    site, ws = pair.open(which)
    with site:
        return ws.entry.open_form(ref).state.value(key)


@pytest.mark.parametrize("order", ["A->B then B->A", "B->A then A->B"])
def test_two_workstations_end_identical(pair: Pair, order: str) -> None:
    edit_offline(pair)
    r1, r2 = pair.exchange(order)
    assert r1.conflicts == 1 and not r1.duplicate
    assert r2.conflicts == 0  # the decision travelled with the packet: nobody decides twice
    a, b = snapshot(pair, "A"), snapshot(pair, "B")
    for table in a:
        assert a[table] == b[table], table
    assert originals(pair, "A") == originals(pair, "B")
    for which in ("A", "B"):
        assert value(pair, which, R1, CREAT) == 90  # A's change was recorded first: kept on both sides
        assert value(pair, which, R1, PROTU) == Decimal("0.5")
        assert value(pair, which, R2, CREAT) == 95
        verify_clean(pair, which)
    [conflict] = a["conflicts"]
    kept, other = json.loads(conflict[5]), json.loads(conflict[6])
    assert (kept["text"], kept["ws"], other["text"], other["ws"]) == ("90", "WS-01", "92", "WS-02")
    assert [q[5] for q in a["queries"] if q[0] == conflict[0]] == ["open"]  # the automatic query on the item


def test_smoke_export_import(pair: Pair) -> None:
    site, ws = pair.open("B")
    with site:
        ws.entry.save_item(R2, CREAT, "95")
    path = pair.export("B")
    assert path is not None and path.is_file()
    result = pair.import_("A", path)
    assert result.copied > 0 and result.conflicts == 0
    site, ws = pair.open("A")
    with site:
        assert ws.entry.open_form(R2).state.value(CREAT) == 95
        report = ws.integrity.verify(full=True)
        assert report.audit.ok, report.audit.problem
        assert not report.unexplained, [u.line() for u in report.unexplained]


# ----- refusals --------------------------------------------------------------------------------------------------
def edit_b(pair: Pair, text: str) -> Path:
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(30)
        ws.entry.save_item(R2, CREAT, text, reason="re-read")
    path = pair.export("B")
    assert path is not None
    return path


def refused(pair: Pair, which: str, path: Path, user: str = "dr.a") -> str:
    before = snapshot(pair, which), originals(pair, which)
    with pytest.raises(P.PacketRefused) as info:
        pair.import_(which, path, user)
    assert (snapshot(pair, which), originals(pair, which)) == before  # nothing applied
    line = info.value.message()
    assert "\n" not in line and line.startswith("Packet refused: ")
    return line


def test_nothing_new_no_file(pair: Pair) -> None:
    edit_b(pair, "95")
    assert pair.export("B") is None  # only the previous export's own record since: nothing to send
    assert len(list((pair.outbox / "B").iterdir())) == 1


def test_duplicate_changes_nothing(pair: Pair) -> None:
    path = edit_b(pair, "95")
    first = pair.import_("A", path)
    before = snapshot(pair, "A"), originals(pair, "A")
    again = pair.import_("A", path)
    assert again.duplicate and again.imported_utc == first.imported_utc and again.copied == 0
    assert (snapshot(pair, "A"), originals(pair, "A")) == before


def test_reordered_is_a_gap(pair: Pair) -> None:
    p1 = edit_b(pair, "95")
    p2 = edit_b(pair, "96")
    line = refused(pair, "A", p2)
    assert "packet 2 of WS-02, but the next expected from WS-02 is 1" in line
    pair.import_("A", p1)
    pair.import_("A", p2)
    assert value(pair, "A", R2, CREAT) == 96
    verify_clean(pair, "A")


def test_damaged_foreign_and_own_packets(pair: Pair, tmp_path: Path) -> None:
    path = edit_b(pair, "95")
    data = path.read_bytes()
    cut = tmp_path / "cut.crfpkt"
    cut.write_bytes(data[: len(data) - 200])
    assert "is damaged or was altered" in refused(pair, "A", cut)
    flipped = tmp_path / "flipped.crfpkt"
    middle = len(data) // 2
    flipped.write_bytes(data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:])
    assert "is damaged or was altered" in refused(pair, "A", flipped)
    header = tmp_path / "header.crfpkt"  # the clear header is authenticated too (GCM associated data)
    header.write_bytes(data.replace(b'"seq": 1', b'"seq": 2', 1))
    assert "is damaged or was altered" in refused(pair, "A", header)
    own = pair.export("A")
    assert own is not None
    assert "was written by this workstation (WS-01)" in refused(pair, "A", own)
    other_db = tmp_path / "other" / "trial.crfdb"
    other, actor, _ = Site.initialize(other_db, admin_username="admin", admin_full_name="Ada Admin",
                                      admin_password=ADMIN_PW, kdf=FAST_KDF, clock=pair.clock)
    with other:
        ws = Workspace(other, actor)
        foreign = Packets(ws.ctx, ws.study).export(tmp_path / "foreign")
    assert foreign is not None
    assert "comes from another site" in refused(pair, "A", foreign.path)
    pair.import_("A", path)  # the genuine packet still applies
    assert value(pair, "A", R2, CREAT) == 95


# ----- an insider with one nurse's password ----------------------------------------------------------------------
def repack(pair: Pair, data: bytes, signer_user: str, mutate: Any) -> bytes:
    """What a nurse can do with her password: open the database (so the site's packet key), decrypt a packet, change
    its parts as she likes, sign the manifest with her own key and encrypt it again."""
    site, ws = pair.open("B", signer_user)
    with site, ws.ctx.read() as session:
        key = secret.read(session, ws.ctx.store.key, site.keyfile.db_id)  # the site's packet secret
        assert key is not None
        signer = site.signer(signer_user)
    end = data.find(b"\n", len(P.MAGIC))
    header, rest = data[:end + 1], data[end + 1:]
    plain = AESGCM(key).decrypt(rest[:12], rest[12:], header)
    with zipfile.ZipFile(io.BytesIO(plain)) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(parts["manifest.json"])
    records = [json.loads(line) for line in parts["records.jsonl"].decode().splitlines()]
    rows = json.loads(parts["rows.json"])
    mutate(manifest, records, rows, signer)
    parts["records.jsonl"] = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"
                                     for r in records).encode()
    parts["rows.json"] = json.dumps(rows, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    manifest["parts"] = {n: hashlib.sha256(parts[n]).hexdigest() for n in P.PARTS}
    manifest["records"] = len(records)
    manifest["first_record"] = {"id": records[0]["id"], "hash": records[0]["hash"]}
    manifest["last_record"] = {"id": records[-1]["id"], "hash": records[-1]["hash"]}
    parts["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    parts["manifest.sig"] = base64.b64encode(signer.sign(P.manifest_message(manifest))).decode().encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for n, d in parts.items():
            zf.writestr(n, d)
    nonce = os.urandom(12)
    return header + nonce + AESGCM(key).encrypt(nonce, buffer.getvalue(), header)


def _rechain(records: list[dict[str, Any]], start: int = 0) -> None:
    for n in range(start, len(records)):
        if n:
            records[n]["prev_hash"] = records[n - 1]["hash"]
        records[n]["hash"] = audit.record_hash(records[n])


def _value_record(records: list[dict[str, Any]]) -> int:
    return next(n for n, r in enumerate(records)
                if r["action"] in ("data_entry", "data_change") and r["subject"] == "01-002")


def test_insider_cannot_forge_or_change_a_packet(pair: Pair, tmp_path: Path) -> None:
    genuine = edit_b(pair, "95").read_bytes()
    attacks: dict[str, Any] = {}

    def as_nurse(manifest: dict[str, Any], _records: list[dict[str, Any]], _rows: Any, _signer: Any) -> None:
        manifest["username"] = "nurse.n"  # a manifest of her own, otherwise unchanged

    def rows_value(manifest: dict[str, Any], _records: list[dict[str, Any]], rows: Any, _signer: Any) -> None:
        manifest["username"] = "nurse.n"
        for v in rows["values"]:
            if v["item_id"] == "CREAT" and v["value"] == "95":
                v["value"] = "999"

    def record_value(manifest: dict[str, Any], records: list[dict[str, Any]], rows: Any, _signer: Any) -> None:
        manifest["username"] = "nurse.n"
        n = _value_record(records)
        records[n]["new_value"] = "999"
        _rechain(records, n)
        rows_value(manifest, records, rows, _signer)

    def resigned(manifest: dict[str, Any], records: list[dict[str, Any]], rows: Any, signer: Any) -> None:
        record_value(manifest, records, rows, signer)
        for r in records:  # every transaction signed again by the nurse, records left in dr.a's name
            r["signer"] = "nurse.n"
            if r["sig"] is not None:
                r["sig"] = base64.b64encode(signer.sign(audit.tx_message(r["id"], r["hash"]))).decode()

    def in_her_name_of_a_copy(manifest: dict[str, Any], records: list[dict[str, Any]], rows: Any,
                              signer: Any) -> None:
        rows_value(manifest, records, rows, signer)
        n = _value_record(records)
        start = max((k + 1 for k in range(n) if records[k]["sig"] is not None), default=0)
        r = {**records[n], "new_value": "999", "signer": "nurse.n"}  # a made-up copy of a "WS-03" record by dr.a
        fake = {**r, "id": 77, "prev_hash": "0" * 64}
        fake_hash = audit.record_hash(fake)
        r["origin"] = json.dumps({"ws": "WS-03", "id": 77, "prev": "0" * 64, "hash": fake_hash, "signer": "dr.a",
                                  "sig": base64.b64encode(signer.sign(audit.tx_message(77, fake_hash))).decode()})
        del records[start:]
        r["id"] = records[-1]["id"] + 1
        records.append(r)
        _rechain(records, len(records) - 1)
        r["sig"] = base64.b64encode(signer.sign(audit.tx_message(r["id"], r["hash"]))).decode()

    def manifest_in_his_name(manifest: dict[str, Any], records: list[dict[str, Any]], rows: Any,
                             signer: Any) -> None:
        rows_value(manifest, records, rows, signer)
        manifest["username"] = "dr.a"  # signed with her key all the same

    attacks = {"her own manifest, nothing changed": (as_nurse, None),
               "a value changed in rows.json": (rows_value, "its rows are not what its records say"),
               "a value changed in the record, chain recomputed": (record_value, "not dr.a's"),
               "records re-signed by her in dr.a's name": (resigned, "but was signed by 'nurse.n'"),
               "a made-up copy in dr.a's name": (in_her_name_of_a_copy, "whose signature is not dr.a's"),
               "the manifest in dr.a's name": (manifest_in_his_name, "the manifest is not signed by dr.a's key")}
    for label, (mutate, expected) in attacks.items():
        forged = tmp_path / f"{label}.crfpkt"
        forged.write_bytes(repack(pair, genuine, "nurse.n", mutate))
        if expected is None:  # she may carry a packet: her signature on the manifest, dr.a's on his records
            continue
        line = refused(pair, "A", forged)
        assert expected in line, (label, line)
    ok = tmp_path / "her own manifest, nothing changed.crfpkt"
    assert pair.import_("A", ok).copied > 0
    assert value(pair, "A", R2, CREAT) == 95
    verify_clean(pair, "A")


# ----- a kill in the middle of an import, and the command line ------------------------------------------------------
_KILLED_IMPORT = """
import sys, time
from pathlib import Path
from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import ValidationError
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.sync import merge
from msc_sle_crf.sync.service import Packets

db, packet, ready, user, password = sys.argv[1:6]
original = merge.apply

def stalled(*args, **kwargs):
    out = original(*args, **kwargs)  # rows changed, conflicts written, in the open transaction
    Path(ready).write_text("applying")
    time.sleep(120)
    return out

merge.apply = stalled
site = Site.open(Path(db), clock=FakeClock())
ws = Workspace.sign_in(site, user, password)
Packets(ws.ctx, ws.study).import_file(Path(packet))
"""


def test_kill_during_import_leaves_the_database_as_before(pair: Pair, tmp_path: Path) -> None:
    edit_offline(pair)  # a conflict too: the import has rows, copies and a conflict to write when it is killed
    path = pair.export("B")
    assert path is not None
    before = snapshot(pair, "A"), originals(pair, "A")
    ready = tmp_path / "ready"
    script = tmp_path / "killed_import.py"
    script.write_text(_KILLED_IMPORT)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, str(script), str(pair.a_db), str(path), str(ready), "dr.a", PW["dr.a"]],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert (snapshot(pair, "A"), originals(pair, "A")) == before
    verify_clean(pair, "A")
    assert pair.import_("A", path).conflicts == 1  # and the packet still applies, once
    verify_clean(pair, "A")


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "MSC_SLE_CRF_LANG": "en"}
    return subprocess.run([sys.executable, "-m", "msc_sle_crf", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_command_line(pair: Pair, tmp_path: Path) -> None:
    site, ws = pair.open("B")
    with site:
        ws.entry.save_item(R2, CREAT, "95", reason="re-read")
    out = tmp_path / "usb"
    login = PW["dr.a"] + "\n"
    done = _cli("packet", "export", "--db", str(pair.b_db), "--user", "dr.a", "--out", str(out), "--password-stdin",
                stdin=login)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Packet written: ") and "(packet 1," in done.stdout
    [packet] = out.iterdir()
    again = _cli("packet", "export", "--db", str(pair.b_db), "--user", "dr.a", "--out", str(out), "--password-stdin",
                 stdin=login)
    assert again.returncode == 0 and "Nothing new since the last packet: no file written." in again.stdout
    assert len(list(out.iterdir())) == 1
    broken = tmp_path / "broken.crfpkt"
    broken.write_bytes(packet.read_bytes()[:-10])
    refused_ = _cli("packet", "import", "--db", str(pair.a_db), "--user", "dr.a", "--password-stdin", str(broken),
                    stdin=login)
    assert refused_.returncode == 2 and "Traceback" not in refused_.stderr
    assert refused_.stderr.strip().splitlines() == [
        "msc-sle-crf: Packet refused: broken.crfpkt is damaged or was altered (it does not decrypt with this site's "
        "key: truncated, altered, or of another site); nothing was applied."]
    applied = _cli("packet", "import", "--db", str(pair.a_db), "--user", "dr.a", "--password-stdin", str(packet),
                   str(packet), stdin=login)
    assert applied.returncode == 0, applied.stderr
    lines = applied.stdout.strip().splitlines()
    assert lines[0].startswith(f"{packet.name}: packet 1 of WS-02 applied: ")
    assert lines[1].startswith(f"{packet.name}: already imported on ") and lines[1].endswith("nothing changed.")
    french = _cli("--lang", "fr", "packet", "import", "--db", str(pair.a_db), "--user", "dr.a", "--password-stdin",
                  str(broken), stdin=login)
    assert french.returncode == 2 and "Paquet refusé : broken.crfpkt est endommagé" in french.stderr
    verify = _cli("verify", "--db", str(pair.a_db), "--user", "dr.a", "--password-stdin", stdin=login)
    assert verify.returncode == 0, verify.stdout + verify.stderr


# ----- the conflict: what it voids, and its resolution ---------------------------------------------------------------
def test_conflict_voids_signature_and_sdv_until_resolved(pair: Pair) -> None:
    edit_offline(pair)
    site, ws = pair.open("A", "monitor.m")
    with site:
        pair.clock.advance(5)
        ws.monitoring.verify_item(R1, CREAT)  # A's monitor verifies A's value (90) before the exchange
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(5)
        ws.entry.mark_complete(R1)
        ws.lifecycle.sign(R1, "dr.a", PW["dr.a"], "approval")
        assert [s.valid for s in ws.lifecycle.signatures(R1)] == [True]
    path = pair.export("B")
    assert path is not None
    # two: the value, and the signed form's state (h69: B's change of the form's content is a change of the form;
    # the less advanced state, B's draft, is kept)
    assert pair.import_("A", path).conflicts == 2
    site, ws = pair.open("A")
    with site:
        assert [s.valid for s in ws.lifecycle.signatures(R1)] == [False]  # A's value was kept, the signature is void
        assert ws.monitoring.verified_items(R1)[CREAT] is False
        trail = [h.action for h in ws.entry.item_history(R1, CREAT)]
        assert "merge_conflict" in trail
        with pytest.raises(ValidationError):  # resolving needs a reason, like any change
            ws.entry.save_item(R1, CREAT, "91")
        pair.clock.advance(5)
        ws.entry.save_item(R1, CREAT, "91", reason="both were wrong: lab report checked")
    site, ws = pair.open("A", "admin")
    with site, ws.ctx.read() as s:
        [conflict] = s.execute(select(ItemConflict)).scalars().all()
        assert conflict.status == "resolved" and conflict.resolved_utc
    # B learns the resolution with A's next packet, and ends like A
    p_a = pair.export("A")
    assert p_a is not None
    pair.import_("B", p_a)
    assert value(pair, "B", R1, CREAT) == 91
    a, b = snapshot(pair, "A"), snapshot(pair, "B")
    assert a["conflicts"] == b["conflicts"] and a["values"] == b["values"]
    verify_clean(pair, "A")
    verify_clean(pair, "B")


def test_archival_xml_is_valid_odm_and_chained(pair: Pair) -> None:
    from lxml import etree

    from msc_sle_crf.export import odm

    p1 = edit_b(pair, "95")
    p2 = edit_b(pair, "96")
    site, ws = pair.open("A")
    with site, ws.ctx.read() as session:
        key = secret.read(session, ws.ctx.store.key, site.keyfile.db_id)
        db_id = site.keyfile.db_id
    assert key is not None
    xsd = etree.XMLSchema(etree.parse(str(odm.schema_dir() / "ODM1-3-2.xsd")))
    docs = []
    for path in (p1, p2):
        packet = P.open_packet(path.read_bytes(), packet_key=key, expected_db_id=db_id, name=path.name)
        doc = etree.fromstring(packet.archival)
        assert xsd.validate(doc), xsd.error_log.last_error
        assert doc.get("Archival") == "Yes" and doc.get("FileOID") == packet.manifest["file_oid"]
        docs.append(doc)
    assert docs[0].get("FileOID") == f"{db_id}.WS-02.1" and docs[0].get("PriorFileOID") is None
    assert docs[1].get("PriorFileOID") == docs[0].get("FileOID")
    values = [el.get("Value") for el in docs[1].iter(f"{{{odm.NS}}}ItemData") if el.get("Value")]
    assert "96" in values


@pytest.mark.parametrize("order", ["A->B then B->A", "B->A then A->B"])
def test_form_state_conflict_keeps_the_less_advanced_state(pair: Pair, order: str) -> None:
    site, ws = pair.open("A")
    with site:
        ws.entry.mark_complete(R1)
    p = pair.export("A")
    assert p is not None
    pair.import_("B", p)  # both start from "complete"
    site, ws = pair.open("A", "monitor.m")
    with site:
        pair.clock.advance(10)
        ws.lifecycle.source_verify(R1)  # A: verified
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(10)
        ws.lifecycle.sign(R1, "dr.a", PW["dr.a"], "approval")  # B: signed, without the verification
    assert pair.exchange(order)[0].conflicts == 1
    for which in ("A", "B"):
        site, ws = pair.open(which)
        with site:
            assert ws.entry.statuses("01-001")[("SCR", "renal_function")].value == "verified"
        verify_clean(pair, which)
    a, b = snapshot(pair, "A"), snapshot(pair, "B")
    assert a["instances"] == b["instances"] and a["signatures"] == b["signatures"]


# ----- the screens -------------------------------------------------------------------------------------------------
def test_packets_screen_and_the_conflict_on_the_form(pair: Pair, qtbot) -> None:  # type: ignore[no-untyped-def]
    from msc_sle_crf.ui.form.view import FormView
    from msc_sle_crf.ui.packets_dialog import PacketsDialog

    edit_offline(pair)
    site_b, ws_b = pair.open("B")
    with site_b:
        dialog = PacketsDialog(ws_b)
        qtbot.addWidget(dialog)
        dialog.export_to(pair.outbox / "usb")  # off the UI thread: the screen says when it is done
        qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
        dialog.export_to(pair.outbox / "usb")
        qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
        lines = [dialog.results.item(n).text() for n in range(dialog.results.count())]
    assert lines[0].startswith("Packet written: ") and lines[1].startswith("Nothing new")
    [packet] = (pair.outbox / "usb").iterdir()
    site_a, ws_a = pair.open("A")
    with site_a:
        from msc_sle_crf.ui.ops import Ops

        ops = Ops()
        announced: list[Any] = []
        ops.data_changed.connect(announced.append)
        dialog = PacketsDialog(ws_a, None, ops)
        qtbot.addWidget(dialog)
        dialog.apply([packet, packet])
        qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
        lines = [dialog.results.item(n).text() for n in range(dialog.results.count())]
        # Open screens refresh from the import like from any write: the changed form's cell is in the change record.
        assert len(announced) == 1 and announced[0].touches("01-001", "SCR", "renal_function")
        assert ("lb", 0, "CREAT") in announced[0].cells("01-001", "SCR", "renal_function")
        assert "1 conflict(s)" in lines[0] and lines[1].startswith(
            "  conflict: 01-001 / Screening / Renal function / Creatinine: “")
        assert "already imported on" in lines[2]
        view = FormView(ws_a, R1)
        qtbot.addWidget(view)
        marks = view.fields[CREAT].marks
        assert "Conflict" in marks.text()
        assert "“90 µmol/L” by dr.a on WS-01" in marks.toolTip() and "“92 µmol/L” by dr.a on WS-02" in marks.toolTip()
        assert view.fields[PROTU]._marks is None or "Conflict" not in view.fields[PROTU].marks.text()
        ws_a.entry.save_item(R1, CREAT, "90", reason="A's value confirmed against the lab report")
        view.show_monitoring({CREAT})
        assert "Conflict" not in view.fields[CREAT].marks.text()


# ----- the trail: forged copies are named by verify; a third workstation's records relayed ----------------------------
def _forge(pair: Pair, which: str, user: str, make: Any) -> None:
    """An insider appends a record through the program's own writer, signed with her own key."""
    site, _ws = pair.open(which, user)
    with site, site.store.write() as session:  # type: ignore[union-attr]
        entry = make(session)
        audit.append_many(session, pair.clock, site.workstation, [entry], site.signer(user))


def _copy_entry(row: AuditEvent, **changes: Any) -> audit.AuditEntry:
    fields = {f: getattr(row, f) for f in audit.CANONICAL_FIELDS}
    fields.update(changes)
    return audit.AuditEntry(fields["action"], fields["username"], fields["role"], subject=fields["subject"],
                            visit=fields["visit"], form=fields["form"], item=fields["item"],
                            repeat_key=fields["repeat_key"], old_value=fields["old_value"],
                            new_value=fields["new_value"], reason=fields["reason"], detail=fields["detail"],
                            ts_utc=fields["ts_utc"], utc_offset_min=fields["utc_offset_min"],
                            workstation=fields["workstation"], origin=changes.get("origin", row.origin))


@pytest.mark.parametrize("forgery", ["record edited", "origin made up", "signature of someone else"])
def test_verify_names_a_forged_copy(pair: Pair, forgery: str) -> None:
    path = edit_b(pair, "95")
    pair.import_("A", path)
    verify_clean(pair, "A")

    def make(session: Any) -> audit.AuditEntry:
        copy_ = session.execute(select(AuditEvent).where(
            AuditEvent.origin.is_not(None), AuditEvent.action.in_(("data_entry", "data_change")))).scalars().first()
        origin = json.loads(copy_.origin)
        if forgery == "record edited":  # the genuine origin, the value changed
            return _copy_entry(copy_, new_value="999")
        fake = {f: getattr(copy_, f) for f in audit.CANONICAL_FIELDS}
        fake.update(new_value="999", id=origin["id"] + 500, prev_hash=origin["hash"])
        digest = audit.record_hash(fake)
        signer = site_signer[0]
        made = {"ws": "WS-02", "id": fake["id"], "prev": fake["prev_hash"], "hash": digest, "signer": "dr.a",
                "sig": base64.b64encode(signer.sign(audit.tx_message(fake["id"], digest))).decode()}
        if forgery == "origin made up":
            made["sig"] = origin["sig"]  # dr.a's genuine signature, of another record
        return _copy_entry(copy_, new_value="999", origin=json.dumps(made))

    site, ws = pair.open("A", "nurse.n")
    with site:
        site_signer = [site.signer("nurse.n")]
    _forge(pair, "A", "nurse.n", make)
    site, ws = pair.open("A", "admin")
    with site:
        report = ws.integrity.verify(full=True)
    assert not report.audit.ok
    problem = str(report.audit.problem)
    if forgery == "record edited":
        assert "is a copy of WS-02" in problem and "differs from the original" in problem
    else:  # named by the signature check: the copy's own (not dr.a's), or a copy left without its author's signature
        # (the genuine signature borrowed may be None when the record copied was not its transaction's last)
        assert ("is a copy of WS-02" in problem and "whose signature is not dr.a's" in problem) or (
            "copies of another workstation's records that do not end with their author's signature" in problem)
    done = _cli("verify", "--db", str(pair.a_db), "--user", "admin", "--password-stdin", stdin=ADMIN_PW + "\n")
    assert done.returncode == 6 and f"#{report.audit.first_bad_id}" in done.stderr and "Traceback" not in done.stderr


def test_a_third_workstation_relayed_then_direct(pair: Pair, tmp_path: Path) -> None:
    c_db = tmp_path / "c" / "trial.crfdb"
    fork(pair.a_db, c_db, 3, "admin", ADMIN_PW, pair.clock)
    site, ws = Site.open(c_db, clock=pair.clock), None
    with site:
        ws = Workspace.sign_in(site, "dr.a", PW["dr.a"])
        pair.clock.advance(30)
        ws.entry.save_item(R2, PROTU, "0.7", reason="urine sample")
        c_packet = Packets(ws.ctx, ws.study).export(tmp_path / "from_c")
    assert c_packet is not None
    a_packet = pair.export("A")  # what A recorded up to C's fork (the real 'workstation add' writes a record there)
    if a_packet is not None:
        pair.import_("B", a_packet)
    assert pair.import_("B", c_packet.path).copied > 0  # C -> B
    b_packet = pair.export("B")
    assert b_packet is not None
    relayed = pair.import_("A", b_packet)  # B -> A carries C's records (copies of copies)
    assert relayed.copied > 0 and value(pair, "A", R2, PROTU) == Decimal("0.7")
    before = originals(pair, "A")
    direct = pair.import_("A", c_packet.path)  # C -> A directly: already here, nothing applied twice
    assert not direct.duplicate and direct.copied == 0 and direct.skipped > 0
    assert originals(pair, "A") == before
    assert {o for o in originals(pair, "A") if o[0] == "WS-03"} == {o for o in originals(pair, "B") if o[0] == "WS-03"}
    verify_clean(pair, "A")
    verify_clean(pair, "B")


@pytest.mark.parametrize("order", ["A->B then B->A", "B->A then A->B"])
def test_query_status_conflict_keeps_the_less_advanced_status(pair: Pair, order: str) -> None:
    site, ws = pair.open("A", "monitor.m")
    with site:
        qid = ws.monitoring.open_query(R2, CREAT, "Please check the unit").query_id
    p = pair.export("A")
    assert p is not None
    pair.import_("B", p)  # both hold the open query
    site, ws = pair.open("A", "monitor.m")
    with site:
        pair.clock.advance(10)
        ws.monitoring.close(qid, "fine")  # A: the monitor closes it
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(10)
        ws.monitoring.answer(qid, "The unit is µmol/L")  # B: the site answers, not knowing
    assert pair.exchange(order)[0].conflicts == 1
    for which in ("A", "B"):
        site, ws = pair.open(which, "monitor.m")
        with site:
            [query] = ws.monitoring.queries(R2)
            assert query.status == "answered"  # never closed over an answer the monitor did not see
            assert [m.kind for m in query.messages] == ["open", "close", "answer"]
        verify_clean(pair, which)
    a, b = snapshot(pair, "A"), snapshot(pair, "B")
    assert a["queries"] == b["queries"] and a["messages"] == b["messages"]


def test_a_workstation_forked_after_packets_numbers_its_own_from_one(pair: Pair, tmp_path: Path) -> None:
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(30)
        ws.entry.save_item(R1, PROTU, "0.4", reason="urine sample")
    p_a = pair.export("A")
    assert p_a is not None and p_a.name.endswith("WS-01-00001.crfpkt")
    pair.import_("B", p_a)
    c_db = tmp_path / "c" / "trial.crfdb"
    fork(pair.a_db, c_db, 3, "admin", ADMIN_PW, pair.clock)  # C inherits A's packet bookkeeping with the rest
    with Site.open(c_db, clock=pair.clock) as site:
        ws = Workspace.sign_in(site, "dr.a", PW["dr.a"])
        pair.clock.advance(30)
        ws.entry.save_item(R2, PROTU, "0.9", reason="urine sample")
        c_packet = Packets(ws.ctx, ws.study).export(tmp_path / "from_c")
    assert c_packet is not None and c_packet.seq == 1 and c_packet.path.name.endswith("WS-03-00001.crfpkt")
    line = refused(pair, "B", c_packet.path)  # B does not hold A's records up to C's fork yet
    assert "apply the packets of the workstation it was made from first" in line
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(30)
        ws.entry.save_item(R1, PROTU, "0.5", reason="second reading")
    p_a2 = pair.export("A")  # A's next packet is still A's number 2
    assert p_a2 is not None and p_a2.name.endswith("WS-01-00002.crfpkt")
    pair.import_("B", p_a2)
    assert pair.import_("B", c_packet.path).copied > 0  # now C's packet follows what B holds
    assert value(pair, "B", R2, PROTU) == Decimal("0.9")
    verify_clean(pair, "B")


def test_an_account_made_on_another_workstation_binds_only_for_its_records_here(pair: Pair) -> None:
    site, admin = pair.open("B", "admin")
    with site:
        make_user(admin, "nurse.b", "nurse", "amber-willow-47-nb")
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(30)
        ws.entry.save_item(R2, CREAT, "95", reason="re-read")
    verify_clean(pair, "B")  # B's administrator's check record (its checkpoint) travels too: it is B's, not A's
    path = pair.export("B", "admin")
    assert path is not None
    assert pair.import_("A", path, "admin").copied > 0  # the copies include B's account record, in B's trail
    verify_clean(pair, "A")
    site, ws = pair.open("A", "admin")
    with site:
        carried = ws.ctx.key_directory().accounts["nurse.b"]  # its keys check WS-02's records only
        assert carried.current is None and list(carried.carried) == ["WS-02"]
        assert "nurse.b" not in [u.username for u in ws.accounts.list_users()]  # not enrolled here
    assert value(pair, "A", R2, CREAT) == 95
