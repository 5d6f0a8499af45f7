"""The bundled ``sample`` source: real papers offline, day by day, dated to look current."""

from __future__ import annotations

import datetime as dt
import importlib.resources
import importlib.util
from collections import Counter
from pathlib import Path
from typing import Any

import jinja2
import pydantic
import pytest

from digest import Batch, CollectContext, Runtime, Site
from digest.models import Paper, Profile
from digest.testing import check_source, make_runtime
from digest_keywords import KeywordFilter
from digest_sample import SampleSource, register_sources

NOW = dt.datetime(2026, 3, 4, 7, 30, tzinfo=dt.UTC)
REPO = Path(__file__).resolve().parent.parent
CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


def runtime(tmp_path: Path) -> Runtime:
    return Runtime(
        site=Site(title="Test digest", base_url="http://localhost", sender="d@localhost"),
        templates=jinja2.Environment(autoescape=True),
        state_dir=tmp_path,
        output_dir=tmp_path,
    )


def collect(tmp_path: Path, now: dt.datetime = NOW, **config: Any) -> list[Paper]:
    source = SampleSource(
        SampleSource.Config(**config), instance="sample", runtime=runtime(tmp_path)
    )
    return list(source.collect(CollectContext(now=now, state={})))


def test_registers_the_sample_source() -> None:
    assert register_sources() == [SampleSource]
    assert SampleSource.name == "sample"


def test_keeps_the_source_contract(tmp_path: Path) -> None:
    source = SampleSource(SampleSource.Config(), instance="sample", runtime=make_runtime(tmp_path))
    assert len(check_source(source)) > 0


def test_data_file_is_a_package_resource() -> None:
    # importlib.resources is what works from a wheel; the file must be inside the package.
    resource = importlib.resources.files("digest_sample").joinpath("papers.jsonl.gz")
    assert resource.is_file()
    assert len(resource.read_bytes()) < 300_000  # small enough to ship in the wheel


def test_yields_about_300_unique_papers_over_three_days(tmp_path: Path) -> None:
    papers = collect(tmp_path)
    assert 250 <= len(papers) <= 350
    assert len({str(p.id) for p in papers}) == len(papers)
    days = Counter(p.announced for p in papers)
    assert len(days) == 3
    assert all(80 <= count <= 120 for count in days.values())


def test_papers_are_complete_arxiv_records(tmp_path: Path) -> None:
    papers = collect(tmp_path)
    for paper in papers:
        assert paper.id.kind == "arxiv"
        assert paper.url == f"https://arxiv.org/abs/{paper.id.value}"
        assert paper.pdf_url == f"https://arxiv.org/pdf/{paper.id.value}"
        assert paper.title and paper.abstract and paper.authors and paper.categories
        assert paper.sources == ("sample",)
    featured = [p for p in papers if "hf.upvotes" in p.signals]
    assert featured, "some sample papers carry Hugging Face upvotes"
    assert all(isinstance(p.signals["hf.upvotes"], int) for p in featured)
    with_code = [p for p in papers if p.code_url]
    assert with_code and all(str(p.code_url).startswith("https://github.com/") for p in with_code)


def test_mixes_the_categories_the_example_subscribers_need(tmp_path: Path) -> None:
    categories = {c for p in collect(tmp_path) for c in p.categories}
    assert {"cs.RO", "cs.CL", "cs.LG", "cs.CV", "cs.CR", "cs.IR", "cs.HC"} <= categories


# The three example subscribers of the default configuration.
ROBOTICS = Profile(
    keywords=("robot", "manipulation", "locomotion", "grasping", "reinforcement learning"),
    categories=("cs.RO",),
)
NLP = Profile(
    keywords=("large language model", "LLM", "reasoning", "alignment", "benchmark"),
    categories=("cs.CL",),
    exclude=("speech",),
)
SECURITY = Profile(
    keywords=("adversarial", "privacy", "jailbreak", "backdoor", "attack"), categories=("cs.CR",)
)


@pytest.mark.parametrize("profile", [ROBOTICS, NLP, SECURITY], ids=["robotics", "nlp", "security"])
def test_each_example_subscriber_finds_papers_every_day(tmp_path: Path, profile: Profile) -> None:
    papers = collect(tmp_path)
    batch = Batch(papers, now=NOW)
    keyword_filter = KeywordFilter(
        KeywordFilter.Config(), instance="keywords", runtime=runtime(tmp_path)
    )
    mask = keyword_filter.keep(profile, batch)
    assert mask is not None
    per_day = Counter(p.announced for p, keep in zip(papers, mask, strict=True) if keep)
    assert len(per_day) == 3 and min(per_day.values()) >= 5


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
    papers = collect(tmp_path, days=1)
    assert {p.announced for p in papers} == {NOW.date()}


def test_real_dates_are_from_the_2025_corpus(tmp_path: Path) -> None:
    days = {p.announced for p in collect(tmp_path, shift_to_today=False)}
    assert all(d is not None and d.year == 2025 for d in days)


def test_config_rejects_bad_values() -> None:
    with pytest.raises(pydantic.ValidationError):
        SampleSource.Config(days=0)
    with pytest.raises(pydantic.ValidationError):
        SampleSource.Config(dayz=1)  # type: ignore[call-arg]


def _load_builder() -> Any:
    spec = importlib.util.spec_from_file_location(
        "build_sample_data", REPO / "tools/build_sample_data.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not CORPORA.is_dir(), reason="the shared corpora are not on this machine")
def test_builder_is_deterministic_and_matches_the_bundled_file(tmp_path: Path) -> None:
    builder = _load_builder()
    first, second = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    assert builder.main(["--out", str(first)]) == 0
    assert builder.main(["--out", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    bundled = importlib.resources.files("digest_sample").joinpath("papers.jsonl.gz")
    assert first.read_bytes() == bundled.read_bytes(), "re-run tools/build_sample_data.py"
