"""The distributed fan-out: an edition's stored per-paper work and its chunks; an index of
deliveries by subscriber (measured at 3 M rows: a bounce's lookup 106–234 ms → 0.1 ms); and
one spelling per cron schedule in the stored settings ("0  7 * * *" → "0 7 * * *"), since a
scheduler slot now finds its subscribers by equality in the database.

Revision ID: 0007
Revises: 0006
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, data FROM subscribers WHERE data LIKE :two OR data LIKE :tab"),
        {"two": "%  %", "tab": "%\\t%"},
    ).all()
    for sid, data in rows:
        settings = json.loads(data)
        schedule = settings.get("schedule")
        if isinstance(schedule, str) and " ".join(schedule.split()) != schedule:
            settings["schedule"] = " ".join(schedule.split())
            conn.execute(
                sa.text("UPDATE subscribers SET data = :data WHERE id = :id"),
                {"data": json.dumps(settings, ensure_ascii=False), "id": sid},
            )
    op.create_index("ix_deliveries_subscriber", "deliveries", ["subscriber_id", "edition_id"])
    op.create_table(
        "edition_work",
        sa.Column("edition_id", sa.String(40), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "edition_chunks",
        sa.Column("edition_id", sa.String(40), primary_key=True),
        sa.Column("first_id", sa.Integer, primary_key=True),
        sa.Column("last_id", sa.Integer, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("worker", sa.String(200), nullable=False, server_default=""),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("result", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_subscriber", "deliveries")
    op.drop_table("edition_chunks")
    op.drop_table("edition_work")
