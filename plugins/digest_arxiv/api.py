"""arXiv API responses (``export.arxiv.org/api/query``, Atom 1.0) → papers.

Per entry: ``id`` ``http://arxiv.org/abs/<id>v<N>``; ``title`` and ``summary`` with wrap
newlines; one ``author`` element per author (``arxiv:affiliation`` inside); every category as
``category/@term`` and ``arxiv:primary_category`` (put first); ``arxiv:doi``,
``arxiv:comment``, ``arxiv:journal_ref``; ``published`` (v1) and ``updated`` (this version).
Paging metadata comes as ``opensearch:totalResults``/``startIndex``/``itemsPerPage``.

An error is a feed with a single entry whose id contains ``/api/errors#`` and whose summary is
the message (served with HTTP 400 by the real API).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from digest import SourceError
from digest.models import Author, Paper, SignalValue
from digest_arxiv.common import (
    ARXIV,
    ATOM,
    OPENSEARCH,
    Engine,
    Skipped,
    build_paper,
    clean,
    element_text,
    feedparser_document,
    load_xml,
    local_name,
    not_a_feed,
    parse_datetime,
    refuse_damaged,
    root_kind,
)

ERROR_MARK = "/api/errors"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiPage:
    """One page of API results."""

    papers: tuple[Paper, ...]
    #: entries in the page, skipped ones included (what paging compares with the page size)
    entries: int
    total_results: int | None
    start_index: int | None
    items_per_page: int | None
    skipped: tuple[Skipped, ...] = ()
    engine: Literal["lxml", "feedparser"] = "lxml"
    fallback_reason: str = ""


def parse_api_page(content: bytes, *, url: str, source: str, engine: Engine = "auto") -> ApiPage:
    """Parse one API response. Raises :class:`digest.SourceError` naming ``url`` for arXiv's
    error feed (with arXiv's message) and for anything that is not a complete Atom feed."""
    reason = ""
    if engine != "feedparser":
        root, reason = load_xml(content)
        if root is not None:
            kind = root_kind(root)
            if kind == "atom":
                return _lxml(root, url, source)
            if kind == "html":
                raise not_a_feed(url, "got an HTML page")
            # Well-formed XML that is not Atom: nothing feedparser could add.
            raise not_a_feed(url, f"unexpected root element <{local_name(root)}>")
        if engine == "lxml":
            raise not_a_feed(url, reason)
    doc = feedparser_document(content, url=url, lxml_error=reason)
    if not str(doc.get("version", "")).startswith("atom"):
        raise not_a_feed(url, f"{doc.get('version')} is not the API's Atom format")
    page = _feedparser(doc, url, source, reason)
    if reason:
        refuse_damaged(url, len(page.skipped), page.entries, reason)
    return page


def api_error_message(content: bytes) -> str | None:
    """arXiv's message if ``content`` is its error feed (as sent with HTTP 400), else None."""
    if not content or ERROR_MARK.encode() not in content:
        return None
    root, _ = load_xml(content)
    if root is not None and root_kind(root) == "atom":
        return _lxml_error(root)
    try:
        doc = feedparser_document(content, url="", lxml_error="")
    except SourceError:
        return None
    return _feedparser_error(doc)


def _int(text: Any) -> int | None:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return None


def _signals(comment: str, journal: str) -> dict[str, SignalValue]:
    signals: dict[str, SignalValue] = {}
    if clean(comment):
        signals["arxiv.comment"] = clean(comment)
    if clean(journal):
        signals["arxiv.journal_ref"] = clean(journal)
    return signals


def _page(
    results: list[Paper | Skipped],
    *,
    total: int | None,
    start: int | None,
    per_page: int | None,
    engine: Literal["lxml", "feedparser"] = "lxml",
    reason: str = "",
) -> ApiPage:
    return ApiPage(
        papers=tuple(r for r in results if isinstance(r, Paper)),
        skipped=tuple(r for r in results if isinstance(r, Skipped)),
        entries=len(results),
        total_results=total,
        start_index=start,
        items_per_page=per_page,
        engine=engine,
        fallback_reason=reason,
    )


# -- lxml ------------------------------------------------------------------------------------

_ID = f"{ATOM}id"
_TITLE = f"{ATOM}title"
_SUMMARY = f"{ATOM}summary"
_CATEGORY = f"{ATOM}category"
_PUBLISHED = f"{ATOM}published"
_UPDATED = f"{ATOM}updated"
_AUTHOR = f"{ATOM}author"
_NAME = f"{ATOM}name"
_LINK = f"{ATOM}link"
_PRIMARY = f"{ARXIV}primary_category"
_DOI = f"{ARXIV}doi"
_COMMENT = f"{ARXIV}comment"
_JOURNAL = f"{ARXIV}journal_ref"
_AFFILIATION = f"{ARXIV}affiliation"


def _lxml_error(root: Any) -> str | None:
    entries = list(root.iterchildren(f"{ATOM}entry"))
    for entry in entries:
        if ERROR_MARK in (entry.findtext(_ID) or ""):
            return clean(entry.findtext(_SUMMARY)) or clean(entry.findtext(_TITLE)) or "error"
    return None


def _lxml(root: Any, url: str, source: str) -> ApiPage:
    results: list[Paper | Skipped] = []
    for entry in root.iterchildren(f"{ATOM}entry"):
        ident = title = summary = published = updated = primary = doi = comment = journal = ""
        link = ""
        categories: list[str] = []
        authors: list[Author] = []
        for child in entry:
            tag = child.tag
            if tag == _AUTHOR:  # the most frequent child: first
                name = ""
                affiliations: list[str] = []
                for part in child:
                    if part.tag == _NAME:
                        name = clean(element_text(part))
                    elif part.tag == _AFFILIATION:
                        affiliations.append(clean(element_text(part)))
                if name:
                    affiliation = "; ".join(a for a in affiliations if a) or None
                    authors.append(Author(name=name, affiliation=affiliation))
            elif tag == _ID:
                ident = element_text(child)
                if ERROR_MARK in ident:
                    message = _lxml_error(root) or "error"
                    raise SourceError(f"{url}: arXiv API error: {message}")
            elif tag == _TITLE:
                title = element_text(child)
            elif tag == _SUMMARY:
                summary = element_text(child)
            elif tag == _CATEGORY:
                categories.append(child.get("term", ""))
            elif tag == _PRIMARY:
                primary = child.get("term", "")
            elif tag == _PUBLISHED:
                published = element_text(child)
            elif tag == _UPDATED:
                updated = element_text(child)
            elif tag == _DOI:
                doi = element_text(child)
            elif tag == _COMMENT:
                comment = element_text(child)
            elif tag == _JOURNAL:
                journal = element_text(child)
            elif tag == _LINK and not link and child.get("rel", "alternate") == "alternate":
                link = child.get("href", "")
        results.append(
            build_paper(
                arxiv=ident.strip() or link,
                fallback_links=(link,),
                title=title,
                abstract=summary,
                authors=authors,
                categories=[primary, *categories],
                doi=doi.strip() or None,
                announced=None,
                published=parse_datetime(published),
                updated=parse_datetime(updated),
                source=source,
                signals=_signals(comment, journal),
            )
        )
    return _page(
        results,
        total=_int(root.findtext(f"{OPENSEARCH}totalResults")),
        start=_int(root.findtext(f"{OPENSEARCH}startIndex")),
        per_page=_int(root.findtext(f"{OPENSEARCH}itemsPerPage")),
    )


# -- feedparser fallback ---------------------------------------------------------------------


def _feedparser_error(doc: Any) -> str | None:
    for entry in doc.entries:
        if ERROR_MARK in str(entry.get("id", "")):
            return (
                clean(str(entry.get("summary", "")))
                or clean(str(entry.get("title", "")))
                or "error"
            )
    return None


def _feedparser(doc: Any, url: str, source: str, reason: str) -> ApiPage:
    message = _feedparser_error(doc)
    if message is not None:
        raise SourceError(f"{url}: arXiv API error: {message}")
    results: list[Paper | Skipped] = []
    for entry in doc.entries:
        primary = entry.get("arxiv_primary_category") or {}
        # feedparser keeps only the last author's affiliation, at entry level: names only.
        authors = [
            Author(name=clean(str(a.get("name", ""))))
            for a in entry.get("authors", [])
            if clean(str(a.get("name", "")))
        ]
        link = str(entry.get("link", ""))
        results.append(
            build_paper(
                arxiv=str(entry.get("id", "")).strip() or link,
                fallback_links=(link,),
                title=str(entry.get("title", "")),
                abstract=str(entry.get("summary", "")),
                authors=authors,
                categories=[
                    str(primary.get("term") or ""),
                    *(str(t.get("term") or "") for t in entry.get("tags", [])),
                ],
                doi=str(entry.get("arxiv_doi", "")).strip() or None,
                announced=None,
                published=parse_datetime(str(entry.get("published", ""))),
                updated=parse_datetime(str(entry.get("updated", ""))),
                source=source,
                signals=_signals(
                    str(entry.get("arxiv_comment", "")), str(entry.get("arxiv_journal_ref", ""))
                ),
            )
        )
    feed = doc.feed
    return _page(
        results,
        total=_int(feed.get("opensearch_totalresults")),
        start=_int(feed.get("opensearch_startindex")),
        per_page=_int(feed.get("opensearch_itemsperpage")),
        engine="feedparser",
        reason=reason,
    )


__all__ = ["ApiPage", "api_error_message", "parse_api_page"]
