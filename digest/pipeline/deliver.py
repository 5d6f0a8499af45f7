"""Planning, rendering and delivery of claimed parcels, and recording their outcomes.

A :class:`Delivery` serves one run (in each process that runs chunks of it). Parcels are
rendered lazily, as the deliverer pulls them, so a deliverer can send one while the next is
rendered. What renderers and deliverers return is checked; one that returns garbage is
reported and dropped for the rest of the run.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import multiprocessing.synchronize as mp_synchronize
import multiprocessing.util as mp_util
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from digest import checks
from digest.batch import Batch
from digest.checks import ContractError
from digest.components import Deliverer, Renderer
from digest.errors import describe
from digest.ledger import StoredItem
from digest.mail import MessageBuilder
from digest.models import (
    Artifact,
    DeliveryStatus,
    Edition,
    Links,
    Outcome,
    Paper,
    Parcel,
    Problem,
    ScoredPaper,
    Selection,
    Subscriber,
)
from digest.pipeline.recorder import Recorder
from digest.pipeline.report import MAX_OUTPUTS, ChunkResult, Reporter, Row
from digest.store import Store, StoredSubscriber, utcnow

log = logging.getLogger("digest.pipeline")

#: earlier editions a feed renderer gets as history
FEED_HISTORY_EDITIONS = 10
#: (subscriber, their picks, (channel, message id) per channel): a chunk's claimed work
Work = tuple[StoredSubscriber, Sequence[StoredItem], Sequence[tuple[str, str]]]


class PauseFlag(Protocol):
    """An edition paused by any process: an event forked workers share, or the edition's
    status in the store (:class:`digest.queue.work.EditionPause`) for workers anywhere."""

    def is_set(self) -> bool: ...

    def set(self) -> None: ...

    def clear(self) -> None: ...


def pause_flag() -> threading.Event | mp_synchronize.Event:
    """A flag every worker process sees (created before they fork)."""
    if "fork" in mp.get_all_start_methods():
        return mp.get_context("fork").Event()
    return threading.Event()


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """One subscriber's claimed deliveries: small and picklable, for worker processes."""

    subscriber_id: int
    subscriber: Subscriber
    items: tuple[StoredItem, ...]
    channels: tuple[tuple[str, str], ...]
    history: tuple[tuple[Edition, tuple[StoredItem, ...]], ...]


class Delivery:
    """Renders and delivers the parcels of one run, and records what became of them."""

    def __init__(
        self,
        *,
        store: Store,
        recorder: Recorder,
        renderers: Mapping[str, Renderer],
        routes: Mapping[str, Deliverer],
        messages: MessageBuilder,
        links: Callable[[int, Edition], Links],
        reporter: Reporter,
        paused: PauseFlag,
        pause_after: int,
        return_path: Callable[[Edition, int], str | None] | None = None,
    ) -> None:
        self.store = store
        #: the VERP envelope sender of (edition, subscriber id), when bounces are configured
        self.return_path = return_path or (lambda _edition, _sid: None)
        self.recorder = recorder
        self.renderers = dict(renderers)
        self.routes = dict(routes)
        self.messages = messages
        self.links = links
        self.reporter = reporter
        self.paused = paused
        self.pause_after = pause_after
        self._failures_in_a_row = 0
        self._opened_in: int | None = None  # the process whose deliverers are open
        #: components that returned garbage: instance → why, not used again this run
        self._dropped_renderers: dict[str, str] = {}
        self._dropped_deliverers: dict[str, str] = {}

    # -- deliverers' life cycle ---------------------------------------------------------------

    def _deliverers(self) -> list[Deliverer]:
        return list({id(d): d for d in self.routes.values()}.values())

    def open(self, problems: list[Problem]) -> None:
        """Open every deliverer once per process (workers get their own connections)."""
        pid = os.getpid()
        if self._opened_in == pid:
            return
        self._opened_in = pid
        for deliverer in self._deliverers():
            try:
                deliverer.open()
            except Exception as error:
                problems.append(self.reporter.problem(f"deliverers.{deliverer.instance}", error))
        if mp.parent_process() is not None:  # a worker: close when the worker exits
            mp_util.Finalize(self, self.close, exitpriority=10)

    def close(self) -> None:
        if self._opened_in != os.getpid():
            return
        self._opened_in = None
        for deliverer in self._deliverers():
            try:
                deliverer.close()
            except Exception:
                log.warning("closing deliverer %s failed", deliverer.instance, exc_info=True)

    # -- planning -----------------------------------------------------------------------------

    def usable_channels(self, sub: Subscriber, failed: dict[str, str]) -> list[str]:
        usable = []
        for channel in sub.channels:
            if channel in self.routes:
                usable.append(channel)
            else:
                failed[f"{sub.name} ({channel})"] = f"no deliverer serves channel {channel!r}"
        return usable

    def plan(
        self,
        edition: Edition,
        work: Sequence[Work],
        batch: Batch | None,
        skipped: dict[str, str],
    ) -> tuple[list[Job], dict[int, Paper], list[Row]]:
        """The database reads a chunk needs before rendering, done in the main process.

        Returns the jobs, the papers they need that the batch lacks, and ``suppressed``
        outcomes for subscribers who unsubscribed since selection (unsubscribe wins, I4).
        """
        if not work:
            return [], {}, []
        gone = self.recorder.unsubscribed([s.id for s, _, _ in work])
        feed_ids = [s.id for s, _, chans in work if any(c == "feed" for c, _ in chans)]
        history = (
            self.recorder.history(feed_ids, before=edition.id, editions_back=FEED_HISTORY_EDITIONS)
            if feed_ids
            else {}
        )
        jobs: list[Job] = []
        suppressed: list[Row] = []
        for s, items, channels in work:
            if s.id in gone:
                suppressed.extend(
                    (s.id, ch, DeliveryStatus.SUPPRESSED, "unsubscribed") for ch, _ in channels
                )
                skipped[s.subscriber.name] = "unsubscribed"
                continue
            jobs.append(
                Job(
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

    # -- rendering and delivery -----------------------------------------------------------------

    def execute(
        self,
        edition: Edition,
        jobs: Sequence[Job],
        extra: Mapping[int, Paper],
        batch: Batch | None,
    ) -> ChunkResult:
        """Render and deliver jobs; no database access except per-parcel recording."""
        result = ChunkResult()
        self.open(result.problems)
        selections = {
            job.subscriber_id: _selection(job, edition, batch, extra, self.links) for job in jobs
        }
        sent: set[int] = set()
        for channel in dict.fromkeys(ch for job in jobs for ch, _ in job.channels):
            mine = [job for job in jobs if any(ch == channel for ch, _ in job.channels)]
            self._deliver_channel(edition, channel, mine, selections, result, sent)
        result.delivered += len(sent)
        return result

    def _deliver_channel(
        self,
        edition: Edition,
        channel: str,
        jobs: Sequence[Job],
        selections: Mapping[int, Selection],
        result: ChunkResult,
        sent: set[int],
    ) -> None:
        deliverer = self.routes[channel]
        by_id = {dict(job.channels)[channel]: job for job in jobs}
        settled: set[str] = set()

        def parcels() -> Iterator[Parcel]:
            # Rendered lazily: a deliverer may send one while the next is rendered.
            for mid, job in by_id.items():
                if self.paused.is_set():
                    # Left claimed: the next run resumes them with the same Message-IDs.
                    result.deferred[f"{job.subscriber.name} ({channel})"] = "edition paused"
                    settled.add(mid)
                    continue
                prepared = self._render(selections[job.subscriber_id], channel, mid, result)
                if isinstance(prepared, Parcel):
                    if channel == "email":
                        verp = self.return_path(edition, job.subscriber_id)
                        prepared = replace(prepared, return_path=verp) if verp else prepared
                    yield prepared
                else:
                    settled.add(mid)
                    self._settle(edition, job, channel, *prepared, result, sent)

        dropped = self._dropped_deliverers.get(deliverer.instance)
        if dropped is None:
            try:
                for parcel, outcome in self._stream(deliverer, parcels(), result):
                    if outcome.location and len(result.outputs) < MAX_OUTPUTS:
                        result.outputs.append(outcome.location)
                    settled.add(parcel.message_id)
                    job = by_id[parcel.message_id]
                    self._settle(
                        edition, job, channel, outcome.status, outcome.detail, result, sent
                    )
            except Exception as error:  # the stream broke: what was not settled stays claimed
                where = f"deliverers.{deliverer.instance}"
                result.problems.append(self.reporter.problem(where, error))
                if isinstance(error, ContractError):
                    dropped = self._dropped_deliverers[deliverer.instance] = describe(error)
        if dropped is not None:
            for mid, job in by_id.items():
                if mid not in settled:
                    result.deferred[f"{job.subscriber.name} ({channel})"] = (
                        f"deliverer {deliverer.instance!r} dropped for this run ({dropped}); "
                        "left for the next run"
                    )

    def _stream(
        self, deliverer: Deliverer, parcels: Iterator[Parcel], result: ChunkResult
    ) -> Iterator[tuple[Parcel, Outcome]]:
        if type(deliverer).deliver_many is not Deliverer.deliver_many:
            for item in deliverer.deliver_many(parcels):
                if not (isinstance(item, tuple) and len(item) == 2):
                    raise ContractError(f"deliver_many() yielded {type(item).__name__}")
                yield item[0], checks.outcome(item[1])
            return
        for parcel in parcels:  # one at a time, each failure kept to its recipient
            try:
                answer = deliverer.deliver(parcel)
            except Exception as error:
                name = parcel.selection.subscriber.name
                where = f"deliverers.{deliverer.instance} → {name}"
                result.problems.append(self.reporter.problem(where, error))
                answer = Outcome(
                    status=DeliveryStatus.FAILED_PERMANENT,
                    detail=f"{deliverer.instance}: {describe(error)}",
                )
            # Garbage (not an Outcome) stops the stream: nobody knows whether it was sent.
            yield parcel, checks.outcome(answer)

    def _settle(
        self,
        edition: Edition,
        job: Job,
        channel: str,
        status: DeliveryStatus,
        detail: str,
        result: ChunkResult,
        sent: set[int],
    ) -> None:
        """Record one outcome (at once for deliverers that are not idempotent) and count it."""
        row = (job.subscriber_id, channel, status, detail)
        if not self.routes[channel].idempotent:
            # Recorded now: a crash re-sends at most the messages in flight (I1).
            self.recorder.record(edition, [row], now=utcnow())
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
        limit = self.pause_after
        if limit and self._failures_in_a_row >= limit and not self.paused.is_set():
            self.paused.set()
            result.problems.append(
                Problem(
                    where=f"edition {edition.id}",
                    message=f"paused after {limit} failed deliveries in a row "
                    f"(last: {detail}); the next run resumes it",
                )
            )

    def _render(
        self, selection: Selection, channel: str, mid: str, result: ChunkResult
    ) -> Parcel | tuple[DeliveryStatus, str]:
        """Render one parcel, or say why there is none (a terminal status and its detail)."""
        artifacts: list[Artifact] = []
        for name, renderer in self.renderers.items():
            if renderer.channel != channel:
                continue
            dropped = self._dropped_renderers.get(name)
            if dropped is not None:
                return DeliveryStatus.FAILED_PERMANENT, f"renderer {name!r} dropped: {dropped}"
            try:
                artifacts.extend(checks.artifacts(renderer.render(selection)))
            except Exception as error:
                result.problems.append(self.reporter.problem(f"renderers.{name}", error))
                if isinstance(error, ContractError):
                    self._dropped_renderers[name] = describe(error)
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
        return Parcel(
            selection=selection,
            channel=channel,
            artifacts=tuple(artifacts),
            message_id=mid,
            message=message,
        )

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


def _selection(
    job: Job,
    edition: Edition,
    batch: Batch | None,
    extra: Mapping[int, Paper],
    links: Callable[[int, Edition], Links],
) -> Selection:
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

    return Selection(
        subscriber=job.subscriber,
        edition=edition,
        items=scored(job.items),
        links=links(job.subscriber_id, edition),
        candidates=len(batch) if batch is not None else 0,
        history=tuple((ed, scored(its)) for ed, its in job.history),
    )


def _seqs_in(batch: Batch | None, seqs: set[int]) -> set[int]:
    if batch is None or not len(batch):
        return set()
    wanted = np.fromiter(seqs, dtype=np.int64, count=len(seqs))
    return {int(s) for s in wanted[np.isin(wanted, batch.seqs)]}
