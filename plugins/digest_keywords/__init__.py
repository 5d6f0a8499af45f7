"""The ``keywords`` filter and ranker: match subscribers' keywords, categories and authors.

Profile fields used: ``keywords`` (whole-word phrases in title or abstract), ``categories``
(``cs.RO``, or a whole archive such as ``cs``), ``authors`` (family name + first initial, as
:func:`digest.author_key` compares them) and ``exclude`` (phrases that drop a paper). The exact
matching rules are in :mod:`digest_keywords.index`; the components in
:mod:`digest_keywords.components`. Component modules are imported by the hooks, not here: every
``digest`` command (``--help`` too) imports this entry-point module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest import hookimpl

if TYPE_CHECKING:
    from digest import Filter, Ranker


@hookimpl
def register_filters() -> list[type[Filter]]:
    from digest_keywords.components import KeywordFilter

    return [KeywordFilter]


@hookimpl
def register_rankers() -> list[type[Ranker]]:
    from digest_keywords.components import KeywordRanker

    return [KeywordRanker]
