"""Queries (with append-only messages) and item-level source-data verification.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_query",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(40), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("opened_utc", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["form_instance.id"],
                                name=op.f("fk_data_query_instance_id_form_instance")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_query")),
    )
    op.create_table(
        "query_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("utc", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["query_id"], ["data_query.id"], name=op.f("fk_query_message_query_id_data_query")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_query_message")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "item_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(40), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(8), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("utc", sa.String(32), nullable=False),
        sa.Column("value_hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["form_instance.id"],
                                name=op.f("fk_item_verification_instance_id_form_instance")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_verification")),
        sqlite_autoincrement=True,
    )
    if op.get_context().dialect.name == "postgresql":  # the hub (issue 18): guards and grants
        from msc_sle_crf.hub import ddl

        ddl.mutable("data_query")
        for table in ("query_message", "item_verification"):
            ddl.append_only(table, f"{table} is append-only")
        return
    for table in ("query_message", "item_verification"):
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END
            """)


def downgrade() -> None:
    for table in ("query_message", "item_verification"):
        if op.get_context().dialect.name == "postgresql":
            from msc_sle_crf.hub import ddl

            ddl.drop_append_only(table)
            continue
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    op.drop_table("item_verification")
    op.drop_table("query_message")
    op.drop_table("data_query")
