"""The ``arxiv`` source: arXiv's daily announcement feeds and API queries.

Two ways in, usable together in one instance:

* ``categories`` — the day's announcements from ``rss.arxiv.org/{rss,atom}/<cat1+cat2>``
  (conditional GET: an unchanged feed costs a 304 and yields nothing). Each item has an
  announce type: ``new`` (first announced today), ``cross`` (cross-listed into a requested
  category), ``replace`` and ``replace-cross`` (a new version of an older paper). Only the
  types in ``announce_types`` are yielded — by default ``new`` and ``cross`` — because a
  replacement of a paper this store has never seen would otherwise arrive as a "new" paper
  (a v3 of a 2019 paper in today's digest). Add ``"replace"``/``"replace-cross"`` to also
  refresh the version and metadata of papers already known (the store keys papers by arXiv
  id without version, so a replacement is never a second paper). Every paper carries the
  ``arxiv.announce_type`` signal. An empty feed (weekends, holidays) is an empty result.
* ``queries`` / ``id_list`` — the arXiv API (``export.arxiv.org/api/query``), paged
  ``page_size`` at a time up to ``max_results`` per query.

Requests go through ``context.http``, which keeps arXiv's etiquette for the whole process
(one request per 3 s, one connection). The instance fails as a whole: if any request fails,
nothing is yielded and the feed's conditional-GET state does not advance.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Literal
from urllib.parse import urlencode

from pydantic import Field, field_validator, model_validator

from digest import (
    CollectContext,
    ComponentConfig,
    FetchError,
    HttpUrl,
    Source,
    SourceError,
    SourceHTTP,
    hookimpl,
    parse_arxiv,
)
from digest.models import Paper, PaperId
from digest_arxiv.api import ApiPage, api_error_message, parse_api_page
from digest_arxiv.calendar import arxiv_feed_has_papers
from digest_arxiv.common import Skipped
from digest_arxiv.rss import ANNOUNCE_TYPES, AnnounceType, Listing, parse_listing

SOURCE_NAME = "arxiv"
ACCEPT = {
    "rss": "application/rss+xml, application/xml;q=0.9, */*;q=0.1",
    "atom": "application/atom+xml, application/xml;q=0.9, */*;q=0.1",
}
#: ids per API request when fetching an id_list
ID_CHUNK = 100
# Archive or archive.subject: cs, cs.LG, hep-th, astro-ph.CO, physics.comp-ph, cond-mat.stat-mech
_CATEGORY = re.compile(r"^[a-z][a-z-]*(?:\.[A-Za-z][A-Za-z-]*)?$")


def _default_announce_types() -> list[AnnounceType]:
    return ["new", "cross"]


class ArxivSource(Source):
    """New papers from arXiv: the daily RSS/Atom announcements of chosen categories and/or
    arXiv API search queries and id lists."""

    name = SOURCE_NAME
    description = "arXiv daily announcements (RSS/Atom) and API queries"

    class Config(ComponentConfig):
        categories: list[str] = Field(
            default_factory=list,
            description=(
                'Categories whose daily announcements to read, e.g. ["cs.LG", "cs.RO"] '
                '(an archive such as "cs" means all of it); one request for all of them.'
            ),
        )
        feed: Literal["rss", "atom"] = Field(
            default="rss", description="Which format of the daily feed to request."
        )
        rss_url: HttpUrl = Field(
            default="https://rss.arxiv.org",
            description="Base URL of the daily feeds; the request is {rss_url}/{feed}/{cat+cat}.",
        )
        announce_types: list[AnnounceType] = Field(
            default_factory=_default_announce_types,
            description=(
                "Announce types yielded from the daily feed: new, cross, replace, "
                "replace-cross. Replacements are new versions of older papers; add them to "
                "refresh papers already stored (they may be old papers the store never saw)."
            ),
        )
        queries: list[str] = Field(
            default_factory=list,
            description=(
                'arXiv API search queries in search_query syntax, e.g. "cat:cs.LG AND '
                'abs:diffusion"; each is paged up to max_results.'
            ),
        )
        id_list: list[str] = Field(
            default_factory=list,
            description=(
                'arXiv ids to fetch through the API, e.g. ["2406.01234", "hep-th/9901001v2"].'
            ),
        )
        api_url: HttpUrl = Field(
            default="https://export.arxiv.org/api/query",
            description="The arXiv API query endpoint.",
        )
        page_size: int = Field(
            default=100, ge=1, le=2000, description="Results per API request (arXiv allows 2000)."
        )
        max_results: int = Field(
            default=200,
            ge=1,
            le=30000,
            description="Most results read per API query (arXiv serves at most 30000).",
        )
        sort_by: Literal["relevance", "lastUpdatedDate", "submittedDate"] = Field(
            default="submittedDate", description="API result order: what to sort by."
        )
        sort_order: Literal["ascending", "descending"] = Field(
            default="descending", description="API result order: direction."
        )
        holidays: list[dt.date] = Field(
            default_factory=list,
            description=(
                "Extra evenings (US/Eastern dates) arXiv does not announce on, beyond its yearly "
                "holidays (New Year, MLK Day, Juneteenth, Independence Day, Labor Day, "
                'Thanksgiving, Christmas), e.g. a year-end break: ["2027-12-30"]. The next '
                "day's empty feed is then expected, not flagged."
            ),
        )

        @field_validator("categories")
        @classmethod
        def _categories(cls, value: list[str]) -> list[str]:
            cleaned = [v.strip() for v in value]
            bad = [v for v in cleaned if not _CATEGORY.match(v)]
            if bad:
                raise ValueError(f"not arXiv categories: {', '.join(map(repr, bad))} (e.g. cs.LG)")
            return cleaned

        @field_validator("queries")
        @classmethod
        def _queries(cls, value: list[str]) -> list[str]:
            cleaned = [" ".join(v.split()) for v in value]
            if any(not v for v in cleaned):
                raise ValueError("a query is empty")
            return cleaned

        @field_validator("id_list")
        @classmethod
        def _ids(cls, value: list[str]) -> list[str]:
            cleaned = [v.strip() for v in value]
            bad = [v for v in cleaned if parse_arxiv(v) is None]
            if bad:
                raise ValueError(f"not arXiv ids: {', '.join(map(repr, bad))}")
            return cleaned

        @model_validator(mode="after")
        def _something_to_read(self) -> ArxivSource.Config:
            if not (self.categories or self.queries or self.id_list):
                raise ValueError("set categories (daily feed) or queries / id_list (API)")
            if self.categories and not self.announce_types:
                raise ValueError("announce_types is empty: nothing from the daily feed would count")
            return self

    config: Config

    # -- collect ------------------------------------------------------------------------------

    def collect(self, context: CollectContext) -> list[Paper]:
        http = context.http
        if http is None:
            raise SourceError(f"sources.{self.instance}: the collect context has no HTTP client")
        papers: dict[PaperId, Paper] = {}

        def keep(new: Iterator[Paper] | list[Paper]) -> None:
            for paper in new:
                papers.setdefault(paper.id, paper)

        if self.config.categories:
            keep(self._announcements(http))
        for query in self.config.queries:
            keep(self._api(http, search_query=query, limit=self.config.max_results))
        ids = self.config.id_list
        step = min(self.config.page_size, ID_CHUNK)  # keeps request URLs short
        for chunk in (ids[i : i + step] for i in range(0, len(ids), step)):
            keep(self._api(http, id_list=",".join(chunk), limit=len(chunk)))
        return list(papers.values())

    def expects_papers(self, now: dt.datetime) -> bool | None:
        """The daily feed follows arXiv's calendar: empty on weekends and after holidays.

        API-only instances (and the API part of mixed ones, off announcement days) are judged
        by their history.
        """
        if not self.config.categories:
            return None
        if arxiv_feed_has_papers(now, extra=self.config.holidays):
            return True
        return None if (self.config.queries or self.config.id_list) else False

    def feed_url(self) -> str:
        """The daily feed's URL for the configured categories."""
        cfg = self.config
        return f"{cfg.rss_url.rstrip('/')}/{cfg.feed}/{'+'.join(cfg.categories)}"

    def _announcements(self, http: SourceHTTP) -> list[Paper]:
        url = self.feed_url()
        fetched = http.get(url, conditional=True, accept=ACCEPT[self.config.feed])
        if fetched.not_modified:
            self.log.info("%s: not modified since the last run; nothing new", url)
            return []
        listing = parse_listing(fetched.content, url=url, source=self.instance)
        self._report(url, listing.skipped, listing.engine, listing.fallback_reason)
        wanted = set(self.config.announce_types)
        kept = [p for p in listing.papers if _announce_type(p) in wanted]
        self.log.debug(
            "%s: feed of %s, %d items, %d with announce types %s",
            url,
            listing.announced,
            len(listing.papers),
            len(kept),
            "/".join(sorted(wanted)),
        )
        return kept

    def _api(
        self, http: SourceHTTP, *, search_query: str = "", id_list: str = "", limit: int
    ) -> list[Paper]:
        cfg = self.config
        papers: list[Paper] = []
        start = 0
        while start < limit:
            size = min(cfg.page_size, limit - start)
            params = {
                "search_query": search_query,
                "id_list": id_list,
                "start": str(start),
                "max_results": str(size),
                "sortBy": cfg.sort_by,
                "sortOrder": cfg.sort_order,
            }
            params = {k: v for k, v in params.items() if v}
            label = f"{cfg.api_url}?{urlencode(params)}"
            page = self._api_page(http, label, params)
            papers.extend(page.papers[: limit - start])  # a server may send more than asked
            self.log.debug("%s: %d entries (total %s)", label, page.entries, page.total_results)
            start += page.entries
            if page.entries < size:
                break
            if page.total_results is not None and start >= page.total_results:
                break
        return papers

    def _api_page(self, http: SourceHTTP, label: str, params: dict[str, str]) -> ApiPage:
        try:
            fetched = http.get(
                self.config.api_url, params=params, conditional=False, accept=ACCEPT["atom"]
            )
        except FetchError as error:
            # The real API answers a bad query with HTTP 400 and an Atom error feed.
            message = api_error_message(error.content) if error.content else None
            if message:
                raise SourceError(f"{label}: arXiv API error: {message}") from error
            raise
        page = parse_api_page(fetched.content, url=label, source=self.instance)
        self._report(label, page.skipped, page.engine, page.fallback_reason)
        return page

    def _report(self, url: str, skipped: tuple[Skipped, ...], engine: str, reason: str) -> None:
        if engine == "feedparser":
            self.log.warning("%s: lxml could not read it (%s); read with feedparser", url, reason)
        for item in skipped:
            self.log.warning("%s: skipped item %s: %s", url, item.item, item.reason)


def _announce_type(paper: Paper) -> str:
    """The paper's announce type; an item without one counts as ``new``."""
    value = paper.signals.get("arxiv.announce_type")
    return str(value) if value else "new"


@hookimpl
def register_sources() -> list[type[Source]]:
    return [ArxivSource]


__all__ = [
    "ANNOUNCE_TYPES",
    "ApiPage",
    "ArxivSource",
    "Listing",
    "api_error_message",
    "parse_api_page",
    "parse_listing",
    "register_sources",
]
