"""What a queued edition keeps in the store: its prepared per-paper work and its chunks.

The work is the run's :class:`~digest.batch.Batch` with every component's prepared data in
``batch.cache`` (TF-IDF matrices, embeddings, rendered cards), pickled and compressed once by
``digest run``; each worker process loads it once per edition. Only our own processes write
it, into the operator's own database. Chunks are rows of ``edition_chunks``: their state,
attempts, the worker that ran them, the last error and the result the run summary adds up.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from digest.batch import Batch
from digest.errors import DigestError, describe
from digest.models import Edition, Problem
from digest.pipeline.chunks import ChunkSpec
from digest.pipeline.report import ChunkResult
from digest.store import Store
from digest.store.schema import edition_chunks, edition_work, editions
from digest.store.sql import aware

#: chunk states; ``done`` and ``failed`` are final
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATES = (QUEUED, RUNNING, DONE, FAILED)


@dataclass(frozen=True, slots=True, kw_only=True)
class EditionWork:
    """Everything a worker needs to run any chunk of one edition."""

    edition: Edition
    batch: Batch
    refs: dict[str, str]
    #: rankers still in the selection after ``prepare`` (a failing one is dropped)
    rankers: tuple[str, ...]
    broken_filters: tuple[str, ...]
    names: tuple[str, ...] | None
    due_only: bool
    slot: tuple[str, str] | None
    now: dt.datetime


def save_work(store: Store, work: EditionWork) -> int:
    """Store the edition's work; its size in bytes."""
    payload = zlib.compress(pickle.dumps(work, protocol=pickle.HIGHEST_PROTOCOL), 3)
    with store.begin() as conn:
        conn.execute(
            edition_work.insert().values(
                edition_id=work.edition.id, created_at=work.now, payload=payload
            )
        )
    return len(payload)


def load_work(store: Store, edition_id: str) -> EditionWork | None:
    with store.engine.connect() as conn:
        payload = conn.execute(
            sa.select(edition_work.c.payload).where(edition_work.c.edition_id == edition_id)
        ).scalar()
    if payload is None:
        return None
    try:
        work = pickle.loads(zlib.decompress(payload))
    except Exception as error:  # written by another version, or damaged
        raise DigestError(
            f"edition {edition_id}: its stored work cannot be read ({describe(error)}); "
            "run the same papers-digest version on every machine"
        ) from error
    if not isinstance(work, EditionWork):
        raise DigestError(f"edition {edition_id}: its stored work is not an edition's work")
    return work


def drop_work(store: Store, edition_id: str) -> None:
    with store.begin() as conn:
        conn.execute(edition_work.delete().where(edition_work.c.edition_id == edition_id))


def add_chunks(
    store: Store, edition: Edition, specs: Sequence[ChunkSpec], now: dt.datetime
) -> None:
    rows = [
        {
            "edition_id": edition.id,
            "first_id": s.first,
            "last_id": s.last,
            "size": s.size,
            "status": QUEUED,
            "updated_at": now,
        }
        for s in specs
    ]
    with store.begin() as conn:
        if rows:
            conn.execute(edition_chunks.insert(), rows)


def drop_chunks(store: Store, edition_id: str) -> None:
    with store.begin() as conn:
        conn.execute(edition_chunks.delete().where(edition_chunks.c.edition_id == edition_id))
        conn.execute(edition_work.delete().where(edition_work.c.edition_id == edition_id))


def _chunk(edition_id: str, first: int) -> sa.ColumnElement[bool]:
    return sa.and_(edition_chunks.c.edition_id == edition_id, edition_chunks.c.first_id == first)


def requeue_chunks(store: Store, edition_id: str, now: dt.datetime) -> list[ChunkSpec]:
    """Mark every chunk of the edition queued again; the chunks."""
    with store.begin() as conn:
        conn.execute(
            edition_chunks.update()
            .where(edition_chunks.c.edition_id == edition_id)
            .values(status=QUEUED, error="", result="", updated_at=now)
        )
    return [ChunkSpec(c.first, c.last, c.size) for c in chunks_of(store, edition_id)]


def start_chunk(store: Store, edition_id: str, first: int, worker: str, now: dt.datetime) -> None:
    with store.begin() as conn:
        conn.execute(
            edition_chunks.update()
            .where(_chunk(edition_id, first))
            .values(
                status=RUNNING,
                attempts=edition_chunks.c.attempts + 1,
                worker=worker[:200],
                updated_at=now,
            )
        )


def finish_chunk(
    store: Store, edition_id: str, first: int, result: ChunkResult, now: dt.datetime
) -> None:
    with store.begin() as conn:
        conn.execute(
            edition_chunks.update()
            .where(_chunk(edition_id, first))
            .values(status=DONE, error="", result=result_to_json(result), updated_at=now)
        )


def fail_chunk(
    store: Store, edition_id: str, first: int, error: str, *, final: bool, now: dt.datetime
) -> None:
    """Note a chunk's error; ``final`` when no retry follows."""
    with store.begin() as conn:
        conn.execute(
            edition_chunks.update()
            .where(_chunk(edition_id, first))
            .values(status=FAILED if final else QUEUED, error=error[:2000], updated_at=now)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkState:
    edition_id: str
    first: int
    last: int
    size: int
    status: str
    attempts: int
    worker: str
    error: str
    updated_at: dt.datetime


def chunks_of(store: Store, edition_id: str) -> list[ChunkState]:
    with store.engine.connect() as conn:
        return [
            ChunkState(
                edition_id=r.edition_id,
                first=r.first_id,
                last=r.last_id,
                size=r.size,
                status=r.status,
                attempts=r.attempts,
                worker=r.worker,
                error=r.error,
                updated_at=aware(r.updated_at) or r.updated_at,
            )
            for r in conn.execute(
                sa.select(edition_chunks)
                .where(edition_chunks.c.edition_id == edition_id)
                .order_by(edition_chunks.c.first_id)
            )
        ]


def progress_of(store: Store, edition_id: str) -> Counter[str]:
    """Subscribers per chunk state."""
    with store.engine.connect() as conn:
        return Counter(
            {
                r.status: int(r.n)
                for r in conn.execute(
                    sa.select(
                        edition_chunks.c.status, sa.func.sum(edition_chunks.c.size).label("n")
                    )
                    .where(edition_chunks.c.edition_id == edition_id)
                    .group_by(edition_chunks.c.status)
                )
            }
        )


def queued_editions(store: Store) -> list[tuple[str, str]]:
    """(edition id, edition status) of editions with chunks, newest first."""
    query = (
        sa.select(editions.c.id, editions.c.status)
        .where(sa.exists().where(edition_chunks.c.edition_id == editions.c.id))
        .order_by(editions.c.created_at.desc())
    )
    with store.engine.connect() as conn:
        return [(r.id, r.status) for r in conn.execute(query)]


def chunks_left(store: Store, edition_id: str) -> int | None:
    """Chunks of the edition still queued or running (``None``: it has no chunks)."""
    query = sa.select(
        sa.func.count(),
        sa.func.count().filter(edition_chunks.c.status.in_((QUEUED, RUNNING))),
    ).where(edition_chunks.c.edition_id == edition_id)
    with store.engine.connect() as conn:
        total, left = conn.execute(query).one()
    return None if not total else int(left)


def unfinished_edition(store: Store) -> str | None:
    """An edition whose chunks are not all done or failed (still being delivered)."""
    query = (
        sa.select(edition_chunks.c.edition_id)
        .join(editions, editions.c.id == edition_chunks.c.edition_id)
        .where(edition_chunks.c.status.in_((QUEUED, RUNNING)), editions.c.status == "open")
        .limit(1)
    )
    with store.engine.connect() as conn:
        return conn.execute(query).scalar()


def results_of(store: Store, edition_id: str) -> list[ChunkResult]:
    with store.engine.connect() as conn:
        return [
            result_from_json(r.result)
            for r in conn.execute(
                sa.select(edition_chunks.c.result).where(
                    edition_chunks.c.edition_id == edition_id, edition_chunks.c.result != ""
                )
            )
        ]


def result_to_json(result: ChunkResult) -> str:
    return json.dumps(
        {
            "delivered": result.delivered,
            "skipped": result.skipped,
            "deferred": result.deferred,
            "failed": result.failed,
            "problems": [[p.where, p.message] for p in result.problems],
            "outputs": result.outputs,
        },
        ensure_ascii=False,
    )


def result_from_json(text: str) -> ChunkResult:
    d = json.loads(text)
    return ChunkResult(
        delivered=d["delivered"],
        skipped=d["skipped"],
        deferred=d["deferred"],
        failed=d["failed"],
        problems=[Problem(where=w, message=m) for w, m in d["problems"]],
        outputs=d["outputs"],
    )


class EditionPause:
    """An edition's pause as every worker on every machine sees it: the edition's status in
    the store, read at most every ``every`` seconds (a :data:`~digest.pipeline.deliver.
    PauseFlag`)."""

    def __init__(self, store: Store, edition_id: str, *, every: float = 2.0) -> None:
        self.store = store
        self.edition_id = edition_id
        self.every = every
        self._checked = 0.0
        self._paused = False

    def is_set(self) -> bool:
        now = time.monotonic()
        if now - self._checked >= self.every:  # paused and resumed: both are seen
            self._checked = now
            with self.store.engine.connect() as conn:
                status = conn.execute(
                    sa.select(editions.c.status).where(editions.c.id == self.edition_id)
                ).scalar()
            self._paused = status == "paused"
        return self._paused

    def set(self) -> None:
        set_paused(self.store, self.edition_id, True)
        self._paused = True

    def clear(self) -> None:
        self._paused = False
        self._checked = 0.0


def set_paused(store: Store, edition_id: str, paused: bool) -> bool:
    """Pause (or resume) an edition that is not complete; whether it changed."""
    values = ("open", "paused") if paused else ("paused", "open")
    with store.begin() as conn:
        changed = conn.execute(
            editions.update()
            .where(editions.c.id == edition_id, editions.c.status == values[0])
            .values(status=values[1])
        ).rowcount
    return bool(changed)
