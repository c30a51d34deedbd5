"""Encrypted backup and verified restore."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from msc_sle_crf.errors import CrfError, Msg, PermissionDenied, StoreError
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.backup import create_backup, restore_backup

from .conftest import ADMIN_PW, make_user


@pytest.fixture
def with_data(site: Site, admin: Workspace) -> Workspace:
    doctor = Workspace.sign_in(site, "dr.b", make_user(admin, "dr.b", "investigator"))
    doctor.subjects.register("ABC", 1980, "F")
    doctor.subjects.register("DEF", 1975, "M")
    return doctor


def test_backup_then_restore_elsewhere(tmp_path: Path, site: Site, admin: Workspace, with_data: Workspace,
                                       clock) -> None:
    with_data.bedside.comment("01-001", "seen on the ward by dr.b")
    out = create_backup(admin, tmp_path / "backup.tar")
    with tarfile.open(out) as tar:
        assert sorted(tar.getnames()) == ["MANIFEST.json", "database.crfdb", "database.crfdb.keys"]
        db_bytes = tar.extractfile("database.crfdb").read()
    # long markers: three bytes ("ABC") turn up by chance in a few hundred kB of ciphertext now and then
    assert b"seen on the ward by dr.b" not in db_bytes and b"SQLite format 3" not in db_bytes
    target = tmp_path / "restored" / "trial.crfdb"
    result = restore_backup(out, target, "admin", ADMIN_PW, clock=clock)
    assert result.audit_records > 5 and result.replaced == ()
    restored = Site.open(target, clock=clock)
    services = Workspace.sign_in(restored, "dr.b", "pw-b.rd-2026")
    assert [s.initials for s in services.subjects.list()] == ["ABC", "DEF"]
    # the restore's record travels in the restored key file and enters the trail at the first sign-in after it
    assert [r.action for r in services.integrity.audit_trail(limit=3)][1:] == ["login", "restore"]
    assert services.integrity.verify().ok
    restored.close()
    assert sorted(p.name for p in target.parent.iterdir()) == ["trial.crfdb", "trial.crfdb.head", "trial.crfdb.keys",
                                                                "trial.crfdb.lock"]


def test_restore_over_an_existing_database_needs_force_and_keeps_the_old_one(
        tmp_path: Path, db_path: Path, site: Site, admin: Workspace, with_data: Workspace, clock) -> None:
    out = create_backup(admin, tmp_path / "b.tar")
    with_data.subjects.register("GHI", 1990, "F")  # after the backup
    site.close()
    with pytest.raises(StoreError) as exc:
        restore_backup(out, db_path, "admin", ADMIN_PW, clock=clock)
    assert exc.value.msg is Msg.DB_EXISTS
    result = restore_backup(out, db_path, "admin", ADMIN_PW, force=True, clock=clock)
    assert len(result.replaced) >= 2 and all(p.exists() for p in result.replaced)
    reopened = Site.open(db_path, clock=clock)
    assert [s.initials for s in Workspace.sign_in(reopened, "dr.b", "pw-b.rd-2026").subjects.list()] == ["ABC", "DEF"]
    reopened.close()


def test_restore_refused_while_the_database_is_open(tmp_path: Path, db_path: Path, admin: Workspace, clock) -> None:
    out = create_backup(admin, tmp_path / "b.tar")
    with pytest.raises(StoreError) as exc:
        restore_backup(out, db_path, "admin", ADMIN_PW, force=True, clock=clock)
    assert exc.value.msg is Msg.DB_IN_USE


def test_damaged_backup_is_refused_and_nothing_is_left(tmp_path: Path, admin: Workspace, with_data: Workspace,
                                                       clock) -> None:
    out = create_backup(admin, tmp_path / "b.tar")
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0xFF
    out.write_bytes(bytes(data))
    target = tmp_path / "r" / "trial.crfdb"
    with pytest.raises(StoreError) as exc:
        restore_backup(out, target, "admin", ADMIN_PW, clock=clock)
    assert exc.value.msg is Msg.BACKUP_INVALID
    assert list(target.parent.iterdir()) == []


def test_not_a_backup(tmp_path: Path, clock) -> None:
    fake = tmp_path / "x.tar"
    fake.write_text("not a tar")
    with pytest.raises(StoreError) as exc:
        restore_backup(fake, tmp_path / "y.crfdb", "admin", ADMIN_PW, clock=clock)
    assert exc.value.msg is Msg.BACKUP_INVALID


def test_backup_needs_the_permission_and_a_free_name(tmp_path: Path, site: Site, admin: Workspace) -> None:
    nurse = Workspace.sign_in(site, "nurse.z", make_user(admin, "nurse.z", "nurse"))
    with pytest.raises(PermissionDenied):
        create_backup(nurse, tmp_path / "n.tar")
    (tmp_path / "taken.tar").write_text("x")
    with pytest.raises(StoreError) as exc:
        create_backup(admin, tmp_path / "taken.tar")
    assert exc.value.msg is Msg.OUTPUT_EXISTS


@pytest.mark.parametrize("where", ["missing-folder", "file-as-folder"])
def test_unwritable_output_gives_a_clear_message_and_leaves_nothing(tmp_path: Path, admin: Workspace,
                                                                   where: str) -> None:
    if where == "missing-folder":
        out = tmp_path / "no" / "such" / "b.tar"
    else:
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "b.tar"
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(CrfError) as exc:  # refused before anything is written (issue 15: checked output path)
        create_backup(admin, out)
    assert exc.value.msg in (Msg.OUTPUT_NOT_WRITABLE, Msg.OUTPUT_REFUSED)
    assert str(out) in exc.value.message()
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
