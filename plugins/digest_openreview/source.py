"""The ``openreview`` source: a venue's accepted papers or submissions on OpenReview."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterable
from typing import Literal
from urllib.parse import urlencode, urlsplit

from pydantic import Field, field_validator

from digest import CollectContext, ComponentConfig, Fetched, FetchError, HttpUrl, Source
from digest.models import Paper

from .parse import NotesPage, error_in, parse_notes

DEFAULT_URL = "https://api2.openreview.net"
DEFAULT_WEB_URL = "https://openreview.net"
#: OpenReview limits guests' request rates (by the minute); one request a second stays clear
INTERVAL = 1.0
#: the most notes the API returns per request
MAX_LIMIT = 1000
_VENUE = re.compile(r"^[A-Za-z0-9][\w.\-]*(?:/[\w.\-]+)*$")


class OpenReviewSource(Source):
    """A venue's accepted papers (or its submissions) from OpenReview's API v2.

    Asks ``GET {url}/notes`` with ``content.venueid=<venue>`` (accepted papers) or
    ``invitation=<venue>/-/Submission`` (every submission), newest change first
    (``sort=tmdate:desc``), ``page_size`` at a time up to ``max_results``. The first run
    collects what is there; later runs only notes changed since the newest one seen (the
    watermark is kept per venue and ``which``), and stop paging once they reach older ones.
    Withdrawn and desk-rejected submissions are left out. A paper is identified by its arXiv
    id or DOI when its BibTeX names one, else by a fingerprint of its title and first author
    (how the same paper from arXiv is recognised); its forum ``openreview.net/forum?id=…`` is
    kept as an alias, so a retitled camera-ready stays one paper. ``openreview.venue`` ("ICLR
    2025 Poster"), ``openreview.venueid``, ``openreview.keywords`` and
    ``openreview.accepted_at`` are kept as signals, and the authors' TL;DR as ``tldr``.
    """

    name = "openreview"
    description = "a venue's accepted papers or submissions on OpenReview (API v2)"

    class Config(ComponentConfig):
        venue: str = Field(
            description='The venue id, as in OpenReview\'s URLs, e.g. "ICLR.cc/2025/Conference"'
            ' or "TMLR".',
        )
        which: Literal["accepted", "submissions"] = Field(
            default="accepted",
            description='"accepted": the papers the venue accepted (content.venueid); '
            '"submissions": every public submission (withdrawn ones left out).',
        )
        max_results: int = Field(
            default=5000,
            ge=1,
            le=100_000,
            description="Most notes read per run; a warning says when there were more.",
        )
        page_size: int = Field(
            default=MAX_LIMIT,
            ge=1,
            le=MAX_LIMIT,
            description=f"Notes per request (the API's limit is {MAX_LIMIT}).",
        )
        url: HttpUrl = Field(default=DEFAULT_URL, description="The OpenReview API v2 base URL.")
        web_url: HttpUrl = Field(
            default=DEFAULT_WEB_URL,
            description="The OpenReview site that forum and PDF links point to.",
        )

        @field_validator("venue")
        @classmethod
        def _venue(cls, value: str) -> str:
            value = value.strip().strip("/")
            if "/-/" in value:
                raise ValueError(
                    f"{value!r} is an invitation; give the venue id (the part before /-/)"
                )
            if not _VENUE.match(value):
                raise ValueError(f"{value!r} is not an OpenReview venue id")
            return value

    config: Config

    def endpoint(self) -> str:
        return f"{self.config.url.rstrip('/')}/notes"

    def query(self) -> dict[str, str]:
        """What selects the notes: the venue's accepted papers or its submissions."""
        if self.config.which == "accepted":
            return {"content.venueid": self.config.venue}
        return {"invitation": f"{self.config.venue}/-/Submission"}

    def state_key(self) -> str:
        """The watermark's key: another venue or ``which`` starts afresh."""
        key = hashlib.sha1(f"{self.config.which}|{self.config.venue}".encode()).hexdigest()
        return f"openreview.seen.{key[:16]}"

    def collect(self, context: CollectContext) -> Iterable[Paper]:
        # Everything is fetched before anything is returned: a failure fails the run as a
        # whole and the watermark does not advance.
        cfg = self.config
        context.http.pace(urlsplit(cfg.url).hostname or "", interval=INTERVAL, connections=1)
        saved = context.state.get(self.state_key(), "")
        watermark = int(saved) if saved.isdigit() else None
        newest = watermark or 0
        papers: dict[str, Paper] = {}
        offset = incomplete = left_out = 0
        more = False
        while offset < cfg.max_results:
            size = min(cfg.page_size, cfg.max_results - offset)
            params = {
                **self.query(),
                "sort": "tmdate:desc",
                "limit": str(size),
                "offset": str(offset),
            }
            label = f"{self.endpoint()}?{urlencode(params)}"
            page = parse_notes(
                self._get(context, params, label).content,
                url=label,
                source=self.instance,
                venue=cfg.venue,
                which=cfg.which,
                web_url=cfg.web_url,
            )
            incomplete += page.incomplete
            left_out += page.left_out
            for sighting in page.sightings:
                newest = max(newest, sighting.changed)
                if watermark is None or sighting.changed > watermark:
                    papers.setdefault(str(sighting.paper.id), sighting.paper)
            offset += page.notes
            more = page.notes >= size and (page.count is None or offset < page.count)
            if not more or _reached(page, watermark):
                more = False
                break
        if more:
            total = "" if page.count is None else f" of {page.count}"
            context.warn(
                f"{self.endpoint()}: stopped at max_results={cfg.max_results}{total} notes "
                f"for {cfg.venue} ({cfg.which})"
            )
        if incomplete:
            context.warn(f"{self.endpoint()}: {incomplete} note(s) without a title skipped")
        self.log.debug(
            "%s: %d papers, %d withdrawn or not accepted", self.endpoint(), len(papers), left_out
        )
        if newest:
            context.save(self.state_key(), str(newest))
        return list(papers.values())

    def _get(self, context: CollectContext, params: dict[str, str], label: str) -> Fetched:
        try:
            return context.http.get(
                self.endpoint(), params=params, conditional=False, accept="application/json"
            )
        except FetchError as error:
            message = error_in(error.content) if error.content else None
            if not message:
                raise
            text = str(error)
            reason = text.partition(": ")[2] if text.startswith(("http://", "https://")) else text
            raise FetchError(
                f"{label}: {reason}; OpenReview says: {message}", status=error.status
            ) from None


def _reached(page: NotesPage, watermark: int | None) -> bool:
    """Whether paging reached notes seen before: the page is newest-first (as asked) and its
    last note is not newer than the watermark. A page out of order never stops the paging."""
    changes = page.changes
    if watermark is None or not changes:
        return False
    in_order = all(a >= b for a, b in itertools.pairwise(changes))
    return in_order and changes[-1] <= watermark
