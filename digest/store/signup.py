"""The front door's data: pending sign-ups, confirmation, self-service edits, erasure, the
sign-up log and the settings the operator changes at run time.

A web sign-up is a subscriber row with status ``pending`` (origin ``web``): it never gets a
digest (the runs read only ``active`` rows) and is purged once ``confirm_within_days`` pass.
Deleting a subscriber ("delete me") erases the profile, feedback, selections and imports but
keeps the row as an anonymous tombstone: the ledger's delivery rows still point at it, so
exactly-once holds and the counts stay whole.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.models import Subscriber
from digest.store.codecs import email_key, subscriber_to_json
from digest.store.schema import (
    feedback,
    profile_imports,
    selections,
    signup_log,
    site_settings,
    subscribers,
    suppressions,
)
from digest.store.sql import StorePart, aware


@dataclass(frozen=True, slots=True, kw_only=True)
class SignupEvent:
    """One line of the sign-up log: no address, only its domain."""

    at: dt.datetime
    event: str
    subscriber: str | None
    domain: str | None
    detail: str


def entomb(conn: Connection, ids: Sequence[int]) -> None:
    """Make subscriber rows anonymous tombstones instead of deleting them: an id is never
    used twice (SQLite would hand a deleted row's id to the next sign-up, and the old
    subscriber's signed links would open the new one's pages), and the ledger's delivery
    rows keep pointing at a row."""
    if not ids:
        return
    conn.execute(
        subscribers.update()
        .where(subscribers.c.id.in_(list(ids)))
        .values(
            name=sa.literal("deleted-", sa.String) + sa.cast(subscribers.c.id, sa.String),
            data="{}",
            origin="removed",
            status="deleted",
            email_key=None,
            unsubscribed_at=sa.func.coalesce(
                subscribers.c.unsubscribed_at, subscribers.c.created_at
            ),
        )
    )


class SignupStore(StorePart):
    """The sign-up part of :class:`~digest.store.Store`."""

    def subscriber_id_by_email(self, address: str) -> int | None:
        """The subscriber with this mailbox (any status but deleted), if there is one."""
        key = email_key(address)
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(subscribers.c.id)
                .where(subscribers.c.email_key == key, subscribers.c.status != "deleted")
                .order_by(subscribers.c.id)
            ).first()
        return None if row is None else int(row.id)

    def add_pending(self, subscriber: Subscriber, *, now: dt.datetime) -> int:
        """Store a sign-up awaiting confirmation; its id (for the confirmation token)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                subscribers.insert().values(
                    name=subscriber.name,
                    data=subscriber_to_json(subscriber),
                    origin="web",
                    created_at=now,
                    status="pending",
                    email_key=email_key(subscriber.email),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def name_taken(self, name: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(sa.select(subscribers.c.id).where(subscribers.c.name == name)).first()
                is not None
            )

    def activate(self, subscriber_id: int, *, now: dt.datetime) -> bool:
        """Confirm a pending sign-up, a re-subscription or a bounced address; ``True`` if it
        changed anything. The person confirmed: their address leaves the suppression list."""
        with self.engine.begin() as conn:
            result = conn.execute(
                subscribers.update()
                .where(
                    subscribers.c.id == subscriber_id,
                    sa.or_(
                        subscribers.c.status.in_(("pending", "unsubscribed")),
                        subscribers.c.bounced_at.is_not(None),
                    ),
                )
                .values(status="active", confirmed_at=now, unsubscribed_at=None, bounced_at=None)
            )
            if result.rowcount:
                key = conn.execute(
                    sa.select(subscribers.c.email_key).where(subscribers.c.id == subscriber_id)
                ).scalar()
                if key:
                    conn.execute(suppressions.delete().where(suppressions.c.email_key == key))
            return bool(result.rowcount)

    def update_subscriber(self, subscriber_id: int, subscriber: Subscriber) -> None:
        """Replace a subscriber's settings (self-service); the next edition uses them."""
        with self.engine.begin() as conn:
            conn.execute(
                subscribers.update()
                .where(subscribers.c.id == subscriber_id)
                .values(data=subscriber_to_json(subscriber), email_key=email_key(subscriber.email))
            )

    def forget_subscriber(self, subscriber_id: int) -> None:
        """Erase a subscriber: profile, feedback, selections and imports go; the row stays as
        an anonymous tombstone (see :func:`entomb`)."""
        with self.engine.begin() as conn:
            conn.execute(feedback.delete().where(feedback.c.subscriber_id == subscriber_id))
            conn.execute(selections.delete().where(selections.c.subscriber_id == subscriber_id))
            conn.execute(
                profile_imports.delete().where(profile_imports.c.subscriber_id == subscriber_id)
            )
            entomb(conn, [subscriber_id])

    def purge_pending(self, *, before: dt.datetime) -> int:
        """Remove sign-ups left unconfirmed since before ``before``; how many went."""
        with self.engine.begin() as conn:
            ids = [
                r.id
                for r in conn.execute(
                    sa.select(subscribers.c.id).where(
                        subscribers.c.status == "pending", subscribers.c.created_at < before
                    )
                )
            ]
            for sid in ids:
                conn.execute(feedback.delete().where(feedback.c.subscriber_id == sid))
                conn.execute(profile_imports.delete().where(profile_imports.c.subscriber_id == sid))
            entomb(conn, ids)
            return len(ids)

    def status_counts(self) -> dict[str, int]:
        """Subscribers per status (pending, active, unsubscribed, deleted)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(subscribers.c.status, sa.func.count()).group_by(subscribers.c.status)
            )
            counts = Counter({str(status): int(n) for status, n in rows})
        return {k: counts.get(k, 0) for k in ("pending", "active", "unsubscribed", "deleted")}

    # -- the sign-up log ------------------------------------------------------------------------

    def log_signup(
        self,
        event: str,
        *,
        now: dt.datetime,
        subscriber: str | None = None,
        address: str | None = None,
        detail: str = "",
    ) -> None:
        """Record ``event``; of an address only its domain is kept."""
        domain = address.rpartition("@")[2].casefold()[:255] if address else None
        with self.engine.begin() as conn:
            conn.execute(
                signup_log.insert().values(
                    at=now, event=event, subscriber=subscriber, domain=domain, detail=detail[:500]
                )
            )

    def signup_events(self, *, limit: int = 100) -> list[SignupEvent]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(signup_log).order_by(signup_log.c.id.desc()).limit(limit)
            ).all()
        return [
            SignupEvent(
                at=aware(r.at) or r.at,
                event=r.event,
                subscriber=r.subscriber,
                domain=r.domain,
                detail=r.detail,
            )
            for r in rows
        ]

    # -- site settings ------------------------------------------------------------------------

    def site_setting(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(site_settings.c.value).where(site_settings.c.key == key)
            ).first()
        return None if row is None else str(row.value)

    def set_site_setting(self, key: str, value: str, *, now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            updated = conn.execute(
                site_settings.update()
                .where(site_settings.c.key == key)
                .values(value=value, updated_at=now)
            )
            if not updated.rowcount:
                conn.execute(site_settings.insert().values(key=key, value=value, updated_at=now))
