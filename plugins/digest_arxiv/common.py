"""What the listing (RSS/Atom) and API parsers share: safe XML loading, the feedparser fallback
gate, dates, author lists and building a :class:`~digest.models.Paper`.

Everything here is a pure function over bytes or strings; nothing touches the network.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

import feedparser
from lxml import etree

from digest import (
    SourceError,
    canonical_id,
    find_arxiv,
    normalize_doi,
    one_line,
    strip_invalid,
)
from digest.models import Author, Paper, SignalValue

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
RSS1 = "{http://purl.org/rss/1.0/}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
#: arXiv's announcement calendar runs on US/Eastern time.
EASTERN = ZoneInfo("America/New_York")

Engine = Literal["auto", "lxml", "feedparser"]
RootKind = Literal["rss", "atom", "rdf", "html", "other"]

_DECLARED = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_SINGLE_BYTE = frozenset(
    {"iso-8859-1", "latin-1", "latin1", "l1", "iso8859-1", "windows-1252", "cp1252", "us-ascii"}
)
_ROOT_CLOSED = re.compile(rb"</(?:[\w.-]+:)?(?:rss|feed|RDF)\s*>\s*$")
_ITEM_START = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s>/]")
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)", re.I | re.S
)
# Feedparser's bozo exceptions that only mean "the declared encoding was wrong, another one was
# used"; the document itself was parsed by the strict parser.
_ENCODING_ONLY: tuple[type[Exception], ...] = (
    feedparser.CharacterEncodingOverride,
    feedparser.NonXMLContentType,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    """An item the parser could not turn into a paper, and why (the source logs these)."""

    item: str
    reason: str


# -- loading ---------------------------------------------------------------------------------


def xml_parser(*, encoding: str | None = None) -> Any:
    """A hardened lxml parser: no entity expansion, no network, no huge trees.

    A new parser per document: lxml parser objects must not be shared between threads.
    """
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        encoding=encoding,
    )


def _utf8_declared_as_latin(content: bytes) -> bool:
    """UTF-8 bytes behind a single-byte declaration (``encoding='iso-8859-1'``).

    Text in a single-byte encoding with non-ASCII characters is almost never valid UTF-8 by
    accident, so valid UTF-8 with non-ASCII bytes means the declaration is wrong.
    """
    match = _DECLARED.match(content[:200])
    if not match or match.group(1).decode("ascii").lower() not in _SINGLE_BYTE:
        return False
    if content.isascii():
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def load_xml(content: bytes) -> tuple[Any | None, str]:
    """The document's root element with lxml, or ``(None, the parse error)``.

    Bytes that are valid UTF-8 under a single-byte declaration are read as UTF-8 (the other
    wrong-declaration case, Latin-1 bytes declared UTF-8, fails here and is left to
    feedparser's encoding detection).
    """
    if not content.strip():
        return None, "empty document"
    encoding = "utf-8" if _utf8_declared_as_latin(content) else None
    try:
        root = etree.fromstring(content, parser=xml_parser(encoding=encoding))
    except (etree.LxmlError, ValueError) as error:  # XMLSyntaxError and friends
        return None, one_line(str(error)) or type(error).__name__
    if root is None:
        return None, "no root element"
    return root, ""


def root_kind(root: Any) -> RootKind:
    tag = root.tag if isinstance(root.tag, str) else ""
    local = tag.rsplit("}", 1)[-1].lower()
    if tag == f"{ATOM}feed":
        return "atom"
    if tag == f"{RDF}RDF":
        return "rdf"
    if local == "rss":
        return "rss"
    if local == "html":
        return "html"
    return "other"


def local_name(root: Any) -> str:
    tag = root.tag if isinstance(root.tag, str) else "?"
    return str(tag).rsplit("}", 1)[-1]


def not_a_feed(url: str, why: str) -> SourceError:
    return SourceError(f"{url}: not an RSS/Atom feed ({why})")


def feedparser_document(content: bytes, *, url: str, lxml_error: str) -> Any:
    """Parse ``content`` with feedparser, refusing anything but a whole feed.

    feedparser gets a file object: never a URL or a file name.

    Raises :class:`SourceError` naming ``url`` when the bytes are not a feed (HTML, no feed
    element, nothing usable) or when the document is ill-formed and feedparser's loose parser
    cannot be shown to have recovered *every* item (truncated documents: a partial success
    would advance the conditional-GET state and lose the rest of the day's papers).
    """
    if _HTML_START.match(content[:1024]):
        raise not_a_feed(url, "got an HTML page")
    # Always a file object: given bytes, feedparser first tries them as a *file name*, so a
    # body such as b"/etc/passwd" would make it read that local file.
    try:
        doc = feedparser.parse(io.BytesIO(content))
    except Exception as failure:  # its handlers can raise past it (UndeclaredNamespace, …)
        why = f"{type(failure).__name__}: {one_line(str(failure))}"
        raise not_a_feed(url, lxml_error or why) from None
    exception = doc.get("bozo_exception")
    problem = one_line(str(exception)) if exception else ""
    if not doc.get("version"):
        raise not_a_feed(url, lxml_error or problem or "no feed element")
    entries = len(doc.entries)
    ill_formed = bool(doc.get("bozo")) and not isinstance(exception, _ENCODING_ONLY)
    if ill_formed and _ROOT_CLOSED.search(content[-256:]) is None:
        raise SourceError(
            f"{url}: truncated feed, the document ends before its closing tag "
            f"({lxml_error or problem}); refusing a partial result"
        )
    if doc.get("bozo") and entries == 0:
        raise not_a_feed(url, lxml_error or problem)
    if ill_formed:
        declared = len(_ITEM_START.findall(content))
        if declared != entries:
            raise SourceError(
                f"{url}: ill-formed feed ({lxml_error or problem}; only {entries} of "
                f"{declared} items readable); refusing a partial result"
            )
    return doc


def refuse_damaged(url: str, skipped: int, total: int, reason: str) -> None:
    """After a feedparser recovery, an item without id or title is damage, not data: refuse."""
    if skipped:
        raise SourceError(
            f"{url}: ill-formed feed ({reason}; {skipped} of {total} items unreadable); "
            "refusing a partial result"
        )


# -- fields ----------------------------------------------------------------------------------


def clean(text: str | None) -> str:
    """One line, without characters XML/HTML cannot carry (:func:`digest.one_line` semantics;
    ``str.split`` is several times faster than a regex on kilobyte abstracts)."""
    return " ".join(strip_invalid(text).split()) if text else ""


def html_text(fragment: str) -> str:
    """The text of an HTML fragment (``<p>…</p>``, entities), on one line."""
    if "<" not in fragment and "&" not in fragment:
        return clean(fragment)
    from lxml import html

    try:
        return clean(html.fragment_fromstring(fragment, create_parent="div").text_content())
    except (etree.LxmlError, ValueError):
        return clean(fragment)


def element_text(element: Any) -> str:
    """All text inside ``element`` (children included), or ``""``."""
    if element is None:
        return ""
    if len(element) == 0:
        return str(element.text or "")
    return "".join(element.itertext())


@functools.lru_cache(maxsize=512)  # a listing repeats one date on every item
def parse_datetime(text: str | None) -> dt.datetime | None:
    """An aware datetime from RFC 822 (RSS) or ISO 8601 (Atom) text; ``None`` if unreadable.

    A datetime without a zone is taken as UTC.
    """
    if not text or not text.strip():
        return None
    text = text.strip()
    when: dt.datetime | None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def eastern_date(when: dt.datetime | None) -> dt.date | None:
    """The US/Eastern calendar day of ``when`` (arXiv dates its announcements in Eastern time)."""
    return when.astimezone(EASTERN).date() if when is not None else None


def unique(values: Iterable[str]) -> tuple[str, ...]:
    """Non-empty stripped values, first occurrence kept, order preserved."""
    seen: dict[str, None] = {}
    for value in values:
        value = value.strip()
        if value and value not in seen:
            seen[value] = None
    return tuple(seen)


def build_paper(
    *,
    arxiv: str,
    fallback_links: Iterable[str] = (),
    version_hint: str = "",
    title: str,
    abstract: str,
    authors: Iterable[Author],
    categories: Iterable[str],
    doi: str | None,
    announced: dt.date | None,
    published: dt.datetime | None,
    updated: dt.datetime | None,
    source: str,
    signals: Mapping[str, SignalValue],
) -> Paper | Skipped:
    """A :class:`Paper` with the canonical (versionless) arXiv id, or why there is none."""
    authors = tuple(authors)
    title = clean(title)
    paper_id, version = canonical_id(
        title=title or "untitled",
        first_author=authors[0].name if authors else None,
        arxiv=arxiv or None,
        links=tuple(fallback_links),
    )
    label = arxiv or next(iter(fallback_links), "") or title[:60]
    if paper_id.kind != "arxiv":
        return Skipped(item=label, reason="no arXiv identifier")
    if not title:
        return Skipped(item=label, reason="no title")
    if version is None and version_hint:
        hinted = find_arxiv(version_hint)
        if hinted is not None and hinted.id == paper_id.value:
            version = hinted.version
    abs_id = paper_id.value
    return Paper(
        id=paper_id,
        title=title,
        abstract=clean(abstract),
        authors=authors,
        categories=unique(categories),
        url=f"https://arxiv.org/abs/{abs_id}",
        pdf_url=f"https://arxiv.org/pdf/{abs_id}",
        doi=normalize_doi(doi) if doi else None,
        announced=announced,
        published=published,
        updated=updated,
        version=version,
        sources=(source,),
        signals=dict(signals),
    )
