"""Turning one Crossref ``/journals/{issn}/works`` reply into :class:`~digest.models.Paper`s.

Pure functions over bytes, so they can be tested without a network.

A reply (Crossref REST API, ``message-type`` "work-list") is ``{"status": "ok", "message":
{"total-results": N, "items": [...], "items-per-page": R, "next-cursor": "..."}}``. Each item
is a work: ``DOI``, ``title`` (a list), ``author`` (``given``/``family`` or ``name``,
``ORCID``, ``affiliation`` as a list of ``{"name": …}``), ``abstract`` (a JATS fragment),
``container-title``, ``ISSN``, ``type``, ``created`` (``date-time``), ``published`` /
``issued`` (``date-parts`` such as ``[[2025, 6, 3]]``, sometimes only year and month),
``URL``, ``link`` (full-text links with a ``content-type``), ``subject`` and ``relation``
(``has-preprint`` / ``is-preprint-of``: lists of ``{"id-type": "doi"|"arxiv", "id": …}``).
Errors come as ``{"status": "failed", "message-type": "validation-failure", "message":
[{"message": "…"}, …]}``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from digest import (
    SourceError,
    canonical_id,
    canonical_ref,
    normalize_doi,
    one_line,
    parse_json,
    safe_url,
    strip_invalid,
)
from digest.models import Author, Paper, SignalValue

from .jats import jats_text

__all__ = ["RELATIONS", "SELECT", "WorksPage", "api_error_message", "parse_works"]

#: the fields asked for with ``select`` (the rest of a work's record is not read)
SELECT = (
    "DOI",
    "title",
    "author",
    "abstract",
    "container-title",
    "ISSN",
    "type",
    "created",
    "published",
    "issued",
    "URL",
    "link",
    "subject",
    "relation",
)
#: relations naming the same work in another version: their ids become aliases
RELATIONS = ("has-preprint", "is-preprint-of")


@dataclass(frozen=True, slots=True, kw_only=True)
class WorksPage:
    """One parsed reply: the papers kept, how many items it held, the total, the cursor for
    the next page, and the items left out (incomplete ones, and types not asked for)."""

    papers: tuple[Paper, ...]
    items: int
    total: int | None
    next_cursor: str | None
    incomplete: int = 0  # items without a DOI or a title
    other_types: int = 0  # items of a type not in ``types``


def parse_works(
    content: bytes,
    *,
    url: str,
    issn: str,
    types: Collection[str],
    source: str = "crossref",
    limit: int | None = None,
) -> WorksPage:
    """Parse one works reply (only its first ``limit`` items when given).

    Raises :class:`digest.SourceError` naming ``url`` when the body is not the documented
    JSON or Crossref reports a failure.
    """
    data = _load(content, url)
    if data.get("status") != "ok":
        detail = api_error_message(content) or f"status {_clip(str(data.get('status')))}"
        raise SourceError(f"{url}: Crossref refused the request: {detail}")
    message = data.get("message")
    if not isinstance(message, Mapping) or not isinstance(message.get("items"), list):
        raise SourceError(f"{url}: no 'message.items' list in the reply")
    items: list[Any] = message["items"]
    if limit is not None:
        items = items[:limit]
    papers: dict[str, Paper] = {}
    incomplete = other = 0
    for item in items:
        if isinstance(item, Mapping) and _text(item.get("type")) not in types:
            other += 1
            continue
        paper = _to_paper(item, source=source, issn=issn)
        if paper is None:
            incomplete += 1
            continue
        papers.setdefault(str(paper.id), paper)
    cursor = message.get("next-cursor")
    return WorksPage(
        papers=tuple(papers.values()),
        items=len(items),
        total=_integer(message.get("total-results")),
        next_cursor=cursor if isinstance(cursor, str) and cursor else None,
        incomplete=incomplete,
        other_types=other,
    )


def api_error_message(content: bytes) -> str | None:
    """The messages of a Crossref error reply (``"status": "failed"``), joined on one line."""
    try:
        data = json.loads(content)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, Mapping) or data.get("status") != "failed":
        return None
    found = data.get("message")
    entries = found if isinstance(found, list) else [found]
    texts = [entry.get("message") if isinstance(entry, Mapping) else entry for entry in entries]
    joined = "; ".join(one_line(t) for t in texts if isinstance(t, str) and t.strip())
    return _clip(joined) if joined else None


def _load(content: bytes, url: str) -> dict[str, Any]:
    data = parse_json(content, url=url, expected="Crossref's JSON")
    if not isinstance(data, dict):
        raise SourceError(f"{url}: expected a JSON object, got a JSON {type(data).__name__}")
    return data


def _to_paper(item: Any, *, source: str, issn: str) -> Paper | None:
    """One work as a Paper, or ``None`` when it lacks a DOI or a title."""
    if not isinstance(item, Mapping):
        return None
    raw_doi = item.get("DOI")
    doi = normalize_doi(raw_doi) if isinstance(raw_doi, str) else None
    title = _first(item.get("title"), jats_text)
    if doi is None or not title:
        return None
    authors = _authors(item.get("author"))
    paper_id, version = canonical_id(
        title=title, first_author=authors[0].name if authors else None, doi=doi
    )
    created = _date_time(item.get("created"))
    published = _full_date(item.get("published")) or _full_date(item.get("issued"))
    moment = dt.datetime.combine(published, dt.time(), tzinfo=dt.UTC) if published else created
    return Paper(
        id=paper_id,
        title=title,
        abstract=jats_text(item.get("abstract")),
        authors=authors,
        categories=tuple(_texts(item.get("subject"))),
        url=safe_url(_text(item.get("URL"))) or safe_url(f"https://doi.org/{doi}"),
        pdf_url=_pdf(item.get("link")),
        doi=doi,
        announced=created.date() if created else published,
        published=moment,
        version=version,
        sources=(source,),
        signals=_signals(item, issn),
        aliases=_aliases(item.get("relation"), str(paper_id)),
    )


def _authors(value: Any) -> tuple[Author, ...]:
    if not isinstance(value, list):
        return ()
    authors = []
    for person in value:
        if not isinstance(person, Mapping):
            continue
        given, family = _text(person.get("given")), _text(person.get("family"))
        name = " ".join(p for p in (given, family) if p) or _text(person.get("name")) or ""
        name = one_line(strip_invalid(name))
        if not name:
            continue
        affiliations = person.get("affiliation")
        affiliation = (
            _first([a.get("name") for a in affiliations if isinstance(a, Mapping)], _plain)
            if isinstance(affiliations, list)
            else ""
        )
        authors.append(Author(name=name, affiliation=affiliation or None))
    return tuple(authors)


def _aliases(relation: Any, own: str) -> tuple[str, ...]:
    """The ids of the work's preprint or journal version (DOIs and arXiv ids)."""
    if not isinstance(relation, Mapping):
        return ()
    found: list[str] = []
    for kind in RELATIONS:
        entries = relation.get(kind)
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, Mapping) or _text(entry.get("id-type")) not in (
                "doi",
                "arxiv",
            ):
                continue
            value = _text(entry.get("id"))
            ref = canonical_ref(value) if value else None
            if ref and ref != own:
                found.append(ref)
    return tuple(dict.fromkeys(found))


def _signals(item: Mapping[str, Any], issn: str) -> dict[str, SignalValue]:
    signals: dict[str, SignalValue] = {"crossref.issn": issn}
    journal = _first(item.get("container-title"), jats_text)
    if journal:
        signals["crossref.journal"] = journal
    kind = _text(item.get("type"))
    if kind:
        signals["crossref.type"] = kind
    return signals


def _pdf(links: Any) -> str | None:
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, Mapping) and _text(link.get("content-type")) == "application/pdf":
            url = safe_url(_text(link.get("URL")))
            if url:
                return url
    return None


def _full_date(value: Any) -> dt.date | None:
    """A day from Crossref's ``{"date-parts": [[2025, 6, 3]]}``; ``None`` for a partial date
    (year and month only) or anything unreadable."""
    parts = value.get("date-parts") if isinstance(value, Mapping) else None
    first = parts[0] if isinstance(parts, list) and parts else None
    if not isinstance(first, list) or len(first) < 3:
        return None
    if not all(isinstance(p, int) and not isinstance(p, bool) for p in first[:3]):
        return None
    try:
        return dt.date(first[0], first[1], first[2])
    except ValueError:
        return None


def _date_time(value: Any) -> dt.datetime | None:
    """The aware UTC time of ``{"date-time": "2025-06-03T10:11:12Z"}``."""
    text = _text(value.get("date-time")) if isinstance(value, Mapping) else None
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _first(value: Any, convert: Callable[[str], str]) -> str:
    """The first non-empty text of a list of strings (Crossref writes titles as lists)."""
    for text in value if isinstance(value, list) else [value]:
        converted: str = convert(text) if isinstance(text, str) else ""
        if converted:
            return converted
    return ""


def _texts(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [t for t in (_plain(v) for v in value if isinstance(v, str)) if t]


def _plain(value: str) -> str:
    return one_line(strip_invalid(value))


def _integer(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _clip(text: str, limit: int = 300) -> str:
    text = one_line(strip_invalid(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"
