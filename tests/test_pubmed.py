"""The ``pubmed`` source: esearch + efetch over a real local HTTP server.

The fixtures (``tests/fixtures/pubmed``) are hand-written replies in the documented shapes of
NCBI's E-utilities: two esearch pages (6 PMIDs, 3 a page), the two efetch replies for them
(invented articles: a structured abstract with inline markup, a translated title without DOI,
a journal article and its bioRxiv preprint linked both ways, an arXiv preprint, a record
without a title), an empty search, a query with a phrase PubMed did not find, esearch's
``ERROR`` reply, efetch's ``<ERROR>`` reply and NCBI's rate-limit JSON.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pydantic
import pytest

from digest import CollectContext, SourceError
from digest.fetch import Fetcher, FetchPolicy, HostLimit
from digest.models import Paper
from digest.store import Store
from digest.testing import check_source, make_context, make_runtime
from digest_pubmed import PubMedSource, parse_articles, parse_search, register_sources
from httpserver import FixtureServer, Reply, Request, fixture_bytes

BASE = "/eutils/"
ESEARCH = "/eutils/esearch.fcgi"
EFETCH = "/eutils/efetch.fcgi"
JSON = {"Content-Type": "application/json"}
XML = {"Content-Type": "text/xml; charset=UTF-8"}
NOW = dt.datetime(2025, 6, 11, 9, 30, tzinfo=dt.UTC)
PAGE1 = "99000103,99000102,99000101"
PAGE2 = "99000106,99000105,99000104"
QUERY = "sepsis AND machine learning"


def source(server: FixtureServer, tmp_path: Path, **config: object) -> PubMedSource:
    settings: dict[str, object] = {"query": QUERY, "url": server.url(BASE), **config}
    return PubMedSource(
        PubMedSource.Config(**settings), instance="pm", runtime=make_runtime(tmp_path)
    )


def fast_context(
    now: dt.datetime = NOW, state: dict[str, str] | None = None, retries: int = 2
) -> CollectContext:
    """A context whose operator config lifts the NCBI pacing for the local test server."""
    fetcher = Fetcher(
        FetchPolicy(
            allow=("127.0.0.0/8",),
            retries=retries,
            backoff=0.01,
            max_retry_wait=5.0,
            hosts={"127.0.0.1": HostLimit(interval=0.0, connections=4)},
        )
    )
    return make_context(now=now, state=state, fetcher=fetcher)


def serve_two_pages(server: FixtureServer) -> None:
    server.route(
        ESEARCH, Reply(body="pubmed/esearch_retstart0.json", headers=JSON), query={"retstart": "0"}
    )
    server.route(
        ESEARCH, Reply(body="pubmed/esearch_retstart3.json", headers=JSON), query={"retstart": "3"}
    )
    server.route(
        EFETCH, Reply(body="pubmed/efetch_99000103-99000101.xml", headers=XML), query={"id": PAGE1}
    )
    server.route(
        EFETCH, Reply(body="pubmed/efetch_99000106-99000104.xml", headers=XML), query={"id": PAGE2}
    )


def by_pmid(papers: list[Paper]) -> dict[str, Paper]:
    return {str(p.signals["pubmed.pmid"]): p for p in papers}


def test_registers_the_source() -> None:
    assert register_sources() == [PubMedSource]
    assert PubMedSource.name == "pubmed"
    config = PubMedSource.Config(query="sepsis")
    assert config.url == "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
    assert (config.datetype, config.days, config.batch_size) == ("edat", 7, 200)
    assert config.api_key_env == "NCBI_API_KEY"


def test_a_normal_run_pages_through_esearch_and_fetches_each_page(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_two_pages(fixture_server)
    src = source(fixture_server, tmp_path, batch_size=3, email="ops@example.org")
    context = fast_context()
    papers = list(src.collect(context))

    searches = fixture_server.hits(ESEARCH)
    assert [r.query["retstart"] for r in searches] == ["0", "3"]
    first = searches[0].query
    assert first == {
        "db": "pubmed",
        "tool": "papers-digest",
        "email": "ops@example.org",
        "term": QUERY,
        "datetype": "edat",
        "mindate": "2025/06/04",  # the first run: days=7 back
        "maxdate": "2025/06/11",
        "retmode": "json",
        "retstart": "0",
        "retmax": "3",
    }
    assert searches[0].headers["accept"] == "application/json"
    fetches = fixture_server.hits(EFETCH)
    assert [r.query["id"] for r in fetches] == [PAGE1, PAGE2]
    assert fetches[0].query["retmode"] == "xml" and fetches[0].query["db"] == "pubmed"
    assert "api_key" not in first and "api_key" not in fetches[0].query

    # Six PMIDs, one of them a record without a title: skipped with a warning, not a failure.
    assert sorted(by_pmid(papers)) == ["99000101", "99000102", "99000103", "99000104", "99000105"]
    assert context.warnings == [
        f"{src.endpoint('efetch')}: 1 record(s) without a PMID or a title skipped"
    ]
    assert all(p.sources == ("pm",) for p in papers)
    assert all(
        p.url == f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/" for pmid, p in by_pmid(papers).items()
    )
    # The watermark: the next run starts on the day this one ended.
    assert context.pending_state == {src.state_key(): "2025-06-11"}


def test_every_field_of_a_structured_record() -> None:
    parsed = parse_articles(
        fixture_bytes("pubmed/efetch_99000103-99000101.xml"), url="https://eutils.test/efetch"
    )
    assert (parsed.incomplete, parsed.books) == (0, 0)
    paper = by_pmid(list(parsed.papers))["99000103"]
    # <i>, &amp; and <sup> inside the title: plain text, the closing period dropped.
    assert paper.title == (
        "Gradient-boosted in silico triage of sepsis in adults & children: a 10⁶-encounter study"
    )
    # Labelled sections as "Label: text" paragraphs; the copyright line is not the abstract.
    assert paper.abstract.split("\n\n") == [
        "BACKGROUND: Sepsis is recognised late in busy emergency departments.",
        "METHODS: We trained gradient-boosted trees on 1.2 × 10⁶ encounters from 14 invented "
        "hospitals, with serum lactate (mmol L⁻¹) and P values adjusted for multiple testing.",
        "RESULTS: The model flagged sepsis 3.1 hours earlier than the reference score "
        "(AUROC 0.91 vs 0.78; P < 0.001).",
        "CONCLUSIONS: Machine-learned triage is feasible & safe in a prospective deployment.",
    ]
    assert "©" not in paper.abstract and "<" not in paper.title
    # Given names first; an author marked ValidYN="N" is not an author; a group is one.
    assert [a.name for a in paper.authors] == [
        "Mireille Okonkwo-Baptiste",
        "Tomasz J Wierzbicki",
        "SEPSIS-ML Study Group",
    ]
    assert paper.authors[0].affiliation == (
        "Department of Emergency Medicine, Invented University Hospital, Lagos, Nigeria."
    )
    assert paper.authors[1].affiliation is None
    # The article's own DOI (lower case), never a cited work's from the ReferenceList.
    assert str(paper.id) == "doi:10.5555/jici.2025.0417" and paper.doi == "10.5555/jici.2025.0417"
    assert paper.aliases == (
        "doi:10.5555/jici.2025.0417",
        "url:https://pubmed.ncbi.nlm.nih.gov/99000103/",
    )
    # Major MeSH topics (by descriptor or qualifier) are the categories.
    assert paper.categories == ("Sepsis", "Machine Learning")
    assert dict(paper.signals) == {
        "pubmed.pmid": "99000103",
        "pubmed.pmcid": "PMC9900103",
        "pubmed.journal": "Journal of Invented Clinical Informatics",
        "pubmed.mesh": "Humans; Sepsis; Machine Learning; Triage; Emergency Service, Hospital",
        "pubmed.keywords": "early warning score; gradient boosting",
        "pubmed.publication_types": "Journal Article; Multicenter Study",
    }
    # Published electronically on 9 June, entered into PubMed on 10 June, revised on 13 June.
    assert paper.published == dt.datetime(2025, 6, 9, tzinfo=dt.UTC)
    assert paper.announced == dt.date(2025, 6, 10)
    assert paper.updated == dt.datetime(2025, 6, 13, tzinfo=dt.UTC)
    assert paper.version is None and paper.pdf_url is None


def test_a_record_without_doi_is_known_by_its_pubmed_page() -> None:
    parsed = parse_articles(fixture_bytes("pubmed/efetch_99000103-99000101.xml"), url="u")
    paper = by_pmid(list(parsed.papers))["99000102"]
    assert str(paper.id) == "url:https://pubmed.ncbi.nlm.nih.gov/99000102/"
    assert paper.doi is None and paper.aliases == ()
    # A translated title is printed in brackets; the brackets are not part of it.
    assert paper.title == (
        "Sepsis screening with machine learning in rural clinics: a prospective cohort"
    )
    assert paper.abstract.startswith("In 2,140 children aged <5 years seen in nine")
    # Initials when there is no given name; a suffix after the name.
    assert [a.name for a in paper.authors] == ["JP Lefèvre", "Robert Hale 3rd"]
    # "2025 May-Jun" is no day: the record's PubMed date stands in.
    assert paper.published == dt.datetime(2025, 6, 8, 18, 2, tzinfo=dt.UTC)
    assert paper.categories == ()
    assert "pubmed.mesh" not in paper.signals and "pubmed.pmcid" not in paper.signals


def test_a_preprint_and_its_journal_version_become_one_paper(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_two_pages(fixture_server)
    papers = list(source(fixture_server, tmp_path, batch_size=3).collect(fast_context()))
    found = by_pmid(papers)
    journal, preprint = found["99000101"], found["99000105"]
    assert str(journal.id) == "doi:10.5555/jici.2025.0388"
    assert str(preprint.id) == "doi:10.1101/2025.02.14.638201"
    # Each names the other's PubMed record (UpdateOf / UpdateIn), never a comment on it.
    assert "url:https://pubmed.ncbi.nlm.nih.gov/99000105/" in journal.aliases
    assert "url:https://pubmed.ncbi.nlm.nih.gov/99000101/" in preprint.aliases
    assert not any("99000450" in alias for alias in journal.aliases)
    assert (
        preprint.title
        == journal.title
        == "Host transcriptomic and H₂S signatures predict sepsis onset"
    )

    store = Store.open(f"sqlite:///{tmp_path / 'papers.db'}")
    store.upsert_papers(papers, source="pm", now=NOW)
    assert store.paper_count() == 4  # five records, one work in two versions
    stored = store.papers_by_id(["doi:10.1101/2025.02.14.638201", "doi:10.5555/jici.2025.0388"])
    assert stored["doi:10.1101/2025.02.14.638201"] == stored["doi:10.5555/jici.2025.0388"]


def test_an_arxiv_preprint_indexed_by_pubmed_keeps_its_arxiv_id() -> None:
    parsed = parse_articles(fixture_bytes("pubmed/efetch_99000106-99000104.xml"), url="u")
    assert parsed.incomplete == 1  # the record without a title
    paper = by_pmid(list(parsed.papers))["99000104"]
    assert str(paper.id) == "arxiv:2506.90777"
    assert paper.aliases == (
        "arxiv:2506.90777",
        "doi:10.48550/arxiv.2506.90777",
        "url:https://pubmed.ncbi.nlm.nih.gov/99000104/",
    )
    # MathML inside the title is read as its text.
    assert paper.title == "Sepsis onset prediction in O(n) time with streaming transformers"
    assert [a.name for a in paper.authors] == ["Inés Castellanos"]
    assert paper.announced == dt.date(2025, 6, 10)


def test_the_next_run_starts_where_the_last_one_ended(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(ESEARCH, Reply(body="pubmed/esearch_empty.json", headers=JSON))
    src = source(fixture_server, tmp_path)
    first = fast_context()
    assert list(src.collect(first)) == []
    later = NOW + dt.timedelta(days=3)
    second = fast_context(now=later, state=first.pending_state)
    assert list(src.collect(second)) == []
    windows = [(r.query["mindate"], r.query["maxdate"]) for r in fixture_server.hits(ESEARCH)]
    assert windows == [("2025/06/04", "2025/06/11"), ("2025/06/11", "2025/06/14")]
    assert second.pending_state == {src.state_key(): "2025-06-14"}

    # Another query is another search: it starts `days` back, not at this one's watermark.
    other = source(fixture_server, tmp_path, query="sepsis AND children", days=2)
    assert other.state_key() != src.state_key()
    list(other.collect(fast_context(now=later, state=second.pending_state)))
    assert fixture_server.hits(ESEARCH)[-1].query["mindate"] == "2025/06/12"


def test_an_unreadable_watermark_falls_back_to_days(tmp_path: Path) -> None:
    src = PubMedSource(
        PubMedSource.Config(query="x", days=3), instance="pm", runtime=make_runtime(tmp_path)
    )
    start, end = src.window(NOW, {src.state_key(): "yesterday"})
    assert (start, end) == (dt.date(2025, 6, 8), dt.date(2025, 6, 11))
    # A watermark in the future (a clock put right) never makes an empty window.
    start, _ = src.window(NOW, {src.state_key(): "2025-07-01"})
    assert start == dt.date(2025, 6, 11)
    # A naive run time is taken as UTC.
    assert src.window(NOW.replace(tzinfo=None), {})[1] == dt.date(2025, 6, 11)


def test_an_empty_search_is_zero_papers_and_no_fetch(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(ESEARCH, Reply(body="pubmed/esearch_empty.json", headers=JSON))
    context = fast_context()
    assert list(source(fixture_server, tmp_path).collect(context)) == []
    assert fixture_server.hits(EFETCH) == []
    assert context.warnings == []


def test_a_phrase_pubmed_did_not_find_is_a_warning(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(ESEARCH, Reply(body="pubmed/esearch_phrase_not_found.json", headers=JSON))
    context = fast_context()
    assert list(source(fixture_server, tmp_path, query="qzxvbnmlk").collect(context)) == []
    (warning,) = context.warnings
    assert warning.startswith(fixture_server.url(ESEARCH) + "?")
    assert warning.endswith("PubMed found nothing for qzxvbnmlk")


def test_an_esearch_error_is_one_line_with_ncbis_message(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(ESEARCH, Reply(body="pubmed/esearch_error.json", headers=JSON))
    with pytest.raises(SourceError) as error:
        list(source(fixture_server, tmp_path, query="(sepsis").collect(fast_context()))
    message = str(error.value)
    assert message.startswith(fixture_server.url(ESEARCH) + "?")
    assert message.endswith("NCBI esearch error: Invalid query: unbalanced parentheses in term")
    assert "\n" not in message


def test_a_400_with_ncbis_error_json_names_the_url_and_the_message(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    body = b'{"error":"Invalid datetype: xdat","api-key":"203.0.113.7"}'
    fixture_server.route(ESEARCH, Reply(status=400, body=body, headers=JSON))
    with pytest.raises(SourceError) as error:
        list(source(fixture_server, tmp_path).collect(fast_context()))
    message = str(error.value)
    assert message.startswith(fixture_server.url(ESEARCH) + "?")
    assert "HTTP 400 Bad Request; NCBI says: Invalid datetype: xdat" in message


def test_a_500_is_retried_then_fails_the_run(fixture_server: FixtureServer, tmp_path: Path) -> None:
    fixture_server.route(ESEARCH, Reply(status=500, body=b"<html>oops</html>"))
    with pytest.raises(SourceError, match="HTTP 500") as error:
        list(source(fixture_server, tmp_path).collect(fast_context()))
    assert str(error.value).startswith(fixture_server.url(ESEARCH))
    assert "NCBI says" not in str(error.value)


def test_a_429_with_retry_after_is_retried_then_succeeds(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_two_pages(fixture_server)
    answers = iter(
        [
            Reply(
                status=429,
                body=fixture_bytes("pubmed/rate_limit.json"),
                headers={"Retry-After": "1", **JSON},
            ),
            Reply(body="pubmed/esearch_retstart0.json", headers=JSON),
        ]
    )
    fixture_server.route(ESEARCH, lambda _request: next(answers), query={"retstart": "0"})
    context = fast_context()
    papers = list(source(fixture_server, tmp_path, batch_size=3).collect(context))
    first, retried = fixture_server.hits(ESEARCH)[:2]
    assert first.query == retried.query
    assert retried.at - first.at >= 0.9  # Retry-After: 1 was honoured
    assert len(papers) == 5


def test_rate_limited_to_the_end_reports_ncbis_message(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(
        ESEARCH,
        Reply(status=429, body="pubmed/rate_limit.json", headers={"Retry-After": "0", **JSON}),
    )
    with pytest.raises(SourceError) as error:
        list(source(fixture_server, tmp_path).collect(fast_context(retries=1)))
    assert len(fixture_server.hits(ESEARCH)) == 2
    assert "NCBI says: API rate limit exceeded" in str(error.value)
    assert "gave up after 2 attempts" in str(error.value)


def test_an_efetch_error_reply_fails_the_run_with_its_message(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    fixture_server.route(ESEARCH, Reply(body="pubmed/esearch_retstart0.json", headers=JSON))
    fixture_server.route(EFETCH, Reply(body="pubmed/efetch_error.xml", headers=XML))
    with pytest.raises(SourceError) as error:
        list(source(fixture_server, tmp_path, batch_size=3).collect(fast_context()))
    message = str(error.value)
    assert message.startswith(fixture_server.url(EFETCH) + "?db=pubmed")
    assert "id=99000103,…(3 PMIDs)" in message
    assert message.endswith(
        "NCBI efetch error: Cannot retrieve history data. query_key: 1, WebEnv: MCID_0000fake"
    )


def requests_apart(requests: list[Request]) -> float:
    times = sorted(r.at for r in requests)
    return min(b - a for a, b in itertools.pairwise(times))


def test_requests_are_spaced_three_a_second_without_a_key(
    fixture_server: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NCBI_API_KEY", raising=False)
    serve_two_pages(fixture_server)
    # The default client: nothing but the source's own pace() spaces the requests.
    papers = list(source(fixture_server, tmp_path, batch_size=3).collect(make_context(now=NOW)))
    assert len(papers) == 5
    assert requests_apart(fixture_server.requests) >= 0.33


def test_an_api_key_from_the_environment_is_sent_and_never_shown(
    fixture_server: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "0123456789abcdef0123456789abcdef0123"
    monkeypatch.setenv("MY_NCBI_KEY", key)
    serve_two_pages(fixture_server)
    src = source(fixture_server, tmp_path, batch_size=3, api_key_env="MY_NCBI_KEY")
    context = make_context(now=NOW)
    assert len(list(src.collect(context))) == 5
    assert {r.query.get("api_key") for r in fixture_server.requests} == {key}
    # Ten a second with a key: spaced, but closer than without one.
    assert 0.09 <= requests_apart(fixture_server.requests) < 0.33
    assert not any(key in w for w in context.warnings)

    fixture_server.route(ESEARCH, Reply(status=503, body=b"", headers={"Retry-After": "0"}))
    with pytest.raises(SourceError) as error:
        list(src.collect(fast_context(retries=0)))
    assert "HTTP 503" in str(error.value) and key not in str(error.value)


def test_a_named_key_variable_that_is_not_set_is_a_warning(
    fixture_server: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MY_NCBI_KEY", raising=False)
    fixture_server.route(ESEARCH, Reply(body="pubmed/esearch_empty.json", headers=JSON))
    context = fast_context()
    list(source(fixture_server, tmp_path, api_key_env="MY_NCBI_KEY").collect(context))
    assert context.warnings == [
        f"{fixture_server.url(ESEARCH)}: environment variable MY_NCBI_KEY is not set; "
        "searching without an API key (3 requests a second)"
    ]
    assert "api_key" not in fixture_server.hits(ESEARCH)[0].query
    # The default name, unset, is the usual case: no key, no warning.
    monkeypatch.delenv("NCBI_API_KEY", raising=False)
    quiet = fast_context()
    list(source(fixture_server, tmp_path).collect(quiet))
    assert quiet.warnings == []


def test_max_results_caps_the_run_with_a_warning(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    serve_two_pages(fixture_server)
    context = fast_context()
    src = source(fixture_server, tmp_path, batch_size=3, max_results=3)
    papers = list(src.collect(context))
    assert [r.query["retmax"] for r in fixture_server.hits(ESEARCH)] == ["3"]
    assert len(papers) == 3
    assert context.warnings == [
        f"{src.endpoint('esearch')}: 6 records matched '{QUERY}'; stopped at max_results=3"
    ]


def test_a_page_repeating_pmids_fetches_each_once(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    # Records entered while paging shift the pages: a PMID seen again is not fetched again.
    serve_two_pages(fixture_server)
    fixture_server.route(
        ESEARCH,
        Reply(
            body=b'{"esearchresult": {"count": "4", "retstart": "3", "idlist": ["99000101"]}}',
            headers=JSON,
        ),
        query={"retstart": "3"},
    )
    papers = list(source(fixture_server, tmp_path, batch_size=3).collect(fast_context()))
    assert len(fixture_server.hits(EFETCH)) == 1 and len(papers) == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty response"),
        (b"<html><body>Service unavailable</body></html>", "got an HTML/XML page"),
        (
            b"<eSearchResult><ERROR>Empty term and query_key</ERROR></eSearchResult>",
            "NCBI esearch error: Empty term",
        ),
        (b'{"esearchresult": {"count": "2"', "invalid JSON"),
        (b"\xff\xfe{", "invalid JSON"),
        (b"[1, 2]", "got a JSON list"),
        (b'{"header": {}}', "without 'esearchresult'"),
        (b'{"esearchresult": {"idlist": []}}', "without a count and an idlist"),
        (b'{"esearchresult": {"count": "1", "idlist": ["PMC123"]}}', "'PMC123', not a PMID"),
        (b'{"ERROR": "Database is not supported: pubmedx"}', "NCBI esearch error: Database is not"),
    ],
)
def test_esearch_replies_that_are_not_the_documented_shape(body: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message) as error:
        parse_search(body, url="https://eutils.test/esearch.fcgi?term=x")
    assert str(error.value).startswith("https://eutils.test/esearch.fcgi?term=x: ")


def test_esearch_counts_may_be_numbers_and_ids_are_cleaned() -> None:
    page = parse_search(
        b'{"esearchresult": {"count": 2, "retstart": "0", "idlist": [" 1 ", 2, null],'
        b' "errorlist": {"phrasesnotfound": [], "fieldsnotfound": ["[xx]"]}}}',
        url="u",
    )
    assert (page.count, page.retstart, page.ids, page.ignored) == (2, 0, ("1", "2"), ("[xx]",))
    assert (
        parse_search(
            b'{"esearchresult": {"count": "0", "idlist": [], "errorlist": []}}', url="u"
        ).ignored
        == ()
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty response"),
        (b"<!DOCTYPE html><html><body><h1>Down</h1>", "got an HTML page"),
        (b"<html><body>Down</body></html>", "got an HTML page"),
        (b"<PubmedArticleSet><PubmedArticle>", "invalid XML"),
        (b'{"error": "API rate limit exceeded"}', "NCBI efetch error: API rate limit exceeded"),
        (b'{"unexpected": true}', "NCBI efetch error: a JSON reply, not XML"),
        (b"<eFetchResult></eFetchResult>", "NCBI efetch error: a reply without articles"),
        (b"<ERROR>ID list is empty! Possibly it has no correct IDs.</ERROR>", "ID list is empty"),
        (b"<eSummaryResult/>", "expected a PubmedArticleSet, got <eSummaryResult>"),
    ],
)
def test_efetch_replies_that_are_not_pubmed_xml(body: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message) as error:
        parse_articles(body, url="https://eutils.test/efetch.fcgi?id=1")
    assert str(error.value).startswith("https://eutils.test/efetch.fcgi?id=1: ")


def article(inner: str, *, pmid: str = "99000900", data: str = "") -> str:
    return (
        f"<PubmedArticle><MedlineCitation><PMID>{pmid}</PMID>{inner}</MedlineCitation>"
        f"<PubmedData>{data}</PubmedData></PubmedArticle>"
    )


def test_unusual_records_are_read_or_skipped_not_fatal() -> None:
    title = "<Article><ArticleTitle>{}</ArticleTitle>{}</Article>"
    body = (
        "<PubmedArticleSet>"
        # A book chapter: not read, counted.
        "<PubmedBookArticle><BookDocument><PMID>99000950</PMID></BookDocument></PubmedBookArticle>"
        # No MedlineCitation, a PMID that is not a number, no Article: incomplete.
        "<PubmedArticle><PubmedData/></PubmedArticle>"
        + article(title.format("Fine", ""), pmid="PMC1")
        + article("")
        # A superscript that is not a number, a comment, an impossible date, an invalid
        # ELocationID DOI, an ArticleDate that is not the electronic one, a month by number.
        + article(
            title.format(
                "Vitamin D<sup>a</sup><!-- note --> and CD4<sub>+</sub> counts",
                '<ELocationID EIdType="doi" ValidYN="N">10.5555/wrong</ELocationID>'
                '<ELocationID EIdType="pii">x1</ELocationID>'
                '<ArticleDate DateType="Print"><Year>2025</Year><Month>1</Month><Day>2</Day>'
                "</ArticleDate>"
                "<Journal><JournalIssue><PubDate><Year>2025</Year><Month>13</Month><Day>1</Day>"
                "</PubDate></JournalIssue></Journal>"
                '<AuthorList><Author ValidYN="Y"><LastName></LastName></Author>'
                "<Author><LastName>Solo</LastName></Author></AuthorList>",
            ),
            data=(
                '<History><PubMedPubDate PubStatus="entrez"><Year>2025</Year><Month>2</Month>'
                "<Day>30</Day></PubMedPubDate>"
                '<PubMedPubDate PubStatus="pubmed"><Year>2025</Year><Month>3</Month>'
                "<Day>4</Day></PubMedPubDate></History>"
                '<ArticleIdList><ArticleId IdType="doi">not a doi</ArticleId>'
                '<ArticleId IdType="">x</ArticleId>'
                '<ArticleId IdType="pmc">PMC9</ArticleId><ArticleId IdType="pmc">PMC8</ArticleId>'
                "</ArticleIdList>"
            ),
        )
        # A vernacular title only, with an abstract section that is empty, and a MeSH heading
        # without a descriptor.
        + article(
            "<Article><ArticleTitle/><VernacularTitle>Título inventado...</VernacularTitle>"
            "<Abstract><AbstractText Label='EMPTY'/><AbstractText>Texto.</AbstractText></Abstract>"
            "</Article><MeshHeadingList><MeshHeading/></MeshHeadingList>"
            "<CommentsCorrectionsList><CommentsCorrections RefType='UpdateOf'><PMID>abc</PMID>"
            "</CommentsCorrections></CommentsCorrectionsList>",
            pmid="99000901",
        )
        + "</PubmedArticleSet>"
    )
    parsed = parse_articles(body.encode(), url="u")
    assert (parsed.incomplete, parsed.books) == (3, 1)
    odd, vernacular = parsed.papers
    assert odd.title == "Vitamin D^a and CD4₊ counts"
    assert str(odd.id) == "url:https://pubmed.ncbi.nlm.nih.gov/99000900/" and odd.doi is None
    assert [a.name for a in odd.authors] == ["Solo"]
    assert odd.signals["pubmed.pmcid"] == "PMC9"  # the first of two
    # No electronic date, an impossible issue date and entrez date: the PubMed date remains.
    assert odd.published == dt.datetime(2025, 3, 4, tzinfo=dt.UTC)
    assert odd.announced == dt.date(2025, 3, 4)
    assert vernacular.title == "Título inventado..."
    assert vernacular.abstract == "Texto."
    assert vernacular.published is None and vernacular.announced is None
    assert vernacular.aliases == ()


@pytest.mark.parametrize(
    "config",
    [
        {"query": "   "},
        {"query": "x", "api_key_env": "0123456789abcdef0123456789abcdef0123"},
        {"query": "x", "api_key_env": "NOT A NAME"},
        {"query": "x", "tool": "papers digest"},
        {"query": "x", "tool": " "},
        {"query": "x", "email": "nobody"},
        {"query": "x", "datetype": "xdat"},
        {"query": "x", "batch_size": 0},
        {"query": "x", "max_results": 10001},
        {"query": "x", "url": "file:///etc/passwd"},
        {"query": "x", "api_key": "0123"},
        {},
    ],
)
def test_bad_config_is_rejected_before_any_request(config: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        PubMedSource.Config(**config)


def test_config_values_are_cleaned() -> None:
    config = PubMedSource.Config(
        query="  sepsis\n AND  children ", api_key_env=" ", email=" a@b.org ", tool=" t "
    )
    assert (config.query, config.api_key_env, config.email, config.tool) == (
        "sepsis AND children",
        "",
        "a@b.org",
        "t",
    )


def test_keeps_the_source_contract(fixture_server: FixtureServer, tmp_path: Path) -> None:
    serve_two_pages(fixture_server)
    src = source(fixture_server, tmp_path, batch_size=3)
    papers = check_source(src, context=fast_context())
    assert len(papers) == 5


def test_a_record_without_pubmed_data_and_with_only_an_elocation_doi() -> None:
    body = (
        "<!DOCTYPE PubmedArticleSet [<!ENTITY inv 'invented'>]>"
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>99000960</PMID><Article>"
        "<ArticleTitle>An &inv; <sup> </sup>title with C<sub>n</sub> chains</ArticleTitle>"
        '<ELocationID EIdType="doi" ValidYN="Y">https://doi.org/10.5555/ELOC.1</ELocationID>'
        '<ArticleDate DateType="Electronic"><Year>2025</Year><Month>Feb</Month><Day>31</Day>'
        "</ArticleDate>"
        "</Article></MedlineCitation></PubmedArticle></PubmedArticleSet>"
    )
    (paper,) = parse_articles(body.encode(), url="u").papers
    # The entity is not expanded (no DTD is read), and is no failure either.
    assert paper.title == "An title with Cn chains"
    assert str(paper.id) == "doi:10.5555/eloc.1"
    assert paper.published is None and paper.announced is None  # 31 February is no date
    assert paper.aliases == ("doi:10.5555/eloc.1", "url:https://pubmed.ncbi.nlm.nih.gov/99000960/")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"boom", None),
        (b"{broken", None),
        (b"[]", None),
        (b'{"esearchresult": "x", "error": "  "}', None),
        (b'{"esearchresult": {"ERROR": "Bad\\nterm"}}', "Bad term"),
        (b"<ERROR", None),
        (b"<eFetchResult><Other/></eFetchResult>", None),
        (b"<eFetchResult><ERROR>  </ERROR></eFetchResult>", None),
        (b"<r><ERROR>" + b"x" * 300 + b"</ERROR></r>", "x" * 199 + "…"),
    ],
)
def test_ncbi_error_messages_are_found_in_any_body(body: bytes, expected: str | None) -> None:
    from digest_pubmed.ncbi import error_message

    assert error_message(body) == expected
