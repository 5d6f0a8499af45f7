"""One chunk of subscribers through an edition: select, claim, render, deliver, record.

Every chunk of an edition shares one :class:`EditionRun` (the prepared batch and selector);
a chunk is independent of the others and idempotent through the ledger, so any process may
run it — the forked workers of :mod:`digest.pipeline.fanout` today, a task queue later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from digest.batch import Batch
from digest.ledger import Claim, StoredItem
from digest.models import Edition
from digest.pipeline.deliver import Delivery, Work
from digest.pipeline.report import ChunkResult
from digest.select import Selector
from digest.store import StoredSubscriber, utcnow


@dataclass(slots=True, kw_only=True)
class EditionRun:
    """What every chunk of one edition shares; inherited by forked workers."""

    edition: Edition
    batch: Batch
    selector: Selector
    #: papers (store seqs) already picked for a subscriber above their watermark
    taken: Mapping[int, set[int]]
    #: liked/disliked ids as subscribers wrote them → canonical id
    refs: Mapping[str, str]
    now: dt.datetime
    delivery: Delivery
    #: the Message-ID of (edition, subscriber id)
    message_id: Callable[[Edition, int], str]

    def run_chunk(self, chunk: Sequence[StoredSubscriber]) -> ChunkResult:
        """Select, claim, render, deliver and record one chunk of subscribers."""
        delivery = self.delivery
        if delivery.paused.is_set():
            # Not selected nor claimed: these subscribers are simply due again next run.
            return ChunkResult(skipped={s.subscriber.name: "edition paused" for s in chunk})
        picked = ChunkResult()
        self.selector.on_error = lambda where, error: picked.problems.append(
            delivery.reporter.problem(where, error)
        )
        work: list[Work] = []
        for s in chunk:
            channels = delivery.usable_channels(s.subscriber, picked.failed)
            if s.bounced and "email" in channels:
                # Their address bounced: no email until they confirm again; feeds go on.
                channels = [ch for ch in channels if ch != "email"]
                if not channels:
                    picked.skipped[s.subscriber.name] = "address bounced (no email until confirmed)"
                    continue
            items = self._pick(s, picked)
            if items is None:
                continue
            if channels:
                work.append(
                    (s, items, [(ch, self.message_id(self.edition, s.id)) for ch in channels])
                )
        batch, edition = self.batch, self.edition
        if work:
            delivery.recorder.claim(
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
                now=self.now,
            )
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

    def _pick(self, s: StoredSubscriber, result: ChunkResult) -> list[StoredItem] | None:
        """The subscriber's picks, or ``None`` (and why, in ``result.skipped``)."""
        batch = self.batch
        candidates = batch.seqs > s.watermark
        for seq in self.taken.get(s.id, ()):
            candidates &= batch.seqs != seq
        # A paper the subscriber liked or disliked is known to them: never a pick.
        profile = s.subscriber.profile
        for text in (*profile.liked, *profile.disliked):
            ref = self.refs.get(text)
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
