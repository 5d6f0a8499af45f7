"""The ``tfidf`` ranker: relevance to a subscriber's interests and liked papers.

``tfidf`` scores the cosine similarity of each paper's TF-IDF vector to the subscriber's
profile (interests and keywords text plus the centroid of their liked papers). The TF-IDF index
is fitted once per run on the batch (:mod:`digest_tfidf.index`) and shared with other rankers
built on it (the ``svm`` plugin's :class:`IndexRanker`).

Liked papers outside the batch count only when the core provides their texts in
``batch.references`` (see :mod:`digest_tfidf.index`).
"""

from __future__ import annotations

from digest import Ranker, hookimpl

from .index import TfidfIndex, canonical, singular, tfidf_index
from .rankers import IndexConfig, IndexRanker, TfidfRanker

__all__ = [
    "IndexConfig",
    "IndexRanker",
    "TfidfIndex",
    "TfidfRanker",
    "canonical",
    "singular",
    "tfidf_index",
]


@hookimpl
def register_rankers() -> list[type[Ranker]]:
    return [TfidfRanker]
