"""The shared corpus of real arXiv announcements as :class:`~digest.models.Paper` records.

``../shared/corpora/arxiv_daily_2025.jsonl.gz``: one JSON object per paper (id, title,
abstract, authors, categories, announced), in announcement order. The benchmarks import this
module as a sibling (they run as ``python benchmarks/<name>.py``).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from digest import canonical_id
from digest.models import Author, Paper

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "arxiv_daily_2025.jsonl.gz"


def corpus_paper(record: dict[str, Any], announced: dt.date | None = None) -> Paper:
    """One corpus line as a Paper (``announced`` overrides the recorded day)."""
    return Paper(
        id=canonical_id(title=record["title"], arxiv=record["id"])[0],
        title=record["title"],
        abstract=record["abstract"],
        authors=tuple(Author(name=a) for a in record["authors"]),
        categories=tuple(record["categories"]),
        url=f"https://arxiv.org/abs/{record['id']}",
        pdf_url=f"https://arxiv.org/pdf/{record['id']}",
        announced=announced or dt.date.fromisoformat(record["announced"]),
        sources=("corpus",),
    )


def corpus_papers(limit: int | None = None, announced: dt.date | None = None) -> Iterator[Paper]:
    """The corpus's papers in order, at most ``limit`` of them."""
    with gzip.open(CORPUS, "rt", encoding="utf-8") as handle:
        for count, line in enumerate(handle):
            if limit is not None and count >= limit:
                return
            yield corpus_paper(json.loads(line), announced)
