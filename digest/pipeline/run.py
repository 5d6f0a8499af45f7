"""The pipeline: one idempotent cycle from collection to the run report."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from digest.batch import Batch
from digest.components import Deliverer, Runtime
from digest.config import LoadedConfig
from digest.identity import canonical_ref
from digest.ledger import Ledger, Pending
from digest.mail import MessageBuilder, message_id
from digest.models import Edition, Links, Paper, Problem, RunReport
from digest.pipeline.chunks import ChunkSpec, EditionRun
from digest.pipeline.collect import Collector
from digest.pipeline.deliver import Delivery, pause_flag
from digest.pipeline.fanout import fan_out
from digest.pipeline.recorder import (
    DryRunDeliverer,
    DryRunRecorder,
    LedgerRecorder,
    OnRendered,
    Recorder,
)
from digest.pipeline.report import Reporter, Tally, plugin_problem
from digest.plugins import PluginHost
from digest.select import Selector
from digest.store import Store, utcnow
from digest.store.bounces import BounceCount
from digest.tokens import Tokens
from digest.wiring import Components

log = logging.getLogger("digest.run")


@dataclass(slots=True, kw_only=True)
class RunOptions:
    subscriber: str | None = None
    #: only these subscribers (by name); ``None`` means everyone
    subscribers: frozenset[str] | None = None
    dry_run: bool = False
    #: collect from the sources first (off for previews of what is already stored)
    collect: bool = True
    due_only: bool = False
    now: dt.datetime | None = None
    #: called with (phase, advance, total) as work progresses
    progress: Callable[[str, int, int], None] | None = None
    #: in a dry run, called with each rendered (selection, channel, artifacts); a run with a
    #: callback stays in this process
    on_rendered: OnRendered | None = None
    #: with the procrastinate backend: wait until digest worker has run every chunk
    wait: bool = True
    #: only subscribers of this (schedule, timezone): what a scheduler slot runs
    slot: tuple[str, str] | None = None


class Pipeline:
    """Runs cycles over one store with one set of configured components."""

    def __init__(
        self,
        *,
        loaded: LoadedConfig,
        host: PluginHost,
        store: Store,
        components: Components,
        runtime: Runtime,
    ) -> None:
        self.loaded = loaded
        self.settings = loaded.settings
        self.host = host
        self.store = store
        self.ledger = Ledger(store)
        self.c = components
        self.runtime = runtime
        self.tokens = Tokens(self.settings.digest.secret_key, self.settings.digest.old_secret_keys)
        self.messages = MessageBuilder(runtime.site)
        self.reporter = Reporter(host)
        self._clock: dict[str, float] = defaultdict(float)
        # Set by any process when too many deliveries fail in a row; shared with forked workers.
        self._paused = pause_flag()

    def _tick(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        self._clock[phase] += now - since
        return now

    def timings(self) -> list[str]:
        """Seconds spent per phase in this pipeline's runs, for benchmarks and ``-v``."""
        return [f"{phase:<16}{seconds:8.3f} s" for phase, seconds in self._clock.items()]

    @property
    def workers(self) -> int:
        configured = self.settings.digest.workers
        return configured if configured > 0 else min(os.cpu_count() or 1, 8)

    # -- the run ----------------------------------------------------------------------------

    def run(self, options: RunOptions | None = None) -> RunReport:
        options = options or RunOptions()
        if self.settings.queue.backend == "procrastinate":
            from digest.queue.app import conninfo

            conninfo(self.store.engine.url.render_as_string(hide_password=False))  # PostgreSQL?
        if options.dry_run:
            return self._run(options)
        # One run at a time: a second one waits, then finds nothing new for anyone.
        with self.store.run_lock(on_wait=lambda: log.warning("waiting for another digest run")):
            return self._run(options)

    def _run(self, options: RunOptions) -> RunReport:
        self._paused.clear()
        now = options.now or utcnow()
        tally = Tally()
        # Plugins that failed to load or register are part of what this run reports.
        tally.problems.extend(plugin_problem(f) for f in self.host.failures)
        seen = len(self.host.failures)
        self.host.call_each("before_run", edition=None, dry_run=options.dry_run)
        self.sync_config_subscribers(now)
        if not options.dry_run:  # sign-ups left unconfirmed too long go
            confirm = dt.timedelta(days=self.settings.signup.confirm_within_days)
            self.store.purge_pending(before=now - confirm)
        if options.collect:
            started = time.perf_counter()
            collector = Collector(self.store, self.c.sources, self.settings.fetch, self.reporter)
            tally.sources, problems = collector.collect(now)
            tally.problems.extend(problems)
            self._tick("collect", started)
        recorder: Recorder = (
            DryRunRecorder() if options.dry_run else LedgerRecorder(self.ledger, self.store)
        )
        delivery = self._delivery(recorder, options.on_rendered)
        try:
            tally.resumed = self._resume(tally, delivery)
            edition = self._deliver_new(now, options, tally, delivery)
        finally:
            delivery.close()
        tally.problems.extend(plugin_problem(f) for f in self.host.failures[seen:])
        report = RunReport(
            edition=edition,
            sources=tuple(tally.sources),
            delivered=tally.delivered,
            skipped=dict(tally.skipped),
            failed=dict(tally.failed),
            deferred=dict(tally.deferred),
            paused=self._paused.is_set(),
            problems=tuple(tally.problems),
            resumed=tally.resumed,
            outputs=tuple(tally.outputs),
            dry_run=options.dry_run,
            warnings=tuple(self.c.warnings),
            list_health=self._list_health(now),
            queued=tally.queued,
        )
        known = len(self.host.failures)
        self.host.call_each("after_run", report=report)
        late = [plugin_problem(f) for f in self.host.failures[known:]]
        return replace(report, problems=report.problems + tuple(late)) if late else report

    def _delivery(self, recorder: Recorder, on_rendered: OnRendered | None) -> Delivery:
        routes: dict[str, Deliverer] = dict(self.c.routes)
        if recorder.dry_run:
            stand_in = DryRunDeliverer(self.runtime, on_rendered)
            routes = dict.fromkeys(routes, stand_in)
        return Delivery(
            store=self.store,
            recorder=recorder,
            renderers=self.c.renderers,
            routes=routes,
            messages=self.messages,
            links=self.links,
            reporter=self.reporter,
            paused=self._paused,
            pause_after=self.settings.digest.pause_after,
            return_path=self._return_path,
        )

    def _list_health(self, now: dt.datetime, days: int = 7) -> tuple[str, ...]:
        """Lines on the bounces and complaints recorded in the last ``days``, if any."""
        since = now - dt.timedelta(days=days)
        editions = self.store.bounce_counts(by="edition", since=since, limit=5)
        ignored = self.store.ignored_bounces(since=since)
        if not editions and not ignored:
            return ()
        domains = self.store.bounce_counts(by="domain", since=since, limit=5)

        def counts(c: BounceCount) -> str:
            return f"{c.hard} hard, {c.soft} soft, {c.complaints} complaints"

        head = f"Bounces in the last {days} days"
        lines = [f"{head}, edition {c.name}: {counts(c)}" for c in editions]
        lines += [f"{head} at {c.name}: {counts(c)}" for c in domains]
        if ignored:
            lines.append(
                f"{head}: {ignored} ignored (auto-replies, unreadable, or not about a message "
                "we sent; see digest bounces)"
            )
        return tuple(lines)

    def _return_path(self, edition: Edition, subscriber_id: int) -> str | None:
        """The VERP envelope sender of a digest, when ``[bounces] domain`` is set."""
        bounces = self.settings.bounces
        if not bounces.domain:
            return None
        from digest.bounces.verp import return_path

        return return_path(
            edition_id=edition.id,
            subscriber_id=subscriber_id,
            secret=self.settings.digest.secret_key,
            local_part=bounces.local_part,
            domain=bounces.domain,
        )

    def enrich(self, papers: list[Paper], problems: list[Problem] | None = None) -> list[Paper]:
        """``papers`` with the configured enrichers' signals (once per paper version); an
        enricher's failure goes to ``problems`` (else it is only logged)."""
        from digest.enrich import enrich

        def failed(where: str, error: BaseException) -> None:
            problem = self.reporter.problem(where, error)
            if problems is None:
                log.warning("%s: %s", problem.where, problem.message)
            else:
                problems.append(problem)

        return enrich(papers, self.c.enrichers, self.store, failed)

    def sync_config_subscribers(self, now: dt.datetime) -> None:
        configured = [sub.to_subscriber(name) for name, sub in self.settings.subscribers.items()]
        self.store.save_subscribers(configured, origin="config", now=now, replace_origin=True)

    # -- deliver ------------------------------------------------------------------------------

    def _names(self, options: RunOptions) -> list[str] | None:
        """The names a run is limited to (``None``: everyone who gets digests)."""
        if options.subscriber is None and options.subscribers is None:
            return None
        names: set[str] = set(options.subscribers) if options.subscribers is not None else set()
        if options.subscriber is not None:
            one = {options.subscriber}
            names = one & names if options.subscribers is not None else one
        return sorted(names)

    def chunks(self, options: RunOptions) -> list[ChunkSpec]:
        """The run's chunks: ranges of subscriber ids, planned by the database."""
        size = self.settings.queue.chunk_size
        return [
            ChunkSpec(first, last, n)
            for first, last, n in self.store.subscriber_ranges(
                size, names=self._names(options), slot=options.slot
            )
        ]

    def prepare_edition(
        self, now: dt.datetime, problems: list[Problem]
    ) -> tuple[Batch, Selector, dict[str, str]] | None:
        """The per-paper work of a run, done once: the candidate batch with every filter's,
        ranker's and renderer's prepared data in ``batch.cache``; ``None`` when nobody gets
        digests. Nothing here grows with the number of subscribers but the references."""
        lowest = self.store.lowest_watermark()
        if lowest is None:
            return None
        t = time.perf_counter()
        lookback = now - dt.timedelta(days=self.settings.digest.lookback_days)
        seqs, papers = self.store.papers_since(after_seq=lowest, first_seen_after=lookback)
        papers = self.enrich(papers, problems)
        # Papers subscribers refer to (liked, disliked) are loaded once for every ranker.
        refs = {
            text: ref for text in self.store.profile_references() if (ref := canonical_ref(text))
        }
        references = self.store.papers_by_id(set(refs.values()))
        batch = Batch(papers, now=now, seqs=seqs, references=references)
        t = self._tick("load", t)
        selector = self.selector(problems)
        selector.prepare(batch)
        self._prepare_renderers(batch, problems)
        self._tick("prepare", t)
        return batch, selector, refs

    def selector(self, problems: list[Problem]) -> Selector:
        return Selector(
            self.c.filters,
            self.c.rankers,
            self.c.weights,
            on_error=lambda where, error: problems.append(self.reporter.problem(where, error)),
            diversity=self.settings.selection.diversity,
            relevant_only=self.settings.selection.relevant_only,
            min_reason_strength=self.settings.selection.min_reason_strength,
        )

    def _prepare_renderers(self, batch: Batch, problems: list[Problem]) -> None:
        for name, renderer in self.c.renderers.items():
            try:
                renderer.prepare(batch)
            except Exception as error:
                problems.append(self.reporter.problem(f"renderers.{name}", error))

    def edition_run(
        self,
        *,
        edition: Edition,
        batch: Batch,
        selector: Selector,
        refs: dict[str, str],
        now: dt.datetime,
        delivery: Delivery,
        names: Sequence[str] | None,
        due_only: bool,
        slot: tuple[str, str] | None = None,
    ) -> EditionRun:
        return EditionRun(
            edition=edition,
            batch=batch,
            selector=selector,
            refs=refs,
            now=now,
            delivery=delivery,
            store=self.store,
            ledger=self.ledger,
            message_id=self._message_id,
            names=names,
            due_only=due_only,
            slot=slot,
        )

    def _deliver_new(
        self, now: dt.datetime, options: RunOptions, tally: Tally, delivery: Delivery
    ) -> Edition | None:
        chunks = self.chunks(options)
        if not chunks:
            return None
        prepared = self.prepare_edition(now, tally.problems)
        if prepared is None:
            return None
        batch, selector, refs = prepared
        if self._queued(options):
            return self._deliver_queued(now, options, tally, chunks, batch, selector, refs)
        t = time.perf_counter()
        # The edition exists before any subscriber is handled, so that chunks can run in any
        # process; an edition nobody got a digest in is removed again at the end.
        recorder = delivery.recorder
        edition = recorder.open_edition(now)
        if not recorder.dry_run:
            self.host.call_each("before_run", edition=edition, dry_run=False)
        run = self.edition_run(
            edition=edition,
            batch=batch,
            selector=selector,
            refs=refs,
            now=now,
            delivery=delivery,
            names=self._names(options),
            due_only=options.due_only,
            slot=options.slot,
        )
        progress = options.progress
        try:
            fan_out(
                chunks,
                run.run_chunk,
                tally.absorb,
                # Callbacks (previews) cannot reach back from another process.
                workers=1 if options.on_rendered else self.workers,
                after_fork=self._after_fork,
                progress=(lambda step, total: progress("deliver", step, total))
                if progress
                else None,
            )
        finally:
            self._tick("select→deliver", t)
        return recorder.close_edition(edition, paused=self._paused.is_set())

    def _queued(self, options: RunOptions) -> bool:
        """Whether the run's chunks go to ``digest worker`` processes."""
        return (
            self.settings.queue.backend == "procrastinate"
            and not options.dry_run
            and options.on_rendered is None
        )

    def _deliver_queued(
        self,
        now: dt.datetime,
        options: RunOptions,
        tally: Tally,
        chunks: list[ChunkSpec],
        batch: Batch,
        selector: Selector,
        refs: dict[str, str],
    ) -> Edition | None:
        """Store the edition's work, enqueue its chunks, and (unless told not to) wait."""
        from digest.queue import dispatch
        from digest.queue.work import EditionWork, unfinished_edition

        if not len(batch):  # nothing new for anyone: no edition, no tasks
            return None
        busy = unfinished_edition(self.store)
        if busy is not None:
            tally.problems.append(
                Problem(
                    where=f"edition {busy}",
                    message="still being delivered by digest worker; no new edition starts "
                    "until it is done (digest queue status)",
                )
            )
            return None
        t = time.perf_counter()
        recorder = LedgerRecorder(self.ledger, self.store)
        edition = recorder.open_edition(now)
        self.host.call_each("before_run", edition=edition, dry_run=False)
        names = self._names(options)
        work = EditionWork(
            edition=edition,
            batch=batch,
            refs=refs,
            rankers=tuple(selector.rankers),
            broken_filters=tuple(sorted(selector.broken_filters)),
            names=tuple(names) if names is not None else None,
            due_only=options.due_only,
            slot=options.slot,
            now=now,
        )
        size = dispatch.enqueue(self, work, chunks)
        log.info("edition %s: %d chunks queued (work: %d bytes)", edition.id, len(chunks), size)
        t = self._tick("enqueue", t)
        if not options.wait:
            tally.queued = sum(c.size for c in chunks)
            return edition
        progress = options.progress
        result = dispatch.wait(
            self,
            edition,
            (lambda step, total: progress("deliver", step, total)) if progress else None,
        )
        self._tick("workers", t)
        tally.absorb(result)
        closed = dispatch.close_if_done(self, edition.id)
        if closed is not None:
            return closed
        # Closed by the last worker already (or discarded: nobody had anything new).
        return self.ledger.edition(edition.id)

    def _after_fork(self) -> None:
        # The forked child must never reuse the parent's database connections.
        self.store.engine.dispose(close=False)

    # -- resume -------------------------------------------------------------------------------

    def _resume(self, tally: Tally, delivery: Delivery) -> int:
        """Finish editions a crash left incomplete: same selection, same Message-ID."""
        recorder = delivery.recorder
        by_edition: dict[str, list[Pending]] = defaultdict(list)
        for p in recorder.pending():
            by_edition[p.edition.id].append(p)
        ids = [p.subscriber_id for rows in by_edition.values() for p in rows]
        subscribers = self.store.subscribers_by_id(ids) if ids else {}
        resumed = 0
        for rows in by_edition.values():
            edition = rows[0].edition
            channels: dict[int, list[tuple[str, str]]] = defaultdict(list)
            for p in rows:
                channels[p.subscriber_id].append((p.channel, p.message_id))
            chosen = self.ledger.selected(edition.id, list(channels))
            work = [
                (subscribers[sid], chosen.get(sid, []), chans)
                for sid, chans in channels.items()
                if sid in subscribers
            ]
            jobs, extra, suppressed = delivery.plan(edition, work, None, tally.skipped)
            result = delivery.execute(edition, jobs, extra, None)
            recorder.record(edition, [*result.outcomes, *suppressed], now=utcnow())
            tally.absorb(result)
            resumed += len(work)
        recorder.finish_open(now=utcnow())
        return resumed

    # -- links and ids ------------------------------------------------------------------------

    def _message_id(self, edition: Edition, subscriber_id: int) -> str:
        return message_id(
            edition_id=edition.id,
            subscriber_id=subscriber_id,
            secret=self.settings.digest.secret_key,
            domain=self.messages.domain,
        )

    def links(self, subscriber_id: int, edition: Edition) -> Links:
        base = self.runtime.site.base_url
        make = self.tokens.make
        unsubscribe = make("unsubscribe", subscriber_id)
        read = make("read", subscriber_id)
        mailto = self.runtime.site.unsubscribe_mailto
        return Links(
            unsubscribe=f"{base}/unsubscribe/{unsubscribe}",
            unsubscribe_mailto=(
                f"mailto:{mailto}?subject=unsubscribe%20{unsubscribe}" if mailto else None
            ),
            preferences=f"{base}/preferences/{make('preferences', subscriber_id)}",
            archive=f"{base}/archive/{edition.id}/{read}",
            feed=f"{base}/feeds/{read}/rss.xml",
            feedback=f"{base}/feedback/{make('feedback', subscriber_id)}",
        )
