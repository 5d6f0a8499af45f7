"""The ``openreview`` source: a venue's accepted papers or submissions on OpenReview.

Configure it with ``component = "openreview"`` under ``[sources.<instance>]``; see
:class:`~digest_openreview.source.OpenReviewSource` for the options.
"""

from __future__ import annotations

from digest import Source, hookimpl

from .parse import NotesPage, Sighting, parse_notes
from .source import DEFAULT_URL, OpenReviewSource
from .text import plain

__all__ = [
    "DEFAULT_URL",
    "NotesPage",
    "OpenReviewSource",
    "Sighting",
    "parse_notes",
    "plain",
    "register_sources",
]


@hookimpl
def register_sources() -> list[type[Source]]:
    return [OpenReviewSource]
