"""The ``rss`` source: papers from any RSS 2.0, RSS 1.0 (RDF) or Atom feed.

Configure it with ``component = "rss"`` and ``url = "…"`` under ``[sources.<instance>]``; see
:class:`~digest_rss.source.RssSource` for the options and :mod:`digest_rss.parse` for how
items are read and when a document is refused.
"""

from __future__ import annotations

from digest import Source, hookimpl

from .parse import ParsedFeed, entry_to_paper, parse_feed, read_feed
from .source import RssSource
from .text import html_to_text, split_authors

__all__ = [
    "ParsedFeed",
    "RssSource",
    "entry_to_paper",
    "html_to_text",
    "parse_feed",
    "read_feed",
    "split_authors",
]


@hookimpl
def register_sources() -> list[type[Source]]:
    return [RssSource]
