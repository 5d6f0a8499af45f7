"""The ``keywords`` filter and ranker.

Both read the subscriber's profile — ``keywords``, ``categories``, ``authors``, ``exclude`` —
against the shared :class:`~digest_keywords.index.KeywordIndex`. Per subscriber they only
gather memoised position arrays and make a handful of numpy calls, whatever the number of
keywords, so 10,000 subscribers cost well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from pydantic import Field

from digest import Batch, ComponentConfig, Filter, Mask, Ranker, Scores, one_line
from digest.models import Profile, Reason

from .index import KeywordIndex, Positions, keyword_index

Weights = npt.NDArray[np.float64]


def _has_interests(profile: Profile) -> bool:
    return bool(profile.keywords or profile.categories or profile.authors)


def _drop_excluded(values: npt.NDArray[np.generic], profile: Profile, index: KeywordIndex) -> None:
    for phrase in profile.exclude:
        positions = index.phrase(phrase).positions
        if positions.size:
            values[positions] = 0


class KeywordFilter(Filter):
    """Keeps papers matching at least one of the subscriber's keywords, categories or authors,
    and drops every paper containing an ``exclude`` phrase.

    A profile without keywords, categories and authors keeps everything not excluded. Matching
    rules are described in :mod:`digest_keywords.index`.
    """

    name = "keywords"
    description = "keep papers matching the subscriber's keywords, categories or authors"

    def prepare(self, batch: Batch) -> None:
        keyword_index(batch)

    def keep(self, profile: Profile, batch: Batch) -> Mask | None:
        if not _has_interests(profile):
            if not profile.exclude:
                return None
            mask = batch.ones()
            _drop_excluded(mask, profile, keyword_index(batch))
            return mask
        index = keyword_index(batch)
        parts: list[Positions] = [index.phrase(k).positions for k in profile.keywords]
        parts.extend(index.category(c).positions for c in profile.categories)
        parts.extend(index.author(a).positions for a in profile.authors)
        mask = np.zeros(len(batch), dtype=np.bool_)
        mask[np.concatenate(parts)] = True
        _drop_excluded(mask, profile, index)
        return mask


class KeywordRankerConfig(ComponentConfig):
    """``[rankers.<instance>]`` options of :class:`KeywordRanker`."""

    title_weight: float = Field(
        default=1.0, ge=0, description="Added per keyword found in the title."
    )
    abstract_weight: float = Field(
        default=0.5, ge=0, description="Added per keyword found only in the abstract."
    )
    category_weight: float = Field(
        default=1.0, ge=0, description="Added when the paper's primary category matches."
    )
    cross_list_weight: float = Field(
        default=0.75,
        ge=0,
        description="Added when only a cross-listed (secondary) category matches.",
    )
    author_weight: float = Field(
        default=2.0, ge=0, description="Added per followed author of the paper."
    )


class KeywordRanker(Ranker[KeywordRankerConfig]):
    """Scores papers by how well they match the subscriber's keywords, categories and authors.

    Each match adds its weight to a raw sum — a keyword in the title (1) more than one only in
    the abstract (0.5), the primary category (1) more than a cross-list (0.75), a followed
    author most (2) — and the score is ``raw / (raw + 1)``: 0 without a match, 0.5 for one
    title keyword, rising towards 1 with every further match. Papers containing an
    ``exclude`` phrase score 0.
    """

    name = "keywords"
    description = "score papers by matching keywords (title above abstract), categories, authors"

    #: the profile ``explain`` resolved last, see :meth:`_explainer`
    _last: tuple[Profile, Batch, _Explainer] | None = None

    def _memo(self, batch: Batch) -> dict[tuple[str, str], tuple[Positions, Weights]]:
        """Per-run memo of (kind, entry) → (positions, weights) under this instance's weights.

        Keyed by kind and instance because instance names are only unique within a kind.
        """
        key = f"rankers.{self.instance}.weights"
        memo: dict[tuple[str, str], tuple[Positions, Weights]] | None = batch.cache.get(key)
        if memo is None:
            memo = batch.cache[key] = {}
        return memo

    def prepare(self, batch: Batch) -> None:
        keyword_index(batch)
        self._memo(batch)

    def _weighted(
        self,
        memo: dict[tuple[str, str], tuple[Positions, Weights]],
        kind: str,
        entry: str,
        index: KeywordIndex,
    ) -> tuple[Positions, Weights]:
        found = memo.get((kind, entry))
        if found is None:
            found = memo[(kind, entry)] = self._weigh(kind, entry, index)
        return found

    def _weigh(self, kind: str, entry: str, index: KeywordIndex) -> tuple[Positions, Weights]:
        config = self.config
        if kind == "k":
            hits = index.phrase(entry)
            weights = np.where(hits.in_title, config.title_weight, config.abstract_weight)
            return hits.positions, weights
        if kind == "c":
            cats = index.category(entry)
            weights = np.where(cats.primary, config.category_weight, config.cross_list_weight)
            return cats.positions, weights
        positions = index.author(entry).positions
        return positions, np.full(positions.size, config.author_weight)

    def _raw(self, profile: Profile, batch: Batch) -> Scores:
        index = keyword_index(batch)
        memo = self._memo(batch)
        positions: list[Positions] = []
        weights: list[Weights] = []
        for kind, entries in (
            ("k", profile.keywords),
            ("c", profile.categories),
            ("a", profile.authors),
        ):
            for entry in entries:
                where, weight = self._weighted(memo, kind, entry, index)
                positions.append(where)
                weights.append(weight)
        # One bincount sums every match, however many keywords the profile has.
        raw: Scores = np.bincount(
            np.concatenate(positions), np.concatenate(weights), minlength=len(batch)
        ).astype(np.float64, copy=False)
        _drop_excluded(raw, profile, index)
        return raw

    def score(self, profile: Profile, batch: Batch) -> Scores:
        if not _has_interests(profile):
            return batch.zeros()
        raw = self._raw(profile, batch)
        np.divide(raw, raw + 1.0, out=raw)
        return raw

    def _explainer(self, profile: Profile, batch: Batch) -> _Explainer:
        # The core explains several picks per subscriber in a row: resolve the profile once.
        # One tuple read and identity checks, so threads sharing this instance stay correct.
        last = self._last
        if last is not None and last[0] is profile and last[1] is batch:
            return last[2]
        explainer = _Explainer(profile, keyword_index(batch))
        self._last = (profile, batch, explainer)
        return explainer

    def explain(self, profile: Profile, batch: Batch, position: int) -> Sequence[Reason]:
        explainer = self._explainer(profile, batch)
        for where in explainer.excludes:
            if position in where:
                return ()
        config = self.config
        parts: list[tuple[str, str, float]] = []
        # Weights mirror _weigh() entry by entry, so the reasons add up to the score.
        if explainer.keywords:
            in_title: list[str] = []
            in_abstract: list[str] = []
            for text, where in explainer.keywords:
                found = where.get(position)
                if found is not None:
                    (in_title if found else in_abstract).append(text)
            if in_title or in_abstract:
                keywords = in_title + in_abstract  # title matches first: they weigh more
                noun = "keyword" if len(keywords) == 1 else "keywords"
                weight = (
                    len(in_title) * config.title_weight + len(in_abstract) * config.abstract_weight
                )
                quoted = _join([f"“{k}”" for k in keywords])
                parts.append(("keywords", f"mentions your {noun} {quoted}", weight))
        if explainer.categories:
            entries: list[str] = []
            weight = 0.0
            for entry, category_where in explainer.categories:
                primary = category_where.get(position)
                if primary is not None:
                    weight += config.category_weight if primary else config.cross_list_weight
                    entries.append(entry)
            if entries:
                names = explainer.index.matching_categories(position, entries)
                noun = "category" if len(names) == 1 else "categories"
                parts.append(("category", f"in your {noun} {_join(names)}", weight))
        if explainer.authors:
            names = [name for name, author_where in explainer.authors if position in author_where]
            if names:
                spelled = explainer.index.matching_authors(position, names)
                weight = len(names) * config.author_weight
                parts.append(("author", f"by {_join(spelled)}, whom you follow", weight))
        if not parts:
            return ()
        total = 0.0
        for part in parts:
            total += part[2]
        # Each reason's weight is its share of this ranker's score for the paper, so they sum
        # to the score: share / total * total / (total + 1).
        scale = 1.0 / (total + 1.0) if total else 0.0
        return tuple(
            [Reason(kind=kind, text=text, weight=share * scale) for kind, text, share in parts]
        )


class _Explainer:
    """One profile resolved against the index: the look-ups ``explain`` repeats per pick."""

    __slots__ = ("authors", "categories", "excludes", "index", "keywords")

    def __init__(self, profile: Profile, index: KeywordIndex) -> None:
        self.index = index
        self.excludes = tuple(index.phrase(e).where for e in profile.exclude)
        self.keywords = tuple((one_line(k), index.phrase(k).where) for k in profile.keywords)
        self.categories = tuple((c, index.category(c).where) for c in profile.categories)
        self.authors = tuple((a, index.author(a).where) for a in profile.authors)


def _join(names: Sequence[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"
