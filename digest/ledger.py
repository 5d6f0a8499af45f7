"""The delivery ledger (ARCHITECTURE §8): claim → deliver → record.

A subscriber's selection and one ``claimed`` row per channel are written in one transaction
*before* anything is delivered; the terminal state (``sent``, ``suppressed``,
``failed_permanent``) is recorded after. A crash between the two leaves ``claimed`` rows that
the next run re-delivers with the same Message-ID, so each (edition, subscriber, channel) ends
in exactly one terminal state (I1) and an edition is ``complete`` only when no row is left
``claimed`` (I2). Terminal rows are never changed again.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from digest.models import DeliveryStatus, Edition, Reason
from digest.store import Store
from digest.store.schema import deliveries, editions, selections, subscribers
from digest.store.sql import aware, execute_many, iter_chunks

TERMINAL = (DeliveryStatus.SENT, DeliveryStatus.SUPPRESSED, DeliveryStatus.FAILED_PERMANENT)


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """One subscriber's selection in an edition, with a message id per channel."""

    subscriber_id: int
    watermark: int
    items: Sequence[tuple[int, float, Sequence[Reason]]]  # (paper seq, score, reasons)
    channels: Sequence[tuple[str, str]]  # (channel, message id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """A ``claimed`` delivery that has no terminal state yet."""

    edition: Edition
    subscriber_id: int
    channel: str
    message_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredItem:
    paper_seq: int
    score: float
    reasons: tuple[Reason, ...]


def reasons_to_json(reasons: Sequence[Reason]) -> str:
    return json.dumps(
        [[r.kind, r.text, r.weight, *([r.ref] if r.ref else [])] for r in reasons],
        ensure_ascii=False,
    )


def reasons_from_json(text: str) -> tuple[Reason, ...]:
    return tuple(
        Reason(kind=item[0], text=item[1], weight=item[2], ref=item[3] if len(item) > 3 else None)
        for item in json.loads(text)
    )


class Ledger:
    """Ledger operations on a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def open_edition(self, now: dt.datetime) -> Edition:
        edition = Edition(
            id=now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3),
            created=now,
        )
        with self.store.begin() as conn:
            conn.execute(editions.insert().values(id=edition.id, created_at=now, status="open"))
        return edition

    def claim(self, edition: Edition, claims: Sequence[Claim], *, now: dt.datetime) -> None:
        """Write selections and ``claimed`` rows, advance watermarks — all or nothing."""
        if not claims:
            return
        claimed = DeliveryStatus.CLAIMED.value
        selection_rows = [
            (edition.id, claim.subscriber_id, rank, seq, float(score), reasons_to_json(reasons))
            for claim in claims
            for rank, (seq, score, reasons) in enumerate(claim.items)
        ]
        delivery_rows = [
            (edition.id, claim.subscriber_id, channel, claimed, mid, "", 0, now)
            for claim in claims
            for channel, mid in claim.channels
        ]
        with self.store.begin() as conn:
            execute_many(
                conn,
                selections,
                "INSERT INTO {table} ({edition_id}, {subscriber_id}, {rank}, {paper_seq}, "
                "{score}, {reasons}) VALUES (?, ?, ?, ?, ?, ?)",
                ("edition_id", "subscriber_id", "rank", "paper_seq", "score", "reasons"),
                selection_rows,
            )
            execute_many(
                conn,
                deliveries,
                "INSERT INTO {table} ({edition_id}, {subscriber_id}, {channel}, {status}, "
                "{message_id}, {detail}, {attempts}, {updated_at}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    "edition_id",
                    "subscriber_id",
                    "channel",
                    "status",
                    "message_id",
                    "detail",
                    "attempts",
                    "updated_at",
                ),
                delivery_rows,
            )
            execute_many(
                conn,
                subscribers,
                "UPDATE {table} SET {watermark} = ?, {last_edition_at} = ? WHERE {id} = ?",
                ("watermark", "last_edition_at", "id"),
                [(c.watermark, now, c.subscriber_id) for c in claims],
            )

    def record(
        self,
        edition: Edition,
        outcomes: Iterable[tuple[int, str, DeliveryStatus, str]],
        *,
        now: dt.datetime,
    ) -> None:
        """Record terminal states; a row already terminal is left as it is (I1)."""
        rows = [
            (status.value, detail[:2000], now, edition.id, sid, channel)
            for sid, channel, status, detail in outcomes
        ]
        if not rows:
            return
        with self.store.begin() as conn:
            execute_many(
                conn,
                deliveries,
                "UPDATE {table} SET {status} = ?, {detail} = ?, {attempts} = {attempts} + 1, "
                "{updated_at} = ? WHERE {edition_id} = ? AND {subscriber_id} = ? "
                f"AND {{channel}} = ? AND {{status}} = '{DeliveryStatus.CLAIMED.value}'",
                ("status", "detail", "updated_at", "edition_id", "subscriber_id", "channel"),
                rows,
            )

    def finish(self, edition: Edition, *, now: dt.datetime) -> bool:
        """Mark the edition complete if no delivery is left ``claimed`` (I2)."""
        with self.store.begin() as conn:
            left = conn.execute(
                sa.select(sa.func.count())
                .select_from(deliveries)
                .where(
                    deliveries.c.edition_id == edition.id,
                    deliveries.c.status == DeliveryStatus.CLAIMED.value,
                )
            ).scalar_one()
            if left:
                return False
            conn.execute(
                editions.update()
                .where(editions.c.id == edition.id)
                .values(status="complete", completed_at=now)
            )
            return True

    def pause(self, edition: Edition) -> None:
        """Mark an edition paused: its claimed rows wait for the next run (I2 holds)."""
        with self.store.begin() as conn:
            conn.execute(
                editions.update()
                .where(editions.c.id == edition.id, editions.c.status != "complete")
                .values(status="paused")
            )

    def discard_if_empty(self, edition: Edition) -> bool:
        """Remove an edition nobody was selected for; ``True`` if it was removed."""
        with self.store.begin() as conn:
            used = conn.execute(
                sa.select(sa.func.count())
                .select_from(selections)
                .where(selections.c.edition_id == edition.id)
            ).scalar_one()
            if used:
                return False
            conn.execute(editions.delete().where(editions.c.id == edition.id))
            return True

    def pending(self) -> list[Pending]:
        """Claimed rows of unfinished editions, oldest edition first."""
        query = (
            sa.select(
                editions.c.id,
                editions.c.created_at,
                deliveries.c.subscriber_id,
                deliveries.c.channel,
                deliveries.c.message_id,
            )
            .join(deliveries, deliveries.c.edition_id == editions.c.id)
            .where(
                editions.c.status != "complete", deliveries.c.status == DeliveryStatus.CLAIMED.value
            )
            .order_by(editions.c.created_at, deliveries.c.subscriber_id, deliveries.c.channel)
        )
        with self.store.engine.connect() as conn:
            return [
                Pending(
                    edition=Edition(id=r.id, created=aware(r.created_at) or r.created_at),
                    subscriber_id=r.subscriber_id,
                    channel=r.channel,
                    message_id=r.message_id,
                )
                for r in conn.execute(query)
            ]

    def open_editions(self) -> list[Edition]:
        with self.store.engine.connect() as conn:
            return [
                Edition(id=r.id, created=aware(r.created_at) or r.created_at)
                for r in conn.execute(
                    sa.select(editions.c.id, editions.c.created_at)
                    .where(editions.c.status != "complete")
                    .order_by(editions.c.created_at)
                )
            ]

    def selected(
        self, edition_id: str, subscriber_ids: Sequence[int]
    ) -> dict[int, list[StoredItem]]:
        """The stored selections of an edition for these subscribers, in rank order."""
        out: dict[int, list[StoredItem]] = defaultdict(list)
        with self.store.engine.connect() as conn:
            for chunk in iter_chunks(list(subscriber_ids), 500):
                for r in conn.execute(
                    sa.select(selections)
                    .where(
                        selections.c.edition_id == edition_id,
                        selections.c.subscriber_id.in_(chunk),
                    )
                    .order_by(selections.c.subscriber_id, selections.c.rank)
                ):
                    out[r.subscriber_id].append(
                        StoredItem(
                            paper_seq=r.paper_seq,
                            score=r.score,
                            reasons=reasons_from_json(r.reasons),
                        )
                    )
        return out

    def already_selected(self, *, min_seq: int) -> dict[int, set[int]]:
        """Papers (seq ≥ ``min_seq``) picked for a subscriber above their watermark.

        Watermarks only move forward, so this is normally empty: it is the safety net behind
        "never the same paper twice" should a watermark ever be reset. The database does the
        filtering, so the cost stays low as the history grows.
        """
        out: dict[int, set[int]] = defaultdict(set)
        query = (
            sa.select(selections.c.subscriber_id, selections.c.paper_seq)
            .join(subscribers, subscribers.c.id == selections.c.subscriber_id)
            .where(selections.c.paper_seq >= min_seq)
            .where(selections.c.paper_seq > subscribers.c.watermark)
        )
        with self.store.engine.connect() as conn:
            for r in conn.execute(query):
                out[r.subscriber_id].add(r.paper_seq)
        return out

    def history(
        self, subscriber_ids: Sequence[int], *, before: str | None, editions_back: int
    ) -> dict[int, list[tuple[Edition, list[StoredItem]]]]:
        """Each subscriber's last ``editions_back`` editions before the edition ``before``
        (``None``: all of them), newest first."""
        out: dict[int, list[tuple[Edition, list[StoredItem]]]] = defaultdict(list)
        if editions_back <= 0:
            return out
        with self.store.engine.connect() as conn:
            for chunk in iter_chunks(list(subscriber_ids), 500):
                query = (
                    sa.select(selections, editions.c.created_at)
                    .join(editions, editions.c.id == selections.c.edition_id)
                    .where(selections.c.subscriber_id.in_(chunk))
                    # By creation time: ids only sort by the second they were made in.
                    .order_by(
                        selections.c.subscriber_id,
                        editions.c.created_at.desc(),
                        selections.c.edition_id.desc(),
                        selections.c.rank,
                    )
                )
                if before is not None:
                    created = (
                        sa.select(editions.c.created_at)
                        .where(editions.c.id == before)
                        .scalar_subquery()
                    )
                    query = query.where(
                        selections.c.edition_id != before, editions.c.created_at <= created
                    )
                rows = conn.execute(query)
                for r in rows:
                    runs = out[r.subscriber_id]
                    if not runs or runs[-1][0].id != r.edition_id:
                        if len(runs) >= editions_back:
                            continue
                        edition = Edition(
                            id=r.edition_id, created=aware(r.created_at) or r.created_at
                        )
                        runs.append((edition, []))
                    runs[-1][1].append(
                        StoredItem(
                            paper_seq=r.paper_seq,
                            score=r.score,
                            reasons=reasons_from_json(r.reasons),
                        )
                    )
        return out

    def edition_of(self, edition_id: str, subscriber_id: int) -> Edition | None:
        """The edition if the subscriber had papers selected in it (else ``None``)."""
        query = sa.select(editions.c.id, editions.c.created_at).where(
            editions.c.id == edition_id,
            sa.exists().where(
                selections.c.edition_id == editions.c.id,
                selections.c.subscriber_id == subscriber_id,
            ),
        )
        with self.store.engine.connect() as conn:
            row = conn.execute(query).first()
        return (
            None
            if row is None
            else Edition(id=row.id, created=aware(row.created_at) or row.created_at)
        )

    def editions_of(self, subscriber_id: int, *, limit: int) -> list[tuple[Edition, int]]:
        """The subscriber's latest editions, newest first, with their number of papers."""
        query = (
            sa.select(editions.c.id, editions.c.created_at, sa.func.count().label("n"))
            .join(selections, selections.c.edition_id == editions.c.id)
            .where(selections.c.subscriber_id == subscriber_id)
            .group_by(editions.c.id, editions.c.created_at)
            .order_by(editions.c.created_at.desc(), editions.c.id.desc())
            .limit(limit)
        )
        with self.store.engine.connect() as conn:
            return [
                (Edition(id=r.id, created=aware(r.created_at) or r.created_at), r.n)
                for r in conn.execute(query)
            ]

    def recent_editions(self, *, limit: int) -> list[tuple[Edition, str, dict[str, int]]]:
        """The latest editions, newest first: status and delivery counts per status."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(editions.c.id, editions.c.created_at, editions.c.status)
                .order_by(editions.c.id.desc())
                .limit(limit)
            ).all()
            counts: dict[str, dict[str, int]] = defaultdict(dict)
            if rows:
                for r in conn.execute(
                    sa.select(
                        deliveries.c.edition_id, deliveries.c.status, sa.func.count().label("n")
                    )
                    .where(deliveries.c.edition_id.in_([r.id for r in rows]))
                    .group_by(deliveries.c.edition_id, deliveries.c.status)
                ):
                    counts[r.edition_id][r.status] = r.n
        return [
            (Edition(id=r.id, created=aware(r.created_at) or r.created_at), r.status, counts[r.id])
            for r in rows
        ]

    def status_counts(self, edition: Edition) -> dict[str, int]:
        with self.store.engine.connect() as conn:
            return {
                r.status: r.n
                for r in conn.execute(
                    sa.select(deliveries.c.status, sa.func.count().label("n"))
                    .where(deliveries.c.edition_id == edition.id)
                    .group_by(deliveries.c.status)
                )
            }
