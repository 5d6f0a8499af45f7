"""The per-run TF-IDF index shared by the ``tfidf`` and ``svm`` rankers.

:func:`tfidf_index` fits a :class:`~sklearn.feature_extraction.text.TfidfVectorizer` on the
batch's papers once per run (title repeated ``title_weight`` times, then the abstract) and keeps
the L2-normalised CSR matrix in ``batch.cache``. Rankers of either kind configured with the same
vectoriser options share one index.

Liked and disliked papers are resolved by id (``"2406.01234"``, ``"arxiv:2406.01234v2"``,
``"doi:10.1000/x"``): papers in the batch are rows of the matrix; papers that are not (liked
papers are usually older than the batch) are taken from ``batch.references``, which the core
loads once per run from the store, transformed with the batch's vocabulary once, and cached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]

from digest import Batch, canonical_ref
from digest.models import Paper

__all__ = [
    "Resolved",
    "TfidfIndex",
    "Vector",
    "canonical",
    "paper_text",
    "tfidf_index",
]

#: ``batch.cache`` key of an optional ``Mapping[str, Paper]`` (canonical id → paper) holding the
#: subscribers' liked/disliked papers that are not in the batch. Provided by the core (or a
#: plugin's ``before_run``); without it only liked papers inside the batch count.

#: below this many papers the document-frequency cut-offs are relaxed (a tiny batch would
#: otherwise have no vocabulary at all)
_SMALL_BATCH = 20
_DTYPE = np.float32
_TOKENS = r"(?u)\b[^\W\d_][\w\-]*[^\W_]\b"

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class Vector:
    """A sparse, L2-normalised TF-IDF vector: column indices and values."""

    indices: Ints
    data: Floats

    @property
    def empty(self) -> bool:
        return self.indices.size == 0


_EMPTY = Vector(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=_DTYPE))


@dataclass(frozen=True, slots=True)
class Resolved:
    """Liked (or disliked) papers of a profile as the index sees them."""

    #: positions of the papers that are in the batch
    positions: tuple[int, ...]
    #: vectors and papers of those that are not (from :data:`LIKED_PAPERS_KEY`)
    outside: tuple[tuple[Paper, Vector], ...]

    def __len__(self) -> int:
        return len(self.positions) + len(self.outside)


@lru_cache(maxsize=65_536)
def canonical(text: str) -> str:
    """The canonical id form (``arxiv:2406.01234``) of a liked paper's id as a user wrote it."""
    return canonical_ref(text) or text.strip()


def paper_text(paper: Paper, title_weight: int) -> str:
    """What is vectorised for a paper: the title ``title_weight`` times, then the abstract."""
    return " ".join([paper.title] * title_weight + [paper.abstract])


@dataclass(slots=True, eq=False)
class TfidfIndex:
    """The fitted vectoriser and the batch's L2-normalised TF-IDF rows (``float32`` CSR)."""

    vectorizer: TfidfVectorizer | None
    matrix: sp.csr_matrix
    title_weight: int
    #: per-run memo of transformed texts (interests) and outside papers, keyed by text / id
    _texts: dict[str, Vector] = field(default_factory=dict)
    _outside: dict[str, Vector] = field(default_factory=dict)
    _terms: npt.NDArray[np.str_] | None = None
    _analyzer: Callable[[str], list[str]] | None = None

    @property
    def size(self) -> int:
        """Vocabulary size (0 when nothing could be fitted)."""
        return int(self.matrix.shape[1])

    @property
    def terms(self) -> npt.NDArray[np.str_]:
        if self._terms is None:
            self._terms = (
                self.vectorizer.get_feature_names_out()
                if self.vectorizer is not None
                else np.zeros(0, dtype=np.str_)
            )
        return self._terms

    def _transform(self, text: str) -> Vector:
        """The TF-IDF vector of one text, as the fitted vectoriser would make it.

        ``TfidfVectorizer.transform`` costs ~1–2 ms for one short text (input validation,
        sparse-matrix plumbing); interests and keyword lists differ per subscriber, so this
        does the same arithmetic directly: sublinear tf × idf, L2-normalised.
        """
        if self.vectorizer is None or not text.strip():
            return _EMPTY
        vectorizer = self.vectorizer
        analyzer = self._analyzer
        if analyzer is None:
            analyzer = self._analyzer = vectorizer.build_analyzer()
        vocabulary = vectorizer.vocabulary_
        counts: dict[int, int] = {}
        for term in analyzer(text):
            column = vocabulary.get(term)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        if not counts:
            return _EMPTY
        indices = np.fromiter(sorted(counts), dtype=np.int32, count=len(counts))
        tf = np.array([counts[i] for i in indices.tolist()], dtype=np.float64)
        weights = (1.0 + np.log(tf)) * vectorizer.idf_[indices]
        weights /= np.linalg.norm(weights)
        return Vector(indices, weights.astype(_DTYPE))

    def text_vector(self, text: str) -> Vector:
        """The vector of free text (interests, keywords), memoised per distinct text."""
        found = self._texts.get(text)
        if found is None:
            found = self._texts[text] = self._transform(text)
        return found

    def row(self, position: int) -> Vector:
        m = self.matrix
        start, end = m.indptr[position], m.indptr[position + 1]
        return Vector(m.indices[start:end], m.data[start:end])

    def resolve(self, ids: Sequence[str], batch: Batch) -> Resolved:
        """Split ``ids`` into batch positions and vectors of outside papers (unknown ids drop)."""
        if not ids:
            return Resolved((), ())
        positions: list[int] = []
        outside: list[tuple[Paper, Vector]] = []
        known: Mapping[str, Paper] = batch.references
        seen: set[str] = set()
        for raw in ids:
            key = canonical(raw)
            if key in seen:
                continue
            seen.add(key)
            position = batch.position(key)
            if position is not None:
                positions.append(position)
                continue
            paper = known.get(key)
            if paper is None:
                continue
            vector = self._outside.get(key)
            if vector is None:
                text = paper_text(paper, self.title_weight)
                vector = self._outside[key] = self._transform(text)
            if not vector.empty:
                outside.append((paper, vector))
        return Resolved(tuple(positions), tuple(outside))

    def dense_sum(self, resolved: Resolved) -> Floats:
        """The sum of the resolved papers' vectors as a dense vocabulary-length array."""
        m = self.matrix
        parts_i = [m.indices[m.indptr[p] : m.indptr[p + 1]] for p in resolved.positions]
        parts_d = [m.data[m.indptr[p] : m.indptr[p + 1]] for p in resolved.positions]
        for _, vector in resolved.outside:
            parts_i.append(vector.indices)
            parts_d.append(vector.data)
        if not parts_i:
            return np.zeros(self.size, dtype=_DTYPE)
        summed = np.bincount(np.concatenate(parts_i), np.concatenate(parts_d), minlength=self.size)
        return summed.astype(_DTYPE, copy=False)

    def dense(self, vector: Vector) -> Floats:
        out = np.zeros(self.size, dtype=_DTYPE)
        out[vector.indices] = vector.data
        return out

    def similarities(self, dense: Floats) -> npt.NDArray[np.float64]:
        """Dot products of every batch paper with a dense vocabulary-length vector."""
        result: npt.NDArray[np.float32] = self.matrix @ dense
        return result.astype(np.float64)


def _fit(
    batch: Batch, *, title_weight: int, min_df: int, max_df: float, max_features: int | None
) -> tuple[TfidfVectorizer | None, sp.csr_matrix]:
    small = len(batch) < _SMALL_BATCH
    vectorizer = TfidfVectorizer(
        sublinear_tf=True,
        stop_words="english",
        ngram_range=(1, 2),
        token_pattern=_TOKENS,
        min_df=1 if small else min_df,
        max_df=1.0 if small else max_df,
        max_features=max_features,
        dtype=_DTYPE,
    )
    texts = [paper_text(p, title_weight) for p in batch.papers]
    try:
        matrix = vectorizer.fit_transform(texts).tocsr()
    except ValueError:  # empty vocabulary: only stop words, or no text at all
        return None, sp.csr_matrix((len(batch), 0), dtype=_DTYPE)
    matrix.sort_indices()
    return vectorizer, matrix


def tfidf_index(
    batch: Batch,
    *,
    title_weight: int = 2,
    min_df: int = 2,
    max_df: float = 0.5,
    max_features: int | None = None,
) -> TfidfIndex:
    """The batch's TF-IDF index for these options, fitted on first use and kept for the run."""
    key = f"digest_tfidf.index({title_weight},{min_df},{max_df},{max_features})"
    index: TfidfIndex | None = batch.cache.get(key)
    if index is None:
        vectorizer, matrix = _fit(
            batch,
            title_weight=title_weight,
            min_df=min_df,
            max_df=max_df,
            max_features=max_features,
        )
        index = batch.cache[key] = TfidfIndex(vectorizer, matrix, title_weight)
    return index
