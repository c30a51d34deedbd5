"""Issue 14: records no insider can rewrite. Each test is one manipulation by an insider who holds ONE account's
password: they unwrap the database key with the project's own key-slot code, then change the database with raw SQL
(triggers dropped) while the program is closed, exactly as the issue's attack list. Each must be detected by
``verify`` (and, for signatures, by the signature display). Before issue 14, 12 of these went unseen.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from msc_sle_crf import audit
from msc_sle_crf.audit import AuditEntry
from msc_sle_crf.errors import AuthenticationError, KeyFileError, StoreError
from msc_sle_crf.security.keyslots import KIND_USER, KeySlotFile, normalize_secret
from msc_sle_crf.security.personal import PersonalKeys, Signer
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.store.db import Store, open_checked

from .conftest import ADMIN_PW, make_user

REF = FormRef("01-001", "SCR", "renal_function")
DOCTOR_PW = "pw-rotcod.rd-2026"
NURSE_PW = "pw-esrun.nurse-2026"


# ----- the insider's tools ---------------------------------------------------------------------------------------
def insider_store(db_path: Path, username: str, password: str) -> Store:
    """The database opened with the key one account's password unwraps (the project's own key-slot code)."""
    keyfile = KeySlotFile.load(KeySlotFile.path_for(db_path))
    key = keyfile.unwrap(KIND_USER, username, normalize_secret(password))
    assert key is not None, "the insider's own password opens the key file"
    return open_checked(db_path, key, bytes.fromhex(keyfile.db_salt_hex))


def sql(store: Store, statement: str, params: dict[str, Any] | None = None) -> list[Any]:
    from sqlalchemy import text

    with store.write_engine.begin() as conn:
        result = conn.execute(text(statement), params or {})
        return list(result.fetchall()) if result.returns_rows else []


def drop_guards(store: Store) -> None:
    for trigger in ("audit_event_no_update", "audit_event_no_delete", "signature_no_update", "signature_no_delete"):
        sql(store, f"DROP TRIGGER IF EXISTS {trigger}")


def rows(store: Store) -> list[dict[str, Any]]:
    fields = audit.STORED_FIELDS
    return [dict(zip(fields, r, strict=True)) for r in sql(store, f"SELECT {', '.join(fields)} FROM audit_event "
                                                                  "ORDER BY id")]


def rewrite_chain(store: Store, records: list[dict[str, Any]]) -> None:
    """Replace the whole trail by ``records``, every hash and link recomputed (what an insider with the SHA-256
    chain alone could do); the signatures are copied as they were (he cannot make the others')."""
    prev = audit.GENESIS_HASH
    sql(store, "DELETE FROM audit_event")
    for n, original in enumerate(records, start=1):
        rec = {**original, "id": n, "prev_hash": prev}
        rec["hash"] = audit.record_hash(rec)
        prev = rec["hash"]
        sql(store, f"INSERT INTO audit_event ({', '.join(audit.STORED_FIELDS)}) VALUES "
                   f"({', '.join(':' + f for f in audit.STORED_FIELDS)})", rec)
    sql(store, f"UPDATE sqlite_sequence SET seq = {len(records)} WHERE name = 'audit_event'")


# ----- the trial as it stands when the insider strikes ----------------------------------------------------------------
@pytest.fixture
def trial(db_path: Path, site: Site, admin: Workspace) -> Path:
    """A doctor entered and signed a form, a monitor verified an item and opened a query, a nurse registered a
    subject; then everyone signed out (the site is closed)."""
    make_user(admin, "dr.house", "investigator", DOCTOR_PW)
    make_user(admin, "nurse.joy", "nurse", NURSE_PW)
    monitor_pw = make_user(admin, "mon.itor", "monitor")
    doctor = Workspace.sign_in(site, "dr.house", DOCTOR_PW)
    doctor.subjects.register("ABC", 1980, "F")
    doctor.entry.save_values(REF, {("lb", 0, "LBDAT"): "20/11/2026", ("lb", 0, "CREAT"): "88"})
    doctor.entry.mark_complete(REF)
    doctor.lifecycle.sign(REF, "dr.house", DOCTOR_PW, "approval")
    monitor = Workspace.sign_in(site, "mon.itor", monitor_pw)
    monitor.monitoring.verify_item(REF, ("lb", 0, "CREAT"))
    monitor.monitoring.open_query(REF, ("lb", 0, "CREAT"), "Please confirm the unit")
    nurse = Workspace.sign_in(site, "nurse.joy", NURSE_PW)
    nurse.subjects.register("DEF", 1975, "M")
    assert Workspace.sign_in(site, "admin", ADMIN_PW).integrity.verify().ok
    site.close()
    return db_path


def check(db_path: Path, clock: Any) -> tuple[Any, Workspace, Site]:
    """What the administrator sees after the manipulation: verify's report (and the workspace)."""
    site = Site.open(db_path, clock=clock)
    admin = Workspace.sign_in(site, "admin", ADMIN_PW)
    return admin.integrity.verify(), admin, site


def doctor_view(db_path: Path, clock: Any) -> tuple[list[Any], Site]:
    site = Site.open(db_path, clock=clock)
    doctor = Workspace.sign_in(site, "dr.house", DOCTOR_PW)
    return doctor.lifecycle.signatures(REF), site


DETECTED: list[str] = []


def detected(name: str, report: Any) -> None:
    assert not report.ok, f"{name}: not detected"
    DETECTED.append(name)


# ----- 1-3: electronic signatures ------------------------------------------------------------------------------------
def test_forged_signature_row_shows_invalid_and_fails_verify(trial: Path, clock: Any) -> None:
    store = insider_store(trial, "nurse.joy", NURSE_PW)
    [original] = sql(store, "SELECT instance_id, user_id, content_hash, signed_utc FROM signature")
    sql(store, "INSERT INTO signature (instance_id, user_id, username, printed_name, role, meaning, signed_utc, "
               "utc_offset_min, content_hash, sig) VALUES (:i, :u, 'dr.house', 'Dr.House', 'investigator', "
               "'approval', :t, 60, :h, :s)",
        {"i": original[0], "u": original[1], "t": original[3], "h": original[2],
         "s": base64.b64encode(PersonalKeys.generate().sign.sign(b"forged")).decode()})
    store.close()
    signatures, site = doctor_view(trial, clock)
    assert [s.valid for s in signatures] == [True, False]
    assert "INVALID: the signature is not the signer's" in signatures[1].manifestation()
    site.close()
    report, _admin, site = check(trial, clock)
    detected("forged signature row", report)
    assert any("signature(s) by 'dr.house'" in u.what and "not in the trail" in u.what for u in report.unexplained)
    site.close()


def test_signer_name_changed_in_a_signature_row(trial: Path, clock: Any) -> None:
    make_other = Site.open(trial, clock=clock)
    Workspace.sign_in(make_other, "admin", ADMIN_PW).accounts.add_user(
        "dr.watson", "Dr Watson", "investigator", initial_password="pw-watson-2026-x", must_change_password=False)
    make_other.close()
    store = insider_store(trial, "nurse.joy", NURSE_PW)
    drop_guards(store)
    sql(store, "UPDATE signature SET username = 'dr.watson', printed_name = 'Dr Watson'")
    store.close()
    signatures, site = doctor_view(trial, clock)
    assert not signatures[0].valid and not signatures[0].authentic
    site.close()
    report, _admin, site = check(trial, clock)
    detected("signer's name changed in a signature row", report)
    site.close()


def test_printed_name_or_meaning_changed_in_a_signature_row(trial: Path, clock: Any) -> None:
    store = insider_store(trial, "nurse.joy", NURSE_PW)
    drop_guards(store)
    sql(store, "UPDATE signature SET printed_name = 'Dr Gregory House, head of department', meaning = 'review'")
    store.close()
    signatures, site = doctor_view(trial, clock)
    assert not signatures[0].valid and not signatures[0].authentic
    site.close()
    report, _admin, site = check(trial, clock)
    detected("printed name and meaning changed in a signature row", report)
    assert any("electronic signature #1 in the name of 'dr.house'" in p for p in report.anchor_problems)
    site.close()


def test_signed_value_changed_with_the_content_hash_recomputed(trial: Path, clock: Any) -> None:
    from msc_sle_crf.services.lifecycle import content_hash
    from msc_sle_crf.store.tables import FormInstance

    store = insider_store(trial, "nurse.joy", NURSE_PW)
    drop_guards(store)
    sql(store, "UPDATE item_value SET value = '120' WHERE item_id = 'CREAT'")
    with store.read() as session:
        instance = session.query(FormInstance).filter_by(form_id="renal_function").one()
        digest = content_hash(session, instance)
    sql(store, "UPDATE signature SET content_hash = :h", {"h": digest})
    store.close()
    signatures, site = doctor_view(trial, clock)
    assert not signatures[0].valid  # the signer's own signature covers the content hash
    site.close()
    report, _admin, site = check(trial, clock)
    detected("signed value changed, content hash recomputed", report)
    assert any("item CREAT" in u.where and "'120'" in u.what for u in report.unexplained)
    site.close()


# ----- 4-6: the end of the trail removed, the anchor rewritten ------------------------------------------------------
@pytest.mark.parametrize("count", [1, 5, 50])
def test_last_records_deleted_and_the_anchor_rewritten(trial: Path, clock: Any, count: int) -> None:
    # more history, so that 50 records can go
    site = Site.open(trial, clock=clock)
    doctor = Workspace.sign_in(site, "dr.house", DOCTOR_PW)
    for n in range(30):
        doctor.subjects.register(f"X{chr(65 + n % 26)}", 1960 + n, "M")
    site.close()
    store = insider_store(trial, "nurse.joy", NURSE_PW)
    drop_guards(store)
    last = sql(store, "SELECT max(id) FROM audit_event")[0][0]
    keep = last - count
    sql(store, f"DELETE FROM audit_event WHERE id > {keep}")
    sql(store, f"UPDATE sqlite_sequence SET seq = {keep} WHERE name = 'audit_event'")
    head = sql(store, f"SELECT id, hash, ts_utc FROM audit_event WHERE id = {keep}")[0]
    store.close()
    # the anchor (and the head file) rewritten to the new end, signed with the only key the nurse has
    keyfile = KeySlotFile.load(KeySlotFile.path_for(trial))
    unlocked = keyfile.unlock(KIND_USER, "nurse.joy", normalize_secret(NURSE_PW))
    assert unlocked is not None and unlocked.keys is not None
    from msc_sle_crf.store import head as head_file
    from msc_sle_crf.store.site import anchor_message

    keyfile.audit_anchor = {"id": head[0], "hash": head[1], "ts": head[2], "signer": "nurse.joy",
                            "sig": base64.b64encode(unlocked.keys.sign.sign(anchor_message(
                                keyfile.db_id, head[0], head[1], head[2]))).decode()}
    keyfile.save()
    writer = head_file.HeadWriter(trial, keyfile.db_id)
    for _ in range(2):
        writer.write(head[0], head[1], head[2])
    writer.close()
    report, _admin, site = check(trial, clock)
    detected(f"last {count} record(s) deleted, anchor rewritten", report)
    # the anchor had to be re-signed with the nurse's key, for a record someone else wrote; and/or the data the
    # removed records described is still there, unexplained
    assert any("signed by 'nurse.joy', but that record was written by" in p for p in report.anchor_problems) \
        or report.unexplained_total
    site.close()


# ----- 7-9: the chain rewritten ------------------------------------------------------------------------------------
def test_one_record_reattributed_and_the_whole_chain_recomputed(trial: Path, clock: Any) -> None:
    store = insider_store(trial, "nurse.joy", NURSE_PW)
    drop_guards(store)
    records = rows(store)
    target = next(r for r in records if r["action"] == "data_entry")
    target["username"] = "nurse.joy"
    target["role"] = "nurse"
    rewrite_chain(store, records)
    store.close()
    report, _admin, site = check(trial, clock)
    detected("record re-attributed, chain recomputed", report)
    assert report.audit.first_bad_id is not None and report.audit.first_bad_id <= target["id"] + 3
    site.close()


def test_a_middle_record_removed_and_ids_renumbered(trial: Path, clock: Any) -> None:
    store = insider_store(trial, "nurse.joy", NURSE_PW)
    drop_guards(store)
    records = rows(store)
    victim = next(r for r in records if r["action"] == "source_verified")
    rewrite_chain(store, [r for r in records if r["id"] != victim["id"]])
    store.close()
    report, _admin, site = check(trial, clock)
    detected("middle record removed, ids renumbered", report)
    site.close()


def test_a_record_forged_in_another_users_name_with_the_projects_own_append(trial: Path, clock: Any) -> None:
    store = insider_store(trial, "nurse.joy", NURSE_PW)
    keyfile = KeySlotFile.load(KeySlotFile.path_for(trial))
    nurse_keys = keyfile.unlock(KIND_USER, "nurse.joy", normalize_secret(NURSE_PW))
    assert nurse_keys is not None and nurse_keys.keys is not None
    for signer in (None, Signer("nurse.joy", nurse_keys.keys), Signer("dr.house", PersonalKeys.generate())):
        with store.write() as session:  # unsigned, signed with the nurse's own key, signed with a made-up key
            audit.append(session, clock, "test-bench-01", AuditEntry(
                audit.Action.DATA_CHANGE, "dr.house", "investigator", subject="01-001", visit="SCR",
                form="renal_function", item="CREAT", repeat_key="lb:0", old_value="88", new_value="95",
                reason="forged"), signer)
        store.close()
        report, _admin, site = check(trial, clock)
        detected(f"record forged in another user's name ({'unsigned' if signer is None else signer.username})",
                 report)
        site.close()
        store = insider_store(trial, "nurse.joy", NURSE_PW)
        drop_guards(store)
        sql(store, "DELETE FROM audit_event WHERE reason = 'forged'")
        sql(store, "DELETE FROM audit_event WHERE id > (SELECT max(id) FROM audit_event WHERE reason IS NULL "
                   "AND action != 'audit_verify' AND action != 'login')")
    store.close()


# ----- 10: a clinical value changed with no audit record ---------------------------------------------------------
def test_a_clinical_value_changed_with_raw_sql_and_no_audit_record(trial: Path, clock: Any) -> None:
    store = insider_store(trial, "nurse.joy", NURSE_PW)
    sql(store, "UPDATE item_value SET value = '77' WHERE item_id = 'CREAT'")
    sql(store, "UPDATE subject SET birth_year = 1990 WHERE initials = 'DEF'")
    sql(store, "UPDATE app_user SET role = 'admin' WHERE username = 'nurse.joy'")
    sql(store, "INSERT INTO query_message (query_id, kind, username, role, utc, text) VALUES "
               "(1, 'close', 'mon.itor', 'monitor', '2026-11-25T10:00:00.000000Z', 'fine')")
    sql(store, "UPDATE data_query SET status = 'closed'")
    store.close()
    report, _admin, site = check(trial, clock)
    detected("clinical value changed with raw SQL", report)
    lines = [u.line() for u in report.unexplained]
    assert any("subject 01-001 / visit SCR / form renal_function / item CREAT / row lb:0" in x and "'77'" in x
               for x in lines)
    assert any("subject 01-002" in x and "birth_year" in x for x in lines)
    assert any("account nurse.joy" in x and "role" in x for x in lines)
    assert any("query #1" in x and "'close' by 'mon.itor'" in x for x in lines)
    site.close()


def test_sdv_mark_added_without_the_monitor(trial: Path, clock: Any) -> None:
    store = insider_store(trial, "nurse.joy", NURSE_PW)
    sql(store, "INSERT INTO item_verification (instance_id, group_id, row_no, item_id, username, utc, value_hash) "
               "SELECT instance_id, group_id, row_no, 'LBDAT', 'mon.itor', utc, value_hash FROM item_verification")
    store.close()
    report, _admin, site = check(trial, clock)
    detected("SDV mark added in the monitor's name", report)
    assert any("item LBDAT" in u.where and "source-data verification" in u.what for u in report.unexplained)
    site.close()


# ----- 11-13: PDFs --------------------------------------------------------------------------------------------------
def test_a_nurse_cannot_sign_with_the_sites_certificate_and_pdfs_name_their_signer(trial: Path, clock: Any,
                                                                                    tmp_path: Path) -> None:
    from msc_sle_crf.pdf import sign

    site = Site.open(trial, clock=clock)
    nurse = Workspace.sign_in(site, "nurse.joy", NURSE_PW)
    pdf = nurse.printing.form_pdf(REF)
    fingerprint = nurse.printing.ca_fingerprint()
    verdict = sign.verify_pinned(pdf, fingerprint)
    assert verdict.intact and verdict.trusted and "nurse.joy" in verdict.signer  # signed as the nurse, not the site
    # the CA key is not reachable with the nurse's keys nor derivable from the database key
    from msc_sle_crf.security import ca
    from msc_sle_crf.store.site import CA_KEY_SETTING

    sealed = json.loads(nurse.settings.get(CA_KEY_SETTING))
    assert set(sealed) == {"admin", "#recovery"}
    assert ca.open_key(sealed["admin"], site.signer("nurse.joy").keys.box, site.keyfile.db_id, "admin") is None
    assert ca.open_key(sealed["admin"], site.signer("nurse.joy").keys.box, site.keyfile.db_id, "nurse.joy") is None
    site.close()
    DETECTED.append("nurse signing forged content with the site's certificate (she can only sign as herself)")


def test_a_same_named_certificate_from_another_site_fails(trial: Path, clock: Any, tmp_path: Path) -> None:
    from msc_sle_crf.pdf import sign

    site = Site.open(trial, clock=clock)
    pinned = Workspace.sign_in(site, "dr.house", DOCTOR_PW).printing.ca_fingerprint()
    site.close()
    other_db = tmp_path / "other" / "trial.crfdb"
    from .conftest import FAST_KDF

    other, _a, _c = Site.initialize(other_db, admin_username="admin", admin_full_name="Ada Admin",
                                    admin_password=ADMIN_PW, kdf=FAST_KDF, clock=clock)
    oadmin = Workspace.sign_in(other, "admin", ADMIN_PW)
    make_user(oadmin, "dr.house", "investigator", DOCTOR_PW)
    odoctor = Workspace.sign_in(other, "dr.house", DOCTOR_PW)
    odoctor.subjects.register("ABC", 1980, "F")
    odoctor.entry.save_values(REF, {("lb", 0, "LBDAT"): "20/11/2026", ("lb", 0, "CREAT"): "88"})
    forged = odoctor.printing.form_pdf(REF)
    assert sign.verify_pinned(forged, odoctor.printing.ca_fingerprint()).trusted  # valid for ITS site
    verdict = sign.verify_pinned(forged, pinned)
    assert not verdict.trusted and "pinned site CA" in verdict.summary
    other.close()
    DETECTED.append("same-named certificate from another site")
    # The command says so in one line (pyHanko's own 14-line traceback about the path it could not build reached
    # stderr through Python's last-resort log handler before it).
    import subprocess
    import sys

    pdf = tmp_path / "other.pdf"
    pdf.write_bytes(forged)
    done = subprocess.run([sys.executable, "-m", "msc_sle_crf", "pdf-verify", str(pdf), "--fingerprint", pinned],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode != 0 and "pinned site CA" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr


# ----- 14-15: revocation ------------------------------------------------------------------------------------------
def _copy_keyfile(db_path: Path, name: str) -> Path:
    copy = db_path.parent / name
    shutil.copy2(KeySlotFile.path_for(db_path), copy)
    return copy


def test_a_disabled_users_password_and_an_old_key_file_open_nothing(trial: Path, clock: Any) -> None:
    old_keys = _copy_keyfile(trial, "elsewhere.keys")  # kept by the nurse before being disabled
    site = Site.open(trial, clock=clock)
    admin = Workspace.sign_in(site, "admin", ADMIN_PW)
    admin.accounts.disable_user("nurse.joy", "left the unit")
    rotation = admin.accounts.last_rotation
    assert rotation is not None and "nurse.joy" not in rotation.accounts
    assert admin.integrity.verify().ok
    site.close()
    stale = KeySlotFile.load(old_keys)
    old_key = stale.unwrap(KIND_USER, "nurse.joy", normalize_secret(NURSE_PW))
    assert old_key is not None  # the old file still opens ... the OLD key
    with pytest.raises(StoreError):
        open_checked(trial, old_key, bytes.fromhex(stale.db_salt_hex)).close()
    with pytest.raises(AuthenticationError):
        Site.open(trial, clock=clock).sign_in("nurse.joy", NURSE_PW)
    DETECTED.append("disabled user's password with an old key file")


def test_rotate_keys_revokes_an_old_password_and_rewraps_the_copies_beside_the_database(trial: Path,
                                                                                       clock: Any) -> None:
    replaced = _copy_keyfile(trial, f"{trial.name}.keys.replaced-20260101T000000Z")
    shutil.copy2(trial, trial.parent / f"{trial.name}.replaced-20260101T000000Z")
    site = Site.open(trial, clock=clock)
    doctor = Workspace.sign_in(site, "dr.house", DOCTOR_PW)
    doctor.accounts.change_password(DOCTOR_PW, "a-brand-new-secret-77")
    admin = Workspace.sign_in(site, "admin", ADMIN_PW)
    seen = []
    rotation = admin.accounts.rotate_keys(progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1]
    assert replaced in rotation.stale_rewrapped
    report = admin.integrity.verify()
    assert report.ok
    site.close()
    # the doctor's OLD password opens neither the copy's re-wrapped key file nor the current database
    rewrapped = KeySlotFile.load(replaced)
    assert rewrapped.unwrap(KIND_USER, "dr.house", normalize_secret(DOCTOR_PW)) is None
    current = KeySlotFile.load(KeySlotFile.path_for(trial))
    assert current.unwrap(KIND_USER, "dr.house", normalize_secret(DOCTOR_PW)) is None
    assert current.unwrap(KIND_USER, "dr.house", normalize_secret("a-brand-new-secret-77")) is not None
    DETECTED.append("old password with a kept key file after rotation")


def test_a_rotation_refuses_a_key_file_edited_to_seal_the_new_key_to_the_insider(trial: Path, clock: Any) -> None:
    keyfile = KeySlotFile.load(KeySlotFile.path_for(trial))
    nurse = keyfile.find(KIND_USER, "nurse.joy")
    doctor = keyfile.find(KIND_USER, "dr.house")
    assert nurse is not None and doctor is not None and nurse.publics is not None and doctor.publics is not None
    from dataclasses import replace

    doctor_slot = replace(doctor, publics=replace(doctor.publics, box=nurse.publics.box))
    keyfile.put_slot(doctor_slot)
    keyfile.save()
    site = Site.open(trial, clock=clock)
    admin = Workspace.sign_in(site, "admin", ADMIN_PW)
    from msc_sle_crf.errors import ValidationError

    with pytest.raises(ValidationError, match=r"dr\.house"):
        admin.accounts.rotate_keys()
    site.close()
    DETECTED.append("key file edited to seal the new key to the insider")


# ----- 16-18: lockout and names ---------------------------------------------------------------------------------------
def test_an_older_key_file_put_back_is_refused_and_audited(trial: Path, clock: Any) -> None:
    older = _copy_keyfile(trial, "older.keys")
    site = Site.open(trial, clock=clock)
    admin = Workspace.sign_in(site, "admin", ADMIN_PW)
    admin.lock()
    for _ in range(4):  # the screen is locked, the database open: failures go into the trail at once
        with pytest.raises(AuthenticationError):
            site.authenticate("dr.house", "wrong-password-x")
    site.close()
    shutil.copy2(older, KeySlotFile.path_for(trial))  # the failures and the counter "erased"
    site = Site.open(trial, clock=clock)
    with pytest.raises(KeyFileError) as refused:
        site.sign_in("dr.house", DOCTOR_PW)
    assert "older than the database" in refused.value.message()
    site.close()
    store = insider_store(trial, "nurse.joy", NURSE_PW)
    actions = [a for (a,) in sql(store, "SELECT action FROM audit_event ORDER BY id")]
    store.close()
    assert actions.count("login_failed") >= 4 and actions[-1] == "keyfile_rollback"
    DETECTED.append("older key file put back")


def test_made_up_names_cannot_evict_a_locked_accounts_counter(trial: Path, clock: Any) -> None:
    site = Site.open(trial, clock=clock)
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            site.authenticate("dr.house", "wrong-password-x")
    for n in range(210):
        with pytest.raises(AuthenticationError):
            site.authenticate(f"nobody{n:03d}", "whatever-1234")
    with pytest.raises(AuthenticationError, match="locked"):
        site.authenticate("dr.house", DOCTOR_PW)
    assert len(site.keyfile.attempts) <= 201
    site.close()
    DETECTED.append("200 made-up names evicting a lockout")


def test_a_name_typed_at_sign_in_never_stays_in_clear(trial: Path, clock: Any) -> None:
    site = Site.open(trial, clock=clock)
    with pytest.raises(AuthenticationError):
        site.authenticate("Secret-Password-In-The-Name-Field", "whatever-1234")
    text = KeySlotFile.path_for(trial).read_text()
    assert "secret-password-in-the-name-field" not in text.lower()
    Workspace.sign_in(site, "admin", ADMIN_PW)  # the pending failure goes into the trail
    site.close()
    store = insider_store(trial, "nurse.joy", NURSE_PW)
    trail = json.dumps([tuple(r) for r in sql(store, "SELECT username, detail FROM audit_event")])
    store.close()
    assert "secret-password-in-the-name-field" not in trail.lower()
    DETECTED.append("typed user name kept in clear")


# ----- 19-20: rollback, instance lock -------------------------------------------------------------------------------
def test_older_database_and_key_file_put_back_together_fail_against_a_receipt(trial: Path, clock: Any,
                                                                           tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    saved.mkdir()
    for f in (trial, KeySlotFile.path_for(trial), Path(f"{trial}.head")):
        shutil.copy2(f, saved / f.name)
    site = Site.open(trial, clock=clock)
    doctor = Workspace.sign_in(site, "dr.house", DOCTOR_PW)
    doctor.subjects.register("GHI", 1966, "F")
    monitor_receipt = tmp_path / "receipt.json"
    from msc_sle_crf.services.receipts import write_receipt

    write_receipt(doctor.ctx, monitor_receipt)
    site.close()
    for f in saved.iterdir():  # the older pair (and head file) put back together
        shutil.copy2(f, trial.parent / f.name)
    site = Site.open(trial, clock=clock)
    admin = Workspace.sign_in(site, "admin", ADMIN_PW)
    assert admin.integrity.verify().ok  # consistent in itself: only something kept outside can tell
    report = admin.integrity.verify(receipts=[monitor_receipt])
    detected("older database and key file put back together (against a receipt)", report)
    # the trail now ends after the receipt's record again (the verify just run wrote records), but not with it
    assert "differs from the receipt at record" in report.receipt_problems[0] \
        or "shorter than the receipt" in report.receipt_problems[0]
    site.close()


def test_the_instance_lock_holds_through_a_symbolic_link(trial: Path, clock: Any, tmp_path: Path) -> None:
    link = tmp_path / "link.crfdb"
    link.symlink_to(trial)
    for suffix in (".keys",):
        Path(f"{link}{suffix}").symlink_to(Path(f"{trial}{suffix}"))
    site = Site.open(trial, clock=clock)
    with pytest.raises(StoreError, match="already open"):
        Site.open(link, clock=clock)
    site.close()
    DETECTED.append("instance lock bypassed through a symbolic link")


# ----- found by an insider attack after issue 14 landed (2 December) -------------------------------------------------
def test_a_converted_value_set_with_raw_sql_is_named(trial: Path, clock: Any) -> None:
    """Scores read an item's converted value when there is one: a value typed in the standard unit has none, so a
    converted value set behind it (the score changes, the form still shows the typed value) must be named."""
    store = insider_store(trial, "nurse.joy", NURSE_PW)
    sql(store, "UPDATE item_value SET canonical = '300' WHERE item_id = 'CREAT'")
    store.close()
    report, _admin, site = check(trial, clock)
    detected("converted value set behind a value typed in the standard unit", report)
    assert any("CREAT" in u.line() and "converted value '300'" in u.line() for u in report.unexplained)
    site.close()


@pytest.mark.parametrize("through", ["itself", "the forged record"])
def test_a_forged_verify_checkpoint_does_not_switch_off_signature_checks(trial: Path, clock: Any,
                                                                         through: str) -> None:
    """verify skips the signatures its user's own last check signed for. A checkpoint record forged in the
    administrator's name (claiming to cover everything, itself included, or just the forged record before it) must
    not hide a record forged in the doctor's name."""
    store = insider_store(trial, "nurse.joy", NURSE_PW)
    with store.write() as session:
        audit.append(session, clock, "test-bench-01", AuditEntry(
            audit.Action.DATA_CHANGE, "dr.house", "investigator", subject="01-001", visit="SCR",
            form="renal_function", item="CREAT", repeat_key="lb:0", old_value="88", new_value="95",
            reason="transcription error"), Signer("dr.house", PersonalKeys.generate()))
    forged_id, forged_hash = sql(store, "SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1")[0]
    covered = (999_999_999, "f" * 64) if through == "itself" else (forged_id, forged_hash)
    with store.write() as session:
        audit.append(session, clock, "test-bench-01", AuditEntry(
            audit.Action.AUDIT_VERIFY, "admin", "admin",
            detail=f"{forged_id} records checked: ok; signatures checked through #{covered[0]} {covered[1]}"),
            Signer("admin", PersonalKeys.generate()))
    sql(store, "UPDATE item_value SET value = '95' WHERE item_id = 'CREAT'")
    store.close()
    report, _admin, site = check(trial, clock)
    detected(f"verify checkpoint forged in the administrator's name (covering {through})", report)
    site.close()


def test_events_planted_in_the_key_file_are_not_signed_by_the_next_user(trial: Path, clock: Any) -> None:
    """Sign-in failures noted while the database is closed wait in the key file, and whoever signs in next writes
    them into the trail as a witness. Anyone holding the key file can add events there: only the failures and
    lockouts the program writes may pass, in an account's name or a made-up name's keyed hash, not before the
    trail's last record; anything else is dropped and the drop is recorded."""
    keyfile = KeySlotFile.load(KeySlotFile.path_for(trial))
    now = clock.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    planted = [
        {"action": "audit_verify", "username": "admin", "role": "admin", "ts_utc": now, "utc_offset_min": 60,
         "detail": "5 records checked: ok; signatures checked through #999999999 " + "f" * 64},
        {"action": "export", "username": "admin", "role": None, "ts_utc": now, "utc_offset_min": 60,
         "detail": "casebook 01-001 -> /media/usb0/01-001.csv"},
        {"action": "user_add", "username": "dr.house", "role": None, "ts_utc": now, "utc_offset_min": 60,
         "detail": "wrong password"},
        {"action": "login_failed", "username": "dr.house", "role": None, "ts_utc": "2020-01-01T03:12:00.000000Z",
         "utc_offset_min": 60, "detail": "wrong password"},  # back-dated before the trail's end
        {"action": "login_failed", "username": "dr.house", "role": None, "ts_utc": now, "utc_offset_min": 60,
         "detail": "typed: training-doctor"},  # free text
        {"action": "login_failed", "username": "dr.house", "role": None, "ts_utc": now, "utc_offset_min": 60,
         "detail": "wrong password"},  # what the program itself writes: kept
    ]
    keyfile.pending_events = planted
    keyfile.save()
    store = insider_store(trial, "nurse.joy", NURSE_PW)
    before = sql(store, "SELECT max(id) FROM audit_event")[0][0]
    store.close()
    site = Site.open(trial, clock=clock)
    admin = Workspace.sign_in(site, "admin", ADMIN_PW)
    assert site.store is not None
    written = sql(site.store, f"SELECT action, username, detail FROM audit_event WHERE id > {before} ORDER BY id")
    assert ("login_failed", "dr.house", "wrong password") in written
    planted_rows = sql(site.store, "SELECT action, username, detail FROM audit_event WHERE detail LIKE "
                                   "'%/media/usb0%' OR detail LIKE '%#999999999%' OR detail LIKE '%training-doctor%' "
                                   "OR (action = 'user_add' AND username = 'dr.house' AND detail = 'wrong password') "
                                   "OR ts_utc LIKE '2020-%'")
    assert planted_rows == []
    dropped = [d for a, _u, d in written if a == "keyfile_rollback"]
    assert dropped and dropped[0].startswith("5 event(s) noted in the key file")
    report = admin.integrity.verify(recheck_signatures=True)
    assert report.ok, report
    site.close()


def test_a_password_typed_as_the_signers_name_never_stays_in_clear(trial: Path, clock: Any) -> None:
    """The signing dialog asks for a name and a password: a password typed in the name field is recorded only as a
    keyed hash (as at sign-in), so the next insider cannot read it from the trail."""
    from msc_sle_crf.errors import CrfError

    site = Site.open(trial, clock=clock)
    doctor = Workspace.sign_in(site, "dr.house", DOCTOR_PW)
    with pytest.raises(CrfError):
        doctor.lifecycle.sign(FormRef("01-002", "SCR", "renal_function"), DOCTOR_PW, DOCTOR_PW, "approval")
    with pytest.raises(CrfError):
        doctor.lifecycle.sign(REF, "nurse.joy", NURSE_PW, "approval")  # another account's name: named as such
    site.close()
    store = insider_store(trial, "nurse.joy", NURSE_PW)
    details = [d for (d,) in sql(store, "SELECT detail FROM audit_event WHERE action = 'sign_failed'")]
    store.close()
    assert details and not any(DOCTOR_PW in (d or "") for d in details), details
    assert any("user name typed: ?" in (d or "") for d in details) and any("nurse.joy" in (d or "") for d in details)


@pytest.mark.parametrize("cover", ["none", "a record signed by the nurse"])
def test_a_site_ca_swapped_in_the_settings_is_named_and_trusted_nowhere(trial: Path, clock: Any, cover: str) -> None:
    """The nurse puts her own CA in the settings (she could then issue herself a certificate in the doctor's name,
    and every PDF check would trust it): verify names it, and neither printing nor pdf-verify uses it."""
    from msc_sle_crf.errors import CrfError
    from msc_sle_crf.security import ca

    store = insider_store(trial, "nurse.joy", NURSE_PW)
    forged_pem, _key = ca.new_ca("Training site", "x" * 32, clock.now())
    sql(store, "UPDATE site_setting SET value = :pem WHERE key = 'ca_certificate'", {"pem": forged_pem})
    if cover != "none":
        keyfile = KeySlotFile.load(KeySlotFile.path_for(trial))
        nurse = keyfile.unlock(KIND_USER, "nurse.joy", normalize_secret(NURSE_PW))
        assert nurse is not None and nurse.keys is not None
        with store.write() as session:
            audit.append(session, clock, "test-bench-01", AuditEntry(
                audit.Action.CERTIFICATE, "nurse.joy", "nurse", item="site CA", new_value=ca.fingerprint(forged_pem),
                detail="site CA imported"), Signer("nurse.joy", nurse.keys))
    store.close()
    report, admin, site = check(trial, clock)
    detected(f"site CA swapped in the settings (cover: {cover})", report)
    assert any("site CA certificate" in u.line() for u in report.unexplained), report.unexplained
    with pytest.raises(CrfError, match="not the one an administrator recorded"):
        admin.printing.ca_fingerprint()
    site.close()


def test_a_slot_smuggled_into_the_key_file_does_not_block_revocation(trial: Path, clock: Any) -> None:
    """Before being disabled, the nurse copies her own key slot under a made-up name (and keeps the raw database
    key). Disabling her still re-keys the database: the smuggled slot, which belongs to no account of the trail, is
    dropped (and named in the trail) instead of refusing the rotation."""
    import dataclasses

    keyfile = KeySlotFile.load(KeySlotFile.path_for(trial))
    nurse_slot = keyfile.find(KIND_USER, "nurse.joy")
    assert nurse_slot is not None
    raw_key = keyfile.unwrap(KIND_USER, "nurse.joy", normalize_secret(NURSE_PW))
    keyfile.slots.append(dataclasses.replace(nurse_slot, user="zz.ghost"))
    keyfile.save()
    site = Site.open(trial, clock=clock)
    admin = Workspace.sign_in(site, "admin", ADMIN_PW)
    admin.accounts.disable_user("nurse.joy", "left the unit")
    rotation = admin.accounts.last_rotation
    assert rotation is not None and rotation.dropped == ("zz.ghost",)
    assert admin.integrity.verify().ok
    site.close()
    assert raw_key is not None
    with pytest.raises(StoreError):  # the key she kept opens nothing current
        open_checked(trial, raw_key, bytes.fromhex(keyfile.db_salt_hex)).close()
    current = KeySlotFile.load(KeySlotFile.path_for(trial))
    assert current.find(KIND_USER, "zz.ghost") is None
    DETECTED.append("a key slot smuggled in under a made-up name to block the rotation at disabling")


def test_zz_report_the_count(capsys: Any) -> None:
    """Prints how many manipulations were detected (the count the report quotes)."""
    with capsys.disabled():
        print(f"\n[issue14] manipulations detected: {len(DETECTED)}")
        for name in DETECTED:
            print(f"  - {name}")


@pytest.mark.parametrize("content", [
    "trail #99999999999999999999 " + "a" * 64,
    "trail #" + "9" * 5000 + " " + "a" * 64,
    '{"format": "msc-sle-crf-receipt", "db_id": "x", "record_id": 99999999999999999999, "record_hash": "a"}',
    '{"format": "msc-sle-crf-receipt", "db_id": null, "record_id": 3, "record_hash": "a"}',
])
def test_a_crafted_receipt_gets_one_clear_line(trial: Path, tmp_path: Path, content: str) -> None:
    from msc_sle_crf.errors import CrfError
    from msc_sle_crf.services import receipts

    path = tmp_path / "receipt.txt"
    path.write_text(content.replace("msc-sle-crf-receipt", receipts.FORMAT))
    with pytest.raises(CrfError) as refused:
        receipts.load(path)
    assert "\n" not in str(refused.value) and "receipt.txt" in str(refused.value)
