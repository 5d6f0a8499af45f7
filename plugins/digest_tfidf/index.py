"""The per-run TF-IDF index shared by the ``tfidf`` and ``svm`` rankers.

:func:`tfidf_index` vectorises the batch's papers once per run (title repeated ``title_weight``
times, then the abstract) and keeps the result in ``batch.cache``. Rankers of either kind
configured with the same vectoriser options share one index.

Terms are words and word pairs, lower-cased, English stop words dropped and plurals folded
into the singular (``policies`` → ``policy``, ``robots`` → ``robot``), so that twenty liked
papers and a day's batch meet on the same words. The vocabulary has two parts:

* the *shared* terms, found in at least ``min_df`` candidates (and at most ``max_df`` of
  them): :attr:`TfidfIndex.matrix` holds every paper's L2-normalised row over these;
* the *rare* words, found in fewer candidates: a word that one new paper shares with a
  subscriber's liked papers (``tactile``, ``beamforming``) is strong evidence, but as a
  dimension of its own it would only shrink that paper's other similarities. So rare words
  add to a paper's similarity on top of its unit row (:attr:`TfidfIndex.rare`, scaled by the
  same row norm) and count in neither the norm nor the batch's centroid.

The IDF is the candidates' own (``ln((1 + n) / (1 + df)) + 1``); below 20 candidates, where
the document-frequency cut-offs are relaxed, it is BM25's ``ln(1 + (n - df + ½) / (df + ½))``,
which drops to about zero for a term that every candidate has.

Liked and disliked papers are resolved by id (``"2406.01234"``, ``"arxiv:2406.01234v2"``,
``"doi:10.1000/x"``): papers in the batch are rows of the matrix; papers that are not (liked
papers are usually older than the batch) are taken from ``batch.references``, which the core
loads once per run from the store, vectorised with the batch's vocabulary once, and cached.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from digest import Batch, canonical_ref
from digest.models import Paper

if TYPE_CHECKING:
    import scipy.sparse as sp  # type: ignore[import-untyped]

__all__ = [
    "TOKENS",
    "Resolved",
    "Rows",
    "TfidfIndex",
    "Vector",
    "analyze",
    "canonical",
    "paper_text",
    "singular",
    "stop_words",
    "tfidf_index",
]

#: below this many papers the document-frequency cut-offs are relaxed (a tiny batch would
#: otherwise have no vocabulary at all) and the IDF is BM25's
_SMALL_BATCH = 20
_DTYPE = np.float32
#: a word: two characters or more, starting with a letter (hyphens inside: "sim-to-real")
TOKENS = re.compile(r"(?u)\b[^\W\d_][\w\-]*[^\W_]\b")
#: words ending in "s" that are not plurals (or whose singular reads wrong)
_NOT_PLURAL = frozenset(
    {
        "afterwards", "alias", "always", "atlas", "bias", "canvas", "chaos", "corpus",
        "downwards", "gas", "lens", "news", "numerous", "perhaps", "previous", "series",
        "species", "thus", "towards", "upwards", "various", "whereas",
    }
)  # fmt: skip
_NOT_PLURAL_ENDINGS = ("ss", "us", "is", "ys")

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int32]


def singular(word: str) -> str:
    """A lower-case word with a plural ending folded (``policies`` → ``policy``): the
    "S-stemmer", which leaves words readable in reasons (no ``polici``)."""
    if len(word) <= 3 or word[-1] != "s" or word in _NOT_PLURAL:
        return word
    if word.endswith("ies"):
        if len(word) > 4 and not word.endswith(("eies", "aies")):
            return word[:-3] + "y"
        return word
    if word.endswith(_NOT_PLURAL_ENDINGS):
        return word
    return word[:-1]


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """The English stop words the index drops (checked on the lower-cased word, before plurals
    are folded)."""
    # scikit-learn's English list, imported on first use: scikit-learn takes ~0.6 s to import,
    # which every `digest` command (--help too) would pay when the plugin loads.
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # type: ignore[import-untyped]

    return frozenset(ENGLISH_STOP_WORDS)


def sparse() -> Any:
    """``scipy.sparse``, imported on first use (for the same reason)."""
    import scipy.sparse

    return scipy.sparse


def analyze(text: str) -> list[str]:
    """The terms of a text: words (stop words dropped, plurals folded), then word pairs."""
    stop = stop_words()
    words = [singular(token) for token in TOKENS.findall(text.lower()) if token not in stop]
    return words + [f"{a} {b}" for a, b in pairwise(words)]


@dataclass(frozen=True, slots=True)
class Vector:
    """A sparse TF-IDF vector: column indices (shared terms, then rare words) and values."""

    indices: Ints
    data: Floats

    @property
    def empty(self) -> bool:
        return self.indices.size == 0


_EMPTY = Vector(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=_DTYPE))


@dataclass(frozen=True, slots=True)
class Rows:
    """A few vectors side by side (a subscriber's liked papers), for :meth:`TfidfIndex.dots`:
    their entries concatenated and the vector each entry belongs to."""

    indices: Ints
    data: Floats
    owners: npt.NDArray[np.intp]
    count: int

    @classmethod
    def of(cls, vectors: Sequence[Vector]) -> Rows:
        if not vectors:
            empty = np.zeros(0, dtype=np.intp)
            return cls(_EMPTY.indices, _EMPTY.data, empty, 0)
        sizes = [v.indices.size for v in vectors]
        return cls(
            np.concatenate([v.indices for v in vectors]),
            np.concatenate([v.data for v in vectors]),
            np.repeat(np.arange(len(vectors)), sizes),
            len(vectors),
        )


@dataclass(frozen=True, slots=True)
class Resolved:
    """Liked (or disliked) papers of a profile as the index sees them."""

    #: positions of the papers that are in the batch
    positions: tuple[int, ...]
    #: vectors and papers of those that are not (from ``batch.references``)
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
    """The batch's TF-IDF rows (``float32`` CSR) and what is needed to vectorise more text.

    Columns ``0 … size-1`` are the shared terms (:attr:`matrix`), ``size … width-1`` the rare
    words (:attr:`rare`); dense profile vectors are ``width`` long.
    """

    #: term → column
    vocabulary: dict[str, int]
    #: IDF per column (``width`` values)
    idf: Floats
    #: L2-normalised rows over the shared terms (``len(batch) × size``)
    matrix: sp.csr_matrix
    #: rare-word weights, scaled by the same row norms (``len(batch) × (width - size)``)
    rare: sp.csr_matrix
    title_weight: int
    #: column → term, for reasons
    terms: npt.NDArray[np.str_]
    #: per-run memo of vectorised texts (interests) and outside papers, keyed by text / id
    _texts: dict[str, Vector] = field(default_factory=dict)
    _outside: dict[str, Vector] = field(default_factory=dict)
    #: a zeroed ``width``-long buffer for :meth:`dots` (one run ranks in one thread)
    _scratch: Floats | None = None
    _analyzer: Callable[[str], list[str]] = analyze

    @property
    def size(self) -> int:
        """Number of shared terms: the columns of :attr:`matrix` (0 when nothing was fitted)."""
        return int(self.matrix.shape[1])

    @property
    def width(self) -> int:
        """Length of a dense profile vector: shared terms plus rare words."""
        return self.size + int(self.rare.shape[1])

    def _transform(self, text: str) -> Vector:
        """The vector of one text as the batch's rows are made: sublinear tf × idf, divided by
        the norm over the shared terms (over all its terms if it has no shared one)."""
        if self.size == 0 or not text.strip():
            return _EMPTY
        vocabulary = self.vocabulary
        counts: dict[int, int] = {}
        for term in self._analyzer(text):
            column = vocabulary.get(term)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        if not counts:
            return _EMPTY
        indices = np.fromiter(sorted(counts), dtype=np.int32, count=len(counts))
        tf = np.array([counts[i] for i in indices.tolist()], dtype=np.float64)
        weights = (1.0 + np.log(tf)) * self.idf[indices]
        shared = weights[indices < self.size]
        norm = np.linalg.norm(shared) if shared.size else 0.0
        if norm <= 0:
            norm = np.linalg.norm(weights)
        if norm <= 0:
            return _EMPTY
        weights /= norm
        return Vector(indices, weights.astype(_DTYPE))

    def add_references(self, batch: Batch) -> int:
        """Vectorise every paper of ``batch.references`` that is not a candidate, in one pass
        (``prepare`` calls this before the subscribers are split over worker processes, which
        then share the vectors instead of each making them one by one); returns how many."""
        if self.size == 0:
            return 0
        missing = [
            (key, paper)
            for key, paper in batch.references.items()
            if key not in self._outside and batch.position(key) is None
        ]
        if not missing:
            return 0
        vocabulary = self.vocabulary
        columns: list[int] = []
        counts: list[int] = []
        indptr = [0]
        for _, paper in missing:
            found: dict[int, int] = {}
            for term in self._analyzer(paper_text(paper, self.title_weight)):
                column = vocabulary.get(term)
                if column is not None:
                    found[column] = found.get(column, 0) + 1
            columns.extend(sorted(found))
            counts.extend(found[c] for c in sorted(found))
            indptr.append(len(columns))
        where = np.asarray(columns, dtype=np.int32)
        weights = (1.0 + np.log(np.asarray(counts, dtype=np.float64))) * self.idf[where]
        squares = np.where(where < self.size, weights * weights, 0.0)
        bounds = np.asarray(indptr, dtype=np.int64)
        for row, (key, _) in enumerate(missing):
            start, end = bounds[row], bounds[row + 1]
            if start == end:
                self._outside[key] = _EMPTY
                continue
            # divided by the norm over the shared terms (all terms when it has no shared one)
            norm = float(np.sqrt(squares[start:end].sum()))
            if norm <= 0:
                norm = float(np.linalg.norm(weights[start:end]))
            self._outside[key] = (
                Vector(where[start:end], (weights[start:end] / norm).astype(_DTYPE))
                if norm > 0
                else _EMPTY
            )
        return len(missing)

    def text_vector(self, text: str) -> Vector:
        """The vector of free text (interests, keywords), memoised per distinct text."""
        found = self._texts.get(text)
        if found is None:
            found = self._texts[text] = self._transform(text)
        return found

    def row(self, position: int) -> Vector:
        """A batch paper's vector: its shared terms, then its rare words."""
        m, r = self.matrix, self.rare
        start, end = m.indptr[position], m.indptr[position + 1]
        rare_start, rare_end = r.indptr[position], r.indptr[position + 1]
        if rare_start == rare_end:
            return Vector(m.indices[start:end], m.data[start:end])
        return Vector(
            np.concatenate([m.indices[start:end], r.indices[rare_start:rare_end] + self.size]),
            np.concatenate([m.data[start:end], r.data[rare_start:rare_end]]),
        )

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

    def vectors_of(self, resolved: Resolved) -> list[Vector]:
        """The resolved papers' vectors: batch rows first, then the outside papers'."""
        return [self.row(p) for p in resolved.positions] + [v for _, v in resolved.outside]

    def dense_sum(self, resolved: Resolved) -> Floats:
        """The sum of the resolved papers' vectors as a dense ``width``-long array."""
        vectors = self.vectors_of(resolved)
        if not vectors:
            return np.zeros(self.width, dtype=_DTYPE)
        summed = np.bincount(
            np.concatenate([v.indices for v in vectors]),
            np.concatenate([v.data for v in vectors]),
            minlength=self.width,
        )
        return summed.astype(_DTYPE, copy=False)

    def stack(self, vectors: Sequence[Vector]) -> sp.csr_matrix:
        """Vectors as the rows of a sparse ``len(vectors) × width`` matrix."""
        return sparse().csr_matrix(
            (
                np.concatenate([v.data for v in vectors]),
                np.concatenate([v.indices for v in vectors]),
                np.concatenate([[0], np.cumsum([v.indices.size for v in vectors])]),
            ),
            shape=(len(vectors), self.width),
            dtype=_DTYPE,
        )

    def dense(self, vector: Vector) -> Floats:
        out = np.zeros(self.width, dtype=_DTYPE)
        out[vector.indices] = vector.data
        return out

    def similarities(self, dense: Floats) -> npt.NDArray[np.float64]:
        """Dot products of every batch paper with a dense ``width``-long vector."""
        result: npt.NDArray[np.float32] = self.matrix @ dense[: self.size]
        if self.rare.nnz:
            result += self.rare @ dense[self.size :]
        return result.astype(np.float64)

    def dots(self, vector: Vector, rows: Rows) -> npt.NDArray[np.float64]:
        """Dot products of one vector with each of a few ``rows``, in plain numpy on a reused
        buffer (a sparse product costs more in setup than in arithmetic here)."""
        scratch = self._scratch
        if scratch is None:
            scratch = self._scratch = np.zeros(self.width, dtype=_DTYPE)
        scratch[vector.indices] = vector.data
        products = rows.data * scratch[rows.indices]
        scratch[vector.indices] = 0
        dots = np.bincount(rows.owners, weights=products, minlength=rows.count)
        return dots.astype(np.float64, copy=False)

    def similarities_to(self, rows: sp.csr_matrix) -> npt.NDArray[np.float64]:
        """``len(batch) × len(rows)`` dot products of every batch paper with each row."""
        size = self.size
        result = (self.matrix @ rows[:, :size].T).toarray()
        if self.rare.nnz:
            result += (self.rare @ rows[:, size:].T).toarray()
        return np.asarray(result, dtype=np.float64)


def _empty_index(batch: Batch, title_weight: int) -> TfidfIndex:
    nothing = sparse().csr_matrix((len(batch), 0), dtype=_DTYPE)
    return TfidfIndex(
        {}, np.zeros(0, dtype=_DTYPE), nothing, nothing, title_weight, np.zeros(0, dtype=np.str_)
    )


def _count(texts: Sequence[str]) -> tuple[list[str], sp.csr_matrix]:
    """Terms in first-seen order and the ``len(texts) × len(terms)`` term counts.

    (``CountVectorizer`` would sort the whole vocabulary, every pair seen once included,
    and most of it is dropped right after.)"""
    vocabulary: dict[str, int] = {}
    columns: list[int] = []
    counts: list[int] = []
    indptr = [0]
    for text in texts:
        found: dict[int, int] = {}
        for term in analyze(text):
            column = vocabulary.setdefault(term, len(vocabulary))
            found[column] = found.get(column, 0) + 1
        columns.extend(found)
        counts.extend(found.values())
        indptr.append(len(columns))
    matrix = sparse().csr_matrix(
        (
            np.asarray(counts, dtype=_DTYPE),
            np.asarray(columns, dtype=np.int32),
            np.asarray(indptr, dtype=np.int64),
        ),
        shape=(len(texts), len(vocabulary)),
    )
    return list(vocabulary), matrix


def _fit(
    batch: Batch, *, title_weight: int, min_df: int, max_df: float, max_features: int | None
) -> TfidfIndex:
    n = len(batch)
    small = n < _SMALL_BATCH
    all_terms, counts = _count([paper_text(p, title_weight) for p in batch.papers])
    df = np.bincount(counts.indices, minlength=len(all_terms))
    lowest, highest = (1, n) if small else (min_df, max_df * n)
    shared = np.flatnonzero((df >= lowest) & (df <= highest))
    if shared.size == 0:
        return _empty_index(batch, title_weight)
    if max_features is not None and shared.size > max_features:
        frequency = np.bincount(counts.indices, counts.data, minlength=len(all_terms))[shared]
        shared = np.sort(shared[np.argsort(-frequency, kind="stable")[:max_features]])
    rare = np.array(
        [c for c in np.flatnonzero(df < lowest).tolist() if " " not in all_terms[c]],
        dtype=np.int64,
    )
    columns = np.concatenate([shared, rare])
    df_kept = df[columns].astype(np.float64)
    # BM25's IDF for a handful of candidates (no max_df there: a term every one of them has
    # must weigh about nothing), the usual smoothed one otherwise
    if small:
        idf = np.log1p((n - df_kept + 0.5) / (df_kept + 0.5))
    else:
        idf = np.log((1.0 + n) / (1.0 + df_kept)) + 1.0
    weights = counts.tocsc()[:, columns].tocsr()
    weights.data = ((1.0 + np.log(weights.data)) * idf[weights.indices]).astype(_DTYPE)
    matrix, rare_part = weights[:, : shared.size], weights[:, shared.size :]
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    # A paper with rare words only: its own norm (it still matches what it says).
    alone = norms <= 0
    if alone.any():
        rare_norms = np.sqrt(np.asarray(rare_part.multiply(rare_part).sum(axis=1)).ravel())
        norms[alone] = rare_norms[alone]
    scale = sparse().diags((1.0 / np.where(norms > 0, norms, 1.0)).astype(_DTYPE))
    matrix = (scale @ matrix).astype(_DTYPE).tocsr()
    rare_part = (scale @ rare_part).astype(_DTYPE).tocsr()
    matrix.sort_indices()
    rare_part.sort_indices()
    kept = [all_terms[c] for c in columns.tolist()]
    vocabulary = {term: column for column, term in enumerate(kept)}
    terms = np.array(kept, dtype=np.str_)
    return TfidfIndex(vocabulary, idf.astype(_DTYPE), matrix, rare_part, title_weight, terms)


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
        index = batch.cache[key] = _fit(
            batch,
            title_weight=title_weight,
            min_df=min_df,
            max_df=max_df,
            max_features=max_features,
        )
    return index
