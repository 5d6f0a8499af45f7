"""The ``crossref`` source: new works of chosen journals (by ISSN) from api.crossref.org.

Configure it with ``component = "crossref"`` under ``[sources.<instance>]``; see
:class:`~digest_crossref.source.CrossrefSource` for the options.
"""

from __future__ import annotations

from digest import Source, hookimpl

from .jats import jats_text
from .parse import WorksPage, api_error_message, parse_works
from .source import DEFAULT_URL, CrossrefSource

__all__ = [
    "DEFAULT_URL",
    "CrossrefSource",
    "WorksPage",
    "api_error_message",
    "jats_text",
    "parse_works",
    "register_sources",
]


@hookimpl
def register_sources() -> list[type[Source]]:
    return [CrossrefSource]
