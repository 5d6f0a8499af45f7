"""The ``pubmed`` source: new PubMed records matching a search, through NCBI's E-utilities."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from typing import Literal
from urllib.parse import urlencode, urlsplit

from pydantic import Field, field_validator

from digest import CollectContext, ComponentConfig, Fetched, FetchError, HttpUrl, Source
from digest.models import Paper

from .ncbi import error_message
from .parse import parse_articles
from .search import SearchPage, parse_search

DEFAULT_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
#: NCBI's limits: 3 requests a second without an API key, 10 with one
INTERVAL_WITHOUT_KEY = 0.34
INTERVAL_WITH_KEY = 0.1
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# An NCBI API key is 36 hexadecimal characters: pasted into api_key_env by mistake.
_LOOKS_LIKE_KEY = re.compile(r"^[0-9a-f]{30,}$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PubMedSource(Source):
    """New PubMed records matching a search, through NCBI's E-utilities.

    Each run asks ``esearch.fcgi`` for the PMIDs of ``query`` entered (``datetype = "edat"``)
    or published (``"pdat"``) since the last run — on the first run, in the last ``days``
    days — ``batch_size`` at a time up to ``max_results``, and reads each batch's records with
    ``efetch.fcgi`` (PubMed XML). A record is identified by its DOI (so the journal article
    merges with the same work from Crossref, a journal feed or a preprint server that names
    its published DOI), else by its PubMed page ``https://pubmed.ncbi.nlm.nih.gov/<PMID>/``;
    an arXiv preprint indexed by PubMed keeps its arXiv id. Major MeSH topics become the
    categories; ``pubmed.pmid``, ``pubmed.pmcid``, ``pubmed.journal``, ``pubmed.mesh``,
    ``pubmed.keywords`` and ``pubmed.publication_types`` are kept as signals. Requests are
    spaced by NCBI's limit: 3 a second, or 10 with an API key read from the environment
    variable named by ``api_key_env``. An empty search is a valid empty result; NCBI's error
    replies fail the run with NCBI's message.
    """

    name = "pubmed"
    description = "new PubMed records matching a search (NCBI E-utilities)"

    class Config(ComponentConfig):
        query: str = Field(
            description=(
                "The PubMed search, as typed in PubMed's search box, e.g. \"(deep learning[tiab])"
                ' AND radiology[mh]".'
            ),
        )
        days: int = Field(
            default=7,
            ge=1,
            le=3650,
            description="On the first run, how many days back to collect (later runs: since "
            "the last run).",
        )
        datetype: Literal["edat", "pdat", "mdat"] = Field(
            default="edat",
            description='Which date the window applies to: "edat" (entered into PubMed), '
            '"pdat" (publication date) or "mdat" (last modified).',
        )
        api_key_env: str = Field(
            default="NCBI_API_KEY",
            description="Name of the environment variable holding an NCBI API key (10 "
            "requests a second instead of 3); never the key itself. Unset: no key.",
        )
        email: str = Field(
            default="",
            description="Contact address sent to NCBI as email=, as NCBI asks of tools.",
        )
        tool: str = Field(
            default="papers-digest",
            description="Tool name sent to NCBI as tool= (no spaces).",
        )
        batch_size: int = Field(
            default=200,
            ge=1,
            le=500,
            description="PMIDs per esearch page and per efetch request.",
        )
        max_results: int = Field(
            default=1000,
            ge=1,
            le=10000,
            description="Most records read per run (esearch serves at most 10000); a warning "
            "says when a search had more.",
        )
        url: HttpUrl = Field(
            default=DEFAULT_URL,
            description="Base URL of the E-utilities (esearch.fcgi and efetch.fcgi under it).",
        )

        @field_validator("query")
        @classmethod
        def _query(cls, value: str) -> str:
            cleaned = " ".join(value.split())
            if not cleaned:
                raise ValueError("the query is empty")
            return cleaned

        @field_validator("api_key_env")
        @classmethod
        def _env_name(cls, value: str) -> str:
            value = value.strip()
            if _LOOKS_LIKE_KEY.match(value):
                raise ValueError(
                    "this looks like an API key: put it in an environment variable and give "
                    "that variable's name here"
                )
            if value and not _ENV_NAME.match(value):
                raise ValueError(f"{value!r} is not an environment variable name")
            return value

        @field_validator("tool")
        @classmethod
        def _tool(cls, value: str) -> str:
            value = value.strip()
            if not value or any(c.isspace() for c in value):
                raise ValueError("tool must be one word without spaces")
            return value

        @field_validator("email")
        @classmethod
        def _email(cls, value: str) -> str:
            value = value.strip()
            if value and not _EMAIL.match(value):
                raise ValueError(f"{value!r} is not an email address")
            return value

    config: Config

    # -- endpoints and window -----------------------------------------------------------------

    def endpoint(self, utility: str) -> str:
        """The URL of one E-utility, e.g. ``endpoint("esearch")``."""
        return f"{self.config.url.rstrip('/')}/{utility}.fcgi"

    def state_key(self) -> str:
        """The state key of the window's watermark: a new query or datetype starts afresh."""
        digest = hashlib.sha1(f"{self.config.datetype}|{self.config.query}".encode()).hexdigest()
        return f"pubmed.since.{digest[:16]}"

    def window(self, now: dt.datetime, state: Mapping[str, str]) -> tuple[dt.date, dt.date]:
        """``(mindate, maxdate)``: from the last run's maxdate (that day again, since records
        entered later that day were not there yet), else ``days`` back, to today (UTC)."""
        today = (now.astimezone(dt.UTC) if now.tzinfo else now).date()
        start = today - dt.timedelta(days=self.config.days)
        saved = state.get(self.state_key())
        if saved:
            try:
                start = min(dt.date.fromisoformat(saved), today)
            except ValueError:
                self.log.warning("ignoring an unreadable watermark %r", saved)
        return start, today

    def api_key(self, context: CollectContext) -> str | None:
        """The API key from the environment, if the named variable is set."""
        name = self.config.api_key_env
        key = os.environ.get(name, "").strip() if name else ""
        if not key and name and "api_key_env" in self.config.model_fields_set:
            context.warn(
                f"{self.endpoint('esearch')}: environment variable {name} is not set; "
                "searching without an API key (3 requests a second)"
            )
        return key or None

    # -- collect ------------------------------------------------------------------------------

    def collect(self, context: CollectContext) -> Iterable[Paper]:
        # Everything is fetched before anything is returned: a failure fails the run as a
        # whole and the watermark does not advance.
        cfg = self.config
        key = self.api_key(context)
        host = urlsplit(cfg.url).hostname or ""
        context.http.pace(
            host, interval=INTERVAL_WITH_KEY if key else INTERVAL_WITHOUT_KEY, connections=1
        )
        start, end = self.window(context.now, context.state)
        common = {"db": "pubmed", "tool": cfg.tool, **({"email": cfg.email} if cfg.email else {})}
        search = {
            **common,
            "term": cfg.query,
            "datetype": cfg.datetype,
            "mindate": start.strftime("%Y/%m/%d"),
            "maxdate": end.strftime("%Y/%m/%d"),
            "retmode": "json",
        }
        papers: dict[str, Paper] = {}
        asked: set[str] = set()
        incomplete = 0
        retstart = 0
        total = 0
        while retstart < cfg.max_results:
            size = min(cfg.batch_size, cfg.max_results - retstart)
            params = {**search, "retstart": str(retstart), "retmax": str(size)}
            label = self._label("esearch", params)
            page = self._search(context, label, params, key)
            total = max(total, page.count)
            if page.ignored:
                context.warn(f"{label}: PubMed found nothing for {', '.join(page.ignored)}")
            ids = [i for i in dict.fromkeys(page.ids) if i not in asked]
            asked.update(ids)
            if ids:
                fetch = {**common, "id": ",".join(ids), "retmode": "xml"}
                fetch_label = self._label("efetch", fetch)
                fetched = self._get(context, "efetch", fetch, fetch_label, key, "application/xml")
                found = parse_articles(fetched.content, url=fetch_label, source=self.instance)
                incomplete += found.incomplete
                for paper in found.papers:
                    papers.setdefault(str(paper.id), paper)
                self.log.debug(
                    "%s: %d of %d records (%d incomplete, %d books)",
                    fetch_label,
                    len(found.papers),
                    len(ids),
                    found.incomplete,
                    found.books,
                )
            retstart += len(page.ids)
            if not page.ids or retstart >= page.count:
                break
        if total > cfg.max_results:
            context.warn(
                f"{self.endpoint('esearch')}: {total} records matched {cfg.query!r}; stopped "
                f"at max_results={cfg.max_results}"
            )
        if incomplete:
            context.warn(
                f"{self.endpoint('efetch')}: {incomplete} record(s) without a PMID or a title "
                "skipped"
            )
        context.save(self.state_key(), end.isoformat())
        return list(papers.values())

    # -- requests -----------------------------------------------------------------------------

    def _label(self, utility: str, params: Mapping[str, str]) -> str:
        """The request's URL as error messages and warnings show it: never with the API key,
        and a long id list shortened to its first PMID and the count."""
        shown = {k: v for k, v in params.items() if k != "id"}
        label = f"{self.endpoint(utility)}?{urlencode(shown)}"
        ids = params.get("id", "").split(",")
        if len(ids) > 2:
            return f"{label}&id={ids[0]},…({len(ids)} PMIDs)"
        return f"{label}&id={','.join(ids)}" if ids[0] else label

    def _search(
        self, context: CollectContext, label: str, params: dict[str, str], key: str | None
    ) -> SearchPage:
        fetched = self._get(context, "esearch", params, label, key, "application/json")
        return parse_search(fetched.content, url=label)

    def _get(
        self,
        context: CollectContext,
        utility: str,
        params: dict[str, str],
        label: str,
        key: str | None,
        accept: str,
    ) -> Fetched:
        query = {**params, "api_key": key} if key else params
        try:
            return context.http.get(
                self.endpoint(utility), params=query, conditional=False, accept=accept
            )
        except FetchError as error:
            # The client's message names the URL it asked, API key included: say it again
            # with the label, and with NCBI's own message when the body has one.
            text = str(error)
            reason = text.partition(": ")[2] if text.startswith(("http://", "https://")) else text
            if key:
                reason = reason.replace(key, "***")
            message = error_message(error.content) if error.content else None
            said = f"; NCBI says: {message}" if message else ""
            raise FetchError(f"{label}: {reason}{said}", status=error.status) from None
