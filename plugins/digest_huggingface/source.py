"""The ``huggingface`` source: papers featured on Hugging Face daily papers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from pydantic import Field

from digest import CollectContext, ComponentConfig, HttpUrl, Source
from digest.models import Paper

from .parse import parse_daily_papers

DEFAULT_URL = "https://huggingface.co/api/daily_papers"


class HuggingFaceSource(Source):
    """Papers featured on Hugging Face daily papers, with their upvotes and code links.

    For each of the last ``days`` listing days (counting back from the run's date in UTC) it
    asks ``GET {url}?date=YYYY-MM-DD``. Every paper is identified by its arXiv id, so it merges
    with the same paper from the arXiv sources; HF's signals are kept under ``hf.*``
    (``hf.upvotes``, ``hf.listed_at``, ``hf.github_repo``, ``hf.github_stars``,
    ``hf.keywords``, ``hf.comments``), and the page picture as ``thumbnail`` (https only; the
    email shows it as a linked image). An empty list (weekends) is a valid empty result; a reply
    that is not the JSON list the API documents is an error naming the URL.
    """

    name = "huggingface"
    description = "papers featured on Hugging Face daily papers (upvotes, code links)"

    class Config(ComponentConfig):
        url: HttpUrl = Field(
            default=DEFAULT_URL, description="The daily papers API endpoint (http or https)."
        )
        days: int = Field(
            default=1,
            ge=1,
            le=31,
            description="How many listing days to fetch, counting back from today (UTC).",
        )
        min_upvotes: int = Field(
            default=0, ge=0, description="Skip papers with fewer upvotes than this."
        )

    config: Config

    def dates(self, now: dt.datetime) -> list[dt.date]:
        """The listing days to fetch, oldest first."""
        # HF lists papers by UTC day; a naive run time is taken as UTC.
        today = (now.astimezone(dt.UTC) if now.tzinfo else now).date()
        return [today - dt.timedelta(days=back) for back in reversed(range(self.config.days))]

    def collect(self, context: CollectContext) -> Iterable[Paper]:
        # Everything is fetched before anything is returned: a failure on one day fails the
        # run for this source as a whole, so no conditional-GET state advances half-way.
        papers: dict[str, Paper] = {}
        for day in self.dates(context.now):
            fetched = context.http.get(
                self.config.url,
                params={"date": day.isoformat()},
                conditional=True,
                accept="application/json",
            )
            if fetched.not_modified:
                self.log.debug("%s: %s not modified since the last run", self.config.url, day)
                continue
            parsed = parse_daily_papers(
                fetched.content,
                url=fetched.url,
                source=self.instance,
                listing_date=day,
                min_upvotes=self.config.min_upvotes,
            )
            self.log.debug(
                "%s: %d papers (%d incomplete, %d below %d upvotes, %d duplicates)",
                fetched.url,
                len(parsed.papers),
                parsed.incomplete,
                parsed.below_threshold,
                self.config.min_upvotes,
                parsed.duplicates,
            )
            for paper in parsed.papers:
                # A paper listed on two of the days keeps its first (oldest) listing.
                papers.setdefault(str(paper.id), paper)
        return list(papers.values())
