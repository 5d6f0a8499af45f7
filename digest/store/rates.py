"""One send rate across every process and machine: slots handed out by the database.

A limiter named ``smtp.mail`` with a rate of 14 messages a second gives every worker process
(forked by ``digest run`` or on another machine using the same PostgreSQL) start times from one
sequence ``rate_limits.next_at``: a process reserves a few slots at a time with one atomic
``UPDATE … RETURNING`` (a row lock on PostgreSQL, the write lock on SQLite), so no two
messages anywhere share a slot and the whole list is sent at the configured rate, not at the
rate times the number of processes. Clocks are the machines' wall clocks (keep them in NTP).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from digest.store.schema import rate_limits
from digest.store.sql import StorePart

__all__ = ["RateStore", "SharedRate"]

#: reserved slots older than this (seconds) are dropped rather than used at once
STALE = 1.0


class SharedRate:
    """At most ``per_second`` :meth:`wait` returns per second across all its users."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        per_second: float,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.engine = engine
        self.name = name
        self.interval = 1.0 / per_second
        # Reserve about 0.2 s of slots per database round trip (at least one, at most 50).
        self.batch = max(1, min(50, int(per_second * 0.2)))
        self._clock = clock
        self._sleep = sleep
        self._slots: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self) -> float:
        """The next start time (epoch seconds) reserved for this process."""
        with self._lock:
            now = self._clock()
            while self._slots and self._slots[0] < now - STALE:
                self._slots.popleft()  # reserved before a pause and not used: not a burst

            if not self._slots:
                self._slots.extend(self._reserve(now))
            return self._slots.popleft()

    def wait(self) -> None:
        """Block until this process's next slot."""
        delay = self.take() - self._clock()
        if delay > 0:
            self._sleep(delay)

    def _reserve(self, now: float) -> list[float]:
        span = self.batch * self.interval
        r = rate_limits.c
        start = sa.case((r.next_at > now, r.next_at), else_=now)
        update = (
            rate_limits.update()
            .where(r.name == self.name)
            .values(next_at=start + span)
            .returning(r.next_at)
        )
        for _ in range(3):
            with self.engine.begin() as conn:
                end = conn.execute(update).scalar()
            if end is not None:
                first = float(end) - span
                return [first + i * self.interval for i in range(self.batch)]
            # The first use of this limit anywhere: create its row (another process may be
            # doing the same at this moment; then theirs is the row) and reserve again.
            try:
                with self.engine.begin() as conn:
                    conn.execute(rate_limits.insert().values(name=self.name, next_at=now))
            except sa.exc.IntegrityError:
                pass
        raise RuntimeError(f"rate limit {self.name}: could not reserve a slot")


class RateStore(StorePart):
    """Shared rate limits: ``store.rate_limiter(name, per_second)``."""

    def rate_limiter(self, name: str, per_second: float) -> SharedRate:
        return SharedRate(self.engine, name, per_second)
