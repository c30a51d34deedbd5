"""Bedside infusion events (append-only).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "infusion_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("wall_utc", sa.String(32), nullable=False),
        sa.Column("mono", sa.Float(), nullable=True),
        sa.Column("boot", sa.String(64), nullable=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("refers_to", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["subject_id"], ["subject.id"], name=op.f("fk_infusion_event_subject_id_subject")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_infusion_event")),
        sqlite_autoincrement=True,
    )
    if op.get_context().dialect.name == "postgresql":  # the hub (issue 18): guards and grants
        from msc_sle_crf.hub import ddl

        ddl.append_only("infusion_event", "infusion events are append-only")
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER infusion_event_no_{verb.lower()} BEFORE {verb} ON infusion_event
            BEGIN SELECT RAISE(ABORT, 'infusion events are append-only'); END
        """)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        from msc_sle_crf.hub import ddl

        ddl.drop_append_only("infusion_event")
    else:
        op.execute("DROP TRIGGER IF EXISTS infusion_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS infusion_event_no_delete")
    op.drop_table("infusion_event")
