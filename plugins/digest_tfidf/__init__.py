"""The ``tfidf`` ranker: relevance to a subscriber's interests and liked papers.

``tfidf`` scores the cosine similarity of each paper's TF-IDF vector to the subscriber's
profile (interests and keywords text plus the centroid of their liked papers). The TF-IDF index
is fitted once per run on the batch (:mod:`digest_tfidf.index`) and shared with other rankers
built on it (:class:`digest_tfidf.rankers.IndexRanker`, e.g. the ``svm`` plugin's).

Liked papers outside the batch count only when the core provides their texts in
``batch.references`` (see :mod:`digest_tfidf.index`). Component modules are imported by the
hooks, not here: every ``digest`` command (``--help`` too) imports this entry-point module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest import hookimpl

if TYPE_CHECKING:
    from digest import Ranker


@hookimpl
def register_rankers() -> list[type[Ranker]]:
    from digest_tfidf.rankers import TfidfRanker

    return [TfidfRanker]
