"""The run's side of the queue: enqueue an edition's chunks, wait for them, close it.

``digest run`` (and ``digest serve``'s scheduler) store the edition's work, add its chunks
and defer one task per chunk in one transaction-sized batch; then, unless told not to wait,
they show progress until every chunk is done or failed, retrying chunks of dead workers
meanwhile. The last chunk to finish closes the edition (complete, paused, or discarded if
nobody got a digest), so an edition enqueued with ``--no-wait`` closes on its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from digest.models import Edition, Problem
from digest.pipeline.chunks import ChunkSpec
from digest.pipeline.report import ChunkResult
from digest.queue import work as q

if TYPE_CHECKING:
    from procrastinate.types import JSONValue

    from digest.pipeline.run import Pipeline

log = logging.getLogger("digest.queue")

#: seconds between progress checks while waiting
POLL = 0.5


def enqueue(pipeline: Pipeline, work: q.EditionWork, chunks: Sequence[ChunkSpec]) -> int:
    """Store the edition's work and chunks and defer a task per chunk; the payload's size."""
    from digest.queue.schema import ensure_schema

    store = pipeline.store
    ensure_schema(store, pipeline.settings.queue)
    size = q.save_work(store, work)
    q.add_chunks(store, work.edition, chunks, work.now)
    defer(pipeline, work.edition.id, chunks)
    return size


def requeue(pipeline: Pipeline, edition_id: str) -> int:
    """Queue every chunk of an edition again (a resumed pause); how many."""
    from digest.store import utcnow

    chunks = q.requeue_chunks(pipeline.store, edition_id, utcnow())
    defer(pipeline, edition_id, chunks)
    return len(chunks)


def defer(pipeline: Pipeline, edition_id: str, chunks: Sequence[ChunkSpec]) -> None:
    from digest.queue.app import CHUNK_TASK, make_app

    settings = pipeline.settings.queue
    app = make_app(_url(pipeline), settings)

    async def send() -> None:
        async with app.open_async():
            task = app.tasks[CHUNK_TASK]
            jobs: list[dict[str, JSONValue]] = [
                {"edition": edition_id, "first": c.first, "last": c.last, "size": c.size}
                for c in chunks
            ]
            if jobs:
                await task.batch_defer_async(*jobs)

    asyncio.run(send())


def _url(pipeline: Pipeline) -> str:
    return pipeline.store.engine.url.render_as_string(hide_password=False)


def wait(
    pipeline: Pipeline, edition: Edition, progress: Callable[[int, int], None] | None
) -> ChunkResult:
    """Wait until every chunk of the edition is done or failed; their results added up.

    Chunks whose worker died are put back in the queue meanwhile (a worker does that too,
    every few seconds, when one is running).
    """
    from digest.queue.app import make_app, retry_stalled_jobs

    store = pipeline.store
    settings = pipeline.settings.queue
    app = make_app(_url(pipeline), settings)
    total = sum(c.size for c in q.chunks_of(store, edition.id))
    shown = 0
    last_retry = time.monotonic()

    async def retry() -> None:
        async with app.open_async():
            await retry_stalled_jobs(app, settings)

    lonely_since: float | None = None
    while True:
        counts = q.progress_of(store, edition.id)
        if not counts:  # closed and discarded by its last chunk: nobody had anything new
            break
        finished = counts[q.DONE] + counts[q.FAILED]
        if progress and finished > shown:
            progress(finished - shown, total)
            shown = finished
        if finished >= total:
            break
        if time.monotonic() - last_retry > settings.heartbeat_seconds:
            asyncio.run(retry())
            last_retry = time.monotonic()
            if _workers_alive(pipeline) == 0:
                lonely_since = lonely_since or last_retry
                if last_retry - lonely_since >= settings.heartbeat_seconds:
                    log.error(
                        "edition %s: no digest worker is running (none sent a heartbeat in "
                        "%.0f s); start one with: digest worker --config …",
                        edition.id,
                        settings.stalled_after_seconds,
                    )
                    lonely_since = time.monotonic() + 3600  # said once an hour
            else:
                lonely_since = None
        time.sleep(POLL)
    result = ChunkResult()
    for part in q.results_of(store, edition.id):
        result.absorb(part)
    # From the ledger: a chunk interrupted and run again did not count what it had sent.
    result.delivered = pipeline.ledger.delivered(edition.id)
    for chunk in q.chunks_of(store, edition.id):
        if chunk.status == q.FAILED:
            result.problems.append(
                Problem(
                    where=f"edition {edition.id}, subscribers {chunk.first}–{chunk.last}",
                    message=f"chunk failed after {chunk.attempts} attempts: {chunk.error}",
                )
            )
    return result


def _workers_alive(pipeline: Pipeline) -> int:
    """Workers that sent a heartbeat within ``[queue] stalled_after_seconds``."""
    import sqlalchemy as sa

    seconds = pipeline.settings.queue.stalled_after_seconds
    with pipeline.store.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM procrastinate_workers "
                    "WHERE last_heartbeat > now() - make_interval(secs => :s)"
                ),
                {"s": seconds},
            ).scalar_one()
        )


def close_if_done(pipeline: Pipeline, edition_id: str) -> Edition | None:
    """Close the edition when none of its chunks is left to run (idempotent)."""
    from digest.pipeline.recorder import LedgerRecorder

    store = pipeline.store
    if q.chunks_left(store, edition_id) != 0:  # one count per finished chunk, not a read
        return None
    edition = pipeline.ledger.edition(edition_id)
    if edition is None or edition_id not in {e.id for e in pipeline.ledger.open_editions()}:
        return None
    recorder = LedgerRecorder(pipeline.ledger, store)
    paused = q.EditionPause(store, edition_id, every=0).is_set()
    closed = recorder.close_edition(edition, paused=paused)
    if closed is None:  # nobody got a digest: the chunks go with the edition
        q.drop_chunks(store, edition_id)
    if not paused:
        q.drop_work(store, edition_id)
    return closed
