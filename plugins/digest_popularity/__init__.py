"""The ``popularity`` ranker: what the community is reading (Hugging Face upvotes, GitHub stars).

See :class:`digest_popularity.ranker.PopularityRanker`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest import hookimpl

if TYPE_CHECKING:
    from digest import Ranker


@hookimpl
def register_rankers() -> list[type[Ranker]]:
    # Imported here: every `digest` command (--help too) loads this module, the ranker NumPy.
    from digest_popularity.ranker import PopularityRanker

    return [PopularityRanker]
