"""A packet's rows.json brings only rows its records explain (attack report findings 2 and 6): an ``item_conflict``
row no ``merge_conflict`` record opened (it voids a doctor's signature) is refused on import and named by
``verify``; rows about subjects no record of the packet mentions are refused in one line, nothing applied. Real
packet files, re-signed and re-encrypted as an insider (a nurse with her password) can."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from msc_sle_crf.errors import Msg
from msc_sle_crf.i18n import L, Lang
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.store.tables import FormDefinitionSnapshot, FormInstance, ItemConflict, Subject
from msc_sle_crf.sync import packets as P

from .helpers.packets import CREAT, PW, R1, Pair, make_pair
from .test_issue18_packets import edit_b, edit_offline, refused, repack, verify_clean


@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    return make_pair(tmp_path)


def _sign_r1(pair: Pair) -> int:
    """dr.a completes and signs R1 on A; its instance id (the same on every workstation)."""
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(5)
        ws.entry.save_values(R1, {CREAT: "90"}, reason="lab report re-read")
        ws.entry.mark_complete(R1)
        ws.lifecycle.sign(R1, "dr.a", PW["dr.a"], "approval")
        assert [s.valid for s in ws.lifecycle.signatures(R1)] == [True]
    site, ws = pair.open("A", "admin")
    with site, ws.ctx.read() as s:
        return int(s.execute(select(FormInstance.id).join(Subject, Subject.id == FormInstance.subject_id).where(
            Subject.subject_number == R1.subject, FormInstance.event_id == R1.event,
            FormInstance.form_id == R1.form)).scalar_one())


def _signatures_valid(pair: Pair) -> list[bool]:
    site, ws = pair.open("A")
    with site:
        return [s.valid for s in ws.lifecycle.signatures(R1)]


def _conflict(iid: int, cid: int = 1_010_000_777, **over: Any) -> dict[str, Any]:
    side = {"text": "1", "user": "dr.a", "ws": "WS-01", "id": 1, "utc": "2026-01-01T00:00:00Z"}
    return {"id": cid, "instance_id": iid, "group_id": CREAT[0], "row_no": CREAT[1], "item_id": CREAT[2],
            "kept": json.dumps(side), "other": json.dumps({**side, "ws": "WS-02", "text": "2"}), "status": "open",
            "opened_utc": "2026-01-01T00:00:00Z", "resolved_utc": None, **over}


def test_a_conflict_row_no_record_opened_is_refused(pair: Pair, tmp_path: Path) -> None:
    """T6b: B's real packet (about 01-002) plus an open conflict on A's signed R1 (01-001): refused, his signature
    holds."""
    iid = _sign_r1(pair)
    genuine = edit_b(pair, "95").read_bytes()

    def plant(manifest: dict[str, Any], _records: Any, rows: Any, _signer: Any) -> None:
        manifest["username"] = "nurse.n"
        rows.setdefault("conflicts", []).append(_conflict(iid))

    forged = tmp_path / "planted.crfpkt"
    forged.write_bytes(repack(pair, genuine, "nurse.n", plant))
    line = refused(pair, "A", forged)
    assert "a conflict between workstations about subject 01-001" in line, line
    assert _signatures_valid(pair) == [True]
    verify_clean(pair, "A")


def test_a_conflict_row_on_the_packets_own_form_needs_its_record(pair: Pair, tmp_path: Path) -> None:
    """The same on the form the packet's records do change (01-002): the replay of item_conflict refuses it."""
    genuine = edit_b(pair, "95").read_bytes()

    def plant(manifest: dict[str, Any], _records: Any, rows: Any, _signer: Any) -> None:
        manifest["username"] = "nurse.n"
        [iid] = {v["instance_id"] for v in rows["values"] if v["item_id"] == CREAT[2] and v["value"] == "95"}
        rows.setdefault("conflicts", []).append(_conflict(iid))

    forged = tmp_path / "planted.crfpkt"
    forged.write_bytes(repack(pair, genuine, "nurse.n", plant))
    line = refused(pair, "A", forged)
    assert "conflict #1010000777 between workstations is not in the trail" in line, line
    verify_clean(pair, "A")


def test_verify_names_a_conflict_row_planted_with_sql(pair: Pair) -> None:
    """A conflict row inserted by raw SQL voids the signature: verify (site) names it."""
    iid = _sign_r1(pair)
    site, _ws = pair.open("A", "admin")
    with site, site.store.write() as session:  # type: ignore[union-attr]
        session.add(ItemConflict(**_conflict(iid)))
    assert _signatures_valid(pair) == [False]
    site, ws = pair.open("A", "admin")
    with site:
        lines = [u.line() for u in ws.integrity.verify(full=True).unexplained]
    assert any("conflict #1010000777" in x and "not in the trail" in x for x in lines), lines


def _other_side_by_the_monitor(c: dict[str, Any]) -> None:
    other = json.loads(c["other"])
    other["user"] = "monitor.m"
    c["other"] = json.dumps(other, sort_keys=True)


def _marked_resolved(c: dict[str, Any]) -> None:  # would give the signatures made since their force back
    c["status"], c["resolved_utc"] = "resolved", c["opened_utc"]


@pytest.mark.parametrize(("edit", "expected"), [
    (_other_side_by_the_monitor, "other value is not what the trail says"),
    (_marked_resolved, "the trail says 'open'"),
], ids=["its other side in another author's name", "marked resolved without a record"])
def test_a_real_conflict_changed_in_rows_json_is_refused(pair: Pair, tmp_path: Path, edit: Any,
                                                         expected: str) -> None:
    """B opens a real conflict (its merge_conflict record); its packet to A with the conflict row changed in
    rows.json is refused; the genuine packet applies and verifies."""
    edit_offline(pair)
    p_a = pair.export("A")
    assert p_a is not None
    assert pair.import_("B", p_a).conflicts == 1  # B opens the conflict
    verify_clean(pair, "B")
    p_b = pair.export("B")
    assert p_b is not None

    def rewrite(manifest: dict[str, Any], _records: Any, rows: Any, _signer: Any) -> None:
        manifest["username"] = "nurse.n"
        assert rows["conflicts"]
        for c in rows["conflicts"]:
            edit(c)

    forged = tmp_path / "changed.crfpkt"
    forged.write_bytes(repack(pair, p_b.read_bytes(), "nurse.n", rewrite))
    line = refused(pair, "A", forged)
    assert "conflict #" in line and expected in line, line
    pair.import_("A", p_b)  # the genuine packet: A holds the same conflict as B
    verify_clean(pair, "A")


def _other_subject_instance(pair: Pair) -> int:
    """The instance of R1 (subject 01-001) on A: B's packet below is about 01-002 only."""
    site, ws = pair.open("A", "admin")
    with site, ws.ctx.read() as s:
        return int(s.execute(select(FormInstance.id).join(Subject, Subject.id == FormInstance.subject_id).where(
            Subject.subject_number == R1.subject, FormInstance.form_id == R1.form)).scalar_one())


_SHA_OF_EMPTY = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"  # sha256("{}")


def _plants(iid: int) -> dict[str, tuple[Any, str]]:
    when = "2026-01-01T00:00:00Z"
    return {
        "a new subject": (lambda rows: rows["subjects"].append({
            "subject_number": "01-250", "initials": "XX", "birth_year": 1980, "sex": "F", "status": "screening",
            "created_utc": when, "owner_ws": "WS-02", "created_by": "dr.a"}), "a subject row about subject 01-250"),
        "an SDV mark in the monitor's name": (lambda rows: rows["verifications"].append({
            "id": 10_000_500, "instance_id": iid, "group_id": "lb", "row_no": 0, "item_id": "CREAT",
            "username": "monitor.m", "utc": when, "value_hash": "x"}), "an SDV mark about subject 01-001"),
        "a closed query in the monitor's name": (lambda rows: (rows["queries"].append({
            "id": 10_000_600, "instance_id": iid, "group_id": "lb", "row_no": 0, "item_id": "CREAT",
            "status": "closed", "automatic": False, "opened_utc": when}), rows["messages"].append({
                "id": 10_000_600, "query_id": 10_000_600, "kind": "open", "username": "monitor.m", "role": "monitor",
                "utc": when, "text": "checked"})), "a query about subject 01-001"),
        "a value of a form that does not exist": (lambda rows: rows["values"].append({
            **rows["values"][0], "instance_id": 987_654_321}), "a value about form #987654321"),
        "an SDV mark of a form that does not exist": (lambda rows: rows["verifications"].append({
            "id": 10_000_501, "instance_id": 987_654_321, "group_id": "lb", "row_no": 0, "item_id": "CREAT",
            "username": "monitor.m", "utc": when, "value_hash": "x"}), "an SDV mark about form #987654321"),
        "a form of a subject that does not exist": (lambda rows: rows["instances"].append({
            **rows["instances"][0], "id": 987_654_321, "subject": "01-250"}), "a form about subject 01-250"),
        "a definition whose text is not its hash": (lambda rows: rows["definitions"].append({
            "content_hash": "0" * 64, "form_id": "renal_function", "version": "9", "definition_json": "{}",
            "first_used_utc": when}), "a form definition about definition 000000000000"),
        "a definition no form of the packet uses": (lambda rows: rows["definitions"].append({
            "content_hash": _SHA_OF_EMPTY, "form_id": "renal_function", "version": "9", "definition_json": "{}",
            "first_used_utc": when}), "a form definition about definition 44136fa355b3"),
    }


def test_the_refusal_reads_in_french() -> None:
    line = P.PacketRefused(Msg.PACKET_ROWS_UNEXPLAINED, path="x.crfpkt",
                           kind=L("an SDV mark", "une marque de vérification (SDV)"),
                           subject="01-001").message(Lang.FR)
    assert line.startswith("Paquet refusé : x.crfpkt apporte une marque de vérification (SDV)"), line
    assert "\n" not in line


@pytest.mark.parametrize("plant", list(_plants(0)))
def test_rows_no_record_of_the_packet_explains_are_refused(pair: Pair, tmp_path: Path, plant: str) -> None:
    """T6: B's real packet (about 01-002) plus rows no record of it explains: refused in one line naming the row
    kind and subject, nothing applied, verify stays clean (before: some applied then verify failed, a definition
    kept, a KeyError or a foreign-key error)."""
    iid = _other_subject_instance(pair)
    genuine = edit_b(pair, "95").read_bytes()
    add, expected = _plants(iid)[plant]

    def mutate(manifest: dict[str, Any], _records: Any, rows: Any, _signer: Any) -> None:
        manifest["username"] = "nurse.n"
        add(rows)

    forged = tmp_path / "planted.crfpkt"
    forged.write_bytes(repack(pair, genuine, "nurse.n", mutate))
    line = refused(pair, "A", forged)
    assert expected in line and "none of its records explain" in line, line
    assert _SHA_OF_EMPTY not in _definitions(pair)
    verify_clean(pair, "A")


def _definitions(pair: Pair) -> set[str]:
    site, ws = pair.open("A", "admin")
    with site, ws.ctx.read() as s:
        return set(s.execute(select(FormDefinitionSnapshot.content_hash)).scalars())


def test_a_new_subject_without_its_subject_row_is_refused(pair: Pair, tmp_path: Path) -> None:
    """B registers a subject and enters a value; its packet with the subject row taken out (the forms kept): refused
    in one line before anything is applied (before: a KeyError)."""
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(30)
        number = ws.subjects.register("GHI", 1990, "F").subject.subject_number
        ws.entry.save_values(FormRef(number, R1.event, R1.form), {CREAT: "70"})
    path = pair.export("B")
    assert path is not None

    def strip(manifest: dict[str, Any], _records: Any, rows: Any, _signer: Any) -> None:
        manifest["username"] = "nurse.n"
        rows["subjects"] = [r for r in rows["subjects"] if r["subject_number"] != number]

    forged = tmp_path / "stripped.crfpkt"
    forged.write_bytes(repack(pair, path.read_bytes(), "nurse.n", strip))
    line = refused(pair, "A", forged)
    assert f"a form about subject {number} (not on this workstation)" in line, line
    pair.import_("A", path)
    verify_clean(pair, "A")
