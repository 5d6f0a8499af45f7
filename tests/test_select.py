"""Selection: weighted rankers, top-k, and MMR diversity among the picks."""

from __future__ import annotations

import numpy as np

from digest import Ranker
from digest.batch import Batch
from digest.models import Profile
from digest.select import Selector
from digest.testing import NOW, make_paper, make_runtime


class Fixed(Ranker):
    """Given scores, and vectors where papers 0–2 are near-duplicates."""

    name = "fixed"

    def score(self, profile: Profile, batch: Batch) -> np.ndarray:
        return np.array([0.9, 0.89, 0.88, 0.7, 0.1])

    def vectors(self, batch: Batch) -> np.ndarray:
        rows = np.array([[1, 0, 0], [1, 0.05, 0], [1, 0, 0.05], [0, 1, 0], [0, 0, 1.0]])
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def pick(diversity: float, tmp_path) -> list[int]:
    batch = Batch([make_paper(f"2406.0000{i}") for i in range(5)], now=NOW)
    ranker = Fixed(Fixed.Config(), instance="fixed", runtime=make_runtime(tmp_path))
    selector = Selector({}, {"fixed": ranker}, {"fixed": 1.0}, on_error=print, diversity=diversity)
    outcome = selector.select(Profile(), 3, batch, batch.ones())
    return [p.position for p in outcome.picks]


def test_without_diversity_the_top_scores_win(tmp_path) -> None:
    assert pick(0.0, tmp_path) == [0, 1, 2]


def test_diversity_replaces_near_duplicates(tmp_path) -> None:
    # The distinct paper 3 (0.7) beats the near-duplicates of paper 0 (0.89, 0.88).
    assert pick(0.4, tmp_path) == [0, 3, 1]
