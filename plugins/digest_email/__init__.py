"""The built-in ``email`` renderer: an MJML HTML part, a plain-text part and a subject line.

See :class:`digest_email.renderer.EmailRenderer`. Templates: ``email/digest.mjml`` and
``email/digest.txt``. Component modules are imported by the hooks, not here: every ``digest``
command (``--help`` too) imports this entry-point module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest import hookimpl

if TYPE_CHECKING:
    from digest import Renderer


@hookimpl
def register_renderers() -> list[type[Renderer]]:
    from digest_email.renderer import EmailRenderer

    return [EmailRenderer]
