"""``digest serve``: the web app and the edition scheduler in one process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from digest.store import utcnow
from digest.web.app import Lifecycle, create_app
from digest.web.service import WebService

if TYPE_CHECKING:
    from fastapi import FastAPI

    from digest.application import Application
    from digest.pipeline import Pipeline
    from digest.scheduler import EditionScheduler

log = logging.getLogger("digest.serve")


class SchedulerLifecycle(Lifecycle):
    """Syncs one job per subscriber schedule into the persistent job store, runs it, and
    stops it gracefully (a running edition finishes first).

    Subscribers change while the service runs (``digest subscribers import``, unsubscribes),
    so the jobs are synced again every ``resync_seconds``; each time the ``chores`` run too
    (warming the sign-up preview, resyncing profile imports when due), each on its own.
    """

    def __init__(
        self, scheduler: EditionScheduler, pipeline: Pipeline, *, resync_seconds: float = 60.0
    ) -> None:
        self.scheduler = scheduler
        self.pipeline = pipeline
        self.resync_seconds = resync_seconds
        self._stopping = threading.Event()
        self._resync: threading.Thread | None = None
        #: called at start and after every resync, each failure logged and left behind
        self.chores: list[Callable[[], object]] = []

    def sync(self) -> None:
        store = self.pipeline.store
        self.scheduler.sync(s.subscriber for s in store.subscribers(include_unsubscribed=False))

    def start(self) -> None:
        self.pipeline.sync_config_subscribers(utcnow())
        self.sync()  # digest.scheduler logs what changed
        self.scheduler.start()
        self._resync = threading.Thread(target=self._keep_in_sync, name="digest-resync")
        self._resync.daemon = True
        self._resync.start()

    def _keep_in_sync(self) -> None:
        self._chores()
        while not self._stopping.wait(self.resync_seconds):
            try:
                self.sync()
            except Exception:  # the database may be briefly unavailable: try again later
                log.exception("scheduler: syncing schedules failed")
            self._chores()

    def _chores(self) -> None:
        for chore in self.chores:
            if self._stopping.is_set():
                return
            try:
                chore()
            except Exception:
                log.exception("scheduler: %s failed", getattr(chore, "__qualname__", chore))

    def stop(self) -> None:
        self._stopping.set()
        if self._resync is not None:
            self._resync.join(10)
        self.scheduler.shutdown(wait=True)

    def status(self) -> dict[str, Any]:
        return {
            "running": self.scheduler.running,
            "jobs": [
                {"id": job_id, "next_run": None if when is None else when.isoformat()}
                for job_id, when in self.scheduler.jobs()
            ],
        }


def build_app(
    application: Application, *, scheduler: bool, resync_seconds: float = 60.0
) -> FastAPI:
    """The service's ASGI app over ``application``'s pipeline; with ``scheduler`` it also
    delivers editions on schedule (each run reads the config file again)."""
    pipeline = application.pipeline
    pipeline.sync_config_subscribers(utcnow())
    lifecycle: SchedulerLifecycle | None = None
    if scheduler:
        from digest.scheduler import EditionScheduler

        config_path = application.path.resolve() if application.path else None
        lifecycle = SchedulerLifecycle(
            EditionScheduler(database_url=application.loaded.database_url, config_path=config_path),
            pipeline,
            resync_seconds=resync_seconds,
        )
    service = WebService(pipeline, scheduler_status=lifecycle.status if lifecycle else None)
    if lifecycle is not None:
        from digest.store.retention import RetentionChore

        lifecycle.chores += [
            service.signup.warm,
            service.imports.resync_due,
            RetentionChore(pipeline.store, application.settings),
        ]
        mailbox = application.settings.bounces.mailbox
        if mailbox is not None:
            from digest.bounces.intake import book_for
            from digest.bounces.mailbox import MailboxPoller

            store, settings = pipeline.store, application.settings
            lifecycle.chores.append(MailboxPoller(mailbox, lambda: book_for(store, settings)))
    return create_app(service, lifecycle=lifecycle)
