"""Papers: stored once by canonical id (``papers``), with the sources that saw each one
(``paper_sources``) and per-paper features such as embeddings (``paper_features``).

A paper is kept as its JSON (:mod:`digest.store.codecs`); a new sighting is merged into it.
``seq`` numbers follow the order papers were first stored in: subscribers' watermarks and runs'
candidates are ranges of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from digest.models import Paper
from digest.store.codecs import merge_papers, paper_from_json, paper_to_json
from digest.store.schema import LIBRARY_SOURCE, paper_features, paper_sources, papers
from digest.store.sql import CHUNK, StorePart, execute_many, iter_chunks, rows_in


@dataclass(frozen=True, slots=True, kw_only=True)
class UpsertResult:
    """Papers of an upsert stored for the first time, changed by the merge, or as they were."""

    new: int
    updated: int
    unchanged: int


class PaperStore(StorePart):
    """The papers part of :class:`~digest.store.Store`."""

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
            known_rows = sa.select(papers.c.paper_id, papers.c.seq, papers.c.data)
            existing: dict[str, tuple[int, str]] = {
                r.paper_id: (r.seq, r.data)
                for r in rows_in(conn, known_rows, papers.c.paper_id, list(incoming))
            }
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
        collected = _collected()
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(papers.c.seq, papers.c.data)
                .where(papers.c.seq > after_seq, papers.c.first_seen > first_seen_after)
                .where(collected)
                .order_by(papers.c.seq)
            ).all()
        return [r.seq for r in rows], [paper_from_json(r.data) for r in rows]

    def latest_papers(self, limit: int) -> tuple[list[int], list[Paper]]:
        """The ``limit`` newest collected papers (not library references), in ``seq`` order:
        what a sign-up preview ranks."""
        collected = _collected()
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(papers.c.seq, papers.c.data)
                .where(collected)
                .order_by(papers.c.seq.desc())
                .limit(limit)
            ).all()[::-1]
        return [r.seq for r in rows], [paper_from_json(r.data) for r in rows]

    def papers_by_seq(self, seqs: Iterable[int]) -> dict[int, Paper]:
        query = sa.select(papers.c.seq, papers.c.data)
        with self.engine.connect() as conn:
            return {
                r.seq: paper_from_json(r.data)
                for r in rows_in(conn, query, papers.c.seq, sorted(set(seqs)))
            }

    def papers_by_id(self, ids: Iterable[str]) -> dict[str, Paper]:
        """Stored papers by canonical id text; unknown ids are left out."""
        query = sa.select(papers.c.paper_id, papers.c.data)
        with self.engine.connect() as conn:
            return {
                r.paper_id: paper_from_json(r.data)
                for r in rows_in(conn, query, papers.c.paper_id, sorted(set(ids)))
            }

    def features(self, namespace: str, ids: Iterable[str]) -> dict[str, bytes]:
        """Stored per-paper features (embeddings…) of ``namespace`` for these paper ids."""
        f = paper_features.c
        query = sa.select(f.paper_id, f.data).where(f.namespace == namespace)
        with self.engine.connect() as conn:
            return {
                r.paper_id: bytes(r.data)
                for r in rows_in(conn, query, f.paper_id, sorted(set(ids)))
            }

    def save_features(self, namespace: str, items: Mapping[str, bytes]) -> None:
        """Store per-paper features; existing ones for the same paper are replaced."""
        if not items:
            return
        f = paper_features.c
        with self.engine.begin() as conn:
            for chunk in iter_chunks(list(items), CHUNK):
                conn.execute(
                    paper_features.delete().where(f.namespace == namespace, f.paper_id.in_(chunk))
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


def _collected() -> sa.Exists:
    """Papers a source collected: not only stored as references (:data:`LIBRARY_SOURCE`)."""
    return sa.exists().where(
        paper_sources.c.paper_seq == papers.c.seq, paper_sources.c.source != LIBRARY_SOURCE
    )
