"""The built-in ``smtp`` deliverer: digest emails over SMTP.

See :class:`digest_smtp.deliverer.SmtpDeliverer` and ``config.example.toml``. Component modules
are imported by the hooks, not here: every ``digest`` command (``--help`` too) imports this
entry-point module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest import hookimpl

if TYPE_CHECKING:
    from digest import Deliverer


@hookimpl
def register_deliverers() -> list[type[Deliverer]]:
    from digest_smtp.deliverer import SmtpDeliverer

    return [SmtpDeliverer]
