"""procrastinate's own tables in the store's database, and what they say about our chunks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from digest.application import Application
    from digest.config import QueueSettings
    from digest.store import Store

#: an advisory lock for creating the schema (two workers starting at once), per store schema
SCHEMA_LOCK = "hashtext('digest queue schema ' || current_schema())"


def ensure_schema(store: Store, settings: QueueSettings) -> bool:
    """Create procrastinate's schema unless it exists; whether it was created."""
    from digest.queue.app import make_app

    engine = store.engine
    with engine.connect() as conn:
        conn.execute(sa.text(f"SELECT pg_advisory_lock({SCHEMA_LOCK})"))
        try:
            exists = conn.execute(sa.text("SELECT to_regclass('procrastinate_jobs')")).scalar()
            if exists is None:
                url = engine.url.render_as_string(hide_password=False)
                queue = make_app(url, settings)
                with queue.open():
                    queue.schema_manager.apply_schema()
            return exists is None
        finally:
            conn.execute(sa.text(f"SELECT pg_advisory_unlock({SCHEMA_LOCK})"))
            conn.commit()


def _url(app: Application) -> str:
    return app.store.engine.url.render_as_string(hide_password=False)


async def stalled_chunks(app: Application) -> set[tuple[str, int]]:
    """(edition, first subscriber id) of chunks whose worker stopped sending heartbeats."""
    from digest.queue.app import CHUNK_TASK, make_app

    settings = app.settings.queue
    queue = make_app(_url(app), settings)
    async with queue.open_async():
        jobs = await queue.job_manager.get_stalled_jobs(
            queue=settings.queue,
            task_name=CHUNK_TASK,
            seconds_since_heartbeat=settings.stalled_after_seconds,
        )
    return {(str(j.task_kwargs["edition"]), int(j.task_kwargs["first"])) for j in jobs}  # type: ignore[arg-type]
