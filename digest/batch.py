"""The run's candidate pool, shared by every subscriber.

Per-paper work (tokenising, features, rendered fragments) is done once per run in the
components' ``prepare(batch)`` and kept in ``batch.cache``; per-subscriber work only indexes
into it. Positions (0 … len-1) are the currency between filters, rankers and the core.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from digest.identity import canonical_ref
from digest.models import Paper

Mask = npt.NDArray[np.bool_]
Scores = npt.NDArray[np.float64]


class Batch:
    """An ordered, immutable pool of papers with a per-run cache for components."""

    __slots__ = ("__weakref__", "_index", "cache", "now", "papers", "references", "seqs")

    def __init__(
        self,
        papers: Sequence[Paper],
        *,
        now: dt.datetime,
        seqs: Sequence[int] | None = None,
        references: Mapping[str, Paper] | None = None,
    ) -> None:
        self.papers: tuple[Paper, ...] = tuple(papers)
        self.now = now
        #: papers subscribers refer to that are not candidates (liked, disliked), by canonical
        #: id (``"arxiv:2406.01234"``): rankers vectorise them once, in ``prepare``
        self.references: Mapping[str, Paper] = dict(references or {})
        #: store sequence numbers (ascending with first-seen time), parallel to ``papers``
        self.seqs = np.asarray(
            seqs if seqs is not None else range(1, len(self.papers) + 1), dtype=np.int64
        )
        self._index = {str(p.id): i for i, p in enumerate(self.papers)}
        #: components keep per-paper, per-run data here, keyed by "<kind>.<instance>"
        self.cache: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.papers)

    def __iter__(self) -> Iterator[Paper]:
        return iter(self.papers)

    def __getitem__(self, position: int) -> Paper:
        return self.papers[position]

    def reference(self, paper_id: str) -> Paper | None:
        """A paper a profile refers to (``Profile.liked``…), among candidates or references."""
        key = canonical_ref(paper_id) or paper_id
        position = self._index.get(key)
        return self.papers[position] if position is not None else self.references.get(key)

    def position(self, paper_id: str) -> int | None:
        """Position of a canonical id (``"arxiv:2406.01234"``) in the batch, if present."""
        return self._index.get(paper_id)

    def ones(self) -> Mask:
        return np.ones(len(self.papers), dtype=np.bool_)

    def zeros(self) -> Scores:
        return np.zeros(len(self.papers), dtype=np.float64)
