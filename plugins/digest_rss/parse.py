"""Reading any RSS 2.0 / RSS 1.0 (RDF) / Atom document into :class:`~digest.models.Paper`s.

Pure functions over bytes, so they can be tested on recorded documents without a network.

Two things feedparser does not do for us:

* **Health.** ``bozo`` is not a health check: an HTML page or an empty body parses with
  ``bozo=False`` and no entries, and a truncated document parses with ``bozo=True`` and the
  entries before the cut. :func:`read_feed` accepts a document only when feedparser recognised
  a feed format and the XML is complete: a partial result would be stored as a success and
  advance the conditional-GET validators, so the rest of the feed would never be read.
* **Identity.** Items carry their identifiers in many places (guid, links, ``dc:identifier``,
  ``prism:doi``); :func:`entry_to_paper` hands them all to :func:`digest.canonical_id`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import io
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit, urlunsplit
from xml.parsers import expat
from xml.sax import SAXParseException

import feedparser

from digest import (
    SourceError,
    canonical_id,
    normalize_doi,
    one_line,
    parse_arxiv,
    safe_url,
    strip_invalid,
    truncate,
)
from digest.models import Author, Paper, PaperId, SignalValue

from .raw import RawItem, raw_items
from .recover import repair
from .text import html_to_text, reading_order, split_authors

log = logging.getLogger("digest.source.feed")

__all__ = ["ABSTRACT_LIMIT", "ParsedFeed", "entry_to_paper", "parse_feed", "read_feed"]

#: Abstracts longer than this are cut: a feed of full blog posts must not fill the store.
ABSTRACT_LIMIT = 5_000

# Strict-parser errors that do not cut the document short: HTML entities such as &nbsp; that
# XML does not define, and namespace prefixes used without a declaration. feedparser's loose
# parser reads such documents completely, once a second check confirms they are complete.
_RECOVERABLE = frozenset({"undefined entity", "unbound prefix"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
# arXiv's feeds prefix every description with "arXiv:<id>v<N> Announce Type: <type> Abstract:".
_ARXIV_PREFIX = re.compile(r"^arXiv:\S+\s+Announce Type:\s*[\w-]+\s+Abstract:\s*", re.I)
# arXiv's legacy RSS 1.0 export ends titles with ". (arXiv:1805.09166v1 [hep-ex] CROSS LISTED)"
_ARXIV_SUFFIX = re.compile(
    r"\.?\s*\(arXiv:(?P<id>[^\s\[\]()]+)\s*(?:\[[^\]]*\])?\s*(?:UPDATED|CROSS LISTED)?\)\s*$"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedFeed:
    """One parsed document: the feed's title and format, its papers and what was skipped."""

    title: str
    version: str
    papers: tuple[Paper, ...]
    untitled: int = 0  # entries without a title
    duplicates: int = 0  # entries for a work already seen earlier in the document
    beyond_limit: int = 0  # entries after ``max_items``
    #: how the document was ill-formed and what was done about it (for source health)
    warnings: tuple[str, ...] = ()
    #: only part of the document could be read (it was cut off): fetch it whole next time
    partial: bool = False


def parse_feed(
    content: bytes,
    *,
    url: str,
    source: str = "feed",
    label: str | None = None,
    max_items: int = 500,
) -> ParsedFeed:
    """Parse a feed document into papers (first ``max_items`` entries, duplicates dropped).

    ``url`` is the document's address: it names the feed in errors and resolves relative
    links. ``label`` is kept as the ``feed.name`` signal (default: the feed's own title).
    Raises :class:`digest.SourceError` when the document is not a complete feed.
    """
    warnings: tuple[str, ...] = ()
    complete: int | None = None
    try:
        document = read_feed(content, url=url)
    except SourceError as error:
        # Ill-formed in a way a lenient reader gets past: read it so, and say so.
        repaired = repair(content) if "ill-formed XML" in str(error) else None
        if repaired is None:
            raise
        document = read_feed(repaired.content, url=url)
        content, warnings, complete = repaired.content, repaired.fixes, repaired.complete_items
        log.info("%s: ill-formed XML read leniently: %s", url, "; ".join(warnings))
    title = one_line(strip_invalid(_string(document.feed.get("title")) or ""))
    entries = list(document.entries)
    if complete is not None:
        entries = entries[:complete]  # the item being written when the document broke off
    raw = raw_items(content) if _has_collapsed_fields(content) else None
    if raw is not None and len(raw) < len(entries):
        raw = None  # cannot pair them up: feedparser's view alone
    inherited = _feed_authors(document)
    papers: dict[str, Paper] = {}
    untitled = duplicates = 0
    for index, entry in enumerate(entries[:max_items]):
        paper = entry_to_paper(
            entry,
            source=source,
            base=url,
            label=label or title or None,
            raw=raw[index] if raw is not None else None,
            feed_authors=inherited,
        )
        if paper is None:
            untitled += 1
            continue
        if str(paper.id) in papers:
            duplicates += 1
            continue
        papers[str(paper.id)] = paper
    if untitled:
        log.debug("%s: skipped %d entries without a title", url, untitled)
    return ParsedFeed(
        title=title,
        version=str(document.get("version") or ""),
        papers=tuple(papers.values()),
        untitled=untitled,
        duplicates=duplicates,
        beyond_limit=max(0, len(entries) - max_items),
        warnings=tuple(f"ill-formed XML read leniently: {w}" for w in warnings),
        partial=complete is not None,
    )


def _has_collapsed_fields(content: bytes) -> bool:
    """Whether the document has elements feedparser keeps only one of (cheap byte check)."""
    return b"dc/elements/1.1/" in content or b"prismstandard.org" in content


def _feed_authors(document: Any) -> tuple[Author, ...]:
    """An Atom feed's own authors, which entries without any inherit (RFC 4287 §4.2.1)."""
    if not str(document.get("version") or "").startswith("atom"):
        return ()
    names = [
        one_line(strip_invalid(n))
        for a in document.feed.get("authors") or ()
        if isinstance(a, Mapping) and (n := _string(a.get("name")))
    ]
    return tuple(Author(name=reading_order(n)) for n in names if n)


def read_feed(content: bytes, *, url: str) -> Any:
    """feedparser's result for ``content`` if it is a complete feed, else :class:`SourceError`.

    A well-formed feed with no entries is valid (arXiv on weekends). A wrongly declared
    character encoding is tolerated (feedparser re-decodes and reports
    ``CharacterEncodingOverride``); HTML pages, empty bodies, other documents and truncated or
    ill-formed XML are errors.
    """
    # Always a file object: given bytes, feedparser first tries them as a *file name*, so a
    # body such as b"/home/me/digests/alice/feed.xml" would make it read that local file.
    try:
        document = feedparser.parse(io.BytesIO(content))
    except Exception as failure:  # its handlers can raise past it (UndeclaredNamespace, …)
        reason = f"{type(failure).__name__}: {_first_line(failure)}"
        raise SourceError(f"{url}: unreadable feed ({reason})") from None
    if not document.get("version"):
        raise SourceError(f"{url}: not an RSS/Atom feed ({_what_is(content, document)})")
    error = document.get("bozo_exception") if document.get("bozo") else None
    if error is None or isinstance(
        error, feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType
    ):
        if error is not None:
            log.debug("%s: %s", url, error)
        return document
    if isinstance(error, SAXParseException) and error.getMessage() in _RECOVERABLE:
        problem = _incomplete(content, document.get("encoding") or "utf-8")
        if problem is None:
            log.debug("%s: %s; read leniently (the document is complete)", url, _where(error))
            return document
        raise SourceError(f"{url}: ill-formed XML ({problem}); not using a partial feed")
    if isinstance(error, SAXParseException):
        raise SourceError(f"{url}: ill-formed XML ({_where(error)}); not using a partial feed")
    raise SourceError(f"{url}: unreadable feed ({type(error).__name__}: {_first_line(error)})")


def _incomplete(content: bytes, encoding: str) -> str | None:
    """Why the document is not complete XML, ignoring undefined entities and prefixes.

    expat without namespace processing does not check prefixes, and with a "foreign DTD"
    undefined entities are skipped rather than fatal; anything else it reports — above all
    "no element found" for a cut-off document — means the loose parser saw only part of it.
    """
    try:
        text = content.decode(encoding).lstrip("\ufeff")
    except (LookupError, UnicodeDecodeError) as error:
        return f"cannot decode as {encoding}: {_first_line(error)}"
    # The text is re-encoded as UTF-8 and the parser told so, overriding the declaration.
    parser = expat.ParserCreate(encoding="utf-8")
    parser.UseForeignDTD(True)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(text.encode("utf-8"), True)
    except expat.ExpatError as error:
        return f"{expat.ErrorString(error.code)} at line {error.lineno}, column {error.offset}"
    return None


def _what_is(content: bytes, document: Any) -> str:
    """A short description of a document that is not a feed, for the error message."""
    head = content.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
    if not head:
        return "empty response"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "got an HTML page"
    error = document.get("bozo_exception")
    if isinstance(error, SAXParseException):
        return f"not well-formed XML: {_where(error)}"
    return "no RSS, RDF or Atom root element"


def entry_to_paper(
    entry: Mapping[str, Any],
    *,
    source: str,
    base: str = "",
    label: str | None = None,
    raw: RawItem | None = None,
    feed_authors: tuple[Author, ...] = (),
) -> Paper | None:
    """One feed entry as a Paper, or ``None`` when it has no title.

    Identity: an arXiv id or DOI found in the guid, the links, every ``dc:identifier``,
    ``prism:doi`` or ``arxiv:doi`` (DOIs first); else a fingerprint of title and first
    author. ``raw`` holds what feedparser collapsed (all identifiers, ``dc:title``);
    ``feed_authors`` are an Atom feed's authors, for entries that name none.
    """
    title = _text_of(entry.get("title_detail"), entry.get("title"))
    if raw is not None and raw.dc_title:
        # A display title ("Fluids, Vol. 9, Pages 120: <title>") yields to dc:title.
        title = html_to_text(raw.dc_title)
    if not title:
        return None
    authors = _authors(entry) or feed_authors
    links = _links(entry, base)
    identifiers = [
        *(raw.identifiers if raw is not None else ()),
        *(_string(entry.get(key)) for key in ("prism_doi", "dc_identifier", "arxiv_doi", "doi")),
    ]
    doi = next((d for d in map(_doi, identifiers) if d), None)
    paper_id, version = canonical_id(
        title=title,
        first_author=authors[0].name if authors else None,
        doi=doi,
        links=tuple(_identity_candidates([_absolute(entry.get("id"), base), *links, *identifiers])),
    )
    if paper_id.kind == "doi" and doi is None:
        doi = paper_id.value
    if paper_id.kind == "arxiv":
        suffix = _ARXIV_SUFFIX.search(title)
        if suffix and suffix.start() > 0:
            title = title[: suffix.start()]
            version = version or (ref.version if (ref := parse_arxiv(suffix["id"])) else None)
    link = safe_url(_absolute(entry.get("link"), base))
    signals: dict[str, SignalValue] = {"feed.name": label} if label else {}
    return Paper(
        id=paper_id,
        title=title,
        abstract=_abstract(entry),
        authors=authors,
        categories=_categories(entry),
        url=link or _arxiv_page(paper_id),
        pdf_url=_pdf_link(entry, base),
        doi=doi,
        published=_moment(entry.get("published_parsed")),
        updated=_moment(_own(entry, "updated_parsed")),
        version=version,
        sources=(source,),
        signals=signals,
    )


def _arxiv_page(paper_id: PaperId) -> str | None:
    return f"https://arxiv.org/abs/{paper_id.value}" if paper_id.kind == "arxiv" else None


def _text_of(detail: Any, value: Any) -> str:
    """Text of a feedparser text construct: HTML types become plain text, text stays as is."""
    text = _string(value)
    if not text:
        return ""
    kind = str(detail.get("type", "")).lower() if isinstance(detail, Mapping) else ""
    if kind in _HTML_TYPES:
        return html_to_text(text)
    return one_line(strip_invalid(text))


def _abstract(entry: Mapping[str, Any]) -> str:
    # Feeds put the abstract in the description/summary, the content, or both (a short teaser
    # in one and the abstract in the other): the longest text is the abstract.
    contents = [p for p in entry.get("content") or () if isinstance(p, Mapping)]
    summary = entry.get("summary")
    texts = [_text_of(p, p.get("value")) for p in contents]
    # Without a summary of its own, feedparser copies the content into "summary" with no type:
    # that copy is the content again (HTML read as text), not a second text.
    if entry.get("summary_detail") is not None or all(p.get("value") != summary for p in contents):
        texts.append(_text_of(entry.get("summary_detail"), summary))
    text = _ARXIV_PREFIX.sub("", max(texts, key=len))
    return truncate(text, ABSTRACT_LIMIT)


def _authors(entry: Mapping[str, Any]) -> tuple[Author, ...]:
    # ``authors`` is the list; ``author`` alone may be the *last* author (arXiv's API).
    names = [
        one_line(strip_invalid(n))
        for a in entry.get("authors") or ()
        if isinstance(a, Mapping) and (n := _string(a.get("name")))
    ]
    if not names and (single := _string(entry.get("author"))):
        names = [one_line(strip_invalid(single))]
    if len(names) == 1:
        # One string may hold them all: arXiv's dc:creator "A, B and C", bioRxiv's
        # "Kaur, M., Shukla, A.", "A; B; C", a collaboration with "et al.".
        names = split_authors(names[0])
    else:
        names = [reading_order(html_to_text(n)) if "<" in n else reading_order(n) for n in names]
    return tuple(Author(name=name) for name in names if name)


def _categories(entry: Mapping[str, Any]) -> tuple[str, ...]:
    terms = (
        one_line(strip_invalid(term))
        for tag in entry.get("tags") or ()
        if isinstance(tag, Mapping) and (term := _string(tag.get("term")))
    )
    return tuple(dict.fromkeys(t for t in terms if t))


def _links(entry: Mapping[str, Any], base: str) -> list[str]:
    hrefs = [_absolute(entry.get("link"), base)]
    for link in entry.get("links") or ():
        if isinstance(link, Mapping):
            hrefs.append(_absolute(link.get("href"), base))
    return [h for h in dict.fromkeys(hrefs) if h]


def _pdf_link(entry: Mapping[str, Any], base: str) -> str | None:
    for link in entry.get("links") or ():
        if isinstance(link, Mapping) and str(link.get("type", "")).lower() == "application/pdf":
            url = safe_url(_absolute(link.get("href"), base))
            if url:
                return url
    return None


def _identity_candidates(values: Iterable[str | None]) -> Iterable[str]:
    """Texts to search for an arXiv id or DOI; URLs lose their query strings first.

    Journal links carry tracking queries (``…/doi/10.1021/jacs.4c01234?af=R``) that would be
    read as part of the DOI; a DOI given *as* a query parameter (``?doi=10.…``) is kept.
    """
    for value in values:
        if not value:
            continue
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https"):
            yield value
            continue
        yield unquote(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))
        for key, item in parse_qsl(parts.query):
            if key.lower() == "doi":
                yield item


def _doi(value: str | None) -> str | None:
    """A DOI from an identifier field; arXiv's own DOIs (10.48550/arXiv.…) are not kept."""
    if not value:
        return None
    if parse_arxiv(value):
        return None
    return normalize_doi(value)


def _absolute(value: Any, base: str) -> str | None:
    text = _string(value)
    if not text:
        return None
    text = text.strip()
    # Relative links are relative to the feed's address; other schemes (urn:, tag:) stay.
    return urljoin(base, text) if base and not urlsplit(text).scheme else text


def _moment(value: Any) -> dt.datetime | None:
    """feedparser's ``*_parsed`` (a UTC ``struct_time``) as an aware datetime."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(value), dt.UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _own(entry: Mapping[str, Any], key: str) -> Any:
    """``entry[key]`` without feedparser's aliases: it answers a missing ``updated_parsed``
    with ``published_parsed`` (and a DeprecationWarning), which would invent an update."""
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _where(error: SAXParseException) -> str:
    return f"{error.getMessage()} at line {error.getLineNumber()}, column {error.getColumnNumber()}"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
