"""The ``recency`` ranker: newer papers first, halving every half-life."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jinja2
import pydantic
import pytest

from digest import Batch, Runtime, Site
from digest.models import Paper, PaperId, Profile
from digest.testing import check_ranker
from digest_recency import register_rankers
from digest_recency.ranker import RecencyRanker

NOW = dt.datetime(2026, 3, 4, 7, 30, tzinfo=dt.UTC)
TODAY = NOW.date()
RUNTIME = Runtime(
    site=Site(title="Test digest", base_url="http://localhost", sender="d@localhost"),
    templates=jinja2.Environment(autoescape=True),
    state_dir=Path("."),
    output_dir=Path("."),
)
PROFILE = Profile(keywords=("anything",))


def paper(n: int, **dates: object) -> Paper:
    return Paper(id=PaperId(kind="arxiv", value=f"2601.{n:05d}"), title=f"Paper {n}", **dates)  # type: ignore[arg-type]


def ranked(papers: list[Paper], **config: float) -> tuple[RecencyRanker, Batch]:
    ranker = RecencyRanker(RecencyRanker.Config(**config), instance="recency", runtime=RUNTIME)
    batch = Batch(papers, now=NOW)
    ranker.prepare(batch)
    return ranker, batch


def test_registers_the_recency_ranker() -> None:
    assert register_rankers() == [RecencyRanker]
    assert RecencyRanker.name == "recency"


def test_keeps_the_ranker_contract() -> None:
    check_ranker(RecencyRanker(RecencyRanker.Config(), instance="recency", runtime=RUNTIME))


def test_newer_papers_score_higher() -> None:
    papers = [paper(i, announced=TODAY - dt.timedelta(days=age)) for i, age in enumerate((5, 0, 2))]
    ranker, batch = ranked(papers)
    scores = ranker.score(PROFILE, batch)
    assert list(scores.argsort()[::-1]) == [1, 2, 0]


def test_score_halves_every_half_life() -> None:
    papers = [paper(i, announced=TODAY - dt.timedelta(days=age)) for i, age in enumerate((0, 3, 6))]
    ranker, batch = ranked(papers)
    assert list(ranker.score(PROFILE, batch)) == pytest.approx([1.0, 0.5, 0.25])
    ranker, batch = ranked(papers, half_life_days=6.0)
    assert list(ranker.score(PROFILE, batch)) == pytest.approx([1.0, 2**-0.5, 0.5])


def test_published_or_updated_time_when_there_is_no_announcement_day() -> None:
    papers = [
        paper(1, published=NOW - dt.timedelta(days=3)),
        paper(2, updated=(NOW - dt.timedelta(days=1.5)).replace(tzinfo=None)),  # naive = UTC
        paper(3, announced=TODAY, published=NOW - dt.timedelta(days=30)),  # announced wins
    ]
    ranker, batch = ranked(papers)
    assert list(ranker.score(PROFILE, batch)) == pytest.approx([0.5, 2**-0.5, 1.0])


def test_future_dates_count_as_today_and_undated_papers_are_neutral() -> None:
    papers = [paper(1, announced=TODAY + dt.timedelta(days=1)), paper(2)]
    ranker, batch = ranked(papers)
    assert list(ranker.score(PROFILE, batch)) == pytest.approx([1.0, 0.5])
    ranker, batch = ranked(papers, undated_score=0.0)
    assert ranker.score(PROFILE, batch)[1] == 0.0


def test_scores_are_computed_once_and_shared_read_only() -> None:
    ranker, batch = ranked([paper(1, announced=TODAY)])
    first = ranker.score(PROFILE, batch)
    assert ranker.score(Profile(), batch) is first
    with pytest.raises(ValueError):
        first[0] = 0.0  # one subscriber cannot change another's scores


def test_score_without_prepare_still_works() -> None:
    ranker = RecencyRanker(RecencyRanker.Config(), instance="recency", runtime=RUNTIME)
    batch = Batch([paper(1, announced=TODAY)], now=NOW)
    assert list(ranker.score(PROFILE, batch)) == [1.0]


@pytest.mark.parametrize(
    ("dates", "text"),
    [
        ({"announced": TODAY}, "announced today"),
        ({"announced": TODAY - dt.timedelta(days=1)}, "announced yesterday"),
        ({"announced": TODAY - dt.timedelta(days=2)}, "announced 2 days ago"),
        ({"published": NOW - dt.timedelta(hours=30)}, "published yesterday"),
    ],
)
def test_explain_says_how_old_the_paper_is(dates: dict[str, object], text: str) -> None:
    ranker, batch = ranked([paper(1, **dates)])
    (reason,) = ranker.explain(PROFILE, batch, 0)
    assert reason.kind == "recency"
    assert reason.text == text
    assert reason.weight == pytest.approx(float(ranker.score(PROFILE, batch)[0]))


def test_no_reason_for_an_undated_paper() -> None:
    ranker, batch = ranked([paper(1)])
    assert ranker.explain(PROFILE, batch, 0) == ()


def test_config_validation() -> None:
    with pytest.raises(pydantic.ValidationError):
        RecencyRanker.Config(half_life_days=0)
    with pytest.raises(pydantic.ValidationError):
        RecencyRanker.Config(half_lfe_days=1)  # type: ignore[call-arg]
