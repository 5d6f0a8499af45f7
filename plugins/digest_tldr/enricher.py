"""An extractive one-sentence TL;DR: the abstract's most informative sentence.

No model: the abstract is split into sentences (abbreviations such as "e.g." and "et al."
and decimals do not end one), and each sentence scores by the paper's own key terms it holds
(words of the title count double, words the abstract repeats count by how often), with a bonus
for the sentences that state a contribution ("we propose", "we show", "outperforms") and a
penalty for background openers and for fragments or run-ons. Title-like shortness never wins:
a sentence needs six words. The result is at most ``max_chars`` characters, on one line, with
LaTeX shown as text (renderers escape it).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

from pydantic import Field

from digest import ComponentConfig, Enricher, readable, truncate
from digest.models import Paper, SignalValue

#: words that end with a full stop without ending a sentence
ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "et",
        "al",
        "etc",
        "fig",
        "figs",
        "eq",
        "eqs",
        "sec",
        "vs",
        "cf",
        "approx",
        "resp",
        "ref",
        "refs",
        "no",
        "dr",
        "prof",
        "mr",
        "ms",
        "st",
        "tab",
    ]
)
_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_CUES = re.compile(
    r"\b(we (propose|introduce|present|show|find|develop|demonstrate|release|achieve)|"
    r"this (paper|work) (proposes|introduces|presents|shows)|our (method|approach|model)|"
    r"outperform\w*|state[- ]of[- ]the[- ]art|achiev\w+|improv\w+ (by|over))\b",
    re.IGNORECASE,
)
_BACKGROUND = re.compile(
    r"^(recent(ly)?|in recent years|over the past|despite|however|although|while|"
    r"[a-z ]+ (has|have) (become|emerged|shown|attracted))\b",
    re.IGNORECASE,
)
#: frequent English words that carry no topic (kept short: the title and repetition do most)
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "new",
        "using",
        "use",
        "used",
        "based",
        "via",
        "paper",
        "work",
        "propose",
        "proposed",
        "show",
        "shows",
        "approach",
        "method",
        "methods",
        "results",
        "result",
        "model",
        "models",
        "task",
        "tasks",
        "data",
    ]
)


class TldrConfig(ComponentConfig):
    max_chars: int = Field(280, ge=60, le=1000, description="longest TL;DR, in characters")
    min_words: int = Field(6, ge=3, le=30, description="shorter sentences are never picked")


class TldrEnricher(Enricher[TldrConfig]):
    """One sentence from each abstract, as ``signals["tldr"]``."""

    name = "tldr"
    description = "Extractive one-sentence summary of each abstract (no model)."
    signals = ("tldr",)
    batch_size = 5000

    @property
    def namespace(self) -> str:
        return f"enricher.tldr.v1.{self.config.max_chars}.{self.config.min_words}"

    def enrich(self, papers: Sequence[Paper]) -> Mapping[str, Mapping[str, SignalValue]]:
        out: dict[str, dict[str, SignalValue]] = {}
        for paper in papers:
            sentence = summarize(
                paper.title,
                paper.abstract,
                max_chars=self.config.max_chars,
                min_words=self.config.min_words,
            )
            out[str(paper.id)] = {"tldr": sentence} if sentence else {}
        return out


def sentences(text: str) -> list[str]:
    """``text`` split into sentences; "e.g.", "et al.", "Fig. 3" and "3.5" end none."""
    pieces = _BOUNDARY.split(text.strip())
    out: list[str] = []
    for piece in pieces:
        if out and _ends_in_abbreviation(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return [s.strip() for s in out if s.strip()]


def _ends_in_abbreviation(sentence: str) -> bool:
    last = sentence.rstrip(".").rsplit(None, 1)[-1].lower() if sentence.strip() else ""
    last = last.lstrip("([\"'")
    return last in ABBREVIATIONS or (len(last) == 1 and last.isalpha())


def _terms(text: str) -> list[str]:
    return [
        w.lower().rstrip("s") if len(w) > 4 else w.lower()
        for w in _WORD.findall(text)
        if len(w) > 2 and w.lower() not in STOPWORDS
    ]


def summarize(title: str, abstract: str, *, max_chars: int = 280, min_words: int = 6) -> str:
    """The abstract's most informative sentence for the paper's own key terms ("" when the
    abstract has none of at least ``min_words`` words)."""
    text = readable(abstract)
    if not text:
        return ""
    found = sentences(text)
    counts = Counter(_terms(text))
    weights = {term: math.log1p(n - 1) for term, n in counts.items() if n > 1}
    for term in set(_terms(readable(title))):
        weights[term] = weights.get(term, 0.0) + 2.0
    best, best_score = "", -math.inf
    for position, sentence in enumerate(found):
        words = len(sentence.split())
        if words < min_words:
            continue
        terms = set(_terms(sentence))
        score = sum(weights.get(t, 0.0) for t in terms) / math.sqrt(max(words, 8))
        if _CUES.search(sentence):
            score += 1.0
        if position == 0 and _BACKGROUND.search(sentence):
            score -= 0.75
        if words > 60:
            score -= 0.5
        if score > best_score:
            best, best_score = sentence, score
    return truncate(best, max_chars) if best else ""
