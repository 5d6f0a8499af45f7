"""The ``popularity`` ranker: what the community is reading (Hugging Face upvotes, stars).

Scores are per paper, so they are computed once per run and shared by every subscriber:
``log1p(upvotes) / log1p(most upvotes in the batch)``, with GitHub stars as a weaker signal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import Field

from digest import Batch, ComponentConfig, Ranker, Scores
from digest.models import Profile, Reason


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return max(float(value), 0.0)


class PopularityConfig(ComponentConfig):
    """``[rankers.<instance>]`` options of :class:`PopularityRanker`."""

    stars_weight: float = Field(
        0.25, ge=0, le=1, description="share of the score from GitHub stars (rest: upvotes)"
    )


class PopularityRanker(Ranker[PopularityConfig]):
    """Ranks papers the community upvoted on Hugging Face (and starred on GitHub) higher."""

    name = "popularity"
    personal = False  # the same for every subscriber
    description = "Hugging Face upvotes and GitHub stars, normalised per batch"

    def prepare(self, batch: Batch) -> None:
        upvotes = np.array([_number(p.signals.get("hf.upvotes")) for p in batch], dtype=float)
        stars = np.array([_number(p.signals.get("hf.github_stars")) for p in batch], dtype=float)
        scores = batch.zeros()
        for values, share in (
            (upvotes, 1 - self.config.stars_weight),
            (stars, self.config.stars_weight),
        ):
            top = values.max(initial=0.0)
            if top > 0:
                scores += share * np.log1p(values) / math.log1p(top)
        scores.setflags(write=False)
        batch.cache[f"rankers.{self.instance}"] = scores

    def score(self, profile: Profile, batch: Batch) -> Scores:
        scores = batch.cache.get(f"rankers.{self.instance}")
        if scores is None:
            self.prepare(batch)
            scores = batch.cache[f"rankers.{self.instance}"]
        return np.asarray(scores)

    def explain(self, profile: Profile, batch: Batch, position: int) -> Sequence[Reason]:
        upvotes = int(_number(batch[position].signals.get("hf.upvotes")))
        if not upvotes:
            return ()
        noun = "upvote" if upvotes == 1 else "upvotes"
        return (Reason(kind="popularity", text=f"popular on Hugging Face ({upvotes} {noun})"),)
