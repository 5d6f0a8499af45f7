"""A per-process pool of SMTP connections and a messages-per-second limit, both thread-safe."""

from __future__ import annotations

import os
import threading
import time

from digest_smtp.client import Connection


class Pool:
    """At most ``size`` connections in use at once; idle ones are kept for reuse.

    :meth:`acquire` waits for a free slot and returns the most recently used idle connection
    (``None``: the caller opens one); :meth:`release` gives the slot back and keeps the
    connection if it is still usable. Connections are opened lazily, so a single-threaded
    caller only ever opens one.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.pid = os.getpid()
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def acquire(self) -> Connection | None:
        self._slots.acquire()
        with self._lock:
            return self._idle.pop() if self._idle else None

    def release(self, connection: Connection | None) -> None:
        try:
            if connection is not None:
                if connection.usable and not self._closed:
                    with self._lock:
                        self._idle.append(connection)
                else:
                    connection.close()
        finally:
            self._slots.release()

    def keep(self, connection: Connection) -> None:
        """Add a connection opened outside :meth:`acquire` (the one ``open()`` checks with)."""
        with self._lock:
            if len(self._idle) < self.size and not self._closed:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        """QUIT every idle connection. Only the process that made the pool may call this: a
        forked child shares the sockets and must drop its copy instead."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close(polite=True)


class RateLimiter:
    """At most ``rate`` acquisitions per second, evenly spaced (a token bucket of size one)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)
