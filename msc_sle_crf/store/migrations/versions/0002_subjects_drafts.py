"""Subjects and drafts.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subject",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_number", sa.String(16), nullable=False),
        sa.Column("initials", sa.String(4), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(1), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_utc", sa.String(32), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["app_user.id"], name=op.f("fk_subject_created_by_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject")),
        sa.UniqueConstraint("subject_number", name=op.f("uq_subject_subject_number")),
    )
    op.create_table(
        "draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("draft_key", sa.String(120), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("updated_utc", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_draft_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft")),
        sa.UniqueConstraint("user_id", "draft_key", name=op.f("uq_draft_user_id_draft_key")),
    )
    if op.get_context().dialect.name == "postgresql":  # the hub (issue 18): the application role's grants
        from msc_sle_crf.hub import ddl

        ddl.mutable("subject")
        ddl.mutable("draft", delete=True)  # a draft is meant to go once its input is saved or discarded


def downgrade() -> None:
    op.drop_table("draft")
    op.drop_table("subject")
