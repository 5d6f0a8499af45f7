"""Real phrases for the reasons of the ``tfidf`` ranker.

The index's terms are words and word pairs with stop words dropped, so a pair may straddle a
sentence ("…evaluation. Large language…" gives ``evaluation large``) and a word may be a
fragment of no interest ("need" from "… All You Need"). A reason shows a term only where it
sits inside one of the paper's *candidate phrases*, in the words the paper uses:

* :func:`paper_phrases` splits a paper's readable title and abstract into tokens (the index's
  tokeniser) and the tokens into phrases, RAKE-style: maximal runs of content words between
  punctuation, stop words (the index's) and :data:`GENERIC` academic verbs and fillers
  ("propose", "novel", "approach", "using"…). Done once per paper and run
  (:func:`phrasebook`, in ``batch.cache``).
* :func:`own_words` reads the subscriber's interests and keywords the same way, but keeps
  prepositions inside (their "mixture of experts", "tool use" are shown as they wrote them).
* :func:`choose` picks at most three phrases for one paper from the per-term contributions to
  its similarity: the phrase covering most of the similarity first, the subscriber's own
  words and runs whose every word pair is in the profile (what the liked papers say)
  preferred, never a phrase inside or overlapping another, never a lone generic word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

from digest import Batch, readable

from .index import TOKENS, singular, stop_words

__all__ = [
    "GENERIC",
    "Own",
    "PaperText",
    "Phrasebook",
    "Shown",
    "choose",
    "own_words",
    "paper_phrases",
    "phrasebook",
]

#: generic academic verbs, fillers and hedges: they end a phrase (on top of the stop words)
#: and are never shown alone; plural forms are folded the way the index folds them
GENERIC = frozenset(
    singular(word)
    for word in (
        "able", "achieve", "achieved", "achieves", "achieving", "address", "addressed",
        "addresses", "addressing", "aim", "aims", "al", "allow", "allowed", "allowing",
        "allows", "also", "applied", "apply", "applying", "approach", "approaches", "article",
        "based", "baseline", "benchmarked", "better", "can", "challenge", "challenging",
        "comprehensive", "consider", "considered", "considering", "crucial", "current",
        "demonstrate", "demonstrated", "demonstrates", "demonstrating", "develop", "developed",
        "developing", "different", "does", "effective", "effectively", "efficiently", "eg",
        "enable", "enabled", "enables", "enabling", "enhance", "enhanced", "enhancing",
        "especially", "et", "evaluate", "evaluated", "evaluates", "evaluating", "examine",
        "examined", "existing", "experiment", "experimental", "experiments", "explore",
        "explored", "exploring", "extensive", "extensively", "facilitate", "finally", "focus",
        "focused", "focuses", "framework", "furthermore", "given", "help", "helps", "highlight",
        "highlights", "however", "ie", "important", "improve", "improved", "improvement",
        "improvements", "improves", "improving", "include", "includes", "including",
        "incorporate", "incorporated", "incorporating", "introduce", "introduced", "introduces",
        "introducing", "investigate", "investigated", "investigates", "investigating", "key",
        "lead", "leads", "learn", "learned", "learns", "leverage", "leveraged", "leverages",
        "leveraging", "make", "makes", "making", "may", "method", "methodology", "methods",
        "might", "moreover", "must", "need", "needed", "needs", "new", "notably", "novel",
        "obtain", "obtained", "offer", "offers", "one", "outperform", "outperformed",
        "outperforming", "outperforms", "paper", "particular", "particularly", "perform",
        "performance", "performed", "performing", "performs", "present", "presented",
        "presents", "previous", "primarily", "promising", "propose", "proposed", "proposes",
        "proposing", "provide", "provided", "provides", "providing", "recent", "recently",
        "reduce", "reduced", "reduces", "reducing", "remain", "remains", "remarkable",
        "require", "required", "requires", "result", "results", "rethinking", "reveal",
        "reveals", "revisiting", "several", "show", "showed", "showing", "shown", "shows",
        "significant", "significantly", "simple", "simply", "specific", "state-of-the-art",
        "strategy", "strong", "studied", "studies", "study", "studying", "substantially",
        "suggest", "suggests", "superior", "task-agnostic", "technique", "techniques",
        "thereby", "three", "toward", "towards", "train", "trained", "trains", "two",
        "typically", "understand", "understanding", "use", "used", "uses", "using", "usually",
        "utilize", "utilizing", "various", "via", "way", "ways", "well", "whereas", "widely",
        "work", "works", "yield", "yields"
    )
)  # fmt: skip
#: content words too vague to be a reason on their own (fine inside a phrase: "long horizons")
_NOT_ALONE = frozenset(
    {
        "accuracy", "algorithm", "analysis", "application", "data", "deep", "domain", "early",
        "easy", "efficiency", "evaluation", "fast", "feature", "function", "good", "hard",
        "high", "human", "information", "large", "late", "learning", "long", "low", "model",
        "network", "open", "problem", "process", "quality", "real", "setting", "short", "slow",
        "small", "structure", "system", "task", "training", "wide", "world"
    }
)  # fmt: skip
#: in the subscriber's own words these stay inside a phrase ("mixture of experts")
_INSIDE = frozenset(
    {
        "across", "against", "at", "between", "by", "for", "from", "in", "into", "of", "on",
        "over", "the", "through", "to", "under", "via", "with", "without"
    }
)  # fmt: skip
#: words of an interests text that only frame it ("I work on …")
_FRAMING = frozenset(
    {
        "area", "areas", "especially", "etc", "field", "fields", "including", "interest",
        "interested", "interests", "like", "love", "mainly", "mostly", "paper", "papers",
        "particularly", "research", "researching", "stuff", "thing", "things", "topic",
        "topics", "work", "working"
    }
)  # fmt: skip
_STOP, _SOFT, _WORD = 2, 1, 0
#: characters that end a sentence: the next word's capital is not its own
_SENTENCE_END = frozenset(".!?:;")
#: longest phrase shown, in content words
MAX_WORDS = 4


#: the index's tokens as a capturing group: splitting a text gives gap, word, gap, word, …
_SPLIT = re.compile(f"({TOKENS.pattern.removeprefix('(?u)')})")


@lru_cache(maxsize=262_144)
def _word(word: str) -> tuple[str, str, str, int]:
    """A token (one object for every paper's copy of it), its lower-case and folded forms and
    its kind (stop word, generic, content)."""
    lower = word.lower()
    folded = singular(lower)
    if lower in stop_words():
        return word, lower, folded, _STOP
    if folded in GENERIC or lower in GENERIC:
        return word, lower, folded, _SOFT
    return word, lower, folded, _WORD


def _lowered(word: str) -> str:
    """``word`` with capitalised parts lower-cased ("Sim-to-Real" → "sim-to-real"), acronyms
    and mixed case ("LoRA", "GPT-based") kept."""
    parts = word.split("-")
    return "-".join(p.lower() if p[:1].isupper() and p[1:].islower() else p for p in parts)


def _acronym(word: str) -> bool:
    return sum(c.isupper() for c in word) >= 2


def _generic_alone(lower: str, folded: str) -> bool:
    """A word never shown as a phrase of its own."""
    return (
        len(folded) < 4
        or lower in stop_words()
        or folded in GENERIC
        or lower in GENERIC
        or folded in _NOT_ALONE
    )


@dataclass(slots=True)
class _Scan:
    """Tokens of one or more texts: display form, folded form, kind, and where a new
    segment (no phrase crosses it) starts."""

    words: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    folded: list[str] = field(default_factory=list)
    kinds: list[int] = field(default_factory=list)
    starts: list[bool] = field(default_factory=list)

    def add(self, text: str, *, title: bool) -> None:
        parts = _SPLIT.split(text)
        if len(parts) < 2:
            return
        found = parts[1::2]
        gaps = parts[0::2]
        # Title Case ("Diffusion Policies for Robot Grasping") or capitals throughout: the
        # title's capitals say nothing about the words
        shouting = text.isupper()
        title_case = False
        if title:
            letters = [w for w in found if _word(w)[3] != _STOP]
            capitals = sum(w[:1].isupper() for w in letters)
            title_case = capitals >= max(2, 0.6 * len(letters))
        infos = [_word(w) for w in found]
        found = [word for word, _, _, _ in infos]
        # a new segment after anything but white space between two words; a new sentence
        # after a full stop (its first word's capital is not its own)
        news = [True] + [not gap.isspace() for gap in gaps[1 : len(found)]]
        initials = [True] + [
            new and any(c in _SENTENCE_END for c in gap)
            for new, gap in zip(news[1:], gaps[1 : len(found)], strict=True)
        ]
        if shouting:
            self.words.extend(lower for _, lower, _, _ in infos)
        elif title_case:
            self.words.extend(_lowered(w) for w in found)
        else:
            self.words.extend(
                _lowered(w) if initial else w for w, initial in zip(found, initials, strict=True)
            )
        self.raw.extend(found)
        self.folded.extend(fold for _, _, fold, _ in infos)
        self.kinds.extend(kind for _, _, _, kind in infos)
        self.starts.extend(news)


@dataclass(frozen=True, slots=True)
class PaperText:
    """A paper's title and abstract as tokens and candidate phrases (see the module docs)."""

    #: the words as shown (a sentence's or a Title Case title's capitals lower-cased)
    words: tuple[str, ...]
    #: lower-cased, plurals folded: the index's form
    folded: tuple[str, ...]
    #: tokens before this one are the title's
    title_end: int
    #: candidate phrases as ``(start, end)`` token spans
    phrases: tuple[tuple[int, int], ...]
    #: per token: its phrase (index into :attr:`phrases`) or -1
    phrase_of: tuple[int, ...]
    #: per token: whether a segment (punctuation between it and the word before) starts there
    breaks: tuple[bool, ...]

    def shown(self, start: int, end: int) -> str:
        return " ".join(self.words[start:end])

    def inside(self, term: str) -> list[int]:
        """Where an index term (a word, or two words "a b") starts inside a phrase."""
        first, _, second = term.partition(" ")
        folded, phrase_of = self.folded, self.phrase_of
        found: list[int] = []
        at = -1
        while True:
            try:
                at = folded.index(first, at + 1)
            except ValueError:
                return found
            number = phrase_of[at]
            if number < 0:
                continue
            if not second or (
                at + 1 < len(folded) and folded[at + 1] == second and phrase_of[at + 1] == number
            ):
                found.append(at)

    def find(self, key: str) -> tuple[int, int] | None:
        """The token span of a folded phrase (in the abstract rather than the title)."""
        wanted = tuple(key.split())
        folded, size = self.folded, len(wanted)
        found: tuple[int, int] | None = None
        at = -1
        while True:
            try:
                at = folded.index(wanted[0], at + 1)
            except ValueError:
                return found
            end = at + size
            if folded[at:end] == wanted and not any(self.breaks[at + 1 : end]):
                found = (at, end)
                if at >= self.title_end:
                    return found


def _scan(title: str, abstract: str) -> tuple[_Scan, int]:
    scan = _Scan()
    scan.add(readable(title), title=True)
    title_end = len(scan.words)
    scan.add(readable(abstract), title=False)
    return scan, title_end


def _occurrences(items: list[str], item: str) -> list[int]:
    found: list[int] = []
    at = -1
    while True:
        try:
            at = items.index(item, at + 1)
        except ValueError:
            return found
        found.append(at)


def paper_phrases(title: str, abstract: str) -> PaperText:
    """Tokens and candidate phrases of a paper (LaTeX made readable first)."""
    scan, title_end = _scan(title, abstract)
    words, folded, kinds, starts = scan.words, scan.folded, scan.kinds, scan.starts
    # A Title Case title's word that the abstract writes capitalised only is a name
    # ("Amharic"): its capital stays.
    lowered = [k for k in range(title_end) if words[k] != scan.raw[k]]
    if lowered:
        after_title = folded[title_end:]
        for k in lowered:
            seen = _occurrences(after_title, folded[k])
            if seen and all(words[title_end + i][:1].isupper() for i in seen):
                words[k] = scan.raw[k]
    phrases: list[tuple[int, int]] = []
    phrase_of = [-1] * len(folded)

    def close(start: int, end: int) -> None:
        phrase_of[start:end] = [len(phrases)] * (end - start)
        phrases.append((start, end))

    begun: int | None = None
    for position, kind in enumerate(kinds):
        if begun is not None and (kind != _WORD or starts[position]):
            close(begun, position)
            begun = None
        if kind == _WORD and begun is None:
            begun = position
    if begun is not None:
        close(begun, len(folded))
    return PaperText(
        words=tuple(words),
        folded=tuple(folded),
        title_end=title_end,
        phrases=tuple(phrases),
        phrase_of=tuple(phrase_of),
        breaks=tuple(starts),
    )


def _terms(folded: Sequence[str], stops: Sequence[bool]) -> tuple[str, ...]:
    """The index terms inside a run of words: its words and pairs with stop words dropped."""
    words = [w for w, stop in zip(folded, stops, strict=True) if not stop]
    return (*words, *(f"{a} {b}" for a, b in pairwise(words)))


@dataclass(frozen=True, slots=True)
class OwnSpan:
    """A run of the subscriber's own words."""

    key: str
    #: its content words (all must be in a paper for it to be there)
    content: frozenset[str]
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Own:
    """The subscriber's interests and keywords as phrases (every run of their words)."""

    spans: tuple[OwnSpan, ...]
    keys: frozenset[str]
    #: the folded content words of their text
    words: frozenset[str]
    #: index term → the spans that contain it
    by_term: Mapping[str, tuple[int, ...]]


def own_words(interests: str, keywords: Iterable[str]) -> Own:
    """The runs of a subscriber's words that may be shown as phrases: split at punctuation,
    coordinators and framing words ("I work on"), prepositions kept inside."""
    runs: list[list[tuple[str, bool, bool]]] = []
    words: set[str] = set()
    for text in (interests, *keywords):
        scan = _Scan()
        scan.add(readable(text), title=False)
        run: list[tuple[str, bool, bool]] = []
        for word, folded, kind, new in zip(
            scan.raw, scan.folded, scan.kinds, scan.starts, strict=True
        ):
            lower = word.lower()
            breaks = (
                (kind == _STOP and lower not in _INSIDE)
                or lower in _FRAMING
                or (kind == _SOFT and folded != "use")  # "tool use" is a phrase of theirs
            )
            if (new or breaks) and run:
                runs.append(run)
                run = []
            if breaks:
                continue
            run.append((folded, kind == _STOP, _acronym(word)))
            if kind != _STOP:
                words.add(folded)
        if run:
            runs.append(run)
    spans: dict[str, OwnSpan] = {}
    for run in runs:
        for i, (first, first_stop, acronym) in enumerate(run):
            if first_stop:
                continue
            content = 0
            for j in range(i, min(len(run), i + 2 * MAX_WORDS)):
                _, last_stop, _ = run[j]
                content += not last_stop
                if content > MAX_WORDS:
                    break
                if last_stop:
                    continue
                if j == i and not acronym and _generic_alone(first, first):
                    continue
                part = run[i : j + 1]
                key = " ".join(w for w, _, _ in part)
                if key not in spans:
                    spans[key] = OwnSpan(
                        key,
                        frozenset(w for w, s, _ in part if not s),
                        _terms([w for w, _, _ in part], [s for _, s, _ in part]),
                    )
    ordered = tuple(spans.values())
    by_term: dict[str, list[int]] = {}
    for number, span in enumerate(ordered):
        for term in span.terms:
            by_term.setdefault(term, []).append(number)
    return Own(
        ordered,
        frozenset(spans),
        frozenset(words),
        {term: tuple(found) for term, found in by_term.items()},
    )


@dataclass(frozen=True, slots=True)
class Shown:
    """A phrase chosen for a reason."""

    #: as the paper writes it
    text: str
    #: folded words
    key: str
    #: the contributions of the index terms it covers (first chosen: all; later: new ones)
    value: float
    #: the subscriber's own words (or all its words are in their interests)
    own: bool


@dataclass(slots=True)
class _Candidate:
    key: str
    start: int
    end: int
    #: its index terms that add to the similarity, with what they add, and their sum
    gained: tuple[tuple[str, float], ...]
    value: float
    #: times its value, for the order: the subscriber's own words (1.25) and runs whose every
    #: word pair is in the profile, what their liked papers say (1.1), count a little more
    bonus: float


def _candidate(
    key: str, start: int, end: int, terms: Iterable[str], gains: Mapping[str, float], bonus: float
) -> _Candidate:
    gained = tuple((t, gains[t]) for t in terms if t in gains)
    return _Candidate(key, start, end, gained, sum(g for _, g in gained), bonus)


def _contains(outer: str, inner: str) -> bool:
    return f" {inner} " in f" {outer} "


def _overlap(a: str, b: str) -> bool:
    """Whether one phrase ends with words the other starts with."""
    first, second = a.split(), b.split()
    for x, y in ((first, second), (second, first)):
        for size in range(1, min(len(x), len(y))):
            if x[-size:] == y[:size]:
                return True
    return False


def _readability(paper: PaperText, start: int, end: int) -> tuple[int, bool]:
    """Which occurrence of the same words to show: in lower case, in the abstract."""
    return -sum(w[:1].isupper() for w in paper.words[start:end]), start >= paper.title_end


def _spans(
    paper: PaperText, gains: Mapping[str, float], own_keys: frozenset[str], terms: int
) -> dict[str, _Candidate]:
    """Runs of up to :data:`MAX_WORDS` words of the phrases that hold the paper's ``terms``
    strongest terms (two occurrences in the abstract, one in the title), by folded words."""
    folded, phrase_of, title_end = paper.folded, paper.phrase_of, paper.title_end
    touched: list[int] = []
    top = 0.0
    for gain, term in sorted(((g, t) for t, g in gains.items()), reverse=True):
        if terms == 0 or gain < 0.1 * top:
            break
        positions = paper.inside(term)
        if not positions:  # across a phrase's end, or a generic word ("need")
            continue
        top = top or gain
        terms -= 1
        ordered = [p for p in positions if p >= title_end][:2]
        ordered += [p for p in positions if p < title_end][:1]
        for position in ordered:
            number = phrase_of[position]
            if number not in touched:
                touched.append(number)
    found: dict[str, _Candidate] = {}
    get = gains.get
    for number in touched:
        a, b = paper.phrases[number]
        words = folded[a:b]
        pairs = [f"{x} {y}" for x, y in pairwise(words)]
        ones = [get(w, 0.0) for w in words]
        twos = [get(pair, 0.0) for pair in pairs]
        for i in range(b - a):
            total = 0.0
            for j in range(i + 1, min(b - a, i + MAX_WORDS) + 1):
                total += ones[j - 1] + (twos[j - 2] if j - i > 1 else 0.0)
                # no pair of words that says something together is cut ("pruning vision |
                # transformers")
                bound = 0.1 * total
                if total <= 0 or (i and twos[i - 1] >= bound):
                    continue
                if j < b - a and twos[j - 1] >= bound:
                    continue
                start, end = a + i, a + j
                key = " ".join(folded[start:end])
                known = found.get(key)
                if known is not None:
                    if _readability(paper, start, end) > _readability(
                        paper, known.start, known.end
                    ):
                        known.start, known.end = start, end
                    continue
                mine = key in own_keys
                if not mine:
                    if j - i == 1:
                        if _generic_alone(key, key):
                            continue
                    else:
                        # every word at its ends adds to what it says
                        left = ones[i] + twos[i]
                        right = ones[j - 1] + twos[j - 2]
                        if min(left, right) < 0.1 * total:
                            continue
                span_terms = (*words[i:j], *pairs[i : j - 1])
                profiled = j - i > 1 and all(t > 0 for t in twos[i : j - 1])
                bonus = 1.25 if mine else 1.1 if profiled else 1.0
                found[key] = _candidate(key, start, end, span_terms, gains, bonus)
    return found


def choose(
    paper: PaperText,
    gains: Mapping[str, float],
    own: Own | None,
    *,
    limit: int = 3,
    terms: int = 6,
    share: float = 0.25,
) -> list[Shown]:
    """At most ``limit`` phrases of ``paper`` that say where its similarity comes from.

    ``gains`` are the positive contributions of index terms (``"robot"``, ``"robot grasping"``)
    to the paper's similarity to the profile, ``own`` the subscriber's words. Candidates are
    the paper's phrases around its ``terms`` strongest terms and the subscriber's own phrases
    found in it. The one covering most of the similarity is chosen first (the subscriber's
    own words, and phrases whose every word pair is in the profile, count a little more);
    then the next by what it adds, if at least ``share`` of the first one's value and mostly
    new; never a phrase inside, or overlapping, one chosen.
    """
    own_keys = own.keys if own is not None else frozenset()
    candidates = _spans(paper, gains, own_keys, terms)
    if own is not None:
        viable: set[int] = set()
        for term, numbers in own.by_term.items():
            if term in gains:
                viable.update(numbers)
        for number in sorted(viable):
            span = own.spans[number]
            if span.key in candidates or not all(w in paper.folded for w in span.content):
                continue
            where = paper.find(span.key)
            if where is None:
                continue
            start, end = where
            short = end - start == 1 and _generic_alone(span.key, span.key)
            if short and not _acronym(paper.words[start]):
                continue  # a short word of theirs ("RAG") only where the paper has the acronym
            candidates[span.key] = _candidate(span.key, start, end, span.terms, gains, 1.25)
    chosen: list[Shown] = []
    covered: set[str] = set()
    pool = [c for c in candidates.values() if c.value > 0]
    while pool and len(chosen) < limit:
        best: tuple[float, int, float, _Candidate] | None = None
        for candidate in pool:
            value = candidate.value
            if covered:
                value -= sum(g for t, g in candidate.gained if t in covered)
                if value < 0.5 * candidate.value:
                    continue  # mostly what a chosen phrase says ("pruning vision transformers")
            rank = (value * candidate.bonus, candidate.end - candidate.start, value, candidate)
            if best is None or rank[:2] > best[:2]:
                best = rank
        if best is None or (chosen and best[2] < share * chosen[0].value):
            break
        _, _, value, pick = best
        mine = pick.bonus > 1.2 or (own is not None and set(pick.key.split()) <= own.words)
        chosen.append(Shown(paper.shown(pick.start, pick.end), pick.key, value, mine))
        covered.update(t for t, _ in pick.gained)
        pool = [
            c
            for c in pool
            if not (
                _contains(c.key, pick.key)
                or _contains(pick.key, c.key)
                or _overlap(c.key, pick.key)
            )
        ]
    return chosen


@dataclass(slots=True)
class Phrasebook:
    """The run's :class:`PaperText` of the batch's papers, each made on first use (or all in
    ``prepare``) and kept in ``batch.cache``."""

    batch: Batch
    _papers: dict[int, PaperText] = field(default_factory=dict)

    def paper(self, position: int) -> PaperText:
        found = self._papers.get(position)
        if found is None:
            paper = self.batch[position]
            found = self._papers[position] = paper_phrases(paper.title, paper.abstract)
        return found

    def fill(self) -> None:
        """Every batch paper's phrases, once (``prepare`` calls this before workers fork)."""
        for position in range(len(self.batch)):
            self.paper(position)


def phrasebook(batch: Batch) -> Phrasebook:
    """The batch's :class:`Phrasebook`, made on first use and kept for the run."""
    key = "digest_tfidf.phrases"
    book = batch.cache.get(key)
    if not isinstance(book, Phrasebook):
        book = batch.cache[key] = Phrasebook(batch)
    return book
