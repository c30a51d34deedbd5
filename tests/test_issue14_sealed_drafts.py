"""Drafts sealed for their author (issue 14, found by the second insider attack): someone holding the database key
(any account's password unwraps it) can neither read another user's unsaved typing nor plant text in it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef

from .conftest import ADMIN_PW, make_user
from .test_issue14_insider import insider_store, sql

NURSE_PW = "pw-joy-nurse-2026"
OTHER_PW = "pw-other-nurse-2026"
KEY = ("vs", 0, "VSTEMP")


@pytest.fixture
def ward(db_path: Path, site: Site, admin: Workspace) -> dict[str, Any]:
    make_user(admin, "nurse.joy", "nurse", NURSE_PW)
    make_user(admin, "nurse.eve", "nurse", OTHER_PW)
    joy = Workspace.sign_in(site, "nurse.joy", NURSE_PW)
    number = joy.subjects.register("ABC", 1980, "F").subject.subject_number
    ref = FormRef(number, "D0", "vital_signs")
    row = joy.entry.add_row(ref, "vs").row
    return {"site": site, "joy": joy, "ref": ref, "key": ("vs", row, "VSTEMP"), "db": db_path}


def _drafts(db: Path, who: str = "nurse.eve", pw: str = OTHER_PW) -> list[tuple[int, str, str]]:
    store = insider_store(db, who, pw)
    try:
        return [tuple(r) for r in sql(store, "SELECT d.id, u.username, d.payload FROM draft d "
                                             "JOIN app_user u ON u.id = d.user_id ORDER BY d.id")]
    finally:
        store.close()


def test_another_account_holding_the_key_cannot_read_the_typing(ward: dict[str, Any]) -> None:
    ward["joy"].entry.save_typing(ward["ref"], ward["key"], "39,4")
    rows = [r for r in _drafts(ward["db"]) if r[1] == "nurse.joy"]
    assert rows and all(payload.startswith("sealed1:") for _, _, payload in rows)
    assert not any("39,4" in payload or "VSTEMP" in payload for _, _, payload in rows)
    assert ward["joy"].entry.typed_buffer(ward["ref"]) == {ward["key"]: ("39,4", None)}  # hers, restored


@pytest.mark.parametrize("how", ["clear text", "another user's sealed draft"])
def test_text_planted_in_her_typing_is_never_shown_as_hers(ward: dict[str, Any], how: str) -> None:
    joy, ref, key = ward["joy"], ward["ref"], ward["key"]
    joy.entry.save_typing(ref, key, "37,0")
    eve = Workspace.sign_in(ward["site"], "nurse.eve", OTHER_PW)
    eve.entry.save_typing(ref, key, "41,9")  # eve's own typing of the same field, sealed with her key
    rows = _drafts(ward["db"])
    joy_id = next(i for i, who, _ in rows if who == "nurse.joy")
    eve_payload = next(p for _, who, p in rows if who == "nurse.eve")
    planted = (json.dumps({f"{key[0]}|{key[1]}|{key[2]}": {"text": "41,9", "unit": None}}) if how == "clear text"
               else eve_payload)
    store = insider_store(ward["db"], "nurse.eve", OTHER_PW)
    sql(store, "UPDATE draft SET payload = :p WHERE id = :id", {"p": planted, "id": joy_id})
    store.close()
    fresh = Workspace.sign_in(ward["site"], "nurse.joy", NURSE_PW)
    assert fresh.entry.typed_buffer(ref) == {}
    assert ward["joy"].entry.typed_buffer(ref) == {}


def test_drafts_kept_in_clear_by_an_earlier_version_are_sealed_once_and_not_lost(ward: dict[str, Any]) -> None:
    """The upgrade path: a clear draft from before is hers at her first use (sealed, marked in the trail); clear
    text that appears after the mark is not."""
    site, ref, key = ward["site"], ward["ref"], ward["key"]
    admin = Workspace.sign_in(site, "admin", ADMIN_PW)
    make_user(admin, "nurse.ann", "nurse", NURSE_PW)  # has never used a draft with this version
    store = insider_store(ward["db"], "nurse.eve", OTHER_PW)
    user_id = sql(store, "SELECT id FROM app_user WHERE username = 'nurse.ann'")[0][0]
    legacy = json.dumps({f"{key[0]}|{key[1]}|{key[2]}": {"text": "38,2", "unit": None}})
    sql(store, "INSERT INTO draft (user_id, draft_key, payload, updated_utc) VALUES (:u, :k, :p, :t)",
        {"u": user_id, "k": f"typing:{ref.subject}:{ref.event}:{ref.form}", "p": legacy,
         "t": "2026-11-30T10:00:00.000000Z"})
    store.close()
    ann = Workspace.sign_in(site, "nurse.ann", NURSE_PW)
    assert ann.entry.typed_buffer(ref) == {key: ("38,2", None)}  # not lost
    payloads = [p for _, who, p in _drafts(ward["db"]) if who == "nurse.ann"]
    assert payloads and all(p.startswith("sealed1:") for p in payloads)
    marks = [r for r in admin.integrity.audit_trail(limit=200) if r.action == "draft_save"
             and "sealed for their author" in (r.detail or "") and r.username == "nurse.ann"]
    assert len(marks) == 1
    store = insider_store(ward["db"], "nurse.eve", OTHER_PW)
    sql(store, "UPDATE draft SET payload = :p WHERE user_id = :u", {"p": legacy.replace("38,2", "40,1"),
                                                                     "u": user_id})
    store.close()
    assert Workspace.sign_in(site, "nurse.ann", NURSE_PW).entry.typed_buffer(ref) == {}
    assert admin.integrity.verify().ok


def test_the_trail_keeps_a_drafts_digest_not_its_text(ward: dict[str, Any]) -> None:
    joy = ward["joy"]
    joy.drafts.save("register_subject", {"initials": "XYZ", "birth_year": "1977"})
    admin = Workspace.sign_in(ward["site"], "admin", ADMIN_PW)
    records = [r for r in admin.integrity.audit_trail(limit=50) if r.action == "draft_save"
               and "sealed for their author" not in (r.detail or "")]
    assert records and "sha256" in (records[0].new_value or "")
    assert not any("XYZ" in (r.new_value or "") + (r.old_value or "") for r in records)
    assert joy.drafts.load("register_subject") == {"initials": "XYZ", "birth_year": "1977"}
