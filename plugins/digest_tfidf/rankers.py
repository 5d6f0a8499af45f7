"""The ``tfidf`` and ``svm`` rankers.

Both read the subscriber's ``liked`` papers (and ``disliked``), ``tfidf`` also ``interests``
and ``keywords``, against the per-run :class:`~digest_tfidf.index.TfidfIndex`. Per subscriber
``tfidf`` makes one sparse mat-vec; ``svm`` trains one linear SVM (the arxiv-sanity approach).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp  # type: ignore[import-untyped]
from pydantic import Field
from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]
from sklearn.svm import LinearSVC  # type: ignore[import-untyped]

from digest import Batch, ComponentConfig, Ranker, Scores, one_line, truncate
from digest.models import Profile, Reason

from .index import Floats, Resolved, TfidfIndex, tfidf_index

__all__ = ["SvmRanker", "TfidfRanker"]


class _IndexConfig(ComponentConfig):
    """Vectoriser options shared by both rankers (equal options share one fitted index)."""

    title_weight: int = Field(
        default=2,
        ge=1,
        le=5,
        description="How many times a paper's title is repeated before its abstract, so that "
        "title words weigh more.",
    )
    min_df: int = Field(
        default=2,
        ge=1,
        description="Ignore terms found in fewer papers of the run's batch (relaxed to 1 for "
        "batches under 20 papers).",
    )
    max_df: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Ignore terms found in more than this share of the batch's papers.",
    )
    max_features: int | None = Field(
        default=None,
        ge=1,
        description="Keep at most this many terms (words and word pairs), the most frequent; "
        "unset keeps all (a cap costs fitting time, it saves memory on very large batches).",
    )


class _IndexRanker(Ranker):
    config: _IndexConfig

    @property
    def _key(self) -> str:
        return f"rankers.{self.instance}"

    def _index(self, batch: Batch) -> TfidfIndex:
        index: TfidfIndex | None = batch.cache.get(self._key)
        if index is None or index.matrix.shape[0] != len(batch):
            c = self.config
            index = batch.cache[self._key] = tfidf_index(
                batch,
                title_weight=c.title_weight,
                min_df=c.min_df,
                max_df=c.max_df,
                max_features=c.max_features,
            )
        return index

    def prepare(self, batch: Batch) -> None:
        self._index(batch)

    #: the work done last, reused by explain() for the same (profile, batch)
    _last: tuple[Profile, Batch, Any] | None = None

    def _per_subscriber(
        self, profile: Profile, batch: Batch, build: Callable[[Profile, Batch], Any]
    ) -> Any:
        """``build(profile, batch)``, kept for the calls that follow for the same subscriber
        (the core asks ``explain`` for several picks right after ``score``)."""
        last = self._last
        if last is not None and last[0] is profile and last[1] is batch:
            return last[2]
        result = build(profile, batch)
        self._last = (profile, batch, result)
        return result

    def vectors(self, batch: Batch) -> Any:
        """The L2-normalised TF-IDF rows: the core keeps the picks diverse with them (MMR)."""
        index = self._index(batch)
        return index.matrix if index.size else None


def _norm(vector: Floats) -> float:
    return float(np.sqrt(np.dot(vector, vector)))


class TfidfRanker(_IndexRanker):
    """Scores each paper by its TF-IDF cosine similarity to the subscriber's profile.

    The profile vector mixes the subscriber's ``interests`` and ``keywords`` text with the
    centroid of their liked papers (``interests_weight`` decides the share), minus a share of
    the centroid of their disliked papers. A paper's score is its cosine similarity divided by
    ``saturation`` (capped at 1). Profiles with neither text nor known liked papers score 0.
    """

    name = "tfidf"
    description = "relevance to the subscriber's interests and liked papers (TF-IDF cosine)"

    class Config(_IndexConfig):
        interests_weight: float = Field(
            default=0.5,
            ge=0,
            le=1,
            description="Share of the interests/keywords text in the profile when the "
            "subscriber also has liked papers (the liked papers' centroid gets the rest).",
        )
        disliked_weight: float = Field(
            default=0.25,
            ge=0,
            le=1,
            description="How much of the disliked papers' centroid is subtracted from the "
            "profile (Rocchio-style).",
        )
        contrast: float = Field(
            default=0.6,
            ge=0,
            le=2,
            description="How much of the whole batch's centroid is subtracted from the profile, "
            "so that what all papers share does not count (batches of contrast_from papers or "
            "more: a handful of candidates has no meaningful centroid).",
        )
        contrast_from: int = Field(
            default=50, ge=2, description="Smallest batch the contrast applies to."
        )
        saturation: float = Field(
            default=1.0,
            gt=0,
            le=1,
            description="Cosine similarity that scores 1; lower similarities scale linearly.",
        )

    config: Config

    def _profile_vector(self, profile: Profile, batch: Batch) -> Floats | None:
        vector: Floats | None = self._per_subscriber(profile, batch, self._build)
        return vector

    def _build(self, profile: Profile, batch: Batch) -> Floats | None:
        index = self._index(batch)
        if index.size == 0:
            return None
        config = self.config
        text = " ".join([profile.interests, *profile.keywords]).strip()
        query = index.text_vector(text) if text else None
        liked = index.resolve(profile.liked, batch)
        vector: Floats | None = None
        if liked:
            vector = index.dense_sum(liked)
            norm = _norm(vector)
            if norm > 0:
                share = 1.0 - config.interests_weight if query and not query.empty else 1.0
                vector *= share / norm
            else:
                vector = None
        if query is not None and not query.empty:
            if vector is None:
                vector = index.dense(query)
            else:
                vector[query.indices] += config.interests_weight * query.data
        if vector is None:
            return None
        if config.contrast > 0 and len(batch) >= config.contrast_from:
            # Rocchio against the whole batch: what makes the liked papers different from
            # everything else counts, what every paper says does not (the SVM's idea, but one
            # vector for all subscribers, so scoring stays a single product per subscriber).
            centroid = self._batch_centroid(index, batch)
            if centroid is not None:
                vector /= max(_norm(vector), 1e-12)
                vector -= config.contrast * centroid
        if profile.disliked and config.disliked_weight > 0:
            disliked = index.resolve(profile.disliked, batch)
            if disliked:
                against = index.dense_sum(disliked)
                norm = _norm(against)
                if norm > 0:
                    vector -= (config.disliked_weight / norm) * against
        norm = _norm(vector)
        if norm <= 0:
            return None
        vector /= norm
        return vector

    def _batch_centroid(self, index: TfidfIndex, batch: Batch) -> Floats | None:
        """The batch's normalised centroid, once per run (shared by every subscriber)."""
        key = f"{self._key}.centroid"
        if key not in batch.cache:
            total: Floats = np.asarray(index.matrix.sum(axis=0), dtype=np.float32).ravel()
            norm = _norm(total)
            batch.cache[key] = total / norm if norm > 0 else None
        centroid: Floats | None = batch.cache[key]
        return centroid

    def score(self, profile: Profile, batch: Batch) -> Scores:
        vector = self._profile_vector(profile, batch)
        if vector is None:
            return batch.zeros()
        scores = self._index(batch).similarities(vector)
        scores *= 1.0 / self.config.saturation
        np.clip(scores, 0.0, 1.0, out=scores)
        return scores

    def explain(self, profile: Profile, batch: Batch, position: int) -> Sequence[Reason]:
        vector = self._profile_vector(profile, batch)
        if vector is None:
            return ()
        index = self._index(batch)
        row = index.row(position)
        products = row.data * vector[row.indices]
        order = np.argsort(-products, kind="stable")
        terms: list[str] = []
        for i in order:
            if products[i] <= 0 or len(terms) == 3:
                break
            term = str(index.terms[row.indices[i]])
            # "robot grasping" already says "robot": skip words inside a chosen phrase.
            if any(term in chosen.split() or chosen in term.split() for chosen in terms):
                continue
            terms.append(term)
        if not terms:
            return ()
        cosine = float(products.sum())
        weight = round(min(1.0, max(0.0, cosine / self.config.saturation)), 4)
        text = f"similar to your interests: {', '.join(terms)}"
        return (Reason(kind="similar", text=one_line(text), weight=weight),)


@dataclass(frozen=True, slots=True)
class _Trained:
    liked: Resolved
    scores: Scores


class SvmRanker(_IndexRanker):
    """Scores papers with a linear SVM trained per subscriber, like arxiv-sanity.

    The subscriber's liked papers are the positives, the batch's other papers (and their
    disliked papers) the negatives; classes are balanced. The decision value ``d`` is squashed
    to ``1 / (1 + exp(-steepness * d))``. With fewer than two known liked papers every score is 0
    (the other rankers decide).
    """

    name = "svm"
    description = "a per-subscriber linear SVM on TF-IDF vectors: liked papers vs the batch"

    class Config(_IndexConfig):
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

    config: Config

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
            (vector.indices, vector.data, 1) for _, vector in liked.outside
        ]
        if profile.disliked:
            disliked = index.resolve(profile.disliked, batch)
            labels[list(disliked.positions)] = 0
            extra.extend((vector.indices, vector.data, 0) for _, vector in disliked.outside)
        if labels.sum() == n:  # no negatives: nothing to tell apart
            return None
        features = index.matrix
        if extra:
            rows = sp.csr_matrix(
                (
                    np.concatenate([e[1] for e in extra]),
                    np.concatenate([e[0] for e in extra]),
                    np.concatenate([[0], np.cumsum([e[0].size for e in extra])]),
                ),
                shape=(len(extra), index.size),
                dtype=features.dtype,
            )
            features = sp.vstack([features, rows], format="csr")
            labels = np.concatenate([labels, np.array([e[2] for e in extra], dtype=np.int8)])
        model = LinearSVC(
            C=self.config.C, class_weight="balanced", max_iter=self.config.max_iter, dual=True
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
        title = truncate(one_line(best[1]), 120)
        weight = round(min(1.0, best[0]), 4)
        return (Reason(kind="svm", text=f"close to papers you liked: {title}", weight=weight),)
