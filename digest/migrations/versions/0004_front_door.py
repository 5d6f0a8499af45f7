"""The front door: subscriber status (pending sign-ups), the sign-up log, site settings the
operator changes at run time, and the profile imports kept for resyncing.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(
            sa.Column("status", sa.String(20), nullable=False, server_default="active")
        )
        batch.add_column(sa.Column("email_key", sa.String(320)))
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True)))
        batch.create_index("ix_subscribers_email_key", ["email_key"])
        batch.create_index("ix_subscribers_status", ["status"])
    op.execute("UPDATE subscribers SET status = 'unsubscribed' WHERE unsubscribed_at IS NOT NULL")
    op.create_table(
        "signup_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("subscriber", sa.String(200)),
        sa.Column("domain", sa.String(255)),
        sa.Column("detail", sa.String(500), nullable=False, server_default=""),
    )
    op.create_table(
        "site_settings",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "profile_imports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), nullable=False),
        sa.Column("importer", sa.String(50), nullable=False),
        sa.Column("ref", sa.String(500), nullable=False),
        sa.Column("options", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True)),
        sa.Column("error", sa.Text),
        sa.UniqueConstraint("subscriber_id", "importer", "ref", name="uq_profile_imports"),
    )


def downgrade() -> None:
    op.drop_table("profile_imports")
    op.drop_table("site_settings")
    op.drop_table("signup_log")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_index("ix_subscribers_status")
        batch.drop_index("ix_subscribers_email_key")
        batch.drop_column("confirmed_at")
        batch.drop_column("email_key")
        batch.drop_column("status")
