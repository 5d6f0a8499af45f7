"""The store: papers, subscribers, source state and the tables the ledger owns.

SQLAlchemy 2 Core over SQLite (default, a file under the state dir) or PostgreSQL (by URL).
The schema is created and upgraded by Alembic migrations (``digest/migrations``); the
``Table`` objects in :mod:`~digest.store.schema` mirror them for queries.

:class:`Store` (one per process) is composed of one part per area, mixins over its engine:

* :mod:`~digest.store.papers` — papers, the sources that saw them, per-paper features;
* :mod:`~digest.store.subscribers` — subscribers and their feedback;
* :mod:`~digest.store.signup` — pending sign-ups, self-service edits and erasure, the
  sign-up log and run-time site settings;
* :mod:`~digest.store.sources` — source state, runs and health.

They share :mod:`~digest.store.codecs` (records ⇄ the JSON stored) and
:mod:`~digest.store.sql` (helpers :mod:`digest.ledger` uses too for the ledger's tables,
``editions``, ``selections`` and ``deliveries``). Import from here what is listed in
``__all__``: ``from digest.store import Store, StoredSubscriber, utcnow``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from digest.errors import StoreError
from digest.store import schema
from digest.store.bounces import BounceStore
from digest.store.codecs import (
    FROM_FEEDBACK,
    SUBSCRIBER_FIELDS,
    merge_papers,
    paper_from_json,
    paper_to_json,
    subscriber_from_fields,
    subscriber_to_json,
    subscriber_values,
)
from digest.store.imports import ImportStore
from digest.store.locks import LockStore
from digest.store.papers import PaperStore, UpsertResult
from digest.store.rates import RateStore
from digest.store.schema import (
    FEEDBACK_KINDS,
    LIBRARY_SOURCE,
    deliveries,
    editions,
    feedback,
    metadata,
    paper_features,
    paper_sources,
    selections,
    source_runs,
    source_state,
)
from digest.store.signup import SignupEvent, SignupStore
from digest.store.sources import SourceHealth, SourceStore
from digest.store.sql import aware, execute_many, iter_chunks, sqlite_pragmas, utcnow
from digest.store.subscribers import FeedbackItem, StoredSubscriber, SubscriberStore

__all__ = [
    "FEEDBACK_KINDS",
    "FROM_FEEDBACK",
    "LIBRARY_SOURCE",
    "SUBSCRIBER_FIELDS",
    "FeedbackItem",
    "SignupEvent",
    "SourceHealth",
    "Store",
    "StoredSubscriber",
    "UpsertResult",
    "aware",
    "deliveries",
    "editions",
    "execute_many",
    "feedback",
    "iter_chunks",
    "merge_papers",
    "metadata",
    "paper_features",
    "paper_from_json",
    "paper_sources",
    "paper_to_json",
    "papers",
    "selections",
    "source_runs",
    "source_state",
    "subscriber_from_fields",
    "subscriber_to_json",
    "subscriber_values",
    "subscribers",
    "utcnow",
]


class Store(
    PaperStore,
    SubscriberStore,
    SignupStore,
    SourceStore,
    ImportStore,
    BounceStore,
    RateStore,
    LockStore,
):
    """Access to the database; one per process. Use :meth:`open` to create and migrate."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # One probe per process: several processes may open the store at once.
                probe = path.parent / f".digest-write-test-{os.getpid()}-{threading.get_ident()}"
                probe.write_bytes(b"")
                probe.unlink(missing_ok=True)
            except OSError as error:
                raise StoreError(
                    f"state directory {path.parent} is not writable: {error.strerror or error}"
                ) from None
        try:
            engine = sa.create_engine(url, future=True)
        except Exception as error:
            raise StoreError(f"database URL {url!r}: {error}") from None
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", sqlite_pragmas)
        store = cls(engine)
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> None:
        from digest.migrations import upgrade

        try:
            with self.engine.begin() as conn:
                upgrade(conn)
        except sa.exc.OperationalError as error:
            raise StoreError(f"database {self.engine.url!r}: {error.orig}") from None

    def close(self) -> None:
        self.engine.dispose()

    def begin(self) -> Any:
        return self.engine.begin()


# Importing the submodules ``papers`` and ``subscribers`` above bound those names here to the
# modules; ``from digest.store import papers, subscribers`` means the tables, as it always has.
papers = schema.papers
subscribers = schema.subscribers
