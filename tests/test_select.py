"""Selection: weighted rankers, top-k, and MMR diversity among the picks."""

from __future__ import annotations

import numpy as np

from digest import Ranker
from digest.batch import Batch
from digest.models import Profile
from digest.select import Selector
from digest.testing import NOW, make_paper, make_runtime


class Fixed(Ranker):
    """Given scores, and vectors where papers 0–2 are near-duplicates."""

    name = "fixed"

    def score(self, profile: Profile, batch: Batch) -> np.ndarray:
        return np.array([0.9, 0.89, 0.88, 0.7, 0.1])

    def vectors(self, batch: Batch) -> np.ndarray:
        rows = np.array([[1, 0, 0], [1, 0.05, 0], [1, 0, 0.05], [0, 1, 0], [0, 0, 1.0]])
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def pick(diversity: float, tmp_path) -> list[int]:
    batch = Batch([make_paper(f"2406.0000{i}") for i in range(5)], now=NOW)
    ranker = Fixed(Fixed.Config(), instance="fixed", runtime=make_runtime(tmp_path))
    selector = Selector({}, {"fixed": ranker}, {"fixed": 1.0}, on_error=print, diversity=diversity)
    outcome = selector.select(Profile(), 3, batch, batch.ones())
    return [p.position for p in outcome.picks]


def test_without_diversity_the_top_scores_win(tmp_path) -> None:
    assert pick(0.0, tmp_path) == [0, 1, 2]


def test_diversity_replaces_near_duplicates(tmp_path) -> None:
    # The distinct paper 3 (0.7) beats the near-duplicates of paper 0 (0.89, 0.88).
    assert pick(0.4, tmp_path) == [0, 3, 1]


def _keywords_and_recency(tmp_path, *, relevant_only: bool = True) -> tuple[Selector, Batch]:
    from digest_keywords.components import KeywordRanker
    from digest_recency.ranker import RecencyRanker

    runtime = make_runtime(tmp_path)
    rankers: dict[str, Ranker] = {
        "keywords": KeywordRanker(KeywordRanker.Config(), instance="keywords", runtime=runtime),
        "recency": RecencyRanker(RecencyRanker.Config(), instance="recency", runtime=runtime),
    }
    titles = ["Robot grasping", "Protein folding", "Legged robot walking", "Compilers", "Rust"]
    batch = Batch([make_paper(f"2406.0000{i}", title=t) for i, t in enumerate(titles)], now=NOW)
    weights = {"keywords": 0.2, "recency": 1.0}  # recency contributes more: reasons order
    selector = Selector({}, rankers, weights, on_error=print, relevant_only=relevant_only)
    selector.prepare(batch)
    return selector, batch


def test_recency_alone_never_makes_a_paper_a_pick(tmp_path) -> None:
    """Two papers match the subscriber's keyword: the digest has two papers, not five of
    which three are merely new."""
    selector, batch = _keywords_and_recency(tmp_path)
    outcome = selector.select(Profile(keywords=("robot",)), 5, batch, batch.ones())
    assert sorted(p.position for p in outcome.picks) == [0, 2]
    for picked in outcome.picks:  # the subscriber's own reason first, "announced …" after
        assert picked.reasons[0].text.startswith("mentions")
        assert picked.reasons[-1].text.startswith("announced"), picked.reasons


def test_without_relevant_only_or_any_stated_interest_the_digest_is_filled(tmp_path) -> None:
    selector, batch = _keywords_and_recency(tmp_path, relevant_only=False)
    outcome = selector.select(Profile(keywords=("robot",)), 5, batch, batch.ones())
    assert len(outcome.picks) == 5
    assert [p.position for p in outcome.picks][:2] in ([0, 2], [2, 0])
    # nothing in the profile the personal rankers can use: the general order, not nothing
    selector, batch = _keywords_and_recency(tmp_path)
    assert len(selector.select(Profile(), 5, batch, batch.ones()).picks) == 5
    # the keyword matches nothing today: nothing is sent, and the run report says why
    outcome = selector.select(Profile(keywords=("galaxy",)), 5, batch, batch.ones())
    assert not outcome.picks and outcome.skipped == "nothing relevant among the new papers"


SPELLINGS = ["Sergey Levine", "Levine, Sergey", "S. Levine", "Levine, S.", "sergey  LEVINE"]
OTHERS = ["Sergey Brin", "Lev Ine", "Chelsea Finn"]


def _author_batch() -> Batch:
    papers = [
        make_paper(f"2406.{n:05d}", title=f"Paper {n}", authors=(name, "Someone Else"))
        for n, name in enumerate([*SPELLINGS, *OTHERS])
    ]
    return Batch(papers, now=NOW)


def test_muting_an_author_mutes_every_spelling_of_them(tmp_path) -> None:
    from digest_recency.ranker import RecencyRanker

    batch = _author_batch()
    ranker = RecencyRanker(RecencyRanker.Config(), instance="r", runtime=make_runtime(tmp_path))
    selector = Selector({}, {"r": ranker}, {"r": 1.0}, on_error=print, diversity=0)
    for muted in SPELLINGS:
        choice = selector.select(Profile(muted_authors=(muted,)), 20, batch, batch.ones())
        kept = {batch[p.position].authors[0].name for p in choice.picks}
        assert kept == set(OTHERS), f"muting {muted!r} kept {kept - set(OTHERS)}"


def test_following_and_muting_agree_on_who_is_who(tmp_path) -> None:
    from digest_keywords.components import KeywordRanker

    batch = _author_batch()
    ranker = KeywordRanker(KeywordRanker.Config(), instance="kw", runtime=make_runtime(tmp_path))
    ranker.prepare(batch)
    selector = Selector({}, {"kw": ranker}, {"kw": 1.0}, on_error=print, diversity=0)
    for name in SPELLINGS:
        followed = np.flatnonzero(ranker.score(Profile(authors=(name,)), batch) > 0)
        choice = selector.select(Profile(muted_authors=(name,)), 20, batch, batch.ones())
        muted = sorted(set(range(len(batch))) - {p.position for p in choice.picks})
        assert followed.tolist() == muted == list(range(len(SPELLINGS)))
