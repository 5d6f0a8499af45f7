"""The ``huggingface`` source: recorded daily-papers responses over a real local HTTP server."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pydantic
import pytest

from digest import SourceError
from digest.models import Paper
from digest.testing import check_source, make_context, make_runtime
from digest_huggingface import HuggingFaceSource, parse_daily_papers, register_sources
from httpserver import FIXTURES, FixtureServer, Reply, needs_fixtures

pytestmark = needs_fixtures

HF = FIXTURES / "hf_daily_papers"
API = "/api/daily_papers"


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


# Exact expectations per recorded response: the count and the first (most upvoted) paper.
EXPECTED = {
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


def test_registers_the_source() -> None:
    assert register_sources() == [HuggingFaceSource]
    assert HuggingFaceSource.name == "huggingface"
    assert HuggingFaceSource.Config().url == "https://huggingface.co/api/daily_papers"


@pytest.mark.parametrize("day", sorted(EXPECTED))
def test_each_recorded_day_over_http(
    day: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    path = f"/hf_daily_papers/{day}.json"
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


def test_every_field_of_a_2025_item(tmp_path: Path) -> None:
    content = (HF / "2025-07-08.json").read_bytes()
    parsed = parse_daily_papers(content, url="https://hf.test/api", source="hf")
    by_id = {p.id.value: p for p in parsed.papers}
    raw = {item["paper"]["id"]: item for item in json.loads(content)}
    for arxiv_id, item in raw.items():
        paper, record = by_id[arxiv_id], item["paper"]
        assert [a.name for a in paper.authors] == [a["name"] for a in record["authors"]]
        assert paper.signals["hf.upvotes"] == record["upvotes"]
        if record.get("ai_keywords"):
            assert paper.signals["hf.keywords"] == ", ".join(record["ai_keywords"])
        else:
            assert "hf.keywords" not in paper.signals
        assert paper.code_url == record.get("githubRepo")
        # Without a listing date, the day of the listing time is the announcement day.
        assert paper.announced == dt.date(2025, 7, 8)
    # A repository with no recorded star count has no stars signal (not 0).
    autohdr = by_id["2507.05108"]
    assert autohdr.code_url == "https://github.com/SCUT-DLVCLab/AutoHDR"
    assert "hf.github_stars" not in autohdr.signals


def test_non_ascii_author_names_survive() -> None:
    parsed = parse_daily_papers((HF / "2026-02-24.json").read_bytes(), url="u")
    assert parsed.papers[0].authors[4].name == "Thaddäus Wiedemer"


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


def test_second_run_gets_304_and_collects_nothing(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    path = "/hf_daily_papers/2025-07-08.json"
    src = source(tmp_path, url=fixture_server.url(path))
    first = make_context(now=at("2025-07-08"))
    assert len(list(src.collect(first))) == 16
    assert first.pending_state  # the validators, saved for the next run

    second = make_context(now=at("2025-07-08", 15), state=first.pending_state)
    assert list(src.collect(second)) == []
    last = fixture_server.hits(path)[-1]
    assert last.headers["if-none-match"]


def test_days_2_asks_for_two_dates_oldest_first(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    json_type = {"Content-Type": "application/json"}
    fixture_server.route(
        API,
        Reply(body="hf_daily_papers/2024-07-02.json", headers=json_type),
        query={"date": "2025-07-07"},
    )
    fixture_server.route(
        API,
        Reply(body="hf_daily_papers/2025-07-08.json", headers=json_type),
        query={"date": "2025-07-08"},
    )
    papers = collect(source(tmp_path, url=fixture_server.url(API), days=2), at("2025-07-08", 23))

    assert [r.query["date"] for r in fixture_server.hits(API)] == ["2025-07-07", "2025-07-08"]
    assert len(papers) == 25 + 16
    days = {p.id.value: p.announced for p in papers}
    assert days["2407.01284"] == dt.date(2025, 7, 7)  # the requested listing day
    assert days["2507.03724"] == dt.date(2025, 7, 8)


def test_a_paper_listed_on_two_days_is_collected_once(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(API, Reply(body="hf_daily_papers/2026-02-24.json"))
    papers = collect(source(tmp_path, url=fixture_server.url(API), days=3), at("2026-02-24"))
    assert len(fixture_server.hits(API)) == 3
    assert len(papers) == 12
    assert {p.announced for p in papers} == {dt.date(2026, 2, 22)}  # the first listing wins


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


def test_min_upvotes_filters(fixture_server: FixtureServer, tmp_path: Path) -> None:
    url = fixture_server.url("/hf_daily_papers/2025-07-08.json")
    papers = collect(source(tmp_path, url=url, min_upvotes=10), at("2025-07-08"))
    assert [p.signals["hf.upvotes"] for p in papers] == [53, 26, 20, 18, 17, 11]


@pytest.mark.parametrize(
    "config",
    [{"url": "file:///etc/passwd"}, {"days": 0}, {"min_upvotes": -1}, {"limit": 5}],
)
def test_bad_config_is_rejected_before_any_request(config: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        HuggingFaceSource.Config(**config)


def test_keeps_the_source_contract(fixture_server: FixtureServer, tmp_path: Path) -> None:
    src = source(tmp_path, url=fixture_server.url("/hf_daily_papers/2025-07-08.json"))
    papers = check_source(src, context=make_context(now=at("2025-07-08")))
    assert len(papers) == 16
