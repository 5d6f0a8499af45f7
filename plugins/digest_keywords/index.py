"""The per-run keyword index shared by the ``keywords`` filter and ranker.

Built once per batch (``prepare``) and kept in ``batch.cache[INDEX_KEY]``; every subscriber's
look-ups go through per-run memos, so a phrase, category or author is resolved once per run
and every later subscriber with the same interest pays one dict look-up. Results are sorted
position arrays over the batch, ready for numpy.

Matching rules (what the user sees):

- **keywords**: case- and accent-insensitive whole-word phrases in the title or abstract;
  punctuation and hyphens separate words (``"diffusion-policy"`` = ``"diffusion policy"``).
  The last word also matches its plural (``graph`` → ``graphs``, ``policy`` → ``policies``);
  a trailing ``*`` makes it a prefix (``robot*`` → robot, robots, robotic, robotics).
- **categories**: an arXiv category matches itself, case-insensitively (``cs.RO``); an entry
  without a subject class is an archive and matches all its categories (``cs``, ``math``,
  ``physics``; ``hep-th`` is both). The primary (first) category is told apart from
  cross-lists.
- **authors**: family name plus first initial, accent-insensitive: ``"Sergey Levine"`` matches
  ``"S. Levine"`` and ``"Levine, Sergey"``; a bare ``"Levine"`` matches any Levine.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from digest import Batch, author_key, one_line, same_author
from digest.models import Paper

from .text import words

#: ``batch.cache`` key of the shared index; any ``keywords`` filter or ranker instance reuses it.
INDEX_KEY = "keywords.index"

Positions = npt.NDArray[np.int64]
_NONE: Positions = np.empty(0, dtype=np.int64)
_NONE.setflags(write=False)


def _positions(values: Iterable[int]) -> Positions:
    array = np.fromiter(sorted(set(values)), dtype=np.int64)
    array.setflags(write=False)  # shared by every subscriber: nobody may write into it
    return array


@dataclass(frozen=True, slots=True)
class PhraseHits:
    """Where one keyword phrase occurs: sorted positions and, aligned, whether in the title."""

    positions: Positions
    in_title: npt.NDArray[np.bool_]
    #: position → in title?, for the few look-ups ``explain`` makes
    where: dict[int, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CategoryHits:
    """Papers in a category (or archive): sorted positions and, aligned, whether primary."""

    positions: Positions
    primary: npt.NDArray[np.bool_]
    #: position → primary?, for ``explain``
    where: dict[int, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuthorHits:
    """Papers by a followed author: sorted positions, and the same as a set for ``explain``."""

    positions: Positions
    where: frozenset[int] = frozenset()


_NO_PHRASE = PhraseHits(_NONE, np.empty(0, dtype=np.bool_))
_NO_CATEGORY = CategoryHits(_NONE, np.empty(0, dtype=np.bool_))
_NO_AUTHOR = AuthorHits(_NONE)


class _FieldIndex:
    """Word → positions for one text field, plus the padded word strings to verify phrases."""

    __slots__ = ("postings", "texts")

    def __init__(self, texts: Sequence[str]) -> None:
        postings: defaultdict[str, list[int]] = defaultdict(list)
        self.texts: list[str] = []
        for position, text in enumerate(texts):
            tokens = words(text)
            # " a b c " so a phrase is found by substring/regex with spaces as word bounds.
            self.texts.append(f" {' '.join(tokens)} ")
            for token in set(tokens):
                postings[token].append(position)
        self.postings: dict[str, list[int]] = dict(postings)

    def variants(self, last: str, prefix: bool) -> list[str]:
        """Indexed words the last word of a phrase may be."""
        if prefix:
            return [word for word in self.postings if word.startswith(last)]
        forms = [last, f"{last}s", f"{last}es"]
        if len(last) > 2 and last.endswith("y"):
            forms.append(f"{last[:-1]}ies")
        return [form for form in forms if form in self.postings]

    def find(self, phrase: Sequence[str], prefix: bool) -> set[int]:
        """Positions whose field contains ``phrase`` as consecutive words."""
        *head, last = phrase
        variants = self.variants(last, prefix)
        candidates: set[int] = set()
        for variant in variants:
            candidates.update(self.postings[variant])
        for word in head:
            if not candidates:
                break
            candidates.intersection_update(self.postings.get(word, ()))
        if not head or not candidates:
            return candidates
        # Every word is present; check they are consecutive.
        pattern = re.compile(
            " "
            + " ".join(map(re.escape, head))
            + " (?:"
            + "|".join(map(re.escape, variants))
            + ") "
        )
        return {p for p in candidates if pattern.search(self.texts[p])}


def _archive(category: str) -> str:
    return category.partition(".")[0]


class KeywordIndex:
    """Per-paper data of one batch plus per-run memos of every look-up made so far.

    Memo writes are single dict assignments, so concurrent subscribers in threads at worst
    compute the same entry twice.
    """

    def __init__(self, papers: Sequence[Paper]) -> None:
        self.size = len(papers)
        self.title = _FieldIndex([p.title for p in papers])
        self.abstract = _FieldIndex([p.abstract for p in papers])
        categories: defaultdict[str, set[int]] = defaultdict(set)
        primary: defaultdict[str, set[int]] = defaultdict(set)
        for position, paper in enumerate(papers):
            for rank, category in enumerate(paper.categories):
                folded = category.strip().lower()
                for key in {folded, _archive(folded)}:
                    categories[key].add(position)
                    if rank == 0:
                        primary[key].add(position)
        #: per position: (category as spelled, folded, folded archive), primary first
        self.paper_categories: list[tuple[tuple[str, str, str], ...]] = [
            tuple((c, c.strip().lower(), _archive(c.strip().lower())) for c in p.categories)
            for p in papers
        ]
        self._categories = dict(categories)
        self._primary = dict(primary)
        families: defaultdict[str, list[tuple[int, str]]] = defaultdict(list)
        #: per position: ((family, initial), name as spelled) of each author
        self.authors: list[tuple[tuple[tuple[str, str], str], ...]] = []
        for position, paper in enumerate(papers):
            # one_line: a reason is shown on one line even if a source kept a line break.
            keyed = tuple((author_key(a.name), one_line(a.name)) for a in paper.authors)
            self.authors.append(keyed)
            for (family, initial), _ in keyed:
                if family:
                    families[family].append((position, initial))
        self._families = dict(families)
        self._phrase_memo: dict[str, PhraseHits] = {}
        self._phrase_norm: dict[tuple[tuple[str, ...], bool], PhraseHits] = {}
        self._category_memo: dict[str, CategoryHits] = {}
        self._author_memo: dict[str, AuthorHits] = {}
        self._author_keys: dict[str, tuple[str, str]] = {}

    # -- look-ups, memoised per run ---------------------------------------------------------

    def phrase(self, keyword: str) -> PhraseHits:
        """Where ``keyword`` occurs in titles or abstracts."""
        hits = self._phrase_memo.get(keyword)
        if hits is None:
            hits = self._phrase_memo[keyword] = self._find_phrase(keyword)
        return hits

    def category(self, entry: str) -> CategoryHits:
        """Papers in category ``entry`` (``cs.RO``) or in any category of archive ``cs``."""
        hits = self._category_memo.get(entry)
        if hits is None:
            hits = self._category_memo[entry] = self._find_category(entry)
        return hits

    def author(self, name: str) -> AuthorHits:
        """Papers with an author matching ``name`` by family name and first initial."""
        hits = self._author_memo.get(name)
        if hits is None:
            hits = self._author_memo[name] = self._find_author(name)
        return hits

    def author_key(self, name: str) -> tuple[str, str]:
        key = self._author_keys.get(name)
        if key is None:
            key = self._author_keys[name] = author_key(name)
        return key

    # -- the work behind a memo miss --------------------------------------------------------

    def _find_phrase(self, keyword: str) -> PhraseHits:
        keyword = keyword.strip()
        prefix = keyword.endswith("*")
        phrase = tuple(words(keyword.rstrip("*")))
        if not phrase:
            return _NO_PHRASE
        key = (phrase, prefix)
        # "LLM" and "llm" share one entry.
        hits = self._phrase_norm.get(key)
        if hits is None:
            in_title = self.title.find(phrase, prefix)
            in_abstract = self.abstract.find(phrase, prefix)
            positions = _positions(in_title | in_abstract)
            flags = np.fromiter((p in in_title for p in positions.tolist()), dtype=np.bool_)
            flags.setflags(write=False)
            where = dict(zip(positions.tolist(), flags.tolist(), strict=True))
            hits = self._phrase_norm[key] = PhraseHits(positions, flags, where)
        return hits

    def _find_category(self, entry: str) -> CategoryHits:
        folded = entry.strip().lower()
        members = self._categories.get(folded)
        if not members:
            return _NO_CATEGORY
        positions = _positions(members)
        primary_set = self._primary.get(folded, set())
        flags = np.fromiter((p in primary_set for p in positions.tolist()), dtype=np.bool_)
        flags.setflags(write=False)
        where = dict(zip(positions.tolist(), flags.tolist(), strict=True))
        return CategoryHits(positions, flags, where)

    def _find_author(self, name: str) -> AuthorHits:
        family, initial = self.author_key(name)
        if not family:
            return _NO_AUTHOR
        positions = _positions(
            position
            for position, their_initial in self._families.get(family, ())
            if same_author((family, initial), (family, their_initial))
        )
        return AuthorHits(positions, frozenset(positions.tolist()))

    # -- for explain: one paper, few profile entries -----------------------------------------

    def matching_categories(self, position: int, entries: Sequence[str]) -> list[str]:
        """The paper's categories (as spelled) that any of ``entries`` matches."""
        wanted = [entry.strip().lower() for entry in entries]
        return [
            spelled
            for spelled, folded, archive in self.paper_categories[position]
            if folded in wanted or archive in wanted
        ]

    def matching_authors(self, position: int, names: Iterable[str]) -> list[str]:
        """The paper's authors (as spelled) that any of ``names`` matches."""
        keys = [self.author_key(name) for name in names]
        found: list[str] = []
        for key, spelled in self.authors[position]:
            if any(same_author(key, wanted) for wanted in keys):
                found.append(spelled)
        return found


def keyword_index(batch: Batch) -> KeywordIndex:
    """The batch's shared keyword index, built on first use."""
    index = batch.cache.get(INDEX_KEY)
    if not isinstance(index, KeywordIndex) or index.size != len(batch):
        index = batch.cache[INDEX_KEY] = KeywordIndex(batch.papers)
    return index
