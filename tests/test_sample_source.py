"""The bundled ``sample`` source: ~150 invented demo papers, day by day, dated to look current."""

from __future__ import annotations

import datetime as dt
import gzip
import importlib.resources
import json
import re
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pydantic
import pytest

from digest import Batch, CollectContext, Runtime, Site
from digest.models import Paper, Profile
from digest.testing import check_source, make_runtime
from digest_keywords.components import KeywordFilter, KeywordRanker, KeywordRankerConfig
from digest_sample import register_sources
from digest_sample.source import SampleConfig, SampleSource

NOW = dt.datetime(2026, 3, 4, 7, 30, tzinfo=dt.UTC)
CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
DOI = re.compile(r"^10\.5555/papers-digest-demo\.(\d{4})$")
CODE = re.compile(r"^https://example\.org/papers-digest-demo/code/[a-z0-9][a-z0-9-]*$")
CATEGORY = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")
KEYS = {"id", "day", "title", "abstract", "authors", "categories", "upvotes", "code"}
REQUIRED = KEYS - {"upvotes", "code"}


def runtime(tmp_path: Path) -> Runtime:
    return Runtime(
        site=Site(title="Test digest", base_url="http://localhost", sender="d@localhost"),
        templates=jinja2.Environment(autoescape=True),
        state_dir=tmp_path,
        output_dir=tmp_path,
    )


def collect(tmp_path: Path, now: dt.datetime = NOW, **config: Any) -> list[Paper]:
    source = SampleSource(SampleConfig(**config), instance="sample", runtime=runtime(tmp_path))
    return list(source.collect(CollectContext(now=now, state={})))


def raw_lines() -> list[str]:
    resource = importlib.resources.files("digest_sample").joinpath("papers.jsonl")
    return resource.read_text(encoding="utf-8").splitlines()


def records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in raw_lines()]


def folded(title: str) -> str:
    """A title compared loosely: case, accents of TeX, punctuation and spacing ignored."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", title.casefold()).split())


def test_registers_the_sample_source() -> None:
    assert register_sources() == [SampleSource]
    assert SampleSource.name == "sample"
    assert "invented" in SampleSource.description
    assert "real" not in SampleSource.description
    assert SampleSource.Config is SampleConfig


def test_the_entry_point_module_imports_the_source_only_when_registering() -> None:
    # Every `digest` command loads the entry-point module: it must stay cheap.
    code = "import sys, digest_sample; assert 'digest_sample.source' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_keeps_the_source_contract(tmp_path: Path) -> None:
    source = SampleSource(SampleConfig(), instance="sample", runtime=make_runtime(tmp_path))
    assert len(check_source(source)) == 150


def test_data_file_is_a_plain_json_lines_package_resource() -> None:
    # importlib.resources is what works from a wheel; the file must be inside the package.
    package = importlib.resources.files("digest_sample")
    resource = package.joinpath("papers.jsonl")
    assert resource.is_file()
    assert not package.joinpath("papers.jsonl.gz").is_file(), "the old corpus extract is gone"
    data = resource.read_bytes()
    assert not data.startswith(b"\x1f\x8b"), "stored uncompressed, readable in a diff"
    assert len(data) < 300_000  # small enough to ship in the wheel
    lines = raw_lines()
    assert all(line.startswith("{") and line.endswith("}") for line in lines), "one per line"
    assert all(isinstance(json.loads(line), dict) for line in lines)


def test_every_record_is_valid() -> None:
    for record in records():
        where = record.get("id")
        assert REQUIRED <= set(record) <= KEYS, f"{where}: keys {sorted(record)}"
        assert DOI.match(record["id"]), f"{where}: outside the demo DOI namespace"
        assert record["day"] in (1, 2, 3), where
        assert record["title"] == " ".join(record["title"].split()) and record["title"], where
        words = len(record["abstract"].split())
        assert 70 <= words <= 140, f"{where}: abstract of {words} words"
        authors = record["authors"]
        assert authors and all(isinstance(a, str) and a.strip() == a and a for a in authors)
        assert len(set(authors)) == len(authors), f"{where}: an author listed twice"
        categories = record["categories"]
        assert categories and all(CATEGORY.match(c) for c in categories), where
        assert len(set(categories)) == len(categories), where
        if "upvotes" in record:
            upvotes = record["upvotes"]
            assert isinstance(upvotes, int) and not isinstance(upvotes, bool) and upvotes >= 0
        if "code" in record:
            assert CODE.match(record["code"]), f"{where}: code link {record['code']}"


def test_ids_are_numbered_0001_to_0150_in_file_order_by_day() -> None:
    stored = records()
    numbers = [int(r["id"].rsplit(".", 1)[-1]) for r in stored]
    assert all(DOI.match(r["id"]) for r in stored)
    assert numbers == list(range(1, 151))
    days = [r["day"] for r in stored]
    assert days == sorted(days)


def test_titles_and_abstracts_are_unique() -> None:
    stored = records()
    titles = [folded(r["title"]) for r in stored]
    assert len(set(titles)) == len(titles)
    abstracts = [r["abstract"] for r in stored]
    assert len(set(abstracts)) == len(abstracts)
    slugs = [r["code"] for r in stored if "code" in r]
    assert len(set(slugs)) == len(slugs)


def test_yields_150_unique_papers_over_three_days(tmp_path: Path) -> None:
    papers = collect(tmp_path)
    assert len(papers) == 150
    assert len({p.id for p in papers}) == len(papers)
    days = Counter(p.announced for p in papers)
    assert len(days) == 3
    assert all(45 <= count <= 55 for count in days.values())


def test_papers_are_complete_demo_records(tmp_path: Path) -> None:
    papers = collect(tmp_path)
    for paper in papers:
        number = paper.id.value.rsplit(".", 1)[-1]
        assert paper.id.kind == "doi"
        assert str(paper.id) == f"doi:10.5555/papers-digest-demo.{number}"
        assert paper.doi == paper.id.value
        assert paper.url == f"https://example.org/papers-digest-demo/{number}"
        assert paper.pdf_url == f"https://example.org/papers-digest-demo/{number}.pdf"
        assert paper.title and paper.abstract and paper.authors and paper.categories
        assert paper.sources == ("sample",)
        assert paper.version is None
    featured = [p for p in papers if "hf.upvotes" in p.signals]
    assert 20 <= len(featured) <= 100, "some, not all, sample papers carry upvotes"
    assert all(type(p.signals["hf.upvotes"]) is int for p in featured)
    with_code = [p for p in papers if p.code_url]
    assert 15 <= len(with_code) <= 100
    assert all(CODE.match(str(p.code_url)) for p in with_code)


def test_some_titles_and_abstracts_carry_latex_and_ampersands(tmp_path: Path) -> None:
    papers = collect(tmp_path)
    assert sum("$" in p.title for p in papers) >= 3
    assert sum("$" in p.abstract for p in papers) >= 5
    assert any("\\log" in p.title for p in papers)
    assert sum("&" in p.title for p in papers) >= 2


def test_authors_are_many_and_recurring(tmp_path: Path) -> None:
    names = Counter(a.name for p in collect(tmp_path) for a in p.authors)
    assert len(names) >= 250
    assert any(count >= 3 for count in names.values()), "some authors recur, like real labs"
    assert any(not name.isascii() for name in names), "names keep their accents"


def test_mixes_the_categories_the_example_subscribers_need(tmp_path: Path) -> None:
    papers = collect(tmp_path)
    categories = {c for p in papers for c in p.categories}
    assert {"cs.RO", "cs.CL", "cs.LG", "cs.CV", "cs.CR", "cs.IR", "cs.HC"} <= categories
    assert {"eess.AS", "stat.ML", "q-bio.NC"} <= categories
    primary = Counter(p.categories[0] for p in papers)
    assert primary["cs.RO"] >= 25 and primary["cs.CL"] >= 25 and primary["cs.CR"] >= 20


# The three example subscribers of the default configuration (digest/default_config.toml).
ADA = Profile(
    keywords=("robot", "robotic manipulation", "locomotion", "grasping", "humanoid"),
    categories=("cs.RO",),
    exclude=("image manipulation",),
)
GRACE = Profile(
    keywords=("large language model", "LLM", "reasoning", "alignment", "benchmark"),
    categories=("cs.CL",),
    exclude=("speech",),
)
ALAN = Profile(
    keywords=("adversarial", "privacy", "jailbreak", "backdoor", "attack"),
    categories=("cs.CR",),
)
PROFILES = pytest.mark.parametrize("profile", [ADA, GRACE, ALAN], ids=["ada", "grace", "alan"])
#: their max_items in the default configuration
MAX_ITEMS = {ADA: 8, GRACE: 10, ALAN: 6}


def keep(tmp_path: Path, profile: Profile, papers: list[Paper]) -> list[Paper]:
    keyword_filter = KeywordFilter(
        KeywordFilter.Config(), instance="keywords", runtime=runtime(tmp_path)
    )
    mask = keyword_filter.keep(profile, Batch(papers, now=NOW))
    assert mask is not None
    return [p for p, kept in zip(papers, mask, strict=True) if kept]


@PROFILES
def test_each_example_subscriber_finds_clearly_relevant_papers_every_day(
    tmp_path: Path, profile: Profile
) -> None:
    papers = collect(tmp_path)
    # Clearly relevant: in one of the subscriber's categories *and* matching a keyword.
    by_keyword = {p.id for p in keep(tmp_path, Profile(keywords=profile.keywords), papers)}
    relevant = [
        p
        for p in keep(tmp_path, profile, papers)
        if p.id in by_keyword and set(p.categories) & set(profile.categories)
    ]
    per_day = Counter(p.announced for p in relevant)
    assert len(per_day) == 3 and min(per_day.values()) >= 7, per_day
    assert sum(per_day.values()) >= 24


@PROFILES
def test_the_keyword_ranker_puts_on_topic_papers_first(tmp_path: Path, profile: Profile) -> None:
    papers = keep(tmp_path, profile, collect(tmp_path))
    batch = Batch(papers, now=NOW)
    ranker = KeywordRanker(KeywordRankerConfig(), instance="keywords", runtime=runtime(tmp_path))
    ranker.prepare(batch)
    scores = np.asarray(ranker.score(profile, batch))
    top = [papers[i] for i in np.argsort(-scores, kind="stable")[: MAX_ITEMS[profile]]]
    assert all(set(p.categories) & set(profile.categories) for p in top), [p.title for p in top]


@pytest.mark.parametrize(
    ("profile", "phrase"), [(ADA, "image manipulation"), (GRACE, "speech")], ids=["ada", "grace"]
)
def test_the_exclusions_of_the_example_subscribers_have_something_to_exclude(
    tmp_path: Path, profile: Profile, phrase: str
) -> None:
    papers = collect(tmp_path)
    without = Profile(keywords=profile.keywords, categories=profile.categories)
    dropped = {p.id for p in keep(tmp_path, without, papers)} - {
        p.id for p in keep(tmp_path, profile, papers)
    }
    assert dropped, f"no paper of interest mentions {phrase!r}"
    assert all(phrase in f"{p.title} {p.abstract}".lower() for p in papers if p.id in dropped)


def test_near_misses_match_a_keyword_outside_the_subscribers_field(tmp_path: Path) -> None:
    papers = collect(tmp_path)
    for profile in (ADA, GRACE, ALAN):
        kept = keep(tmp_path, profile, papers)
        assert any(not set(p.categories) & set(profile.categories) for p in kept)


def default_subscribers() -> dict[str, Any]:
    text = importlib.resources.files("digest").joinpath("default_config.toml").read_text("utf-8")
    subscribers: dict[str, Any] = tomllib.loads(text).get("subscribers", {})
    return subscribers


def test_every_subscriber_of_the_embedded_default_gets_papers_every_day(tmp_path: Path) -> None:
    papers = collect(tmp_path)
    subscribers = default_subscribers()
    assert subscribers
    for name, table in subscribers.items():
        profile = Profile(
            keywords=tuple(table.get("keywords", ())),
            categories=tuple(table.get("categories", ())),
            exclude=tuple(table.get("exclude", ())),
        )
        per_day = Counter(p.announced for p in keep(tmp_path, profile, papers))
        assert len(per_day) == 3 and min(per_day.values()) >= 5, (name, per_day)


def test_days_limits_output_to_the_first_days(tmp_path: Path) -> None:
    everything = collect(tmp_path, shift_to_today=False)
    first_day = min(p.announced for p in everything if p.announced)
    one = collect(tmp_path, days=1, shift_to_today=False)
    assert one and {p.announced for p in one} == {first_day}
    assert [p.id for p in one] == [p.id for p in everything if p.announced == first_day]
    two = collect(tmp_path, days=2, shift_to_today=False)
    assert len({p.announced for p in two}) == 2
    # Raising `days` only adds papers: earlier ones stay the same, as a growing feed would.
    assert {p.id for p in one} < {p.id for p in two} < {p.id for p in everything}
    assert collect(tmp_path, days=3) == collect(tmp_path, days=10) == collect(tmp_path)


def test_shift_to_today_puts_the_latest_day_on_the_run_date(tmp_path: Path) -> None:
    real = collect(tmp_path, shift_to_today=False)
    shifted = collect(tmp_path)
    assert max(p.announced for p in shifted if p.announced) == NOW.date()
    # Same papers, same relative spacing of the days.
    real_days = sorted({p.announced for p in real if p.announced})
    new_days = sorted({p.announced for p in shifted if p.announced})
    assert [d - real_days[0] for d in real_days] == [d - new_days[0] for d in new_days]
    assert [p.id for p in real] == [p.id for p in shifted]


def test_shift_with_days_puts_the_latest_emitted_day_on_the_run_date(tmp_path: Path) -> None:
    assert {p.announced for p in collect(tmp_path, days=1)} == {NOW.date()}
    two = collect(tmp_path, days=2)
    assert {p.announced for p in two} == {NOW.date(), NOW.date() - dt.timedelta(days=1)}


def test_the_day_of_a_record_decides_its_date(tmp_path: Path) -> None:
    by_id = {f"doi:{r['id']}": r["day"] for r in records()}
    for paper in collect(tmp_path):
        assert paper.announced == NOW.date() - dt.timedelta(days=3 - by_id[str(paper.id)])


def test_nominal_dates_without_shift_are_three_consecutive_days(tmp_path: Path) -> None:
    days = sorted({p.announced for p in collect(tmp_path, shift_to_today=False) if p.announced})
    assert days == [dt.date(2025, 12, 9), dt.date(2025, 12, 10), dt.date(2025, 12, 11)]


def test_config_rejects_bad_values() -> None:
    with pytest.raises(pydantic.ValidationError):
        SampleConfig(days=0)
    with pytest.raises(pydantic.ValidationError):
        SampleConfig(dayz=1)  # type: ignore[call-arg]


@pytest.mark.shared
@pytest.mark.parametrize(
    "corpus", ["arxiv_daily_2025.jsonl.gz", "hf_daily_papers_2024-05_to_2025-12.jsonl.gz"]
)
def test_no_bundled_title_comes_from_the_shared_corpora(corpus: str) -> None:
    # The demo papers are invented: none may share a title with a real paper we have seen.
    path = CORPORA / corpus
    ours = {folded(r["title"]): r["id"] for r in records()}
    clashes: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                title = folded(str(json.loads(line).get("title", "")))
                if title in ours:
                    clashes.append(f"{ours[title]}: {title}")
    assert not clashes
