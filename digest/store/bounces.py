"""Bounces and the suppression list: each bounce recorded once, with what it did to the
subscriber, in the same transaction (a crash never records a bounce without its effect, nor
an effect twice).

* hard bounce → the subscriber is ``bounced`` (``bounced_at``; no more email until they
  confirm again) and the address is suppressed;
* soft bounce → counted; soft bounces for ``soft_limit`` different editions within
  ``soft_days`` make a hard one (several for one message count once);
* complaint → unsubscribed at once, the address suppressed;
* anything else → recorded as ignored, with why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.store.schema import bounce_events, deliveries, subscribers, suppressions
from digest.store.sql import StorePart, aware, rows_in


@dataclass(frozen=True, slots=True, kw_only=True)
class BounceRow:
    """One notice, resolved (or not) to a subscriber and an edition, ready to record."""

    key: str
    at: dt.datetime
    origin: str
    kind: str
    subscriber_id: int | None
    edition_id: str | None
    domain: str | None
    status: str | None
    detail: str
    #: why it changes nothing, when it does not (no such message, a bad return path …)
    ignored: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BounceCount:
    """Bounce events of one edition or one recipient domain, by kind."""

    name: str
    hard: int = 0
    soft: int = 0
    complaints: int = 0
    ignored: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Suppression:
    email_key: str
    reason: str
    at: dt.datetime


class BounceStore(StorePart):
    """The bounces part of :class:`~digest.store.Store`."""

    def record_bounce(self, row: BounceRow, *, soft_limit: int, soft_days: int) -> str | None:
        """Record one bounce and apply it; its outcome, or ``None`` if it was recorded before.

        Outcomes: ``bounced``, ``counted`` (a soft bounce under the limit), ``unsubscribed``,
        ``already bounced`` / ``already unsubscribed``, or ``ignored: <why>``.
        """
        with self.engine.begin() as conn:
            if conn.execute(
                sa.select(bounce_events.c.id).where(bounce_events.c.key == row.key)
            ).first():
                return None
            outcome = row.ignored and f"ignored: {row.ignored}"
            if outcome is None:
                assert row.subscriber_id is not None
                outcome = self._apply(conn, row, soft_limit=soft_limit, soft_days=soft_days)
            conn.execute(
                bounce_events.insert().values(
                    key=row.key[:400],
                    at=row.at,
                    origin=row.origin[:20],
                    kind=row.kind[:20],
                    subscriber_id=row.subscriber_id,
                    edition_id=row.edition_id,
                    domain=(row.domain or None) and row.domain[:255],
                    status=(row.status or None) and row.status[:20],
                    outcome=outcome[:60],
                    detail=row.detail[:500],
                )
            )
            return outcome

    def _apply(self, conn: Connection, row: BounceRow, *, soft_limit: int, soft_days: int) -> str:
        sid = row.subscriber_id
        current = conn.execute(
            sa.select(
                subscribers.c.status, subscribers.c.bounced_at, subscribers.c.email_key
            ).where(subscribers.c.id == sid)
        ).first()
        if current is None:
            return "ignored: the subscriber was deleted"
        if row.kind == "complaint":
            if current.status == "unsubscribed":
                return "already unsubscribed"
            conn.execute(
                subscribers.update()
                .where(subscribers.c.id == sid)
                .values(status="unsubscribed", unsubscribed_at=row.at)
            )
            self._suppress(conn, current.email_key, "complaint", row.at, row.detail)
            return "unsubscribed"
        if current.bounced_at is not None:
            return "already bounced"
        if row.kind == "soft":
            # Soft bounces count per message (edition): several for one slow message (an
            # ESP's retries) are one.
            since = row.at - dt.timedelta(days=soft_days)
            editions = {
                r.edition_id
                for r in conn.execute(
                    sa.select(bounce_events.c.edition_id)
                    .where(
                        bounce_events.c.subscriber_id == sid,
                        bounce_events.c.kind == "soft",
                        bounce_events.c.at > since,
                    )
                    .distinct()
                )
            }
            if len(editions | {row.edition_id}) < soft_limit:
                return "counted"
        conn.execute(subscribers.update().where(subscribers.c.id == sid).values(bounced_at=row.at))
        reason = (
            "bounced" if row.kind == "hard" else f"bounced (soft bounces in {soft_limit} editions)"
        )
        self._suppress(conn, current.email_key, "bounced", row.at, row.detail)
        return reason

    @staticmethod
    def _suppress(
        conn: Connection, key: str | None, reason: str, at: dt.datetime, detail: str
    ) -> None:
        if not key:
            return
        conn.execute(suppressions.delete().where(suppressions.c.email_key == key))
        conn.execute(
            suppressions.insert().values(email_key=key, reason=reason, at=at, detail=detail[:500])
        )

    def suppress(self, key: str | None, reason: str, *, now: dt.datetime) -> None:
        """Put an address on the suppression list (an unsubscribe)."""
        with self.engine.begin() as conn:
            self._suppress(conn, key, reason, now, "")

    def lift_suppression(self, key: str | None) -> None:
        """The person confirmed again: their address may be mailed."""
        if key:
            with self.engine.begin() as conn:
                conn.execute(suppressions.delete().where(suppressions.c.email_key == key))

    def suppressed(self, keys: Sequence[str]) -> dict[str, Suppression]:
        """Which of these (folded) addresses are suppressed, and why (asked in chunks: an
        import of 100,000 lines is beyond a database's bound-parameter limit in one query)."""
        wanted = sorted({k for k in keys if k})
        with self.engine.connect() as conn:
            rows = list(rows_in(conn, sa.select(suppressions), suppressions.c.email_key, wanted))
        return {
            r.email_key: Suppression(email_key=r.email_key, reason=r.reason, at=aware(r.at))  # type: ignore[arg-type]
            for r in rows
        }

    def latest_email(self, subscriber_id: int) -> str | None:
        """The newest edition whose email was sent to the subscriber, if any."""
        d = deliveries.c
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(d.edition_id)
                .where(d.subscriber_id == subscriber_id, d.channel == "email", d.status == "sent")
                .order_by(d.edition_id.desc())
                .limit(1)
            ).first()
        return str(row.edition_id) if row else None

    def suppression_count(self) -> int:
        with self.engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(suppressions)
            return int(conn.execute(query).scalar_one())

    def delivered_email(self, edition: str, subscriber_id: int) -> str | None:
        """The edition id (as stored) if that subscriber was sent that edition's email; the
        edition may be given in lower case (a return path)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(deliveries.c.edition_id).where(
                    sa.func.lower(deliveries.c.edition_id) == edition.lower(),
                    deliveries.c.subscriber_id == subscriber_id,
                    deliveries.c.channel == "email",
                )
            ).first()
        return str(row.edition_id) if row else None

    def bounce_counts(
        self, *, by: str, since: dt.datetime | None = None, limit: int = 20
    ) -> list[BounceCount]:
        """Counts per ``by`` = "edition" or "domain", most bounces first."""
        column = bounce_events.c.edition_id if by == "edition" else bounce_events.c.domain
        e = bounce_events.c
        ignored = e.outcome.like("ignored%")
        query = (
            sa.select(
                column.label("name"),
                sa.func.sum(sa.case((sa.and_(e.kind == "hard", ~ignored), 1), else_=0)),
                sa.func.sum(sa.case((sa.and_(e.kind == "soft", ~ignored), 1), else_=0)),
                sa.func.sum(sa.case((sa.and_(e.kind == "complaint", ~ignored), 1), else_=0)),
                sa.func.sum(sa.case((ignored, 1), else_=0)),
            )
            .where(column.is_not(None))
            .group_by(column)
        )
        if since is not None:
            query = query.where(e.at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        counts = [
            BounceCount(
                name=str(r[0]),
                hard=int(r[1] or 0),
                soft=int(r[2] or 0),
                complaints=int(r[3] or 0),
                ignored=int(r[4] or 0),
            )
            for r in rows
        ]
        key = (
            (lambda c: c.name) if by == "edition" else (lambda c: -(c.hard + c.soft + c.complaints))
        )
        counts.sort(key=key, reverse=by == "edition")
        return counts[:limit]

    def bounce_events(self, *, limit: int = 50) -> list[dict[str, object]]:
        """The latest bounce events, newest first, as plain rows (no addresses: domains)."""
        e = bounce_events.c
        query = (
            sa.select(
                e.at,
                e.origin,
                e.kind,
                e.edition_id,
                e.domain,
                e.status,
                e.outcome,
                e.detail,
                subscribers.c.name,
            )
            .select_from(bounce_events.outerjoin(subscribers, subscribers.c.id == e.subscriber_id))
            .order_by(e.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                {**r._asdict(), "at": aware(r.at), "subscriber": r.name}
                for r in conn.execute(query)
            ]

    def ignored_bounces(self, *, since: dt.datetime | None = None) -> int:
        e = bounce_events.c
        query = sa.select(sa.func.count()).where(e.outcome.like("ignored%"))
        if since is not None:
            query = query.where(e.at >= since)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
