"""The store: papers, subscribers, source state and the tables the ledger owns.

SQLAlchemy 2 Core over SQLite (default, a file under the state dir) or PostgreSQL (by URL).
The schema is created and upgraded by Alembic migrations (``digest/migrations``); the
``Table`` objects here mirror them for queries.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from digest.errors import StoreError
from digest.models import Author, Paper, PaperId, Profile, Subscriber

metadata = sa.MetaData()

#: the source under which papers from a subscriber's library (``digest subscribers like``) are
#: stored: references for the rankers, never candidates for a digest
LIBRARY_SOURCE = "library"

papers = sa.Table(
    "papers",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("paper_id", sa.String(300), nullable=False, unique=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("version", sa.Integer),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

paper_sources = sa.Table(
    "paper_sources",
    metadata,
    sa.Column("paper_seq", sa.Integer, sa.ForeignKey("papers.seq"), primary_key=True),
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
)

subscribers = sa.Table(
    "subscribers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("origin", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("unsubscribed_at", sa.DateTime(timezone=True)),
    sa.Column("watermark", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_edition_at", sa.DateTime(timezone=True)),
)

editions = sa.Table(
    "editions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
)

selections = sa.Table(
    "selections",
    metadata,
    sa.Column("edition_id", sa.String(40), sa.ForeignKey("editions.id"), primary_key=True),
    sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), primary_key=True),
    sa.Column("rank", sa.Integer, primary_key=True),
    sa.Column("paper_seq", sa.Integer, sa.ForeignKey("papers.seq"), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Index("ix_selections_subscriber_paper", "subscriber_id", "paper_seq"),
    sa.Index("ix_selections_paper", "paper_seq"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("edition_id", sa.String(40), sa.ForeignKey("editions.id"), primary_key=True),
    sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), primary_key=True),
    sa.Column("channel", sa.String(50), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("message_id", sa.String(300), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_deliveries_status", "edition_id", "status"),
)

source_state = sa.Table(
    "source_state",
    metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

source_runs = sa.Table(
    "source_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(200), nullable=False, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("collected", sa.Integer, nullable=False),
    sa.Column("new", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("flag", sa.Text),
)

paper_features = sa.Table(
    "paper_features",
    metadata,
    sa.Column("paper_id", sa.String(300), primary_key=True),
    sa.Column("namespace", sa.String(100), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), nullable=False),
    sa.Column("paper_id", sa.String(300), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("detail", sa.String(300), nullable=False, server_default=""),
    sa.Index("ix_feedback_subscriber", "subscriber_id"),
)

#: feedback kinds: a paper to rank like (``more``) or unlike (``less``), an author to mute
FEEDBACK_KINDS = ("more", "less", "mute")


# -- (de)serialisation -------------------------------------------------------------------------


def paper_to_json(paper: Paper) -> str:
    return json.dumps(
        {
            "id": str(paper.id),
            "title": paper.title,
            "abstract": paper.abstract,
            "authors": [[a.name, a.affiliation] for a in paper.authors],
            "categories": list(paper.categories),
            "url": paper.url,
            "pdf_url": paper.pdf_url,
            "code_url": paper.code_url,
            "doi": paper.doi,
            "announced": paper.announced.isoformat() if paper.announced else None,
            "published": paper.published.isoformat() if paper.published else None,
            "updated": paper.updated.isoformat() if paper.updated else None,
            "version": paper.version,
            "sources": list(paper.sources),
            "signals": dict(paper.signals),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def paper_from_json(text: str) -> Paper:
    d = json.loads(text)

    def when(value: str | None) -> dt.datetime | None:
        return dt.datetime.fromisoformat(value) if value else None

    return Paper(
        id=PaperId.parse(d["id"]),
        title=d["title"],
        abstract=d["abstract"],
        authors=tuple(Author(name=n, affiliation=a) for n, a in d["authors"]),
        categories=tuple(d["categories"]),
        url=d["url"],
        pdf_url=d["pdf_url"],
        code_url=d["code_url"],
        doi=d["doi"],
        announced=dt.date.fromisoformat(d["announced"]) if d["announced"] else None,
        published=when(d["published"]),
        updated=when(d["updated"]),
        version=d["version"],
        sources=tuple(d["sources"]),
        signals=d["signals"],
    )


def merge_papers(old: Paper, new: Paper) -> Paper:
    """Merge a new sighting into the stored paper: newer version wins text, signals add up."""
    newer = (new.version or 0) > (old.version or 0)
    base, other = (new, old) if newer else (old, new)
    return replace(
        base,
        abstract=base.abstract or other.abstract,
        authors=base.authors or other.authors,
        categories=base.categories or other.categories,
        url=base.url or other.url,
        pdf_url=base.pdf_url or other.pdf_url,
        code_url=base.code_url or other.code_url,
        doi=base.doi or other.doi,
        announced=old.announced or new.announced,
        published=old.published or new.published,
        updated=max((d for d in (old.updated, new.updated) if d), default=None),
        version=max(old.version or 0, new.version or 0) or None,
        sources=tuple(dict.fromkeys((*old.sources, *new.sources))),
        signals={**old.signals, **new.signals},
    )


SUBSCRIBER_FIELDS = (
    "email",
    "interests",
    "keywords",
    "exclude",
    "categories",
    "authors",
    "liked",
    "disliked",
    "schedule",
    "timezone",
    "max_items",
    "channels",
    "active",
)


def subscriber_to_json(subscriber: Subscriber) -> str:
    p = subscriber.profile
    return json.dumps(
        {
            "email": subscriber.email,
            "interests": p.interests,
            "keywords": list(p.keywords),
            "exclude": list(p.exclude),
            "categories": list(p.categories),
            "authors": list(p.authors),
            "liked": list(p.liked),
            "disliked": list(p.disliked),
            "schedule": subscriber.schedule,
            "timezone": subscriber.timezone,
            "max_items": subscriber.max_items,
            "channels": list(subscriber.channels),
            "active": subscriber.active,
        },
        ensure_ascii=False,
    )


def subscriber_from_fields(name: str, d: Mapping[str, Any]) -> Subscriber:
    return Subscriber(
        name=name,
        email=d.get("email"),
        profile=Profile(
            interests=d.get("interests", ""),
            keywords=tuple(d.get("keywords", ())),
            exclude=tuple(d.get("exclude", ())),
            categories=tuple(d.get("categories", ())),
            authors=tuple(d.get("authors", ())),
            liked=tuple(d.get("liked", ())),
            disliked=tuple(d.get("disliked", ())),
        ),
        schedule=d.get("schedule", "0 7 * * *"),
        timezone=d.get("timezone", "UTC"),
        max_items=int(d.get("max_items", 10)),
        channels=tuple(d.get("channels", ("email", "feed"))),
        active=bool(d.get("active", True)),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredSubscriber:
    """A subscriber row: the record plus bookkeeping the pipeline needs."""

    id: int
    subscriber: Subscriber
    origin: str
    watermark: int
    unsubscribed: bool
    last_edition_at: dt.datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackItem:
    """One recorded piece of feedback: ``kind`` is ``more``, ``less`` or ``mute``."""

    id: int
    paper_id: str
    kind: str
    detail: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceHealth:
    """What ``digest sources`` and ``/healthz`` show for one source."""

    source: str
    last_success: dt.datetime | None
    last_collected: int
    last_error: str | None
    last_error_at: dt.datetime | None
    recent: tuple[int, ...]  # papers per successful run, newest first
    flag: str | None  # the latest run's warning
    failing: bool  # the latest run failed


@dataclass(frozen=True, slots=True, kw_only=True)
class UpsertResult:
    new: int
    updated: int
    unchanged: int


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite returns naive datetimes; every timestamp we write is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class Store:
    """Access to the database; one per process. Use :meth:`open` to create and migrate."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                probe = path.parent / ".digest-write-test"
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as error:
                raise StoreError(
                    f"state directory {path.parent} is not writable: {error.strerror or error}"
                ) from None
        try:
            engine = sa.create_engine(url, future=True)
        except Exception as error:
            raise StoreError(f"database URL {url!r}: {error}") from None
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
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

    # -- papers --------------------------------------------------------------------------

    def upsert_papers(
        self, items: Iterable[Paper], *, source: str, now: dt.datetime
    ) -> UpsertResult:
        """Store papers by canonical id, merging with what is known; one transaction."""
        incoming: dict[str, Paper] = {}
        for paper in items:
            key = str(paper.id)
            incoming[key] = merge_papers(incoming[key], paper) if key in incoming else paper
        new = updated = unchanged = 0
        with self.engine.begin() as conn:
            existing: dict[str, tuple[int, str]] = {}
            keys = list(incoming)
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows = conn.execute(
                    sa.select(papers.c.paper_id, papers.c.seq, papers.c.data).where(
                        papers.c.paper_id.in_(chunk)
                    )
                )
                existing.update({r.paper_id: (r.seq, r.data) for r in rows})
            inserts, source_rows = [], []
            for key, paper in incoming.items():
                if key in existing:
                    seq, data = existing[key]
                    merged = merge_papers(paper_from_json(data), paper)
                    text = paper_to_json(merged)
                    if text != data:
                        conn.execute(
                            papers.update()
                            .where(papers.c.seq == seq)
                            .values(data=text, version=merged.version, updated_at=now)
                        )
                        updated += 1
                    else:
                        unchanged += 1
                    source_rows.append(seq)
                else:
                    inserts.append(
                        {
                            "paper_id": key,
                            "data": paper_to_json(paper),
                            "version": paper.version,
                            "first_seen": now,
                            "updated_at": now,
                        }
                    )
            # Insert in a stable order so sequence numbers follow the source's order.
            for row in inserts:
                key_row = conn.execute(papers.insert().values(**row)).inserted_primary_key
                assert key_row is not None
                source_rows.append(int(key_row[0]))
                new += 1
            known = (
                {
                    r.paper_seq
                    for r in conn.execute(
                        sa.select(paper_sources.c.paper_seq)
                        .where(paper_sources.c.source == source)
                        .where(paper_sources.c.paper_seq.in_(source_rows))
                    )
                }
                if source_rows
                else set()
            )
            missing = [
                {"paper_seq": s, "source": source, "first_seen": now}
                for s in dict.fromkeys(source_rows)
                if s not in known
            ]
            if missing:
                conn.execute(paper_sources.insert(), missing)
        return UpsertResult(new=new, updated=updated, unchanged=unchanged)

    def papers_since(
        self, *, after_seq: int, first_seen_after: dt.datetime
    ) -> tuple[list[int], list[Paper]]:
        """Papers with ``seq > after_seq`` first seen after the time, in ``seq`` order: the
        candidates of a run. Papers only stored as references (:data:`LIBRARY_SOURCE`) are not
        new papers and are left out, until a source collects them too."""
        collected = sa.exists().where(
            paper_sources.c.paper_seq == papers.c.seq, paper_sources.c.source != LIBRARY_SOURCE
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(papers.c.seq, papers.c.data)
                .where(papers.c.seq > after_seq, papers.c.first_seen > first_seen_after)
                .where(collected)
                .order_by(papers.c.seq)
            ).all()
        return [r.seq for r in rows], [paper_from_json(r.data) for r in rows]

    def papers_by_seq(self, seqs: Iterable[int]) -> dict[int, Paper]:
        wanted = sorted(set(seqs))
        found: dict[int, Paper] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                for r in conn.execute(
                    sa.select(papers.c.seq, papers.c.data).where(papers.c.seq.in_(chunk))
                ):
                    found[r.seq] = paper_from_json(r.data)
        return found

    def papers_by_id(self, ids: Iterable[str]) -> dict[str, Paper]:
        """Stored papers by canonical id text; unknown ids are left out."""
        wanted = sorted(set(ids))
        found: dict[str, Paper] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                for r in conn.execute(
                    sa.select(papers.c.paper_id, papers.c.data).where(papers.c.paper_id.in_(chunk))
                ):
                    found[r.paper_id] = paper_from_json(r.data)
        return found

    def features(self, namespace: str, ids: Iterable[str]) -> dict[str, bytes]:
        """Stored per-paper features (embeddings…) of ``namespace`` for these paper ids."""
        wanted = sorted(set(ids))
        found: dict[str, bytes] = {}
        f = paper_features.c
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                for r in conn.execute(
                    sa.select(f.paper_id, f.data).where(
                        f.namespace == namespace, f.paper_id.in_(chunk)
                    )
                ):
                    found[r.paper_id] = bytes(r.data)
        return found

    def save_features(self, namespace: str, items: Mapping[str, bytes]) -> None:
        """Store per-paper features; existing ones for the same paper are replaced."""
        if not items:
            return
        f = paper_features.c
        with self.engine.begin() as conn:
            ids = list(items)
            for start in range(0, len(ids), 500):
                conn.execute(
                    paper_features.delete().where(
                        f.namespace == namespace, f.paper_id.in_(ids[start : start + 500])
                    )
                )
            execute_many(
                conn,
                paper_features,
                "INSERT INTO {table} ({paper_id}, {namespace}, {data}) VALUES (?, ?, ?)",
                ("paper_id", "namespace", "data"),
                [(key, namespace, value) for key, value in items.items()],
            )

    def paper_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one())

    def max_seq(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(papers.c.seq))).scalar() or 0)

    # -- subscribers -----------------------------------------------------------------------

    def subscribers(self, *, include_unsubscribed: bool = True) -> list[StoredSubscriber]:
        query = sa.select(subscribers).order_by(subscribers.c.name)
        if not include_unsubscribed:
            query = query.where(subscribers.c.unsubscribed_at.is_(None))
        with self.engine.connect() as conn:
            return [self._stored(r) for r in conn.execute(query)]

    @staticmethod
    def _stored(row: Any) -> StoredSubscriber:
        return StoredSubscriber(
            id=row.id,
            subscriber=subscriber_from_fields(row.name, json.loads(row.data)),
            origin=row.origin,
            watermark=row.watermark,
            unsubscribed=row.unsubscribed_at is not None,
            last_edition_at=_aware(row.last_edition_at),
        )

    def unsubscribed_ids(self, ids: Sequence[int]) -> set[int]:
        """Which of ``ids`` have unsubscribed (read fresh: unsubscribe wins, I4)."""
        out: set[int] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                out.update(
                    r.id
                    for r in conn.execute(
                        sa.select(subscribers.c.id).where(
                            subscribers.c.id.in_(chunk), subscribers.c.unsubscribed_at.is_not(None)
                        )
                    )
                )
        return out

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
            current = {
                r.name: (r.id, r.data, r.origin)
                for r in conn.execute(
                    sa.select(
                        subscribers.c.id,
                        subscribers.c.name,
                        subscribers.c.data,
                        subscribers.c.origin,
                    )
                )
            }
            for sub in items:
                data = subscriber_to_json(sub)
                if sub.name in current:
                    sid, old, _ = current[sub.name]
                    if old != data:
                        conn.execute(
                            subscribers.update()
                            .where(subscribers.c.id == sid)
                            .values(data=data, origin=origin)
                        )
                else:
                    conn.execute(
                        subscribers.insert().values(
                            name=sub.name, data=data, origin=origin, created_at=now
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
                .values(origin="removed", unsubscribed_at=utcnow())
            )
        else:
            conn.execute(feedback.delete().where(feedback.c.subscriber_id == sid))
            conn.execute(subscribers.delete().where(subscribers.c.id == sid))

    def unsubscribe(self, subscriber_id: int, *, now: dt.datetime) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                subscribers.update()
                .where(subscribers.c.id == subscriber_id, subscribers.c.unsubscribed_at.is_(None))
                .values(unsubscribed_at=now)
            )
            return bool(result.rowcount)

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
        with self.engine.connect() as conn:
            for chunk in iter_chunks(list(subscriber_ids), 500):
                for r in conn.execute(
                    sa.select(feedback)
                    .where(feedback.c.subscriber_id.in_(chunk))
                    .order_by(feedback.c.id)
                ):
                    out.setdefault(r.subscriber_id, []).append(
                        FeedbackItem(
                            id=r.id,
                            paper_id=r.paper_id,
                            kind=r.kind,
                            detail=r.detail,
                            created_at=_aware(r.created_at) or r.created_at,
                        )
                    )
        return out

    # -- source state --------------------------------------------------------------------------

    def source_state(self, source: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {
                r.key: r.value
                for r in conn.execute(
                    sa.select(source_state.c.key, source_state.c.value).where(
                        source_state.c.source == source
                    )
                )
            }

    def record_source_run(
        self,
        source: str,
        *,
        now: dt.datetime,
        collected: int,
        new: int,
        error: str | None,
        state: Mapping[str, str] | None = None,
        flag: str | None = None,
    ) -> None:
        """Record a source's run and, only on success, its new state (I3)."""
        with self.engine.begin() as conn:
            conn.execute(
                source_runs.insert().values(
                    source=source, at=now, collected=collected, new=new, error=error, flag=flag
                )
            )
            for key, value in (state or {}).items():
                conn.execute(
                    source_state.delete().where(
                        source_state.c.source == source, source_state.c.key == key
                    )
                )
                conn.execute(source_state.insert().values(source=source, key=key, value=value))

    def recent_runs(self, source: str, *, limit: int = 10) -> list[tuple[dt.datetime, int, int]]:
        """(at, collected, new) of the source's last successful runs, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(source_runs.c.at, source_runs.c.collected, source_runs.c.new)
                .where(source_runs.c.source == source, source_runs.c.error.is_(None))
                .order_by(source_runs.c.id.desc())
                .limit(limit)
            ).all()
        return [(_aware(r.at) or r.at, r.collected, r.new) for r in rows]

    def source_health(self) -> list[SourceHealth]:
        """Per source: last success and error, recent items per run, the latest warning."""
        out = []
        with self.engine.connect() as conn:
            names = conn.execute(sa.select(source_runs.c.source).distinct()).scalars().all()
            for name in sorted(names):
                runs = source_runs.c
                recent = conn.execute(
                    sa.select(runs.at, runs.collected, runs.new, runs.error, runs.flag)
                    .where(runs.source == name)
                    .order_by(runs.id.desc())
                    .limit(10)
                ).all()
                success = conn.execute(
                    sa.select(runs.at, runs.collected)
                    .where(runs.source == name, runs.error.is_(None))
                    .order_by(runs.id.desc())
                    .limit(1)
                ).first()
                failure = conn.execute(
                    sa.select(runs.at, runs.error)
                    .where(runs.source == name, runs.error.is_not(None))
                    .order_by(runs.id.desc())
                    .limit(1)
                ).first()
                out.append(
                    SourceHealth(
                        source=name,
                        last_success=_aware(success.at) if success else None,
                        last_collected=success.collected if success else 0,
                        last_error=failure.error if failure else None,
                        last_error_at=_aware(failure.at) if failure else None,
                        recent=tuple(r.collected for r in recent if r.error is None),
                        flag=recent[0].flag if recent else None,
                        failing=bool(recent and recent[0].error),
                    )
                )
        return out


def execute_many(
    conn: Connection,
    table: sa.Table,
    sql: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:
    """Run ``sql`` (with ``{table}`` and ``?`` placeholders) once per row via the driver.

    SQLAlchemy's per-row parameter processing costs ~10 µs a row, which dominated claiming
    ten papers each for thousands of subscribers; the driver's ``executemany`` does not.
    ``columns`` names the table column each placeholder binds to, for type conversion.
    """
    dialect = conn.dialect
    processors = [table.c[name].type.bind_processor(dialect) for name in columns]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote
    text = sql.format(table=quote(table.name), **{c.name: quote(c.name) for c in table.columns})
    text = text.replace("?", mark)
    if any(processors):
        rows = [
            tuple(p(v) if p else v for p, v in zip(processors, row, strict=True)) for row in rows
        ]
    else:
        rows = [tuple(row) for row in rows]
    if rows:
        conn.exec_driver_sql(text, rows)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def iter_chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
