"""The ``biorxiv`` source: new bioRxiv and medRxiv preprints from api.biorxiv.org.

Configure it with ``component = "biorxiv"`` under ``[sources.<instance>]``; see
:class:`~digest_biorxiv.source.BiorxivSource` for the options.
"""

from __future__ import annotations

from digest import Source, hookimpl

from .parse import DetailsPage, parse_details
from .source import DEFAULT_URL, BiorxivSource

__all__ = ["DEFAULT_URL", "BiorxivSource", "DetailsPage", "parse_details", "register_sources"]


@hookimpl
def register_sources() -> list[type[Source]]:
    return [BiorxivSource]
