"""Form data: definition snapshots, form instances, repeating rows, item values; audit look-up index.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_definition",
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("form_id", sa.String(40), nullable=False),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("definition_json", sa.Text(), nullable=False),
        sa.Column("first_used_utc", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("content_hash", name=op.f("pk_form_definition")),
    )
    op.create_table(
        "form_instance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(12), nullable=False),
        sa.Column("form_id", sa.String(40), nullable=False),
        sa.Column("form_version", sa.String(16), nullable=False),
        sa.Column("form_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_utc", sa.String(32), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("updated_utc", sa.String(32), nullable=False),
        sa.Column("completed_utc", sa.String(32), nullable=True),
        sa.Column("completed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["subject_id"], ["subject.id"], name=op.f("fk_form_instance_subject_id_subject")),
        sa.ForeignKeyConstraint(["form_hash"], ["form_definition.content_hash"],
                                name=op.f("fk_form_instance_form_hash_form_definition")),
        sa.ForeignKeyConstraint(["created_by"], ["app_user.id"], name=op.f("fk_form_instance_created_by_app_user")),
        sa.ForeignKeyConstraint(["completed_by"], ["app_user.id"],
                                name=op.f("fk_form_instance_completed_by_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_instance")),
        sa.UniqueConstraint("subject_id", "event_id", "form_id",
                            name=op.f("uq_form_instance_subject_id_event_id_form_id")),
    )
    op.create_table(
        "form_row",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(40), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("created_utc", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["form_instance.id"],
                                name=op.f("fk_form_row_instance_id_form_instance")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_row")),
        sa.UniqueConstraint("instance_id", "group_id", "row_no", name=op.f("uq_form_row_instance_id_group_id_row_no")),
    )
    op.create_table(
        "item_value",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(40), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(8), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("unit", sa.String(20), nullable=True),
        sa.Column("canonical", sa.Text(), nullable=True),
        sa.Column("missing_code", sa.String(4), nullable=True),
        sa.Column("missing_reason", sa.Text(), nullable=True),
        sa.Column("confirmed", sa.String(200), nullable=True),
        sa.Column("updated_utc", sa.String(32), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["form_instance.id"],
                                name=op.f("fk_item_value_instance_id_form_instance")),
        sa.ForeignKeyConstraint(["updated_by"], ["app_user.id"], name=op.f("fk_item_value_updated_by_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_value")),
        sa.UniqueConstraint("instance_id", "group_id", "row_no", "item_id",
                            name=op.f("uq_item_value_instance_id_group_id_row_no_item_id")),
    )
    # Item history reads the audit trail by subject, form and item.
    op.create_index("ix_audit_event_subject_form_item", "audit_event", ["subject", "form", "item"])
    if op.get_context().dialect.name == "postgresql":  # the hub (issue 18): the application role's grants
        from msc_sle_crf.hub import ddl

        for table in ("form_definition", "form_instance", "form_row", "item_value"):
            ddl.mutable(table)


def downgrade() -> None:
    op.drop_index("ix_audit_event_subject_form_item", table_name="audit_event")
    op.drop_table("item_value")
    op.drop_table("form_row")
    op.drop_table("form_instance")
    op.drop_table("form_definition")
