"""The ``biorxiv`` source: the bioRxiv/medRxiv ``details`` API over a real local HTTP server.

Fixtures (``tests/fixtures/biorxiv``) are hand-written replies about invented preprints in the
documented shape of ``api.biorxiv.org/details/{server}/{from}/{to}/{cursor}/json``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
import pytest

from digest import SourceError, readable
from digest.components import CollectContext
from digest.fetch import Fetcher, FetchPolicy, HostLimit, SourceHTTP
from digest.models import Paper
from digest.testing import check_source, make_context, make_runtime
from digest_biorxiv import BiorxivSource, parse_details, register_sources
from digest_biorxiv.text import html_text
from httpserver import FixtureServer, Reply, Request

JSON_TYPE = {"Content-Type": "application/json"}
NOW = dt.datetime(2025, 6, 11, 7, 30, tzinfo=dt.UTC)
DAY = "/details/biorxiv/2025-06-09/2025-06-11"  # days=2 back from NOW


@dataclass(slots=True)
class PacedHTTP(SourceHTTP):
    """``context.http`` that records what the source asked ``pace`` for."""

    paced: list[tuple[str, float, int]] = field(default_factory=list)

    def pace(self, host: str, *, interval: float, connections: int = 1) -> None:
        self.paced.append((host, interval, connections))
        SourceHTTP.pace(self, host, interval=interval, connections=connections)


def fast_context(now: dt.datetime = NOW) -> tuple[CollectContext, PacedHTTP]:
    """A context whose operator config lets 127.0.0.1 go unpaced (``[fetch.hosts]`` wins over
    the source's 1 s), recording the source's ``pace`` request."""
    fetcher = Fetcher(
        FetchPolicy(
            allow=("127.0.0.0/8",),
            retries=2,
            backoff=0.05,
            max_retry_wait=5.0,
            hosts={"127.0.0.1": HostLimit(interval=0.0, connections=4)},
        )
    )
    context = CollectContext(now=now, state={})
    http = PacedHTTP(fetcher, context.state, context.save)
    context.http = http
    return context, http


def source(api: FixtureServer, tmp_path: Path, **config: Any) -> BiorxivSource:
    return BiorxivSource(
        BiorxivSource.Config(url=api.url(""), **config),
        instance="bio",
        runtime=make_runtime(tmp_path),
    )


def serve(server: FixtureServer, path: str, fixture: str) -> None:
    server.route(path, Reply(body=f"biorxiv/{fixture}", headers=JSON_TYPE))


def collect(src: BiorxivSource, now: dt.datetime = NOW) -> tuple[list[Paper], CollectContext]:
    context, _ = fast_context(now)
    return list(src.collect(context)), context


def by_id(papers: list[Paper]) -> dict[str, Paper]:
    return {str(p.id): p for p in papers}


def test_registers_the_source() -> None:
    assert register_sources() == [BiorxivSource]
    config = BiorxivSource.Config()
    assert BiorxivSource.name == "biorxiv" and config.url == "https://api.biorxiv.org"
    assert (config.server, config.categories, config.days) == ("biorxiv", [], 2)


def test_a_normal_day(fixture_server: FixtureServer, tmp_path: Path) -> None:
    path = f"{DAY}/0/json"
    serve(fixture_server, path, "biorxiv_2025-06-09_2025-06-11_cursor0.json")
    papers, context = collect(source(fixture_server, tmp_path))

    (request,) = fixture_server.hits(path)
    assert request.query == {} and request.headers["accept"] == "application/json"
    # 6 records: two versions of one preprint, one without a title, one without a DOI.
    assert [str(p.id) for p in papers] == [
        "doi:10.1101/2025.06.09.990101",
        "doi:10.1101/2025.05.20.990202",
        "doi:10.1101/2025.06.10.990303",
    ]
    assert context.warnings == [
        f"{fixture_server.url(path)}: 2 records without a DOI or title skipped"
    ]
    first = papers[0]
    assert first.title == (
        "Dendritic plateau potentials gate place-field formation in hippocampal CA1"
    )
    assert [a.name for a in first.authors] == [
        "I. Kahananui",
        "J. A. van der Berg",
        "K. O'Donnell",
        "Z. Kertész",
    ]
    assert first.abstract.startswith("Place fields in CA1 appear abruptly. We show that")
    assert first.doi == "10.1101/2025.06.09.990101" and first.version == 1
    assert first.url == "https://www.biorxiv.org/content/10.1101/2025.06.09.990101v1"
    assert first.pdf_url == "https://www.biorxiv.org/content/10.1101/2025.06.09.990101v1.full.pdf"
    assert first.categories == ("neuroscience",)
    assert first.announced == dt.date(2025, 6, 9)
    assert first.published == dt.datetime(2025, 6, 9, tzinfo=dt.UTC) and first.updated is None
    assert first.aliases == ()  # "published": "NA"
    assert first.sources == ("bio",)
    assert dict(first.signals) == {
        "biorxiv.server": "biorxiv",
        "biorxiv.type": "new results",
        "biorxiv.license": "cc_by",
    }


def test_the_newest_version_wins_and_the_journal_doi_is_an_alias(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve(fixture_server, f"{DAY}/0/json", "biorxiv_2025-06-09_2025-06-11_cursor0.json")
    papers, _ = collect(source(fixture_server, tmp_path))
    plant = by_id(papers)["doi:10.1101/2025.05.20.990202"]
    # v1 came first in the reply; v2 is the one kept, with its own text and links.
    assert plant.version == 2
    assert plant.title == (
        "Auxin transport defects in a swollen-leaf mutant of Arabidopsis thaliana & their rescue"
    )
    assert plant.abstract == (
        "Leaves of the swl1 mutant swell at the margin. Auxin levels <50% of wild type and an "
        "H2O2 burst explain the phenotype; exogenous auxin rescues it."
    )
    assert [a.name for a in plant.authors] == ["V. Greco", "H. Tanabe", "A. Diallo"]
    assert plant.url == "https://www.biorxiv.org/content/10.1101/2025.05.20.990202v2"
    assert plant.pdf_url == plant.url + ".full.pdf"
    assert plant.updated == dt.datetime(2025, 6, 10, tzinfo=dt.UTC) and plant.published is None
    assert plant.signals["biorxiv.license"] == "cc_by_nc_nd"
    # The journal version (e.g. from crossref) is the same work: it merges into this paper.
    assert plant.aliases == ("doi:10.5555/invented.plants.2025.0417",)
    assert plant.doi == "10.1101/2025.05.20.990202"


def test_latex_is_kept_for_the_renderers_to_show(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve(fixture_server, f"{DAY}/0/json", "biorxiv_2025-06-09_2025-06-11_cursor0.json")
    papers, _ = collect(source(fixture_server, tmp_path))
    soil = by_id(papers)["doi:10.1101/2025.06.10.990303"]
    assert soil.title == "Scaling of $\\alpha$-diversity with sampling depth in soil metagenomes"
    assert readable(soil.title) == "Scaling of α-diversity with sampling depth in soil metagenomes"
    assert soil.signals["biorxiv.type"] == "confirmatory results"


def test_pages_by_cursor_within_a_category(fixture_server: FixtureServer, tmp_path: Path) -> None:
    serve(fixture_server, f"{DAY}/0/json", "neuroscience_cursor0.json")
    serve(fixture_server, f"{DAY}/3/json", "neuroscience_cursor3.json")
    src = source(fixture_server, tmp_path, categories=["Neuroscience"])
    papers, context = collect(src)

    pages = [r for r in fixture_server.requests if r.path.startswith(DAY)]
    assert [r.path for r in pages] == [f"{DAY}/0/json", f"{DAY}/3/json"]
    assert all(r.query == {"category": "neuroscience"} for r in pages)
    assert len(papers) == 4 and context.warnings == []
    # v2 on the first page, v3 on the second: one paper, the newest version.
    waves = by_id(papers)["doi:10.1101/2025.04.02.990533"]
    assert waves.version == 3
    assert waves.title == "Cortical traveling waves persist under propofol anaesthesia"
    assert waves.aliases == ("doi:10.5555/invented.neuro.2025.1188",)


def test_each_category_is_asked_on_its_own(fixture_server: FixtureServer, tmp_path: Path) -> None:
    fixture_server.route(
        f"{DAY}/0/json",
        Reply(body="biorxiv/no_posts_found.json", headers=JSON_TYPE),
        query={"category": "cell_biology"},
    )
    fixture_server.route(
        f"{DAY}/0/json",
        Reply(body="biorxiv/biorxiv_2025-06-09_2025-06-11_cursor0.json", headers=JSON_TYPE),
        query={"category": "plant_biology"},
    )
    src = source(
        fixture_server, tmp_path, categories=["cell biology", " Plant_Biology", "cell_biology"]
    )
    assert src.config.categories == ["cell_biology", "plant_biology"]
    papers, _ = collect(src)
    asked = [r.query["category"] for r in fixture_server.hits(f"{DAY}/0/json")]
    assert asked == ["cell_biology", "plant_biology"]
    assert len(papers) == 3


def test_max_results_stops_paging_with_a_warning(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve(fixture_server, f"{DAY}/0/json", "neuroscience_cursor0.json")
    src = source(fixture_server, tmp_path, categories=["neuroscience"], max_results=2)
    papers, context = collect(src)
    assert len(fixture_server.hits(f"{DAY}/0/json")) == 1
    assert not fixture_server.hits(f"{DAY}/2/json") and not fixture_server.hits(f"{DAY}/3/json")
    assert [str(p.id) for p in papers] == [
        "doi:10.1101/2025.06.09.990511",
        "doi:10.1101/2025.06.09.990522",
    ]
    url = fixture_server.url(f"{DAY}/0/json?category=neuroscience")
    assert context.warnings == [f"{url}: stopped paging at max_results=2 of 5 records"]


def test_max_results_on_a_page_boundary(fixture_server: FixtureServer, tmp_path: Path) -> None:
    serve(fixture_server, f"{DAY}/0/json", "neuroscience_cursor0.json")
    src = source(fixture_server, tmp_path, categories=["neuroscience"], max_results=3)
    papers, context = collect(src)
    assert len(papers) == 3 and len(context.warnings) == 1
    assert "max_results=3 of 5" in context.warnings[0]


def test_an_interval_without_posts_is_an_empty_result(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve(fixture_server, f"{DAY}/0/json", "no_posts_found.json")
    papers, context = collect(source(fixture_server, tmp_path))
    assert papers == [] and context.warnings == []
    assert len(fixture_server.hits(f"{DAY}/0/json")) == 1


def test_medrxiv_papers_link_to_medrxiv(fixture_server: FixtureServer, tmp_path: Path) -> None:
    path = "/details/medrxiv/2025-06-10/2025-06-11/0/json"
    serve(fixture_server, path, "medrxiv_2025-06-10_2025-06-11_cursor0.json")
    papers, _ = collect(source(fixture_server, tmp_path, server="medrxiv", days=1))
    assert len(fixture_server.hits(path)) == 1
    trial, sero = papers
    assert trial.url == "https://www.medrxiv.org/content/10.1101/2025.06.10.25990601v1"
    assert trial.pdf_url == trial.url + ".full.pdf"
    assert trial.categories == ("health systems and quality improvement",)
    assert [a.name for a in trial.authors] == ["F. Achterberg", "E. K. Mensah", "L. Ortiz-Ruiz"]
    # The record writes "medRxiv": the server signal is the API's lower-case name.
    assert sero.signals["biorxiv.server"] == "medrxiv"
    assert sero.url == "https://www.medrxiv.org/content/10.1101/2025.06.11.25990602v1"


def test_a_server_error_fails_with_the_url(fixture_server: FixtureServer, tmp_path: Path) -> None:
    path = f"{DAY}/0/json"
    fixture_server.route(path, Reply(status=500, body=b"Internal Server Error"))
    with pytest.raises(SourceError, match="HTTP 500") as error:
        collect(source(fixture_server, tmp_path))
    assert str(error.value).startswith(fixture_server.url(path))
    assert len(fixture_server.hits(path)) == 1  # a 500 is not retried


def test_an_api_error_reply_is_one_line_with_the_api_s_message(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    path = f"{DAY}/0/json"
    body = {"messages": [{"status": "Category 'neurosciense' is not valid"}], "collection": []}
    fixture_server.route(path, Reply(status=400, body=json.dumps(body).encode(), headers=JSON_TYPE))
    with pytest.raises(SourceError) as error:
        collect(source(fixture_server, tmp_path, categories=["neurosciense"]))
    url = fixture_server.url(f"{path}?category=neurosciense")
    assert str(error.value) == (f"{url}: the API answered: Category 'neurosciense' is not valid")


def test_an_error_status_with_200_is_an_error(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    path = f"{DAY}/0/json"
    body = b'{"messages": [{"status": "Error: interval too large"}], "collection": []}'
    fixture_server.route(path, Reply(body=body, headers=JSON_TYPE))
    with pytest.raises(SourceError, match="the API answered: error: interval too large"):
        collect(source(fixture_server, tmp_path))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<!DOCTYPE html><html><body>Down for maintenance</body></html>", "HTML/XML page"),
        (b'{"messages": [{"status": "ok"', "invalid JSON"),
        (b"[]", "got a JSON list"),
        (b'{"collection": []}', "no 'messages' block"),
        (b'{"messages": [], "collection": []}', "no 'messages' block"),
        (b'{"messages": [{"status": "ok"}], "collection": {}}', "'collection' is not a list"),
        (b'{"messages": [{}], "collection": []}', "the API answered: no status"),
        (b"  ", "empty response"),
    ],
)
def test_replies_that_are_not_the_documented_json_are_errors(
    body: bytes, message: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    path = f"{DAY}/0/json"
    fixture_server.route(path, Reply(body=body, headers=JSON_TYPE))
    with pytest.raises(SourceError, match=message) as error:
        collect(source(fixture_server, tmp_path))
    assert str(error.value).startswith(fixture_server.url(path))
    assert "\n" not in str(error.value)


def test_an_http_error_without_the_api_s_json_keeps_the_fetch_error(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    path = f"{DAY}/0/json"
    for body in (b"<html>Bad Request</html>", b'{"messages": [{"status": " "}]}', b"[1]"):
        fixture_server.route(path, Reply(status=400, body=body))
        with pytest.raises(SourceError, match="HTTP 400 Bad Request"):
            collect(source(fixture_server, tmp_path))


def test_a_rate_limit_answer_is_retried_and_requests_are_paced(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    path = f"{DAY}/0/json"
    replies = [
        Reply(status=429, body=b"slow down", headers={"Retry-After": "1"}),
        Reply(body="biorxiv/biorxiv_2025-06-09_2025-06-11_cursor0.json", headers=JSON_TYPE),
    ]

    def answer(_request: Request) -> Reply:
        return replies.pop(0)

    fixture_server.route(path, answer)
    context, http = fast_context()
    papers = list(source(fixture_server, tmp_path).collect(context))
    first, second = fixture_server.hits(path)
    assert second.at - first.at >= 0.9  # Retry-After: 1 was honoured
    assert len(papers) == 3
    assert http.paced == [("127.0.0.1", 1.0, 1)]  # one request a second, one at a time


def test_the_pace_spaces_pages_when_the_operator_sets_nothing(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve(fixture_server, f"{DAY}/0/json", "neuroscience_cursor0.json")
    serve(fixture_server, f"{DAY}/3/json", "neuroscience_cursor3.json")
    src = source(fixture_server, tmp_path, categories=["neuroscience"])
    papers = list(src.collect(make_context(now=NOW)))  # no [fetch.hosts] override
    first, second = (r for r in fixture_server.requests if r.path.startswith(DAY))
    assert second.at - first.at >= 0.95 and len(papers) == 4


def test_the_interval_ends_on_the_run_s_utc_date(tmp_path: Path) -> None:
    src = BiorxivSource(BiorxivSource.Config(days=3), instance="b", runtime=make_runtime(tmp_path))
    # 22:30 in New York on 10 June is already 11 June in UTC.
    new_york = dt.timezone(dt.timedelta(hours=-4))
    assert src.interval(dt.datetime(2025, 6, 10, 22, 30, tzinfo=new_york)) == (
        dt.date(2025, 6, 8),
        dt.date(2025, 6, 11),
    )
    assert src.interval(dt.datetime(2025, 6, 10, 22, 30)) == (  # naive: taken as UTC
        dt.date(2025, 6, 7),
        dt.date(2025, 6, 10),
    )


def test_parse_details_on_its_own() -> None:
    records = [
        {"doi": "10.1101/2025.06.01.990001", "title": "Short page", "version": 1},
        {"doi": "https://doi.org/10.1101/2025.06.01.990002", "title": "B", "version": "x"},
        {"doi": "10.1101/2025.06.01.990003", "title": "C", "date": "11 June", "server": "x"},
        "not a record",
        {"doi": 101, "title": "D"},
        {"doi": "10.1101/2025.06.01.990004", "title": "E", "version": True},
    ]
    body = json.dumps({"messages": [{"status": "OK"}], "collection": records}).encode()
    page = parse_details(body, url="u", server="medrxiv")
    assert (page.records, page.total, page.skipped) == (6, None, 2)
    one, two, three, four = page.papers
    assert four.version is None  # true is not a version
    assert two.doi == "10.1101/2025.06.01.990002" and two.version is None
    assert two.url == "https://www.medrxiv.org/content/10.1101/2025.06.01.990002"
    assert two.published is None and two.updated is None and two.categories == ()
    assert three.announced is None and three.signals == {"biorxiv.server": "medrxiv"}
    assert one.authors == () and one.abstract == ""
    limited = parse_details(body, url="u", limit=1)
    assert (limited.records, len(limited.papers)) == (1, 1)


def test_a_short_page_without_a_total_is_the_last(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    body = {
        "messages": [{"status": "ok", "count": 1}],
        "collection": [{"doi": "10.1101/2025.06.10.990777", "title": "Alone", "version": "1"}],
    }
    fixture_server.route(f"{DAY}/0/json", Reply(body=json.dumps(body).encode(), headers=JSON_TYPE))
    papers, _ = collect(source(fixture_server, tmp_path))
    assert [p.title for p in papers] == ["Alone"]
    assert [r.path for r in fixture_server.requests] == [f"{DAY}/0/json"]


def test_an_empty_collection_stops_paging(fixture_server: FixtureServer, tmp_path: Path) -> None:
    body = b'{"messages": [{"status": "ok", "count": 0, "total": 9}], "collection": []}'
    fixture_server.route(f"{DAY}/0/json", Reply(body=body, headers=JSON_TYPE))
    papers, _ = collect(source(fixture_server, tmp_path))
    assert papers == [] and len(fixture_server.requests) == 1


@pytest.mark.parametrize(
    ("fragment", "text"),
    [
        ("<i>In vivo</i> imaging &amp; H<sub>2</sub>O", "In vivo imaging & H2O"),
        ("Effects of x < 5 mM &lt;i&gt;", "Effects of x < 5 mM <i>"),
        ("<p>One.</p><p>Two.</p>", "One. Two."),
        ("A<!-- a comment -->B<script>alert(1)</script>C", "ABC"),
        ("plain\n  text", "plain text"),
        ("&nbsp;", ""),
        ("<html></html>A &amp; B", "A & B"),  # lxml cannot take this one
        (None, ""),
    ],
)
def test_html_text(fragment: object, text: str) -> None:
    assert html_text(fragment) == text


@pytest.mark.parametrize(
    "config",
    [
        {"server": "arxiv"},
        {"categories": ["neuro-science"]},
        {"categories": [""]},
        {"days": 0},
        {"max_results": 0},
        {"url": "ftp://api.biorxiv.org"},
        {"interval": 1},
    ],
)
def test_bad_config_is_rejected_before_any_request(config: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        BiorxivSource.Config(**config)


def test_keeps_the_source_contract(fixture_server: FixtureServer, tmp_path: Path) -> None:
    serve(fixture_server, f"{DAY}/0/json", "biorxiv_2025-06-09_2025-06-11_cursor0.json")
    context, _ = fast_context()
    papers = check_source(source(fixture_server, tmp_path), context=context)
    assert len(papers) == 3
