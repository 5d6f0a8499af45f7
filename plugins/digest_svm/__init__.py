"""The ``svm`` ranker: a linear SVM per subscriber, liked papers against the rest of the batch.

See :class:`digest_svm.ranker.SvmRanker`. It reads the TF-IDF index of the ``tfidf`` plugin
(one fit per run, shared), so it needs that plugin installed (it ships with papers-digest).
Component modules are imported by the hooks, not here: every ``digest`` command (``--help``
too) imports this entry-point module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest import hookimpl

if TYPE_CHECKING:
    from digest import Ranker


@hookimpl
def register_rankers() -> list[type[Ranker]]:
    from digest_svm.ranker import SvmRanker

    return [SvmRanker]
