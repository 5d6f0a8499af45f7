"""The ``recency`` ranker: newer papers score higher, halving every ``half_life_days``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
from pydantic import Field

from digest import Batch, ComponentConfig, Ranker, Scores
from digest.models import Paper, Profile, Reason

__all__ = ["RecencyConfig", "RecencyRanker", "paper_age"]

_DAY = 86_400.0


def _aware(moment: dt.datetime) -> dt.datetime:
    # Naive datetimes are taken as UTC so they compare with aware ones.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def paper_age(paper: Paper, now: dt.datetime) -> tuple[float, str] | None:
    """``(age in days, which date)`` from ``announced``, else ``published``, else ``updated``.

    An announcement is a calendar day, so its age is whole days against ``now``'s date; the
    other two are instants and age fractionally. Future dates count as age 0. ``None`` when the
    paper has no date.
    """
    if paper.announced is not None:
        return max(0.0, float((now.date() - paper.announced).days)), "announced"
    for label, moment in (("published", paper.published), ("updated", paper.updated)):
        if moment is not None:
            seconds = (_aware(now) - _aware(moment)).total_seconds()
            return max(0.0, seconds / _DAY), label
    return None


def _ago(days: float) -> str:
    whole = int(days)
    if whole <= 0:
        return "today"
    if whole == 1:
        return "yesterday"
    return f"{whole} days ago"


class RecencyConfig(ComponentConfig):
    """``[rankers.<instance>]`` options of :class:`RecencyRanker`."""

    half_life_days: float = Field(
        default=3.0, gt=0, description="Age in days at which a paper's score halves."
    )
    undated_score: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Score of papers without any date (neither recent nor old).",
    )


class RecencyRanker(Ranker[RecencyConfig]):
    """Scores ``0.5 ** (age_days / half_life_days)``: 1 for today, 0.5 one half-life ago.

    The age comes from the announcement day, else the publication or update time, relative to
    the run's time (``batch.now``). The scores do not depend on the subscriber, so they are
    computed once per batch and every subscriber gets the same read-only array.
    """

    name = "recency"
    personal = False  # the same for every subscriber
    description = "prefer newer papers (exponential decay with a configurable half-life)"

    @property
    def _key(self) -> str:
        # Instance names are unique only within a kind, so prefix the kind.
        return f"rankers.{self.instance}"

    def prepare(self, batch: Batch) -> None:
        scores = np.full(len(batch), self.config.undated_score, dtype=np.float64)
        for position, paper in enumerate(batch.papers):
            age = paper_age(paper, batch.now)
            if age is not None:
                scores[position] = 0.5 ** (age[0] / self.config.half_life_days)
        # Shared by every subscriber: read-only, so an in-place change fails loudly.
        scores.setflags(write=False)
        batch.cache[self._key] = scores

    def score(self, profile: Profile, batch: Batch) -> Scores:
        scores = batch.cache.get(self._key)
        if scores is None or len(scores) != len(batch):
            self.prepare(batch)
            scores = batch.cache[self._key]
        return scores  # type: ignore[no-any-return]

    def explain(self, profile: Profile, batch: Batch, position: int) -> Sequence[Reason]:
        # The reason does not depend on the subscriber either: build it once per paper.
        key = f"{self._key}.reasons"
        reasons: dict[int, tuple[Reason, ...]] | None = batch.cache.get(key)
        if reasons is None:
            reasons = batch.cache[key] = {}
        found = reasons.get(position)
        if found is None:
            found = reasons[position] = self._reasons(profile, batch, position)
        return found

    def _reasons(self, profile: Profile, batch: Batch, position: int) -> tuple[Reason, ...]:
        age = paper_age(batch[position], batch.now)
        if age is None:
            return ()
        days, label = age
        weight = float(self.score(profile, batch)[position])
        return (Reason(kind="recency", text=f"{label} {_ago(days)}", weight=weight),)
