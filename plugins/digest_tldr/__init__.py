"""The ``tldr`` enricher: a one-sentence summary of each paper, picked from its abstract.

See :class:`digest_tldr.enricher.TldrEnricher`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest import hookimpl

if TYPE_CHECKING:
    from digest import Enricher


@hookimpl
def register_enrichers() -> list[type[Enricher]]:
    from digest_tldr.enricher import TldrEnricher

    return [TldrEnricher]
