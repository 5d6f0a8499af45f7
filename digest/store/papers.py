"""Papers: stored once by canonical id (``papers``), with the sources that saw each one
(``paper_sources``) and per-paper features such as embeddings (``paper_features``).

A paper is kept as its JSON (:mod:`digest.store.codecs`); a new sighting is merged into it.
``seq`` numbers follow the order papers were first stored in: subscribers' watermarks and runs'
candidates are ranges of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import sqlalchemy as sa

from digest.identity import fingerprint, paper_keys, preferred_id
from digest.models import Paper, PaperId
from digest.store.codecs import merge_papers, paper_from_json, paper_to_json
from digest.store.schema import (
    LIBRARY_SOURCE,
    paper_aliases,
    paper_features,
    paper_sources,
    papers,
)
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
        """Store papers, merging each with what is known of the same work; one transaction.

        A paper is the same work as a stored one when any of its ids (:func:`paper_keys`: its
        id, DOI and aliases) is an alias of it: the journal version of an arXiv paper merges
        into it whichever came first, and the work keeps its arXiv id. A paper linking two
        stored papers merges the later into the earlier (``merged_into``), so it is never a
        candidate again.
        """
        groups = _linked(items)
        new = updated = unchanged = 0
        with self.engine.begin() as conn:
            prints = [_fingerprint_key(paper) for _, paper in groups]
            wanted = sorted({k for keys, _ in groups for k in keys} | set(prints))
            owner: dict[str, int] = {
                r.alias: r.paper_seq
                for r in rows_in(
                    conn,
                    sa.select(paper_aliases.c.alias, paper_aliases.c.paper_seq),
                    paper_aliases.c.alias,
                    wanted,
                )
            }
            # Every alias of the papers found, not only the ids asked for: a merge adds only
            # the ids they are not known by yet.
            owner.update(
                (r.alias, r.paper_seq)
                for r in rows_in(
                    conn,
                    sa.select(paper_aliases.c.alias, paper_aliases.c.paper_seq),
                    paper_aliases.c.paper_seq,
                    sorted(set(owner.values())),
                )
            )
            stored: dict[int, tuple[str, str]] = {
                r.seq: (r.paper_id, r.data)
                for r in rows_in(
                    conn,
                    sa.select(papers.c.seq, papers.c.paper_id, papers.c.data),
                    papers.c.seq,
                    sorted(set(owner.values())),
                )
            }
            source_rows: list[int] = []
            new_aliases: list[tuple[str, int]] = []
            for (keys, paper), fp in zip(groups, prints, strict=True):
                seqs = sorted({owner[k] for k in keys if k in owner})
                if not seqs and fp in owner:
                    # The same title and first author: the same work when at most one side
                    # has an arXiv id or DOI (an OpenReview paper and its arXiv version; two
                    # arXiv papers called "Erratum" by a Smith stay two).
                    known_id = PaperId.parse(stored[owner[fp]][0].partition("~")[0])
                    if paper.id.kind == "fp" or known_id.kind == "fp":
                        seqs = [owner[fp]]
                if not seqs:
                    row = {
                        "paper_id": str(paper.id),
                        "data": paper_to_json(paper),
                        "version": paper.version,
                        "first_seen": now,
                        "updated_at": now,
                    }
                    key_row = conn.execute(papers.insert().values(**row)).inserted_primary_key
                    assert key_row is not None
                    seq = int(key_row[0])
                    new_aliases.extend((k, seq) for k in [*keys, fp] if k not in owner)
                    source_rows.append(seq)
                    new += 1
                    continue
                survivor, losers = seqs[0], seqs[1:]
                known = [paper_from_json(stored[s][1]) for s in seqs]
                merged = _merged([*known, paper])
                for loser in losers:
                    # The later paper is this one's version: its aliases move over.
                    renamed = stored[loser][0] == str(merged.id)
                    conn.execute(
                        papers.update()
                        .where(papers.c.seq == loser)
                        .values(
                            merged_into=survivor,
                            updated_at=now,
                            **({"paper_id": f"{stored[loser][0]}~{loser}"} if renamed else {}),
                        )
                    )
                    conn.execute(
                        paper_aliases.update()
                        .where(paper_aliases.c.paper_seq == loser)
                        .values(paper_seq=survivor)
                    )
                    for key, seq in list(owner.items()):
                        if seq == loser:
                            owner[key] = survivor
                text = paper_to_json(merged)
                old_id, old_text = stored[survivor]
                if text != old_text or old_id != str(merged.id):
                    conn.execute(
                        papers.update()
                        .where(papers.c.seq == survivor)
                        .values(
                            paper_id=str(merged.id),
                            data=text,
                            version=merged.version,
                            updated_at=now,
                        )
                    )
                    stored[survivor] = (str(merged.id), text)
                    updated += 1
                else:
                    unchanged += 1
                new_aliases.extend(
                    (k, survivor)
                    for k in [*paper_keys(merged), fp, _fingerprint_key(merged)]
                    if k not in owner
                )
                source_rows.append(survivor)
            for key, seq in new_aliases:
                owner[key] = seq
            if new_aliases:
                execute_many(
                    conn,
                    paper_aliases,
                    "INSERT INTO {table} ({alias}, {paper_seq}) VALUES (?, ?)",
                    ("alias", "paper_seq"),
                    list(_first_owner(new_aliases).items()),
                )
            known_sources = (
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
                if s not in known_sources
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
                .where(collected, papers.c.merged_into.is_(None))
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
                .where(collected, papers.c.merged_into.is_(None))
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
        """Stored papers by any id they are known by (an alias: ``doi:…`` of a paper stored
        as ``arxiv:…`` finds it), keyed by the id asked for; unknown ids are left out."""
        a = paper_aliases.c
        query = sa.select(a.alias, papers.c.data).join(papers, papers.c.seq == a.paper_seq)
        with self.engine.connect() as conn:
            return {
                r.alias: paper_from_json(r.data)
                for r in rows_in(conn, query, a.alias, sorted(set(ids)))
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
        """Stored works: a paper merged into another (its other version) does not count."""
        with self.engine.connect() as conn:
            query = sa.select(sa.func.count()).where(papers.c.merged_into.is_(None))
            return int(conn.execute(query).scalar_one())

    def max_seq(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(papers.c.seq))).scalar() or 0)


def _linked(items: Iterable[Paper]) -> list[tuple[list[str], Paper]]:
    """The papers of one upsert, those sharing any id merged: each with all its ids."""
    groups: list[tuple[list[str], Paper]] = []
    where: dict[str, int] = {}  # id → index in groups
    for paper in items:
        keys = paper_keys(paper)
        hits = sorted({where[k] for k in keys if k in where})
        if not hits:
            where.update(dict.fromkeys(keys, len(groups)))
            # Known by its preferred id even alone (a journal item naming its arXiv preprint).
            groups.append((keys, _merged([paper]) if len(keys) > 1 else paper))
            continue
        first = hits[0]
        members = [groups[i][1] for i in hits]
        all_keys = list(dict.fromkeys(k for i in hits for k in groups[i][0]))
        merged = _merged([*members, paper])
        all_keys = list(dict.fromkeys([*all_keys, *keys, *paper_keys(merged)]))
        groups[first] = (all_keys, merged)
        for i in hits[1:]:
            groups[i] = ([], groups[i][1])  # emptied: its keys moved to ``first``
        where.update(dict.fromkeys(all_keys, first))
    return [(keys, paper) for keys, paper in groups if keys]


def _fingerprint_key(paper: Paper) -> str:
    """The id a work would have without an arXiv id or DOI: its title and first author."""
    first = paper.authors[0].name if paper.authors else None
    return f"fp:{fingerprint(paper.title, first)}"


def _first_owner(pairs: list[tuple[str, int]]) -> dict[str, int]:
    """Aliases to insert, each given to the first paper that claimed it in this upsert."""
    owners: dict[str, int] = {}
    for key, seq in pairs:
        owners.setdefault(key, seq)
    return owners


def _merged(versions: list[Paper]) -> Paper:
    """Sightings of one work merged (oldest first), known by its preferred id, every other id
    it is known by kept as an alias."""
    merged = versions[0]
    for other in versions[1:]:
        merged = merge_papers(merged, other)
    keys = list(dict.fromkeys(k for p in versions for k in paper_keys(p)))
    best = preferred_id(keys)
    return replace(merged, id=best, aliases=tuple(k for k in keys if k != str(best)))


def _collected() -> sa.Exists:
    """Papers a source collected: not only stored as references (:data:`LIBRARY_SOURCE`)."""
    return sa.exists().where(
        paper_sources.c.paper_seq == papers.c.seq, paper_sources.c.source != LIBRARY_SOURCE
    )
