"""The ``biorxiv`` source: new bioRxiv or medRxiv preprints from the ``details`` API."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Literal
from urllib.parse import urlencode, urlsplit

from pydantic import Field, field_validator

from digest import CollectContext, ComponentConfig, FetchError, HttpUrl, Source, SourceError
from digest.models import Paper

from .parse import DetailsPage, api_error_status, parse_details

DEFAULT_URL = "https://api.biorxiv.org"
#: the API serves at most this many records per reply
PAGE_SIZE = 100
#: seconds between requests: the API documents no limit, so one request a second, one at a time
INTERVAL = 1.0
# Subject collections as the API names them: "neuroscience", "cell_biology", "infectious_diseases"
_CATEGORY = re.compile(r"^[a-z][a-z_]*[a-z]$")


class BiorxivSource(Source):
    """New preprints from bioRxiv or medRxiv, through the public ``details`` API.

    Each run asks ``GET {url}/details/{server}/{from}/{to}/{cursor}/json`` for the last ``days``
    days up to the run's date (UTC), once per subject collection in ``categories`` (as
    ``?category=…``) or once for the whole server, and pages by cursor (100 records a reply) up
    to ``max_results`` records per request, with a health warning when that cap stops it.
    Requests are spaced one second apart, one at a time.

    A preprint is identified by its DOI (``doi:10.1101/…``); a record is one version, and the
    newest version read wins the text. When the preprint has been published in a journal, the
    journal's DOI is an alias, so the journal version (from ``crossref`` or a journal feed)
    merges with it. Signals: ``biorxiv.server``, ``biorxiv.type``, ``biorxiv.license``. An
    interval without posts ("no posts found") is a valid empty result; a reply that is not the
    documented JSON is an error naming the URL; records without a DOI or title are skipped with
    a warning.
    """

    name = "biorxiv"
    description = "new bioRxiv or medRxiv preprints from the api.biorxiv.org details API"

    class Config(ComponentConfig):
        server: Literal["biorxiv", "medrxiv"] = Field(
            default="biorxiv", description='Which preprint server: "biorxiv" or "medrxiv".'
        )
        categories: list[str] = Field(
            default_factory=list,
            description=(
                'Subject collections to read, e.g. ["neuroscience", "cell biology"] (spaces '
                "may be written as underscores); empty: every new preprint of the server."
            ),
        )
        days: int = Field(
            default=2,
            ge=1,
            le=60,
            description=(
                "How many days back from the run's date (UTC) the interval starts; it ends on "
                "the run's date. Cover the time between runs."
            ),
        )
        max_results: int = Field(
            default=2000,
            ge=1,
            le=100_000,
            description="Most records read per category (or for the whole server) per run.",
        )
        url: HttpUrl = Field(
            default=DEFAULT_URL,
            description="Base URL of the API; requests go to {url}/details/{server}/….",
        )

        @field_validator("categories")
        @classmethod
        def _categories(cls, value: list[str]) -> list[str]:
            cleaned = ["_".join(v.strip().lower().split()) for v in value]
            bad = [v for v in cleaned if not _CATEGORY.match(v)]
            if bad:
                raise ValueError(
                    f"not bioRxiv subject collections: {', '.join(map(repr, bad))} "
                    '(e.g. "neuroscience", "cell_biology")'
                )
            return list(dict.fromkeys(cleaned))

    config: Config

    def interval(self, now: dt.datetime) -> tuple[dt.date, dt.date]:
        """The first and last day asked for: ``days`` days back from the run's UTC date."""
        today = (now.astimezone(dt.UTC) if now.tzinfo else now).date()
        return today - dt.timedelta(days=self.config.days), today

    def collect(self, context: CollectContext) -> list[Paper]:
        # Everything is read before anything is returned: a failed request fails the instance.
        base = self.config.url.rstrip("/")
        context.http.pace(urlsplit(base).hostname or "", interval=INTERVAL, connections=1)
        start, end = self.interval(context.now)
        papers: dict[str, Paper] = {}
        wanted: list[str | None] = [*self.config.categories] or [None]
        for category in wanted:
            for paper in self._read(context, base, start, end, category):
                key = str(paper.id)
                if key not in papers or (paper.version or 0) > (papers[key].version or 0):
                    papers[key] = paper  # a later version on a later page wins
        return list(papers.values())

    def _read(
        self,
        context: CollectContext,
        base: str,
        start: dt.date,
        end: dt.date,
        category: str | None,
    ) -> Iterator[Paper]:
        cap = self.config.max_results
        params = {"category": category} if category else {}
        read = skipped = cursor = 0
        label, total = "", None
        while read < cap:
            url = f"{base}/details/{self.config.server}/{start}/{end}/{cursor}/json"
            label = f"{url}?{urlencode(params)}" if params else url
            page = self._page(context, url, params, label, limit=cap - read)
            yield from page.papers
            read += page.records
            skipped += page.skipped
            cursor += page.records
            total = page.total
            self.log.debug("%s: %d records (total %s)", label, page.records, page.total)
            if page.records == 0 or (page.total is not None and cursor >= page.total):
                break
            if page.records < PAGE_SIZE and page.total is None:
                break  # a short page without a total is the last one
        else:
            # The cap was reached with records left (the loop ended without a break).
            of = f" of {total}" if total is not None else ""
            context.warn(f"{label}: stopped paging at max_results={cap}{of} records")
        if skipped:
            noun = "record" if skipped == 1 else "records"
            context.warn(f"{label}: {skipped} {noun} without a DOI or title skipped")

    def _page(
        self,
        context: CollectContext,
        url: str,
        params: dict[str, str],
        label: str,
        *,
        limit: int,
    ) -> DetailsPage:
        try:
            fetched = context.http.get(
                url, params=params or None, conditional=False, accept="application/json"
            )
        except FetchError as error:
            status = api_error_status(error.content) if error.content else None
            if status:
                raise SourceError(f"{label}: the API answered: {status}") from error
            raise
        return parse_details(
            fetched.content,
            url=label,
            source=self.instance,
            server=self.config.server,
            limit=limit,
        )
