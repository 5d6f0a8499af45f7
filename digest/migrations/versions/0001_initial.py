"""Initial schema: papers, subscribers, editions, the delivery ledger, source state, feedback.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "papers",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("paper_id", sa.String(300), nullable=False, unique=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("first_seen", TS, nullable=False, index=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "paper_sources",
        sa.Column("paper_seq", sa.Integer, sa.ForeignKey("papers.seq"), primary_key=True),
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("first_seen", TS, nullable=False),
    )
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("unsubscribed_at", TS),
        sa.Column("watermark", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_edition_at", TS),
    )
    op.create_table(
        "editions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("completed_at", TS),
    )
    op.create_table(
        "selections",
        sa.Column("edition_id", sa.String(40), sa.ForeignKey("editions.id"), primary_key=True),
        sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), primary_key=True),
        sa.Column("rank", sa.Integer, primary_key=True),
        sa.Column("paper_seq", sa.Integer, sa.ForeignKey("papers.seq"), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
    )
    op.create_index("ix_selections_subscriber_paper", "selections", ["subscriber_id", "paper_seq"])
    op.create_index("ix_selections_paper", "selections", ["paper_seq"])
    op.create_table(
        "deliveries",
        sa.Column("edition_id", sa.String(40), sa.ForeignKey("editions.id"), primary_key=True),
        sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), primary_key=True),
        sa.Column("channel", sa.String(50), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("message_id", sa.String(300), nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_deliveries_status", "deliveries", ["edition_id", "status"])
    op.create_table(
        "source_state",
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "source_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(200), nullable=False, index=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("collected", sa.Integer, nullable=False),
        sa.Column("new", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("flag", sa.Text),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), nullable=False),
        sa.Column("paper_id", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "feedback",
        "source_runs",
        "source_state",
        "deliveries",
        "selections",
        "editions",
        "subscribers",
        "paper_sources",
        "papers",
    ):
        op.drop_table(table)
