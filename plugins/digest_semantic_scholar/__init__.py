"""The ``semantic_scholar`` source: Semantic Scholar recommendations and followed authors.

Configure it with ``component = "semantic_scholar"`` under ``[sources.<instance>]``; see
:class:`~digest_semantic_scholar.source.SemanticScholarSource` for the options and
``docs/sources/semantic_scholar.md`` for the whole story.
"""

from __future__ import annotations

from digest import Source, hookimpl

from .ids import s2_author_id, s2_paper_id
from .parse import Found, Page, api_error, parse_author_papers, parse_recommendations
from .source import DEFAULT_API, FIELDS, SemanticScholarSource

__all__ = [
    "DEFAULT_API",
    "FIELDS",
    "Found",
    "Page",
    "SemanticScholarSource",
    "api_error",
    "parse_author_papers",
    "parse_recommendations",
    "register_sources",
    "s2_author_id",
    "s2_paper_id",
]


@hookimpl
def register_sources() -> list[type[Source]]:
    return [SemanticScholarSource]
