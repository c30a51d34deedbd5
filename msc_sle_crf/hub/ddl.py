"""What the migrations do on PostgreSQL only: append-only guards and the application role's grants.

SQLite has its ``CREATE TRIGGER ... RAISE(ABORT)`` triggers (unchanged). On PostgreSQL the same tables get
- a trigger function raising an error on UPDATE and DELETE (row triggers) and TRUNCATE (statement trigger), so that
  even the owner role has to drop or disable a trigger, on purpose, to rewrite history;
- grants: the application role (``hub_app_role`` in the Alembic config's attributes, given by ``hub init
  --app-role``) may SELECT and INSERT the append-only tables, and SELECT, INSERT and UPDATE the others (plus DELETE
  on ``draft``, the one table whose rows are meant to go). It owns nothing, so it can neither drop a trigger nor
  alter a table: the grants hold even where a trigger would not.

Functions here are called from inside migrations (``alembic.op`` is live then).
"""

from __future__ import annotations

import re

from alembic import context, op

APP_ROLE_ATTRIBUTE = "hub_app_role"
_IDENT = re.compile(r"[a-z_][a-z0-9_$]{0,62}")
GUARD_FUNCTION = "msc_sle_crf_append_only"


def on_postgresql() -> bool:
    return bool(op.get_context().dialect.name == "postgresql")


def check_role_name(name: str) -> str:
    """A plain lower-case PostgreSQL identifier (it goes into GRANT statements as is)."""
    if not _IDENT.fullmatch(name):
        raise ValueError(f"not a plain PostgreSQL role name (lower-case letters, digits, '_'): {name!r}")
    return name


def app_role() -> str:
    role = context.config.attributes.get(APP_ROLE_ATTRIBUTE)
    if not role:
        raise RuntimeError("a hub's migrations need the application role (hub init --app-role)")
    return check_role_name(str(role))


def create_guard_function() -> None:
    op.execute(f"""
        CREATE OR REPLACE FUNCTION {GUARD_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
        END
        $$
    """)
    op.execute(f"REVOKE ALL ON FUNCTION {GUARD_FUNCTION}() FROM PUBLIC")


def drop_guard_function() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {GUARD_FUNCTION}()")


def append_only(table: str, message: str) -> None:
    """Guards (the SQLite triggers' names, plus one for TRUNCATE) and SELECT/INSERT for the application role."""
    text = message.replace("'", "''")
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {GUARD_FUNCTION}('{text}')")
    op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
               f"FOR EACH STATEMENT EXECUTE FUNCTION {GUARD_FUNCTION}('{text}')")
    grant(table, "SELECT, INSERT")


def drop_append_only(table: str) -> None:
    for verb in ("update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb} ON {table}")


def mutable(table: str, *, delete: bool = False) -> None:
    grant(table, "SELECT, INSERT, UPDATE" + (", DELETE" if delete else ""))


def grant(table: str, privileges: str) -> None:
    role = app_role()
    op.execute(f"REVOKE ALL ON {table} FROM PUBLIC")
    op.execute(f"GRANT {privileges} ON {table} TO {role}")
    # the id sequence of a table with a generated key (new rows made on the hub)
    op.execute(f"""
        DO $$
        DECLARE seq text;
        BEGIN
            seq := pg_get_serial_sequence('{table}', 'id');
            IF seq IS NOT NULL THEN
                EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO %I', seq, '{role}');
            END IF;
        EXCEPTION WHEN undefined_column THEN NULL;
        END
        $$
    """)
