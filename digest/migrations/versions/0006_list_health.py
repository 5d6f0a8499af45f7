"""List health: bounce events, the suppression list, subscribers' ``bounced_at``, and shared
rate limits (one send rate across processes and machines).

Addresses that unsubscribed before this revision are put on the suppression list, so a
re-import does not revive them either.

Revision ID: 0006
Revises: 0005
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("bounced_at", sa.DateTime(timezone=True)))
    op.create_table(
        "bounce_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(400), nullable=False, unique=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id")),
        sa.Column("edition_id", sa.String(40)),
        sa.Column("domain", sa.String(255)),
        sa.Column("status", sa.String(20)),
        sa.Column("outcome", sa.String(60), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False, server_default=""),
    )
    op.create_index("ix_bounce_events_at", "bounce_events", ["at"])
    op.create_index("ix_bounce_events_subscriber", "bounce_events", ["subscriber_id", "kind", "at"])
    op.create_index("ix_bounce_events_edition", "bounce_events", ["edition_id"])
    suppressions = op.create_table(
        "suppressions",
        sa.Column("email_key", sa.String(320), primary_key=True),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False, server_default=""),
    )
    op.create_table(
        "rate_limits",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("next_at", sa.Float, nullable=False),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT DISTINCT email_key, unsubscribed_at FROM subscribers "
            "WHERE status = 'unsubscribed' AND email_key IS NOT NULL"
        )
    ).all()
    seen: dict[str, object] = {}
    for key, at in rows:
        seen.setdefault(key, at or dt.datetime.now(dt.UTC))
    if seen:
        op.bulk_insert(
            suppressions,
            [
                {"email_key": k, "reason": "unsubscribed", "at": at, "detail": ""}
                for k, at in seen.items()
            ],
        )


def downgrade() -> None:
    op.drop_table("rate_limits")
    op.drop_table("suppressions")
    op.drop_index("ix_bounce_events_edition", "bounce_events")
    op.drop_index("ix_bounce_events_subscriber", "bounce_events")
    op.drop_index("ix_bounce_events_at", "bounce_events")
    op.drop_table("bounce_events")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("bounced_at")
