"""The procrastinate app: the chunk task and the stalled-job retrier, on the store's database."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from digest.errors import DigestError

if TYPE_CHECKING:
    import procrastinate

    from digest.config import QueueSettings

log = logging.getLogger("digest.queue")

CHUNK_TASK = "digest.chunk"
RETRY_STALLED_TASK = "digest.retry_stalled"


def conninfo(database_url: str) -> str:
    """The libpq URI of a SQLAlchemy PostgreSQL URL (``postgresql+psycopg://…``)."""
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise DigestError(
            '[queue] backend = "procrastinate" needs a PostgreSQL store: set [digest] database '
            f"to a postgresql+psycopg:// URL (it is {url.get_backend_name()})"
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(database_url: str, settings: QueueSettings) -> procrastinate.App:
    """The app ``digest run`` enqueues with and ``digest worker`` runs (tasks registered)."""
    try:
        import procrastinate
    except ImportError as error:  # pragma: no cover - an install without the extra
        raise DigestError(
            '[queue] backend = "procrastinate" needs procrastinate: pip install '
            "'papers-digest[queue]'"
        ) from error
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo(database_url))
    )
    retry = procrastinate.RetryStrategy(
        max_attempts=settings.retries, wait=settings.retry_wait_seconds, exponential_wait=2
    )

    @app.task(name=CHUNK_TASK, queue=settings.queue, retry=retry, pass_context=True)
    def chunk(context: Any, edition: str, first: int, last: int, size: int) -> None:
        from digest.queue.worker import run_chunk_task

        job = context.job
        attempts = int(getattr(job, "attempts", 0) or 0)
        run_chunk_task(edition, first, last, size, final=attempts >= settings.retries)

    # Every worker defers this every 5 s (procrastinate keeps one job per tick).
    @app.periodic(cron="* * * * * */5", periodic_id="retry-stalled")
    @app.task(name=RETRY_STALLED_TASK, queue=settings.queue)
    async def retry_stalled(timestamp: int) -> None:
        await retry_stalled_jobs(app, settings)

    return app


async def retry_stalled_jobs(app: procrastinate.App, settings: QueueSettings) -> int:
    """Put chunks whose worker stopped sending heartbeats (killed, machine gone) back in the
    queue; how many."""
    stalled = list(
        await app.job_manager.get_stalled_jobs(
            queue=settings.queue,
            task_name=CHUNK_TASK,
            seconds_since_heartbeat=settings.stalled_after_seconds,
        )
    )
    for job in stalled:
        log.warning("chunk job %s stalled (its worker is gone): running it again", job.id)
        await app.job_manager.retry_job(job)
    return len(stalled)
