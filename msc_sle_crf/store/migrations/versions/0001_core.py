"""Core schema: site settings, users, append-only audit trail.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_setting",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_utc", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_site_setting")),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("full_name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("created_utc", sa.String(32), nullable=False),
        sa.Column("disabled_utc", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ts_utc", sa.String(32), nullable=False),
        sa.Column("utc_offset_min", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("workstation", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(32), nullable=True),
        sa.Column("visit", sa.String(32), nullable=True),
        sa.Column("form", sa.String(64), nullable=True),
        sa.Column("item", sa.String(64), nullable=True),
        sa.Column("repeat_key", sa.String(32), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
        sqlite_autoincrement=True,
    )
    if op.get_context().dialect.name == "postgresql":  # the hub (issue 18): guards and grants, msc_sle_crf.hub.ddl
        from msc_sle_crf.hub import ddl

        ddl.create_guard_function()
        ddl.append_only("audit_event", "audit trail is append-only: UPDATE, DELETE and TRUNCATE refused")
        ddl.mutable("site_setting")
        ddl.mutable("app_user")
        ddl.grant("alembic_version", "SELECT")
        return
    op.execute(
        "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: UPDATE refused'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: DELETE refused'); END"
    )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        from msc_sle_crf.hub import ddl

        ddl.drop_append_only("audit_event")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
    op.drop_table("audit_event")
    op.drop_table("app_user")
    op.drop_table("site_setting")
    if op.get_context().dialect.name == "postgresql":
        ddl.drop_guard_function()
