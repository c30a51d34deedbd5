"""Alembic migrations: models and migrations agree; an older database is upgraded after a backup copy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from msc_sle_crf.errors import Msg, StoreError
from msc_sle_crf.security.keyslots import KeySlotFile
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.store import migrate
from msc_sle_crf.store.db import create_database_file, open_checked
from msc_sle_crf.store.tables import Base
from tests.helpers.schema import BACK_TO_0001
from tests.helpers.sql import run_sql

from .conftest import ADMIN_PW


def test_models_match_the_migrations(site: Site) -> None:
    with site.store.write_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_from_the_first_schema_takes_a_backup_first(tmp_path: Path) -> None:
    key = os.urandom(32)
    path = tmp_path / "old.crfdb"
    create_database_file(path, key)
    store = open_checked(path, key)
    migrate.upgrade(store, "0001")
    run_sql(store, "INSERT INTO site_setting VALUES ('site_name', 'Old site', '2026-01-01T00:00:00.000000Z')")
    assert migrate.current_revision(store) == "0001"
    backup = migrate.ensure_current(store, stamp="20260101T000000Z")
    assert migrate.current_revision(store) == migrate.head_revision()
    assert backup is not None and backup.exists()
    assert run_sql(store, "SELECT value FROM site_setting") == [("Old site",)]
    store.close()
    old = open_checked(backup, key)
    assert migrate.current_revision(old) == "0001"
    assert run_sql(old, "SELECT value FROM site_setting") == [("Old site",)]
    old.close()


def test_a_failed_migration_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    key = os.urandom(32)
    path = tmp_path / "x.crfdb"
    create_database_file(path, key)
    store = open_checked(path, key)
    migrate.upgrade(store, "0001")
    run_sql(store, "CREATE TABLE draft (id INTEGER)")  # 0002 creates 'subject', then fails on 'draft'
    with pytest.raises(Exception, match="draft"):
        migrate.upgrade(store)
    assert migrate.current_revision(store) == "0001"
    assert not run_sql(store, "SELECT name FROM sqlite_master WHERE name = 'subject'")
    store.close()


def test_database_from_a_newer_program_is_refused(db_path: Path, site: Site, clock) -> None:
    run_sql(site.store, "UPDATE alembic_version SET version_num = '9999'")
    site.close()
    reopened = Site.open(db_path, clock=clock)
    with pytest.raises(StoreError) as exc:
        reopened.sign_in("admin", ADMIN_PW)
    assert exc.value.msg is Msg.DB_TOO_NEW
    reopened.close()


def test_site_open_upgrades_and_audits(db_path: Path, site: Site, clock) -> None:
    for statement in BACK_TO_0001:
        run_sql(site.store, statement)
    site.close()
    reopened = Site.open(db_path, clock=clock)
    services = Workspace.sign_in(reopened, "admin", ADMIN_PW)
    assert services.integrity.audit_trail(limit=2)[1].action == "schema_upgrade"
    backups = list(db_path.parent.glob("*.before-upgrade-0001-*.bak"))
    assert len(backups) == 1
    assert KeySlotFile.path_for(db_path).exists()
    reopened.close()
