"""The ``tfidf`` ranker, and the base of every ranker on the shared TF-IDF index.

The ``tfidf`` ranker reads the subscriber's ``liked`` papers (and ``disliked``), ``interests``
and ``keywords``, against the per-run :class:`~digest_tfidf.index.TfidfIndex`. Per subscriber
it makes one sparse mat-vec (in batches under ``contrast_from`` papers, one more product
with the liked papers' vectors).

Its reasons are clauses of one sentence: the paper's phrases that carry the similarity
("mentions “large language models” from your interests", "shares “diffusion policy” with
papers you liked"; see :mod:`digest_tfidf.phrases`) and the nearest liked paper ("close to
“…”, which you liked"), each left out below ``min_reason_weight``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import Field
from typing_extensions import TypeVar

if TYPE_CHECKING:
    import scipy.sparse as sp  # type: ignore[import-untyped]

from digest import Batch, ComponentConfig, Ranker, Scores, readable, truncate
from digest.models import Paper, Profile, Reason

from .index import Floats, Rows, TfidfIndex, Vector, tfidf_index
from .phrases import Own, Shown, choose, own_words, phrasebook

__all__ = ["IndexConfig", "IndexRanker", "TfidfRanker"]


class IndexConfig(ComponentConfig):
    """Vectoriser options of rankers on the TF-IDF index (``tfidf``, ``svm``): rankers with
    equal options share one fitted index."""

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
        description="Terms found in fewer papers of the run's batch are not dimensions of "
        "their own (relaxed to 1 for batches under 20 papers): such rare words only add to the "
        "similarity of the paper that has them, rare word pairs are ignored.",
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
        description="Keep at most this many shared terms (words and word pairs), the most "
        "frequent; unset keeps all (a cap saves memory on very large batches).",
    )


#: the config of a ranker on the index: the vectoriser options plus its own
IC = TypeVar("IC", bound=IndexConfig, default=IndexConfig, covariant=True)


class IndexRanker(Ranker[IC]):
    """Base of rankers that score with the run's :class:`~digest_tfidf.index.TfidfIndex`."""

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
        self._index(batch).add_references(batch)

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


@dataclass(frozen=True, slots=True)
class _Interest:
    """A subscriber's profile as :class:`TfidfRanker` scores with it (kept for ``explain``)."""

    #: dense ``width``-long profile vector, unit norm
    vector: Floats
    #: the liked papers' vectors (reasons name the nearest one)
    liked: Rows | None = None
    #: those papers: batch position or None, and the paper
    papers: tuple[tuple[int | None, Paper], ...] = ()
    #: the same vectors as a sparse matrix when half of the score is the mean similarity to
    #: the nearest liked papers (small batches)
    neighbours: sp.csr_matrix | None = None


class TfidfConfig(IndexConfig):
    """``[rankers.<instance>]`` options of :class:`TfidfRanker`."""

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
        default=0.7,
        ge=0,
        le=2,
        description="How much of the whole batch's centroid is subtracted from the profile, "
        "so that what all papers share does not count (batches of contrast_from papers or "
        "more: a handful of candidates has no meaningful centroid).",
    )
    contrast_from: int = Field(
        default=50, ge=2, description="Smallest batch the contrast applies to."
    )
    neighbours: int = Field(
        default=3,
        ge=0,
        description="In batches under contrast_from papers, half of a paper's score is its "
        "mean similarity to this many of the subscriber's liked papers closest to it (a "
        "handful of candidates has no centroid to contrast with, and one average of broad "
        "interests blurs them); 0 scores by the profile alone.",
    )
    saturation: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Cosine similarity that scores 1; lower similarities scale linearly.",
    )
    min_reason_weight: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Leave a reason out (the shared phrases, the nearest liked paper) when its "
        "weight, its share of the similarity relative to saturation, is below this.",
    )


def _quoted(phrases: Sequence[Shown]) -> str:
    """“a”, “b” and “c”."""
    quoted = [f"“{p.text}”" for p in phrases]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


class TfidfRanker(IndexRanker[TfidfConfig]):
    """Scores each paper by its TF-IDF cosine similarity to the subscriber's profile.

    The profile vector mixes the subscriber's ``interests`` and ``keywords`` text with the
    centroid of their liked papers (``interests_weight`` decides the share), minus a share of
    the batch's centroid (``contrast``: what every paper says does not count) and of the
    centroid of their disliked papers. In batches too small for the contrast, half of the score
    is instead the mean similarity to the ``neighbours`` liked papers closest to each paper. A
    paper's score is divided by ``saturation`` (capped at 1). Profiles with neither text nor
    known liked papers score 0.
    """

    name = "tfidf"
    description = "relevance to the subscriber's interests and liked papers (TF-IDF cosine)"

    def _interest(self, profile: Profile, batch: Batch) -> _Interest | None:
        interest: _Interest | None = self._per_subscriber(profile, batch, self._build)
        return interest

    def _build(self, profile: Profile, batch: Batch) -> _Interest | None:
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
        small = len(batch) < config.contrast_from
        if config.contrast > 0 and not small:
            # Rocchio against the whole batch: what makes the liked papers different from
            # everything else counts, what every paper says does not (the SVM's idea, but one
            # vector for all subscribers, so scoring stays a single product per subscriber).
            centroid = self._batch_centroid(index, batch)
            if centroid is not None:
                vector /= max(_norm(vector), 1e-12)
                vector[: index.size] -= config.contrast * centroid
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
        if not liked:
            return _Interest(vector)
        papers: tuple[tuple[int | None, Paper], ...] = tuple((p, batch[p]) for p in liked.positions)
        papers += tuple((None, paper) for paper, _ in liked.outside)
        # A handful of candidates: no batch centroid to contrast with, and the average of
        # broad interests (20 papers on "machine learning") is close to nothing in particular;
        # the liked papers nearest to each candidate say more.
        neighbours = small and config.neighbours > 0
        vectors = index.vectors_of(liked)
        matrix = index.stack(vectors) if neighbours else None
        return _Interest(vector, Rows.of(vectors), papers, matrix)

    def _batch_centroid(self, index: TfidfIndex, batch: Batch) -> Floats | None:
        """The batch's normalised centroid over the shared terms, once per run (shared by
        every subscriber)."""
        key = f"{self._key}.centroid"
        if key not in batch.cache:
            total: Floats = np.asarray(index.matrix.sum(axis=0), dtype=np.float32).ravel()
            norm = _norm(total)
            batch.cache[key] = total / norm if norm > 0 else None
        centroid: Floats | None = batch.cache[key]
        return centroid

    def _cosines(self, interest: _Interest, batch: Batch) -> npt.NDArray[np.float64]:
        index = self._index(batch)
        scores = index.similarities(interest.vector)
        if interest.neighbours is not None:
            similar = index.similarities_to(interest.neighbours)
            k = min(self.config.neighbours, similar.shape[1])
            nearest = np.partition(similar, similar.shape[1] - k, axis=1)[:, -k:]
            scores = 0.5 * scores + 0.5 * nearest.mean(axis=1)
        return scores

    def score(self, profile: Profile, batch: Batch) -> Scores:
        interest = self._interest(profile, batch)
        if interest is None:
            return batch.zeros()
        scores = self._cosines(interest, batch)
        scores *= 1.0 / self.config.saturation
        np.clip(scores, 0.0, 1.0, out=scores)
        return scores

    def prepare(self, batch: Batch) -> None:
        super().prepare(batch)
        # the candidates' phrases once, before the subscribers are split over workers
        phrasebook(batch).fill()

    #: the subscriber whose words were read last, for their other picks
    _last_words: tuple[Profile, Own | None] | None = None

    def _own(self, profile: Profile) -> Own | None:
        last = self._last_words
        if last is not None and last[0] is profile:
            return last[1]
        text = (profile.interests, *profile.keywords)
        own = own_words(profile.interests, profile.keywords) if any(text) else None
        self._last_words = (profile, own)
        return own

    def explain(self, profile: Profile, batch: Batch, position: int) -> Sequence[Reason]:
        interest = self._interest(profile, batch)
        if interest is None:
            return ()
        index = self._index(batch)
        config = self.config
        row = index.row(position)
        products = row.data * interest.vector[row.indices]
        positive = products > 0
        gains = dict(
            zip(
                index.terms[row.indices[positive]].tolist(),
                products[positive].tolist(),
                strict=True,
            )
        )
        reasons: list[Reason] = []
        if gains:
            shown = choose(phrasebook(batch).paper(position), gains, self._own(profile))
            # Phrases of the subscriber's text are "from your interests"; the rest came from
            # their liked papers (all of them do when there is no text).
            mine = [p for p in shown if p.own or not interest.papers]
            theirs = [p for p in shown if not (p.own or not interest.papers)]
            clauses = (
                (mine, "mentions {} from your interests"),
                (theirs, "shares {} with papers you liked"),
            )
            for phrases, form in clauses:
                if not phrases:
                    continue
                weight = round(min(1.0, sum(p.value for p in phrases) / config.saturation), 4)
                if weight >= config.min_reason_weight:
                    text = form.format(_quoted(phrases))
                    reasons.append(Reason(kind="similar", text=text, weight=weight))
        nearest = self._nearest_liked(interest, index, position, row)
        if nearest is not None:
            similarity, paper = nearest
            weight = round(min(1.0, similarity / config.saturation), 4)
            if weight >= config.min_reason_weight:
                title = truncate(readable(paper.title), 80)
                text = (
                    f"close to “{title}”, which you liked"
                    if title
                    else "close to a paper you liked"
                )
                reasons.append(Reason(kind="similar", text=text, weight=weight, ref=str(paper.id)))
        # the strongest first (the core keeps a pick's first reason whatever its weight)
        return tuple(sorted(reasons, key=lambda r: -r.weight))

    @staticmethod
    def _nearest_liked(
        interest: _Interest, index: TfidfIndex, position: int, row: Vector
    ) -> tuple[float, Paper] | None:
        """The liked paper most similar to the paper at ``position`` (not itself)."""
        if interest.liked is None or row.empty:
            return None
        similarities = index.dots(row, interest.liked)
        best: tuple[float, Paper] | None = None
        for similarity, (where, paper) in zip(similarities.tolist(), interest.papers, strict=True):
            if where == position:  # a liked paper is never "close to" itself
                continue
            if similarity > 0 and (best is None or similarity > best[0]):
                best = (similarity, paper)
        return best
