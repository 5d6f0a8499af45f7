"""Turning Semantic Scholar replies into :class:`~digest.models.Paper` records.

Pure functions over bytes, so they can be tested on hand-written replies without a network.

The two replies read (S2 API documentation, "Recommendations" and "Academic Graph"):

* ``GET /recommendations/v1/papers/forpaper/{id}`` answers ``{"recommendedPapers": [paper…]}``
  (an empty list is a valid answer: S2 has nothing to recommend yet);
* ``GET /graph/v1/author/{id}/papers`` answers ``{"offset": N, "next": M, "data": [paper…]}``,
  without ``next`` on the last page.

A paper has the fields asked for in ``fields``: ``paperId``, ``externalIds`` (``ArXiv``,
``DOI``, ``CorpusId``, ``PubMed`` …), ``title``, ``abstract`` (may be null), ``authors``
(``[{"authorId", "name"}]``), ``year``, ``publicationDate`` (``YYYY-MM-DD`` or null),
``venue``, ``url`` (the S2 page), ``openAccessPdf`` (``{"url", "status", …}`` or null),
``fieldsOfStudy`` (``["Computer Science"]`` or null), ``s2FieldsOfStudy``
(``[{"category", "source"}]``), ``citationCount`` and ``tldr`` (``{"model", "text"}`` or
null). Errors come as ``{"error": "…"}`` (400 bad fields, 404 "Paper with id … not found") or,
from the gateway, ``{"message": "…"}`` (429, 403).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from digest import SourceError, canonical_id, canonical_ref, normalize_doi, parse_json, safe_url
from digest.models import Author, Paper, SignalValue

from .ids import record_keys
from .text import plain_text

__all__ = [
    "Found",
    "Page",
    "api_error",
    "parse_author_papers",
    "parse_recommendations",
    "publication_day",
    "to_paper",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Found:
    """One paper of a reply and the S2 ids it is known by (to match liked/disliked ids)."""

    paper: Paper
    keys: frozenset[str]
    #: the day it was published: ``publicationDate``, else 1 January of ``year``, else None
    day: dt.date | None
    #: its position in the reply, from 1 (S2 lists recommendations best first)
    position: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """One parsed reply: the papers kept, how many records were skipped, the next offset."""

    found: tuple[Found, ...]
    records: int  # records in the reply, skipped ones included
    skipped: int  # records without a title (or not a JSON object)
    next_offset: int | None = None


def parse_recommendations(content: bytes, *, url: str, source: str) -> Page:
    """Parse a ``recommendedPapers`` reply; raises :class:`digest.SourceError` naming ``url``
    when it is not the documented shape (an HTML page, broken JSON, an error object)."""
    data = _load_object(content, url)
    items = data.get("recommendedPapers")
    if not isinstance(items, list):
        raise _not_a_list(content, url, "no 'recommendedPapers' list in the reply")
    return _page(items, source=source)


def parse_author_papers(content: bytes, *, url: str, source: str) -> Page:
    """Parse one page of an author's papers (``offset``/``next``/``data``)."""
    data = _load_object(content, url)
    items = data.get("data")
    if not isinstance(items, list):
        raise _not_a_list(content, url, "no 'data' list of papers in the reply")
    after = _integer(data.get("next"))
    return _page(items, source=source, next_offset=after)


def api_error(content: bytes) -> str | None:
    """The message of an S2 error reply (``{"error": …}`` or ``{"message": …}``), if it is one."""
    try:
        data = json.loads(content)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, Mapping):
        return None
    for key in ("error", "message"):
        message = data.get(key)
        if isinstance(message, str) and message.strip():
            return _clip(message)
    return None


def to_paper(record: Any, *, source: str, position: int = 1) -> Found | None:
    """One S2 paper record as a :class:`Found`, or ``None`` when it has no usable title."""
    if not isinstance(record, Mapping):
        return None
    title = plain_text(record.get("title"))
    if not title:
        return None
    authors = _authors(record.get("authors"))
    external = record.get("externalIds")
    external = external if isinstance(external, Mapping) else {}
    arxiv = _text(external.get("ArXiv"))
    raw_doi = _text(external.get("DOI"))
    doi = normalize_doi(raw_doi) if raw_doi else None
    paper_id, version = canonical_id(
        title=title, first_author=authors[0].name if authors else None, arxiv=arxiv, doi=doi
    )
    aliases: tuple[str, ...] = ()
    if doi and paper_id.kind == "arxiv" and canonical_ref(doi) != str(paper_id):
        # The journal version's DOI: the store links it, so a journal sighting merges here.
        aliases = (f"doi:{doi}",)
    day = publication_day(record)
    dated = _date(record.get("publicationDate"))
    pdf = record.get("openAccessPdf")
    pdf_url = safe_url(_text(pdf.get("url"))) if isinstance(pdf, Mapping) else None
    if paper_id.kind == "arxiv":
        url: str | None = f"https://arxiv.org/abs/{paper_id.value}"
        pdf_url = pdf_url or f"https://arxiv.org/pdf/{paper_id.value}"
    elif paper_id.kind == "doi":
        url = safe_url(f"https://doi.org/{paper_id.value}")
    else:
        url = safe_url(_text(record.get("url")))
    paper = Paper(
        id=paper_id,
        title=title,
        abstract=plain_text(record.get("abstract")),
        authors=authors,
        url=url,
        pdf_url=pdf_url,
        doi=doi,
        published=(
            dt.datetime.combine(dated, dt.time(), tzinfo=dt.UTC) if dated is not None else None
        ),
        version=version,
        sources=(source,),
        signals=_signals(record),
        aliases=aliases,
    )
    return Found(paper=paper, keys=frozenset(record_keys(record)), day=day, position=position)


def publication_day(record: Mapping[str, Any]) -> dt.date | None:
    """``publicationDate``; for a paper with only a ``year``, 1 January of it (as S2's own
    ``publicationDateOrYear`` filter counts it); ``None`` when it has neither."""
    dated = _date(record.get("publicationDate"))
    if dated is not None:
        return dated
    year = _integer(record.get("year"))
    if year is not None and dt.MINYEAR <= year <= dt.MAXYEAR:
        return dt.date(year, 1, 1)
    return None


# -- internals ---------------------------------------------------------------------------------


def _page(items: list[Any], *, source: str, next_offset: int | None = None) -> Page:
    found: list[Found] = []
    skipped = 0
    for position, item in enumerate(items, start=1):
        paper = to_paper(item, source=source, position=position)
        if paper is None:
            skipped += 1
        else:
            found.append(paper)
    return Page(found=tuple(found), records=len(items), skipped=skipped, next_offset=next_offset)


def _load_object(content: bytes, url: str) -> Mapping[str, Any]:
    if not content.strip():
        raise SourceError(f"{url}: empty reply, expected a JSON object")
    data = parse_json(content, url=url, expected="a JSON object")
    if not isinstance(data, Mapping):
        raise SourceError(f"{url}: expected a JSON object, got a JSON {type(data).__name__}")
    return data


def _not_a_list(content: bytes, url: str, problem: str) -> SourceError:
    # An error object served with 200 says what is wrong better than "no list".
    message = api_error(content)
    if message is not None:
        return SourceError(f"{url}: the API answered with an error: {message}")
    return SourceError(f"{url}: {problem}")


def _authors(value: Any) -> tuple[Author, ...]:
    if not isinstance(value, list):
        return ()
    names = (plain_text(a.get("name")) for a in value if isinstance(a, Mapping))
    return tuple(Author(name=name) for name in names if name)


def _signals(record: Mapping[str, Any]) -> dict[str, SignalValue]:
    signals: dict[str, SignalValue] = {}
    paper_id = _text(record.get("paperId"))
    if paper_id:
        signals["s2.paper_id"] = paper_id
    external = record.get("externalIds")
    if isinstance(external, Mapping):
        corpus = external.get("CorpusId")
        corpus_id = _integer(corpus)
        if corpus_id is None and isinstance(corpus, str) and corpus.isdigit():
            corpus_id = int(corpus)  # S2 writes it as a number; a string is read too
        if corpus_id is not None:
            signals["s2.corpus_id"] = corpus_id
    citations = _integer(record.get("citationCount"))
    if citations is not None:
        signals["s2.citations"] = citations
    venue = plain_text(record.get("venue"))
    if venue:
        signals["s2.venue"] = venue
    tldr = record.get("tldr")
    if isinstance(tldr, Mapping):
        summary = plain_text(tldr.get("text"))
        if summary:
            signals["s2.tldr"] = summary
    fields = _fields_of_study(record)
    if fields:
        signals["s2.fields"] = ", ".join(fields)
    year = _integer(record.get("year"))
    if year is not None:
        signals["s2.year"] = year
    return signals


def _fields_of_study(record: Mapping[str, Any]) -> list[str]:
    """``fieldsOfStudy`` then the ``s2FieldsOfStudy`` categories, each once."""
    names: list[str] = []
    external = record.get("fieldsOfStudy")
    if isinstance(external, list):
        names.extend(plain_text(name) for name in external)
    model = record.get("s2FieldsOfStudy")
    if isinstance(model, list):
        names.extend(plain_text(f.get("category")) for f in model if isinstance(f, Mapping))
    # Commas inside a name would be read as separators later: they become spaces.
    return list(dict.fromkeys(" ".join(n.replace(",", " ").split()) for n in names if n))


def _integer(value: Any) -> int | None:
    # bool is an int subclass in Python; JSON true is not a count.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _clip(text: str, limit: int = 300) -> str:
    text = plain_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
