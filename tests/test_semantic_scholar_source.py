"""The ``semantic_scholar`` source: S2 recommendations and followed authors over real HTTP.

Every reply is a hand-written fixture in ``tests/fixtures/semantic_scholar_source`` (invented
papers in the response shapes S2 documents), served by the local test server; see the
fixtures README for what each holds.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Callable
from pathlib import Path

import pydantic
import pytest

from digest import CollectContext, SourceError
from digest.fetch import Fetcher, FetchPolicy, HostLimit
from digest.models import Paper
from digest.store import Store
from digest.testing import check_source, make_context, make_paper, make_runtime
from digest_semantic_scholar import (
    FIELDS,
    SemanticScholarSource,
    api_error,
    parse_author_papers,
    parse_recommendations,
    register_sources,
    s2_paper_id,
)
from digest_semantic_scholar.ids import record_keys
from digest_semantic_scholar.text import plain_text
from httpserver import FixtureServer, Reply, Request, fixture_bytes

NOW = dt.datetime(2025, 7, 20, 6, 30, tzinfo=dt.UTC)
DIR = "semantic_scholar_source"
LIKED_A = "ARXIV:2507.90001"
LIKED_B = "DOI:10.5555/s2.liked.b"
JSON_TYPE = {"Content-Type": "application/json"}

# The papers of the two recommendation lists, by canonical id.
SPARSE = "arxiv:2507.90112"  # 1st for A, 3rd for B; its journal DOI 10.5555/jmlr.2025.90112
CATALYSTS = "doi:10.5555/chem.2025.0207"  # 2nd for A; a DOI-only paper with markup
CURRICULUM = "arxiv:2507.90160"  # 6th for A, 1st for B; arXiv's own DOI
BOUNDS = "arxiv:2507.90177"  # 2nd for B; LaTeX in title and abstract
# 3rd for A: a paper with neither arXiv id nor DOI, known by a title fingerprint


def fixture(name: str) -> str:
    return f"{DIR}/{name}"


def rec_path(s2_id: str) -> str:
    return f"/recommendations/v1/papers/forpaper/{s2_id}"


def author_path(author: str) -> str:
    return f"/graph/v1/author/{author}/papers"


def source(server: FixtureServer, tmp_path: Path, **config: object) -> SemanticScholarSource:
    return SemanticScholarSource(
        SemanticScholarSource.Config(api_url=server.url(""), **config),
        instance="s2",
        runtime=make_runtime(tmp_path),
    )


def context(
    *, state: dict[str, str] | None = None, retries: int = 2, paced: bool = False
) -> CollectContext:
    """A collect context; unless ``paced``, the operator's [fetch.hosts] setting for the test
    server lifts the source's 1 s pace, so that tests do not wait."""
    hosts = {} if paced else {"127.0.0.1": HostLimit(interval=0.0, connections=4)}
    fetcher = Fetcher(
        FetchPolicy(
            allow=("127.0.0.0/8",),
            retries=retries,
            backoff=0.05,
            max_retry_wait=5.0,
            hosts=hosts,
        )
    )
    return make_context(now=NOW, state=state, fetcher=fetcher)


def serve_recommendations(server: FixtureServer) -> None:
    server.route(rec_path(LIKED_A), Reply(body=fixture("forpaper_ARXIV_2507.90001.json")))
    server.route(rec_path(LIKED_B), Reply(body=fixture("forpaper_DOI_10.5555_s2.liked.b.json")))


def serve_author(server: FixtureServer) -> None:
    path = author_path("1900001")
    server.route(path, Reply(body=fixture("author_1900001_offset0.json")), query={"offset": "0"})
    server.route(path, Reply(body=fixture("author_1900001_offset2.json")), query={"offset": "2"})


def by_id(papers: list[Paper]) -> dict[str, Paper]:
    return {str(p.id): p for p in papers}


def fingerprint_ids(papers: list[Paper]) -> list[str]:
    return [str(p.id) for p in papers if p.id.kind == "fp"]


def error_reply(status: int, name: str, **headers: str) -> Reply:
    return Reply(status=status, body=fixture(name), headers={**JSON_TYPE, **headers})


# -- registration and config --------------------------------------------------------------------


def test_registers_the_source() -> None:
    assert register_sources() == [SemanticScholarSource]
    assert SemanticScholarSource.name == "semantic_scholar"
    config = SemanticScholarSource.Config(liked=["2406.01234"])
    assert config.api_url == "https://api.semanticscholar.org"
    assert (config.limit, config.pool, config.days, config.api_key_env) == (100, "recent", 30, None)


def test_liked_ids_are_taken_as_people_write_them() -> None:
    config = SemanticScholarSource.Config(
        liked=[
            "2406.01234",
            "arXiv:2406.01234v3",  # the same paper again: asked once
            "https://arxiv.org/abs/hep-th/9901001v2",
            "10.1145/3404835.3462891",
            "https://doi.org/10.5555/ABC.1",
            "doi: 10.5555/xyz",
            "10.48550/arXiv.2310.90001",
            "CorpusId:215416146",
            "PMID:31452104",
            "649DEF34F8BE52C8B66281AF98AE884C09AEF38B",
            "https://www.semanticscholar.org/paper/A-Title/649def34f8be52c8b66281af98ae884c09aef39c",
        ],
        authors=["1741101", "https://www.semanticscholar.org/author/Ada-Okafor/1900001/"],
    )
    assert config.liked == [
        "ARXIV:2406.01234",
        "ARXIV:hep-th/9901001",
        "DOI:10.1145/3404835.3462891",
        "DOI:10.5555/abc.1",
        "DOI:10.5555/xyz",
        "ARXIV:2310.90001",
        "CorpusId:215416146",
        "PMID:31452104",
        "649def34f8be52c8b66281af98ae884c09aef38b",
        "649def34f8be52c8b66281af98ae884c09aef39c",
    ]
    assert config.authors == ["1741101", "1900001"]
    assert s2_paper_id("URL:https://arxiv.org/abs/2106.15928v1").startswith("URL:https://")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "set liked"),
        ({"liked": ["a paper I liked"]}, "not a paper id S2 knows"),
        ({"liked": [" "]}, "empty paper id"),
        ({"liked": ["arXiv:not-an-id"]}, "not an arXiv id"),
        ({"liked": ["doi:nothing"]}, "not a DOI"),
        ({"liked": ["CorpusId:abc"]}, "CorpusId is a number"),
        ({"authors": ["Ada Okafor"]}, "not a Semantic Scholar author id"),
        ({"disliked": ["2406.01234"], "authors": ["1"]}, "set liked too"),
        ({"liked": ["2406.01234"], "disliked": ["arXiv:2406.01234v2"]}, "liked and disliked"),
        ({"liked": ["2406.01234"], "api_key_env": "sk-live 1234"}, "name of an environment"),
        ({"liked": ["2406.01234"], "limit": 501}, "less than or equal to 500"),
        ({"liked": ["2406.01234"], "pool": "everything"}, "recent"),
        ({"liked": ["2406.01234"], "api_url": "file:///etc/passwd"}, "http"),
        ({"liked": ["2406.01234"], "fields": "title"}, "Extra inputs"),
    ],
)
def test_bad_config_is_rejected_before_any_request(config: dict[str, object], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        SemanticScholarSource.Config(**config)


def test_an_api_key_env_name_is_kept_without_spaces() -> None:
    config = SemanticScholarSource.Config(authors=["1"], api_key_env=" S2_API_KEY ")
    assert config.api_key_env == "S2_API_KEY"
    assert SemanticScholarSource.Config(authors=["1"], api_key_env=None).api_key_env is None


def test_an_author_only_instance_may_find_nothing(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    authors = SemanticScholarSource(
        SemanticScholarSource.Config(authors=["1"]), instance="a", runtime=runtime
    )
    liked = SemanticScholarSource(
        SemanticScholarSource.Config(liked=["2406.01234"]), instance="b", runtime=runtime
    )
    assert authors.expects_papers(NOW) is False
    assert liked.expects_papers(NOW) is None


# -- recommendations ----------------------------------------------------------------------------


def test_recommendations_for_two_liked_papers_are_merged_best_rank_first(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_recommendations(fixture_server)
    ctx = context()
    src = source(fixture_server, tmp_path, liked=["arXiv:2507.90001v2", "10.5555/S2.Liked.B"])
    papers = list(src.collect(ctx))

    (first,) = fixture_server.hits(rec_path(LIKED_A))
    (second,) = fixture_server.hits(rec_path(LIKED_B))  # the DOI's "/" stays a "/"
    for request in (first, second):
        assert request.query == {"from": "recent", "limit": "100", "fields": FIELDS}
        assert request.headers["accept"] == "application/json"
        assert "x-api-key" not in request.headers
    assert "tldr" in FIELDS.split(",") and "externalIds" in FIELDS.split(",")

    found = by_id(papers)
    # Seven records for A (two without a title, one the liked paper B itself), three for B.
    assert len(papers) == 5 and len(fingerprint_ids(papers)) == 1
    assert set(found) - set(fingerprint_ids(papers)) == {SPARSE, CATALYSTS, CURRICULUM, BOUNDS}
    assert "doi:10.5555/s2.liked.b" not in found  # a liked paper is not recommended back
    ranks = {
        key: (
            p.signals["s2.rank"],
            p.signals["s2.recommended_for"],
            p.signals["s2.recommended_count"],
        )
        for key, p in found.items()
    }
    assert ranks[SPARSE] == (1, "arxiv:2507.90001", 2)  # 1st for A beats 3rd for B
    assert ranks[CURRICULUM] == (1, "doi:10.5555/s2.liked.b", 2)  # 6th for A, 1st for B
    assert ranks[CATALYSTS] == (2, "arxiv:2507.90001", 1)
    assert ranks[BOUNDS] == (2, "doi:10.5555/s2.liked.b", 1)
    assert ranks[fingerprint_ids(papers)[0]] == (3, "arxiv:2507.90001", 1)
    # The records without a title are reported, naming the request.
    assert ctx.warnings == [
        f"{fixture_server.url(rec_path(LIKED_A))}: 2 records without a title skipped"
    ]
    assert ctx.pending_state == {}  # nothing to remember for recommendations


def test_every_field_of_a_recommended_paper(fixture_server: FixtureServer, tmp_path: Path) -> None:
    serve_recommendations(fixture_server)
    papers = by_id(list(source(fixture_server, tmp_path, liked=[LIKED_A]).collect(context())))
    sparse = papers[SPARSE]
    assert sparse.title == "Sparse Adapters for Continual Speech Recognition"
    assert sparse.abstract.startswith("Speech recognizers forget old accents when")
    assert [a.name for a in sparse.authors] == [
        "Zoë Ferreira-Lindqvist",
        "Tomasz Olejnik",
        "Haruka Tsuchiya",
    ]
    assert sparse.url == "https://arxiv.org/abs/2507.90112"
    assert sparse.pdf_url == "https://arxiv.org/pdf/2507.90112"
    # The journal version's DOI: set, and an alias, so the journal's own sighting merges here.
    assert sparse.doi == "10.5555/jmlr.2025.90112"
    assert sparse.aliases == ("doi:10.5555/jmlr.2025.90112",)
    assert sparse.published == dt.datetime(2025, 7, 14, tzinfo=dt.UTC)
    assert sparse.announced is None and sparse.version is None
    assert sparse.categories == ()  # S2's fields of study are not arXiv categories
    assert sparse.sources == ("s2",)
    assert dict(sparse.signals) == {
        "s2.paper_id": "b67a81c81e13924d3e21a712eb45293804e1e1f0",
        "s2.corpus_id": 280090112,
        "s2.citations": 4,
        "s2.venue": "Journal of Machine Learning Research",
        "s2.tldr": "Sparse adapters let a speech recognizer learn new accents without forgetting "
        "old ones.",
        "s2.fields": "Computer Science, Linguistics",
        "s2.year": 2025,
        "s2.rank": 1,
        "s2.recommended_for": "arxiv:2507.90001",
        "s2.recommended_count": 1,
    }


def test_markup_entities_and_latex_come_out_as_plain_text(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_recommendations(fixture_server)
    src = source(fixture_server, tmp_path, liked=[LIKED_A, LIKED_B])
    papers = by_id(list(src.collect(context())))
    catalysts = papers[CATALYSTS]
    assert catalysts.title == "In silico Screening of Catalysts for H2O Splitting & 𝒪(n) Scoring"
    # JATS paragraphs separate words; markup escaped twice is markup too.
    assert catalysts.abstract == (
        "Abstract We screen 12 000 candidate catalysts with a learned energy model. "
        "Scoring is linear in the number of atoms n."
    )
    assert catalysts.doi == "10.5555/chem.2025.0207" and catalysts.aliases == ()
    assert catalysts.url == "https://doi.org/10.5555/chem.2025.0207"
    assert catalysts.pdf_url is None
    assert "s2.tldr" not in catalysts.signals and "s2.venue" not in catalysts.signals
    assert catalysts.signals["s2.fields"] == "Chemistry"
    assert catalysts.signals["s2.citations"] == 0  # 0 is a count
    bounds = papers[BOUNDS]
    assert bounds.title == "Bounds on ϵ-Private Federated Keyword Spotting"
    assert "quadratically more devices" in bounds.abstract and "\\emph" not in bounds.abstract
    for paper in papers.values():
        assert "<" not in paper.title and "&amp;" not in paper.title and "\n" not in paper.title
        assert "<" not in paper.abstract and "&" not in paper.abstract.replace(" & ", "")


def test_a_paper_without_arxiv_id_or_doi_is_known_by_its_title(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_recommendations(fixture_server)
    papers = list(source(fixture_server, tmp_path, liked=[LIKED_A]).collect(context()))
    (key,) = fingerprint_ids(papers)
    notes = by_id(papers)[key]
    assert notes.title == "Notes on Tokenizer Drift in Low-Resource Languages"  # wrapped
    assert notes.abstract == "" and notes.doi is None and notes.aliases == ()
    assert notes.url == (
        "https://www.semanticscholar.org/paper/ffc5994cbc42bfe62e793084c6d43d071d0cd674"
    )
    assert notes.pdf_url is None  # S2's empty openAccessPdf.url is no link
    assert notes.published is None  # only a year
    assert notes.signals["s2.year"] == 2025
    assert notes.signals["s2.fields"] == "Computer Science, Linguistics"
    assert [a.name for a in notes.authors] == ["Ngozi Okonkwo-Baptiste"]


def test_arxivs_own_doi_is_not_an_alias(fixture_server: FixtureServer, tmp_path: Path) -> None:
    serve_recommendations(fixture_server)
    papers = by_id(list(source(fixture_server, tmp_path, liked=[LIKED_B]).collect(context())))
    curriculum = papers[CURRICULUM]
    assert curriculum.doi == "10.48550/arxiv.2507.90160"
    assert curriculum.aliases == ()  # the same id as the paper's own
    assert papers[BOUNDS].doi is None and papers[BOUNDS].aliases == ()


def test_the_s2_sighting_merges_with_the_preprint_and_the_journal_version(
    fixture_server: FixtureServer, tmp_path: Path, database_url: str
) -> None:
    serve_recommendations(fixture_server)
    found = list(source(fixture_server, tmp_path, liked=[LIKED_A]).collect(context()))
    store = Store.open(database_url)
    journal = make_paper(
        None,
        title="Sparse adapters for continual speech recognition",
        doi="10.5555/JMLR.2025.90112",
        sources=("journal",),
    )
    preprint = make_paper(
        "2507.90112v2", title="Sparse Adapters for Continual ASR", sources=("arxiv",)
    )
    # The journal version first, then S2 (linking its DOI to the arXiv id), then arXiv.
    assert store.upsert_papers([journal], source="journal", now=NOW).new == 1
    assert store.upsert_papers(found, source="s2", now=NOW).new == len(found) - 1
    assert store.upsert_papers([preprint], source="arxiv", now=NOW).new == 0
    hits = store.papers_by_id([SPARSE, "doi:10.5555/jmlr.2025.90112"])
    assert {str(p.id) for p in hits.values()} == {SPARSE}
    merged = hits[SPARSE]
    assert set(merged.sources) == {"journal", "s2", "arxiv"}
    assert str(merged.signals["s2.tldr"]).startswith("Sparse adapters let")


def test_disliked_papers_are_never_yielded(fixture_server: FixtureServer, tmp_path: Path) -> None:
    serve_recommendations(fixture_server)
    src = source(
        fixture_server,
        tmp_path,
        liked=[LIKED_A, LIKED_B],
        disliked=[
            "2507.90160v1",  # by arXiv id
            "fe22af24c23d50eaddb04dca35a5552c111a8e08",  # by S2 paper id
            "CorpusId:280090207",  # by CorpusId
            "https://doi.org/10.5555/JMLR.2025.90112",  # by the journal DOI
        ],
    )
    papers = list(src.collect(context()))
    assert [str(p.id) for p in papers] == fingerprint_ids(papers)  # only the untitled-id one


def test_no_recommendations_is_an_empty_result(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(rec_path(LIKED_A), Reply(body=fixture("recommendations_empty.json")))
    ctx = context()
    assert list(source(fixture_server, tmp_path, liked=[LIKED_A]).collect(ctx)) == []
    assert ctx.warnings == []


def test_the_all_cs_pool_and_a_smaller_limit_are_asked_for(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(rec_path(LIKED_A), Reply(body=fixture("recommendations_empty.json")))
    src = source(fixture_server, tmp_path, liked=[LIKED_A], pool="all-cs", limit=20)
    list(src.collect(context()))
    (request,) = fixture_server.hits(rec_path(LIKED_A))
    assert (request.query["from"], request.query["limit"]) == ("all-cs", "20")


def test_an_unknown_liked_paper_is_skipped_with_a_warning(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_recommendations(fixture_server)
    unknown = "ARXIV:2507.99999"
    fixture_server.route(rec_path(unknown), error_reply(404, "error_404_paper.json"))
    ctx = context()
    src = source(fixture_server, tmp_path, liked=[unknown, LIKED_B])
    papers = list(src.collect(ctx))
    assert {CURRICULUM, SPARSE, BOUNDS} == set(by_id(papers))
    (warning,) = ctx.warnings
    assert warning == (
        f"{fixture_server.url(rec_path(unknown))}: HTTP 404: Paper with id ARXIV:2507.99999 "
        f"not found; liked paper {unknown} skipped"
    )


def test_an_error_for_every_request_fails_the_source_with_the_apis_message(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(rec_path(LIKED_A), error_reply(400, "error_400_fields.json"))
    with pytest.raises(SourceError) as error:
        list(source(fixture_server, tmp_path, liked=[LIKED_A]).collect(context()))
    message = str(error.value)
    assert message == (
        f"{fixture_server.url(rec_path(LIKED_A))}: HTTP 400: Unrecognized or unsupported "
        "fields: [s2FieldsOfStudy.garbage] (the one request failed)"
    )


def test_a_server_error_gives_up_and_names_the_url(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    for liked in (LIKED_A, LIKED_B):
        fixture_server.route(rec_path(liked), Reply(status=500, body=b"Internal Server Error"))
    with pytest.raises(SourceError, match="HTTP 500") as error:
        list(source(fixture_server, tmp_path, liked=[LIKED_A, LIKED_B]).collect(context()))
    assert str(error.value).startswith(fixture_server.url(rec_path(LIKED_A)))
    assert str(error.value).endswith("(all 2 requests failed)")
    assert "\n" not in str(error.value)


def test_a_connection_failure_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    src = SemanticScholarSource(
        SemanticScholarSource.Config(liked=[LIKED_A], api_url=f"http://127.0.0.1:{port}"),
        instance="s2",
        runtime=make_runtime(tmp_path),
    )
    with pytest.raises(SourceError, match="cannot connect") as error:
        list(src.collect(context()))
    assert "\n" not in str(error.value)


def test_a_429_is_retried_after_the_time_s2_asks_for(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    calls: list[Request] = []

    def limited_once(request: Request) -> Reply:
        calls.append(request)
        if len(calls) == 1:
            return error_reply(429, "error_429.json", **{"Retry-After": "1"})
        return Reply(body=fixture_bytes(fixture("forpaper_ARXIV_2507.90001.json")))

    fixture_server.route(rec_path(LIKED_A), limited_once)
    papers = list(source(fixture_server, tmp_path, liked=[LIKED_A]).collect(context()))
    assert len(papers) == 5  # seven records, two without a title
    assert len(calls) == 2
    assert calls[1].at - calls[0].at >= 0.95  # Retry-After: 1 was honoured


def test_429s_until_the_retries_run_out_fail_with_a_hint(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(rec_path(LIKED_A), error_reply(429, "error_429.json"))
    with pytest.raises(SourceError) as error:
        list(source(fixture_server, tmp_path, liked=[LIKED_A]).collect(context(retries=1)))
    assert len(fixture_server.hits(rec_path(LIKED_A))) == 2
    assert "HTTP 429: Too Many Requests (rate limited; an API key gives a rate of its own)" in str(
        error.value
    )


def test_requests_are_paced_one_a_second(fixture_server: FixtureServer, tmp_path: Path) -> None:
    serve_recommendations(fixture_server)
    src = source(fixture_server, tmp_path, liked=[LIKED_A, LIKED_B])
    list(src.collect(context(paced=True)))  # no [fetch.hosts] override: the source's pace
    (first,) = fixture_server.hits(rec_path(LIKED_A))
    (second,) = fixture_server.hits(rec_path(LIKED_B))
    assert second.at - first.at >= 0.95


def test_an_endpoint_refusing_tldr_is_asked_again_without_it(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    def refuses_tldr(name: str) -> Callable[[Request], Reply]:
        def reply(request: Request) -> Reply:
            if "tldr" in request.query["fields"].split(","):
                return error_reply(400, "error_400_tldr.json")
            return Reply(body=fixture_bytes(fixture(name)))

        return reply

    fixture_server.route(rec_path(LIKED_A), refuses_tldr("forpaper_ARXIV_2507.90001.json"))
    fixture_server.route(rec_path(LIKED_B), refuses_tldr("forpaper_DOI_10.5555_s2.liked.b.json"))
    ctx = context()
    papers = list(source(fixture_server, tmp_path, liked=[LIKED_A, LIKED_B]).collect(ctx))
    assert len(papers) == 5
    asked = [r.query["fields"] for r in fixture_server.requests]
    without = ",".join(f for f in FIELDS.split(",") if f != "tldr")
    # A once with and once without; B (and the rest of the run) straight away without.
    assert asked == [FIELDS, without, without]
    assert not ctx.warnings[1:]  # only the usual skipped-records line


def test_the_api_key_comes_from_the_named_environment_variable(
    fixture_server: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S2_TEST_KEY", "invented-test-key-0001")
    fixture_server.route(rec_path(LIKED_A), Reply(body=fixture("recommendations_empty.json")))
    src = source(fixture_server, tmp_path, liked=[LIKED_A], api_key_env="S2_TEST_KEY")
    ctx = context()
    list(src.collect(ctx))
    (request,) = fixture_server.hits(rec_path(LIKED_A))
    assert request.headers["x-api-key"] == "invented-test-key-0001"
    assert ctx.warnings == []


def test_an_unset_api_key_variable_is_a_warning_and_no_header(
    fixture_server: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("S2_TEST_KEY", raising=False)
    fixture_server.route(rec_path(LIKED_A), Reply(body=fixture("recommendations_empty.json")))
    src = source(fixture_server, tmp_path, liked=[LIKED_A], api_key_env="S2_TEST_KEY")
    ctx = context()
    list(src.collect(ctx))
    (request,) = fixture_server.hits(rec_path(LIKED_A))
    assert "x-api-key" not in request.headers
    assert ctx.warnings == [
        "sources.s2: api_key_env S2_TEST_KEY is not set; using S2's shared public pool "
        "(expect 429s)"
    ]


def test_a_refused_api_key_says_so(
    fixture_server: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S2_TEST_KEY", "invented-revoked-key")
    fixture_server.route(rec_path(LIKED_A), error_reply(403, "error_403.json"))
    src = source(fixture_server, tmp_path, liked=[LIKED_A], api_key_env="S2_TEST_KEY")
    with pytest.raises(SourceError, match=r"HTTP 403: Forbidden \(is the API key") as error:
        list(src.collect(context()))
    assert "invented-revoked-key" not in str(error.value)


# -- followed authors ---------------------------------------------------------------------------


def test_a_followed_authors_new_papers_over_two_pages(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_author(fixture_server)
    ctx = context()
    papers = list(source(fixture_server, tmp_path, authors=["1900001"]).collect(ctx))

    requests = fixture_server.hits(author_path("1900001"))
    # First run: 30 days back from 2025-07-20, and 7 more for S2's indexing delay.
    assert [r.query for r in requests] == [
        {"publicationDateOrYear": "2025-06-13:", "limit": "100", "offset": offset, "fields": FIELDS}
        for offset in ("0", "2")
    ]
    # Kept: the two of July; dropped: one of May (S2 dated it otherwise), one with only the
    # year 2024 (1 January), one without any date.
    assert [str(p.id) for p in papers] == ["arxiv:2507.90201", "doi:10.5555/cl.2025.0716"]
    retrieval = papers[0]
    assert retrieval.aliases == ("doi:10.5555/tacl.2025.90201",)
    assert retrieval.signals["s2.author"] == "1900001"
    assert (
        retrieval.signals["s2.tldr"]
        == "Long-context failures come from a few saturated retrieval heads."
    )
    assert (
        papers[1].abstract
        == "We release 140 hours of Yoruba–English radio speech with word-level language tags."
    )
    assert "s2.rank" not in retrieval.signals
    assert ctx.pending_state == {"author.1900001.since": "2025-07-20"}
    assert ctx.warnings == []


def test_the_next_run_asks_only_since_the_last_one(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_author(fixture_server)
    src = source(fixture_server, tmp_path, authors=["1900001"], overlap_days=0)
    ctx = context(state={"author.1900001.since": "2025-07-18"})
    papers = list(src.collect(ctx))
    assert fixture_server.hits(author_path("1900001"))[0].query["publicationDateOrYear"] == (
        "2025-07-18:"
    )
    assert [str(p.id) for p in papers] == ["arxiv:2507.90201"]  # the one of 07-16 is older
    assert ctx.pending_state == {"author.1900001.since": "2025-07-20"}


@pytest.mark.parametrize("saved", ["yesterday", "2025-09-01"])
def test_an_unreadable_or_future_watermark_is_not_trusted(
    saved: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(author_path("1900001"), Reply(body=fixture("author_empty.json")))
    src = source(fixture_server, tmp_path, authors=["1900001"], days=3, overlap_days=1)
    assert list(src.collect(context(state={"author.1900001.since": saved}))) == []
    asked = fixture_server.hits(author_path("1900001"))[0].query["publicationDateOrYear"]
    # Unreadable: the first run's window; in the future: today's.
    assert asked == ("2025-07-16:" if saved == "yesterday" else "2025-07-19:")


def test_an_author_without_new_papers_is_an_empty_result(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(author_path("1900001"), Reply(body=fixture("author_empty.json")))
    ctx = context()
    assert list(source(fixture_server, tmp_path, authors=["1900001"]).collect(ctx)) == []
    assert ctx.pending_state == {"author.1900001.since": "2025-07-20"}
    assert len(fixture_server.hits(author_path("1900001"))) == 1


def test_a_next_that_does_not_move_on_ends_the_paging(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    # The documentation's own example reply has "next": 0 on the first page.
    body = json.loads(fixture_bytes(fixture("author_1900001_offset0.json")))
    body["next"] = 0
    fixture_server.route(author_path("1900001"), Reply(body=json.dumps(body).encode()))
    papers = list(source(fixture_server, tmp_path, authors=["1900001"]).collect(context()))
    assert len(papers) == 2 and len(fixture_server.hits(author_path("1900001"))) == 1


def test_paging_stops_at_max_papers_with_a_warning(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_author(fixture_server)
    ctx = context()
    src = source(fixture_server, tmp_path, authors=["1900001"], max_papers=2)
    papers = list(src.collect(ctx))
    (request,) = fixture_server.hits(author_path("1900001"))
    assert request.query["limit"] == "2"
    assert len(papers) == 2
    assert ctx.warnings == [
        f"{fixture_server.url(author_path('1900001'))}: stopped paging at max_papers=2; later "
        "papers of this author were not read"
    ]


def test_an_unknown_author_is_skipped_and_keeps_no_watermark(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_author(fixture_server)
    fixture_server.route(author_path("1900099"), error_reply(404, "error_404_author.json"))
    ctx = context()
    src = source(fixture_server, tmp_path, authors=["1900099", "1900001"])
    papers = list(src.collect(ctx))
    assert len(papers) == 2
    assert ctx.warnings == [
        f"{fixture_server.url(author_path('1900099'))}: HTTP 404: Author with id 1900099 not "
        "found; author 1900099 skipped"
    ]
    assert ctx.pending_state == {"author.1900001.since": "2025-07-20"}


def test_a_paper_both_recommended_and_by_a_followed_author_comes_once(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_recommendations(fixture_server)
    fixture_server.route(author_path("1900002"), Reply(body=fixture("author_1900002_offset0.json")))
    src = source(fixture_server, tmp_path, liked=[LIKED_A], authors=["1900002"])
    papers = list(src.collect(context()))
    assert [str(p.id) for p in papers].count(SPARSE) == 1
    sparse = by_id(papers)[SPARSE]
    assert (sparse.signals["s2.rank"], sparse.signals["s2.author"]) == (1, "1900002")


# -- replies that are not the documented shape --------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<!DOCTYPE html><html><body>Maintenance</body></html>", "got an HTML/XML page"),
        (b"", "empty reply"),
        (b'{"data": [', "invalid JSON"),
        (b"\xff\xfe garbage", "invalid JSON"),
        (b"[]", "expected a JSON object, got a JSON list"),
        (b'{"papers": []}', "no 'data' list of papers"),
        (b'{"message": "Endpoint request timed out"}', "error: Endpoint request timed out"),
    ],
)
def test_an_author_reply_that_is_not_the_documented_shape_fails_the_source(
    body: bytes, message: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(author_path("1900001"), Reply(body=body, headers=JSON_TYPE))
    ctx = context()
    with pytest.raises(SourceError, match=message) as error:
        list(source(fixture_server, tmp_path, authors=["1900001"]).collect(ctx))
    assert str(error.value).startswith(fixture_server.url(author_path("1900001")))
    assert ctx.pending_state == {}  # the watermark stays where it was


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"data": []}', "no 'recommendedPapers' list"),
        (b'{"error": "Requested object not found"}', "error: Requested object not found"),
    ],
)
def test_a_recommendations_reply_that_is_not_the_documented_shape_fails(
    body: bytes, message: str
) -> None:
    with pytest.raises(SourceError, match=message):
        parse_recommendations(body, url="https://s2.test/rec", source="s2")


def test_records_that_are_not_papers_are_skipped() -> None:
    body = json.dumps(
        {
            "offset": 0,
            "next": True,  # not an offset
            "data": [
                "a string",
                {"title": "Kept", "authors": "not a list", "externalIds": ["not", "a", "map"]},
                {
                    "title": "Odd values",
                    "year": 99999,
                    "publicationDate": "2025-13-45",
                    "citationCount": True,
                    "externalIds": {"CorpusId": "280090999", "ArXiv": 2507},
                    "openAccessPdf": {"url": "javascript:alert(1)"},
                    "fieldsOfStudy": ["Art, History", None],
                    "tldr": {"model": "tldr@v2.0.0", "text": None},
                    "authors": [{"name": "Ana Sofía Quiroga"}, "x", {"name": None}],
                },
            ],
        }
    ).encode()
    page = parse_author_papers(body, url="https://s2.test/a", source="s2")
    assert (page.records, page.skipped, page.next_offset) == (3, 1, None)
    kept, odd = (f.paper for f in page.found)
    assert kept.authors == () and kept.signals == {}
    assert odd.published is None and page.found[1].day is None
    assert odd.pdf_url is None
    assert [a.name for a in odd.authors] == ["Ana Sofía Quiroga"]
    assert dict(odd.signals) == {
        "s2.corpus_id": 280090999,
        "s2.fields": "Art History",  # a comma inside a name is no separator
        "s2.year": 99999,
    }


def test_api_error_reads_both_error_shapes() -> None:
    assert api_error(b'{"error": "Paper with id X not found"}') == "Paper with id X not found"
    assert api_error(b'{"message": "Forbidden"}') == "Forbidden"
    assert api_error(b'{"message": "   "}') is None
    assert api_error(b'["error"]') is None
    assert api_error(b"<html>") is None
    assert api_error(json.dumps({"error": "x" * 500}).encode()) == "x" * 299 + "…"


def test_a_context_without_http_is_a_clean_error(tmp_path: Path) -> None:
    src = SemanticScholarSource(
        SemanticScholarSource.Config(liked=[LIKED_A]), instance="s2", runtime=make_runtime(tmp_path)
    )
    with pytest.raises(SourceError, match="no HTTP client"):
        list(src.collect(CollectContext(now=NOW, state={})))


def test_keeps_the_source_contract(fixture_server: FixtureServer, tmp_path: Path) -> None:
    serve_recommendations(fixture_server)
    serve_author(fixture_server)
    src = source(fixture_server, tmp_path, liked=[LIKED_A, LIKED_B], authors=["1900001"])
    papers = check_source(src, context=context())
    assert len(papers) == 7


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("Plain title", "Plain title"),
        (
            "Tom &amp; Jerry &#8212; a <b>bold</b> H<sub>2</sub>O study",
            "Tom & Jerry — a bold H2O study",
        ),
        ("a < b and c > d", "a < b and c > d"),
        ("Bounds for p<q &amp; q<r", "Bounds for p<q & q<r"),
        ("Sizes n<k", "Sizes n<k"),
        ("Kept<!-- an editor's comment --> text<script>alert(1)</script>", "Kept text"),
        ("<p>One</p><p>Two<br/>Three</p>", "One Two Three"),
        (
            '<mml:math><mml:mi>α</mml:mi><mml:annotation encoding="tex">\\alpha</mml:annotation>'
            "</mml:math>-stable laws",
            "α-stable laws",
        ),
        (None, ""),
        (42, ""),
    ],
)
def test_plain_text_from_markup(raw: object, text: str) -> None:
    assert plain_text(raw) == text


def test_pubmed_ids_match_disliked_papers() -> None:
    record = {"paperId": "AB" * 20, "externalIds": {"PubMed": "31452104", "PubMedCentral": ""}}
    assert record_keys(record) == {"ab" * 20, "PMID:31452104"}
    assert record_keys({"externalIds": None}) == set()
    assert s2_paper_id("PMID:31452104") in record_keys(record)
