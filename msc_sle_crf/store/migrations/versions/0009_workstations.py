"""Several laptops, one study (issue 18): which workstation a database is and which owns each subject, the copies
of other workstations' audit records (their origin), the packets sent and received, and conflicts kept side by
side.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_APPEND_ONLY = ("sync_packet_out", "sync_packet_in")


def upgrade() -> None:
    # A copy of another workstation's record carries that record's identity and signature (JSON: ws, id, prev,
    # hash, signer, sig). Not part of the local record's hash: it verifies itself against the author's key.
    op.add_column("audit_event", sa.Column("origin", sa.Text(), nullable=True))
    # NULL: the subject belongs to the workstation the database was created as (the first one).
    op.add_column("subject", sa.Column("owner_ws", sa.String(16), nullable=True))
    op.create_table(
        "sync_packet_out",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("file_oid", sa.String(120), nullable=False),
        sa.Column("prior_file_oid", sa.String(120), nullable=True),
        sa.Column("first_record", sa.Integer(), nullable=False),
        sa.Column("last_record", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_utc", sa.String(32), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_sync_packet_out")),
    )
    op.create_table(
        "sync_packet_in",
        sa.Column("origin_ws", sa.String(16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("file_oid", sa.String(120), nullable=False),
        sa.Column("last_record", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("imported_utc", sa.String(32), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("applied", sa.Integer(), nullable=False),
        sa.Column("conflicts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("origin_ws", "seq", name=op.f("pk_sync_packet_in")),
    )
    op.create_table(
        "item_conflict",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("form_instance.id",
                  name=op.f("fk_item_conflict_instance_id_form_instance")), nullable=False),
        sa.Column("group_id", sa.String(40), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(8), nullable=False),
        sa.Column("kept", sa.Text(), nullable=False),  # JSON: the value kept current, its author, ws, time, origin
        sa.Column("other", sa.Text(), nullable=False),  # JSON: the other value, the same
        sa.Column("status", sa.String(16), nullable=False),  # open, resolved
        sa.Column("opened_utc", sa.String(32), nullable=False),
        sa.Column("resolved_utc", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_conflict")),
    )
    if op.get_context().dialect.name == "sqlite":
        for table in _APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"""
                    CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
                    BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END
                """)
    elif op.get_context().dialect.name == "postgresql":  # the hub (issue 18): guards and grants
        from msc_sle_crf.hub import ddl

        for table in _APPEND_ONLY:
            ddl.append_only(table, f"{table} is append-only")
        ddl.mutable("item_conflict")


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for table in _APPEND_ONLY:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    elif op.get_context().dialect.name == "postgresql":
        from msc_sle_crf.hub import ddl

        for table in _APPEND_ONLY:
            ddl.drop_append_only(table)
    op.drop_table("item_conflict")
    op.drop_table("sync_packet_in")
    op.drop_table("sync_packet_out")
    with op.batch_alter_table("subject") as batch:
        batch.drop_column("owner_ws")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("origin")
