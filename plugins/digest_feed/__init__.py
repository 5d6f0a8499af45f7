"""The built-in ``feed`` renderer: per-subscriber RSS 2.0, Atom and JSON Feed 1.1 feeds.

See :class:`FeedRenderer`. Templates: ``feed/rss.xml`` and ``feed/atom.xml``; the JSON Feed
(``feed.json``) is joined from fragments built once per paper (``digest_feed/views.py``).
"""

from __future__ import annotations

from digest import Renderer, hookimpl
from digest_feed.renderer import NAMESPACE, FeedRenderer

__all__ = ["NAMESPACE", "FeedRenderer", "register_renderers"]


@hookimpl
def register_renderers() -> list[type[Renderer]]:
    return [FeedRenderer]
