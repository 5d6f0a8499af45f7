"""Subscribers (``subscribers``) and their feedback (``feedback``).

A subscriber's row keeps its settings as JSON (:func:`~digest.store.codecs.subscriber_to_json`)
next to what the pipeline tracks: where it came from (``config``, ``import``; ``removed``), the
watermark of the papers it has had, when its last edition was and whether it unsubscribed (an
unsubscribe always sticks). A removed subscriber who has deliveries is deactivated rather than
deleted, so the ledger's history stays whole. Feedback is "more/less like this" per paper and
"mute" per author; :func:`digest.pipeline.with_feedback` folds it into the profile.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from digest.models import Subscriber
from digest.store.codecs import email_key, subscriber_from_fields, subscriber_to_json
from digest.store.schema import FEEDBACK_KINDS, deliveries, feedback, subscribers, suppressions
from digest.store.sql import StorePart, aware, rows_in, utcnow


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredSubscriber:
    """A subscriber row: the record plus bookkeeping the pipeline needs."""

    id: int
    subscriber: Subscriber
    origin: str
    watermark: int
    unsubscribed: bool
    last_edition_at: dt.datetime | None
    #: ``pending`` (signed up, not confirmed), ``active``, ``unsubscribed`` or ``deleted``;
    #: only ``active`` subscribers get digests
    status: str = "active"
    created_at: dt.datetime | None = None
    #: when their address bounced (hard, or too many soft bounces): no email until they
    #: confirm again; their feeds keep working
    bounced_at: dt.datetime | None = None

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    @property
    def bounced(self) -> bool:
        return self.bounced_at is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackItem:
    """One recorded piece of feedback: ``kind`` is ``more``, ``less`` or ``mute``."""

    id: int
    paper_id: str
    kind: str
    detail: str
    created_at: dt.datetime


class SubscriberStore(StorePart):
    """The subscribers part of :class:`~digest.store.Store`."""

    def subscribers(self, *, include_unsubscribed: bool = True) -> list[StoredSubscriber]:
        query = sa.select(subscribers).order_by(subscribers.c.name)
        if not include_unsubscribed:  # those who get digests: neither pending nor gone
            query = query.where(
                subscribers.c.unsubscribed_at.is_(None), subscribers.c.status == "active"
            )
        with self.engine.connect() as conn:
            return [self._stored(r) for r in conn.execute(query)]

    # -- the fan-out: the list in chunks, never all of it in one process ------------------

    @staticmethod
    def _receiving() -> sa.ColumnElement[bool]:
        """Those who get digests: neither pending nor gone."""
        return sa.and_(subscribers.c.unsubscribed_at.is_(None), subscribers.c.status == "active")

    def _setting(self, key: str) -> sa.ColumnElement[Any]:
        """A subscriber setting (``schedule``, ``timezone``) read from the JSON by the database."""
        extracted: sa.ColumnElement[Any]
        if self.engine.dialect.name == "postgresql":
            extracted = sa.cast(subscribers.c.data, JSONB)[key].astext
        else:
            extracted = sa.func.json_extract(subscribers.c.data, f"$.{key}")
        return extracted

    def _chosen(
        self, names: Sequence[str] | None, slot: tuple[str, str] | None
    ) -> sa.ColumnElement[bool]:
        """Receiving subscribers, only these names and of this (schedule, timezone) slot."""
        where = self._receiving()
        if names is not None:
            where = sa.and_(where, subscribers.c.name.in_(list(names)))
        if slot is not None:
            schedule, timezone = slot
            where = sa.and_(
                where, self._setting("schedule") == schedule, self._setting("timezone") == timezone
            )
        return where

    def subscriber_ranges(
        self,
        size: int,
        *,
        names: Sequence[str] | None = None,
        slot: tuple[str, str] | None = None,
    ) -> list[tuple[int, int, int]]:
        """(first id, last id, how many) of consecutive runs of ``size`` receiving
        subscribers, in id order: the chunks of a run, computed by the database."""
        where = self._chosen(names, slot)
        numbered = (
            sa.select(
                subscribers.c.id,
                ((sa.func.row_number().over(order_by=subscribers.c.id) - 1) // size).label("n"),
            )
            .where(where)
            .subquery()
        )
        query = (
            sa.select(sa.func.min(numbered.c.id), sa.func.max(numbered.c.id), sa.func.count())
            .group_by(numbered.c.n)
            .order_by(sa.func.min(numbered.c.id))
        )
        with self.engine.connect() as conn:
            return [(int(a), int(b), int(n)) for a, b, n in conn.execute(query)]

    def receiving_between(
        self,
        first: int,
        last: int,
        *,
        names: Sequence[str] | None = None,
        slot: tuple[str, str] | None = None,
    ) -> list[StoredSubscriber]:
        """Receiving subscribers with ids in ``[first, last]``, read fresh (a chunk's)."""
        query = (
            sa.select(subscribers)
            .where(self._chosen(names, slot), subscribers.c.id.between(first, last))
            .order_by(subscribers.c.id)
        )
        with self.engine.connect() as conn:
            return [self._stored(r) for r in conn.execute(query)]

    def subscribers_by_id(self, ids: Sequence[int]) -> dict[int, StoredSubscriber]:
        with self.engine.connect() as conn:
            rows = rows_in(conn, sa.select(subscribers), subscribers.c.id, sorted(set(ids)))
            return {r.id: self._stored(r) for r in rows}

    def lowest_watermark(self) -> int | None:
        """The smallest watermark among receiving subscribers (``None``: nobody receives)."""
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.min(subscribers.c.watermark)).where(self._receiving())
            ).scalar()

    def profile_references(self) -> set[str]:
        """Every paper id receiving subscribers name as liked or disliked (in their settings
        or by "more/less like this" feedback), as written: gathered by the database."""
        dialect = self.engine.dialect.name
        texts: set[str] = set()
        receiving = "unsubscribed_at IS NULL AND status = 'active'"
        for key in ("liked", "disliked"):
            if dialect == "postgresql":
                sql = (
                    "SELECT DISTINCT jsonb_array_elements_text(CAST(data AS jsonb) -> :key) "
                    f"FROM subscribers WHERE {receiving}"
                )
            else:
                sql = (
                    "SELECT DISTINCT j.value FROM subscribers AS s, "
                    "json_each(s.data, '$.' || :key) AS j "
                    f"WHERE s.{receiving.replace(' AND ', ' AND s.')}"
                )
            with self.engine.connect() as conn:
                texts.update(str(v) for (v,) in conn.execute(sa.text(sql), {"key": key}))
        query = (
            sa.select(feedback.c.paper_id)
            .distinct()
            .join(subscribers, subscribers.c.id == feedback.c.subscriber_id)
            .where(feedback.c.kind.in_(("more", "less")), self._receiving())
        )
        with self.engine.connect() as conn:
            texts.update(r.paper_id for r in conn.execute(query))
        return texts

    @staticmethod
    def _stored(row: Any) -> StoredSubscriber:
        return StoredSubscriber(
            id=row.id,
            subscriber=subscriber_from_fields(row.name, json.loads(row.data)),
            origin=row.origin,
            watermark=row.watermark,
            unsubscribed=row.unsubscribed_at is not None,
            last_edition_at=aware(row.last_edition_at),
            status=row.status,
            created_at=aware(row.created_at),
            bounced_at=aware(row.bounced_at),
        )

    def unsubscribed_ids(self, ids: Sequence[int]) -> set[int]:
        """Which of ``ids`` have unsubscribed or are otherwise not active (read fresh:
        unsubscribe wins, I4)."""
        query = sa.select(subscribers.c.id).where(
            sa.or_(subscribers.c.unsubscribed_at.is_not(None), subscribers.c.status != "active")
        )
        with self.engine.connect() as conn:
            return {r.id for r in rows_in(conn, query, subscribers.c.id, list(ids))}

    def save_subscribers(
        self,
        items: Sequence[Subscriber],
        *,
        origin: str,
        now: dt.datetime,
        replace_origin: bool = False,
    ) -> None:
        """Insert or update subscribers by name in one transaction (all or nothing).

        With ``replace_origin``, subscribers of that origin missing from ``items`` are removed
        (used to mirror the config file); unsubscribes are always kept.
        """
        with self.engine.begin() as conn:
            # Only the rows this can touch (not the whole list on every run).
            columns = sa.select(
                subscribers.c.id, subscribers.c.name, subscribers.c.data, subscribers.c.origin
            )
            names = [sub.name for sub in items]
            current = {
                r.name: (r.id, r.data, r.origin)
                for r in rows_in(conn, columns, subscribers.c.name, names)
            }
            if replace_origin:
                current.update(
                    (r.name, (r.id, r.data, r.origin))
                    for r in conn.execute(columns.where(subscribers.c.origin == origin))
                )
            for sub in items:
                data = subscriber_to_json(sub)
                if sub.name in current:
                    sid, old, _ = current[sub.name]
                    if old != data:
                        conn.execute(
                            subscribers.update()
                            .where(subscribers.c.id == sid)
                            .values(data=data, origin=origin, email_key=email_key(sub.email))
                        )
                else:
                    conn.execute(
                        subscribers.insert().values(
                            name=sub.name,
                            data=data,
                            origin=origin,
                            created_at=now,
                            email_key=email_key(sub.email),
                        )
                    )
            if replace_origin:
                keep = {s.name for s in items}
                for name, (sid, _, row_origin) in current.items():
                    if row_origin == origin and name not in keep:
                        self._delete_subscriber(conn, sid)

    def remove_subscriber(self, name: str) -> StoredSubscriber | None:
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(subscribers).where(subscribers.c.name == name)).first()
            if row is None:
                return None
            stored = self._stored(row)
            self._delete_subscriber(conn, row.id)
            return stored

    @staticmethod
    def _delete_subscriber(conn: Connection, sid: int) -> None:
        # Keep the ledger's history intact: a removed subscriber is deactivated, not erased,
        # when it has deliveries; otherwise the row goes.
        used = conn.execute(
            sa.select(sa.func.count())
            .select_from(deliveries)
            .where(deliveries.c.subscriber_id == sid)
        ).scalar_one()
        if used:
            conn.execute(
                subscribers.update()
                .where(subscribers.c.id == sid)
                .values(origin="removed", unsubscribed_at=utcnow(), status="unsubscribed")
            )
        else:  # nothing to keep: an anonymous tombstone, so that the id is never reused
            from digest.store.signup import entomb

            conn.execute(feedback.delete().where(feedback.c.subscriber_id == sid))
            entomb(conn, [sid])

    def unsubscribe(self, subscriber_id: int, *, now: dt.datetime) -> bool:
        """Unsubscribe (idempotent); the address goes on the suppression list, so neither a
        re-import nor a sign-up under another name mails it until the person confirms."""
        with self.engine.begin() as conn:
            result = conn.execute(
                subscribers.update()
                .where(subscribers.c.id == subscriber_id, subscribers.c.unsubscribed_at.is_(None))
                .values(unsubscribed_at=now, status="unsubscribed")
            )
            changed = bool(result.rowcount)
            key = conn.execute(
                sa.select(subscribers.c.email_key).where(subscribers.c.id == subscriber_id)
            ).scalar()
            if changed and key:
                exists = conn.execute(
                    sa.select(suppressions.c.email_key).where(suppressions.c.email_key == key)
                ).first()
                if not exists:
                    conn.execute(
                        suppressions.insert().values(
                            email_key=key, reason="unsubscribed", at=now, detail=""
                        )
                    )
            return changed

    def subscriber(self, subscriber_id: int) -> StoredSubscriber | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(subscribers).where(subscribers.c.id == subscriber_id)
            ).first()
        return None if row is None else self._stored(row)

    # -- feedback ------------------------------------------------------------------------------

    def add_feedback(
        self, subscriber_id: int, paper_id: str, kind: str, *, detail: str = "", now: dt.datetime
    ) -> bool:
        """Record feedback; ``False`` if it was already there (recording is idempotent).

        ``more`` and ``less`` on the same paper replace each other; ``mute`` (``detail`` =
        the author's name) is kept once per author.
        """
        if kind not in FEEDBACK_KINDS:
            raise ValueError(f"unknown feedback kind {kind!r}")
        c = feedback.c
        with self.engine.begin() as conn:
            if kind == "mute":
                same = sa.and_(c.subscriber_id == subscriber_id, c.kind == kind, c.detail == detail)
            else:
                same = sa.and_(
                    c.subscriber_id == subscriber_id,
                    c.paper_id == paper_id,
                    c.kind.in_(("more", "less")),
                )
            existing = conn.execute(sa.select(c.kind).where(same)).scalars().all()
            if existing == [kind]:
                return False
            conn.execute(feedback.delete().where(same))
            conn.execute(
                feedback.insert().values(
                    subscriber_id=subscriber_id,
                    paper_id=paper_id,
                    kind=kind,
                    detail=detail,
                    created_at=now,
                )
            )
            return True

    def remove_feedback(self, subscriber_id: int, feedback_id: int) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                feedback.delete().where(
                    feedback.c.id == feedback_id, feedback.c.subscriber_id == subscriber_id
                )
            )
            return bool(result.rowcount)

    def feedback(self, subscriber_ids: Sequence[int]) -> dict[int, list[FeedbackItem]]:
        """Each subscriber's feedback, oldest first."""
        out: dict[int, list[FeedbackItem]] = {}
        query = sa.select(feedback).order_by(feedback.c.id)
        with self.engine.connect() as conn:
            for r in rows_in(conn, query, feedback.c.subscriber_id, list(subscriber_ids)):
                out.setdefault(r.subscriber_id, []).append(
                    FeedbackItem(
                        id=r.id,
                        paper_id=r.paper_id,
                        kind=r.kind,
                        detail=r.detail,
                        created_at=aware(r.created_at) or r.created_at,
                    )
                )
        return out
