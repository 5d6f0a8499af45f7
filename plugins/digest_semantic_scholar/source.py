"""The ``semantic_scholar`` source: S2 recommendations for liked papers and new papers by
followed authors."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import quote, urlsplit

from pydantic import Field, field_validator, model_validator

from digest import (
    CollectContext,
    ComponentConfig,
    Fetched,
    FetchError,
    HttpUrl,
    Source,
    SourceError,
    SourceHTTP,
)
from digest.models import Paper, SignalValue

from .ids import s2_author_id, s2_paper_id, s2_to_canonical
from .parse import Page, api_error, parse_author_papers, parse_recommendations

DEFAULT_API = "https://api.semanticscholar.org"
#: what is asked for every paper (S2 returns only the fields named)
FIELDS = (
    "paperId,externalIds,title,abstract,authors,year,publicationDate,venue,url,"
    "openAccessPdf,fieldsOfStudy,s2FieldsOfStudy,citationCount,tldr"
)
#: S2's documented limit with an API key, and a polite pace for the shared keyless pool
INTERVAL = 1.0
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: parse_recommendations or parse_author_papers
_Parser = Callable[..., Page]


class SemanticScholarSource(Source):
    """Papers from Semantic Scholar (S2): recommendations for liked papers and new papers by
    followed authors; either or both in one instance.

    * ``liked`` — for each liked paper, ``GET {api_url}/recommendations/v1/papers/forpaper/<id>``
      (``from=pool``, up to ``limit`` papers, best first). The lists are merged: a paper
      recommended for several liked papers comes once, with its best rank (``s2.rank``, 1 is
      best), the liked paper it ranked best for (``s2.recommended_for``) and for how many it
      was recommended (``s2.recommended_count``). Liked and ``disliked`` papers themselves are
      never yielded. Ids are written as people write them: ``2406.01234``, ``arXiv:…``,
      ``10.1145/…``, a doi.org link, a 40-hex S2 paper id, ``CorpusId:…``.
    * ``authors`` — for each S2 author id, ``GET {api_url}/graph/v1/author/<id>/papers``,
      paged by ``offset``, keeping papers published since that author's last successful run
      (the first run: the last ``days`` days), counting ``overlap_days`` back because S2
      indexes some papers days after their publication date. A paper with only a ``year``
      counts as published on 1 January of it.

    Every paper is identified by its arXiv id, else its DOI; the DOI of an arXiv paper is kept
    as an alias, so the journal version and the arXiv sightings are one paper. S2's data is
    kept as signals: ``s2.paper_id``, ``s2.corpus_id``, ``s2.citations``, ``s2.venue``,
    ``s2.tldr`` (S2's one-sentence summary), ``s2.fields``, ``s2.year`` and, for followed
    authors, ``s2.author``. A liked paper or author S2 does not know (404) or refuses (400) is
    skipped with a warning naming it; only when every request fails is the source failed.
    """

    name = "semantic_scholar"
    description = "Semantic Scholar: recommendations for liked papers, new papers by authors"

    class Config(ComponentConfig):
        liked: list[str] = Field(
            default_factory=list,
            description=(
                "Papers to get recommendations for: arXiv ids, DOIs, doi.org links, S2 paper "
                'ids or prefixed ids, e.g. ["2406.01234", "10.1145/3404835.3462891", '
                '"CorpusId:215416146"]. One request per paper.'
            ),
        )
        disliked: list[str] = Field(
            default_factory=list,
            description=(
                "Papers (written like liked) never to yield, even when recommended. The "
                "single-paper endpoint used takes no negative examples."
            ),
        )
        limit: int = Field(
            default=100,
            ge=1,
            le=500,
            description="Recommendations asked for per liked paper (S2 allows at most 500).",
        )
        pool: Literal["recent", "all-cs"] = Field(
            default="recent",
            description=(
                'Which papers S2 recommends from: "recent" (papers of the last months) or '
                '"all-cs" (all computer science papers).'
            ),
        )
        authors: list[str] = Field(
            default_factory=list,
            description=(
                "S2 author ids whose new papers to collect: the number at the end of an "
                'author page\'s address (semanticscholar.org/author/<name>/<id>), e.g. ["1741101"].'
            ),
        )
        days: int = Field(
            default=30,
            ge=1,
            le=3650,
            description="On the first run for an author, collect papers published this many "
            "days back.",
        )
        overlap_days: int = Field(
            default=7,
            ge=0,
            le=365,
            description=(
                "Also collect papers dated up to this many days before an author's last run: "
                "S2 indexes some papers days after their publication date (papers already "
                "stored are not new again)."
            ),
        )
        page_size: int = Field(
            default=100,
            ge=1,
            le=1000,
            description="Papers per request of an author's list (S2 allows at most 1000).",
        )
        max_papers: int = Field(
            default=1000,
            ge=1,
            le=10000,
            description="Read at most this many papers per author and run (then a warning).",
        )
        api_key_env: str | None = Field(
            default=None,
            description=(
                "The name of an environment variable holding an S2 API key (never the key "
                "itself), sent as the x-api-key header. Without one, requests share S2's "
                "public pool and may be answered 429."
            ),
        )
        api_url: HttpUrl = Field(
            default=DEFAULT_API,
            description=(
                "Base URL of the S2 API; requests go to {api_url}/recommendations/v1/… and "
                "{api_url}/graph/v1/…."
            ),
        )

        @field_validator("liked", "disliked")
        @classmethod
        def _paper_ids(cls, value: list[str]) -> list[str]:
            converted: list[str] = []
            for text in value:
                converted.append(s2_paper_id(text))  # ValueError names the bad one
            return list(dict.fromkeys(converted))

        @field_validator("authors")
        @classmethod
        def _author_ids(cls, value: list[str]) -> list[str]:
            return list(dict.fromkeys(s2_author_id(text) for text in value))

        @field_validator("api_key_env")
        @classmethod
        def _env_name(cls, value: str | None) -> str | None:
            if value is None:
                return None
            value = value.strip()
            if not _ENV_NAME.match(value):
                raise ValueError(
                    "api_key_env is the name of an environment variable (e.g. S2_API_KEY), "
                    "not the key itself"
                )
            return value

        @model_validator(mode="after")
        def _something_to_read(self) -> SemanticScholarSource.Config:
            if not (self.liked or self.authors):
                raise ValueError("set liked (recommendations) and/or authors (their new papers)")
            if self.disliked and not self.liked:
                raise ValueError("disliked only filters recommendations: set liked too")
            both = sorted(set(self.liked) & set(self.disliked))
            if both:
                raise ValueError(f"liked and disliked at once: {', '.join(both)}")
            return self

    config: Config

    def expects_papers(self, now: dt.datetime) -> bool | None:
        """Followed authors publish now and then: an author-only instance that finds nothing
        new is normal. Recommendations are judged by the source's history."""
        return None if self.config.liked else False

    # -- collect ----------------------------------------------------------------------------

    def collect(self, context: CollectContext) -> Iterable[Paper]:
        http = context.http
        if http is None:
            raise SourceError(f"sources.{self.instance}: the collect context has no HTTP client")
        base = self.config.api_url.rstrip("/")
        http.pace(urlsplit(base).hostname or "", interval=INTERVAL)
        session = _Session(http=http, headers=self._headers(context), log=self.log)
        outcome = _Outcome()
        if self.config.liked:
            self._recommendations(session, base, context, outcome)
        for author in self.config.authors:
            self._author(session, base, author, context, outcome)
        if outcome.failures and not outcome.successes:
            count = len(outcome.failures)
            every = "the one request" if count == 1 else f"all {count} requests"
            raise SourceError(f"{outcome.failures[0]} ({every} failed)")
        return list(outcome.papers.values())

    def _headers(self, context: CollectContext) -> dict[str, str]:
        name = self.config.api_key_env
        if name is None:
            return {}
        key = os.environ.get(name, "").strip()
        if not key:
            context.warn(
                f"sources.{self.instance}: api_key_env {name} is not set; using S2's shared "
                "public pool (expect 429s)"
            )
            return {}
        return {"x-api-key": key}

    def _recommendations(
        self, session: _Session, base: str, context: CollectContext, outcome: _Outcome
    ) -> None:
        cfg = self.config
        excluded = {*cfg.liked, *cfg.disliked}
        canonical = {s2_to_canonical(i) for i in excluded}
        best: dict[str, tuple[int, str]] = {}  # paper id → (rank, liked paper)
        counts: dict[str, int] = {}
        found: dict[str, Paper] = {}
        for liked in cfg.liked:
            url = f"{base}/recommendations/v1/papers/forpaper/{quote(liked, safe=':/')}"
            params = {"from": cfg.pool, "limit": str(cfg.limit)}
            try:
                page = session.page(url, params, parse_recommendations, source=self.instance)
            except FetchError as error:
                outcome.fail(context, f"liked paper {liked}", _failure(url, error, session))
                continue
            outcome.successes += 1
            self._skipped(context, url, page)
            for item in page.found:
                key = str(item.paper.id)
                if item.keys & excluded or _canonical_keys(item.paper) & canonical:
                    continue
                counts[key] = counts.get(key, 0) + 1
                if key not in best or item.position < best[key][0]:
                    best[key] = (item.position, s2_to_canonical(liked))
                found.setdefault(key, item.paper)
            self.log.debug("%s: %d recommendations", url, len(page.found))
        for key, paper in found.items():
            rank, liked = best[key]
            outcome.add(
                paper,
                {"s2.rank": rank, "s2.recommended_for": liked, "s2.recommended_count": counts[key]},
            )

    def _author(
        self,
        session: _Session,
        base: str,
        author: str,
        context: CollectContext,
        outcome: _Outcome,
    ) -> None:
        cfg = self.config
        today = _utc_day(context.now)
        state_key = f"author.{author}.since"
        since = _day(context.state.get(state_key)) or today - dt.timedelta(days=cfg.days)
        cutoff = min(since, today) - dt.timedelta(days=cfg.overlap_days)
        url = f"{base}/graph/v1/author/{author}/papers"
        kept: list[Paper] = []
        offset: int | None = 0
        try:
            while offset is not None:
                params = {
                    "publicationDateOrYear": f"{cutoff.isoformat()}:",
                    "limit": str(min(cfg.page_size, cfg.max_papers - offset)),
                    "offset": str(offset),
                }
                page = session.page(url, params, parse_author_papers, source=self.instance)
                self._skipped(context, url, page)
                # The filter is asked of S2 too; checked here as well (a paper S2 dates
                # differently, an older deployment that ignores the parameter).
                kept.extend(i.paper for i in page.found if i.day is not None and i.day >= cutoff)
                offset = _next_offset(page, offset)
                if offset is not None and offset >= cfg.max_papers:
                    context.warn(
                        f"{url}: stopped paging at max_papers={cfg.max_papers}; "
                        "later papers of this author were not read"
                    )
                    offset = None
        except FetchError as error:
            outcome.fail(context, f"author {author}", _failure(url, error, session))
            return
        outcome.successes += 1
        self.log.debug("%s: %d papers since %s", url, len(kept), cutoff)
        for paper in kept:
            outcome.add(paper, {"s2.author": author})
        # Advances only once the papers are stored (the core persists pending state then).
        context.save(state_key, today.isoformat())

    def _skipped(self, context: CollectContext, url: str, page: Page) -> None:
        if page.skipped:
            noun = "record" if page.skipped == 1 else "records"
            context.warn(f"{url}: {page.skipped} {noun} without a title skipped")


@dataclass(slots=True)
class _Session:
    """The requests of one run: the key header, and the field list S2 accepts.

    ``tldr`` is documented for single papers; should an endpoint refuse it ("Unrecognized or
    unsupported fields"), the request is repeated without it, and so are the run's others.
    """

    http: SourceHTTP
    headers: Mapping[str, str]
    log: logging.Logger
    fields: str = FIELDS

    def page(
        self,
        url: str,
        params: Mapping[str, str],
        parse: _Parser,
        *,
        source: str,
    ) -> Page:
        try:
            fetched = self._get(url, params)
        except FetchError as error:
            message = api_error(error.content) or ""
            refused = error.status == 400 and "tldr" in message.lower()
            if not refused or "tldr" not in self.fields:
                raise
            self.fields = ",".join(f for f in self.fields.split(",") if f != "tldr")
            self.log.info("%s refuses tldr (%s); asking without it", url, message)
            fetched = self._get(url, params)
        return parse(fetched.content, url=url, source=source)

    def _get(self, url: str, params: Mapping[str, str]) -> Fetched:
        return self.http.get(
            url,
            params={**params, "fields": self.fields},
            conditional=False,
            accept="application/json",
            headers=self.headers,
        )


@dataclass(slots=True)
class _Outcome:
    """What one run collected, and which requests failed."""

    papers: dict[str, Paper] = field(default_factory=dict)
    successes: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, paper: Paper, signals: Mapping[str, SignalValue]) -> None:
        key = str(paper.id)
        known = self.papers.get(key, paper)
        self.papers[key] = replace(known, signals={**known.signals, **signals})

    def fail(self, context: CollectContext, what: str, message: str) -> None:
        self.failures.append(message)
        context.warn(f"{message}; {what} skipped")


def _failure(url: str, error: FetchError, session: _Session) -> str:
    """One line naming the URL, the HTTP status and S2's own message."""
    if error.status is None:
        return str(error)
    message = api_error(error.content)
    text = f"{url}: HTTP {error.status}" + (f": {message}" if message else "")
    if error.status == 403 and "x-api-key" in session.headers:
        text += " (is the API key in api_key_env valid?)"
    elif error.status == 429:
        text += " (rate limited; an API key gives a rate of its own)"
    return text


def _canonical_keys(paper: Paper) -> set[str]:
    return {str(paper.id), *paper.aliases}


def _next_offset(page: Page, offset: int) -> int | None:
    after = page.next_offset
    if after is None or after <= offset or not page.records:
        return None
    return after


def _utc_day(now: dt.datetime) -> dt.date:
    return (now.astimezone(dt.UTC) if now.tzinfo else now).date()


def _day(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None
