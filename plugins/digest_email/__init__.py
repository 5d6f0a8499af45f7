"""The built-in ``email`` renderer: an MJML HTML part, a plain-text part and a subject line.

See :class:`EmailRenderer`. Templates: ``email/digest.mjml`` and ``email/digest.txt``.
"""

from __future__ import annotations

from digest import Renderer, hookimpl
from digest_email.renderer import EmailRenderer

__all__ = ["EmailRenderer", "register_renderers"]


@hookimpl
def register_renderers() -> list[type[Renderer]]:
    return [EmailRenderer]
