"""Turning a Hugging Face ``/api/daily_papers`` response into :class:`~digest.models.Paper`s.

Pure functions over bytes, so they can be tested on recorded responses without a network.

What the API returns (measured on responses from 2024 to 2026): a JSON list of items, each with
a ``paper`` object holding the arXiv id, title, summary, authors, the arXiv submission time
(``paper.publishedAt``), upvotes and, since 2025, ``githubRepo``, ``githubStars``,
``ai_keywords`` and ``submittedOnDailyAt`` (when it was put on the daily list). The item's own
``publishedAt`` was the listing time in 2024 responses but is a shifted copy of the arXiv time
in later ones, so the listing time is ``paper.submittedOnDailyAt`` when present.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from digest import (
    SourceError,
    canonical_id,
    one_line,
    parse_arxiv,
    parse_json,
    safe_url,
    strip_invalid,
)
from digest.models import Author, Paper, SignalValue

log = logging.getLogger("digest.source.huggingface")

__all__ = ["DailyPapers", "parse_daily_papers"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyPapers:
    """One parsed response: the papers kept and how many items were skipped and why."""

    papers: tuple[Paper, ...]
    incomplete: int = 0  # items lacking an arXiv id or a title
    below_threshold: int = 0  # papers with fewer upvotes than ``min_upvotes``
    duplicates: int = 0


def parse_daily_papers(
    content: bytes,
    *,
    url: str,
    source: str = "huggingface",
    listing_date: dt.date | None = None,
    min_upvotes: int = 0,
) -> DailyPapers:
    """Parse one ``daily_papers`` response body.

    ``url`` names the request in error messages; ``listing_date`` is the ``date`` asked for
    and becomes each paper's ``announced`` day (when ``None``, the day of the listing time is
    used). Raises :class:`digest.SourceError` naming ``url`` when the body is not the JSON list
    the API documents — an HTML page served with 200, a JSON error object, broken JSON.
    """
    items = _load_list(content, url)
    papers: dict[str, Paper] = {}
    incomplete = below = duplicates = 0
    for item in items:
        paper = _to_paper(item, source=source, listing_date=listing_date)
        if paper is None:
            incomplete += 1
            continue
        upvotes = paper.signals.get("hf.upvotes", 0)
        if isinstance(upvotes, int) and upvotes < min_upvotes:
            below += 1
            continue
        key = str(paper.id)
        if key in papers:
            duplicates += 1
            continue
        papers[key] = paper
    if incomplete:
        # Not an error: the API occasionally lists items without a usable paper record.
        log.debug("%s: skipped %d item(s) lacking an arXiv id or a title", url, incomplete)
    return DailyPapers(
        papers=tuple(papers.values()),
        incomplete=incomplete,
        below_threshold=below,
        duplicates=duplicates,
    )


def _load_list(content: bytes, url: str) -> list[Any]:
    data = parse_json(content, url=url, expected="a JSON list of daily papers")
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        raise SourceError(f"{url}: the API answered with an error: {_clip(data['error'])}")
    raise SourceError(
        f"{url}: expected a JSON list of daily papers, got a JSON {type(data).__name__}"
    )


def _to_paper(item: Any, *, source: str, listing_date: dt.date | None) -> Paper | None:
    """One item as a Paper, or ``None`` when it lacks the core fields (id, title)."""
    if not isinstance(item, Mapping):
        return None
    record = item.get("paper")
    if not isinstance(record, Mapping):
        return None
    raw_id, raw_title = record.get("id"), record.get("title") or item.get("title")
    if not isinstance(raw_id, str) or not isinstance(raw_title, str):
        return None
    ref = parse_arxiv(raw_id)
    title = one_line(strip_invalid(raw_title))
    if ref is None or not title:
        return None
    authors = _authors(record.get("authors"))
    paper_id, version = canonical_id(
        title=title, first_author=authors[0].name if authors else None, arxiv=raw_id
    )
    summary = record.get("summary") or item.get("summary")
    listed = _timestamp(record.get("submittedOnDailyAt")) or _timestamp(item.get("publishedAt"))
    github = safe_url(_text(record.get("githubRepo")))
    announced = listing_date or (listed.date() if listed else None)
    return Paper(
        id=paper_id,
        title=title,
        abstract=one_line(strip_invalid(summary)) if isinstance(summary, str) else "",
        authors=authors,
        url=f"https://arxiv.org/abs/{paper_id.value}",
        pdf_url=f"https://arxiv.org/pdf/{paper_id.value}",
        code_url=github,
        announced=announced,
        published=_timestamp(record.get("publishedAt")),
        version=version,
        sources=(source,),
        signals=_signals(item, record, listed, github),
    )


def _authors(value: Any) -> tuple[Author, ...]:
    # Authors flagged "hidden" only hide their HF profile link; the name is still the author's.
    if not isinstance(value, list):
        return ()
    names = (one_line(strip_invalid(a["name"])) for a in value if _has_name(a))
    return tuple(Author(name=name) for name in names if name)


def _has_name(author: Any) -> bool:
    return isinstance(author, Mapping) and isinstance(author.get("name"), str)


def _signals(
    item: Mapping[str, Any],
    record: Mapping[str, Any],
    listed: dt.datetime | None,
    github: str | None,
) -> dict[str, SignalValue]:
    signals: dict[str, SignalValue] = {}
    upvotes = _integer(record.get("upvotes"))
    if upvotes is not None:
        signals["hf.upvotes"] = upvotes
    if listed is not None:
        signals["hf.listed_at"] = listed.isoformat()
    if github:
        signals["hf.github_repo"] = github
    stars = _integer(record.get("githubStars"))
    if stars is not None:
        signals["hf.github_stars"] = stars
    keywords = record.get("ai_keywords")
    if isinstance(keywords, list):
        words = [one_line(strip_invalid(k)) for k in keywords if isinstance(k, str)]
        # Commas inside a keyword would be read as separators later; they become spaces.
        joined = ", ".join(w.replace(",", " ").strip() for w in words if w)
        if joined:
            signals["hf.keywords"] = joined
    comments = _integer(item.get("numComments"))
    if comments is not None:
        signals["hf.comments"] = comments
    # A picture of the paper's first page, shown on the email card (never attached).
    thumbnail = safe_url(_text(item.get("thumbnail")))
    if thumbnail and thumbnail.startswith("https://"):
        signals["thumbnail"] = thumbnail
    return signals


def _integer(value: Any) -> int | None:
    # bool is an int subclass in Python; JSON true is not a count.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _timestamp(value: Any) -> dt.datetime | None:
    """An aware UTC datetime from the API's ISO 8601 strings (``2025-07-08T01:46:43.501Z``)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:  # the API writes UTC; a naive time is taken as UTC too
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _clip(text: str, limit: int = 200) -> str:
    text = one_line(strip_invalid(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"
