"""The scheduler of ``digest serve``: one persistent cron job per subscriber schedule.

Subscribers who share a crontab line and a timezone share a *slot*; each slot is one
APScheduler 3 job (id :func:`slot_id`) with a cron trigger in that timezone, stored in the
project's own database (table ``apscheduler_jobs``) so that it survives restarts. The job
calls :func:`run_slot` — by textual reference, which is what lets it be stored — and that runs
one cycle of the pipeline for the slot's subscribers with ``due_only``.

Why a restart neither loses nor duplicates an edition:

* A job already in the store is kept as it is by :meth:`EditionScheduler.sync`; re-adding it
  would compute a fresh ``next_run_time`` and silently drop a fire missed while the service
  was down.
* Jobs coalesce and have no misfire grace time: however many fires were missed, the first
  look at the store after a restart runs the slot exactly once, then moves it to its next fire.
* The run itself is idempotent: only due subscribers get a digest, and the ledger never sends
  a paper twice, so a run that comes twice (a manual ``digest run --due``, another instance)
  delivers nothing the second time.

Runs never overlap (one worker thread): SQLite takes one writer, and sources have rate limits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digest.models import RunReport, Subscriber
    from digest.pipeline import Pipeline

log = logging.getLogger("digest.scheduler")

#: the prefix of every job this module owns in the job store
JOB_PREFIX = "edition|"
#: the job function, by reference (jobs are pickled with this text, not with the function)
JOB_FUNC = "digest.scheduler:run_slot"
JOBS_TABLE = "apscheduler_jobs"


def _normal(schedule: str) -> str:
    return " ".join(schedule.split())


def slot_id(schedule: str, timezone: str) -> str:
    """The stable job id of a slot, e.g. ``edition|Europe/Berlin|0 7 * * 1-5``."""
    return f"{JOB_PREFIX}{timezone}|{_normal(schedule)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotRun:
    """One finished run of a slot, as told to :data:`RUN_LISTENERS`."""

    slot: str
    #: when the run started (UTC)
    started: dt.datetime
    #: the pipeline's report; ``None`` when the run failed or there was nobody to run for
    report: RunReport | None
    #: why the run failed, one line; ``None`` when it did not
    error: str | None = None


#: Called after every run of a slot (in the scheduler's worker thread), e.g. for a health
#: page. A listener that raises is logged and ignored.
RUN_LISTENERS: list[Callable[[SlotRun], None]] = []


def run_slot(config: str | None, schedule: str, timezone: str) -> None:
    """The job: one pipeline cycle for the active subscribers of this slot who are due.

    Never raises: a failing run is logged with the slot id, and the scheduler goes on to the
    next fire.
    """
    from digest.store import utcnow

    slot = slot_id(schedule, timezone)
    started = utcnow()
    clock = time.perf_counter()
    report: RunReport | None = None
    error: str | None = None
    try:
        report = _run(slot, config, schedule, timezone)
    except Exception as exc:
        from digest.errors import DigestError, describe

        error = describe(exc)
        # An expected failure (config, store) is one line; anything else gets its traceback.
        log.error("%s: run failed: %s", slot, error, exc_info=not isinstance(exc, DigestError))
    else:
        if report is not None:
            _log_summary(slot, report, time.perf_counter() - clock)
    run = SlotRun(slot=slot, started=started, report=report, error=error)
    for listener in list(RUN_LISTENERS):
        try:
            listener(run)
        except Exception:
            log.exception("%s: run listener %r failed", slot, listener)


def _run(slot: str, config: str | None, schedule: str, timezone: str) -> RunReport | None:
    from digest.application import Application
    from digest.pipeline import RunOptions
    from digest.store import utcnow

    with Application.from_path(Path(config) if config else None) as app:
        pipeline: Pipeline = app.pipeline
        # Subscribers from the config first, so that the slot's members are current.
        pipeline.sync_config_subscribers(utcnow())
        # The database finds the slot's subscribers, chunk by chunk: the list is never loaded
        # here. With the procrastinate backend the run returns once the chunks are queued.
        wanted = (_normal(schedule), timezone)
        return pipeline.run(RunOptions(slot=wanted, due_only=True, wait=False))


def _log_summary(slot: str, report: RunReport, seconds: float) -> None:
    edition = f" in edition {report.edition.id}" if report.edition is not None else ""
    level = logging.INFO if report.ok else logging.WARNING
    log.log(
        level,
        "%s: delivered %d%s, skipped %d, failed %d, problems %d (%.1f s)",
        slot,
        report.delivered,
        edition,
        len(report.skipped),
        len(report.failed),
        len(report.problems),
        seconds,
    )
    for name, reason in report.failed.items():
        log.warning("%s: failed for %s: %s", slot, name, reason)
    for problem in report.problems:
        log.warning("%s: problem in %s: %s", slot, problem.where, problem.message)


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncResult:
    """What :meth:`EditionScheduler.sync` did, by job id (each sorted)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    #: already scheduled: left as they were, next run time included
    kept: tuple[str, ...] = ()
    #: a schedule or timezone that no trigger can be made of (logged, not scheduled)
    invalid: tuple[str, ...] = ()


class EditionScheduler:
    """APScheduler's background scheduler with the jobs kept in the project's database.

    The job store is opened by the first :meth:`sync` or :meth:`jobs` (the scheduler is then
    started *paused*: the store is open, nothing runs); :meth:`start` begins running the jobs.
    An instance is started once; after :meth:`shutdown`, make a new one.
    Call ``sync`` before ``start`` so that a fire missed while the service was down is still
    there when the scheduler first looks, and runs once.
    """

    def __init__(self, *, database_url: str, config_path: Path | None) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        self.database_url = database_url
        #: what every job is given as ``config`` (absolute, so the working folder may change)
        self.config = str(config_path.resolve()) if config_path is not None else None
        engine_options: dict[str, Any] = {}
        if database_url.startswith("sqlite"):
            # Waits for the pipeline's writes instead of failing with "database is locked".
            engine_options["connect_args"] = {"timeout": 30}
        owner = self

        class JobStore(SQLAlchemyJobStore):  # type: ignore[misc]
            """The SQLAlchemy job store, noting when the scheduler last looked at it."""

            def get_due_jobs(self, now: dt.datetime) -> Any:
                jobs = super().get_due_jobs(now)
                owner._looking_at = now
                return jobs

            def get_next_run_time(self) -> Any:
                # Called once the due jobs of this look were handed to the worker.
                upcoming = super().get_next_run_time()
                owner._last_check = owner._looking_at
                return upcoming

        self._looking_at: dt.datetime | None = None
        self._last_check: dt.datetime | None = None
        self._scheduler: Any = BackgroundScheduler(
            jobstores={
                "default": JobStore(
                    url=database_url, tablename=JOBS_TABLE, engine_options=engine_options
                )
            },
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=dt.UTC,
        )
        self._lock = threading.RLock()
        self._closed = False

    # -- life cycle -------------------------------------------------------------------------

    def _open(self) -> None:
        """Start the scheduler paused (job store and worker ready, nothing runs) if needed."""
        from apscheduler.schedulers.base import STATE_STOPPED

        with self._lock:
            if self._closed:
                raise RuntimeError("this scheduler was shut down; make a new EditionScheduler")
            if self._scheduler.state == STATE_STOPPED:
                self._scheduler.start(paused=True)

    def start(self) -> None:
        """Run jobs from now on; a fire missed while stopped runs at once (only once)."""
        with self._lock:
            self._open()
            self._scheduler.resume()
        upcoming = ", ".join(
            f"{job_id} at {when:%Y-%m-%d %H:%M} UTC" for job_id, when in self.jobs() if when
        )
        log.info("scheduler started; next: %s", upcoming or "nothing scheduled")

    def shutdown(self, wait: bool = True) -> None:
        """Stop; with ``wait``, only after a running edition (and any queued one) finished."""
        with self._lock:
            self._closed = True
            if self._scheduler.running:
                self._scheduler.shutdown(wait=wait)
                log.info("scheduler stopped")

    @property
    def running(self) -> bool:
        """Whether jobs are being run (started and not stopped)."""
        from apscheduler.schedulers.base import STATE_RUNNING

        return bool(self._scheduler.state == STATE_RUNNING)

    @property
    def last_check(self) -> dt.datetime | None:
        """When the running scheduler last looked for due jobs (and started them); ``None``
        before its first look. It looks at each fire time, when jobs are added and on
        :meth:`wakeup`.
        """
        return self._last_check

    def wakeup(self) -> None:
        """Look at the jobs now (e.g. after the clock jumped) instead of at the next fire."""
        if self.running:
            self._scheduler.wakeup()

    # -- jobs -------------------------------------------------------------------------------

    def jobs(self) -> list[tuple[str, dt.datetime | None]]:
        """Every job in the store as (id, next run time), soonest first."""
        self._open()
        found = [(job.id, job.next_run_time) for job in self._scheduler.get_jobs()]
        never = dt.datetime.max.replace(tzinfo=dt.UTC)
        return sorted(found, key=lambda item: (item[1] or never, item[0]))

    def sync(self, subscribers: Iterable[Subscriber]) -> SyncResult:
        """Make the jobs match the active subscribers' (schedule, timezone) slots.

        Existing jobs of wanted slots are kept untouched (their next run time included), slot
        jobs nobody wants any more are removed, new slots are added. Jobs of other owners
        (ids without :data:`JOB_PREFIX`) are left alone.
        """
        from apscheduler.jobstores.base import ConflictingIdError, JobLookupError

        from digest.cron import cron_trigger

        wanted: dict[str, tuple[str, str]] = {}
        for subscriber in subscribers:
            if subscriber.active:
                schedule = _normal(subscriber.schedule)
                wanted.setdefault(
                    slot_id(schedule, subscriber.timezone), (schedule, subscriber.timezone)
                )
        added: list[str] = []
        removed: list[str] = []
        kept: list[str] = []
        invalid: list[str] = []
        with self._lock:
            self._open()
            existing = {
                job.id: job
                for job in self._scheduler.get_jobs()
                if str(job.id).startswith(JOB_PREFIX)
            }
            for job_id in sorted(existing.keys() - wanted.keys()):
                with contextlib.suppress(JobLookupError):  # removed meanwhile (elsewhere)
                    self._scheduler.remove_job(job_id)
                removed.append(job_id)
            for job_id, (schedule, timezone) in sorted(wanted.items()):
                kwargs = {"config": self.config, "schedule": schedule, "timezone": timezone}
                job = existing.get(job_id)
                if job is not None:
                    if dict(job.kwargs) != kwargs:  # e.g. served with another --config
                        self._scheduler.modify_job(job_id, kwargs=kwargs)  # keeps next run
                    kept.append(job_id)
                    continue
                try:
                    trigger = cron_trigger(schedule, timezone)
                except (ValueError, KeyError) as error:  # ZoneInfoNotFoundError is a KeyError
                    log.warning("%s: not scheduled: %s", job_id, error)
                    invalid.append(job_id)
                    continue
                try:
                    self._scheduler.add_job(
                        JOB_FUNC,
                        trigger=trigger,
                        id=job_id,
                        name=f"edition at {schedule} ({timezone})",
                        kwargs=kwargs,
                        replace_existing=False,
                    )
                except ConflictingIdError:  # added meanwhile (another instance): theirs stays
                    kept.append(job_id)
                    continue
                added.append(job_id)
        result = SyncResult(
            added=tuple(added), removed=tuple(removed), kept=tuple(kept), invalid=tuple(invalid)
        )
        if added or removed:
            log.info(
                "jobs synced: %d added, %d removed, %d kept", len(added), len(removed), len(kept)
            )
        return result
