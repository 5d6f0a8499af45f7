"""Retention: old ledger rows and old bounce events pruned in bounded batches.

``[retention] ledger_days`` (default 400) removes the ``selections`` and ``deliveries`` of
*complete* editions created longer ago than that, then the ``editions`` rows themselves;
``bounce_events_days`` (default 180) removes recorded bounces and complaints. ``0`` keeps
them for ever. What is never touched:

* an edition that is not ``complete`` (open or paused): its ``claimed`` rows are what a
  resumed run re-delivers with the same Message-ID (I1, I2);
* the subscribers' watermarks: they are what keeps a paper from being sent twice once the
  selections that recorded it are gone (:meth:`~digest.ledger.Ledger.already_selected` is only
  the safety net above the watermark, and ``ledger_days`` must exceed ``[digest]
  lookback_days`` so that it stays whole: no pruned paper is a candidate again);
* the suppression list and the subscribers' bounced state (a pruned bounce keeps its effect).

Each statement deletes one edition's rows for a range of :attr:`Retention.batch` subscriber
ids (at most ``batch × max_items`` selections), or up to ``batch`` bounce events, in its own
transaction, so no statement holds millions of row locks and a crash loses nothing: the next
prune goes on where this one stopped. Works on SQLite and PostgreSQL. ``digest prune`` runs
it; :class:`RetentionChore` is the once-a-day ``digest serve`` chore.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.errors import DigestError
from digest.store.schema import bounce_events, deliveries, editions, selections
from digest.store.sql import utcnow
from digest.text import plural

if TYPE_CHECKING:
    from digest.config import Settings
    from digest.store import Store

log = logging.getLogger("digest.retention")

#: subscriber ids per statement when deleting an edition's rows; bounce events per statement
BATCH = 2_000
#: the only edition status whose rows may go
COMPLETE = "complete"


@dataclass(frozen=True, slots=True, kw_only=True)
class Pruned:
    """What one prune removed (or, in a dry run, would remove), per table."""

    ledger_days: int
    bounce_events_days: int
    editions: int = 0
    selections: int = 0
    deliveries: int = 0
    bounce_events: int = 0
    dry_run: bool = False
    #: ``False`` when the deadline stopped it between two batches: the rest goes next time
    finished: bool = True

    def summary(self) -> str:
        """One line: "Pruned 12 editions older than 400 days: 1,234,000 selections, 123,400
        deliveries; 5,600 bounce events older than 180 days." """
        verb = "Would prune" if self.dry_run else "Pruned"
        if self.ledger_days:
            ledger = (
                f"{verb} {counted(self.editions, 'edition')} older than "
                f"{counted(self.ledger_days, 'day')}: {counted(self.selections, 'selection')}, "
                f"{counted(self.deliveries, 'delivery')}"
            )
        else:
            ledger = "Kept every edition ([retention] ledger_days = 0)"
        if self.bounce_events_days:
            events = counted(self.bounce_events, "bounce event")
            days = counted(self.bounce_events_days, "day")
            lead = "" if self.ledger_days else f"{verb.lower()} "
            bounces = f"{lead}{events} older than {days}"
        else:
            bounces = "kept every bounce event ([retention] bounce_events_days = 0)"
        rest = "" if self.finished else " (stopped early: the rest goes next time)"
        return f"{ledger}; {bounces}{rest}."


def counted(n: int, noun: str) -> str:
    """:func:`~digest.text.plural` with the thousands grouped: ``1,234,000 selections``."""
    return f"{n:,} {plural(n, noun).partition(' ')[2]}"


class Retention:
    """Prunes the ledger and the bounce log of one store (see the module's documentation)."""

    def __init__(
        self, store: Store, *, ledger_days: int, bounce_events_days: int, batch: int = BATCH
    ) -> None:
        if ledger_days < 0 or bounce_events_days < 0 or batch < 1:
            raise ValueError("retention days must be 0 or more and the batch at least 1")
        self.store = store
        self.ledger_days = ledger_days
        self.bounce_events_days = bounce_events_days
        self.batch = batch

    @classmethod
    def from_settings(cls, store: Store, settings: Settings, *, batch: int = BATCH) -> Retention:
        """The retention ``[retention]`` asks for, checked against what depends on old rows."""
        check(settings)
        r = settings.retention
        return cls(
            store,
            ledger_days=r.ledger_days,
            bounce_events_days=r.bounce_events_days,
            batch=batch,
        )

    # -- what is old -------------------------------------------------------------------------

    @staticmethod
    def _cutoff(days: int, now: dt.datetime) -> dt.datetime | None:
        return now - dt.timedelta(days=days) if days else None

    def old_editions(self, now: dt.datetime) -> list[str]:
        """Complete editions created before the ledger's cutoff, oldest first."""
        cutoff = self._cutoff(self.ledger_days, now)
        if cutoff is None:
            return []
        query = (
            sa.select(editions.c.id)
            .where(editions.c.status == COMPLETE, editions.c.created_at < cutoff)
            .order_by(editions.c.created_at, editions.c.id)
        )
        with self.store.engine.connect() as conn:
            return [r.id for r in conn.execute(query)]

    # -- pruning -------------------------------------------------------------------------------

    def prune(
        self,
        *,
        now: dt.datetime | None = None,
        dry_run: bool = False,
        deadline: float | None = None,
    ) -> Pruned:
        """Prune what is older than the cutoffs (``dry_run``: count it, delete nothing).

        ``deadline`` (a :func:`time.monotonic` value) stops between two batches once passed
        (after one batch at least); the result then says ``finished=False`` and a later call
        goes on where this one stopped.
        """
        now = now or utcnow()
        done = Pruned(
            ledger_days=self.ledger_days,
            bounce_events_days=self.bounce_events_days,
            dry_run=dry_run,
        )
        if dry_run:
            return self._count(done, now)
        done = self._prune_editions(done, now, deadline)
        if done.finished:
            done = self._prune_bounce_events(done, now, deadline)
        return done

    def _count(self, done: Pruned, now: dt.datetime) -> Pruned:
        old = self.old_editions(now)
        cutoff = self._cutoff(self.bounce_events_days, now)
        with self.store.engine.connect() as conn:
            picks = sum(_count_rows(conn, selections, e) for e in old)
            sent = sum(_count_rows(conn, deliveries, e) for e in old)
            events = 0
            if cutoff is not None:
                query = sa.select(sa.func.count()).where(bounce_events.c.at < cutoff)
                events = int(conn.execute(query).scalar_one())
        return replace(
            done, editions=len(old), selections=picks, deliveries=sent, bounce_events=events
        )

    def _prune_editions(self, done: Pruned, now: dt.datetime, deadline: float | None) -> Pruned:
        cutoff = self._cutoff(self.ledger_days, now)
        if cutoff is None:
            return done
        for n, edition_id in enumerate(self.old_editions(now)):
            if n and _past(deadline):
                return replace(done, finished=False)
            picks, sent, finished = self._prune_edition_rows(edition_id, cutoff, deadline)
            done = replace(
                done, selections=done.selections + picks, deliveries=done.deliveries + sent
            )
            if not finished:
                return replace(done, finished=False)
            with self.store.begin() as conn:
                gone = conn.execute(
                    editions.delete().where(
                        _old_and_complete(edition_id, cutoff),
                        ~sa.exists().where(selections.c.edition_id == edition_id),
                        ~sa.exists().where(deliveries.c.edition_id == edition_id),
                    )
                ).rowcount
            done = replace(done, editions=done.editions + gone)
        return done

    def _prune_edition_rows(
        self, edition_id: str, cutoff: dt.datetime, deadline: float | None
    ) -> tuple[int, int, bool]:
        """Delete the edition's selections and deliveries, ``batch`` subscriber ids at a time
        (both tables in one transaction per range: a subscriber's pick and its delivery go
        together); ``(selections, deliveries, finished)``."""
        picks = sent = 0
        start = self._next_subscriber(edition_id, None)
        first = True
        while start is not None:
            if not first and _past(deadline):  # one batch at least: each call progresses
                return picks, sent, False
            first = False
            end = start + self.batch
            with self.store.begin() as conn:
                picks += _delete_range(conn, selections, edition_id, start, end, cutoff)
                sent += _delete_range(conn, deliveries, edition_id, start, end, cutoff)
            start = self._next_subscriber(edition_id, end)
        return picks, sent, True

    def _next_subscriber(self, edition_id: str, at_least: int | None) -> int | None:
        """The lowest subscriber id ≥ ``at_least`` with a row in the edition (one index
        lookup per table: sparse ids cost no empty batches)."""
        found: list[int] = []
        with self.store.engine.connect() as conn:
            for table in (selections, deliveries):
                query = sa.select(sa.func.min(table.c.subscriber_id)).where(
                    table.c.edition_id == edition_id
                )
                if at_least is not None:
                    query = query.where(table.c.subscriber_id >= at_least)
                low = conn.execute(query).scalar()
                if low is not None:
                    found.append(int(low))
        return min(found, default=None)

    def _prune_bounce_events(
        self, done: Pruned, now: dt.datetime, deadline: float | None
    ) -> Pruned:
        """Delete bounce events before the cutoff, the ``batch`` lowest ids at a time."""
        cutoff = self._cutoff(self.bounce_events_days, now)
        if cutoff is None:
            return done
        e = bounce_events.c
        while True:
            oldest = (
                sa.select(e.id).where(e.at < cutoff).order_by(e.id).limit(self.batch).subquery()
            )
            with self.store.begin() as conn:
                last = conn.execute(sa.select(sa.func.max(oldest.c.id))).scalar()
                if last is None:
                    return done
                deleted = conn.execute(
                    bounce_events.delete().where(e.id <= last, e.at < cutoff)
                ).rowcount
            done = replace(done, bounce_events=done.bounce_events + deleted)
            if _past(deadline):
                return replace(done, finished=False)


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def _old_and_complete(edition_id: str, cutoff: dt.datetime) -> sa.ColumnElement[bool]:
    """The edition is complete and older than the cutoff: checked again by every delete, so
    nothing of an open or paused edition can go, whatever happened since it was listed."""
    return sa.and_(
        editions.c.id == edition_id,
        editions.c.status == COMPLETE,
        editions.c.created_at < cutoff,
    )


def _delete_range(
    conn: Connection, table: sa.Table, edition_id: str, start: int, end: int, cutoff: dt.datetime
) -> int:
    """Delete the edition's rows of ``table`` for subscriber ids in ``[start, end)``."""
    guard = sa.exists().where(_old_and_complete(edition_id, cutoff))
    deleted = conn.execute(
        table.delete().where(
            table.c.edition_id == edition_id,
            table.c.subscriber_id >= start,
            table.c.subscriber_id < end,
            guard,
        )
    )
    return int(deleted.rowcount)


def _count_rows(conn: Connection, table: sa.Table, edition_id: str) -> int:
    query = sa.select(sa.func.count()).select_from(table).where(table.c.edition_id == edition_id)
    return int(conn.execute(query).scalar_one())


def edition_time(edition_id: str) -> dt.datetime | None:
    """When an edition was opened, read from its id (``20261122T003336Z-5b6330``)."""
    try:
        return dt.datetime.strptime(edition_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def beyond_retention(edition_id: str, ledger_days: int, now: dt.datetime) -> bool:
    """Whether an edition of that id is older than ``ledger_days`` (so it may be pruned)."""
    opened = edition_time(edition_id)
    return (
        bool(ledger_days) and opened is not None and opened < now - dt.timedelta(days=ledger_days)
    )


def check(settings: Settings) -> None:
    """Raise a one-line :class:`~digest.errors.DigestError` for a retention shorter than
    what reads the old rows: the lookback (the no-repeat safety net) and the soft-bounce
    window."""
    r = settings.retention
    lookback = settings.digest.lookback_days
    if r.ledger_days and r.ledger_days <= lookback:
        raise DigestError(
            f"[retention] ledger_days = {r.ledger_days} must be 0 or more than [digest] "
            f"lookback_days = {lookback}: selections younger than the lookback are what keeps "
            "a paper from being sent twice should a watermark be reset"
        )
    soft_days = settings.bounces.soft_days
    if r.bounce_events_days and r.bounce_events_days < soft_days:
        raise DigestError(
            f"[retention] bounce_events_days = {r.bounce_events_days} must be 0 or at least "
            f"[bounces] soft_days = {soft_days}: soft bounces are counted over that window"
        )


class RetentionChore:
    """The ``digest serve`` chore: prunes at most once per ``every`` (a day), the last run
    kept in memory (a restart prunes once at start, which is cheap when nothing is old).

    Each call works for at most ``budget_seconds``, so the chore runner's other chores (the
    schedule resync) are never held up for long; an unfinished prune goes on at the next
    call instead of waiting a day. Problems are raised for the chore runner to log, and the
    next attempt waits a day.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        every: dt.timedelta = dt.timedelta(days=1),
        budget_seconds: float = 30.0,
        batch: int = BATCH,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.store = store
        self.batch = batch
        self.settings = settings
        self.every = every
        self.budget_seconds = budget_seconds
        self._now = now
        self._next: dt.datetime | None = None
        self._lock = threading.Lock()
        #: what the last prune did (for logs and the operator page)
        self.last: Pruned | None = None

    def __call__(self) -> Pruned | None:
        """Prune when due; ``None`` when it was not time (or another call is pruning)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            now = self._now()
            if self._next is not None and now < self._next:
                return None
            self._next = now + self.every
            retention = Retention.from_settings(self.store, self.settings, batch=self.batch)
            done = retention.prune(now=now, deadline=time.monotonic() + self.budget_seconds)
            if not done.finished:
                self._next = now  # more to do: go on at the next call
            self.last = done
            log.info("retention: %s", done.summary())
            return done
        finally:
            self._lock.release()
