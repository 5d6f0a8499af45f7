"""The ``svm`` ranker: a linear SVM per subscriber, liked papers against the rest of the batch.

See :class:`~digest_svm.ranker.SvmRanker`. It reads the TF-IDF index of the ``tfidf`` plugin
(one fit per run, shared), so it needs that plugin installed (it ships with papers-digest).
"""

from __future__ import annotations

from digest import Ranker, hookimpl

from .ranker import SvmRanker

__all__ = ["SvmRanker", "register_rankers"]


@hookimpl
def register_rankers() -> list[type[Ranker]]:
    return [SvmRanker]
