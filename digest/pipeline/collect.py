"""Collection: every source in turn, its papers stored, its health judged.

A failing source is reported and the others go on; a source's state (ETags, watermarks)
advances only once its papers are stored (invariant I3).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from digest import checks
from digest.components import CollectContext, Source
from digest.config import FetchSettings
from digest.errors import describe
from digest.fetch import Fetcher, SourceHTTP
from digest.models import Problem, SourceReport
from digest.pipeline.report import Reporter
from digest.store import Store

log = logging.getLogger("digest.pipeline")

#: a source polled again within this time may legitimately have nothing new
SAME_DAY = dt.timedelta(hours=20)


class Collector:
    """Runs the configured sources through the process's one HTTP client."""

    def __init__(
        self,
        store: Store,
        sources: Mapping[str, Source],
        fetch: FetchSettings,
        reporter: Reporter,
    ) -> None:
        self.store = store
        self.sources = sources
        self.fetch = fetch
        self.reporter = reporter
        self._fetcher: Fetcher | None = None

    @property
    def fetcher(self) -> Fetcher:
        """The process's one HTTP client, built on first use (sources that fetch nothing
        never import httpx)."""
        if self._fetcher is None:
            from digest import __version__
            from digest.fetch import Fetcher, policy_from_settings

            self._fetcher = Fetcher(policy_from_settings(self.fetch), version=__version__)
        return self._fetcher

    def collect(self, now: dt.datetime) -> tuple[list[SourceReport], list[Problem]]:
        """Run every source once; the HTTP client is closed afterwards."""
        reports: list[SourceReport] = []
        problems: list[Problem] = []
        try:
            for name, source in self.sources.items():
                reports.append(self._collect_one(name, source, now, problems))
        finally:
            if self._fetcher is not None:
                self._fetcher.close()
        return reports, problems

    def _collect_one(
        self, name: str, source: Source, now: dt.datetime, problems: list[Problem]
    ) -> SourceReport:
        context = CollectContext(now=now, state=self.store.source_state(name))
        context.http = SourceHTTP(self.fetcher, context.state, context.save)
        try:
            items = [checks.paper(item) for item in source.collect(context)]
        except Exception as error:
            message = describe(error)
            problems.append(self.reporter.problem(f"sources.{name}", error))
            self.store.record_source_run(name, now=now, collected=0, new=0, error=message)
            return SourceReport(name=name, error=message)
        result = self.store.upsert_papers(items, source=name, now=now)
        health = self._health_flag(source, name, now, collected=len(items), new=result.new)
        flag = "; ".join([*context.warnings, *([health] if health else [])]) or None
        # The source's state advances only now that its papers are stored (I3).
        self.store.record_source_run(
            name,
            now=now,
            collected=len(items),
            new=result.new,
            error=None,
            state=context.pending_state,
            flag=flag,
        )
        return SourceReport(
            name=name, collected=len(items), new=result.new, updated=result.updated, flag=flag
        )

    def _health_flag(
        self, source: Source, name: str, now: dt.datetime, *, collected: int, new: int
    ) -> str | None:
        """A warning when a source is empty or stale while papers were expected.

        The source says whether it expects papers now (arXiv: its announcement calendar);
        otherwise its recent history decides. An expected-empty day is not flagged.
        """
        try:
            expects = source.expects_papers(now)
        except Exception as error:
            log.debug("sources.%s expects_papers failed", name, exc_info=error)
            expects = None
        if expects is False:
            return None
        history = self.store.recent_runs(name, limit=7)
        usually = sorted(c for _, c, _ in history)[len(history) // 2] if history else 0
        # A feed that changes daily may be unchanged (a 304, the same batch) when polled again
        # the same day; only a day without anything is suspicious.
        last_papers = next((at for at, c, _ in history if c > 0), None)
        last_new = next((at for at, _, n in history if n > 0), None)
        if collected == 0:
            if last_papers is not None and now - last_papers < SAME_DAY:
                return None
            if expects:
                return "no papers on a day with an announcement (empty or unchanged feed)"
            if usually > 0:
                return f"no papers, although its recent runs returned ~{usually}"
            return None
        if expects and new == 0 and last_new is not None and now - last_new >= SAME_DAY:
            return "stale: only papers already seen, on a day with an announcement"
        return None
