"""Reasons in plain words: one sentence per pick, its tag, and weak evidence left out."""

from __future__ import annotations

import numpy as np

from digest import why_sentence, why_tag
from digest.batch import Batch
from digest.models import Profile, Reason
from digest.select import Selector
from digest.testing import make_paper

LIKED = Reason(
    kind="similar", text="close to “Diffusion Policy”, which you liked", weight=0.6, ref="arxiv:1"
)
SAME_PAPER = Reason(
    kind="semantic", text="close in meaning to “Diffusion Policy”, which you liked", ref="arxiv:1"
)
KEYWORD = Reason(kind="keywords", text="mentions your keyword “visuomotor”", weight=0.3)
AUTHOR = Reason(kind="author", text="by Ada Lovelace, whom you follow", weight=0.3)
TODAY = Reason(kind="recency", text="announced today", weight=0.9)


def test_one_sentence_strongest_evidence_first() -> None:
    assert why_sentence([LIKED, KEYWORD, TODAY]) == (
        "Close to “Diffusion Policy”, which you liked, and mentions your keyword “visuomotor”."
    )


def test_a_liked_paper_two_rankers_found_is_said_once() -> None:
    assert why_sentence([LIKED, SAME_PAPER, KEYWORD]).count("Diffusion Policy") == 1


def test_a_state_after_a_verb_gets_its_own_verb() -> None:
    assert why_sentence([KEYWORD, AUTHOR]) == (
        "Mentions your keyword “visuomotor” and is by Ada Lovelace, whom you follow."
    )
    assert why_sentence([AUTHOR, KEYWORD]) == (
        "By Ada Lovelace, whom you follow, and mentions your keyword “visuomotor”."
    )


def test_timing_is_never_the_only_reason() -> None:
    sentence = why_sentence([TODAY])
    assert "announced" not in sentence
    assert sentence == "A recent paper; nothing in your profile matched it strongly."
    assert why_sentence([]) == ""


def test_latex_in_reasons_is_readable_and_clauses_are_capped() -> None:
    latex = Reason(kind="similar", text="close to “$\\alpha$-nets”, which you liked", ref="x")
    other = Reason(kind="keywords", text="mentions your keyword “grasping”")
    third = Reason(kind="category", text="in your category cs.RO")
    sentence = why_sentence([latex, other, third])
    assert "α-nets" in sentence and "$" not in sentence
    assert "cs.RO" not in sentence  # two clauses at most: the strongest


def test_tags_for_the_contents_list() -> None:
    assert why_tag([KEYWORD]) == "visuomotor"
    assert why_tag([LIKED]) == "like “Diffusion Policy”"
    long = Reason(kind="svm", text="close to “" + "Long title words " * 5 + "”", ref="x")
    assert why_tag([long]) == "like “Long title words Long…”"
    assert why_tag([Reason(kind="similar", text="close to a liked paper", ref="x")]) == (
        "like a paper you liked"
    )
    assert why_tag([AUTHOR]) == "author you follow"
    assert why_tag([TODAY, KEYWORD]) == "visuomotor"
    assert why_tag([TODAY]) == "new" and why_tag([]) == ""


class _Fixed:
    """A ranker with fixed scores and reasons (a real Ranker subclass is not needed by the
    selector: it asks score() and explain())."""

    personal = True

    def __init__(self, reasons: tuple[Reason, ...]) -> None:
        self._reasons = reasons

    def prepare(self, batch: Batch) -> None: ...

    def score(self, profile: Profile, batch: Batch) -> np.ndarray:
        return np.full(len(batch), 0.8)

    def explain(self, profile: Profile, batch: Batch, position: int) -> tuple[Reason, ...]:
        return self._reasons


def test_evidence_below_the_configured_strength_is_left_out_but_the_strongest_stays() -> None:
    weak = Reason(kind="similar", text="mentions “policy” from your interests", weight=0.05)
    batch = Batch([make_paper("2406.00001")], now=make_paper("2406.00001").published)  # type: ignore[arg-type]
    for floor, want in ((0.1, [KEYWORD]), (0.0, [KEYWORD, weak])):
        selector = Selector(
            {}, {"fixed": _Fixed((KEYWORD, weak))}, {"fixed": 1.0}, lambda *a: None,
            min_reason_strength=floor,
        )  # fmt: skip
        selector.prepare(batch)
        (pick,) = selector.select(Profile(keywords=("visuomotor",)), 5, batch, batch.ones()).picks
        assert list(pick.reasons) == want
    only_weak = Selector(
        {}, {"fixed": _Fixed((weak,))}, {"fixed": 1.0}, lambda *a: None, min_reason_strength=0.5
    )
    only_weak.prepare(batch)
    (pick,) = only_weak.select(Profile(), 5, batch, batch.ones()).picks
    assert list(pick.reasons) == [weak]  # a pick always keeps its strongest reason
