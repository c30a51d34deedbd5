"""Issue 19: automatic encrypted backups (folder and schedule as site settings, at lock/log-out and daily,
retention, read back after writing, status and too-old warning, audited) and restore with the recovery code."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest
import sqlcipher3.dbapi2 as sqlcipher

from msc_sle_crf.errors import AuthenticationError, Msg, StoreError, ValidationError
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services import autobackup as A
from msc_sle_crf.services.backup import create_backup, restore_backup, verify_written
from msc_sle_crf.store.db import connect_raw

from .conftest import ADMIN_PW, make_user


@pytest.fixture
def folder(tmp_path: Path, admin: Workspace) -> Path:
    where = tmp_path / "usb" / "backups"
    where.mkdir(parents=True)
    admin.settings.set("backup_folder", str(where))
    return where


def _trail(ws: Workspace, n: int = 30) -> list[tuple[str, str | None, str | None]]:
    return [(r.action, r.username, r.detail) for r in ws.integrity.audit_trail(limit=n)]


def test_a_backup_at_lock_is_written_verified_encrypted_and_audited(
        tmp_path: Path, site: Site, admin: Workspace, folder: Path, clock) -> None:
    nurse = Workspace.sign_in(site, "nurse.n", make_user(admin, "nurse.n", "nurse"))
    doctor = Workspace.sign_in(site, "dr.d", make_user(admin, "dr.d", "investigator"))
    doctor.subjects.register("XYZ", 1980, "F")
    doctor.bedside.comment("01-001", "seen on the ward by dr.d")
    nurse.lock()  # a nurse has no backup permission: the site's schedule backs up in her session anyway
    assert A.due(nurse, "lock")
    outcome = A.run(nurse, "lock")
    assert outcome.path is not None and outcome.path.parent == folder and outcome.path.name.endswith("-auto.crfbak")
    assert nurse.locked  # her own session stays locked
    with tarfile.open(outcome.path) as tar:
        tar.extract("database.crfdb", tmp_path / "x", filter="data")
    copy = tmp_path / "x" / "database.crfdb"
    raw = copy.read_bytes()
    # a long marker: three bytes ("XYZ") turn up by chance in a few hundred kB of ciphertext now and then
    assert b"seen on the ward by dr.d" not in raw and b"SQLite format 3" not in raw
    store = site.store
    assert store is not None
    conn = connect_raw(copy, store.key, store.salt)  # opens with the database key...
    assert conn.execute("SELECT initials FROM subject").fetchall() == [("XYZ",)]
    conn.close()
    with pytest.raises(sqlcipher.DatabaseError):  # ...and with nothing else
        connect_raw(copy, bytes(32), store.salt).execute("SELECT count(*) FROM subject").fetchall()
    trail = _trail(admin)
    assert ("backup_verified", "nurse.n") in [(a, u) for a, u, _ in trail]
    assert any(a == "backup" and u == "nurse.n" and "automatic" in (d or "") for a, u, d in trail)
    state = A.status(admin)
    assert state.last_file == str(outcome.path) and not state.too_old and not state.failing
    assert admin.integrity.verify().ok  # the status rows and new records leave the replay clean
    # nothing changed since: the next lock does not copy the database again
    nurse.unlock("pw-n.esrun-2026")
    nurse.lock()
    assert not A.due(nurse, "lock")
    doctor.subjects.register("UVW", 1970, "M")
    assert A.due(nurse, "lock")
    # the backup restores elsewhere with an administrator's password and holds the data
    target = tmp_path / "restored" / "trial.crfdb"
    restore_backup(outcome.path, target, "admin", ADMIN_PW, clock=clock)
    restored = Site.open(target, clock=clock)
    assert [s.initials for s in Workspace.sign_in(restored, "dr.d", "pw-d.rd-2026").subjects.list()] == ["XYZ"]
    restored.close()


def test_status_warns_when_the_last_backup_is_too_old_and_daily_falls_due(
        site: Site, admin: Workspace, folder: Path, clock) -> None:
    state = A.status(admin)
    assert state.too_old and state.last_ok is None and "No backup yet" in state.line().en
    assert A.due(admin, "daily")
    A.run(admin, "daily")
    assert not A.status(admin).too_old and not A.due(admin, "daily")
    clock.advance(25 * 3600)
    assert A.due(admin, "daily") and not A.status(admin).too_old  # due after a day; warned after 48 h
    clock.advance(24 * 3600)
    state = A.status(admin)
    assert state.too_old and state.line().en.startswith("⚠ Last backup 49 h ago")
    assert "Dernière sauvegarde il y a 49 h" in state.line().fr
    admin.settings.set("backup_daily", "no")
    assert not A.due(admin, "daily")


def test_no_folder_or_missing_drive_is_a_clear_audited_failure(
        tmp_path: Path, site: Site, admin: Workspace, clock) -> None:
    assert not A.due(admin, "daily") and A.status(admin).too_old
    assert "OFF" in A.status(admin).line().en
    admin.settings.set("backup_folder", str(tmp_path / "unplugged"))
    with pytest.raises(StoreError) as exc:
        A.run(admin, "daily")
    assert exc.value.msg is Msg.BACKUP_FOLDER_MISSING and "unplugged" in exc.value.message()
    state = A.status(admin)
    assert state.failing and "not available" in state.last_error
    assert "last attempt failed" in state.line().en
    assert _trail(admin, 2)[0][0] == "backup_failed"
    assert not A.due(admin, "daily")  # retried an hour later, not at every tick
    clock.advance(3601)
    assert A.due(admin, "daily")
    with pytest.raises(ValidationError):
        admin.settings.set("backup_folder", "relative/path")


def test_retention_keeps_the_newest_automatic_backups_only(
        tmp_path: Path, site: Site, admin: Workspace, folder: Path, clock) -> None:
    admin.settings.set("backup_keep", "2")
    by_hand = create_backup(admin, folder / "by-hand.crfbak")
    stranger = folder / "msc-sle-crf-00000000-20200101T000000Z-auto.crfbak"
    stranger.write_bytes(b"another site's")
    made = []
    for _ in range(4):
        clock.advance(3600)
        made.append(A.run(admin, "manual"))
    left = sorted(p.name for p in folder.iterdir())
    assert made[-1].path.name in left and made[-2].path.name in left
    assert made[0].path.name not in left and made[1].path.name not in left
    assert by_hand.name in left and stranger.name in left and len(left) == 4
    assert made[-1].pruned == (made[1].path,)
    assert "pruned: " + made[1].path.name in _trail(admin, 3)[0][2]


def test_a_backup_damaged_on_its_way_to_the_drive_is_caught_and_removed(
        tmp_path: Path, site: Site, admin: Workspace, folder: Path) -> None:
    out = A.run(admin, "manual").path
    assert out is not None
    from msc_sle_crf.services.backup import read_manifest

    manifest = read_manifest(out)
    data = bytearray(out.read_bytes())
    data[-20_000] ^= 0x01  # a flipped bit in the database member, as a failing drive returns it
    out.write_bytes(bytes(data))
    with pytest.raises(StoreError) as exc:
        verify_written(out, manifest)
    assert exc.value.msg is Msg.BACKUP_INVALID and not out.exists()


def test_a_cancelled_backup_leaves_nothing(site: Site, admin: Workspace, folder: Path) -> None:
    with pytest.raises(StoreError) as exc:
        A.run(admin, "manual", cancelled=lambda: True)
    assert exc.value.msg is Msg.BACKUP_CANCELLED
    assert os.listdir(folder) == []
    assert A.status(admin).failing


def test_only_a_backup_permission_may_ask_for_one_by_hand(site: Site, admin: Workspace, folder: Path) -> None:
    from msc_sle_crf.errors import PermissionDenied

    nurse = Workspace.sign_in(site, "nurse.q", make_user(admin, "nurse.q", "nurse"))
    with pytest.raises(PermissionDenied):
        A.run(nurse, "manual")


def test_restore_with_the_recovery_code_keeps_the_current_database_aside(
        tmp_path: Path, db_path: Path, site_and_code: tuple[Site, str], admin: Workspace, folder: Path,
        clock) -> None:
    site, code = site_and_code
    doctor = Workspace.sign_in(site, "dr.r", make_user(admin, "dr.r", "investigator"))
    doctor.subjects.register("KLM", 1985, "F")
    out = A.run(admin, "manual").path
    assert out is not None
    doctor.subjects.register("NOP", 1990, "M")  # after the backup
    info = A.describe(out)
    assert info.created_by == "admin" and info.trail_record and len(info.trail_hash) == 64 and info.automatic
    site.close()
    with pytest.raises(AuthenticationError):
        restore_backup(out, db_path, "", "", recovery_code="WRONG-CODE", force=True, clock=clock)
    result = restore_backup(out, db_path, "", "", recovery_code=code, force=True, clock=clock)
    assert any(p.name.startswith("trial.crfdb.replaced-") for p in result.replaced)
    aside = next(p for p in result.replaced if p.name.startswith("trial.crfdb.replaced-") and "keys" not in p.name)
    assert aside.exists()
    reopened = Site.open(db_path, clock=clock)
    ws = Workspace.sign_in(reopened, "dr.r", "pw-r.rd-2026")
    assert [s.initials for s in ws.subjects.list()] == ["KLM"]
    trail = _trail(ws, 3)
    assert trail[1][:2] == ("restore", "#recovery")
    assert ws.integrity.verify().ok
    reopened.close()
