"""Alembic environment: always runs on a connection handed over by the store."""

from alembic import context

from digest.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the store runs migrations
    raise RuntimeError("papers-digest migrations run through digest.store.Store.migrate()")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
