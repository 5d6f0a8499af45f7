"""The ``files`` deliverer: digests as files, written atomically.

See :class:`digest_files.deliverer.FilesDeliverer`. Component modules are imported by the
hooks, not here: every ``digest`` command (``--help`` too) imports this entry-point module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest import hookimpl

if TYPE_CHECKING:
    from digest import Deliverer


@hookimpl
def register_deliverers() -> list[type[Deliverer]]:
    from digest_files.deliverer import FilesDeliverer

    return [FilesDeliverer]
