"""The ``openreview`` source: API v2 ``/notes`` replies over a real local HTTP server.

The fixtures (``tests/fixtures/openreview``) are hand-written replies in the documented API v2
shape about invented papers: two pages of a venue's accepted papers (5 notes, 3 a page: an
oral with Markdown and TeX, a poster whose BibTeX names its arXiv preprint, a spotlight with a
DOI, a note without a title), its submissions (under review with hidden authors, withdrawn,
desk-rejected), an empty reply and OpenReview's error objects.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import pydantic
import pytest

from digest import CollectContext, SourceError, canonical_id
from digest.fetch import Fetcher, FetchPolicy, HostLimit
from digest.models import Paper
from digest.store import Store
from digest.testing import check_source, make_context, make_paper, make_runtime
from digest_openreview import OpenReviewSource, parse_notes, plain, register_sources
from httpserver import FixtureServer, Reply, fixture_bytes

NOTES = "/notes"
JSON = {"Content-Type": "application/json; charset=utf-8"}
VENUE = "ICLR.cc/2025/Conference"
NOW = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
NEWEST = 1740734100000  # the oral's tmdate: 2025-02-28 09:15 UTC


def source(server: FixtureServer, tmp_path: Path, **config: object) -> OpenReviewSource:
    settings: dict[str, object] = {"venue": VENUE, "url": server.url(""), **config}
    return OpenReviewSource(
        OpenReviewSource.Config(**settings), instance="or", runtime=make_runtime(tmp_path)
    )


def fast_context(state: dict[str, str] | None = None, retries: int = 2) -> CollectContext:
    """A context whose operator config lifts OpenReview's pacing for the local test server."""
    fetcher = Fetcher(
        FetchPolicy(
            allow=("127.0.0.0/8",),
            retries=retries,
            backoff=0.01,
            max_retry_wait=5.0,
            hosts={"127.0.0.1": HostLimit(interval=0.0, connections=4)},
        )
    )
    return make_context(now=NOW, state=state, fetcher=fetcher)


def serve_accepted(server: FixtureServer) -> None:
    for offset in ("0", "3"):
        server.route(
            NOTES,
            Reply(body=f"openreview/iclr2025_accepted_offset{offset}.json", headers=JSON),
            query={"offset": offset},
        )


def by_forum(papers: list[Paper]) -> dict[str, Paper]:
    return {str(p.url).rsplit("=", 1)[1]: p for p in papers}


def reply(notes: list[Any], count: int | None = None) -> Reply:
    body: dict[str, Any] = {"notes": notes}
    if count is not None:
        body["count"] = count
    return Reply(body=json.dumps(body).encode(), headers=JSON)


def note(forum: str, title: str, changed: int, **content: Any) -> dict[str, Any]:
    fields = {"title": {"value": title}, "venueid": {"value": VENUE}}
    fields.update({k: {"value": v} for k, v in content.items()})
    return {
        "id": forum,
        "forum": forum,
        "cdate": changed - 1000,
        "tmdate": changed,
        "content": fields,
    }


def test_registers_the_source() -> None:
    assert register_sources() == [OpenReviewSource]
    assert OpenReviewSource.name == "openreview"
    config = OpenReviewSource.Config(venue=VENUE)
    assert (config.url, config.web_url) == ("https://api2.openreview.net", "https://openreview.net")
    assert (config.which, config.page_size, config.max_results) == ("accepted", 1000, 5000)


def test_a_venues_accepted_papers_over_two_pages(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_accepted(fixture_server)
    src = source(fixture_server, tmp_path, page_size=3)
    context = fast_context()
    papers = list(src.collect(context))

    first, second = fixture_server.hits(NOTES)
    assert first.query == {
        "content.venueid": VENUE,
        "sort": "tmdate:desc",
        "limit": "3",
        "offset": "0",
    }
    assert second.query["offset"] == "3" and first.headers["accept"] == "application/json"
    assert sorted(by_forum(papers)) == ["Hc4pW8nZs1", "Jd2kL6yRq0", "Pz9mN3bVc5", "Qm7rT2xVb9"]
    assert context.warnings == [f"{fixture_server.url(NOTES)}: 1 note(s) without a title skipped"]
    assert all(p.sources == ("or",) for p in papers)
    # The newest change seen is the watermark of the next run.
    assert context.pending_state == {src.state_key(): str(NEWEST)}


def test_every_field_of_an_oral() -> None:
    page = parse_notes(
        fixture_bytes("openreview/iclr2025_accepted_offset0.json"), url="u", venue=VENUE
    )
    assert (page.notes, page.count, page.incomplete, page.left_out) == (3, 5, 0, 0)
    oral = by_forum([s.paper for s in page.sightings])["Qm7rT2xVb9"]
    # TeX math made readable: no "$" or backslash left.
    assert oral.title.startswith("Sublinear Attention in 𝒪(")
    assert oral.title.endswith(") Memory via Hierarchical Sketches")
    assert "$" not in oral.title and "\\" not in oral.title
    # Markdown marks, list markers, links and code spans dropped; one line.
    assert oral.abstract.startswith(
        "Attention over n tokens costs O(n^2) time. We show that hierarchical count sketches "
        "keep attention accurate in 𝒪("
    )
    assert oral.abstract.endswith("Practice: see our code and sketch_attn.py")
    assert not any(mark in oral.abstract for mark in ("**", "`", "](", "\n", "$", "- Theory"))
    assert [a.name for a in oral.authors] == ["Amaru Quispe", "Lena Vogelsang", "Tavita Faleolo"]
    assert oral.url == "https://openreview.net/forum?id=Qm7rT2xVb9"
    assert oral.pdf_url == "https://openreview.net/pdf/3f5c0d1e2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d.pdf"
    assert oral.code_url == "https://github.com/example-lab/sketch-attn"
    assert dict(oral.signals) == {
        "openreview.venue": "ICLR 2025 Oral",
        "openreview.venueid": VENUE,
        # A comma inside a keyword would read as a separator: it becomes a space.
        "openreview.keywords": "efficient attention, sketching streaming, long context",
        "openreview.accepted_at": "2025-01-22T14:00:00+00:00",
        "tldr": "Attention in logarithmic memory with count sketches.",
        "tldr_source": "openreview",
    }
    # Accepted on 22 January (the day it reached the list), public since 4 October 2024.
    assert oral.announced == dt.date(2025, 1, 22)
    assert oral.published == dt.datetime(2024, 10, 4, 13, 0, tzinfo=dt.UTC)
    assert oral.updated == dt.datetime(2025, 2, 28, 9, 15, tzinfo=dt.UTC)
    assert page.changes[0] == NEWEST


def test_identity_fingerprint_arxiv_and_doi() -> None:
    page = parse_notes(
        fixture_bytes("openreview/iclr2025_accepted_offset0.json"), url="u", venue=VENUE
    )
    found = by_forum([s.paper for s in page.sightings])
    oral, poster, spotlight = found["Qm7rT2xVb9"], found["Hc4pW8nZs1"], found["Jd2kL6yRq0"]
    # No arXiv id or DOI: the fingerprint of title and first author, the one the same paper's
    # arXiv listing gets; the forum is an alias.
    expected, _ = canonical_id(title=oral.title, first_author="Amaru Quispe")
    assert oral.id == expected and oral.id.kind == "fp"
    assert oral.aliases == ("url:https://openreview.net/forum?id=Qm7rT2xVb9",)
    # BibTeX naming the arXiv preprint (eprint, with its version).
    assert str(poster.id) == "arxiv:2410.90123" and poster.version == 2
    fingerprint, _ = canonical_id(title=poster.title, first_author="Chidera Okafor")
    assert poster.aliases == (
        "arxiv:2410.90123",
        "url:https://openreview.net/forum?id=Hc4pW8nZs1",
        str(fingerprint),
    )
    assert poster.signals["tldr"] == "Temperature scaling makes reward models calibrated."
    # BibTeX naming a DOI.
    assert str(spotlight.id) == "doi:10.5555/jigl.2025.0877"
    assert spotlight.doi == "10.5555/jigl.2025.0877"
    assert "doi:10.5555/jigl.2025.0877" in spotlight.aliases


def test_titles_with_entities_and_markdown_are_plain_text() -> None:
    page = parse_notes(
        fixture_bytes("openreview/iclr2025_accepted_offset0.json"), url="u", venue=VENUE
    )
    spotlight = by_forum([s.paper for s in page.sightings])["Jd2kL6yRq0"]
    assert spotlight.title == "Graph Rewiring & Oversquashing: A Spectral View"
    assert spotlight.abstract.endswith("rewiring by the Fiedler vector removes it.")
    assert [a.name for a in spotlight.authors] == ["Søren Kjærgaard", "Nguyễn Thị Hoa"]
    assert "openreview.keywords" not in spotlight.signals  # an empty keyword list
    assert "tldr" not in spotlight.signals


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "**Fast** $\\alpha$-nets: see [the code](https://example.org)",
            "Fast α-nets: see the code",
        ),
        ("We bound $f^*$ and $g^*$ by *two* terms", "We bound f^* and g^* by two terms"),
        ("# Heading\n- item one\n1. item $x_i$", "Heading item one item x_i"),
        (
            "A &amp; B &lt;3 <b>bold</b> <https://example.org/x>",
            "A & B <3 bold https://example.org/x",
        ),
        ("Costs $5 and $6, `pip install x`", "Costs $5 and $6, pip install x"),
        ("![figure](fig.png) shows __this__", "figure shows this"),
    ],
)
def test_markdown_and_tex_become_readable_text(text: str, expected: str) -> None:
    assert plain(text) == expected


def test_a_paper_with_its_arxiv_id_merges_with_the_arxiv_listing(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_accepted(fixture_server)
    papers = list(source(fixture_server, tmp_path, page_size=3).collect(fast_context()))
    store = Store.open(f"sqlite:///{tmp_path / 'papers.db'}")
    arxiv = make_paper(
        "2410.90123v1",
        title="Calibrated Reward Models from Pairwise Preferences",
        authors=("Chidera Okafor", "Mateus Ribeiro"),
        sources=("arxiv",),
    )
    store.upsert_papers([arxiv], source="arxiv", now=NOW)
    store.upsert_papers(papers, source="or", now=NOW)
    assert store.paper_count() == 4
    merged = store.papers_by_id(["arxiv:2410.90123"])["arxiv:2410.90123"]
    assert merged.signals["openreview.venue"] == "ICLR 2025 Poster"


def test_a_retitled_camera_ready_stays_one_paper(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'papers.db'}")
    src = source(fixture_server, tmp_path)
    fixture_server.route(NOTES, reply([note("Fm1aB2cD3e", "Old Title of a Paper", 1000)], 1))
    store.upsert_papers(list(src.collect(fast_context())), source="or", now=NOW)
    fixture_server.route(NOTES, reply([note("Fm1aB2cD3e", "A New Title", 2000)], 1))
    renamed = list(src.collect(fast_context()))
    assert renamed[0].title == "A New Title"
    store.upsert_papers(renamed, source="or", now=NOW)
    assert store.paper_count() == 1


def test_the_next_run_collects_only_newer_notes_and_stops_paging(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_accepted(fixture_server)
    src = source(fixture_server, tmp_path, page_size=3)
    first = fast_context()
    assert len(list(src.collect(first))) == 4
    requests = len(fixture_server.hits(NOTES))

    # Nothing changed: the first page already reaches the watermark, so paging stops there.
    again = fast_context(state=first.pending_state)
    assert list(src.collect(again)) == []
    assert len(fixture_server.hits(NOTES)) == requests + 1
    assert again.pending_state == {src.state_key(): str(NEWEST)}

    # One note changed since (a new acceptance): only it is collected.
    fresh = note("Nw9zX8cV7b", "A Paper Accepted Later", NEWEST + 60_000)
    old = json.loads(fixture_bytes("openreview/iclr2025_accepted_offset0.json"))["notes"]
    fixture_server.route(NOTES, reply([fresh, *old[:2]], 5), query={"offset": "0"})
    later = fast_context(state=again.pending_state)
    papers = list(src.collect(later))
    assert [p.title for p in papers] == ["A Paper Accepted Later"]
    assert later.pending_state == {src.state_key(): str(NEWEST + 60_000)}


def test_a_page_out_of_order_does_not_stop_the_paging(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    # Were the sort ignored, a page's last note being old says nothing about the next page.
    fixture_server.route(
        NOTES,
        reply([note("Aa1", "Older", 500), note("Bb2", "Newer", 3000)], 4),
        query={"offset": "0"},
    )
    fixture_server.route(NOTES, reply([note("Cc3", "Newest", 4000)], 4), query={"offset": "2"})
    src = source(fixture_server, tmp_path, page_size=2)
    context = fast_context(state={src.state_key(): "1000"})
    papers = list(src.collect(context))
    assert sorted(p.title for p in papers) == ["Newer", "Newest"]
    assert len(fixture_server.hits(NOTES)) == 2


def test_an_unreadable_watermark_starts_afresh(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_accepted(fixture_server)
    src = source(fixture_server, tmp_path, page_size=3)
    assert len(list(src.collect(fast_context(state={src.state_key(): "soon"})))) == 4


def test_submissions_leave_out_withdrawn_and_desk_rejected(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(NOTES, Reply(body="openreview/iclr2025_submissions.json", headers=JSON))
    src = source(fixture_server, tmp_path, which="submissions")
    context = fast_context()
    papers = list(src.collect(context))
    (request,) = fixture_server.hits(NOTES)
    assert request.query["invitation"] == f"{VENUE}/-/Submission"
    assert "content.venueid" not in request.query
    assert sorted(p.title for p in papers) == [
        "An Honest Negative Result on Scaling",
        "Diffusion Policies that Know When to Ask",
    ]
    asking = next(p for p in papers if p.title.startswith("Diffusion"))
    # Under double-blind review the authors are hidden: a paper without authors.
    assert asking.authors == ()
    assert asking.signals["openreview.venue"] == "Submitted to ICLR 2025"
    assert asking.announced == dt.date(2024, 10, 4)  # the day it was made public
    assert context.warnings == []
    # Another `which` for the same venue is another watermark.
    accepted = source(fixture_server, tmp_path)
    assert accepted.state_key() != src.state_key()


def test_accepted_mode_skips_notes_not_in_the_venue(tmp_path: Path) -> None:
    body = json.dumps(
        {
            "notes": [
                note("Ok1", "In the venue", 10),
                {
                    **note("Rj1", "Rejected", 10),
                    "content": {
                        "title": {"value": "Rejected"},
                        "venueid": {"value": f"{VENUE}/Rejected_Submission"},
                    },
                },
                {
                    **note("Wd1", "Withdrawn", 10),
                    "content": {
                        "title": {"value": "Withdrawn"},
                        "venueid": {"value": f"{VENUE}/Withdrawn_Submission"},
                    },
                },
            ]
        }
    ).encode()
    page = parse_notes(body, url="u", venue=VENUE)
    assert [s.paper.title for s in page.sightings] == ["In the venue"]
    assert (page.left_out, page.count) == (2, None)
    # As submissions, only the withdrawn one is left out.
    page = parse_notes(body, url="u", venue=VENUE, which="submissions")
    assert [s.paper.title for s in page.sightings] == ["In the venue", "Rejected"]


def test_an_empty_venue_is_zero_papers(fixture_server: FixtureServer, tmp_path: Path) -> None:
    fixture_server.route(NOTES, Reply(body="openreview/empty.json", headers=JSON))
    context = fast_context()
    assert list(source(fixture_server, tmp_path).collect(context)) == []
    assert context.warnings == [] and context.pending_state == {}


@pytest.mark.parametrize(
    ("status", "fixture", "said"),
    [
        (
            404,
            "openreview/error_not_found.json",
            "NotFoundError: Group Not Found: ICLR.cc/2031/Conference",
        ),
        (400, "openreview/error_validation.json", 'ValidationError: "limit" must be less than'),
    ],
)
def test_an_api_error_is_one_line_with_openreviews_message(
    status: int, fixture: str, said: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(NOTES, Reply(status=status, body=fixture, headers=JSON))
    with pytest.raises(SourceError) as error:
        list(
            source(fixture_server, tmp_path, venue="ICLR.cc/2031/Conference").collect(
                fast_context()
            )
        )
    message = str(error.value)
    assert message.startswith(fixture_server.url(NOTES) + "?content.venueid=ICLR.cc%2F2031")
    assert f"HTTP {status}" in message and f"OpenReview says: {said}" in message
    assert "\n" not in message


def test_an_error_object_with_200_is_an_error(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(NOTES, Reply(body="openreview/error_not_found.json", headers=JSON))
    with pytest.raises(SourceError, match="OpenReview error: NotFoundError: Group Not Found"):
        list(source(fixture_server, tmp_path).collect(fast_context()))


def test_a_500_fails_the_run_naming_the_url(fixture_server: FixtureServer, tmp_path: Path) -> None:
    fixture_server.route(NOTES, Reply(status=500, body=b"<html>Internal error</html>"))
    with pytest.raises(SourceError, match="HTTP 500") as error:
        list(source(fixture_server, tmp_path).collect(fast_context()))
    assert str(error.value).startswith(fixture_server.url(NOTES))
    assert "OpenReview says" not in str(error.value)


def test_a_429_is_retried_after_the_wait_and_requests_are_paced(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_accepted(fixture_server)
    answers = iter(
        [
            Reply(
                status=429,
                body=fixture_bytes("openreview/rate_limit.json"),
                headers={"Retry-After": "1", **JSON},
            ),
            Reply(body="openreview/iclr2025_accepted_offset0.json", headers=JSON),
        ]
    )
    fixture_server.route(NOTES, lambda _request: next(answers), query={"offset": "0"})
    # The default client: only the source's pace() spaces requests (one a second).
    papers = list(source(fixture_server, tmp_path, page_size=3).collect(make_context(now=NOW)))
    assert len(papers) == 4
    hits = fixture_server.hits(NOTES)
    assert [r.query["offset"] for r in hits] == ["0", "0", "3"]
    assert all(b.at - a.at >= 0.99 for a, b in itertools.pairwise(hits))


def test_rate_limited_to_the_end_reports_openreviews_message(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(
        NOTES,
        Reply(status=429, body="openreview/rate_limit.json", headers={"Retry-After": "0", **JSON}),
    )
    with pytest.raises(SourceError) as error:
        list(source(fixture_server, tmp_path).collect(fast_context(retries=1)))
    assert "gave up after 2 attempts" in str(error.value)
    assert "OpenReview says: RateLimitError: Too many requests" in str(error.value)


def test_max_results_stops_paging_with_a_warning(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_accepted(fixture_server)
    context = fast_context()
    papers = list(source(fixture_server, tmp_path, page_size=3, max_results=3).collect(context))
    assert len(papers) == 3 and len(fixture_server.hits(NOTES)) == 1
    assert context.warnings == [
        f"{fixture_server.url(NOTES)}: stopped at max_results=3 of 5 notes for {VENUE} (accepted)"
    ]
    # Without a count in the reply, the warning says what it can.
    fixture_server.route(NOTES, reply([note("A1", "One", 5), note("B2", "Two", 4)]))
    context = fast_context()
    list(source(fixture_server, tmp_path, page_size=2, max_results=2).collect(context))
    assert context.warnings == [
        f"{fixture_server.url(NOTES)}: stopped at max_results=2 notes for {VENUE} (accepted)"
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty response"),
        (b"<!DOCTYPE html><html><body>Maintenance</body></html>", "got an HTML/XML page"),
        (b'{"notes": [', "invalid JSON"),
        (b"\xff\xfe", "invalid JSON"),
        (b"[]", "got a JSON list"),
        (b'{"count": 3}', "expected a reply with a 'notes' list"),
        (
            b'{"name": "ForbiddenError", "message": "Forbidden"}',
            "OpenReview error: ForbiddenError: Forbidden",
        ),
        (b'{"message": "Something broke"}', "OpenReview error: Something broke"),
    ],
)
def test_replies_that_are_not_the_documented_shape(body: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message) as error:
        parse_notes(body, url="https://api.test/notes?x=1", venue=VENUE)
    assert str(error.value).startswith("https://api.test/notes?x=1: ")


def test_odd_notes_are_read_or_skipped_not_fatal() -> None:
    body = json.dumps(
        {
            "count": 7,
            "notes": [
                "not a note",
                {"content": {"title": {"value": "No id at all"}}},
                {"id": "NoContent1"},
                # API v1 style bare values; times that are not times; a pdf given as a URL.
                {
                    "id": "Old1",
                    "cdate": True,
                    "tmdate": -5,
                    "mdate": 10**18,
                    "content": {
                        "title": "A v1 note",
                        "authors": "not a list",
                        "keywords": "not a list",
                        "pdf": "https://example.org/paper.pdf",
                        "tldr": "Lower-case key.",
                        "code": "javascript:alert(1)",
                        "_bibtex": "@misc{x, journal={arXiv preprint arXiv:2501.90001}}",
                    },
                },
                # arXiv's own DOI names the arXiv paper.
                {
                    "id": "Dx1",
                    "content": {
                        "doi": {"value": "10.48550/arXiv.2502.90002"},
                        "title": {"value": "Via DOI"},
                        "pdf": {"value": "javascript:x"},
                    },
                },
                {
                    "id": "Nb1",
                    "content": {
                        "title": {"value": "No bibtex ids"},
                        "_bibtex": {"value": "@misc{y, note={nothing here}, doi={not a doi}}"},
                    },
                },
                {"id": "Em1", "content": {"title": {"value": "   "}}},
            ],
        }
    ).encode()
    page = parse_notes(body, url="u", venue=VENUE, which="submissions")
    assert (page.notes, page.incomplete) == (7, 4)
    v1, via_doi, plain_note = (s.paper for s in page.sightings)
    assert str(v1.id) == "arxiv:2501.90001" and v1.version is None
    assert v1.url == "https://openreview.net/forum?id=Old1"
    assert v1.pdf_url == "https://example.org/paper.pdf" and v1.code_url is None
    assert v1.signals["tldr"] == "Lower-case key."
    assert v1.authors == () and "openreview.keywords" not in v1.signals
    assert v1.published is None and v1.updated is None and v1.announced is None
    assert page.sightings[0].changed == 10**18
    assert str(via_doi.id) == "arxiv:2502.90002" and via_doi.pdf_url is None
    assert via_doi.doi == "10.48550/arxiv.2502.90002"
    assert plain_note.id.kind == "fp" and plain_note.doi is None


@pytest.mark.parametrize(
    "config",
    [
        {"venue": "ICLR.cc/2025/Conference/-/Submission"},
        {"venue": "ICLR 2025"},
        {"venue": ""},
        {"venue": VENUE, "which": "rejected"},
        {"venue": VENUE, "page_size": 1001},
        {"venue": VENUE, "max_results": 0},
        {"venue": VENUE, "url": "file:///etc/passwd"},
        {"venue": VENUE, "limit": 10},
        {},
    ],
)
def test_bad_config_is_rejected_before_any_request(config: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        OpenReviewSource.Config(**config)


def test_a_venue_is_cleaned() -> None:
    assert OpenReviewSource.Config(venue=" /TMLR/ ").venue == "TMLR"


def test_keeps_the_source_contract(fixture_server: FixtureServer, tmp_path: Path) -> None:
    serve_accepted(fixture_server)
    src = source(fixture_server, tmp_path, page_size=3)
    assert len(check_source(src, context=fast_context())) == 4
