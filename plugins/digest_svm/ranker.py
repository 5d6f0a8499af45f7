"""The ``svm`` ranker: a linear SVM per subscriber on TF-IDF vectors (arxiv-sanity's approach).

The subscriber's liked papers are the positives and the rest of the run's batch the negatives;
the vectors come from the TF-IDF index the ``tfidf`` plugin builds once per run
(:mod:`digest_tfidf.index`), shared with the ``tfidf`` ranker when their options agree.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import Field

from digest import Batch, Scores, readable, truncate
from digest.models import Profile, Reason
from digest_tfidf.index import Floats, Resolved, TfidfIndex, Vector, sparse
from digest_tfidf.rankers import IndexConfig, IndexRanker

__all__ = ["SvmRanker"]


def _shared(vector: Vector, index: TfidfIndex) -> tuple[npt.NDArray[np.int32], Floats]:
    """A vector's entries on the shared terms: the SVM's features (the batch's rows)."""
    keep = vector.indices < index.size
    return vector.indices[keep], vector.data[keep]


@dataclass(frozen=True, slots=True)
class _Trained:
    liked: Resolved
    scores: Scores


class SvmConfig(IndexConfig):
    """``[rankers.<instance>]`` options of :class:`SvmRanker`."""

    C: float = Field(
        default=0.1,
        gt=0,
        description="Inverse regularisation strength of the linear SVM (smaller: smoother).",
    )
    steepness: float = Field(
        default=2.0,
        gt=0,
        description="Slope of the logistic squashing of the SVM decision value into [0, 1].",
    )
    max_iter: int = Field(
        default=1000, ge=10, description="Iteration cap of the SVM solver per subscriber."
    )
    min_candidates: int = Field(
        default=50,
        ge=2,
        description="Abstain (score 0) with fewer candidates: the other papers of the batch "
        "are the SVM's negatives, and a handful of them teaches it nothing (other rankers "
        "then decide).",
    )


class SvmRanker(IndexRanker[SvmConfig]):
    """Scores papers with a linear SVM trained per subscriber, like arxiv-sanity.

    The subscriber's liked papers are the positives, the batch's other papers (and their
    disliked papers) the negatives; classes are balanced. The decision value ``d`` is squashed
    to ``1 / (1 + exp(-steepness * d))``. With fewer than two known liked papers every score is 0
    (the other rankers decide).
    """

    name = "svm"
    description = "a per-subscriber linear SVM on TF-IDF vectors: liked papers vs the batch"

    def _trained(self, profile: Profile, batch: Batch) -> _Trained | None:
        trained: _Trained | None = self._per_subscriber(profile, batch, self._train)
        return trained

    def _train(self, profile: Profile, batch: Batch) -> _Trained | None:
        if len(profile.liked) < 2 or len(batch) < self.config.min_candidates:
            return None
        index = self._index(batch)
        if index.size == 0:
            return None
        liked = index.resolve(profile.liked, batch)
        if len(liked) < 2:
            return None
        n = len(batch)
        labels = np.zeros(n, dtype=np.int8)
        labels[list(liked.positions)] = 1
        extra: list[tuple[npt.NDArray[np.int32], Floats, int]] = [
            (*_shared(vector, index), 1) for _, vector in liked.outside
        ]
        if profile.disliked:
            disliked = index.resolve(profile.disliked, batch)
            labels[list(disliked.positions)] = 0
            extra.extend((*_shared(vector, index), 0) for _, vector in disliked.outside)
        if labels.sum() == n:  # no negatives: nothing to tell apart
            return None
        features = index.matrix
        if extra:
            rows = sparse().csr_matrix(
                (
                    np.concatenate([e[1] for e in extra]),
                    np.concatenate([e[0] for e in extra]),
                    np.concatenate([[0], np.cumsum([e[0].size for e in extra])]),
                ),
                shape=(len(extra), index.size),
                dtype=features.dtype,
            )
            features = sparse().vstack([features, rows], format="csr")
            labels = np.concatenate([labels, np.array([e[2] for e in extra], dtype=np.int8)])
        if labels.min() == labels.max():  # every liked paper also disliked: no positives
            return None
        # scikit-learn is slow to import: only when a subscriber's SVM is trained.
        from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]
        from sklearn.svm import LinearSVC  # type: ignore[import-untyped]

        model = LinearSVC(
            C=self.config.C,
            class_weight="balanced",
            max_iter=self.config.max_iter,
            dual=True,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(features, labels)
        decision = np.asarray(model.decision_function(index.matrix), dtype=np.float64)
        scores: Scores = 1.0 / (1.0 + np.exp(-self.config.steepness * decision))
        return _Trained(liked, scores)

    def score(self, profile: Profile, batch: Batch) -> Scores:
        trained = self._trained(profile, batch)
        if trained is None:
            return batch.zeros()
        return trained.scores.copy()

    def explain(self, profile: Profile, batch: Batch, position: int) -> Sequence[Reason]:
        trained = self._trained(profile, batch)
        if trained is None:
            return ()
        index = self._index(batch)
        dense = index.dense(index.row(position))
        best: tuple[float, str] | None = None
        for liked in trained.liked.positions:
            if liked == position:
                continue
            row = index.row(liked)
            similarity = float(dense[row.indices] @ row.data)
            if best is None or similarity > best[0]:
                best = (similarity, batch[liked].title)
        for paper, vector in trained.liked.outside:
            if paper.id == batch[position].id:
                continue
            similarity = float(dense[vector.indices] @ vector.data)
            if best is None or similarity > best[0]:
                best = (similarity, paper.title)
        if best is None or best[0] <= 0:
            return ()
        title = truncate(readable(best[1]), 80)
        weight = round(min(1.0, best[0]), 4)
        text = f"close to “{title}” and the other papers you liked"
        return (Reason(kind="svm", text=text, weight=weight),)
