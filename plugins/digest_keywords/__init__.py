"""The ``keywords`` filter and ranker: match subscribers' keywords, categories and authors.

Profile fields used: ``keywords`` (whole-word phrases in title or abstract), ``categories``
(``cs.RO``, or a whole archive such as ``cs``), ``authors`` (family name + first initial) and
``exclude`` (phrases that drop a paper). The exact matching rules are in
:mod:`digest_keywords.index`.
"""

from __future__ import annotations

from digest import Filter, Ranker, hookimpl

from .components import KeywordFilter, KeywordRanker
from .index import INDEX_KEY, KeywordIndex, keyword_index

__all__ = ["INDEX_KEY", "KeywordFilter", "KeywordIndex", "KeywordRanker", "keyword_index"]


@hookimpl
def register_filters() -> list[type[Filter]]:
    return [KeywordFilter]


@hookimpl
def register_rankers() -> list[type[Ranker]]:
    return [KeywordRanker]
