"""The ``huggingface`` source: daily-papers responses over a real local HTTP server.

It runs on the project's own fixtures (``tests/fixtures/hf_daily_papers``: invented papers in
the response shapes of 2024, 2025 and 2026, and a weekend's empty list) and, as an extra
layer, on the recorded responses in ``../shared/fixtures`` when that checkout is present
(parametrised ``recorded``; skipped with the reason otherwise).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import pytest

from digest import SourceError
from digest.models import Paper
from digest.testing import check_source, make_context, make_runtime
from digest_huggingface import HuggingFaceSource, parse_daily_papers, register_sources
from httpserver import FixtureServer, Reply, fixture_bytes, needs_recorded

API = "/api/daily_papers"
JSON_TYPE = {"Content-Type": "application/json"}


def source(tmp_path: Path, **config: object) -> HuggingFaceSource:
    return HuggingFaceSource(
        HuggingFaceSource.Config(**config),
        instance="hf",
        runtime=make_runtime(tmp_path),
    )


def at(day: str, hour: int = 9) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)


def collect(
    src: HuggingFaceSource, now: dt.datetime, state: dict[str, str] | None = None
) -> list[Paper]:
    return list(src.collect(make_context(now=now, state=state)))


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def day_file(day: str) -> str:
    return f"hf_daily_papers/{day}.json"


def read(day: str) -> bytes:
    return fixture_bytes(day_file(day))


# Exact expectations per response: the count and the first (most upvoted) paper.
OWN_DAYS: dict[str, dict[str, Any]] = {
    # 2024 shape: the item's own publishedAt is the listing time; no GitHub or AI fields.
    "2024-06-18": dict(
        count=5,
        id="arxiv:2406.91107",
        title="Token-Level Reward Shaping for Long-Form Question Answering",  # wrapped in JSON
        authors=6,
        first_author="Ikaika Kahananui",
        upvotes=47,
        comments=5,
        github=None,
        stars=None,
        listed="2024-06-18T00:41:07.812+00:00",
        published="2024-06-17T15:22:09+00:00",
    ),
    # 2025 shape: paper.submittedOnDailyAt is the listing time; the item's publishedAt
    # (2025-06-09T13:59:01) is the arXiv time shifted and must not be taken for it.
    "2025-06-11": dict(
        count=7,
        id="arxiv:2506.90388",
        title="Agents That Read the Manual: Tool Documentation as Retrieval Memory",
        authors=8,
        first_author="Valentina Greco",
        upvotes=61,
        comments=4,
        github="https://github.com/example-lab/manual-agents",
        stars=318,
        listed="2025-06-11T02:13:58.117+00:00",
        published="2025-06-09T17:59:01+00:00",
    ),
    "2026-03-03": dict(
        count=4,
        id="arxiv:2603.90141",
        title="WorldForge: A Benchmark Suite for Interactive Video World Models",
        authors=9,
        first_author="Ayodele Bamidele",
        upvotes=58,
        comments=3,
        github=None,
        stars=None,
        listed="2026-03-03T01:20:44.905+00:00",
        published="2026-03-02T18:59:12+00:00",
    ),
}

RECORDED_DAYS: dict[str, dict[str, Any]] = {
    "2024-07-02": dict(
        count=25,
        id="arxiv:2407.01284",
        title="We-Math: Does Your Large Multimodal Model Achieve Human-like Mathematical "
        "Reasoning?",
        authors=18,
        first_author="Runqi Qiao",
        upvotes=53,
        comments=3,
        github=None,
        stars=None,
        # In 2024 responses the item's own publishedAt was the listing time.
        listed="2024-07-02T00:09:36.337+00:00",
        published="2024-07-01T13:39:08+00:00",
    ),
    "2025-07-08": dict(
        count=16,
        id="arxiv:2507.03724",
        title="MemOS: A Memory OS for AI System",
        authors=39,
        first_author="Zhiyu Li",
        upvotes=53,
        comments=1,
        github="https://github.com/MemTensor/MemOS",
        stars=472,
        # Since 2025 it is paper.submittedOnDailyAt; the item's publishedAt (2025-07-04T13:21)
        # is a shifted copy of the arXiv time and must not be taken for the listing time.
        listed="2025-07-08T01:46:43.501+00:00",
        published="2025-07-04T17:21:46+00:00",
    ),
    "2026-02-24": dict(
        count=12,
        id="arxiv:2602.20159",
        title="A Very Big Video Reasoning Suite",
        authors=56,
        first_author="Maijunxian Wang",
        upvotes=53,
        comments=0,
        github=None,
        stars=None,
        listed="2026-02-24T01:14:31.428+00:00",
        published="2026-02-23T18:59:41+00:00",
    ),
}

EXPECTED = {**OWN_DAYS, **RECORDED_DAYS}
DAYS = [pytest.param(day, id=day) for day in sorted(OWN_DAYS)] + [
    pytest.param(day, id=f"recorded-{day}", marks=needs_recorded) for day in sorted(RECORDED_DAYS)
]


@dataclass(frozen=True)
class Layer:
    """Own fixtures or recorded responses, and what the multi-day tests rely on."""

    day_2025: str  # a 2025-shape response
    repo_without_stars: tuple[str, str]  # (arXiv id, repository) with no star count
    non_ascii: tuple[str, int, str]  # (day, author index, name) in the first paper
    older: str  # served for the day before ``newer`` in the two-day test
    newer: str
    older_first: str
    newer_first: str
    repeated: str  # served for each of three days
    min_upvotes_10: tuple[int, ...]  # upvotes kept by min_upvotes=10 on ``day_2025``


OWN = Layer(
    day_2025="2025-06-11",
    repo_without_stars=("2506.90527", "https://github.com/example-graphics/sketch2mesh"),
    non_ascii=("2026-03-03", 4, "Zsófia Kertész"),
    older="2024-06-18",
    newer="2025-06-11",
    older_first="2406.91107",
    newer_first="2506.90388",
    repeated="2026-03-03",
    min_upvotes_10=(61, 34, 22, 15),
)

RECORDED = Layer(
    day_2025="2025-07-08",
    repo_without_stars=("2507.05108", "https://github.com/SCUT-DLVCLab/AutoHDR"),
    non_ascii=("2026-02-24", 4, "Thaddäus Wiedemer"),
    older="2024-07-02",
    newer="2025-07-08",
    older_first="2407.01284",
    newer_first="2507.03724",
    repeated="2026-02-24",
    min_upvotes_10=(53, 26, 20, 18, 17, 11),
)

LAYERS = [
    pytest.param(OWN, id="own"),
    pytest.param(RECORDED, id="recorded", marks=needs_recorded),
]


def test_registers_the_source() -> None:
    assert register_sources() == [HuggingFaceSource]
    assert HuggingFaceSource.name == "huggingface"
    assert HuggingFaceSource.Config().url == "https://huggingface.co/api/daily_papers"


@pytest.mark.parametrize("day", DAYS)
def test_each_day_over_http(day: str, fixture_server: FixtureServer, tmp_path: Path) -> None:
    path = f"/{day_file(day)}"
    papers = collect(source(tmp_path, url=fixture_server.url(path)), at(day))
    want = EXPECTED[day]

    (request,) = fixture_server.hits(path)
    assert request.query == {"date": day}
    assert request.headers["accept"] == "application/json"
    assert len(papers) == want["count"]
    assert len({p.id for p in papers}) == want["count"]
    first = papers[0]
    assert str(first.id) == want["id"] and first.version is None
    assert first.title == want["title"] and "\n" not in first.title
    assert len(first.authors) == want["authors"]
    assert first.authors[0].name == want["first_author"]
    assert first.signals["hf.upvotes"] == want["upvotes"]
    assert first.signals["hf.comments"] == want["comments"]
    assert first.signals.get("hf.github_repo") == want["github"]
    assert first.code_url == want["github"]
    assert first.signals.get("hf.github_stars") == want["stars"]
    assert first.signals["hf.listed_at"] == utc(str(want["listed"])).isoformat()
    assert first.published == utc(str(want["published"]))
    # Listed on HF on the requested day, published on arXiv days earlier: both are kept.
    assert first.announced == dt.date.fromisoformat(day)
    assert first.published.date() < first.announced
    assert first.url == f"https://arxiv.org/abs/{first.id.value}"
    assert first.pdf_url == f"https://arxiv.org/pdf/{first.id.value}"
    assert first.sources == ("hf",)
    assert first.abstract and "\n" not in first.abstract
    assert all(p.announced == dt.date.fromisoformat(day) for p in papers)


@pytest.mark.parametrize("layer", LAYERS)
def test_every_field_of_a_2025_item(layer: Layer) -> None:
    content = read(layer.day_2025)
    parsed = parse_daily_papers(content, url="https://hf.test/api", source="hf")
    assert (parsed.incomplete, parsed.duplicates, parsed.below_threshold) == (0, 0, 0)
    by_id = {p.id.value: p for p in parsed.papers}
    raw = {item["paper"]["id"]: item for item in json.loads(content)}
    assert list(by_id) == list(raw)
    for arxiv_id, item in raw.items():
        paper, record = by_id[arxiv_id], item["paper"]
        assert [a.name for a in paper.authors] == [a["name"] for a in record["authors"]]
        assert paper.title == " ".join(record["title"].split())
        assert paper.abstract == " ".join(record["summary"].split())
        assert paper.signals["hf.upvotes"] == record["upvotes"]
        assert paper.signals["hf.comments"] == item["numComments"]
        assert paper.signals["hf.listed_at"] == utc(record["submittedOnDailyAt"]).isoformat()
        assert paper.published == utc(record["publishedAt"])
        if record.get("ai_keywords"):
            # Commas inside a keyword would read as separators later: they become spaces.
            kept = [k.replace(",", " ").strip() for k in record["ai_keywords"]]
            assert paper.signals["hf.keywords"] == ", ".join(kept)
        else:
            assert "hf.keywords" not in paper.signals
        assert paper.code_url == record.get("githubRepo")
        assert paper.signals.get("hf.github_stars") == record.get("githubStars")
        # Without a listing date, the day of the listing time is the announcement day.
        assert paper.announced == utc(record["submittedOnDailyAt"]).date()
    # A repository with no recorded star count has no stars signal (not 0).
    arxiv_id, repo = layer.repo_without_stars
    assert by_id[arxiv_id].code_url == repo
    assert "hf.github_stars" not in by_id[arxiv_id].signals


def test_own_2025_items_exactly() -> None:
    parsed = parse_daily_papers(read("2025-06-11"), url="https://hf.test/api", source="hf")
    papers = {p.id.value: p for p in parsed.papers}
    agents = papers["2506.90388"]
    # An author whose HF profile is hidden is still an author; the order is kept.
    assert [a.name for a in agents.authors][:4] == [
        "Valentina Greco",
        "Hiroshi Tanabe",
        "Amara Diallo",
        "Kieran O'Donnell",
    ]
    assert dict(agents.signals) == {
        "hf.upvotes": 61,
        "hf.listed_at": "2025-06-11T02:13:58.117000+00:00",
        "hf.github_repo": "https://github.com/example-lab/manual-agents",
        "hf.github_stars": 318,
        "hf.keywords": "tool-using agents, retrieval memory, tool documentation, "
        "command-line tools",
        "hf.comments": 4,
        "thumbnail": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2506.90388.png",
    }
    assert agents.abstract.startswith("Tool-using agents fail on tools they were not trained on.")
    # A keyword with a comma in it stays one keyword.
    needles = str(papers["2506.90611"].signals["hf.keywords"]).split(", ")
    assert [" ".join(k.split()) for k in needles] == [
        "long-context evaluation",
        "needle-in-a-haystack",
        "multi-hop long-range reasoning",
    ]
    # An empty keyword list, and none at all, give no keywords signal; 0 upvotes is a count.
    assert "hf.keywords" not in papers["2506.90700"].signals
    survey = papers["2506.90955"]
    assert "hf.keywords" not in survey.signals and survey.signals["hf.upvotes"] == 0
    assert survey.code_url is None and [a.name for a in survey.authors] == ["Ana Sofía Quiroga"]


def test_own_2024_items_take_the_listing_time_from_the_item() -> None:
    parsed = parse_daily_papers(read("2024-06-18"), url="https://hf.test/api", source="hf")
    first = parsed.papers[0]
    assert first.title == "Token-Level Reward Shaping for Long-Form Question Answering"
    # The item's "summary" is null in 2024 responses: the paper's summary is the abstract.
    assert first.abstract.startswith("We assign rewards to individual tokens of long answers")
    assert dict(first.signals) == {
        "hf.upvotes": 47,
        "hf.listed_at": "2024-06-18T00:41:07.812000+00:00",
        "hf.comments": 5,
        "thumbnail": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2406.91107.png",
    }
    assert first.announced == dt.date(2024, 6, 18) and first.code_url is None
    assert [p.signals["hf.upvotes"] for p in parsed.papers] == [47, 31, 18, 9, 4]
    assert all("hf.github_repo" not in p.signals for p in parsed.papers)


@pytest.mark.parametrize("layer", LAYERS)
def test_non_ascii_author_names_survive(layer: Layer) -> None:
    day, index, name = layer.non_ascii
    parsed = parse_daily_papers(read(day), url="u")
    assert parsed.papers[0].authors[index].name == name


def test_an_html_page_with_200_is_an_error_naming_the_url(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    page = b"<!DOCTYPE html><html><body><h1>We'll be right back</h1></body></html>"
    fixture_server.route(API, Reply(body=page, headers={"Content-Type": "text/html"}))
    with pytest.raises(SourceError, match="HTML") as error:
        collect(source(tmp_path, url=fixture_server.url(API)), at("2025-07-08"))
    assert fixture_server.url(API) in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'[{"paper": {"id": "2507.03724", "title": "x"', "invalid JSON"),
        (b'{"error": "Invalid date format"}', "error: Invalid date format"),
        (b'{"papers": []}', "got a JSON dict"),
        (b"", "empty response"),
        (b"\xff\xfe garbage", "invalid JSON"),
    ],
)
def test_bodies_that_are_not_a_json_list_are_errors(
    body: bytes, message: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(API, Reply(body=body, headers={"Content-Type": "application/json"}))
    with pytest.raises(SourceError, match=message) as error:
        collect(source(tmp_path, url=fixture_server.url(API)), at("2025-07-08"))
    assert str(error.value).startswith(fixture_server.url(API))


def test_an_empty_list_is_zero_papers_not_an_error(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    # Weekends: HF answers [] for a day nobody listed papers on.
    fixture_server.route(API, Reply(body=b"[]", headers={"Content-Type": "application/json"}))
    assert collect(source(tmp_path, url=fixture_server.url(API)), at("2025-07-05")) == []


def test_an_http_error_fails_the_source_with_the_url(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(API, Reply(status=500, body=b"boom"))
    with pytest.raises(SourceError, match="HTTP 500") as error:
        collect(source(tmp_path, url=fixture_server.url(API)), at("2025-07-08"))
    assert fixture_server.url(API) in str(error.value)


def test_a_weekend_day_with_no_papers_is_an_empty_result(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(API, Reply(body=day_file("2025-06-14_weekend"), headers=JSON_TYPE))
    assert collect(source(tmp_path, url=fixture_server.url(API)), at("2025-06-14")) == []
    (request,) = fixture_server.hits(API)
    assert request.query == {"date": "2025-06-14"}


@pytest.mark.parametrize("layer", LAYERS)
def test_second_run_gets_304_and_collects_nothing(
    layer: Layer, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    path = f"/{day_file(layer.day_2025)}"
    src = source(tmp_path, url=fixture_server.url(path))
    first = make_context(now=at(layer.day_2025))
    assert len(list(src.collect(first))) == EXPECTED[layer.day_2025]["count"]
    assert first.pending_state  # the validators, saved for the next run

    second = make_context(now=at(layer.day_2025, 15), state=first.pending_state)
    assert list(src.collect(second)) == []
    last = fixture_server.hits(path)[-1]
    assert last.headers["if-none-match"]


@pytest.mark.parametrize("layer", LAYERS)
def test_days_2_asks_for_two_dates_oldest_first(
    layer: Layer, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    today = dt.date.fromisoformat(layer.newer)
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    fixture_server.route(
        API, Reply(body=day_file(layer.older), headers=JSON_TYPE), query={"date": yesterday}
    )
    fixture_server.route(
        API, Reply(body=day_file(layer.newer), headers=JSON_TYPE), query={"date": layer.newer}
    )
    src = source(tmp_path, url=fixture_server.url(API), days=2)
    papers = collect(src, at(layer.newer, 23))

    assert [r.query["date"] for r in fixture_server.hits(API)] == [yesterday, layer.newer]
    assert len(papers) == EXPECTED[layer.older]["count"] + EXPECTED[layer.newer]["count"]
    days = {p.id.value: p.announced for p in papers}
    assert days[layer.older_first] == today - dt.timedelta(days=1)  # the requested listing day
    assert days[layer.newer_first] == today


@pytest.mark.parametrize("layer", LAYERS)
def test_a_paper_listed_on_two_days_is_collected_once(
    layer: Layer, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(API, Reply(body=day_file(layer.repeated)))
    src = source(tmp_path, url=fixture_server.url(API), days=3)
    papers = collect(src, at(layer.repeated))
    assert len(fixture_server.hits(API)) == 3
    assert len(papers) == EXPECTED[layer.repeated]["count"]
    first_day = dt.date.fromisoformat(layer.repeated) - dt.timedelta(days=2)
    assert {p.announced for p in papers} == {first_day}  # the first listing wins


def test_the_listing_day_is_the_utc_date_of_the_run(tmp_path: Path) -> None:
    src = source(tmp_path, days=2)
    # 23:30 in New York on 7 July is already 8 July in UTC.
    new_york = dt.timezone(dt.timedelta(hours=-4))
    now = dt.datetime(2025, 7, 7, 23, 30, tzinfo=new_york)
    assert src.dates(now) == [dt.date(2025, 7, 7), dt.date(2025, 7, 8)]


def test_incomplete_items_are_skipped_and_duplicates_dropped() -> None:
    good = {"paper": {"id": "2507.00001", "title": "Good", "upvotes": 3}, "numComments": 0}
    body = json.dumps(
        [
            good,
            good,  # the same paper twice in one response
            {"paper": {"id": "not-an-arxiv-id", "title": "No id"}},
            {"paper": {"id": "2507.00002", "title": "  "}},
            {"paper": {"title": "Missing id"}},
            {"title": "no paper record"},
            "a string",
            {"paper": {"id": "2507.00003v2", "title": "Versioned\nand wrapped", "upvotes": True}},
        ]
    ).encode()
    parsed = parse_daily_papers(body, url="https://hf.test/api")
    assert [str(p.id) for p in parsed.papers] == ["arxiv:2507.00001", "arxiv:2507.00003"]
    assert parsed.incomplete == 5 and parsed.duplicates == 1
    versioned = parsed.papers[1]
    assert versioned.title == "Versioned and wrapped" and versioned.version == 2
    assert "hf.upvotes" not in versioned.signals  # true is not a count


@pytest.mark.parametrize("layer", LAYERS)
def test_min_upvotes_filters(layer: Layer, fixture_server: FixtureServer, tmp_path: Path) -> None:
    url = fixture_server.url(f"/{day_file(layer.day_2025)}")
    papers = collect(source(tmp_path, url=url, min_upvotes=10), at(layer.day_2025))
    assert tuple(p.signals["hf.upvotes"] for p in papers) == layer.min_upvotes_10


def test_min_upvotes_counts_what_it_left_out() -> None:
    parsed = parse_daily_papers(read("2025-06-11"), url="u", min_upvotes=10)
    assert (len(parsed.papers), parsed.below_threshold) == (4, 3)


@pytest.mark.parametrize(
    "config",
    [{"url": "file:///etc/passwd"}, {"days": 0}, {"min_upvotes": -1}, {"limit": 5}],
)
def test_bad_config_is_rejected_before_any_request(config: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        HuggingFaceSource.Config(**config)


@pytest.mark.parametrize("layer", LAYERS)
def test_keeps_the_source_contract(
    layer: Layer, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    src = source(tmp_path, url=fixture_server.url(f"/{day_file(layer.day_2025)}"))
    papers = check_source(src, context=make_context(now=at(layer.day_2025)))
    assert len(papers) == EXPECTED[layer.day_2025]["count"]
