"""The encrypted store: SQLCipher 4 through sqlcipher3, SQLAlchemy 2.x, WAL journal, foreign keys on.

The database key is 32 random bytes given to SQLCipher as a raw key (``PRAGMA key = "x'..'"``), so no key
derivation runs per connection. The key never goes into a URL or a log (``hide_parameters=True``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlcipher3.dbapi2 as sqlcipher
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from msc_sle_crf.errors import KeyFileError, Msg, StoreError

PAGE_SIZE = 4096  # SQLCipher 4 default
# The read connections' page cache (decrypted pages): SQLite's default is 2 MiB; the subject list of a 2,000-subject
# trial reads its visit dates 4x faster with 32 MiB (measured: benchmarks/bench_study.py). At most a few MiB are
# held for a small trial: the cache fills only with what is read.
READ_CACHE_KIB = 32 * 1024
PLAIN_SQLITE_MAGIC = b"SQLite format 3\x00"


def raw_key_pragma(key: bytes, salt: bytes | None = None) -> str:
    """Raw 256-bit key, optionally with the database's 16-byte salt (so that copies keep the same salt)."""
    if len(key) != 32:
        raise ValueError("database key must be 32 bytes")
    if salt is not None and len(salt) != 16:
        raise ValueError("database salt must be 16 bytes")
    return f"PRAGMA key = \"x'{key.hex()}{salt.hex() if salt else ''}'\""


def connect_raw(path: Path, key: bytes, salt: bytes | None = None, *, check_same_thread: bool = True,
                synchronous: str = "FULL") -> Any:
    """A keyed sqlcipher3 DBAPI connection in autocommit mode (BEGIN is issued explicitly)."""
    conn = sqlcipher.connect(str(path), isolation_level=None, check_same_thread=check_same_thread, timeout=15)
    conn.execute("PRAGMA cipher_log_level = NONE")  # SQLCipher otherwise prints to stderr on a bad page
    conn.execute(raw_key_pragma(key, salt))
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA temp_store = MEMORY")  # no temporary files on disk
    # FULL: a committed write survives a power cut. NORMAL only while a new site is built aside (Store.building).
    conn.execute("PRAGMA synchronous = " + {"FULL": "FULL", "NORMAL": "NORMAL"}[synchronous])
    return conn


def driver_statements(conn: Connection) -> Callable[..., Any]:
    """How a hot path (a save, its audit record) runs its constant statements inside the caller's transaction: on a
    site's SQLite, straight on the driver's connection (SQLAlchemy's own work per statement cost more than the
    statement: ~25 us for an update, ~70 us for a one-row select, against 5-8 us; issue 13); on the hub's PostgreSQL,
    through SQLAlchemy (its engine rewrites the placeholders). Both return a cursor (``fetchone``, ``fetchall``).
    A driver error raised this way is translated by ``Store.write`` like any other."""
    if conn.dialect.name == "sqlite":
        return conn.connection.driver_connection.execute  # type: ignore[union-attr,no-any-return]
    return conn.exec_driver_sql


def header_salt(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(16)


def check_db_path(path: Path, *, creating: bool = False, make_parent: bool = True) -> None:
    """A database path that cannot be one (a folder, a device, a name the system refuses, a missing or unwritable
    folder) gets one clear message before anything is tried."""
    from msc_sle_crf.i18n import L

    def refuse(en: str, fr: str) -> StoreError:
        return StoreError(Msg.DB_PATH_INVALID, path=str(path)[:300] + ("..." if len(str(path)) > 300 else ""),
                          reason=L(en, fr))

    text_ = str(path)
    if not text_.strip() or "\x00" in text_:
        raise refuse("not a valid file name", "nom de fichier non valide")
    try:
        if len(os.fsencode(path.name)) > 255 or len(os.fsencode(text_)) > 4096:
            raise refuse("the name is too long for the system", "le nom est trop long pour le système")
        st = os.stat(path) if os.path.lexists(path) else None
        parent_ok = path.parent.is_dir() if str(path.parent) else True
    except UnicodeError:
        raise refuse("the name cannot be encoded", "le nom ne peut pas être encodé") from None
    except OSError as exc:
        raise refuse(exc.strerror or str(exc), exc.strerror or str(exc)) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise refuse("this is a folder; give the database file (.crfdb) inside it",
                     "c'est un dossier ; indiquez le fichier de base (.crfdb) qu'il contient")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise refuse("this is not a regular file (a device or a pipe)",
                     "ce n'est pas un fichier ordinaire (périphérique ou tube)")
    if creating and not parent_ok and path.parent.exists():
        raise refuse("its folder is not a folder", "son dossier n'est pas un dossier")
    if creating and make_parent and not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise refuse(f"its folder cannot be created ({exc.strerror or exc})",
                         f"son dossier ne peut pas être créé ({exc.strerror or exc})") from None
    if not creating and not parent_ok:
        raise StoreError(Msg.DB_NOT_FOUND, path=str(path))
    if not creating and st is not None:
        _refuse_backup_format(path)


def _refuse_backup_format(path: Path) -> None:
    """A workstation file or a backup given as the database: said as such before anything (the lock file
    included) is written beside it."""
    from msc_sle_crf.fileutil import backup_kind
    from msc_sle_crf.i18n import L

    kind = backup_kind(path)
    if kind == "workstation":
        raise StoreError(Msg.DB_IS_BACKUP_FILE, path=str(path)[:300], kind=L("a workstation file",
                                                                               "un fichier de poste"),
                         what=L(f"open it once, on its laptop, with 'msc-sle-crf workstation open {path.name} --db "
                                "NEW.crfdb', then use NEW.crfdb",
                                f"ouvrez-le une seule fois, sur son ordinateur, avec « msc-sle-crf workstation open "
                                f"{path.name} --db NOUVELLE.crfdb », puis utilisez NOUVELLE.crfdb"))
    if kind == "backup":
        raise StoreError(Msg.DB_IS_BACKUP_FILE, path=str(path)[:300], kind=L("a backup", "une sauvegarde"),
                         what=L(f"restore it with 'msc-sle-crf restore --backup {path.name} --db SITE.crfdb'",
                                f"restaurez-la avec « msc-sle-crf restore --backup {path.name} --db SITE.crfdb »"))


def precheck_file(path: Path) -> None:
    """Cheap checks before any key is tried: exists, is not plain SQLite, is whole pages."""
    if not path.exists():
        raise StoreError(Msg.DB_NOT_FOUND, path=str(path))
    size = path.stat().st_size
    if size < PAGE_SIZE:
        raise StoreError(Msg.DB_NOT_A_DATABASE, path=str(path))
    if header_salt(path) == PLAIN_SQLITE_MAGIC:
        raise StoreError(Msg.DB_NOT_A_DATABASE, path=str(path))


def check_pairing(path: Path, expected_salt_hex: str, keyfile_path: Path) -> None:
    """The database starts with the salt recorded in its key file, and is made of whole pages."""
    whole_pages = path.stat().st_size % PAGE_SIZE == 0
    if header_salt(path).hex() != expected_salt_hex:
        if not whole_pages:
            raise StoreError(Msg.DB_NOT_A_DATABASE, path=str(path))
        raise KeyFileError(Msg.KEYFILE_MISMATCH, path=str(keyfile_path))
    if not whole_pages:
        raise StoreError(Msg.DB_TRUNCATED, path=str(path))


def translate_db_error(exc: BaseException, path: Path) -> StoreError:
    """Map a driver error to one clear message."""
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    text_ = str(original).lower()
    if "not a database" in text_:
        return StoreError(Msg.DB_NOT_A_DATABASE, path=str(path))
    if "malformed" in text_ or "corrupt" in text_ or "hmac" in text_:
        return StoreError(Msg.DB_CORRUPT, path=str(path), detail=str(original))
    if "locked" in text_ or "busy" in text_:
        return StoreError(Msg.DB_IN_USE, path=str(path))
    return StoreError(Msg.DB_WRITE_FAILED, detail=str(original) + _space_note(path, text_))


def _space_note(path: Path, text_: str) -> str:
    """SQLite reports a full disk as "disk I/O error" when the shared-memory file cannot grow: say what the
    system says, so the user knows what to do."""
    if "i/o" not in text_ and "full" not in text_:
        return ""
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return ""
    if free >= 1024 * 1024:
        return ""
    return f" ({os.strerror(errno.ENOSPC)}: {free:,} bytes free in {path.parent})"


def sqlcipher_error() -> type[Exception]:
    """The driver's error class (for callers that use a raw connection without importing the driver)."""
    return sqlcipher.Error  # type: ignore[no-any-return]


def integrity_problems(conn: Any, *, full: bool = True, between: Callable[[], None] | None = None) -> list[str]:
    """SQLCipher page HMACs, then SQLite's own structure check. Empty list means healthy. ``between`` runs between
    the two passes (it may raise to stop: the first pass cannot be interrupted, the second can)."""
    problems = [str(row[0]) for row in conn.execute("PRAGMA cipher_integrity_check").fetchall()]
    if problems:
        return problems
    if between is not None:
        between()
    pragma = "PRAGMA integrity_check" if full else "PRAGMA quick_check"
    rows = [str(row[0]) for row in conn.execute(pragma).fetchall()]
    return [] if rows == ["ok"] else rows


class Writing:
    """One write transaction of ``Store.writing``: its connection (in the transaction), and an ORM session on it
    made at the first use of ``session``."""

    __slots__ = ("_factory", "_session", "connection")

    def __init__(self, connection: Connection, factory: Callable[..., Session] | None = None,
                 session: Session | None = None) -> None:
        self.connection = connection
        self._factory = factory
        self._session = session

    @property
    def session(self) -> Session:
        if self._session is None:
            assert self._factory is not None
            self._session = self._factory(bind=self.connection, join_transaction_mode="rollback_only")
        return self._session

    @property
    def session_made(self) -> bool:
        return self._session is not None


def writing_of(store: Any, *, data: bool = True) -> contextlib.AbstractContextManager[Writing]:
    """A store's write transaction as a ``Writing``: a site's lean one (``Store.writing``); another store's (the
    hub's) as its ``write`` session, whose connection is the session's."""
    if isinstance(store, Store):
        return store.writing(data=data)
    return _session_writing(store, data)


@contextlib.contextmanager
def _session_writing(store: Any, data: bool) -> Iterator[Writing]:
    with store.write(data=data) as session:
        yield Writing(session.connection(), session=session)


class Store:
    """An open encrypted database. Writes use ``BEGIN IMMEDIATE`` and are serialised in-process."""

    def __init__(self, path: Path, key: bytes, salt: bytes | None = None) -> None:
        self.path = Path(path)
        self._key = key
        self._salt = salt
        self._write_lock = threading.RLock()
        self._synchronous = "FULL"
        self.write_engine = self._make_engine(immediate=True)
        self.read_engine = self._make_engine(immediate=False)
        self._write_sessions = sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        from msc_sle_crf.sync.ids import install  # rows get ids in this workstation's range (issue 18)

        install(self._write_sessions)
        # Moves on at every commit that may have changed data (any commit on the write engine, except those of
        # ``write(data=False)``): what this process keeps in memory from the database (form states being edited)
        # is valid only for the generation it was read at. One process per database (the instance lock).
        self.generation = 0
        self._quiet = False
        event.listen(self.write_engine, "commit", self._committed)
        # The write transactions' connection, kept checked out between them (under ``_write_lock``): taking one
        # from the pool and giving it back (a reset, events) cost more per save than its statements (issue 13).
        self._writer: Connection | None = None

    def _committed(self, _conn: Any) -> None:
        if not self._quiet:
            self.generation += 1

    def _make_engine(self, *, immediate: bool) -> Engine:
        path, key, salt = self.path, self._key, self._salt

        def creator() -> Any:
            conn = connect_raw(path, key, salt, check_same_thread=False, synchronous=self._synchronous)
            if not immediate:  # reads of whole lists (subjects, outcomes) decrypt each page once, not at every pass
                conn.execute(f"PRAGMA cache_size = -{READ_CACHE_KIB}")
            return conn

        engine = create_engine(
            "sqlite+pysqlite://",
            creator=creator,
            module=sqlcipher,
            hide_parameters=True,
            poolclass=QueuePool,
            pool_size=2,
            max_overflow=4,
        )
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            try:  # at every transaction: the driver's own call (SQLAlchemy's costs ~25 us more), its error as before
                conn.connection.driver_connection.execute(begin)
            except sqlcipher.Error as exc:
                raise DBAPIError.instance(begin, None, exc, sqlcipher.Error) from exc

        return engine

    @property
    def key(self) -> bytes:
        return self._key

    @property
    def salt(self) -> bytes | None:
        return self._salt

    @contextlib.contextmanager
    def write(self, *, data: bool = True) -> Iterator[Session]:
        """One unit of work: everything inside commits together or not at all. ``data=False``: it touches no
        clinical data or form state (a typing buffer, an audit record alone), so ``generation`` stays."""
        with self._write_lock:
            conn = self._writer
            if conn is None or conn.closed or conn.invalidated:
                conn = self._writer = self.write_engine.connect()
            if conn.in_transaction():  # a write inside a write of the same thread: a connection of its own, as before
                conn = None
            quiet, self._quiet = self._quiet, not data
            try:
                with self._write_sessions(bind=conn) if conn is not None else self._write_sessions() as session, \
                        session.begin():
                    yield session
            except (DBAPIError, sqlcipher.Error) as exc:  # the driver's own: statements of driver_statements
                self._drop_writer(conn)
                raise translate_db_error(exc, self.path) from exc
            except BaseException:
                if conn is not None and conn.in_transaction():  # not rolled back: not reused
                    self._drop_writer(conn)
                raise
            finally:
                self._quiet = quiet

    def _drop_idle_writer(self) -> None:
        """The kept connection closed with the pool's (a re-key, a close), unless a write of this thread is using it:
        as before, a connection in use is not closed under it."""
        if self._writer is not None and not self._writer.in_transaction():
            self._drop_writer(self._writer)

    def _drop_writer(self, conn: Connection | None) -> None:
        """After a failed write: its connection goes back to the pool (rolled back there), the next write takes one."""
        if conn is not None and conn is self._writer:
            self._writer = None
            with contextlib.suppress(Exception):
                conn.close()

    @contextlib.contextmanager
    def writing(self, *, data: bool = True) -> Iterator[Writing]:
        """``write``'s unit of work for the service layer's transactions (``ServiceContext.write``): the connection is
        in the transaction from the start and an ORM session is made only when asked for (it joins the transaction;
        its changes are flushed before the commit). A value save never asks for one: a session's making, flush
        bookkeeping, commit and closing cost ~0.1 ms per save, about as much as two of its statements (issue 13)."""
        with self._write_lock:
            conn = self._writer
            if conn is None or conn.closed or conn.invalidated:
                conn = self._writer = self.write_engine.connect()
            own = conn.in_transaction()  # a write inside a write of the same thread: a connection of its own
            if own:
                conn = self.write_engine.connect()
            quiet, self._quiet = self._quiet, not data
            work = Writing(conn, self._write_sessions)
            try:
                try:
                    conn.begin()
                    yield work
                    if work.session_made:
                        work.session.commit()  # flushed; the transaction stays the connection's
                    conn.commit()
                finally:
                    if work.session_made:
                        work.session.close()  # a failed flush rolls the connection's transaction back here
                    if conn.in_transaction():
                        conn.rollback()
            except (DBAPIError, sqlcipher.Error) as exc:  # the driver's own: statements of driver_statements
                self._drop_writer(conn)
                raise translate_db_error(exc, self.path) from exc
            finally:
                self._quiet = quiet
                if own:
                    conn.close()

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self._read_sessions() as session:
            try:
                with session.begin():
                    yield session
            except (DBAPIError, sqlcipher.Error) as exc:
                raise translate_db_error(exc, self.path) from exc

    @contextlib.contextmanager
    def building(self) -> Iterator[None]:
        """While a new site is built aside (``Site.initialize``'s work folder: discarded whole if anything stops
        it), commits are not flushed one by one; the checkpoint at the end flushes the finished database before it
        is moved into place. Back to FULL afterwards."""
        with self._write_lock:
            self._synchronous = "NORMAL"
            self._drop_idle_writer()
            self.write_engine.dispose()
            self.read_engine.dispose()
        try:
            yield
            self.checkpoint()  # through a connection with synchronous=FULL: the finished database is flushed
        finally:
            with self._write_lock:
                self._synchronous = "FULL"
                self._drop_idle_writer()
                self.write_engine.dispose()
                self.read_engine.dispose()

    def raw_connection(self) -> Any:
        """A fresh keyed DBAPI connection, for bulk reads (audit verification) and backups."""
        return connect_raw(self.path, self._key, self._salt)

    def checkpoint(self) -> None:
        """Everything in the WAL into the database file, flushed (a connection outside any transaction: inside one,
        SQLite refuses to checkpoint)."""
        conn = self.raw_connection()
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.checkpoint()
        with self._write_lock:
            self._drop_idle_writer()
        self.write_engine.dispose()
        self.read_engine.dispose()


def create_database_file(path: Path, key: bytes, salt: bytes | None = None) -> None:
    """Create an empty encrypted database in WAL mode. Refuses to overwrite."""
    if path.exists():
        raise StoreError(Msg.DB_EXISTS, path=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    old_umask = os.umask(0o077)
    try:
        conn = connect_raw(path, key, salt)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("CREATE TABLE _init(x)")  # forces the first page (and its salt) to be written
            conn.execute("DROP TABLE _init")
        finally:
            conn.close()
    finally:
        os.umask(old_umask)


def open_checked(path: Path, key: bytes, salt: bytes | None = None, *, pages: bool = False,
                 full_check: bool = False) -> Store:
    """Open with the key: the first page must decrypt (a wrong key or a foreign file is refused here) and the schema
    must read. In constant time: every page is checked (``pages=True``, O(size), ~14 ms per MB) by ``verify``, by
    backups and by the check run in the background after sign-in, not at every opening."""
    try:
        conn = connect_raw(path, key, salt)
    except sqlcipher.Error as exc:
        raise translate_db_error(exc, path) from None
    try:
        conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        problems = integrity_problems(conn, full=full_check) if pages else []
    except sqlcipher.Error as exc:
        raise translate_db_error(exc, path) from None
    finally:
        conn.close()
    if problems:
        raise StoreError(Msg.DB_CORRUPT, path=str(path), detail="; ".join(problems[:3]))
    return Store(path, key, salt)


def missing_tables(conn: Any, expected: set[str]) -> list[str]:
    """The tables of the schema this program expects that the file lacks (a damaged or foreign schema)."""
    present = {str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return sorted(expected - present)


def copy_encrypted(src_conn: Any, dest: Path, key: bytes, salt: bytes | None = None,
                   progress: Callable[[int, int], None] | None = None) -> None:
    """Copy a live database to ``dest`` (same key and salt) with SQLite's online backup API. ``progress(done,
    total)`` pages is called every 1,024 pages; an exception it raises (a cancel) stops the copy."""
    if dest.exists():
        raise StoreError(Msg.OUTPUT_EXISTS, path=str(dest))
    old_umask = os.umask(0o077)
    try:
        target = connect_raw(dest, key, salt)
        try:
            if progress is None:
                src_conn.backup(target)
            else:
                src_conn.backup(target, pages=1024,
                                progress=lambda _status, remaining, total: progress(total - remaining, total))
            target.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()
    finally:
        os.umask(old_umask)
