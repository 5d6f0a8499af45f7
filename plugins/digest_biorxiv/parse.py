"""Turning one reply of the bioRxiv/medRxiv ``details`` API into :class:`~digest.models.Paper`s.

Pure functions over bytes, so they can be tested without a network.

The reply of ``GET https://api.biorxiv.org/details/{server}/{from}/{to}/{cursor}/json``
(documented at api.biorxiv.org) is a JSON object with a ``messages`` list whose first entry
says how the request went — ``status`` ("ok", or "no posts found" for an interval without
posts), ``cursor``, ``count`` (records in this reply, at most 100) and ``total`` (records in
the whole interval; numbers are sometimes written as strings) — and a ``collection`` of
records, one per posted *version* of a preprint: ``doi``, ``title``, ``authors``
("Family, I.; Family, I."), ``author_corresponding``, ``date``, ``version``, ``type``,
``license``, ``category``, ``jatsxml``, ``abstract``, ``published`` ("NA" or the journal
article's DOI) and ``server``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from digest import (
    SourceError,
    canonical_id,
    normalize_doi,
    one_line,
    parse_json,
    split_authors,
    strip_invalid,
)
from digest.models import Author, Paper, SignalValue

from .text import html_text

__all__ = ["SERVERS", "DetailsPage", "api_error_status", "parse_details"]

#: the servers the API serves, and the site each one's papers are read on
SERVERS = {"biorxiv": "https://www.biorxiv.org", "medrxiv": "https://www.medrxiv.org"}
NO_POSTS = "no posts found"


@dataclass(frozen=True, slots=True, kw_only=True)
class DetailsPage:
    """One parsed reply: its papers (one per DOI, the newest version), how many records it
    held (the cursor moves on by this many), the interval's total, and the records skipped."""

    papers: tuple[Paper, ...]
    records: int
    total: int | None
    skipped: int = 0  # records without a DOI or a title


def parse_details(
    content: bytes,
    *,
    url: str,
    source: str = "biorxiv",
    server: str = "biorxiv",
    limit: int | None = None,
) -> DetailsPage:
    """Parse one ``details`` reply; only its first ``limit`` records when given.

    ``url`` names the request in error messages; ``server`` is the server asked, used when a
    record does not name its own. Raises :class:`digest.SourceError` naming ``url`` when the
    body is not the documented JSON object or the API reports a status other than "ok" or
    "no posts found".
    """
    data = _load(content, url)
    message = _first_message(data, url)
    status = one_line(str(message.get("status", ""))).lower()
    if status == NO_POSTS:  # an interval nobody posted in: a valid empty answer
        return DetailsPage(papers=(), records=0, total=0)
    if status != "ok":
        raise SourceError(f"{url}: the API answered: {_clip(status or 'no status')}")
    collection = data.get("collection", [])
    if not isinstance(collection, list):
        raise SourceError(f"{url}: 'collection' is not a list of records")
    records = collection if limit is None else collection[:limit]
    papers: dict[str, Paper] = {}
    skipped = 0
    for record in records:
        paper = _to_paper(record, source=source, server=server)
        if paper is None:
            skipped += 1
            continue
        key = str(paper.id)
        if key not in papers or _newer(paper, papers[key]):
            papers[key] = paper  # several versions in one reply: the newest wins
    return DetailsPage(
        papers=tuple(papers.values()),
        records=len(records),
        total=_integer(message.get("total")),
        skipped=skipped,
    )


def api_error_status(content: bytes) -> str | None:
    """The ``messages[0].status`` of an error reply (served with an HTTP error), if any."""
    try:
        data = json.loads(content)
    except (UnicodeDecodeError, ValueError):
        return None
    messages = data.get("messages") if isinstance(data, dict) else None
    if isinstance(messages, list) and messages and isinstance(messages[0], Mapping):
        status = messages[0].get("status")
        if isinstance(status, str) and status.strip():
            return _clip(status)
    return None


def _newer(paper: Paper, other: Paper) -> bool:
    return (paper.version or 0) > (other.version or 0)


def _load(content: bytes, url: str) -> dict[str, Any]:
    data = parse_json(content, url=url, expected="the API's JSON object")
    if not isinstance(data, dict):
        raise SourceError(f"{url}: expected a JSON object, got a JSON {type(data).__name__}")
    return data


def _first_message(data: Mapping[str, Any], url: str) -> Mapping[str, Any]:
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], Mapping):
        raise SourceError(f"{url}: no 'messages' block in the reply")
    return messages[0]


def _to_paper(record: Any, *, source: str, server: str) -> Paper | None:
    """One record as a Paper, or ``None`` when it lacks a DOI or a title."""
    if not isinstance(record, Mapping):
        return None
    raw_doi = record.get("doi")
    doi = normalize_doi(raw_doi) if isinstance(raw_doi, str) else None
    title = html_text(record.get("title"))
    if doi is None or not title:
        return None
    names = split_authors(record["authors"]) if isinstance(record.get("authors"), str) else []
    authors = tuple(Author(name=name) for name in names)
    paper_id, _ = canonical_id(title=title, first_author=names[0] if names else None, doi=doi)
    version = _integer(record.get("version"))
    home = _server(record.get("server"), server)
    landing = f"{SERVERS[home]}/content/{doi}" + (f"v{version}" if version else "")
    posted = _day(record.get("date"))
    moment = dt.datetime.combine(posted, dt.time(), tzinfo=dt.UTC) if posted else None
    category = one_line(strip_invalid(_text(record.get("category")) or ""))
    return Paper(
        id=paper_id,
        title=title,
        abstract=html_text(record.get("abstract")),
        authors=authors,
        categories=(category,) if category else (),
        url=landing,
        pdf_url=f"{landing}.full.pdf",
        doi=doi,
        announced=posted,
        # A record is one version: the first is the preprint's publication, later ones updates.
        published=moment if version in (None, 1) else None,
        updated=moment if version not in (None, 1) else None,
        version=version,
        sources=(source,),
        signals=_signals(record, home),
        aliases=_aliases(record.get("published"), doi),
    )


def _aliases(published: Any, doi: str) -> tuple[str, ...]:
    """The journal article's DOI ("NA" while there is none): the two merge into one paper."""
    journal = normalize_doi(published) if isinstance(published, str) else None
    return (f"doi:{journal}",) if journal and journal != doi else ()


def _signals(record: Mapping[str, Any], server: str) -> dict[str, SignalValue]:
    signals: dict[str, SignalValue] = {"biorxiv.server": server}
    for key in ("type", "license"):
        value = _text(record.get(key))
        if value:
            signals[f"biorxiv.{key}"] = one_line(strip_invalid(value))
    return signals


def _server(value: Any, asked: str) -> str:
    name = value.strip().lower() if isinstance(value, str) else ""
    return name if name in SERVERS else asked


def _integer(value: Any) -> int | None:
    """A count or version as the API writes it: a JSON number or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _day(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip()) if isinstance(value, str) else None
    except ValueError:
        return None


def _clip(text: str, limit: int = 200) -> str:
    text = one_line(strip_invalid(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"
