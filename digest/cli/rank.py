"""``digest rank --batch``: rank given candidates for given profiles, one JSON line each.

Input lines are read by :mod:`digest.cli.queries`. Output lines: ``{"query": str, "ranking":
[{"id", "score", "reasons"}]}`` covering every candidate, best first. The rankers and weights
are the run's (``[selection] rankers``) unless named. Used for evaluation and by tools that
keep their own paper lists.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import click

from digest.cli.common import config_option
from digest.errors import DigestError

if TYPE_CHECKING:
    import numpy as np

    from digest.cli.queries import BadLine, PaperIn, QueryIn
    from digest.components import Ranker
    from digest.models import Paper


def register(cli: click.Group) -> None:
    cli.add_command(rank_command)


@click.command("rank")
@config_option
@click.option(
    "--batch",
    "batch_file",
    type=click.File("r"),
    required=True,
    help="JSON Lines of queries ('-' for standard input).",
)
@click.option(
    "--ranker",
    "ranker_names",
    multiple=True,
    help="Registered ranker to use (repeatable; equal weights). "
    "Default: the [selection] rankers and weights of the config.",
)
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
def rank_command(
    config: Path | None, strict: bool, batch_file: IO[str], ranker_names: tuple[str, ...], fmt: str
) -> None:
    """Rank the candidates of each query line for its liked papers and interests."""
    from digest.application import Application
    from digest.cli.queries import BadLine

    with Application.from_path(config, strict=strict) as app:
        rankers: Mapping[str, Ranker]
        if ranker_names:
            registered = app.host.components("rankers")
            unknown = [n for n in ranker_names if n not in registered]
            if unknown:
                known = ", ".join(sorted(registered))
                raise DigestError(f"unknown ranker {unknown[0]!r} (known: {known})")
            runtime = app.runtime
            rankers = {
                n: cast(
                    "Ranker[Any]",
                    registered[n].cls(registered[n].cls.Config(), instance=n, runtime=runtime),
                )
                for n in ranker_names
            }
            weights = default_weights(ranker_names)
        else:
            pipeline = app.pipeline
            rankers, weights = pipeline.c.rankers, pipeline.c.weights
        bad = 0
        for item in rank_lines(batch_file, rankers, weights):
            if isinstance(item, BadLine):
                bad += 1
                click.echo(f"Error: {batch_file.name}:{item.number}: {item.message}", err=True)
            else:
                click.echo(json.dumps(item, ensure_ascii=False))
    if bad:
        raise SystemExit(1)


def _paper(item: PaperIn) -> Paper:
    from digest.identity import canonical_id
    from digest.models import Author, Paper, PaperId

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


def rank(
    query: QueryIn,
    rankers: Mapping[str, Ranker],
    weights: Mapping[str, float],
    *,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Score every candidate with the weighted rankers; reasons for each, best first."""
    import numpy as np

    from digest.batch import Batch
    from digest.models import Profile
    from digest.store import utcnow

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
    from digest.cli.queries import BadLine, read_queries

    for item in read_queries(lines):
        yield item if isinstance(item, BadLine) else rank(item, rankers, weights)


def default_weights(names: Sequence[str]) -> dict[str, float]:
    return dict.fromkeys(names, 1.0)
