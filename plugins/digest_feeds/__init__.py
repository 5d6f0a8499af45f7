"""The ``feed`` source: papers from any RSS 2.0, RSS 1.0 (RDF) or Atom feed.

Configure it with ``component = "feed"`` and ``url = "…"`` under ``[sources.<instance>]``; see
:class:`~digest_feeds.source.FeedSource` for the options and :mod:`digest_feeds.parse` for how
items are read and when a document is refused.
"""

from __future__ import annotations

from digest import Source, hookimpl

from .parse import ParsedFeed, entry_to_paper, parse_feed, read_feed
from .source import FeedSource
from .text import html_to_text, split_authors

__all__ = [
    "FeedSource",
    "ParsedFeed",
    "entry_to_paper",
    "html_to_text",
    "parse_feed",
    "read_feed",
    "split_authors",
]


@hookimpl
def register_sources() -> list[type[Source]]:
    return [FeedSource]
