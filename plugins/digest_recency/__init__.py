"""The ``recency`` ranker: newer papers score higher, halving every ``half_life_days``.

See :class:`digest_recency.ranker.RecencyRanker`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest import hookimpl

if TYPE_CHECKING:
    from digest import Ranker


@hookimpl
def register_rankers() -> list[type[Ranker]]:
    # Imported here: every `digest` command (--help too) loads this module, the ranker NumPy.
    from digest_recency.ranker import RecencyRanker

    return [RecencyRanker]
