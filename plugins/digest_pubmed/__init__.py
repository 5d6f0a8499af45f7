"""The ``pubmed`` source: new PubMed records matching a search, through NCBI's E-utilities.

Configure it with ``component = "pubmed"`` under ``[sources.<instance>]``; see
:class:`~digest_pubmed.source.PubMedSource` for the options.
"""

from __future__ import annotations

from digest import Source, hookimpl

from .parse import ArticleSet, parse_articles, plain_text
from .search import SearchPage, parse_search
from .source import DEFAULT_URL, PubMedSource

__all__ = [
    "DEFAULT_URL",
    "ArticleSet",
    "PubMedSource",
    "SearchPage",
    "parse_articles",
    "parse_search",
    "plain_text",
    "register_sources",
]


@hookimpl
def register_sources() -> list[type[Source]]:
    return [PubMedSource]
