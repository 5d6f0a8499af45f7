"""The ``keywords`` filter and ranker, as a subscriber would notice them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jinja2
import numpy as np
import pydantic
import pytest

from digest import Batch, Runtime, Site
from digest.models import Author, Paper, PaperId, Profile
from digest.testing import check_filter, check_ranker
from digest_keywords import register_filters, register_rankers
from digest_keywords.components import KeywordFilter, KeywordRanker
from digest_keywords.index import INDEX_KEY, KeywordIndex

NOW = dt.datetime(2026, 3, 4, 7, tzinfo=dt.UTC)
RUNTIME = Runtime(
    site=Site(title="Test digest", base_url="http://localhost", sender="d@localhost"),
    templates=jinja2.Environment(autoescape=True),
    state_dir=Path("."),
    output_dir=Path("."),
)


def paper(
    n: int,
    title: str,
    abstract: str = "",
    *,
    categories: tuple[str, ...] = ("cs.LG",),
    authors: tuple[str, ...] = ("Ada Lovelace",),
) -> Paper:
    return Paper(
        id=PaperId(kind="arxiv", value=f"2601.{n:05d}"),
        title=title,
        abstract=abstract,
        authors=tuple(Author(name=a) for a in authors),
        categories=categories,
        announced=NOW.date(),
    )


def make_filter() -> KeywordFilter:
    return KeywordFilter(KeywordFilter.Config(), instance="keywords", runtime=RUNTIME)


def make_ranker(**config: float) -> KeywordRanker:
    return KeywordRanker(KeywordRanker.Config(**config), instance="keywords", runtime=RUNTIME)


def kept(papers: list[Paper], profile: Profile) -> list[str]:
    """Titles the filter keeps, after preparing a batch as the core does."""
    batch = Batch(papers, now=NOW)
    keyword_filter = make_filter()
    keyword_filter.prepare(batch)
    mask = keyword_filter.keep(profile, batch)
    if mask is None:
        return [p.title for p in papers]
    assert mask.dtype == np.bool_ and mask.shape == (len(papers),)
    return [p.title for p, keep in zip(papers, mask, strict=True) if keep]


def test_registers_filter_and_ranker_named_keywords() -> None:
    assert register_filters() == [KeywordFilter]
    assert register_rankers() == [KeywordRanker]
    assert KeywordFilter.name == KeywordRanker.name == "keywords"


def test_keeps_the_filter_and_ranker_contracts() -> None:
    check_filter(make_filter())
    check_ranker(make_ranker())


def test_reasons_stay_on_one_line() -> None:
    papers = [paper(1, "Robots", authors=("Ada\r\nLovelace",))]
    profile = Profile(keywords=("robots\n",), authors=("Ada Lovelace",))
    for text in reasons(papers, profile).values():
        assert "\n" not in text and "\r" not in text


# -- filter ---------------------------------------------------------------------------------


def test_keeps_only_papers_matching_a_keyword() -> None:
    papers = [
        paper(1, "Diffusion policies for robot grasping"),
        paper(2, "Protein folding", "We fold proteins."),
        paper(3, "A survey", "We study grasping in clutter."),
    ]
    titles = kept(papers, Profile(keywords=("grasping",)))
    assert titles == ["Diffusion policies for robot grasping", "A survey"]


def test_exclude_drops_papers_even_when_they_match() -> None:
    papers = [
        paper(1, "Speech recognition with large language models"),
        paper(2, "Reasoning in large language models"),
    ]
    profile = Profile(keywords=("large language models",), exclude=("speech",))
    assert kept(papers, profile) == ["Reasoning in large language models"]


def test_profile_without_interests_keeps_everything_but_excluded() -> None:
    papers = [paper(1, "Speech synthesis"), paper(2, "Vision transformers")]
    assert kept(papers, Profile()) == ["Speech synthesis", "Vision transformers"]
    assert kept(papers, Profile(exclude=("speech",))) == ["Vision transformers"]


def test_whole_words_only() -> None:
    papers = [
        paper(1, "A paragraph-level reader"),
        paper(2, "Graph neural networks"),
        paper(3, "Knowledge graphs at scale"),
        paper(4, "Subgraph mining"),
    ]
    # "graph" is not in "paragraph" or "subgraph"; its plural counts.
    assert kept(papers, Profile(keywords=("graph",))) == [
        "Graph neural networks",
        "Knowledge graphs at scale",
    ]


def test_phrases_are_case_insensitive_and_need_adjacent_words() -> None:
    papers = [
        paper(1, "DIFFUSION POLICY for manipulation"),
        paper(2, "A diffusion-policy baseline"),
        paper(3, "Policy learning", "A diffusion model guides the policy."),
        paper(4, "Training diffusion policies at scale"),
    ]
    assert kept(papers, Profile(keywords=("Diffusion Policy",))) == [
        "DIFFUSION POLICY for manipulation",
        "A diffusion-policy baseline",
        "Training diffusion policies at scale",
    ]


def test_matching_ignores_accents() -> None:
    papers = [paper(1, "Schrödinger bridges for generative modelling"), paper(2, "Other")]
    assert kept(papers, Profile(keywords=("schrodinger bridge",))) == [
        "Schrödinger bridges for generative modelling"
    ]


def test_trailing_star_matches_a_word_prefix() -> None:
    papers = [
        paper(1, "Robotic assembly"),
        paper(2, "Robots that learn"),
        paper(3, "Robust estimation"),
    ]
    assert kept(papers, Profile(keywords=("robot*",))) == ["Robotic assembly", "Robots that learn"]


def test_category_match_is_exact_and_archive_matches_all_its_categories() -> None:
    papers = [
        paper(1, "Robot A", categories=("cs.RO",)),
        paper(2, "Vision B", categories=("cs.CV", "cs.RO")),
        paper(3, "Combinatorics C", categories=("math.CO",)),
        paper(4, "Strings D", categories=("hep-th",)),
    ]
    assert kept(papers, Profile(categories=("cs.RO",))) == ["Robot A", "Vision B"]
    assert kept(papers, Profile(categories=("cs.ro",))) == ["Robot A", "Vision B"]
    assert kept(papers, Profile(categories=("cs",))) == ["Robot A", "Vision B"]
    assert kept(papers, Profile(categories=("math",))) == ["Combinatorics C"]
    assert kept(papers, Profile(categories=("hep-th",))) == ["Strings D"]
    assert kept(papers, Profile(categories=("cs.R",))) == []


def test_author_match_on_family_name_and_first_initial() -> None:
    papers = [
        paper(1, "One", authors=("Sergey Levine", "Chelsea Finn")),
        paper(2, "Two", authors=("S. Levine",)),
        paper(3, "Three", authors=("Levine, Sergey",)),
        paper(4, "Four", authors=("Jonathan Levine",)),
        paper(5, "Five", authors=("Sergey Levinson",)),
    ]
    assert kept(papers, Profile(authors=("Sergey Levine",))) == ["One", "Two", "Three"]
    # A bare family name follows every author of that name.
    assert kept(papers, Profile(authors=("Levine",))) == ["One", "Two", "Three", "Four"]


def test_author_match_ignores_accents() -> None:
    papers = [paper(1, "One", authors=("José García",)), paper(2, "Two", authors=("Ana Garcia",))]
    assert kept(papers, Profile(authors=("Jose Garcia",))) == ["One"]


def test_any_kind_of_interest_is_enough() -> None:
    papers = [
        paper(1, "Grasping", categories=("cs.CV",)),
        paper(2, "Nothing", categories=("cs.RO",)),
        paper(3, "Other", authors=("Chelsea Finn",)),
        paper(4, "Unrelated", categories=("math.CO",)),
    ]
    profile = Profile(keywords=("grasping",), categories=("cs.RO",), authors=("C. Finn",))
    assert kept(papers, profile) == ["Grasping", "Nothing", "Other"]


def test_unmatched_interests_keep_nothing() -> None:
    papers = [paper(1, "Graph neural networks")]
    assert kept(papers, Profile(keywords=("quantum chromodynamics", "!!"))) == []


def test_filter_and_ranker_share_one_index_per_batch() -> None:
    batch = Batch([paper(1, "Graphs")], now=NOW)
    make_filter().prepare(batch)
    index = batch.cache[INDEX_KEY]
    assert isinstance(index, KeywordIndex)
    make_ranker().prepare(batch)
    assert batch.cache[INDEX_KEY] is index


# -- ranker ---------------------------------------------------------------------------------


def scores(
    papers: list[Paper], profile: Profile, ranker: KeywordRanker | None = None
) -> list[float]:
    batch = Batch(papers, now=NOW)
    ranker = ranker or make_ranker()
    ranker.prepare(batch)
    values = ranker.score(profile, batch)
    assert values.shape == (len(papers),)
    assert ((values >= 0) & (values <= 1)).all()
    return [float(v) for v in values]


def test_title_match_ranks_above_abstract_only_match() -> None:
    papers = [
        paper(1, "A study of agents", "We use reinforcement learning for control."),
        paper(2, "Reinforcement learning for control", "We study agents."),
        paper(3, "Unrelated", "Nothing here."),
    ]
    abstract_only, in_title, none = scores(papers, Profile(keywords=("reinforcement learning",)))
    assert in_title > abstract_only > none == 0.0


def test_more_matches_score_higher() -> None:
    papers = [
        paper(1, "Robot grasping"),
        paper(2, "Robot grasping with tactile sensing"),
        paper(3, "Robot grasping with tactile sensing", categories=("cs.RO",)),
    ]
    profile = Profile(keywords=("robot", "grasping", "tactile sensing"), categories=("cs.RO",))
    two, three, three_and_category = scores(papers, profile)
    assert 0 < two < three < three_and_category < 1


def test_followed_author_weighs_more_than_a_keyword() -> None:
    papers = [
        paper(1, "Robot grasping"),
        paper(2, "Unrelated title", authors=("Sergey Levine",)),
    ]
    keyword, author = scores(papers, Profile(keywords=("grasping",), authors=("Sergey Levine",)))
    assert author > keyword > 0


def test_primary_category_counts_more_than_a_cross_list() -> None:
    papers = [paper(1, "A", categories=("cs.RO",)), paper(2, "B", categories=("cs.CV", "cs.RO"))]
    primary, cross_list = scores(papers, Profile(categories=("cs.RO",)))
    assert primary > cross_list > 0


def test_category_paper_ranks_between_title_and_abstract_keyword_matches() -> None:
    papers = [
        paper(1, "Grasping in clutter", categories=("cs.CV",)),
        paper(2, "Some method", categories=("cs.CV", "cs.RO")),
        paper(3, "Some method", "We also try grasping.", categories=("cs.CV",)),
    ]
    title, category, abstract = scores(
        papers, Profile(keywords=("grasping",), categories=("cs.RO",))
    )
    assert title > category > abstract > 0


def test_excluded_papers_score_zero() -> None:
    papers = [paper(1, "Speech robots"), paper(2, "Robots")]
    excluded, other = scores(papers, Profile(keywords=("robots",), exclude=("speech",)))
    assert excluded == 0.0 < other


def test_profile_without_interests_scores_zero() -> None:
    assert scores([paper(1, "Robots")], Profile()) == [0.0]


def test_weights_are_configurable_per_instance() -> None:
    papers = [paper(1, "Grasping"), paper(2, "Other", "Grasping in the abstract.")]
    profile = Profile(keywords=("grasping",))
    batch = Batch(papers, now=NOW)
    default = make_ranker()
    flat = KeywordRanker(
        KeywordRanker.Config(title_weight=1.0, abstract_weight=1.0),
        instance="flat",
        runtime=RUNTIME,
    )
    for ranker in (default, flat):
        ranker.prepare(batch)
    title, abstract = default.score(profile, batch)
    assert title > abstract
    title, abstract = flat.score(profile, batch)
    assert title == abstract


def test_config_rejects_unknown_keys_and_negative_weights() -> None:
    with pytest.raises(pydantic.ValidationError):
        KeywordRanker.Config(title_wieght=2.0)  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        KeywordRanker.Config(author_weight=-1.0)


def test_scores_are_fresh_arrays_per_subscriber() -> None:
    papers = [paper(1, "Robots"), paper(2, "Graphs")]
    batch = Batch(papers, now=NOW)
    ranker = make_ranker()
    ranker.prepare(batch)
    first = ranker.score(Profile(keywords=("robots",)), batch)
    first *= 0  # a caller modifying its copy must not affect the next subscriber
    assert ranker.score(Profile(keywords=("robots",)), batch)[0] > 0


# -- reasons --------------------------------------------------------------------------------


def reasons(papers: list[Paper], profile: Profile, position: int = 0) -> dict[str, str]:
    batch = Batch(papers, now=NOW)
    ranker = make_ranker()
    ranker.prepare(batch)
    found = ranker.explain(profile, batch, position)
    score = float(ranker.score(profile, batch)[position])
    assert sum(r.weight for r in found) == pytest.approx(score)
    return {r.kind: r.text for r in found}


def test_reasons_name_the_matched_keywords() -> None:
    papers = [paper(1, "Diffusion policy for robots", "We study grasping of cups.")]
    profile = Profile(keywords=("grasping", "diffusion policy", "locomotion"))
    assert reasons(papers, profile) == {
        "keywords": "mentions your keywords “diffusion policy” and “grasping”"
    }


def test_reason_for_a_single_keyword() -> None:
    assert reasons([paper(1, "Robots")], Profile(keywords=("robots",))) == {
        "keywords": "mentions your keyword “robots”"
    }


def test_reasons_name_category_and_followed_author() -> None:
    papers = [paper(1, "Other", categories=("cs.RO", "cs.AI"), authors=("S. Levine", "C. Finn"))]
    profile = Profile(categories=("cs.RO",), authors=("Sergey Levine",))
    assert reasons(papers, profile) == {
        "category": "in your category cs.RO",
        "author": "by S. Levine, whom you follow",
    }


def test_archive_reason_names_the_papers_categories() -> None:
    papers = [paper(1, "Other", categories=("cs.RO", "cs.AI", "eess.SY"))]
    assert reasons(papers, Profile(categories=("cs",))) == {
        "category": "in your categories cs.RO and cs.AI"
    }


def test_no_reasons_for_an_unmatched_paper() -> None:
    assert reasons([paper(1, "Other")], Profile(keywords=("robots",))) == {}
