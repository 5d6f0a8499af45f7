"""One chunk of subscribers through an edition: load, select, claim, render, deliver, record.

A chunk is a range of subscriber ids (:class:`ChunkSpec`); whoever runs it reads those
subscribers fresh from the store, so no process ever holds the whole list, and someone who
unsubscribed while the chunk waited in a queue is not in it. Every chunk of an edition
shares one :class:`EditionRun` (the prepared batch and selector). A chunk is idempotent
through the ledger: run again (a worker died, a task was retried), it resumes the
subscribers it had claimed — same selection, same Message-ID — and leaves those already
finished alone. So any process may run it: this one, the forked workers of
:mod:`digest.pipeline.fanout`, or a ``digest worker`` on another machine (:mod:`digest.queue`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from digest.batch import Batch
from digest.cron import next_fire
from digest.identity import canonical_ref
from digest.ledger import Claim, Ledger, Pending, StoredItem
from digest.models import Edition
from digest.pipeline.deliver import Delivery, Work
from digest.pipeline.report import ChunkResult
from digest.select import Selector
from digest.store import Store, StoredSubscriber, utcnow


@dataclass(frozen=True, slots=True)
class ChunkSpec:
    """Subscribers with ids in ``[first, last]``; ``size`` of them when it was planned."""

    first: int
    last: int
    size: int

    @property
    def between(self) -> tuple[int, int]:
        return self.first, self.last


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


@dataclass(slots=True, kw_only=True)
class EditionRun:
    """What every chunk of one edition shares; inherited by forked workers, rebuilt from the
    stored edition work by ``digest worker``."""

    edition: Edition
    batch: Batch
    selector: Selector
    #: liked/disliked ids as subscribers wrote them → canonical id
    refs: Mapping[str, str]
    now: dt.datetime
    delivery: Delivery
    store: Store
    ledger: Ledger
    #: the Message-ID of (edition, subscriber id)
    message_id: Callable[[Edition, int], str]
    #: only subscribers with these names (``None``: everyone)
    names: Sequence[str] | None = None
    #: only subscribers of this (schedule, timezone): a scheduler slot's run
    slot: tuple[str, str] | None = None
    #: only subscribers whose schedule fired since their last edition
    due_only: bool = False

    def run_chunk(self, spec: ChunkSpec) -> ChunkResult:
        """Load, select, claim, render, deliver and record one chunk of subscribers."""
        delivery = self.delivery
        stored = self._load(spec)
        if delivery.paused.is_set():
            # Not selected nor claimed: these subscribers are simply due again next run.
            return ChunkResult(skipped={s.subscriber.name: "edition paused" for s in stored})
        picked = ChunkResult()
        earlier = delivery.recorder.in_edition(self.edition, spec.between)
        resumed = [s for s in stored if earlier.get(s.id)]
        stored = [s for s in stored if s.id not in earlier]
        if self.due_only:
            for s in stored:
                if not is_due(s, self.now):
                    picked.skipped[s.subscriber.name] = "not due yet"
            stored = [s for s in stored if is_due(s, self.now)]
        stored = with_feedback(self.store, stored) if stored else []
        self.selector.on_error = lambda where, error: picked.problems.append(
            delivery.reporter.problem(where, error)
        )
        batch, edition = self.batch, self.edition
        taken = (
            self.ledger.already_selected(min_seq=int(batch.seqs[0]), between=spec.between)
            if len(batch) and stored
            else {}
        )
        work: list[Work] = []
        for s in stored:
            channels = delivery.usable_channels(s.subscriber, picked.failed)
            if s.bounced and "email" in channels:
                # Their address bounced: no email until they confirm again; feeds go on.
                channels = [ch for ch in channels if ch != "email"]
                if not channels:
                    picked.skipped[s.subscriber.name] = "address bounced (no email until confirmed)"
                    continue
            items = self._pick(s, taken, picked)
            if items is None:
                continue
            if channels:
                work.append(
                    (s, items, [(ch, self.message_id(self.edition, s.id)) for ch in channels])
                )
        if work:
            won = delivery.recorder.claim(
                edition,
                [
                    Claim(
                        subscriber_id=s.id,
                        watermark=int(batch.seqs[-1]),
                        seen=s.watermark,
                        items=[(i.paper_seq, i.score, i.reasons) for i in items],
                        channels=channels,
                    )
                    for s, items, channels in work
                ],
                now=self.now,
            )
            if len(won) < len(work):
                mine = {c.subscriber_id for c in won}
                for s, _, _ in work:
                    if s.id not in mine:  # another run claimed them first
                        picked.skipped[s.subscriber.name] = "picked by another run meanwhile"
                work = [w for w in work if w[0].id in mine]
        work.extend(self._resumable(resumed, earlier))
        jobs, extra, suppressed = delivery.plan(edition, work, batch, picked.skipped)
        executed = delivery.execute(edition, jobs, extra, batch)
        executed.outcomes.extend(suppressed)
        if executed.outcomes:
            delivery.recorder.record(edition, executed.outcomes, now=utcnow())
        executed.outcomes = []
        executed.skipped.update(picked.skipped)
        executed.failed.update(picked.failed)
        executed.problems[:0] = picked.problems
        return executed

    def _load(self, spec: ChunkSpec) -> list[StoredSubscriber]:
        """The chunk's subscribers who get digests, as they are now."""
        stored = self.store.receiving_between(
            spec.first, spec.last, names=self.names, slot=self.slot
        )
        return [s for s in stored if s.subscriber.active]

    def _resumable(
        self, resumed: Sequence[StoredSubscriber], earlier: Mapping[int, Sequence[Pending]]
    ) -> list[Work]:
        """Subscribers this chunk claimed before it was interrupted: their stored selection
        and Message-IDs, delivered again (I1)."""
        if not resumed:
            return []
        chosen = self.delivery.recorder.selected(self.edition, [s.id for s in resumed])
        work: list[Work] = []
        for s in resumed:
            pending = earlier[s.id]
            channels = [(p.channel, p.message_id) for p in pending]
            work.append((s, chosen.get(s.id, []), channels))
        return work

    def _pick(
        self, s: StoredSubscriber, taken: Mapping[int, set[int]], result: ChunkResult
    ) -> list[StoredItem] | None:
        """The subscriber's picks, or ``None`` (and why, in ``result.skipped``)."""
        batch = self.batch
        candidates = batch.seqs > s.watermark
        for seq in taken.get(s.id, ()):
            candidates &= batch.seqs != seq
        # A paper the subscriber liked or disliked is known to them: never a pick.
        profile = s.subscriber.profile
        for text in (*profile.liked, *profile.disliked):
            ref = self.refs.get(text) or canonical_ref(text)
            position = batch.position(ref) if ref is not None else None
            if position is not None:
                candidates[position] = False
        choice = self.selector.select(profile, s.subscriber.max_items, batch, candidates)
        if choice.skipped:
            result.skipped[s.subscriber.name] = choice.skipped
            return None
        return [
            StoredItem(paper_seq=int(batch.seqs[p.position]), score=p.score, reasons=p.reasons)
            for p in choice.picks
        ]
