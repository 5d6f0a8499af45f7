"""``digest rank --batch``: rank given candidates for given profiles, one JSON line each.

Input lines: ``{"query": str, "liked": [paper], "disliked": [paper], "interests": str,
"candidates": [paper]}`` with paper = ``{"id", "title", "abstract", "authors", "published"}``.
Output lines: ``{"query": str, "ranking": [{"id", "score", "reasons"}]}`` covering every
candidate, best first. The rankers and weights are the run's (``[selection] rankers``) unless
named. Used for evaluation and by tools that keep their own paper lists.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from digest.batch import Batch
from digest.components import Ranker
from digest.identity import canonical_id
from digest.models import Author, Paper, PaperId, Profile
from digest.store import utcnow


class PaperIn(BaseModel):
    """A paper as ``digest rank`` reads it."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    title: str
    abstract: str = ""
    authors: list[str] = Field(default_factory=list)
    published: dt.datetime | dt.date | None = None


class QueryIn(BaseModel):
    """One input line."""

    model_config = ConfigDict(extra="forbid")
    query: str
    liked: list[PaperIn] = Field(default_factory=list)
    disliked: list[PaperIn] = Field(default_factory=list)
    interests: str = ""
    candidates: list[PaperIn]


@dataclass(frozen=True, slots=True)
class BadLine:
    number: int
    message: str


def _paper(item: PaperIn) -> Paper:
    paper_id, version = canonical_id(
        title=item.title, first_author=item.authors[0] if item.authors else None, arxiv=item.id
    )
    if paper_id.kind != "arxiv":  # keep the caller's id as the identity
        paper_id = PaperId(kind="url", value=item.id)
    published = item.published
    if isinstance(published, dt.date) and not isinstance(published, dt.datetime):
        published = dt.datetime.combine(published, dt.time(), dt.UTC)
    return Paper(
        id=paper_id,
        title=item.title,
        abstract=item.abstract,
        authors=tuple(Author(name=a) for a in item.authors),
        published=published,
        announced=published.date() if published else None,
        version=version,
        sources=("rank",),
    )


def read_queries(lines: Iterable[str]) -> Iterator[QueryIn | BadLine]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield QueryIn.model_validate(json.loads(line))
        except json.JSONDecodeError as error:
            yield BadLine(number, f"invalid JSON: {error.msg} (column {error.colno})")
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(line)"
            message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
            yield BadLine(number, f"{where}: {message}")


def rank(
    query: QueryIn,
    rankers: Mapping[str, Ranker],
    weights: Mapping[str, float],
    *,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Score every candidate with the weighted rankers; reasons for each, best first."""
    candidates = [_paper(p) for p in query.candidates]
    given = {str(p.id): item.id for p, item in zip(candidates, query.candidates, strict=True)}
    liked = [_paper(p) for p in query.liked]
    disliked = [_paper(p) for p in query.disliked]
    batch = Batch(
        candidates,
        now=now or utcnow(),
        references={str(p.id): p for p in (*liked, *disliked)},
    )
    profile = Profile(
        interests=query.interests,
        liked=tuple(str(p.id) for p in liked),
        disliked=tuple(str(p.id) for p in disliked),
    )
    total = batch.zeros()
    used = {n: w for n, w in weights.items() if n in rankers and w > 0}
    norm = sum(used.values()) or 1.0
    parts: dict[str, np.ndarray] = {}
    for name, weight in used.items():
        ranker = rankers[name]
        ranker.prepare(batch)
        parts[name] = np.asarray(ranker.score(profile, batch), dtype=np.float64)
        total += weight / norm * parts[name]
    order = np.lexsort((np.arange(len(batch)), -total))
    ranking = []
    for position in order:
        pos = int(position)
        reasons = [
            {"kind": r.kind, "text": r.text, "weight": round(r.weight, 4)}
            for name in used
            if parts[name][pos] > 0
            for r in rankers[name].explain(profile, batch, pos)
        ]
        ranking.append(
            {
                "id": given[str(batch[pos].id)],
                "score": round(float(total[pos]), 6),
                "reasons": reasons,
            }
        )
    return {"query": query.query, "ranking": ranking}


def rank_lines(
    lines: Iterable[str], rankers: Mapping[str, Ranker], weights: Mapping[str, float]
) -> Iterator[dict[str, Any] | BadLine]:
    for item in read_queries(lines):
        yield item if isinstance(item, BadLine) else rank(item, rankers, weights)


def default_weights(names: Sequence[str]) -> dict[str, float]:
    return dict.fromkeys(names, 1.0)
