"""Issue 14: personal keys, password strength, the KDF floor, rotation after a crash, older sites, the commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from msc_sle_crf.errors import ValidationError
from msc_sle_crf.i18n import Lang
from msc_sle_crf.security import keyslots
from msc_sle_crf.security.keyslots import KIND_USER, MIN_KDF, KdfParams, KeySlotFile, normalize_secret
from msc_sle_crf.security.policy import check_password_policy
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.store import journal as J
from tests.helpers.sql import run_sql

from .conftest import ADMIN_PW, make_user

REF = FormRef("01-001", "SCR", "renal_function")
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("weak", ["motdepasse123", "azertyuiop12", "Password123!", "lupuslupus1"])
def test_a_guessable_password_is_refused_with_advice_in_both_languages(weak: str) -> None:
    with pytest.raises(ValidationError) as refused:
        check_password_policy(weak, "nurse.a")
    assert refused.value.message(Lang.EN).startswith("Password: too easy to guess. ")
    assert refused.value.message(Lang.FR).startswith("Mot de passe : trop facile à deviner. ")
    assert "commonly used" in refused.value.message(Lang.EN) or "Add another word" in refused.value.message(Lang.EN)
    assert "Ajoutez" in refused.value.message(Lang.FR) or "utilisé" in refused.value.message(Lang.FR)


def test_the_kdf_floor_holds_whatever_the_key_file_says(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(keyslots, "KDF_FLOOR", MIN_KDF)
    keyfile = KeySlotFile(path=tmp_path / "x.keys", db_id="abc", db_salt_hex="00" * 16,
                          kdf_default=KdfParams(time_cost=1, memory_kib=64, parallelism=1))  # tampered, or a busy PC
    slot = keyfile.make_slot(KIND_USER, "alice", b"alice-password-long", os.urandom(32), "t")
    assert slot.kdf.time_cost >= MIN_KDF.time_cost and slot.kdf.memory_kib >= MIN_KDF.memory_kib
    assert keyslots.calibrate(target_seconds=0.0001).memory_kib >= MIN_KDF.memory_kib


def test_a_password_change_gives_new_signing_keys_and_old_signatures_stay_valid(site: Site, admin: Workspace) -> None:
    password = make_user(admin, "dr.k", "investigator")
    doctor = Workspace.sign_in(site, "dr.k", password)
    doctor.subjects.register("ABC", 1980, "F")
    doctor.entry.save_values(REF, {("lb", 0, "LBDAT"): "20/11/2026", ("lb", 0, "CREAT"): "88"})
    doctor.entry.mark_complete(REF)
    doctor.lifecycle.sign(REF, "dr.k", password, "approval")
    before = site.keyfile.find(KIND_USER, "dr.k")
    doctor.accounts.change_password(password, "another-long-secret-91")
    after = site.keyfile.find(KIND_USER, "dr.k")
    assert before is not None and after is not None and before.publics is not None and after.publics is not None
    assert before.publics.sign != after.publics.sign and before.publics.pdf == after.publics.pdf
    doctor.subjects.register("DEF", 1970, "M")  # signed with the new key
    [signature] = doctor.lifecycle.signatures(REF)
    assert signature.valid and signature.authentic
    assert admin.integrity.verify().ok


def test_a_rotation_interrupted_after_the_rekey_is_completed_at_the_next_sign_in(db_path: Path, site: Site,
                                                                              admin: Workspace, clock: Any,
                                                                              monkeypatch: Any) -> None:

    make_user(admin, "nurse.r", "nurse", "pw-nurse-r-2026-x")

    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise KeyboardInterrupt  # the power goes after the database was re-keyed, before the key file was saved

    real_reopen = site.reopen_store
    calls = []

    def reopen_then_crash(key: bytes) -> None:
        calls.append(key)
        real_reopen(key)
        monkeypatch.setattr(site, "save_keyfile", crash)

    monkeypatch.setattr(site, "reopen_store", reopen_then_crash)
    with pytest.raises(KeyboardInterrupt):
        admin.accounts.rotate_keys()
    monkeypatch.undo()
    assert J.Journal.path_for(db_path).exists()
    site._close_store()
    site._lock.release()
    # the key file still wraps the OLD key; the database has the NEW one
    reopened = Site.open(db_path, clock=clock)
    nurse = Workspace.sign_in(reopened, "nurse.r", "pw-nurse-r-2026-x")
    assert [n.completed for n in reopened.notices] == [True]
    assert not J.Journal.path_for(db_path).exists()
    assert nurse.actor.username == "nurse.r"
    reopened.close()
    again = Site.open(db_path, clock=clock)
    report = Workspace.sign_in(again, "admin", ADMIN_PW).integrity.verify()
    assert report.ok, report
    again.close()


def _legacy_slot(keyfile: KeySlotFile, kind: str, user: str | None, secret: bytes) -> None:
    """The slot as an older version wrote it: the database key wrapped under the secret, no personal keys."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    unlocked = keyfile.unlock(kind, user, secret)
    slot = keyfile.find(kind, user)
    assert unlocked is not None and slot is not None
    wrapping = slot.kdf.derive(secret, slot.salt)
    keyfile.put_slot(keyslots.Slot(slot.slot_id, kind, user, slot.kdf, slot.salt, slot.nonce, AESGCM(wrapping).encrypt(
        slot.nonce, unlocked.db_key, keyfile._aad(keyfile.db_id, kind, user)), slot.created_utc))


def _make_older_site(db_path: Path, site: Site, passwords: dict[str, str], code: str) -> None:
    """What a site made before issue 14 looks like: version 1 slots, an unsigned trail without keys, no CA."""
    from msc_sle_crf import audit

    store = site.store
    assert store is not None
    for trigger in ("audit_event_no_update", "audit_event_no_delete", "certificate_no_delete"):
        run_sql(store, f"DROP TRIGGER {trigger}")
    conn = store.raw_connection()
    records = [dict(zip(audit.STORED_FIELDS, r, strict=True)) for r in conn.execute(
        "SELECT " + ", ".join(audit.STORED_FIELDS) + " FROM audit_event ORDER BY id").fetchall()]
    conn.close()
    prev = audit.GENESIS_HASH
    for rec in records:
        if rec["action"] in ("user_add", "site_init"):
            value = json.loads(rec["new_value"])
            value.pop("keys", None)
            value.pop("recovery_keys", None)
            value.pop("ca_fingerprint", None)
            rec["new_value"] = json.dumps(value)
        rec.update(prev_hash=prev, signer=None, sig=None)
        rec["hash"] = prev = audit.record_hash(rec)
        run_sql(store, "UPDATE audit_event SET new_value = {}, prev_hash = '{}', hash = '{}', signer = NULL, "
                       "sig = NULL WHERE id = {}".format("'" + rec["new_value"].replace("'", "''") + "'"
                                                         if rec["new_value"] is not None else "NULL",
                                                         rec["prev_hash"], rec["hash"], rec["id"]))
    run_sql(store, "DELETE FROM site_setting WHERE key IN ('ca_certificate', 'ca_key_sealed')")
    run_sql(store, "DELETE FROM certificate")
    site.close()
    keyfile = KeySlotFile.load(KeySlotFile.path_for(db_path))
    for user, password in passwords.items():
        _legacy_slot(keyfile, KIND_USER, user, normalize_secret(password))
    _legacy_slot(keyfile, keyslots.KIND_RECOVERY, None, keyslots.normalize_recovery_code(code).encode())
    keyfile.audit_anchor = None
    keyfile.save()


def test_an_older_site_gets_keys_at_each_first_sign_in_and_rotation_waits_for_them(
        db_path: Path, site_and_code: tuple[Site, str], clock: Any) -> None:
    site, code = site_and_code
    admin = Workspace.sign_in(site, "admin", ADMIN_PW)
    nurse_pw = make_user(admin, "nurse.o", "nurse")
    doctor_pw = make_user(admin, "dr.o", "investigator")
    _make_older_site(db_path, site, {"admin": ADMIN_PW, "nurse.o": nurse_pw, "dr.o": doctor_pw}, code)
    reopened = Site.open(db_path, clock=clock)
    nurse = Workspace.sign_in(reopened, "nurse.o", nurse_pw)  # her keys are made now, bound by herself
    assert (slot := reopened.keyfile.find(KIND_USER, "nurse.o")) is not None and slot.publics is not None
    nurse.subjects.register("ABC", 1980, "F")
    admin = Workspace.sign_in(reopened, "admin", ADMIN_PW)
    assert admin.integrity.verify().ok  # the unsigned past, then each account's own first key
    with pytest.raises(ValidationError, match=r"dr\.o"):  # the doctor has not signed in yet
        admin.accounts.rotate_keys()
    assert admin.accounts.issue_certificate("nurse.o")  # the CA is made for the older site by an administrator
    Workspace.sign_in(reopened, "dr.o", doctor_pw)
    rotation = admin.accounts.rotate_keys()
    assert rotation.recovery_code  # the older recovery slot had no keys: a new code replaces it, shown once
    assert reopened.keyfile.unwrap(keyslots.KIND_RECOVERY, None, keyslots.normalize_recovery_code(code).encode()) \
        is None
    assert admin.integrity.verify().ok
    reopened.reset_with_recovery_code(rotation.recovery_code, "dr.o", "a-fresh-start-for-dr-o")
    assert admin.integrity.verify().ok
    pdf = Workspace.sign_in(reopened, "nurse.o", nurse_pw).printing.form_pdf(FormRef("01-001", "SCR",
                                                                                     "renal_function"))
    from msc_sle_crf.pdf import sign

    assert sign.verify_pinned(pdf, admin.printing.ca_fingerprint()).trusted
    reopened.close()


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "msc_sle_crf", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=300, check=False)


def test_commands_receipt_verify_and_pdf_verify(db_path: Path, site: Site, admin: Workspace,
                                                tmp_path: Path) -> None:
    password = make_user(admin, "dr.c", "investigator")
    doctor = Workspace.sign_in(site, "dr.c", password)
    doctor.subjects.register("ABC", 1980, "F")
    doctor.entry.save_values(REF, {("lb", 0, "LBDAT"): "20/11/2026", ("lb", 0, "CREAT"): "88"})
    fingerprint = doctor.printing.ca_fingerprint()
    site.close()
    receipt, pdf = tmp_path / "r.json", tmp_path / "f.pdf"
    out = _cli("receipt", "--db", str(db_path), "--user", "dr.c", "--password-stdin", "--out", str(receipt),
               stdin=password + "\n")
    assert out.returncode == 0, out.stderr
    assert json.loads(receipt.read_text())["signer"] == "dr.c"
    out = _cli("pdf", "--db", str(db_path), "--user", "dr.c", "--password-stdin", "--subject", "01-001",
               "--visit", "SCR", "--form", "renal_function", "--out", str(pdf), stdin=password + "\n")
    assert out.returncode == 0, out.stderr
    out = _cli("pdf-verify", str(pdf), "--fingerprint", fingerprint.replace(":", "").lower())
    assert out.returncode == 0 and "VALID" in out.stdout and "dr.c" in out.stdout, out.stdout + out.stderr
    other = "00:" * 31 + "00"
    out = _cli("pdf-verify", str(pdf), "--fingerprint", other)
    assert out.returncode != 0 and "does not chain to the pinned site CA" in out.stderr
    tampered = bytearray(pdf.read_bytes())
    tampered[len(tampered) // 2] ^= 1
    (tmp_path / "t.pdf").write_bytes(bytes(tampered))
    out = _cli("pdf-verify", str(tmp_path / "t.pdf"), "--fingerprint", fingerprint)
    assert out.returncode != 0 and "changed after signing" in out.stderr
    out = _cli("verify", "--db", str(db_path), "--user", "admin", "--password-stdin", "--receipt", str(receipt),
               "--receipt", str(pdf), stdin=ADMIN_PW + "\n")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Receipts: OK (2 checked" in out.stdout and "Data against the trail: OK" in out.stdout


def test_a_receipt_from_another_site_and_a_file_without_a_head_are_named(db_path: Path, site: Site,
                                                                      admin: Workspace, tmp_path: Path) -> None:
    from msc_sle_crf.services.receipts import write_receipt

    receipt = tmp_path / "r.json"
    write_receipt(admin.ctx, receipt)
    data = json.loads(receipt.read_text())
    data["db_id"] = "f" * 32
    (tmp_path / "other.json").write_text(json.dumps(data))
    (tmp_path / "plain.txt").write_text("nothing here")
    report = admin.integrity.verify(receipts=[tmp_path / "other.json"])
    assert not report.ok and "another site database" in report.receipt_problems[0]
    with pytest.raises(ValidationError, match="no trail head"):
        admin.integrity.verify(receipts=[tmp_path / "plain.txt"])
    with pytest.raises(ValidationError, match="site's files"):
        write_receipt(admin.ctx, Path(f"{db_path}.keys"))


def test_a_backup_is_a_receipt(db_path: Path, site: Site, admin: Workspace, tmp_path: Path) -> None:
    from msc_sle_crf.services.backup import create_backup

    backup = create_backup(admin, tmp_path / "b.tar")
    report = admin.integrity.verify(receipts=[backup])
    assert report.ok and report.receipts_checked == 1
    run_sql(site.store, "DROP TRIGGER audit_event_no_delete")
    last = run_sql(site.store, "SELECT max(id) FROM audit_event")[0][0]
    run_sql(site.store, f"DELETE FROM audit_event WHERE id > {last - 8}")
    report = admin.integrity.verify(receipts=[backup])
    assert not report.ok


def test_the_signature_display_in_the_form_header(qtbot: Any, site: Site, admin: Workspace) -> None:
    from msc_sle_crf.ui.form.header import FormHeader

    password = make_user(admin, "dr.u", "investigator")
    doctor = Workspace.sign_in(site, "dr.u", password)
    doctor.subjects.register("ABC", 1980, "F")
    doctor.entry.save_values(REF, {("lb", 0, "LBDAT"): "20/11/2026", ("lb", 0, "CREAT"): "88"})
    doctor.entry.mark_complete(REF)
    doctor.lifecycle.sign(REF, "dr.u", password, "approval")
    run_sql(site.store, "DROP TRIGGER signature_no_update")
    run_sql(site.store, "UPDATE signature SET meaning = 'review'")
    doctor.ctx.forget_directory()
    from PySide6.QtWidgets import QWidget

    parent = QWidget()
    qtbot.addWidget(parent)
    header = FormHeader(doctor.entry.open_form(REF), REF, read_only=False, parent=parent)
    header.show_signatures(doctor.lifecycle.signatures(REF))
    assert "INVALID: the signature is not the signer" in header.signature_lines.text()
    assert "✕" in header.signature_lines.text()


def test_a_disabled_accounts_open_session_is_refused_and_the_trail_still_verifies(site: Site,
                                                                                 admin: Workspace) -> None:
    from msc_sle_crf.errors import AuthenticationError

    password = make_user(admin, "nurse.s", "nurse")
    nurse = Workspace.sign_in(site, "nurse.s", password)
    admin.accounts.disable_user("nurse.s", "left the unit")
    assert admin.accounts.last_rotation is not None  # the database has a new key ...
    with pytest.raises(AuthenticationError):  # ... and her open session can do nothing (the refusal is audited)
        nurse.subjects.register("ABC", 1980, "F")
    assert admin.integrity.verify().ok


def test_the_administration_menu_offers_the_trust_actions(qtbot: Any, site: Site, admin: Workspace,
                                                          monkeypatch: Any, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QMessageBox

    from msc_sle_crf.ui.main_window import MainWindow

    main = MainWindow(admin, idle_ms=60_000)
    qtbot.addWidget(main)
    texts = [a.text() for a in main.admin_menu.actions()]
    assert {"Verify a PDF…", "Write a receipt of the audit trail…", "Site CA fingerprint…", "Rotate keys…"} <= set(
        texts)
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda _p, _t, text: shown.append(text))
    main.ca_action.trigger()
    assert admin.printing.ca_fingerprint() in shown[-1]
    target = tmp_path / "receipt.json"
    from msc_sle_crf.ui import printing

    monkeypatch.setattr(printing, "ask_save_path", lambda *_a, **_k: target)
    main.receipt_action.trigger()
    assert json.loads(target.read_text())["signer"] == "admin" and "Receipt written" in shown[-1]
    monkeypatch.setattr(printing, "ask_open_paths", lambda *_a, **_k: [target])
    main.receipt_check_action.trigger()
    qtbot.waitUntil(lambda: "1 receipt(s)" in shown[-1], timeout=20_000)
