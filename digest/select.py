"""Per-subscriber selection: filters (AND) → weighted rankers → top-k with reasons.

Everything here is vectorised over the run's :class:`~digest.batch.Batch`; per-paper work
lives in the components' ``prepare``. Reasons are asked for only for the papers picked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from digest import checks
from digest.batch import Batch, Mask
from digest.checks import ContractError
from digest.components import Filter, Ranker
from digest.identity import author_key, same_author
from digest.models import Profile, Reason

#: called with (component, error) when a filter or ranker raises for a subscriber
OnError = Callable[[str, BaseException], None]


#: sparse paper vectors (TF-IDF: tens of thousands of columns) are projected to this many
#: dimensions once per run; random projections keep cosines close, and per-subscriber MMR
#: becomes a tiny dense product instead of sparse indexing and matmul (~0.5 ms each)
_PROJECTION = 128


def _dense(vectors: Any) -> np.ndarray:
    if not hasattr(vectors, "tocsr"):
        return np.asarray(vectors, dtype=np.float32)
    rng = np.random.default_rng(20261122)
    projection = rng.standard_normal((vectors.shape[1], _PROJECTION)).astype(np.float32)
    dense = np.asarray(vectors @ projection, dtype=np.float32)
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    unit: np.ndarray = np.divide(dense, norms, out=np.zeros_like(dense), where=norms > 0)
    return unit


def _states_interests(profile: Profile) -> bool:
    """Whether the profile says what the subscriber wants (not only what they do not)."""
    return bool(
        profile.interests.strip()
        or profile.keywords
        or profile.categories
        or profile.authors
        or profile.liked
    )


def _by_authors(batch: Batch, names: tuple[str, ...]) -> Mask:
    """Papers with any of these authors, compared as everywhere (:func:`author_key`): muting
    "Levine, Sergey" mutes papers by "Sergey Levine" and "S. Levine" (the author index is
    built once per run)."""
    index: dict[str, list[tuple[int, str]]] | None = batch.cache.get("selection.authors")
    if index is None:
        index = {}
        for position, paper in enumerate(batch):
            for author in paper.authors:
                family, initial = author_key(author.name)
                index.setdefault(family, []).append((position, initial))
        batch.cache["selection.authors"] = index
    mask: Mask = np.zeros(len(batch), dtype=np.bool_)
    for name in names:
        wanted = author_key(name)
        mask[
            [
                p
                for p, initial in index.get(wanted[0], ())
                if same_author(wanted, (wanted[0], initial))
            ]
        ] = True
    return mask


@dataclass(frozen=True, slots=True, kw_only=True)
class Pick:
    position: int
    score: float
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    """A subscriber's picks, or why there are none."""

    picks: tuple[Pick, ...] = ()
    skipped: str | None = None


class Selector:
    """Applies the configured filters and rankers to one subscriber at a time."""

    def __init__(
        self,
        filters: Mapping[str, Filter],
        rankers: Mapping[str, Ranker],
        weights: Mapping[str, float],
        on_error: OnError,
        *,
        diversity: float = 0.0,
        relevant_only: bool = True,
        min_reason_strength: float = 0.0,
    ) -> None:
        self.diversity = diversity
        self.relevant_only = relevant_only
        self.min_reason_strength = min_reason_strength
        self.filters = dict(filters)
        self.rankers = {n: r for n, r in rankers.items() if weights.get(n, 0) > 0}
        total = sum(weights[n] for n in self.rankers) or 1.0
        self.weights = {n: weights[n] / total for n in self.rankers}
        self.on_error = on_error
        #: filters that returned something unusable: not asked again this run
        self.broken_filters: set[str] = set()

    def prepare(self, batch: Batch) -> None:
        """Per-paper work of every filter and ranker; a failing one is dropped for the run."""
        groups: tuple[tuple[str, Mapping[str, Filter | Ranker]], ...] = (
            ("filters", self.filters),
            ("rankers", self.rankers),
        )
        for kind, components in groups:
            for name, component in list(components.items()):
                try:
                    component.prepare(batch)
                except Exception as error:
                    self.on_error(f"{kind}.{name}", error)
                    if kind == "rankers":
                        del self.rankers[name]
                        self.weights.pop(name, None)
                    # A filter that cannot prepare keeps failing per subscriber, which skips
                    # them (safer than sending what an exclusion filter would have dropped).

    def _drop_ranker(self, name: str, error: ContractError) -> None:
        """A ranker that returned something unusable is reported once and not asked again
        this run (its weight is not given to the others: their scale stays as configured)."""
        self.on_error(f"rankers.{name}", error)
        self.rankers.pop(name, None)
        self.weights.pop(name, None)

    def select(self, profile: Profile, max_items: int, batch: Batch, candidates: Mask) -> Choice:
        if not candidates.any():
            return Choice(skipped="no new papers")
        mask = candidates.copy()
        if profile.muted_authors:
            mask &= ~_by_authors(batch, profile.muted_authors)
        for name, component in self.filters.items():
            if name in self.broken_filters:
                return Choice(skipped=f"filter {name!r} failed")
            try:
                keep = checks.mask(component.keep(profile, batch), len(batch))
            except ContractError as error:
                # Not asked again this run: every subscriber it would have filtered is
                # skipped (safer than sending what an exclusion filter would have dropped).
                self.broken_filters.add(name)
                self.on_error(f"filters.{name}", error)
                return Choice(skipped=f"filter {name!r} failed")
            except Exception as error:
                self.on_error(f"filters.{name}", error)
                return Choice(skipped=f"filter {name!r} failed")
            if keep is not None:
                mask &= keep
        if not mask.any():
            return Choice(skipped="no new papers match the subscriber's interests")
        total = batch.zeros()
        relevance: np.ndarray | None = None
        parts: dict[str, np.ndarray] = {}
        for name, ranker in list(self.rankers.items()):
            try:
                scores = checks.scores(ranker.score(profile, batch), len(batch))
            except ContractError as error:
                self._drop_ranker(name, error)
                continue
            except Exception as error:  # may hold for this subscriber only: asked again
                self.on_error(f"rankers.{name}", error)
                continue
            parts[name] = scores
            total += self.weights[name] * scores
            if ranker.personal and self.relevant_only:
                relevance = scores.copy() if relevance is None else relevance + scores
        # Recency or popularity alone never makes a paper relevant: for a subscriber who said
        # what they want, only papers their own rankers score are picked (ten merely new
        # papers are spam). A subscriber who said nothing gets the general order.
        if relevance is not None and _states_interests(profile):
            mask &= relevance > 0
            if not mask.any():
                return Choice(skipped="nothing relevant among the new papers")
        positions = np.flatnonzero(mask)
        k = min(max_items, len(positions))
        pool = min(len(positions), 2 * k) if self.diversity > 0 else k
        values = total[positions]
        if pool < len(positions):
            top = np.argpartition(-values, pool - 1)[:pool]
            positions, values = positions[top], values[top]
        # Best score first; among equals, the newer paper (higher store sequence) first.
        order = np.lexsort((-batch.seqs[positions], -values))
        if pool > k:
            order = self._diverse(batch, positions, values, order, k)
        picks = []
        for index in order:
            position = int(positions[index])
            picks.append(
                Pick(
                    position=position,
                    score=round(float(values[index]), 4),
                    reasons=self._reasons(profile, batch, position, parts),
                )
            )
        return Choice(picks=tuple(picks))

    def _diverse(
        self, batch: Batch, positions: np.ndarray, values: np.ndarray, order: np.ndarray, k: int
    ) -> np.ndarray:
        """Maximal marginal relevance: trade score against similarity to papers already
        picked, so the top of a digest is not ten near-duplicates."""
        vectors = self._vectors(batch)
        if vectors is None:
            return order[:k]
        rows = vectors[positions[order]]
        similarity = rows @ rows.T
        scores = values[order]
        chosen = [0]
        closest = similarity[:, 0].copy()
        for _ in range(1, k):
            gain = (1 - self.diversity) * scores - self.diversity * closest
            gain[chosen] = -np.inf
            best = int(np.argmax(gain))
            chosen.append(best)
            np.maximum(closest, similarity[:, best], out=closest)
        return order[chosen]

    def _vectors(self, batch: Batch) -> Any:
        """Paper vectors for diversity from the first ranker that offers them (per run)."""
        key = "selection.vectors"
        if key not in batch.cache:
            found = None
            for name, ranker in self.rankers.items():
                try:
                    found = checks.vectors(ranker.vectors(batch), len(batch))
                except Exception as error:  # diversity is a nicety: go on without them
                    self.on_error(f"rankers.{name}", error)
                    found = None
                if found is not None:
                    break
            batch.cache[key] = _dense(found) if found is not None else None
        return batch.cache[key]

    def _reasons(
        self, profile: Profile, batch: Batch, position: int, parts: Mapping[str, np.ndarray]
    ) -> tuple[Reason, ...]:
        # The subscriber's own reasons first, the largest contribution first; what holds for
        # every subscriber ("announced today") last.
        weighted: list[tuple[bool, float, Reason]] = []
        for name, scores in parts.items():
            ranker = self.rankers.get(name)
            if ranker is None:  # dropped while explaining an earlier pick
                continue
            contribution = self.weights[name] * float(scores[position])
            if contribution <= 0:
                continue
            try:
                reasons = checks.reasons(ranker.explain(profile, batch, position))
            except ContractError as error:
                self._drop_ranker(name, error)
                continue
            except Exception as error:
                self.on_error(f"rankers.{name}", error)
                continue
            weighted.extend((not ranker.personal, -contribution, r) for r in reasons)
        weighted.sort(key=lambda item: item[:2])
        ordered = [r for *_, r in weighted]
        # Weak evidence is left out, but a pick always keeps its strongest reason. A weight of
        # 0 means the ranker does not grade its reasons (popularity): kept.
        floor = self.min_reason_strength
        return tuple(r for i, r in enumerate(ordered) if i == 0 or not 0 < r.weight < floor)
