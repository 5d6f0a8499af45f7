"""The ``crossref`` source: Crossref's ``/journals/{issn}/works`` over a real local HTTP server.

Fixtures (``tests/fixtures/crossref``) are hand-written replies about invented works (DOIs
under the 10.5555 test prefix, invented ISSNs 9999-xxxx) in the documented shape of the
Crossref REST API. The last test runs ``biorxiv`` and ``crossref`` in one pipeline: a preprint
and its journal version are stored as one paper.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
import pytest
import sqlalchemy as sa

from digest import SourceError, readable
from digest.application import Application
from digest.components import CollectContext
from digest.fetch import Fetcher, FetchPolicy, HostLimit, SourceHTTP
from digest.models import Paper
from digest.pipeline import RunOptions
from digest.store import papers as papers_table
from digest.testing import check_source, make_context, make_runtime
from digest_crossref import (
    CrossrefSource,
    api_error_message,
    jats_text,
    parse_works,
    register_sources,
)
from httpserver import FixtureServer, Reply, Request

JSON_TYPE = {"Content-Type": "application/json"}
NOW = dt.datetime(2025, 6, 11, 7, 30, tzinfo=dt.UTC)
ISSN = "9999-0019"
OTHER = "9999-0027"
WORKS = f"/journals/{ISSN}/works"
OTHER_WORKS = f"/journals/{OTHER}/works"
CURSOR_2 = "DnF1ZXJ5VGhlbkZldGNoBgAAAAAinventedA1"
PLANTS = "doi:10.5555/invented.plants.2025.0417"
MOE = "doi:10.5555/invented.jml.2025.0088"
ALGO = "doi:10.5555/invented.algo.2025.0101"


@dataclass(slots=True)
class PacedHTTP(SourceHTTP):
    """``context.http`` that records what the source asked ``pace`` for."""

    paced: list[tuple[str, float, int]] = field(default_factory=list)

    def pace(self, host: str, *, interval: float, connections: int = 1) -> None:
        self.paced.append((host, interval, connections))
        SourceHTTP.pace(self, host, interval=interval, connections=connections)


def fast_context(
    now: dt.datetime = NOW, state: dict[str, str] | None = None, *, operator: bool = True
) -> tuple[CollectContext, PacedHTTP]:
    """A context recording ``pace`` requests; with ``operator``, the operator's config lets
    127.0.0.1 go unpaced (``[fetch.hosts]`` wins over what the source asks)."""
    hosts = {"127.0.0.1": HostLimit(interval=0.0, connections=4)} if operator else {}
    fetcher = Fetcher(
        FetchPolicy(
            allow=("127.0.0.0/8",),
            retries=2,
            backoff=0.05,
            max_retry_wait=5.0,
            hosts=hosts,
            default_limit=HostLimit(interval=0.0, connections=4),
        )
    )
    context = CollectContext(now=now, state=dict(state or {}))
    http = PacedHTTP(fetcher, context.state, context.save)
    context.http = http
    return context, http


def source(api: FixtureServer, tmp_path: Path, **config: Any) -> CrossrefSource:
    config.setdefault("issns", [ISSN])
    return CrossrefSource(
        CrossrefSource.Config(url=api.url(""), **config),
        instance="journals",
        runtime=make_runtime(tmp_path),
    )


def serve_journal(server: FixtureServer) -> None:
    server.route(
        WORKS,
        Reply(body="crossref/works_9999-0019_cursor_start.json", headers=JSON_TYPE),
        query={"cursor": "*"},
    )
    server.route(
        WORKS,
        Reply(body="crossref/works_9999-0019_cursor_A1.json", headers=JSON_TYPE),
        query={"cursor": CURSOR_2},
    )


def collect(
    src: CrossrefSource, state: dict[str, str] | None = None
) -> tuple[list[Paper], CollectContext]:
    context, _ = fast_context(state=state)
    return list(src.collect(context)), context


def by_id(papers: list[Paper]) -> dict[str, Paper]:
    return {str(p.id): p for p in papers}


def label(server: FixtureServer, since: str, path: str = WORKS) -> str:
    return f"{server.url(path)}?filter=from-created-date:{since}"


def test_registers_the_source() -> None:
    assert register_sources() == [CrossrefSource]
    config = CrossrefSource.Config(issns=["99990019"])
    assert CrossrefSource.name == "crossref" and config.url == "https://api.crossref.org"
    assert config.issns == [ISSN] and (config.days, config.rows, config.mailto) == (7, 100, "")
    assert config.types == ["journal-article", "posted-content", "proceedings-article"]


def test_a_normal_run_pages_by_cursor(fixture_server: FixtureServer, tmp_path: Path) -> None:
    serve_journal(fixture_server)
    papers, context = collect(source(fixture_server, tmp_path, mailto="lab@example.org"))

    first, second = fixture_server.hits(WORKS)
    assert first.query == {
        "filter": "from-created-date:2025-06-04",  # days=7 back on the first run
        "rows": "100",
        "select": "DOI,title,author,abstract,container-title,ISSN,type,created,published,"
        "issued,URL,link,subject,relation",
        "sort": "created",
        "order": "asc",
        "mailto": "lab@example.org",
        "cursor": "*",
    }
    assert second.query["cursor"] == CURSOR_2
    assert first.headers["accept"] == "application/json"
    # 5 works (total-results): a journal issue is not a paper, one work has no title; once
    # all 5 are read there is no request for an empty page.
    assert [str(p.id) for p in papers] == [PLANTS, MOE, ALGO]
    assert context.warnings == [
        f"{label(fixture_server, '2025-06-04')}: 1 work without a DOI or title skipped"
    ]
    assert context.pending_state == {f"crossref.since {ISSN}": "2025-06-11"}


def test_every_field_of_a_journal_article(fixture_server: FixtureServer, tmp_path: Path) -> None:
    serve_journal(fixture_server)
    papers, _ = collect(source(fixture_server, tmp_path))
    plants = by_id(papers)[PLANTS]
    assert plants.title == (
        "Auxin transport defects in a swollen-leaf mutant of Arabidopsis thaliana & their rescue"
    )
    # The "Abstract" heading is dropped; the formula is shown once, from its MathML.
    assert plants.abstract == (
        "Leaves of the swl1 mutant swell at the margin. Auxin levels <50% of wild type and an "
        "H2O2 burst (p<0.01) explain the phenotype."
    )
    assert [(a.name, a.affiliation) for a in plants.authors] == [
        ("Valentina Greco", "Invented Plant Institute, Lakeside"),
        ("Hiroshi Tanabe", None),
        ("The Invented Leaf Consortium", None),
    ]
    assert plants.doi == "10.5555/invented.plants.2025.0417" and plants.version is None
    assert plants.url == "https://doi.org/10.5555/invented.plants.2025.0417"
    assert plants.pdf_url == "https://journal.example.org/article/0417/fulltext.pdf"
    assert plants.categories == ("Plant Science", "Genetics")
    assert plants.published == dt.datetime(2025, 6, 12, tzinfo=dt.UTC)
    assert plants.announced == dt.date(2025, 6, 9)  # the day its DOI was registered
    assert plants.sources == ("journals",)
    assert dict(plants.signals) == {
        "crossref.issn": ISSN,
        "crossref.journal": "Journal of Invented Plant Science",
        "crossref.type": "journal-article",
    }
    # Its bioRxiv preprint is the same work ("cites" is not a version of it).
    assert plants.aliases == ("doi:10.1101/2025.05.20.990202",)


def test_structured_abstracts_arxiv_preprints_and_partial_dates(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_journal(fixture_server)
    papers, _ = collect(source(fixture_server, tmp_path))
    moe = by_id(papers)[MOE]
    assert moe.abstract == (
        "Background: Routers collapse onto few experts. Methods. We learn a temperature schedule."
    )
    assert moe.aliases == ("arxiv:2506.90017",)  # merges with the arXiv paper
    assert [a.name for a in moe.authors] == ["Maren Ødegaard"]
    # "published" has only a year and month: the registration time stands in.
    assert moe.published == dt.datetime(2025, 6, 10, 8, 30, tzinfo=dt.UTC)
    assert moe.categories == () and moe.pdf_url is None


def test_latex_titles_stay_for_the_renderers_and_unsafe_links_are_dropped(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_journal(fixture_server)
    papers, _ = collect(source(fixture_server, tmp_path))
    algo = by_id(papers)[ALGO]
    # The first title of the list is empty: the next one is the title.
    assert algo.title == "Sorting in $\\mathcal{O}(n \\log n)$ comparisons with noisy oracles"
    assert readable(algo.title) == "Sorting in 𝒪(n logn) comparisons with noisy oracles"
    assert algo.abstract == "We sort with a noisy comparison oracle in $O(n \\log n)$ queries."
    assert algo.pdf_url is None  # a javascript: link is not a link
    assert algo.authors == () and algo.signals["crossref.type"] == "proceedings-article"


def test_the_next_run_goes_on_from_the_watermark(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(WORKS, Reply(body="crossref/works_empty.json", headers=JSON_TYPE))
    src = source(fixture_server, tmp_path)
    papers, context = collect(src, state={f"crossref.since {ISSN}": "2025-06-10"})
    assert papers == [] and context.warnings == []  # nothing new: an empty result
    (request,) = fixture_server.hits(WORKS)
    assert request.query["filter"] == "from-created-date:2025-06-10"
    assert context.pending_state == {f"crossref.since {ISSN}": "2025-06-11"}


def test_since_falls_back_to_days_and_never_lies_in_the_future(tmp_path: Path) -> None:
    src = CrossrefSource(
        CrossrefSource.Config(issns=[ISSN], days=3), instance="j", runtime=make_runtime(tmp_path)
    )
    key = src.state_key(ISSN)
    assert src.since(ISSN, NOW, {}) == dt.date(2025, 6, 8)
    assert src.since(ISSN, NOW, {key: "yesterday"}) == dt.date(2025, 6, 8)
    assert src.since(ISSN, NOW, {key: "2031-01-01"}) == dt.date(2025, 6, 11)
    naive = dt.datetime(2025, 6, 11, 23, 0)  # a naive run time is UTC
    assert src.since(ISSN, naive, {key: "2025-06-01"}) == dt.date(2025, 6, 1)


def test_paging_ends_on_an_empty_page_when_no_total_is_given(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    def page(items: list[dict[str, Any]], cursor: str) -> Reply:
        body = {"status": "ok", "message": {"items": items, "next-cursor": cursor}}
        return Reply(body=json.dumps(body).encode(), headers=JSON_TYPE)

    work = {"DOI": "10.5555/invented.x.1", "type": "journal-article", "title": ["One"]}
    fixture_server.route(WORKS, page([work], "c1"), query={"cursor": "*"})
    fixture_server.route(WORKS, page([], "c2"), query={"cursor": "c1"})
    papers, _ = collect(source(fixture_server, tmp_path))
    assert [p.title for p in papers] == ["One"]
    assert [r.query["cursor"] for r in fixture_server.hits(WORKS)] == ["*", "c1"]


def test_a_page_without_a_next_cursor_is_the_last(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    body = {
        "status": "ok",
        "message": {
            "items": [{"DOI": "10.5555/invented.x.2", "type": "journal-article", "title": ["Two"]}]
        },
    }
    fixture_server.route(WORKS, Reply(body=json.dumps(body).encode(), headers=JSON_TYPE))
    papers, _ = collect(source(fixture_server, tmp_path))
    assert [p.title for p in papers] == ["Two"] and len(fixture_server.hits(WORKS)) == 1


def test_max_results_stops_paging_and_the_watermark_goes_on_from_the_last_day(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_journal(fixture_server)
    papers, context = collect(source(fixture_server, tmp_path, max_results=2))
    assert [str(p.id) for p in papers] == [PLANTS, MOE]
    assert len(fixture_server.hits(WORKS)) == 1
    assert context.warnings == [
        f"{label(fixture_server, '2025-06-04')}: stopped paging at max_results=2; "
        "the next run goes on from 2025-06-10"
    ]
    assert context.pending_state == {f"crossref.since {ISSN}": "2025-06-10"}


def test_max_results_filled_by_the_first_day_moves_on_and_says_so(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_journal(fixture_server)
    state = {f"crossref.since {ISSN}": "2025-06-09"}
    papers, context = collect(source(fixture_server, tmp_path, max_results=1), state=state)
    assert [str(p.id) for p in papers] == [PLANTS]
    assert context.warnings == [
        f"{label(fixture_server, '2025-06-09')}: stopped paging at max_results=1; "
        "the other works created since 2025-06-09 are skipped"
    ]
    assert context.pending_state == {f"crossref.since {ISSN}": "2025-06-11"}


def test_an_unknown_issn_is_a_warning_and_the_other_journals_are_kept(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_journal(fixture_server)
    fixture_server.route(
        OTHER_WORKS,
        Reply(status=404, body=b"Resource not found.", headers={"Content-Type": "text/plain"}),
    )
    src = source(fixture_server, tmp_path, issns=[OTHER, ISSN])
    papers, context = collect(src)
    assert len(papers) == 3
    assert context.warnings == [
        f"{label(fixture_server, '2025-06-04')}: 1 work without a DOI or title skipped",
        f"{label(fixture_server, '2025-06-04', OTHER_WORKS)}: Crossref has no journal with "
        f"ISSN {OTHER} (HTTP 404: Resource not found.); the other journals were read",
    ]
    # The failed journal's watermark stays put: the next run asks for the same days again.
    assert context.pending_state == {f"crossref.since {ISSN}": "2025-06-11"}


def test_when_every_journal_fails_the_source_fails_with_one_line(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(WORKS, Reply(status=404, body=b"Resource not found."))
    fixture_server.route(OTHER_WORKS, Reply(status=404, body=b"<html>Not here</html>"))
    with pytest.raises(SourceError) as error:
        collect(source(fixture_server, tmp_path, issns=[ISSN, OTHER]))
    assert str(error.value) == (
        f"{label(fixture_server, '2025-06-04')}: Crossref has no journal with ISSN {ISSN} "
        "(HTTP 404: Resource not found.) (and 1 other journal failed)"
    )


def test_a_validation_failure_names_the_url_and_crossref_s_message(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(
        WORKS,
        Reply(status=400, body="crossref/error_validation_failure.json", headers=JSON_TYPE),
    )
    with pytest.raises(SourceError) as error:
        collect(source(fixture_server, tmp_path))
    message = str(error.value)
    assert message.startswith(
        f"{label(fixture_server, '2025-06-04')}: Crossref refused the request for ISSN {ISSN}: "
        "Filter from-creation-date specified but there is no such filter for this route."
    )
    assert "\n" not in message


def test_a_failed_status_with_200_is_an_error(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(
        WORKS, Reply(body="crossref/error_validation_failure.json", headers=JSON_TYPE)
    )
    with pytest.raises(SourceError, match="Crossref refused the request: Filter from-creation"):
        collect(source(fixture_server, tmp_path))


def test_a_server_error_fails_with_the_url(fixture_server: FixtureServer, tmp_path: Path) -> None:
    fixture_server.route(WORKS, Reply(status=500, body=b"oops"))
    with pytest.raises(SourceError, match="HTTP 500 Internal Server Error") as error:
        collect(source(fixture_server, tmp_path))
    assert str(error.value).startswith(fixture_server.url(WORKS))
    assert len(fixture_server.hits(WORKS)) == 1


def test_a_rate_limit_answer_is_retried_and_crossref_s_limit_is_honoured(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    limits = {"x-rate-limit-limit": "10", "x-rate-limit-interval": "1s", **JSON_TYPE}
    replies = [
        Reply(status=429, body=b"Too many requests", headers={"Retry-After": "1"}),
        Reply(body="crossref/works_9999-0019_cursor_start.json", headers=limits),
        Reply(body="crossref/works_9999-0019_cursor_A1.json", headers=limits),
    ]

    def answer(_request: Request) -> Reply:
        return replies.pop(0)

    fixture_server.route(WORKS, answer)
    context, http = fast_context()
    papers = list(source(fixture_server, tmp_path).collect(context))
    refused, first, _second = fixture_server.hits(WORKS)
    assert first.at - refused.at >= 0.9  # Retry-After: 1 was honoured
    assert len(papers) == 3
    # One at a time, 1 s apart until Crossref's headers say 10 a second.
    assert http.paced == [("127.0.0.1", 1.0, 1), ("127.0.0.1", 0.1, 1)]


def test_the_announced_limit_spaces_the_requests(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    limits = {"x-rate-limit-limit": "4", "x-rate-limit-interval": "1s", **JSON_TYPE}

    def page(cursor: str, following: str | None) -> Reply:
        work = {"DOI": f"10.5555/invented.p.{cursor}", "type": "journal-article", "title": [cursor]}
        message: dict[str, Any] = {"items": [work], "total-results": 3}
        if following:
            message["next-cursor"] = following
        body = json.dumps({"status": "ok", "message": message}).encode()
        return Reply(body=body, headers=limits)

    fixture_server.route(WORKS, page("a", "b"), query={"cursor": "*"})
    fixture_server.route(WORKS, page("b", "c"), query={"cursor": "b"})
    fixture_server.route(WORKS, page("c", None), query={"cursor": "c"})
    context, _ = fast_context(operator=False)  # nothing set by the operator for this host
    papers = list(source(fixture_server, tmp_path).collect(context))
    assert [p.title for p in papers] == ["a", "b", "c"]
    _first, second, third = fixture_server.hits(WORKS)
    assert third.at - second.at >= 0.24  # 4 a second: 0.25 s apart


@pytest.mark.parametrize(
    ("limit", "window", "paced"),
    [("50", "1s", 0.02), ("3000", "60s", 0.02), ("5", "2", 0.4), ("0", "1s", None)],
)
def test_rate_limit_headers(
    limit: str, window: str, paced: float | None, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    headers = {"x-rate-limit-limit": limit, "x-rate-limit-interval": window, **JSON_TYPE}
    fixture_server.route(WORKS, Reply(body="crossref/works_empty.json", headers=headers))
    context, http = fast_context()
    list(source(fixture_server, tmp_path).collect(context))
    asked = [interval for _host, interval, _ in http.paced[1:]]
    assert asked == ([pytest.approx(paced)] if paced is not None else [])


def test_unreadable_rate_limit_headers_are_ignored(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    headers = {"x-rate-limit-limit": "50", "x-rate-limit-interval": "a minute", **JSON_TYPE}
    fixture_server.route(WORKS, Reply(body="crossref/works_empty.json", headers=headers))
    context, http = fast_context()
    list(source(fixture_server, tmp_path).collect(context))
    assert http.paced == [("127.0.0.1", 1.0, 1)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html><body>Maintenance</body></html>", "HTML/XML page"),
        (b'{"status": "ok", "message": {"items": [', "invalid JSON"),
        (b"[]", "got a JSON list"),
        (b'{"status": "ok", "message": {"total-results": 3}}', "no 'message.items' list"),
        (b'{"status": "ok", "message": []}', "no 'message.items' list"),
        (b'{"message": {"items": []}}', "Crossref refused the request: status None"),
        (b"", "empty response"),
    ],
)
def test_replies_that_are_not_the_documented_json_are_errors(
    body: bytes, message: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(WORKS, Reply(body=body, headers=JSON_TYPE))
    with pytest.raises(SourceError, match=message) as error:
        collect(source(fixture_server, tmp_path))
    assert str(error.value).startswith(label(fixture_server, "2025-06-04"))


def test_a_preprint_lists_its_journal_version_as_an_alias(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(
        OTHER_WORKS, Reply(body="crossref/works_9999-0027.json", headers=JSON_TYPE)
    )
    papers, _ = collect(source(fixture_server, tmp_path, issns=[OTHER]))
    (preprint,) = papers
    assert preprint.signals["crossref.type"] == "posted-content"
    assert preprint.aliases == ("doi:10.5555/invented.health.2025.0990",)  # the uri is not
    assert "crossref.journal" not in preprint.signals  # an empty container-title


def test_types_choose_what_is_kept(fixture_server: FixtureServer, tmp_path: Path) -> None:
    serve_journal(fixture_server)
    papers, _ = collect(source(fixture_server, tmp_path, types=["Journal-Issue"]))
    assert [p.title for p in papers] == ["June 2025 issue"]


def test_parse_works_tolerates_odd_records() -> None:
    items = [
        "not a work",
        {"DOI": "10.5555/invented.odd.1", "type": "journal-article", "title": "Plain string"},
        {
            "DOI": "10.5555/invented.odd.2",
            "type": "journal-article",
            "title": ["Odd dates and people"],
            "author": [
                "not a person",
                {"given": " ", "family": ""},
                {"family": "Onlyfamily", "affiliation": "not a list"},
                {"given": "Ana", "family": "Lima", "affiliation": [{"name": " "}, "x"]},
            ],
            "created": {"date-time": "2025-06-10T08:30:00"},
            "published": {"date-parts": [[2025, 13, 1]]},
            "issued": {"date-parts": [[2025, True, 1]]},
            "subject": "Biology",
            "link": "not a list",
            "relation": {"has-preprint": {"id-type": "doi"}, "is-preprint-of": ["x"]},
        },
        {
            "DOI": "10.5555/invented.odd.3",
            "type": "journal-article",
            "title": ["No usable dates"],
            "created": {"date-time": "in June"},
            "published": {"date-parts": [["2025", "6", "1"]]},
            "issued": "2025",
            "relation": "none",
            "link": [{"content-type": "application/pdf"}, "x"],
        },
        {"DOI": 10.5555, "type": "journal-article", "title": ["DOI as a number"]},
        {
            "DOI": "10.5555/invented.odd.4",
            "type": "journal-article",
            "title": ["Itself"],
            "relation": {"has-preprint": [{"id-type": "doi", "id": "10.5555/INVENTED.ODD.4"}]},
        },
    ]
    body = json.dumps(
        {"status": "ok", "message": {"items": items, "total-results": True, "next-cursor": ""}}
    ).encode()
    page = parse_works(body, url="u", issn=ISSN, types=["journal-article"])
    assert (page.items, page.total, page.next_cursor) == (6, None, None)
    assert (page.incomplete, page.other_types) == (2, 0)  # a string is not a work
    plain, odd, undated, itself = page.papers
    assert plain.title == "Plain string" and plain.announced is None and plain.published is None
    assert [(a.name, a.affiliation) for a in odd.authors] == [
        ("Onlyfamily", None),
        ("Ana Lima", None),
    ]
    assert odd.published == dt.datetime(2025, 6, 10, 8, 30, tzinfo=dt.UTC)  # naive: UTC
    assert odd.categories == () and odd.pdf_url is None and odd.aliases == ()
    assert undated.published is None and undated.announced is None and undated.pdf_url is None
    assert itself.aliases == ()  # a relation naming the work itself adds nothing


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"status": "failed", "message": "Too many filters"}', "Too many filters"),
        (b'{"status": "failed", "message": [{"message": "A"}, {"message": "B"}, 3]}', "A; B"),
        (b'{"status": "failed", "message": []}', None),
        (b'{"status": "ok", "message": {}}', None),
        (b"Resource not found.", None),
        (b"[1, 2]", None),
    ],
)
def test_api_error_message(body: bytes, message: str | None) -> None:
    assert api_error_message(body) == message


@pytest.mark.parametrize(
    ("fragment", "text"),
    [
        (
            "<jats:title>Abstract</jats:title><jats:p>We <jats:italic>do</jats:italic></jats:p>",
            "We do",
        ),
        (
            "<jats:title>ABSTRACT:</jats:title>Text right after. <jats:p>More.</jats:p>",
            "Text right after. More.",
        ),
        (
            "<jats:p>First.</jats:p><jats:title>Abstract</jats:title><jats:p>x</jats:p>",
            "First. Abstract: x",
        ),
        (
            "<jats:sec><jats:title>Abstract</jats:title><jats:p>In a section.</jats:p></jats:sec>",
            "In a section.",
        ),
        ("<jats:title>Summary</jats:title><jats:p>Kept.</jats:p>", "Summary: Kept."),
        ("<jats:title></jats:title><jats:p>Empty heading.</jats:p>", "Empty heading."),
        ("We use <jats:tex-math>$\\beta$</jats:tex-math> alone.", "We use $\\beta$ alone."),
        ("<mml:math><mml:mi>x</mml:mi><mml:annotation>x</mml:annotation></mml:math>", "x"),
        ("Plain &amp; simple &nbsp; text", "Plain & simple text"),
        ("a<!-- note -->b", "ab"),
        ("<br/><jats:title>Abstract</jats:title>After the break.", "After the break."),
        ("<html></html>Broken &amp; odd", "Broken & odd"),
        ("no markup", "no markup"),
        (None, ""),
    ],
)
def test_jats_text(fragment: object, text: str) -> None:
    assert jats_text(fragment) == text


@pytest.mark.parametrize(
    "config",
    [
        {"issns": []},
        {"issns": ["9999-00199"]},
        {"issns": ["nature"]},
        {"issns": [ISSN], "mailto": "not an address"},
        {"issns": [ISSN], "types": []},
        {"issns": [ISSN], "types": [" "]},
        {"issns": [ISSN], "rows": 0},
        {"issns": [ISSN], "rows": 1001},
        {"issns": [ISSN], "days": 0},
        {"issns": [ISSN], "url": "file:///etc"},
        {"issns": [ISSN], "query": "x"},
    ],
)
def test_bad_config_is_rejected_before_any_request(config: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        CrossrefSource.Config(**config)


def test_config_normalises_issns_types_and_mailto() -> None:
    config = CrossrefSource.Config(
        issns=["9999-002x", " 99990027 ", ISSN], types=[" Journal-Article"], mailto=" a@b.org "
    )
    assert config.issns == ["9999-002X", OTHER, ISSN]
    assert config.types == ["journal-article"] and config.mailto == "a@b.org"


def test_keeps_the_source_contract(fixture_server: FixtureServer, tmp_path: Path) -> None:
    serve_journal(fixture_server)
    context, _ = fast_context()
    papers = check_source(source(fixture_server, tmp_path), context=context)
    assert len(papers) == 3


def test_plain_make_context_works_too(fixture_server: FixtureServer, tmp_path: Path) -> None:
    fixture_server.route(WORKS, Reply(body="crossref/works_empty.json", headers=JSON_TYPE))
    assert list(source(fixture_server, tmp_path).collect(make_context(now=NOW))) == []


# -- a preprint and its journal version in one pipeline ------------------------------------------

PIPELINE = """
[digest]
state_dir = "state"
output_dir = "out"

[fetch]
allow = ["127.0.0.1/32"]
retries = 1
backoff = 0.01

[fetch.hosts."127.0.0.1"]
interval = 0
connections = 4

[sources.bio]
component = "biorxiv"
url = "{base}"

[sources.journals]
component = "crossref"
issns = ["{issn}"]
url = "{base}"

[selection]
rankers = {{ recency = 1.0 }}

[rankers.recency]
component = "recency"

[renderers.feed]
component = "feed"

[deliverers.files]
component = "files"

[subscribers.ada]
channels = ["feed"]
max_items = 100
"""


def test_a_biorxiv_preprint_and_its_journal_version_are_one_paper(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(
        "/details/biorxiv/2025-06-09/2025-06-11/0/json",
        Reply(body="biorxiv/biorxiv_2025-06-09_2025-06-11_cursor0.json", headers=JSON_TYPE),
    )
    serve_journal(fixture_server)
    (tmp_path / "config.toml").write_text(PIPELINE.format(base=fixture_server.url(""), issn=ISSN))
    pipeline = Application.from_path(tmp_path / "config.toml").pipeline
    report = pipeline.run(RunOptions(now=NOW))
    assert not report.problems, report.problems
    with pipeline.store.engine.connect() as conn:
        rows = [json.loads(r.data) for r in conn.execute(sa.select(papers_table.c.data))]
    # 3 bioRxiv preprints + 3 journal works, one of them the journal version of a preprint.
    assert len(rows) == 5
    (merged,) = [r for r in rows if set(r["sources"]) == {"bio", "journals"}]
    assert merged["id"] in ("doi:10.1101/2025.05.20.990202", PLANTS)
