"""The ``tfidf`` and ``svm`` rankers: relevance to a subscriber's interests and liked papers.

``tfidf`` scores the cosine similarity of each paper's TF-IDF vector to the subscriber's
profile (interests and keywords text plus the centroid of their liked papers); ``svm`` trains a
linear SVM per subscriber on their liked papers against the rest of the batch (arxiv-sanity).
Both fit one TF-IDF vectoriser on the run's batch in ``prepare`` and share it.

Liked papers outside the batch count only when the core provides their texts in
``batch.references`` (see :mod:`digest_tfidf.index`).
"""

from __future__ import annotations

from digest import Ranker, hookimpl

from .index import TfidfIndex, canonical, singular, tfidf_index
from .rankers import SvmRanker, TfidfRanker

__all__ = [
    "SvmRanker",
    "TfidfIndex",
    "TfidfRanker",
    "canonical",
    "singular",
    "tfidf_index",
]


@hookimpl
def register_rankers() -> list[type[Ranker]]:
    return [TfidfRanker, SvmRanker]
