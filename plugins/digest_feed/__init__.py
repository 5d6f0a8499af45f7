"""The built-in ``feed`` renderer: per-subscriber RSS 2.0, Atom and JSON Feed 1.1 feeds.

See :class:`digest_feed.renderer.FeedRenderer`. Templates: ``feed/rss.xml`` and
``feed/atom.xml``; the JSON Feed (``feed.json``) is joined from fragments built once per paper
(``digest_feed/views.py``). Component modules are imported by the hooks, not here: every
``digest`` command (``--help`` too) imports this entry-point module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest import hookimpl

if TYPE_CHECKING:
    from digest import Renderer


@hookimpl
def register_renderers() -> list[type[Renderer]]:
    from digest_feed.renderer import FeedRenderer

    return [FeedRenderer]
