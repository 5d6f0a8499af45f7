"""Profile imports (``profile_imports``): where a subscriber's liked papers came from.

One row per (subscriber, importer, ref): ``zotero`` + ``users/123456``, ``orcid`` + an iD.
``options`` is JSON: ``{"options": {...}, "papers": [...]}`` — the importer's options (never
a secret itself: ``api_key_env`` names the variable holding it) and the canonical ids this
import last added to the subscriber's ``liked``, so that a resync replaces exactly those.
``synced_at`` and ``error`` tell how the last sync went. :mod:`digest.importers` is the API.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from digest.store.schema import profile_imports, subscribers
from digest.store.sql import StorePart, aware


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredImport:
    """One recorded import, as :func:`digest.importers.sync_imports` re-runs it."""

    id: int
    subscriber_id: int
    subscriber: str
    importer: str
    ref: str
    options: Mapping[str, str]
    #: the canonical ids this import last added to the subscriber's liked papers
    papers: tuple[str, ...]
    created_at: dt.datetime
    synced_at: dt.datetime | None
    error: str | None


class ImportStore(StorePart):
    """The profile imports part of :class:`~digest.store.Store`."""

    def profile_imports(self, *, subscriber_id: int | None = None) -> list[StoredImport]:
        """Recorded imports (of one subscriber, or all), by subscriber name then id."""
        query = (
            sa.select(profile_imports, subscribers.c.name)
            .join(subscribers, subscribers.c.id == profile_imports.c.subscriber_id)
            .order_by(subscribers.c.name, profile_imports.c.id)
        )
        if subscriber_id is not None:
            query = query.where(profile_imports.c.subscriber_id == subscriber_id)
        with self.engine.connect() as conn:
            return [_stored(r) for r in conn.execute(query)]

    def save_profile_import(
        self,
        *,
        subscriber_id: int,
        importer: str,
        ref: str,
        options: Mapping[str, str],
        papers: Sequence[str],
        now: dt.datetime,
    ) -> None:
        """Record a successful import (or resync) and the ids it contributed."""
        data = json.dumps({"options": dict(options), "papers": list(papers)}, ensure_ascii=False)
        key = (
            (profile_imports.c.subscriber_id == subscriber_id)
            & (profile_imports.c.importer == importer)
            & (profile_imports.c.ref == ref)
        )
        with self.engine.begin() as conn:
            updated = conn.execute(
                profile_imports.update().where(key).values(options=data, synced_at=now, error=None)
            )
            if not updated.rowcount:
                conn.execute(
                    profile_imports.insert().values(
                        subscriber_id=subscriber_id,
                        importer=importer,
                        ref=ref,
                        options=data,
                        created_at=now,
                        synced_at=now,
                    )
                )

    def record_profile_import_error(self, import_id: int, error: str, *, now: dt.datetime) -> None:
        """Keep what went wrong in the last sync; what the import contributed stays."""
        with self.engine.begin() as conn:
            conn.execute(
                profile_imports.update()
                .where(profile_imports.c.id == import_id)
                .values(error=error, synced_at=now)
            )

    def remove_profile_import(self, import_id: int) -> bool:
        with self.engine.begin() as conn:
            gone = conn.execute(profile_imports.delete().where(profile_imports.c.id == import_id))
        return bool(gone.rowcount)


def _stored(row: Any) -> StoredImport:
    try:
        data = json.loads(row.options or "{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    options = data.get("options")
    papers = data.get("papers")
    return StoredImport(
        id=row.id,
        subscriber_id=row.subscriber_id,
        subscriber=row.name,
        importer=row.importer,
        ref=row.ref,
        options={str(k): str(v) for k, v in options.items()} if isinstance(options, dict) else {},
        papers=tuple(str(p) for p in papers) if isinstance(papers, list) else (),
        created_at=aware(row.created_at) or row.created_at,
        synced_at=aware(row.synced_at),
        error=row.error,
    )
