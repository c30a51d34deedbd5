"""The hub's store: the site's schema on PostgreSQL through psycopg 3, used like ``store.db.Store``.

- The connection string (``--dsn``: ``postgresql://user@host/db?sslmode=verify-full&sslrootcert=ca.crt`` or
  ``host=... sslmode=verify-full ...``) must ask for TLS with the server's certificate checked: ``verify-full``, or
  ``verify-ca`` with the CA file. Anything weaker is refused in one line before any connection is tried.
- Its password is never stored, logged or shown: it comes from the environment (``PGPASSWORD``), libpq's password
  file (``PGPASSFILE``, ``~/.pgpass``) or, if given in the DSN, it is masked in every message this module makes.
- ``write()`` is one transaction that first takes the hub's append lock (a transaction-level advisory lock, the
  same as ``audit.append_many`` takes): writers are serialised as SQLite's ``BEGIN IMMEDIATE`` does, readers not.
- Errors are one line (``HubError``), never a traceback, never the password.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from msc_sle_crf.audit import PG_APPEND_LOCK
from msc_sle_crf.errors import Msg, StoreError
from msc_sle_crf.i18n import L, Lang

SAFE_SSLMODES = ("verify-ca", "verify-full")
CONNECT_TIMEOUT_S = 15


class HubError(StoreError):
    """One clear line about the hub (its connection, its schema, its content)."""

    def __init__(self, text: L) -> None:
        super().__init__(Msg.DB_WRITE_FAILED, detail=text.en)
        self.text = text

    def message(self, lang: Lang | None = None) -> str:
        return self.text.get(lang)


def parse_dsn(dsn: str) -> dict[str, str]:
    """The DSN's parameters, refused unless TLS with certificate verification is asked for."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
    except Exception:  # psycopg's message may quote the DSN: never shown
        raise HubError(L("--dsn: not a PostgreSQL connection string (postgresql://USER@HOST:PORT/DB?sslmode="
                         "verify-full&sslrootcert=CA.crt, or 'host=... dbname=... user=... sslmode=verify-full')",
                         "--dsn : ce n'est pas une chaîne de connexion PostgreSQL (postgresql://UTILISATEUR@HÔTE:PORT/"
                         "BASE?sslmode=verify-full&sslrootcert=CA.crt, ou 'host=... dbname=... user=... "
                         "sslmode=verify-full')")) from None
    sslmode = params.get("sslmode") or os.environ.get("PGSSLMODE") or "prefer"
    if sslmode not in SAFE_SSLMODES:
        raise HubError(L(f"--dsn: sslmode={sslmode} is refused: the hub is reached over TLS with the server's "
                         "certificate checked (sslmode=verify-full, or verify-ca, with sslrootcert=the CA file)",
                         f"--dsn : sslmode={sslmode} est refusé : le hub est joint en TLS avec vérification du "
                         "certificat du serveur (sslmode=verify-full, ou verify-ca, avec sslrootcert=le fichier de "
                         "l'autorité)"))
    params["sslmode"] = sslmode
    return params


def describe(params: Mapping[str, str]) -> str:
    """Where the hub is, for messages: user@host:port/dbname, never the password."""
    host = params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST") or "localhost"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    user = params.get("user") or os.environ.get("PGUSER") or ""
    dbname = params.get("dbname") or os.environ.get("PGDATABASE") or user
    return f"{user + '@' if user else ''}{host}:{port}/{dbname}"


_PASSWORD_FIELD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*(@)", re.IGNORECASE)


def redact(text: str, params: Mapping[str, str] | None = None) -> str:
    """``text`` with the DSN's password (wherever it appears, and any ``password=`` or URL password) masked."""
    password = (params or {}).get("password")
    if password:
        text = text.replace(password, "***")
    text = _PASSWORD_FIELD.sub(r"\1***", text)
    return _URL_PASSWORD.sub(r"\1***\2", text)


def one_line(exc: BaseException, params: Mapping[str, str] | None = None) -> str:
    """A driver error as one line: the server's own words (FATAL: ..., ERROR: ...), password masked."""
    original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    # psycopg's connection errors say "connection failed: connection to server at ... failed: FATAL: ..."
    text = "; ".join(line for line in lines if not line.startswith(("LINE ", "^", "HINT:")))[:400] or type(
        original).__name__
    return redact(text, params)


def connection_error(exc: BaseException, params: Mapping[str, str]) -> HubError:
    where = describe(params)
    detail = one_line(exc, params)
    return HubError(L(f"Hub database {where}: {detail}", f"Base du hub {where} : {detail}"))


class QmarkConnection:
    """A raw psycopg connection that takes the site's SQL (``?`` placeholders), so that the checks written for a
    site's raw connection (audit tail and bindings, the key-file anchor, the data replay) run on the hub unchanged.
    ``stream()`` reads a large result through a server-side cursor (``audit.iter_rows``)."""

    dialect = "postgresql"

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._cursors = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        word = sql.strip().upper()
        if word in ("BEGIN", "ROLLBACK", "COMMIT"):
            # a site reader's explicit read transaction (the export's): one snapshot for every later read
            if word == "COMMIT":
                self.conn.commit()
            else:
                self.conn.rollback()
            if word == "BEGIN":
                from psycopg import IsolationLevel

                self.conn.isolation_level, self.conn.read_only = IsolationLevel.REPEATABLE_READ, True
            else:
                self.conn.isolation_level, self.conn.read_only = None, None
            return self.conn.execute("SELECT 1")
        # no parameters: the text as is (psycopg reads '%' as a placeholder only when parameters are given)
        return self.conn.execute(qmark_to_format(sql), tuple(params)) if params else self.conn.execute(sql)

    def stream(self, sql: str, params: Sequence[Any] = (), size: int = 5000) -> Iterator[Any]:
        self._cursors += 1
        with self.conn.cursor(name=f"msc_sle_crf_rows_{self._cursors}") as named:
            named.itersize = size
            if params:
                named.execute(qmark_to_format(sql), tuple(params))
            else:
                named.execute(sql)
            yield from named

    def cursor(self, *args: Any, **kw: Any) -> Any:
        return self.conn.cursor(*args, **kw)

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()


def qmark_to_format(sql: str) -> str:
    """The site's ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled), for a statement run with
    parameters. The site's SQL has no ``?`` inside string literals."""
    return sql.replace("%", "%%").replace("?", "%s")


class HubStore:
    """An open hub: the same ``write()``/``read()`` sessions as ``Store``, on PostgreSQL."""

    dialect = "postgresql"

    def __init__(self, dsn: str, *, key: bytes | None = None, path: Path | None = None) -> None:
        self.params = parse_dsn(dsn)
        self.where = describe(self.params)
        self.path = path or Path(self.where)  # what messages name (the hub config file when there is one)
        self._key = key
        self._conninfo = dsn
        self.generation = 0
        self._quiet = False
        self.engine = self._make_engine()
        self.write_engine = self.engine
        self.read_engine = self.engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self.engine, "commit", self._committed)

    def _committed(self, _conn: Any) -> None:
        if not self._quiet:
            self.generation += 1

    def connect_raw(self, *, autocommit: bool = False) -> Any:
        """A psycopg connection (TLS as the DSN says); a failure is one clear line without the password."""
        import psycopg

        try:
            return psycopg.connect(self._conninfo, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S,
                                   application_name="msc-sle-crf hub")
        except psycopg.Error as exc:
            raise connection_error(exc, self.params) from None

    def _make_engine(self) -> Engine:
        engine = create_engine("postgresql+psycopg://", creator=self.connect_raw, hide_parameters=True,
                               poolclass=QueuePool, pool_size=2, max_overflow=4)

        @event.listens_for(engine, "before_cursor_execute", retval=True)
        def _qmark(_conn: Any, _cursor: Any, statement: str, parameters: Any, context: Any,
                   _executemany: bool) -> tuple[str, Any]:
            # the site's driver-level SQL (``exec_driver_sql``: the audit append) as psycopg takes it; statements
            # SQLAlchemy compiles are psycopg's already
            if context is not None and getattr(context, "compiled", None) is None and parameters:
                statement = qmark_to_format(statement)
            return statement, parameters

        return engine

    @property
    def key(self) -> bytes:
        if self._key is None:
            raise HubError(L("the hub's database key is not unlocked (sign in with the hub's key file)",
                             "la clé de la base du hub n'est pas déverrouillée (connectez-vous avec son fichier "
                             "de clés)"))
        return self._key

    @key.setter
    def key(self, value: bytes) -> None:
        self._key = value

    @property
    def salt(self) -> bytes | None:
        return None

    def _translate(self, exc: SQLAlchemyError) -> HubError:
        if isinstance(exc.__cause__, HubError):
            return exc.__cause__
        return connection_error(exc, self.params)

    @contextlib.contextmanager
    def write(self, *, data: bool = True) -> Iterator[Session]:
        """One transaction, the hub's writers serialised (the append lock first); all or nothing."""
        with self._sessions() as session:
            quiet, self._quiet = self._quiet, not data
            try:
                with session.begin():
                    session.connection().exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_APPEND_LOCK})")
                    yield session
            except HubError:
                raise
            except SQLAlchemyError as exc:
                raise self._translate(exc) from None
            finally:
                self._quiet = quiet

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            try:
                with session.begin():
                    yield session
            except HubError:
                raise
            except SQLAlchemyError as exc:
                raise self._translate(exc) from None

    def raw_connection(self) -> QmarkConnection:
        """A psycopg connection in a transaction (server-side cursors need one) taking the site's ``?`` SQL: for
        bulk reads (verify, the key directory)."""
        return QmarkConnection(self.connect_raw())

    def checkpoint(self) -> None:
        """Nothing to do on a server (the site's store flushes its WAL here)."""

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> HubStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
