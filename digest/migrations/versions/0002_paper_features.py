"""Per-paper features computed once and kept (embeddings, vectors).

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
        "paper_features",
        sa.Column("paper_id", sa.String(300), primary_key=True),
        sa.Column("namespace", sa.String(100), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("paper_features")
