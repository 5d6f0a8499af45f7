"""One run: collect → dedupe/store → per subscriber select → render → deliver → record.

Per-paper work happens once per run (components' ``prepare``); per-subscriber work is only
selecting, rendering and delivering. One failing source, component or recipient is reported
and the rest of the run goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from digest.batch import Batch
from digest.components import CollectContext, Runtime
from digest.config import LoadedConfig
from digest.ledger import Claim, Ledger, Pending, StoredItem
from digest.mail import MessageBuilder, message_id
from digest.models import (
    Artifact,
    DeliveryStatus,
    Edition,
    Links,
    Paper,
    Parcel,
    Problem,
    RunReport,
    ScoredPaper,
    Selection,
    SourceReport,
    Subscriber,
)
from digest.plugins import PluginHost
from digest.select import Selector
from digest.store import Store, StoredSubscriber, utcnow
from digest.tokens import Tokens
from digest.wiring import Components

log = logging.getLogger("digest.pipeline")

CHUNK = 256
FEED_HISTORY_EDITIONS = 10


@dataclass(slots=True, kw_only=True)
class RunOptions:
    subscriber: str | None = None
    dry_run: bool = False
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
    problems: list[Problem] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


def is_due(stored: StoredSubscriber, now: dt.datetime) -> bool:
    """Due when the subscriber's cron schedule fired since their last edition."""
    if stored.last_edition_at is None:
        return True
    from zoneinfo import ZoneInfo

    from apscheduler.triggers.cron import CronTrigger

    sub = stored.subscriber
    trigger = CronTrigger.from_crontab(sub.schedule, timezone=ZoneInfo(sub.timezone))
    next_fire = trigger.get_next_fire_time(None, stored.last_edition_at)
    return next_fire is not None and next_fire <= now


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
        self.tokens = Tokens(self.settings.digest.secret_key)
        self.messages = MessageBuilder(runtime.site)
        self._on_rendered: Callable[[Selection, str, Sequence[Artifact]], None] | None = None

    # -- the run ----------------------------------------------------------------------------

    def run(self, options: RunOptions | None = None) -> RunReport:
        options = options or RunOptions()
        self._on_rendered = options.on_rendered
        now = options.now or utcnow()
        tally = _Tally()
        self.host.call_each("before_run", edition=None, dry_run=options.dry_run)
        self.sync_config_subscribers(now)
        self._collect(now, tally)
        if not options.dry_run:
            tally.resumed = self._resume(now, tally)
        edition = self._deliver_new(now, options, tally)
        report = RunReport(
            edition=edition,
            sources=tuple(tally.sources),
            delivered=tally.delivered,
            skipped=dict(tally.skipped),
            failed=dict(tally.failed),
            problems=tuple(tally.problems),
            resumed=tally.resumed,
            outputs=tuple(tally.outputs),
            dry_run=options.dry_run,
        )
        self.host.call_each("after_run", report=report)
        report = RunReport(
            edition=report.edition,
            sources=report.sources,
            delivered=report.delivered,
            skipped=report.skipped,
            failed=report.failed,
            problems=report.problems
            + tuple(
                Problem(where=f"plugin {f.plugin}", message=f.message)
                for f in self.host.failures
                if f.hook in ("after_run",)
            ),
            resumed=report.resumed,
            outputs=report.outputs,
            dry_run=report.dry_run,
        )
        return report

    def _problem(self, tally: _Tally, where: str, error: BaseException | str) -> None:
        message = error if isinstance(error, str) else _describe(error)
        tally.problems.append(Problem(where=where, message=message))
        if isinstance(error, BaseException):
            log.debug("%s failed", where, exc_info=error)
            self.host.notify_error(where, error)

    def sync_config_subscribers(self, now: dt.datetime) -> None:
        from digest.store import subscriber_from_fields

        configured = [
            subscriber_from_fields(name, sub.model_dump())
            for name, sub in self.settings.subscribers.items()
        ]
        self.store.save_subscribers(configured, origin="config", now=now, replace_origin=True)

    # -- collect ----------------------------------------------------------------------------

    def _collect(self, now: dt.datetime, tally: _Tally) -> None:
        for name, source in self.c.sources.items():
            context = CollectContext(now=now, state=self.store.source_state(name))
            try:
                items = list(source.collect(context))
            except Exception as error:
                message = _describe(error)
                self._problem(tally, f"sources.{name}", error)
                tally.sources.append(SourceReport(name=name, error=message))
                self.store.record_source_run(name, now=now, collected=0, new=0, error=message)
                continue
            result = self.store.upsert_papers(items, source=name, now=now)
            # The source's state advances only now that its papers are stored (I3).
            self.store.record_source_run(
                name,
                now=now,
                collected=len(items),
                new=result.new,
                error=None,
                state=context.pending_state,
            )
            tally.sources.append(
                SourceReport(
                    name=name, collected=len(items), new=result.new, updated=result.updated
                )
            )

    # -- deliver ------------------------------------------------------------------------------

    def _deliver_new(self, now: dt.datetime, options: RunOptions, tally: _Tally) -> Edition | None:
        stored = self.store.subscribers(include_unsubscribed=False)
        if options.subscriber is not None:
            stored = [s for s in stored if s.subscriber.name == options.subscriber]
        stored = [s for s in stored if s.subscriber.active]
        if options.due_only:
            for s in [s for s in stored if not is_due(s, now)]:
                tally.skipped[s.subscriber.name] = "not due yet"
            stored = [s for s in stored if is_due(s, now)]
        if not stored:
            return None
        lookback = now - dt.timedelta(days=self.settings.digest.lookback_days)
        seqs, papers = self.store.papers_since(
            after_seq=min(s.watermark for s in stored), first_seen_after=lookback
        )
        batch = Batch(papers, now=now, seqs=seqs)
        selector = Selector(
            self.c.filters,
            self.c.rankers,
            self.c.weights,
            on_error=lambda where, error: self._problem(tally, where, error),
        )
        selector.prepare(batch)
        self._prepare_renderers(batch, tally)
        taken = self.ledger.already_selected(min_seq=int(batch.seqs[0])) if len(batch) else {}
        edition: Edition | None = None
        total = len(stored)
        for chunk_start in range(0, total, CHUNK):
            chunk = stored[chunk_start : chunk_start + CHUNK]
            selections: dict[int, tuple[StoredSubscriber, list[StoredItem]]] = {}
            for s in chunk:
                candidates = batch.seqs > s.watermark
                for seq in taken.get(s.id, ()):
                    candidates &= batch.seqs != seq
                outcome = selector.select(
                    s.subscriber.profile, s.subscriber.max_items, batch, candidates
                )
                if outcome.skipped:
                    tally.skipped[s.subscriber.name] = outcome.skipped
                    continue
                items = [
                    StoredItem(
                        paper_seq=int(batch.seqs[p.position]), score=p.score, reasons=p.reasons
                    )
                    for p in outcome.picks
                ]
                selections[s.id] = (s, items)
            if selections and edition is None and not options.dry_run:
                edition = self.ledger.open_edition(now)
                self.host.call_each("before_run", edition=edition, dry_run=False)
            target = edition or Edition(id="dry-run", created=now)
            work = [
                (
                    s,
                    items,
                    [
                        (ch, self._message_id(target, s.id))
                        for ch in self._channels(s.subscriber, tally)
                    ],
                )
                for s, items in selections.values()
            ]
            if edition is not None:
                claims = [
                    Claim(
                        subscriber_id=s.id,
                        watermark=int(batch.seqs[-1]),
                        items=[(i.paper_seq, i.score, i.reasons) for i in items],
                        channels=channels,
                    )
                    for s, items, channels in work
                ]
                self.ledger.claim(edition, claims, now=now)
            self._deliver_chunk(target, work, batch, now, tally, dry_run=options.dry_run)
            if options.progress:
                options.progress("deliver", len(chunk), total)
        if edition is not None:
            self.ledger.finish(edition, now=utcnow())
        return edition

    def _channels(self, sub: Subscriber, tally: _Tally) -> list[str]:
        usable = []
        for channel in sub.channels:
            if channel in self.c.routes:
                usable.append(channel)
            else:
                tally.failed[f"{sub.name} ({channel})"] = f"no deliverer serves channel {channel!r}"
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

    def _links(self, subscriber_id: int, edition: Edition) -> Links:
        base = self.runtime.site.base_url
        t = self.tokens
        mailto = self.runtime.site.unsubscribe_mailto
        return Links(
            unsubscribe=f"{base}/unsubscribe/{t.make('unsubscribe', subscriber_id)}",
            unsubscribe_mailto=(
                f"mailto:{mailto}?subject=unsubscribe%20{t.make('unsubscribe', subscriber_id)}"
                if mailto
                else None
            ),
            preferences=f"{base}/preferences/{t.make('preferences', subscriber_id)}",
            archive=f"{base}/archive/{edition.id}/{t.make('archive', subscriber_id)}",
            feed=f"{base}/feeds/{t.make('feed', subscriber_id)}/rss.xml",
        )

    def _deliver_chunk(
        self,
        edition: Edition,
        work: Sequence[tuple[StoredSubscriber, list[StoredItem], list[tuple[str, str]]]],
        batch: Batch | None,
        now: dt.datetime,
        tally: _Tally,
        *,
        dry_run: bool = False,
    ) -> None:
        """Render and deliver claimed parcels; record every outcome in one transaction."""
        if not work:
            return
        ids = [s.id for s, _, _ in work]
        # Read unsubscribes fresh, right before sending: unsubscribe wins (I4).
        gone = self.store.unsubscribed_ids(ids) if not dry_run else set()
        papers = self._papers_for(work, batch)
        feed_ids = [s.id for s, _, channels in work if any(c == "feed" for c, _ in channels)]
        history = (
            self.ledger.history(feed_ids, before=edition.id, editions_back=FEED_HISTORY_EDITIONS)
            if feed_ids and not dry_run
            else {}
        )
        if history:
            missing = {
                i.paper_seq for runs in history.values() for _, items in runs for i in items
            } - papers.keys()
            papers.update(self.store.papers_by_seq(missing))
        outcomes: list[tuple[int, str, DeliveryStatus, str]] = []
        for s, items, channels in work:
            sub = s.subscriber
            if s.id in gone:
                outcomes.extend(
                    (s.id, ch, DeliveryStatus.SUPPRESSED, "unsubscribed") for ch, _ in channels
                )
                tally.skipped[sub.name] = "unsubscribed"
                continue
            selection = Selection(
                subscriber=sub,
                edition=edition,
                items=tuple(_scored(papers, i) for i in items if i.paper_seq in papers),
                links=self._links(s.id, edition),
                candidates=len(batch) if batch is not None else 0,
                history=tuple(
                    (ed, tuple(_scored(papers, i) for i in its if i.paper_seq in papers))
                    for ed, its in history.get(s.id, ())
                ),
            )
            sent_any = False
            for channel, mid in channels:
                status, detail = self._deliver_one(selection, channel, mid, now, tally, dry_run)
                outcomes.append((s.id, channel, status, detail))
                if not dry_run and not self.c.routes[channel].idempotent:
                    self.ledger.record(edition, outcomes, now=utcnow())
                    outcomes.clear()
                if status is DeliveryStatus.SENT:
                    sent_any = True
                elif status is DeliveryStatus.FAILED_PERMANENT:
                    tally.failed[f"{sub.name} ({channel})"] = detail
            if sent_any:
                tally.delivered += 1
        if not dry_run:
            self.ledger.record(edition, outcomes, now=utcnow())

    def _deliver_one(
        self,
        selection: Selection,
        channel: str,
        mid: str,
        now: dt.datetime,
        tally: _Tally,
        dry_run: bool,
    ) -> tuple[DeliveryStatus, str]:
        sub = selection.subscriber
        artifacts: list[Artifact] = []
        for name, renderer in self.c.renderers.items():
            if renderer.channel != channel:
                continue
            try:
                artifacts.extend(renderer.render(selection))
            except Exception as error:
                self._problem(tally, f"renderers.{name}", error)
                return (
                    DeliveryStatus.FAILED_PERMANENT,
                    f"renderer {name!r} failed: {_describe(error)}",
                )
        if not artifacts:
            return DeliveryStatus.FAILED_PERMANENT, f"no renderer produced channel {channel!r}"
        message = None
        if channel == "email":
            try:
                message = self._message(selection, artifacts, mid, now)
            except ValueError as error:
                return DeliveryStatus.FAILED_PERMANENT, str(error)
        if dry_run:
            if self._on_rendered:
                self._on_rendered(selection, channel, artifacts)
            return DeliveryStatus.SENT, "dry run"
        parcel = Parcel(
            selection=selection,
            channel=channel,
            artifacts=tuple(artifacts),
            message_id=mid,
            message=message,
        )
        deliverer = self.c.routes[channel]
        try:
            outcome = deliverer.deliver(parcel)
        except Exception as error:
            self._problem(tally, f"deliverers.{deliverer.instance} → {sub.name}", error)
            return DeliveryStatus.FAILED_PERMANENT, f"{deliverer.instance}: {_describe(error)}"
        if outcome.location and len(tally.outputs) < 1000:
            tally.outputs.append(outcome.location)
        return outcome.status, outcome.detail

    def _message(
        self, selection: Selection, artifacts: Sequence[Artifact], mid: str, now: dt.datetime
    ) -> bytes:
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

    def _papers_for(
        self, work: Sequence[tuple[StoredSubscriber, list[StoredItem], object]], batch: Batch | None
    ) -> dict[int, Paper]:
        wanted = {i.paper_seq for _, items, _ in work for i in items}
        found: dict[int, Paper] = {}
        if batch is not None and len(batch):
            positions = np.searchsorted(batch.seqs, sorted(wanted))
            for seq, pos in zip(sorted(wanted), positions, strict=True):
                if pos < len(batch) and batch.seqs[pos] == seq:
                    found[seq] = batch[int(pos)]
        missing = wanted - found.keys()
        if missing:
            found.update(self.store.papers_by_seq(missing))
        return found

    # -- resume -------------------------------------------------------------------------------

    def _resume(self, now: dt.datetime, tally: _Tally) -> int:
        """Finish editions a crash left incomplete: same selection, same Message-ID."""
        pending = self.ledger.pending()
        by_edition: dict[str, list[Pending]] = defaultdict(list)
        for p in pending:
            by_edition[p.edition.id].append(p)
        subscribers = {s.id: s for s in self.store.subscribers()}
        resumed = 0
        for edition_rows in by_edition.values():
            edition = edition_rows[0].edition
            channels: dict[int, list[tuple[str, str]]] = defaultdict(list)
            for p in edition_rows:
                channels[p.subscriber_id].append((p.channel, p.message_id))
            chosen = self.ledger.selected(edition.id, list(channels))
            work = [
                (subscribers[sid], chosen.get(sid, []), chans)
                for sid, chans in channels.items()
                if sid in subscribers
            ]
            self._deliver_chunk(edition, work, None, now, tally)
            resumed += len(work)
        for edition in self.ledger.open_editions():
            self.ledger.finish(edition, now=utcnow())
        return resumed


def _scored(papers: dict[int, Paper], item: StoredItem) -> ScoredPaper:
    return ScoredPaper(paper=papers[item.paper_seq], score=item.score, reasons=item.reasons)


def _describe(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    if isinstance(error, Exception) and type(error).__module__.startswith("digest"):
        return lines[0] if lines else type(error).__name__
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
