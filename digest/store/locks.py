"""One run at a time per store: the run lock.

Two ``digest run`` started at the same moment (cron, and ``digest serve``'s scheduler firing)
must not open two editions for the same people. PostgreSQL: a session advisory lock, held by
one connection for the run and released if the process dies. SQLite: an exclusive ``flock``
on a file next to the database (SQLite is one machine's store). The second run waits, then
finds that nobody has anything new left.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa

from digest.store.sql import StorePart

log = logging.getLogger("digest.store")

#: the advisory lock of ``digest run``: one per store (schema), as stores may share a database
RUN_LOCK = "hashtext('digest run ' || current_schema())"


class LockStore(StorePart):
    """The run lock part of :class:`~digest.store.Store`."""

    @contextlib.contextmanager
    def run_lock(self, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold the store's run lock; ``on_wait`` is called once if another run holds it."""
        engine = self.engine
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                got = conn.execute(sa.text(f"SELECT pg_try_advisory_lock({RUN_LOCK})"))
                if not got.scalar():
                    if on_wait:
                        on_wait()
                    conn.execute(sa.text(f"SELECT pg_advisory_lock({RUN_LOCK})"))
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(sa.text(f"SELECT pg_advisory_unlock({RUN_LOCK})"))
                    conn.commit()
            return
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        if not database or database == ":memory:":
            yield
            return
        with Path(f"{database}.run-lock").open("a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait:
                    on_wait()
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
