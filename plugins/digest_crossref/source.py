"""The ``crossref`` source: new works of chosen journals from the Crossref REST API."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from digest import CollectContext, ComponentConfig, FetchError, HttpUrl, Source, SourceError
from digest.models import Paper

from .parse import SELECT, WorksPage, api_error_message, parse_works

DEFAULT_URL = "https://api.crossref.org"
#: seconds between requests until Crossref's rate-limit headers say otherwise; one at a time
INTERVAL = 1.0
_ISSN = re.compile(r"^(\d{4})-?(\d{3}[\dX])$")
_MAILTO = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SECONDS = re.compile(r"^(\d+(?:\.\d+)?)\s*s?$")


def _default_types() -> list[str]:
    return ["journal-article", "posted-content", "proceedings-article"]


class CrossrefSource(Source):
    """New works of chosen journals (by ISSN) from the Crossref REST API.

    For each ISSN it asks ``GET {url}/journals/{issn}/works`` with
    ``filter=from-created-date:YYYY-MM-DD`` — works whose DOI was registered since the last
    successful run of this instance for that journal (the first run: ``days`` back) — sorted by
    creation, ``rows`` at a time with Crossref's deep-paging cursor, up to ``max_results`` per
    journal (a health warning says when that cap stopped it). ``mailto`` puts requests in
    Crossref's polite pool; without it they go to the public pool. Requests go one at a time,
    spaced by the limit Crossref announces in its ``x-rate-limit-*`` headers (1 s until the
    first reply).

    A work is identified by its DOI; the DOIs and arXiv ids of its preprint (``relation``
    ``has-preprint`` / ``is-preprint-of``) are aliases, so the journal version and its preprint
    (from ``arxiv``, ``biorxiv``) are one paper. Abstracts are JATS converted to plain text.
    Works of other types than ``types`` are left out. Signals: ``crossref.journal``,
    ``crossref.issn``, ``crossref.type``. A journal that fails (an unknown ISSN, an error reply)
    is a health warning and its watermark stays put; the other journals' works are kept. Only
    when every journal fails does the instance fail.
    """

    name = "crossref"
    description = "new works of chosen journals (by ISSN) from the Crossref REST API"

    class Config(ComponentConfig):
        issns: list[str] = Field(
            default_factory=list,
            description='ISSNs of the journals to follow, e.g. ["0028-0836", "1476-4687"].',
            min_length=1,
        )
        mailto: str = Field(
            default="",
            description=(
                "Your e-mail address, sent as mailto= so Crossref serves you from its polite "
                "pool (without it: the public pool, with lower limits)."
            ),
        )
        days: int = Field(
            default=7,
            ge=1,
            le=365,
            description="How many days back the first run looks (later runs: since the last).",
        )
        rows: int = Field(
            default=100, ge=1, le=1000, description="Works per request (Crossref allows 1000)."
        )
        max_results: int = Field(
            default=1000,
            ge=1,
            le=100_000,
            description="Most works read per journal per run.",
        )
        types: list[str] = Field(
            default_factory=_default_types,
            min_length=1,
            description=(
                "Crossref work types to keep, e.g. journal-article, posted-content, "
                "proceedings-article; other works (issues, components, …) are left out."
            ),
        )
        url: HttpUrl = Field(
            default=DEFAULT_URL,
            description="Base URL of the API; requests go to {url}/journals/{issn}/works.",
        )

        @field_validator("issns")
        @classmethod
        def _issns(cls, value: list[str]) -> list[str]:
            cleaned: list[str] = []
            for text in value:
                match = _ISSN.match(text.strip().upper())
                if match is None:
                    raise ValueError(f"not an ISSN: {text!r} (e.g. 0028-0836)")
                cleaned.append(f"{match.group(1)}-{match.group(2)}")
            return list(dict.fromkeys(cleaned))

        @field_validator("mailto")
        @classmethod
        def _mailto(cls, value: str) -> str:
            value = value.strip()
            if value and not _MAILTO.match(value):
                raise ValueError(f"not an e-mail address: {value!r}")
            return value

        @field_validator("types")
        @classmethod
        def _types(cls, value: list[str]) -> list[str]:
            cleaned = [v.strip().lower() for v in value]
            if any(not v for v in cleaned):
                raise ValueError("a type is empty")
            return cleaned

    config: Config

    @staticmethod
    def state_key(issn: str) -> str:
        """Where the day a journal was last read up to is kept."""
        return f"crossref.since {issn}"

    def since(self, issn: str, now: dt.datetime, state: Mapping[str, str]) -> dt.date:
        """The first creation day to ask for: the saved watermark, else ``days`` back."""
        today = _today(now)
        saved = state.get(self.state_key(issn), "")
        try:
            return min(dt.date.fromisoformat(saved), today)
        except ValueError:
            return today - dt.timedelta(days=self.config.days)

    def collect(self, context: CollectContext) -> list[Paper]:
        host = urlsplit(self.config.url).hostname or ""
        context.http.pace(host, interval=INTERVAL, connections=1)
        self._interval = INTERVAL
        papers: dict[str, Paper] = {}
        failures: list[str] = []
        for issn in self.config.issns:
            since = self.since(issn, context.now, context.state)
            try:
                found, through = self._journal(context, host, issn, since)
            except SourceError as error:
                failures.append(str(error))
                continue
            for paper in found:
                papers.setdefault(str(paper.id), paper)  # a work listed under two ISSNs
            # Persisted only once the papers are stored (the core's pending state).
            context.save(self.state_key(issn), through.isoformat())
        if failures and len(failures) == len(self.config.issns):
            others = len(failures) - 1
            more = f" (and {others} other journal{'s' if others > 1 else ''} failed)"
            raise SourceError(failures[0] + (more if others else ""))
        for failure in failures:
            context.warn(f"{failure}; the other journals were read")
        return list(papers.values())

    def _journal(
        self, context: CollectContext, host: str, issn: str, since: dt.date
    ) -> tuple[list[Paper], dt.date]:
        """The works of one journal created since ``since``, and the day read up to."""
        cfg = self.config
        url = f"{cfg.url.rstrip('/')}/journals/{issn}/works"
        params = {
            "filter": f"from-created-date:{since.isoformat()}",
            "rows": str(cfg.rows),
            "select": ",".join(SELECT),
            "sort": "created",
            "order": "asc",
        }
        if cfg.mailto:
            params["mailto"] = cfg.mailto
        label = f"{url}?filter={params['filter']}"
        papers: list[Paper] = []
        cursor, read, incomplete, other = "*", 0, 0, 0
        capped = False
        while True:
            page = self._page(
                context,
                host,
                url,
                {**params, "cursor": cursor},
                label=label,
                issn=issn,
                limit=cfg.max_results - read,
            )
            papers.extend(page.papers)
            read += page.items
            incomplete += page.incomplete
            other += page.other_types
            if page.items == 0 or page.next_cursor is None:
                break
            if page.total is not None and read >= page.total:
                break
            if read >= cfg.max_results:
                capped = True
                break
            cursor = page.next_cursor
        self.log.debug("%s: %d works, %d of other types", label, read, other)
        if incomplete:
            noun = "work" if incomplete == 1 else "works"
            context.warn(f"{label}: {incomplete} {noun} without a DOI or title skipped")
        today = _today(context.now)
        if not capped:
            return papers, today
        # Sorted by creation: the next run goes on from the last day read (re-reading that
        # day; the store keeps one copy), unless the whole cap fell on the first day.
        days = [p.announced for p in papers if p.announced]
        if days and max(days) > since:
            through, note = max(days), f"the next run goes on from {max(days)}"
        else:  # the whole cap fell on the first day: no way to go on from there
            through, note = today, f"the other works created since {since} are skipped"
        context.warn(f"{label}: stopped paging at max_results={cfg.max_results}; {note}")
        return papers, through

    def _page(
        self,
        context: CollectContext,
        host: str,
        url: str,
        params: dict[str, str],
        *,
        label: str,
        issn: str,
        limit: int,
    ) -> WorksPage:
        try:
            fetched = context.http.get(
                url, params=params, conditional=False, accept="application/json"
            )
        except FetchError as error:
            if error.status == 404:
                detail = _short(error.content) or "Not Found"
                raise SourceError(
                    f"{label}: Crossref has no journal with ISSN {issn} (HTTP 404: {detail})"
                ) from error
            message = api_error_message(error.content) if error.content else None
            if message:
                raise SourceError(
                    f"{label}: Crossref refused the request for ISSN {issn}: {message}"
                ) from error
            raise
        self._honour_limits(context, host, fetched.headers)
        return parse_works(
            fetched.content,
            url=label,
            issn=issn,
            types=self.config.types,
            source=self.instance,
            limit=limit,
        )

    def _honour_limits(
        self, context: CollectContext, host: str, headers: Mapping[str, str]
    ) -> None:
        """Space requests by the limit Crossref announces, e.g. 50 per 1 s → 0.02 s."""
        limit, window = headers.get("x-rate-limit-limit"), headers.get("x-rate-limit-interval")
        interval = _interval(limit, window)
        if interval is not None and interval != self._interval:
            self._interval = interval
            context.http.pace(host, interval=interval, connections=1)

    #: the spacing last asked of ``context.http.pace`` in this run
    _interval: float = INTERVAL


def _interval(limit: str | None, window: str | None) -> float | None:
    """Seconds between requests from ``x-rate-limit-limit`` / ``x-rate-limit-interval``."""
    if not limit or not window or not limit.strip().isdigit() or int(limit) <= 0:
        return None
    match = _SECONDS.match(window.strip().lower())
    if match is None:
        return None
    return float(match.group(1)) / int(limit)


def _short(content: bytes) -> str:
    """The first line of a short plain-text error body ("Resource not found.")."""
    text = content[:200].decode("utf-8", "replace").strip()
    first = text.splitlines()[0].strip() if text else ""
    return first if first and not first.startswith(("<", "{")) else ""


def _today(now: dt.datetime) -> dt.date:
    return (now.astimezone(dt.UTC) if now.tzinfo else now).date()
