"""``digest worker``: processes that run the chunk tasks of queued editions.

Each process opens the application from the same config file as ``digest run``, runs one
procrastinate worker (one chunk at a time: a chunk is CPU-bound work in Python, so
parallelism is processes, ``--concurrency``), and keeps the loaded work of the editions it
serves. SIGTERM (or Ctrl-C) finishes the chunk in hand and stops; a process killed outright
stops sending heartbeats, and its chunk is run again by another worker once
``[queue] stalled_after_seconds`` have passed: the ledger resumes what the chunk had claimed
with the same Message-IDs and leaves what it had finished alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from digest.errors import DigestError, describe
from digest.models import Problem
from digest.pipeline.chunks import ChunkSpec, EditionRun
from digest.pipeline.report import ChunkResult
from digest.store import utcnow

if TYPE_CHECKING:
    from digest.application import Application
    from digest.pipeline.deliver import Delivery, PauseFlag

log = logging.getLogger("digest.worker")

#: editions whose loaded work a worker process keeps
KEEP_EDITIONS = 2


@dataclass
class WorkerState:
    """One worker process: the application and the editions it has loaded."""

    app: Application
    name: str
    runs: OrderedDict[str, EditionRun] = field(default_factory=OrderedDict)
    #: one delivery (open SMTP connections) for every edition, with each edition's pause
    delivery: Delivery | None = None
    pauses: dict[str, PauseFlag] = field(default_factory=dict)

    def edition_run(self, edition_id: str) -> EditionRun | None:
        run = self.runs.get(edition_id)
        if run is not None:
            self.runs.move_to_end(edition_id)
            return run
        from digest.pipeline.recorder import LedgerRecorder
        from digest.queue.work import EditionPause, load_work

        pipeline = self.app.pipeline
        work = load_work(pipeline.store, edition_id)
        if work is None:
            return None
        problems: list[Problem] = []
        selector = pipeline.selector(problems)
        for name in list(selector.rankers):
            if name not in work.rankers:  # it failed to prepare in digest run
                del selector.rankers[name]
                selector.weights.pop(name, None)
        selector.broken_filters.update(work.broken_filters)
        if self.delivery is None:
            self.delivery = pipeline._delivery(
                LedgerRecorder(pipeline.ledger, pipeline.store), None
            )
        self.pauses[edition_id] = EditionPause(pipeline.store, edition_id)
        run = pipeline.edition_run(
            edition=work.edition,
            batch=work.batch,
            selector=selector,
            refs=work.refs,
            now=work.now,
            delivery=self.delivery,
            names=work.names,
            due_only=work.due_only,
            slot=work.slot,
        )
        self.runs[edition_id] = run
        while len(self.runs) > KEEP_EDITIONS:
            gone, _ = self.runs.popitem(last=False)
            self.pauses.pop(gone, None)
        return run


_state: WorkerState | None = None


def run_chunk_task(edition_id: str, first: int, last: int, size: int, *, final: bool) -> None:
    """The body of the chunk task, in a worker process."""
    from digest.queue import work as q

    state = _state
    if state is None:
        raise RuntimeError("the chunk task runs only in digest worker")
    store = state.app.pipeline.store
    now = utcnow()
    q.start_chunk(store, edition_id, first, state.name, now)
    try:
        run = state.edition_run(edition_id)
        if run is None:  # the edition was closed or discarded meanwhile: nothing to do
            q.finish_chunk(store, edition_id, first, ChunkResult(), utcnow())
            return
        assert state.delivery is not None
        state.delivery.paused = state.pauses[edition_id]
        result = run.run_chunk(ChunkSpec(first, last, size))
    except Exception as error:
        log.warning("edition %s, chunk %s–%s failed: %s", edition_id, first, last, describe(error))
        q.fail_chunk(store, edition_id, first, describe(error), final=final, now=utcnow())
        raise
    q.finish_chunk(store, edition_id, first, result, utcnow())
    from digest.queue.dispatch import close_if_done

    close_if_done(state.app.pipeline, edition_id)


def serve_one(config: Path | None, *, index: int = 0) -> None:
    """One worker process: run chunk tasks until SIGTERM/SIGINT."""
    global _state
    from digest.application import Application
    from digest.queue.app import make_app

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        pass
    else:  # processes are the parallelism (see digest.pipeline.fanout)
        threadpool_limits(limits=1)
    with Application.from_path(config) as app:
        settings = app.settings
        if settings.queue.backend != "procrastinate":
            raise DigestError(
                f'{app.loaded.source}: [queue] backend is "{settings.queue.backend}"; '
                'digest worker needs backend = "procrastinate"'
            )
        name = f"{socket.gethostname()}:{os.getpid()}"
        _state = WorkerState(app=app, name=name)
        queue = make_app(app.store.engine.url.render_as_string(hide_password=False), settings.queue)
        log.warning("worker %s (process %d) serving queue %r", name, index, settings.queue.queue)
        try:
            queue.run_worker(
                queues=[settings.queue.queue],
                concurrency=1,
                name=name,
                update_heartbeat_interval=settings.queue.heartbeat_seconds,
                stalled_worker_timeout=settings.queue.stalled_after_seconds,
                delete_jobs="successful",
                install_signal_handlers=True,
            )
        finally:
            if _state.delivery is not None:
                _state.delivery.close()
            _state = None


def serve(config: Path | None, concurrency: int) -> int:
    """Run ``concurrency`` worker processes (forked here) until they stop; the exit code."""
    if concurrency <= 1:
        serve_one(config)
        return 0
    children: list[int] = []
    for index in range(concurrency):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            code = 0
            try:
                serve_one(config, index=index)
            except DigestError as error:
                print(f"Error: {error}", file=sys.stderr)
                code = 1
            except BaseException:
                log.exception("worker process %d failed", index)
                code = 1
            os._exit(code)
        children.append(pid)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = 0
    for child in children:
        _, status = os.waitpid(child, 0)
        code = code or (os.waitstatus_to_exitcode(status) != 0)
    return int(code)
