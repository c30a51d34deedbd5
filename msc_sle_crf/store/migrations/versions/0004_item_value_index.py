"""Index item values by item id (the subject list reads every subject's visit dates).

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_item_value_item_id", "item_value", ["item_id", "instance_id", "value"])


def downgrade() -> None:
    op.drop_index("ix_item_value_item_id", table_name="item_value")
