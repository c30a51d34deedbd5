"""Schema migrations, shipped inside the package and run programmatically.

Opening a database whose schema is older than this program's upgrades it, after taking an encrypted backup
copy beside it. A migration runs in one transaction: if it fails, the database is left as it was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from msc_sle_crf.errors import Msg, StoreError
from msc_sle_crf.store.db import Store, copy_encrypted

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    return {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def current_revision(store: Store) -> str | None:
    with store.write_engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(store: Store, target: str = "head") -> None:
    cfg = alembic_config()
    with store.write_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)


def backup_path_for(db_path: Path, revision: str | None, stamp: str) -> Path:
    return db_path.with_name(f"{db_path.name}.before-upgrade-{revision or 'empty'}-{stamp}.bak")


def ensure_current(store: Store, *, stamp: str) -> Path | None:
    """Bring the schema to head. Returns the path of the backup taken before an upgrade, if any."""
    current = current_revision(store)
    head = head_revision()
    if current == head:
        return None
    if current is not None and current not in known_revisions():
        raise StoreError(Msg.DB_TOO_NEW, path=str(store.path), found=current)
    backup: Path | None = None
    journal = None
    if current is not None:
        from msc_sle_crf.clock import SystemClock, iso_utc
        from msc_sle_crf.fileutil import fsync_dir
        from msc_sle_crf.store import journal as J

        backup = backup_path_for(store.path, current, stamp)
        n = 2
        while backup.exists():  # a copy kept from an interrupted earlier attempt is never overwritten
            backup = backup_path_for(store.path, current, f"{stamp}-{n}")
            n += 1
        tmp = backup.with_name(f".{backup.name}.{os.getpid()}.tmp")
        keys = Path(f"{store.path}.keys")
        # Journaled: a copy cut short by a crash is removed at the next open, never mistaken for a backup.
        journal = J.Journal.begin(store.path, "upgrade", {"backup": str(backup), "copying": True,
                                                          "temporary": [str(tmp), f"{tmp}.keys"]},
                                  iso_utc(SystemClock().now()))
        conn = store.raw_connection()
        try:
            copy_encrypted(conn, tmp, store.key, store.salt)
            if keys.exists():  # the backup copy keeps the same key and salt: the same key file opens it
                shutil.copyfile(keys, Path(f"{tmp}.keys"))
                os.replace(Path(f"{tmp}.keys"), Path(f"{backup}.keys"))
            os.replace(tmp, backup)
            fsync_dir(backup.parent)
        finally:
            conn.close()
        journal.update(copying=False)
    upgrade(store)
    if journal is not None:
        journal.finish()
    return backup
