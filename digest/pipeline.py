"""One run: collect → dedupe/store → per subscriber select → render → deliver → record.

Per-paper work happens once per run (components' ``prepare``); per-subscriber work is only
selecting, rendering and delivering. One failing source, component or recipient is reported
and the rest of the run goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing as mp
import multiprocessing.synchronize as mp_synchronize
import multiprocessing.util as mp_util
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace

import numpy as np

from digest.batch import Batch
from digest.components import CollectContext, Deliverer, Runtime, Source
from digest.config import LoadedConfig
from digest.cron import next_fire
from digest.errors import DigestError, PluginError, describe
from digest.fetch import Fetcher, SourceHTTP
from digest.identity import canonical_ref
from digest.ledger import Claim, Ledger, Pending, StoredItem
from digest.mail import MessageBuilder, message_id
from digest.models import (
    Artifact,
    DeliveryStatus,
    Edition,
    Links,
    Outcome,
    Paper,
    Parcel,
    Problem,
    RunReport,
    ScoredPaper,
    Selection,
    SourceReport,
    Subscriber,
)
from digest.plugins import PluginFailure, PluginHost
from digest.select import Selector
from digest.store import Store, StoredSubscriber, utcnow
from digest.tokens import Tokens
from digest.wiring import Components

log = logging.getLogger("digest.pipeline")

CHUNK = 256
#: a source polled again within this time may legitimately have nothing new
SAME_DAY = dt.timedelta(hours=20)
FEED_HISTORY_EDITIONS = 10


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
    #: in a dry run, called with each rendered (selection, channel, artifacts)
    on_rendered: Callable[[Selection, str, Sequence[Artifact]], None] | None = None


@dataclass(slots=True)
class _Tally:
    sources: list[SourceReport] = field(default_factory=list)
    delivered: int = 0
    resumed: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    deferred: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


def is_due(stored: StoredSubscriber, now: dt.datetime) -> bool:
    """Due when the subscriber's cron schedule fired since their last edition."""
    if stored.last_edition_at is None:
        return True
    sub = stored.subscriber
    fire = next_fire(sub.schedule, sub.timezone, after=stored.last_edition_at)
    return fire is not None and fire <= now


def with_feedback(store: Store, stored: Sequence[StoredSubscriber]) -> list[StoredSubscriber]:
    """Subscribers with their recorded feedback folded into their profiles.

    "More like this" papers count as liked, "less like this" as disliked (the rankers learn
    from both), and muted authors' papers are never picked.
    """
    recorded = store.feedback([s.id for s in stored])
    out = []
    for s in stored:
        items = recorded.get(s.id)
        if not items:
            out.append(s)
            continue
        p = s.subscriber.profile
        more = [i.paper_id for i in items if i.kind == "more"]
        less = [i.paper_id for i in items if i.kind == "less"]
        muted = [i.detail for i in items if i.kind == "mute"]
        profile = replace(
            p,
            liked=tuple(dict.fromkeys([*p.liked, *more])),
            disliked=tuple(dict.fromkeys([*p.disliked, *less])),
            muted_authors=tuple(dict.fromkeys([*p.muted_authors, *muted])),
        )
        out.append(replace(s, subscriber=replace(s.subscriber, profile=profile)))
    return out


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
        self._on_rendered: Callable[[Selection, str, Sequence[Artifact]], None] | None = None
        self._clock: dict[str, float] = defaultdict(float)
        self._chunk_context: _ChunkContext | None = None
        self._opened_in: int | None = None  # the process whose deliverers are open
        self._fetcher: Fetcher | None = None
        self._failures_in_a_row = 0
        # Set by any process when too many deliveries fail in a row; shared with forked workers.
        self._paused: threading.Event | mp_synchronize.Event = (
            mp.get_context("fork").Event()
            if "fork" in mp.get_all_start_methods()
            else threading.Event()
        )

    @property
    def fetcher(self) -> Fetcher:
        """The process's one HTTP client, built on first use (sources that fetch nothing
        never import httpx)."""
        if self._fetcher is None:
            from digest import __version__
            from digest.fetch import Fetcher, policy_from_settings

            self._fetcher = Fetcher(policy_from_settings(self.settings.fetch), version=__version__)
        return self._fetcher

    def _tick(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        self._clock[phase] += now - since
        return now

    def timings(self) -> list[str]:
        """Seconds spent per phase in this pipeline's runs, for benchmarks and ``-v``."""
        return [f"{phase:<16}{seconds:8.3f} s" for phase, seconds in self._clock.items()]

    # -- the run ----------------------------------------------------------------------------

    def run(self, options: RunOptions | None = None) -> RunReport:
        options = options or RunOptions()
        self._on_rendered = options.on_rendered
        self._paused.clear()
        self._failures_in_a_row = 0
        now = options.now or utcnow()
        tally = _Tally()
        # Plugins that failed to load or register are part of what this run reports.
        tally.problems.extend(_plugin_problem(f) for f in self.host.failures)
        seen = len(self.host.failures)
        self.host.call_each("before_run", edition=None, dry_run=options.dry_run)
        self.sync_config_subscribers(now)
        try:
            if options.collect:
                self._tick("collect", self._collect(now, tally))
        finally:
            if self._fetcher is not None:
                self._fetcher.close()
        try:
            if not options.dry_run:
                tally.resumed = self._resume(now, tally)
            edition = self._deliver_new(now, options, tally)
        finally:
            self._close_deliverers()
        tally.problems.extend(_plugin_problem(f) for f in self.host.failures[seen:])
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
        )
        known = len(self.host.failures)
        self.host.call_each("after_run", report=report)
        late = [_plugin_problem(f) for f in self.host.failures[known:]]
        return replace(report, problems=report.problems + tuple(late)) if late else report

    def _problem(self, tally: _Tally, where: str, error: BaseException) -> None:
        tally.problems.append(self._report(where, error))

    def sync_config_subscribers(self, now: dt.datetime) -> None:
        from digest.store import subscriber_from_fields

        configured = [
            subscriber_from_fields(name, sub.model_dump())
            for name, sub in self.settings.subscribers.items()
        ]
        self.store.save_subscribers(configured, origin="config", now=now, replace_origin=True)

    # -- collect ----------------------------------------------------------------------------

    def _collect(self, now: dt.datetime, tally: _Tally) -> float:
        """Run every source; returns when it started (for the timings)."""
        started = time.perf_counter()
        for name, source in self.c.sources.items():
            context = CollectContext(now=now, state=self.store.source_state(name))
            context.http = SourceHTTP(self.fetcher, context.state, context.save)
            try:
                items = list(source.collect(context))
                wrong = next((i for i in items if not isinstance(i, Paper)), None)
                if wrong is not None:
                    raise TypeError(f"collect() yielded a {type(wrong).__name__}, not a Paper")
            except Exception as error:
                message = describe(error)
                self._problem(tally, f"sources.{name}", error)
                tally.sources.append(SourceReport(name=name, error=message))
                self.store.record_source_run(name, now=now, collected=0, new=0, error=message)
                continue
            result = self.store.upsert_papers(items, source=name, now=now)
            flag = self._health_flag(source, name, now, collected=len(items), new=result.new)
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
            tally.sources.append(
                SourceReport(
                    name=name,
                    collected=len(items),
                    new=result.new,
                    updated=result.updated,
                    flag=flag,
                )
            )
        return started

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

    # -- deliver ------------------------------------------------------------------------------

    def _deliver_new(self, now: dt.datetime, options: RunOptions, tally: _Tally) -> Edition | None:
        stored = self.store.subscribers(include_unsubscribed=False)
        if options.subscriber is not None:
            stored = [s for s in stored if s.subscriber.name == options.subscriber]
        if options.subscribers is not None:
            stored = [s for s in stored if s.subscriber.name in options.subscribers]
        stored = [s for s in stored if s.subscriber.active]
        if options.due_only:
            for s in [s for s in stored if not is_due(s, now)]:
                tally.skipped[s.subscriber.name] = "not due yet"
            stored = [s for s in stored if is_due(s, now)]
        if not stored:
            return None
        stored = with_feedback(self.store, stored)
        t = time.perf_counter()
        lookback = now - dt.timedelta(days=self.settings.digest.lookback_days)
        seqs, papers = self.store.papers_since(
            after_seq=min(s.watermark for s in stored), first_seen_after=lookback
        )
        # Papers subscribers refer to (liked, disliked) are loaded once for every ranker.
        refs = {
            text: ref
            for s in stored
            for text in (*s.subscriber.profile.liked, *s.subscriber.profile.disliked)
            if (ref := canonical_ref(text))
        }
        references = self.store.papers_by_id(set(refs.values()))
        batch = Batch(papers, now=now, seqs=seqs, references=references)
        t = self._tick("load", t)
        selector = Selector(
            self.c.filters,
            self.c.rankers,
            self.c.weights,
            on_error=lambda where, error: self._problem(tally, where, error),
            diversity=self.settings.selection.diversity,
            relevant_only=self.settings.selection.relevant_only,
        )
        selector.prepare(batch)
        self._prepare_renderers(batch, tally)
        taken = self.ledger.already_selected(min_seq=int(batch.seqs[0])) if len(batch) else {}
        t = self._tick("prepare", t)
        # The edition exists before any subscriber is handled, so that chunks can run in any
        # process; an edition nobody got a digest in is removed again at the end.
        edition = (
            Edition(id="dry-run", created=now) if options.dry_run else self.ledger.open_edition(now)
        )
        if not options.dry_run:
            self.host.call_each("before_run", edition=edition, dry_run=False)
        self._chunk_context = _ChunkContext(
            edition=edition,
            batch=batch,
            selector=selector,
            taken=taken,
            refs=refs,
            now=now,
            dry_run=options.dry_run,
        )
        total = len(stored)
        chunks = [stored[i : i + CHUNK] for i in range(0, total, CHUNK)]
        pool = self._pool(total) if not options.dry_run else None
        try:
            if pool is None:
                for chunk in chunks:
                    self._merge(self._run_chunk(chunk), tally)
                    self._progress(options, len(chunk), total)
            else:
                futures = {pool.submit(_work, chunk): len(chunk) for chunk in chunks}
                for future in as_completed(futures):
                    self._merge(future.result(), tally)
                    self._progress(options, futures[future], total)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            self._tick("select→deliver", t)
        if options.dry_run:
            return None
        if self.ledger.discard_if_empty(edition):
            return None
        if self._paused.is_set():
            self.ledger.pause(edition)
        else:
            self.ledger.finish(edition, now=utcnow())
        return edition

    def _run_chunk(self, chunk: Sequence[StoredSubscriber]) -> _Result:
        """Select, claim, render, deliver and record one chunk of subscribers.

        Runs in the main process or in a worker; each chunk is independent and idempotent
        through the ledger, so any process (or, later, any task queue) may run it.
        """
        ctx = self._chunk_context
        assert ctx is not None
        if self._paused.is_set():
            # Not selected nor claimed: these subscribers are simply due again next run.
            return _Result(skipped={s.subscriber.name: "edition paused" for s in chunk})
        batch, edition, result = ctx.batch, ctx.edition, _Result()
        problems = result.problems
        selector = ctx.selector
        selector.on_error = lambda where, error: problems.append(self._report(where, error))
        picked: list[tuple[StoredSubscriber, list[StoredItem]]] = []
        for s in chunk:
            candidates = batch.seqs > s.watermark
            for seq in ctx.taken.get(s.id, ()):
                candidates &= batch.seqs != seq
            # A paper the subscriber liked or disliked is known to them: never a pick.
            profile = s.subscriber.profile
            for text in (*profile.liked, *profile.disliked):
                ref = ctx.refs.get(text)
                position = batch.position(ref) if ref is not None else None
                if position is not None:
                    candidates[position] = False
            choice = selector.select(
                s.subscriber.profile, s.subscriber.max_items, batch, candidates
            )
            if choice.skipped:
                result.skipped[s.subscriber.name] = choice.skipped
                continue
            picked.append(
                (
                    s,
                    [
                        StoredItem(
                            paper_seq=int(batch.seqs[p.position]), score=p.score, reasons=p.reasons
                        )
                        for p in choice.picks
                    ],
                )
            )
        work = [
            (s, items, [(ch, self._message_id(edition, s.id)) for ch in channels])
            for s, items in picked
            if (channels := self._channels(s.subscriber, result.failed))
        ]
        if work and not ctx.dry_run:
            self.ledger.claim(
                edition,
                [
                    Claim(
                        subscriber_id=s.id,
                        watermark=int(batch.seqs[-1]),
                        items=[(i.paper_seq, i.score, i.reasons) for i in items],
                        channels=channels,
                    )
                    for s, items, channels in work
                ],
                now=ctx.now,
            )
        jobs, extra, suppressed = self._plan(edition, work, batch, ctx.dry_run, result.skipped)
        executed = self._execute(edition, jobs, extra, batch, ctx.now, ctx.dry_run)
        executed.outcomes.extend(suppressed)
        if executed.outcomes and not ctx.dry_run:
            self.ledger.record(edition, executed.outcomes, now=utcnow())
        executed.outcomes = []
        executed.skipped.update(result.skipped)
        executed.failed.update(result.failed)
        executed.problems[:0] = result.problems
        return executed

    def _merge(self, result: _Result, tally: _Tally) -> None:
        tally.delivered += result.delivered
        tally.skipped.update(result.skipped)
        tally.failed.update(result.failed)
        tally.deferred.update(result.deferred)
        tally.problems.extend(result.problems)
        room = 1000 - len(tally.outputs)
        tally.outputs.extend(result.outputs[: max(room, 0)])

    @staticmethod
    def _progress(options: RunOptions, step: int, total: int) -> None:
        if options.progress:
            options.progress("deliver", step, total)

    @property
    def workers(self) -> int:
        configured = self.settings.digest.workers
        return configured if configured > 0 else min(os.cpu_count() or 1, 8)

    def _pool(self, total: int) -> ProcessPoolExecutor | None:
        """Worker processes for rendering and delivery, when they pay off and are safe.

        Workers are forked after the per-paper work, so they share the prepared batch and
        components without pickling them; each runs whole chunks (select → record).
        """
        if self.workers < 2 or total < 2 * CHUNK or "fork" not in mp.get_all_start_methods():
            return None
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=mp.get_context("fork"),
            initializer=_init_worker,
            initargs=(self,),
        )

    def _open_deliverers(self, problems: list[Problem]) -> None:
        """Open every deliverer once per process (workers get their own connections)."""
        pid = os.getpid()
        if self._opened_in == pid:
            return
        self._opened_in = pid
        for deliverer in {id(d): d for d in self.c.routes.values()}.values():
            try:
                deliverer.open()
            except Exception as error:
                problems.append(self._report(f"deliverers.{deliverer.instance}", error))
        if mp.parent_process() is not None:  # a worker: close when the worker exits
            mp_util.Finalize(self, self._close_deliverers, exitpriority=10)

    def _close_deliverers(self) -> None:
        if self._opened_in != os.getpid():
            return
        self._opened_in = None
        for deliverer in {id(d): d for d in self.c.routes.values()}.values():
            try:
                deliverer.close()
            except Exception:
                log.warning("closing deliverer %s failed", deliverer.instance, exc_info=True)

    def _channels(self, sub: Subscriber, failed: dict[str, str]) -> list[str]:
        usable = []
        for channel in sub.channels:
            if channel in self.c.routes:
                usable.append(channel)
            else:
                failed[f"{sub.name} ({channel})"] = f"no deliverer serves channel {channel!r}"
        return usable

    def _message_id(self, edition: Edition, subscriber_id: int) -> str:
        return message_id(
            edition_id=edition.id,
            subscriber_id=subscriber_id,
            secret=self.settings.digest.secret_key,
            domain=self.messages.domain,
        )

    def _prepare_renderers(self, batch: Batch, tally: _Tally) -> None:
        for name, renderer in list(self.c.renderers.items()):
            try:
                renderer.prepare(batch)
            except Exception as error:
                self._problem(tally, f"renderers.{name}", error)

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

    def _plan(
        self,
        edition: Edition,
        work: Sequence[tuple[StoredSubscriber, Sequence[StoredItem], Sequence[tuple[str, str]]]],
        batch: Batch | None,
        dry_run: bool,
        skipped: dict[str, str],
    ) -> tuple[list[_Job], dict[int, Paper], list[_Row]]:
        """The database reads a chunk needs before rendering, done in the main process.

        Returns the jobs, the papers they need that the batch lacks, and ``suppressed``
        outcomes for subscribers who unsubscribed since selection (unsubscribe wins, I4).
        """
        if not work:
            return [], {}, []
        gone = self.store.unsubscribed_ids([s.id for s, _, _ in work]) if not dry_run else set()
        feed_ids = [s.id for s, _, chans in work if any(c == "feed" for c, _ in chans)]
        history = (
            self.ledger.history(feed_ids, before=edition.id, editions_back=FEED_HISTORY_EDITIONS)
            if feed_ids and not dry_run
            else {}
        )
        jobs: list[_Job] = []
        suppressed: list[_Row] = []
        for s, items, channels in work:
            if s.id in gone:
                suppressed.extend(
                    (s.id, ch, DeliveryStatus.SUPPRESSED, "unsubscribed") for ch, _ in channels
                )
                skipped[s.subscriber.name] = "unsubscribed"
                continue
            jobs.append(
                _Job(
                    subscriber_id=s.id,
                    subscriber=s.subscriber,
                    items=tuple(items),
                    channels=tuple(channels),
                    history=tuple((ed, tuple(its)) for ed, its in history.get(s.id, ())),
                )
            )
        wanted = {i.paper_seq for job in jobs for i in job.items}
        wanted.update(i.paper_seq for job in jobs for _, its in job.history for i in its)
        extra = self.store.papers_by_seq(wanted - _seqs_in(batch, wanted)) if wanted else {}
        return jobs, extra, suppressed

    def _execute(
        self,
        edition: Edition,
        jobs: Sequence[_Job],
        extra: Mapping[int, Paper],
        batch: Batch | None,
        now: dt.datetime,
        dry_run: bool,
    ) -> _Result:
        """Render and deliver jobs; no database access except per-parcel recording."""
        result = _Result()
        if not dry_run:
            self._open_deliverers(result.problems)

        def paper(seq: int) -> Paper | None:
            if batch is not None and len(batch):
                pos = int(np.searchsorted(batch.seqs, seq))
                if pos < len(batch) and batch.seqs[pos] == seq:
                    return batch[pos]
            return extra.get(seq)

        def scored(items: Sequence[StoredItem]) -> tuple[ScoredPaper, ...]:
            return tuple(
                ScoredPaper(paper=p, score=i.score, reasons=i.reasons)
                for i in items
                if (p := paper(i.paper_seq)) is not None
            )

        selections = {
            job.subscriber_id: Selection(
                subscriber=job.subscriber,
                edition=edition,
                items=scored(job.items),
                links=self.links(job.subscriber_id, edition),
                candidates=len(batch) if batch is not None else 0,
                history=tuple((ed, scored(its)) for ed, its in job.history),
            )
            for job in jobs
        }
        sent: set[int] = set()
        by_id = {mid: job for job in jobs for _, mid in job.channels}
        for channel in dict.fromkeys(ch for job in jobs for ch, _ in job.channels):
            deliverer = self.c.routes[channel]

            def parcels(channel: str = channel) -> Iterator[Parcel]:
                # Rendered lazily: a deliverer may send one while the next is rendered.
                for job in jobs:
                    mid = dict(job.channels).get(channel)
                    if mid is None:
                        continue
                    if self._paused.is_set():
                        # Left claimed: the next run resumes them with the same Message-IDs.
                        result.deferred[f"{job.subscriber.name} ({channel})"] = "edition paused"
                        continue
                    prepared = self._prepare(
                        selections[job.subscriber_id], channel, mid, result, dry_run
                    )
                    if isinstance(prepared, Parcel):
                        yield prepared
                    else:
                        self._settle(edition, job, channel, *prepared, result, sent, dry_run)

            if dry_run:
                for _ in parcels():
                    pass
                continue
            try:
                for parcel, outcome in self._stream(deliverer, parcels(), result):
                    if outcome.location and len(result.outputs) < 1000:
                        result.outputs.append(outcome.location)
                    job = by_id[parcel.message_id]
                    self._settle(
                        edition, job, channel, outcome.status, outcome.detail, result, sent, False
                    )
            except Exception as error:  # the stream broke: what was not settled stays claimed
                result.problems.append(self._report(f"deliverers.{deliverer.instance}", error))
        result.delivered += len(sent)
        return result

    def _stream(
        self, deliverer: Deliverer, parcels: Iterator[Parcel], result: _Result
    ) -> Iterator[tuple[Parcel, Outcome]]:
        if type(deliverer).deliver_many is not Deliverer.deliver_many:
            yield from deliverer.deliver_many(parcels)
            return
        for parcel in parcels:  # one at a time, each failure kept to its recipient
            try:
                outcome = deliverer.deliver(parcel)
            except Exception as error:
                name = parcel.selection.subscriber.name
                result.problems.append(
                    self._report(f"deliverers.{deliverer.instance} → {name}", error)
                )
                outcome = Outcome(
                    status=DeliveryStatus.FAILED_PERMANENT,
                    detail=f"{deliverer.instance}: {describe(error)}",
                )
            yield parcel, outcome

    def _settle(
        self,
        edition: Edition,
        job: _Job,
        channel: str,
        status: DeliveryStatus,
        detail: str,
        result: _Result,
        sent: set[int],
        dry_run: bool,
    ) -> None:
        """Record one outcome (at once for deliverers that are not idempotent) and count it."""
        row = (job.subscriber_id, channel, status, detail)
        if not dry_run and not self.c.routes[channel].idempotent:
            # Recorded now: a crash re-sends at most the messages in flight (I1).
            self.ledger.record(edition, [row], now=utcnow())
        else:
            result.outcomes.append(row)
        key = f"{job.subscriber.name} ({channel})"
        if status is DeliveryStatus.SENT:
            sent.add(job.subscriber_id)
            self._failures_in_a_row = 0
            return
        if status is DeliveryStatus.FAILED_PERMANENT:
            result.failed[key] = detail
        elif status is DeliveryStatus.CLAIMED:  # deferred: retried on the next run
            result.deferred[key] = detail
        else:
            return
        self._failures_in_a_row += 1
        limit = self.settings.digest.pause_after
        if limit and self._failures_in_a_row >= limit and not self._paused.is_set():
            self._paused.set()
            result.problems.append(
                Problem(
                    where=f"edition {edition.id}",
                    message=f"paused after {limit} failed deliveries in a row "
                    f"(last: {detail}); the next run resumes it",
                )
            )

    def _prepare(
        self,
        selection: Selection,
        channel: str,
        mid: str,
        result: _Result,
        dry_run: bool,
    ) -> Parcel | tuple[DeliveryStatus, str]:
        """Render one parcel, or say why there is none (a terminal status and its detail)."""
        artifacts: list[Artifact] = []
        for name, renderer in self.c.renderers.items():
            if renderer.channel != channel:
                continue
            try:
                artifacts.extend(renderer.render(selection))
            except Exception as error:
                result.problems.append(self._report(f"renderers.{name}", error))
                return (
                    DeliveryStatus.FAILED_PERMANENT,
                    f"renderer {name!r} failed: {describe(error)}",
                )
        if not artifacts:
            return DeliveryStatus.FAILED_PERMANENT, f"no renderer produced channel {channel!r}"
        message = None
        if channel == "email":
            try:
                message = self._message(selection, artifacts, mid)
            except ValueError as error:
                return DeliveryStatus.FAILED_PERMANENT, str(error)
        if dry_run:
            if self._on_rendered:
                self._on_rendered(selection, channel, artifacts)
            return DeliveryStatus.SENT, "dry run"
        return Parcel(
            selection=selection,
            channel=channel,
            artifacts=tuple(artifacts),
            message_id=mid,
            message=message,
        )

    def _report(self, where: str, error: BaseException) -> Problem:
        log.debug("%s failed", where, exc_info=error)
        self.host.notify_error(where, error)
        self._fail_if_strict(where, error)
        return Problem(where=where, message=describe(error))

    def _fail_if_strict(self, where: str, error: BaseException) -> None:
        # Strict mode stops the run on plugin bugs; expected failures (a source's HTTP error,
        # a refused recipient: DigestError) are reported either way.
        if self.host.strict and not isinstance(error, DigestError):
            raise PluginError(f"{where}: {describe(error)}") from error

    def _message(self, selection: Selection, artifacts: Sequence[Artifact], mid: str) -> bytes:
        parts = {a.role: a.content for a in artifacts}
        missing = [r for r in ("subject", "text", "html") if r not in parts]
        if missing:
            raise ValueError(f"email renderer produced no {', '.join(missing)}")
        sub = selection.subscriber
        if not sub.email:
            raise ValueError(f"subscriber {sub.name!r} has no email address")
        return self.messages.build(
            to=sub.email,
            to_name=sub.name,
            subject=parts["subject"],
            text=parts["text"],
            html=parts["html"],
            message_id=mid,
            date=selection.edition.created,
            unsubscribe_url=selection.links.unsubscribe,
            unsubscribe_mailto=selection.links.unsubscribe_mailto,
        )

    # -- resume -------------------------------------------------------------------------------

    def _resume(self, now: dt.datetime, tally: _Tally) -> int:
        """Finish editions a crash left incomplete: same selection, same Message-ID."""
        by_edition: dict[str, list[Pending]] = defaultdict(list)
        for p in self.ledger.pending():
            by_edition[p.edition.id].append(p)
        subscribers = {s.id: s for s in self.store.subscribers()}
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
            jobs, extra, suppressed = self._plan(edition, work, None, False, tally.skipped)
            result = self._execute(edition, jobs, extra, None, now, False)
            self.ledger.record(edition, [*result.outcomes, *suppressed], now=utcnow())
            self._merge(result, tally)
            resumed += len(work)
        for edition in self.ledger.open_editions():
            self.ledger.finish(edition, now=utcnow())
        return resumed


_Row = tuple[int, str, DeliveryStatus, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Job:
    """One subscriber's claimed deliveries: small and picklable, for worker processes."""

    subscriber_id: int
    subscriber: Subscriber
    items: tuple[StoredItem, ...]
    channels: tuple[tuple[str, str], ...]
    history: tuple[tuple[Edition, tuple[StoredItem, ...]], ...]


@dataclass(slots=True)
class _Result:
    """What rendering and delivering a chunk produced."""

    outcomes: list[_Row] = field(default_factory=list)
    delivered: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    deferred: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class _ChunkContext:
    """What every chunk of one run shares; inherited by forked workers."""

    edition: Edition
    batch: Batch
    selector: Selector
    taken: Mapping[int, set[int]]
    #: liked/disliked ids as subscribers wrote them → canonical id
    refs: Mapping[str, str]
    now: dt.datetime
    dry_run: bool


_worker_pipeline: Pipeline | None = None


def _init_worker(pipeline: Pipeline) -> None:
    global _worker_pipeline
    # The forked child must never reuse the parent's database connections.
    pipeline.store.engine.dispose(close=False)
    # The workers are the parallelism: BLAS/OpenMP threads inside each would fight them for
    # the same cores (measured: 355 → 596 digests/s with the tfidf ranker on 2 cores).
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        pass
    else:
        threadpool_limits(limits=1)
    _worker_pipeline = pipeline


def _work(chunk: Sequence[StoredSubscriber]) -> _Result:
    assert _worker_pipeline is not None
    return _worker_pipeline._run_chunk(chunk)


def _plugin_problem(failure: PluginFailure) -> Problem:
    where = f"plugin {failure.plugin}" + (f" ({failure.hook})" if failure.hook else "")
    return Problem(where=where, message=failure.message)


def _seqs_in(batch: Batch | None, seqs: set[int]) -> set[int]:
    if batch is None or not len(batch):
        return set()
    wanted = np.fromiter(seqs, dtype=np.int64, count=len(seqs))
    return {int(s) for s in wanted[np.isin(wanted, batch.seqs)]}
