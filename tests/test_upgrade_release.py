"""Issue 19, upgrades: a database made by the previous release (tests/fixtures/previous-release.crfdb, schema 0007,
key file format 1) is opened by this program as an installed newer bundle would: a copy is taken before the
migration, the schema is migrated, the accounts get their personal keys at their first sign-in, and everything
verifies; the data are those the old program wrote."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.backup import create_backup, restore_backup
from msc_sle_crf.store import migrate
from msc_sle_crf.store.db import connect_raw

FIXTURE = Path(__file__).parent / "fixtures" / "previous-release.crfdb"


@pytest.fixture
def old_db(tmp_path: Path) -> Path:
    db = tmp_path / "site" / "trial.crfdb"
    db.parent.mkdir()
    shutil.copy(FIXTURE, db)
    shutil.copy(f"{FIXTURE}.keys", f"{db}.keys")
    return db


def _revision(path: Path, site: Site) -> str:
    store = site.store
    assert store is not None
    conn = connect_raw(path, store.key, store.salt)
    try:
        return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])
    finally:
        conn.close()


def test_the_previous_release_database_is_copied_migrated_and_verifies(old_db: Path, tmp_path: Path) -> None:
    assert json.loads(Path(f"{old_db}.keys").read_text())["version"] == 1
    site = Site.open(old_db)
    try:
        admin = Workspace.sign_in(site, "admin", "training-manager")
        copies = sorted(old_db.parent.glob("trial.crfdb.before-upgrade-0007-*.bak"))
        assert len(copies) == 1 and Path(f"{copies[0]}.keys").exists()
        assert _revision(copies[0], site) == "0007"  # the copy is the old database, untouched
        assert migrate.current_revision(site.store) == migrate.head_revision() != "0007"
        trail = admin.integrity.audit_trail(limit=4)
        assert "schema_upgrade" in [r.action for r in trail]
        assert any("before-upgrade-0007" in (r.detail or "") for r in trail)
        doctor = Workspace.sign_in(site, "dr.martin", "training-doctor")
        subjects = doctor.subjects.list()
        assert len(subjects) == 8
        report = doctor.integrity.verify(full=True)
        assert report.ok, report
        # the upgraded site backs up and restores like a new one
        backup = create_backup(admin, tmp_path / "after-upgrade.crfbak")
    finally:
        site.close()
    assert json.loads(Path(f"{old_db}.keys").read_text())["version"] >= 2
    restored = tmp_path / "restored" / "trial.crfdb"
    restore_backup(backup, restored, "admin", "training-manager")
    again = Site.open(restored)
    try:
        doctor = Workspace.sign_in(again, "dr.martin", "training-doctor")
        assert [s.subject_number for s in doctor.subjects.list()] == [s.subject_number for s in subjects]
    finally:
        again.close()
