"""Feedback carries a detail (the muted author's name) and is looked up per subscriber.

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
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("detail", sa.String(300), nullable=False, server_default=""))
        batch.create_index("ix_feedback_subscriber", ["subscriber_id"])


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_index("ix_feedback_subscriber")
        batch.drop_column("detail")
