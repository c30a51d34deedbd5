"""Electronic signatures of form instances (append-only).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("printed_name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("meaning", sa.String(32), nullable=False),
        sa.Column("signed_utc", sa.String(32), nullable=False),
        sa.Column("utc_offset_min", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["form_instance.id"],
                                name=op.f("fk_signature_instance_id_form_instance")),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_signature_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signature")),
        sqlite_autoincrement=True,
    )
    if op.get_context().dialect.name == "postgresql":  # the hub (issue 18): guards and grants
        from msc_sle_crf.hub import ddl

        ddl.append_only("signature", "signatures are append-only")
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER signature_no_{verb.lower()} BEFORE {verb} ON signature
            BEGIN SELECT RAISE(ABORT, 'signatures are append-only'); END
        """)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        from msc_sle_crf.hub import ddl

        ddl.drop_append_only("signature")
    else:
        op.execute("DROP TRIGGER IF EXISTS signature_no_update")
        op.execute("DROP TRIGGER IF EXISTS signature_no_delete")
    op.drop_table("signature")
