"""The ``arxiv`` source: recorded arXiv feeds and API replies, parsed exactly, over real sockets.

Parsing is checked on the fixture files directly (both engines: the lxml fast path and the
feedparser fallback must agree), then the source is run against the local fixture server
through the real fetcher: conditional GET, paging, arXiv's HTTP 400 error feed, empty days and
broken documents.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest
from lxml import etree

import digest_arxiv
from digest import CollectContext, FetchError, SourceError
from digest.models import Author, Paper, PaperId
from digest.testing import check_source, make_context, make_host, make_runtime
from digest_arxiv import ArxivSource, api_error_message, parse_api_page, parse_listing
from digest_arxiv.common import Engine, split_authors
from httpserver import FIXTURES, FixtureServer, Reply, Request, needs_fixtures

pytestmark = needs_fixtures

RSS_FILE = "arxiv_rss/rss_cs.LG_2025-06-11.xml"
ATOM_FILE = "arxiv_rss/atom_cs.LG_2025-06-11.xml"
SATURDAY_FILE = "arxiv_rss/rss_cs.LG_empty_saturday.xml"
API = "arxiv_api"
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
ATOM_TYPE = {"Content-Type": "application/atom+xml; charset=utf-8"}
URL = "https://rss.arxiv.org/rss/cs.LG"
WEDNESDAY = dt.datetime(2025, 6, 11, 12, 0, tzinfo=dt.UTC)
SATURDAY = dt.datetime(2025, 6, 14, 12, 0, tzinfo=dt.UTC)


def data(name: str) -> bytes:
    return Path(FIXTURES, name).read_bytes()


def listing(name: str, engine: Engine = "auto") -> list[Paper]:
    return list(parse_listing(data(name), url=URL, source="arxiv", engine=engine).papers)


def api(name: str, engine: Engine = "auto") -> list[Paper]:
    page = parse_api_page(data(f"{API}/{name}"), url="api", source="arxiv", engine=engine)
    return list(page.papers)


def by_id(papers: list[Paper]) -> dict[str, Paper]:
    return {p.id.value: p for p in papers}


def names(paper: Paper) -> list[str]:
    return [a.name for a in paper.authors]


def full(papers: list[Paper]) -> list[tuple[Paper, dict[str, Any]]]:
    """Papers with their signals (``Paper.__eq__`` leaves signals out)."""
    return [(p, dict(p.signals)) for p in papers]


# -- the daily listing: RSS 2.0 and Atom -------------------------------------------------------


def test_rss_listing_has_every_item_with_its_announce_type() -> None:
    papers = listing(RSS_FILE)
    assert len(papers) == 40
    # The listing repeats one cross-list (as arXiv's feeds sometimes do); the source dedupes.
    assert [k for k, n in Counter(p.id.value for p in papers).items() if n > 1] == ["2506.08210"]
    types = Counter(p.signals["arxiv.announce_type"] for p in papers)
    assert types == {"new": 11, "cross": 27, "replace-cross": 2}
    assert types["replace"] == 0
    for paper in papers:
        assert paper.id.kind == "arxiv" and "v" not in paper.id.value
        assert paper.version is not None and paper.version >= 1
        assert paper.url == f"https://arxiv.org/abs/{paper.id.value}"
        assert paper.pdf_url == f"https://arxiv.org/pdf/{paper.id.value}"
        assert paper.announced == dt.date(2025, 6, 11)
        assert paper.sources == ("arxiv",)
        assert paper.title and "\n" not in paper.title
        assert paper.abstract and "Announce Type" not in paper.abstract
        assert not paper.abstract.startswith(("arXiv:", "Abstract"))
        assert paper.authors and paper.categories
    replaced = [p for p in papers if p.signals["arxiv.announce_type"] == "replace-cross"]
    assert sorted(p.version or 0 for p in replaced) == [2, 2]


def test_rss_first_item_exactly() -> None:
    first = listing(RSS_FILE)[0]
    assert first.id == PaperId(kind="arxiv", value="2506.08043")
    assert first.version == 1
    assert first.title == (
        "Neural-Augmented Kelvinlet: Real-Time Soft Tissue Deformation with Multiple Graspers"
    )
    assert first.abstract.startswith("Fast and accurate simulation of soft tissue deformation")
    assert first.abstract.endswith("soft tissue simulation in surgical applications.")
    assert len(first.authors) == 15
    assert first.authors[0] == Author(name="Ashkan Shahbazi")
    assert first.authors[-1] == Author(name="Soheil Kolouri")
    assert first.categories == ("cs.GR", "cs.CV", "cs.LG", "cs.RO")
    assert first.primary_category == "cs.GR"
    assert first.doi is None and first.published is None
    assert dict(first.signals) == {"arxiv.announce_type": "cross"}


def test_rss_new_items_and_the_last_item() -> None:
    papers = listing(RSS_FILE)
    new = [p for p in papers if p.signals["arxiv.announce_type"] == "new"]
    assert all(p.primary_category == "cs.LG" for p in new)
    last = papers[-1]
    assert last.id.value == "2506.08020" and last.version == 1
    assert last.title == "Bi-level Unbalanced Optimal Transport for Partial Domain Adaptation"
    assert names(last) == ["Zi-Ying Chen", "Chuan-Xian Ren", "Hong Yan"]
    assert last.categories == ("cs.LG", "cs.AI", "cs.CV")
    assert last.abstract.startswith("Partial domain adaptation (PDA) problem requires")


def test_rss_item_with_doi_and_journal_reference() -> None:
    paper = by_id(listing(RSS_FILE))["2506.08920"]
    assert paper.version == 2
    assert paper.title == "PropMEND: Hypernetworks for Knowledge Propagation in LLMs"
    assert paper.doi == "10.48550/arxiv.2506.08920"
    assert dict(paper.signals) == {
        "arxiv.announce_type": "replace-cross",
        "arxiv.journal_ref": (
            "Proceedings of the 42nd International Conference on Machine Learning (2025)"
        ),
    }
    assert names(paper) == ["Zeyu Leo Liu", "Greg Durrett", "Eunsol Choi"]
    assert paper.categories == ("cs.CL", "cs.AI", "cs.LG")
    assert [p.id.value for p in listing(RSS_FILE) if p.doi] == ["2506.08920"]


def test_non_ascii_names_survive() -> None:
    authors = {a.name for p in listing(RSS_FILE) for a in p.authors}
    assert {"Hernán Maina", "Nicolás Wolovick", "Marek Kadlčík", "Josef Kuchař"} <= authors


def test_atom_listing_gives_the_same_papers_as_rss() -> None:
    rss, atom = listing(RSS_FILE), listing(ATOM_FILE)
    assert len(atom) == 40
    assert full(atom) == full(rss)


@pytest.mark.parametrize("name", [RSS_FILE, ATOM_FILE, SATURDAY_FILE])
def test_feedparser_fallback_agrees_with_the_fast_path(name: str) -> None:
    fast = parse_listing(data(name), url=URL, source="arxiv")
    slow = parse_listing(data(name), url=URL, source="arxiv", engine="feedparser")
    assert (fast.engine, slow.engine) == ("lxml", "feedparser")
    assert full(list(slow.papers)) == full(list(fast.papers))
    assert slow.announced == fast.announced


def test_empty_saturday_feed_is_an_empty_listing() -> None:
    result = parse_listing(data(SATURDAY_FILE), url=URL, source="arxiv")
    assert result.papers == () and result.skipped == ()
    assert result.announced == dt.date(2025, 6, 14)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Ada Lovelace, Alan Turing, Grace Hopper",
            ["Ada Lovelace", "Alan Turing", "Grace Hopper"],
        ),
        (
            "Ada Lovelace, Alan Turing and Grace Hopper",
            ["Ada Lovelace", "Alan Turing", "Grace Hopper"],
        ),
        (
            "Ada Lovelace, Alan Turing, and Grace Hopper",
            ["Ada Lovelace", "Alan Turing", "Grace Hopper"],
        ),
        ("Ada Lovelace and Alan Turing", ["Ada Lovelace", "Alan Turing"]),
        ("Sandra Andrews, Alexander Anderson", ["Sandra Andrews", "Alexander Anderson"]),
        ("John Smith, Jr., Jane Doe", ["John Smith, Jr.", "Jane Doe"]),
        ("A. Author (MIT, CSAIL), B. Author", ["A. Author (MIT, CSAIL)", "B. Author"]),
        ("  The ATLAS Collaboration\n ", ["The ATLAS Collaboration"]),
        ("", []),
    ],
)
def test_dc_creator_lists_are_split_into_authors(text: str, expected: list[str]) -> None:
    assert split_authors(text) == expected


# -- the API ------------------------------------------------------------------------------------


def test_api_single_id_exactly() -> None:
    (paper,) = api("single_1605.08386.xml")
    assert paper.id == PaperId(kind="arxiv", value="1605.08386") and paper.version == 1
    assert paper.title == "Heat-bath random walks with Markov bases"
    assert names(paper) == ["Caprice Stanley", "Tobias Windisch"]
    assert paper.categories == ("math.CO", "math.ST")
    assert paper.abstract.startswith("Graphs on lattice points are studied")
    assert paper.published == dt.datetime(2016, 5, 26, 17, 59, 46, tzinfo=dt.UTC)
    assert paper.updated == dt.datetime(2016, 5, 26, 17, 59, 46, tzinfo=dt.UTC)
    assert paper.announced is None and paper.doi is None
    assert dict(paper.signals) == {"arxiv.comment": "20 pages, 3 figures"}
    assert paper.url == "https://arxiv.org/abs/1605.08386"


def test_api_authors_are_the_whole_list_not_the_last_one() -> None:
    (paper,) = api("two_ids.xml")
    assert paper.id.value == "1707.08567"
    assert len(paper.authors) == 34
    assert paper.authors[0].name == "Kees A. Schouhamer Immink"
    assert paper.authors[-1].name == "Hirosuke Yamamoto"
    assert "Dirk Wübben" in names(paper)
    assert paper.categories == ("cs.IT",)


def test_api_old_style_id_with_affiliations_and_journal_ref() -> None:
    (paper,) = api("old_style_id_astro-ph_0601001.xml")
    assert paper.id == PaperId(kind="arxiv", value="astro-ph/0601001") and paper.version == 1
    assert paper.url == "https://arxiv.org/abs/astro-ph/0601001"
    assert paper.authors[0] == Author(name="Andrew Gould", affiliation="Ohio State")
    assert paper.authors[-1] == Author(
        name="Andrzej Udalski", affiliation="Warsaw University Observatory"
    )
    assert paper.signals["arxiv.journal_ref"] == "ActaAstron.56:1-50,2006"
    assert str(paper.signals["arxiv.comment"]).startswith("62 pages including 16 figures")
    assert "Gould & Morgan (2003)" in paper.abstract and "V_max<17.5" in paper.abstract
    assert not paper.abstract.startswith(" ")


def test_api_versioned_id() -> None:
    (paper,) = api("versioned_id_2104.12255v1.xml")
    assert paper.id.value == "2104.12255" and paper.version == 1
    assert paper.title == "0"
    assert names(paper) == ["Quan Thoi Minh Nguyen"]


def test_api_query_page_with_doi_and_primary_category_first() -> None:
    page = parse_api_page(data(f"{API}/query_testing_page1_start0.xml"), url="api", source="arxiv")
    assert (page.entries, page.total_results, page.start_index, page.items_per_page) == (
        10,
        214881,
        0,
        10,
    )
    first = page.papers[0]
    assert first.id.value == "2202.12139" and first.version == 1
    assert first.doi == "10.1109/icstw55395.2022.00035"
    assert first.categories == ("cs.SE", "cs.LG")
    assert names(first) == ["Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker"]


def test_api_hundred_results_match_the_xml() -> None:
    content = data(f"{API}/query_testing_100_results.xml")
    papers = list(parse_api_page(content, url="api", source="arxiv").papers)
    assert len(papers) == 100 and len({p.id for p in papers}) == 100
    ns = {"a": "http://www.w3.org/2005/Atom", "x": "http://arxiv.org/schemas/atom"}
    entries = etree.fromstring(content).findall("a:entry", ns)
    for paper, entry in zip(papers, entries, strict=True):
        assert paper.categories[0] == entry.find("x:primary_category", ns).get("term")
        assert set(paper.categories) == {c.get("term") for c in entry.findall("a:category", ns)}
        assert len(paper.authors) == len(entry.findall("a:author", ns))
        assert "\n" not in paper.abstract and "  " not in paper.abstract
        assert entry.findtext("a:id", namespaces=ns).endswith(f"{paper.id.value}v{paper.version}")


def _without_affiliations(papers: list[Paper]) -> list[Paper]:
    return [
        dataclasses.replace(
            p, authors=tuple(dataclasses.replace(a, affiliation=None) for a in p.authors)
        )
        for p in papers
    ]


@pytest.mark.parametrize(
    "name",
    [
        "single_1605.08386.xml",
        "two_ids.xml",
        "empty_result.xml",
        "old_style_id_astro-ph_0601001.xml",
        "versioned_id_2104.12255v1.xml",
        "query_testing_page1_start0.xml",
        "query_testing_page2_start10.xml",
        "query_testing_100_results.xml",
    ],
)
def test_api_feedparser_fallback_agrees_with_the_fast_path(name: str) -> None:
    fast, slow = api(name), api(name, engine="feedparser")
    # feedparser keeps only the last author's affiliation (at entry level): names only there.
    assert full(slow) == full(_without_affiliations(fast))


def test_api_empty_result() -> None:
    page = parse_api_page(data(f"{API}/empty_result.xml"), url="api", source="arxiv")
    assert page.papers == () and page.entries == 0 and page.total_results == 0


@pytest.mark.parametrize("engine", ["auto", "feedparser"])
def test_api_error_feed_is_an_error_with_arxivs_message(engine: Engine) -> None:
    content = data(f"{API}/error_bad_id_http400.xml")
    with pytest.raises(SourceError, match=r"^api: arXiv API error: incorrect id format for abc$"):
        parse_api_page(content, url="api", source="arxiv", engine=engine)
    assert api_error_message(content) == "incorrect id format for abc"
    assert api_error_message(data(f"{API}/single_1605.08386.xml")) is None
    assert api_error_message(b"Bad Request") is None


# -- broken documents and encodings --------------------------------------------------------


@pytest.mark.parametrize("cut", [500, 30_000, -20, -8])
def test_a_truncated_feed_is_an_error_never_a_partial_listing(cut: int) -> None:
    content = data(RSS_FILE)[:cut]
    with pytest.raises(SourceError, match=r"^https://rss\.arxiv\.org/rss/cs\.LG: truncated feed"):
        parse_listing(content, url=URL, source="arxiv")


def test_a_feed_cut_inside_its_first_tag_is_an_error() -> None:
    with pytest.raises(SourceError, match="not an RSS/Atom feed"):
        parse_listing(data(RSS_FILE)[:200], url=URL, source="arxiv")


def test_a_truncated_api_page_is_an_error() -> None:
    content = data(f"{API}/query_testing_page1_start0.xml")[:-3]
    with pytest.raises(SourceError, match=r"^api: truncated feed"):
        parse_api_page(content, url="api", source="arxiv")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            b"<!DOCTYPE html><html><head><title>Oops</title></head><body><p>Down</body></html>",
            "HTML",
        ),
        (b"<html><body><h1>Service Unavailable</h1></body></html>", "HTML"),
        (b"", "empty document"),
        (b'{"error": "rate limited"}', "not found"),
        (b"<?xml version='1.0'?><error>boom</error>", "unexpected root element <error>"),
        (b"<?xml version='1.0'?><rss version='2.0'></rss>", "<rss> without <channel>"),
    ],
)
def test_what_is_not_a_feed_is_an_error(body: bytes, why: str) -> None:
    with pytest.raises(
        SourceError, match=r"^https://rss\.arxiv\.org/rss/cs\.LG: not an RSS/Atom feed"
    ) as error:
        parse_listing(body, url=URL, source="arxiv")
    assert why in str(error.value)
    with pytest.raises(SourceError, match="not an RSS/Atom feed"):
        parse_api_page(body, url="api", source="arxiv")


def test_a_body_naming_a_local_file_is_not_read_from_disk() -> None:
    # feedparser given bytes would first try them as a file name: the body names a real feed.
    body = str(Path(FIXTURES, RSS_FILE)).encode()
    with pytest.raises(SourceError, match="not an RSS/Atom feed"):
        parse_listing(body, url=URL, source="arxiv")
    with pytest.raises(SourceError, match="not an RSS/Atom feed"):
        parse_listing(body, url=URL, source="arxiv", engine="feedparser")


def test_an_ill_formed_but_complete_feed_is_read_by_feedparser() -> None:
    # An HTML entity XML does not define: lxml refuses the document, feedparser's loose parser
    # reads every item, and the root element is closed, so nothing was lost.
    content = data(RSS_FILE).replace(b"Neural-Augmented", b"Neural&nbsp;Augmented", 1)
    result = parse_listing(content, url=URL, source="arxiv")
    assert result.engine == "feedparser" and "nbsp" in result.fallback_reason
    assert len(result.papers) == 40
    assert result.papers[0].title.startswith("Neural Augmented Kelvinlet")
    assert full(list(result.papers[1:])) == full(listing(RSS_FILE)[1:])


def test_an_ill_formed_feed_losing_items_is_an_error() -> None:
    # Broken end tags: feedparser still finds 40 items, but two lost their ids in the damage.
    content = data(RSS_FILE).replace(b"</title>", b"</titl>", 3)
    with pytest.raises(SourceError, match=r"ill-formed feed .*2 of 40 items unreadable"):
        parse_listing(content, url=URL, source="arxiv")
    # A stray "<" in an attribute-like position: only 2 of the 40 items are left.
    content = data(RSS_FILE).replace(b"<description>", b"<description><", 5)
    with pytest.raises(SourceError, match=r"only 2 of 40 items readable"):
        parse_listing(content, url=URL, source="arxiv")


def test_latin1_bytes_declared_utf8_are_still_read() -> None:
    # Latin-1 bytes under encoding='UTF-8': lxml refuses them, feedparser detects the encoding.
    content = data(f"{API}/two_ids.xml").decode("utf-8").encode("latin-1")
    page = parse_api_page(content, url="api", source="arxiv")
    assert page.engine == "feedparser"
    assert "Dirk Wübben" in names(page.papers[0])
    assert full(list(page.papers)) == full(api("two_ids.xml"))


def test_utf8_bytes_declared_latin1_are_read_as_utf8() -> None:
    # UTF-8 bytes under encoding='ISO-8859-1' would come out as mojibake ("WÃ¼bben").
    content = data(RSS_FILE).replace(b"encoding='UTF-8'", b"encoding='ISO-8859-1'", 1)
    assert content != data(RSS_FILE)
    result = parse_listing(content, url=URL, source="arxiv")
    assert result.engine == "lxml"
    assert full(list(result.papers)) == full(listing(RSS_FILE))
    two = data(f"{API}/two_ids.xml").replace(b"encoding='UTF-8'", b"encoding='iso-8859-1'", 1)
    assert "Dirk Wübben" in names(parse_api_page(two, url="api", source="arxiv").papers[0])


def test_a_real_latin1_document_stays_latin1() -> None:
    text = (
        data(f"{API}/two_ids.xml")
        .decode("utf-8")
        .replace("encoding='UTF-8'", "encoding='ISO-8859-1'")
    )
    page = parse_api_page(text.encode("latin-1"), url="api", source="arxiv")
    assert page.engine == "lxml" and "Dirk Wübben" in names(page.papers[0])


def test_entities_are_not_expanded() -> None:
    bomb = (
        b"<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY a 'aaaaaaaaaa'>"
        b"<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;'>]>"
        b"<rss version='2.0'><channel><title>t</title><item><title>x &c; y</title>"
        b"<guid>oai:arXiv.org:2506.00001v1</guid></item></channel></rss>"
    )
    (paper,) = parse_listing(bomb, url=URL, source="arxiv").papers
    assert "aaaa" not in paper.title


# -- configuration ----------------------------------------------------------------------------


def test_config_needs_something_to_read_and_forbids_unknown_keys() -> None:
    with pytest.raises(pydantic.ValidationError, match="set categories"):
        ArxivSource.Config()
    with pytest.raises(pydantic.ValidationError, match="extra"):
        ArxivSource.Config(categories=["cs.LG"], category="cs.RO")  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError, match="not arXiv categories"):
        ArxivSource.Config(categories=["cs.LG/../../etc"])
    with pytest.raises(pydantic.ValidationError, match="not arXiv ids"):
        ArxivSource.Config(id_list=["abc"])
    with pytest.raises(pydantic.ValidationError):
        ArxivSource.Config(categories=["cs.LG"], announce_types=["updated"])
    with pytest.raises(pydantic.ValidationError):
        ArxivSource.Config(queries=["cat:cs.LG"], page_size=5000)
    with pytest.raises(pydantic.ValidationError, match="http"):
        ArxivSource.Config(categories=["cs.LG"], rss_url="file:///etc/passwd")
    config = ArxivSource.Config(categories=["cs.LG", "hep-th", "astro-ph.CO", "physics.comp-ph"])
    assert config.announce_types == ["new", "cross"] and config.feed == "rss"
    for field in ArxivSource.Config.model_fields.values():
        assert field.description, "every option is documented"


def test_registered_as_the_arxiv_source() -> None:
    assert digest_arxiv.register_sources() == [ArxivSource]
    host = make_host(digest_arxiv, load_entrypoints=False)
    assert host.components("sources")["arxiv"].cls is ArxivSource


def test_expects_papers_follows_the_arxiv_calendar(tmp_path: Path) -> None:
    daily = make_source(tmp_path, rss_url="https://rss.arxiv.org")
    assert daily.expects_papers(WEDNESDAY) is True
    assert daily.expects_papers(SATURDAY) is False
    only_api = make_source(tmp_path, categories=[], queries=["cat:cs.LG"])
    assert only_api.expects_papers(WEDNESDAY) is None


# -- over HTTP ------------------------------------------------------------------------------


def make_source(tmp_path: Path, **options: Any) -> ArxivSource:
    config: dict[str, Any] = {"categories": ["cs.LG"]}
    config.update(options)
    return ArxivSource(
        ArxivSource.Config(**config), instance="arxiv", runtime=make_runtime(tmp_path)
    )


def run(source: ArxivSource, context: CollectContext | None = None) -> list[Paper]:
    context = context or make_context(now=WEDNESDAY)
    try:
        return list(source.collect(context))
    finally:
        context.http.fetcher.close()


@pytest.fixture
def server(fixture_server: FixtureServer) -> FixtureServer:
    return fixture_server


def feed_source(tmp_path: Path, server: FixtureServer, **options: Any) -> ArxivSource:
    return make_source(tmp_path, rss_url=server.url("/feeds"), **options)


def api_source(tmp_path: Path, server: FixtureServer, **options: Any) -> ArxivSource:
    config: dict[str, Any] = {"categories": [], "api_url": server.url("/api/query")}
    config.update(options)
    return make_source(tmp_path, **config)


def test_daily_feed_over_http_yields_new_and_cross_listed_papers(
    tmp_path: Path, server: FixtureServer
) -> None:
    server.route("/feeds/rss/cs.LG", Reply(body=RSS_FILE, headers=RSS_TYPE))
    papers = run(feed_source(tmp_path, server))
    assert len(papers) == 37  # 11 new + 27 cross, one cross-list repeated in the feed
    assert len({p.id for p in papers}) == 37
    assert {p.signals["arxiv.announce_type"] for p in papers} == {"new", "cross"}
    assert all(p.sources == ("arxiv",) for p in papers)
    (request,) = server.hits("/feeds/rss/cs.LG")
    assert "application/rss+xml" in request.headers["accept"]


def test_announce_types_choose_what_counts(tmp_path: Path, server: FixtureServer) -> None:
    server.route("/feeds/rss/cs.LG", Reply(body=RSS_FILE, headers=RSS_TYPE))
    every = run(
        feed_source(tmp_path, server, announce_types=["new", "cross", "replace", "replace-cross"])
    )
    assert len(every) == 39
    only_new = run(feed_source(tmp_path, server, announce_types=["new"]))
    assert len(only_new) == 11
    replaced = run(feed_source(tmp_path, server, announce_types=["replace-cross"]))
    assert [(p.id.value, p.version) for p in replaced] == [("2506.08433", 2), ("2506.08920", 2)]


def test_atom_feed_and_several_categories(tmp_path: Path, server: FixtureServer) -> None:
    server.route("/feeds/atom/cs.LG+cs.RO", Reply(body=ATOM_FILE, headers=ATOM_TYPE))
    server.route("/feeds/rss/cs.LG", Reply(body=RSS_FILE, headers=RSS_TYPE))
    atom = run(feed_source(tmp_path, server, feed="atom", categories=["cs.LG", "cs.RO"]))
    (request,) = server.hits("/feeds/atom/cs.LG+cs.RO")
    assert "application/atom+xml" in request.headers["accept"]
    assert full(atom) == full(run(feed_source(tmp_path, server)))


def _etagged(body: str, etag: str = '"day-1"') -> Callable[[Request], Reply]:
    def reply(request: Request) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(status=304, headers={"ETag": etag})
        return Reply(body=body, headers={**RSS_TYPE, "ETag": etag})

    return reply


def test_an_unchanged_feed_yields_nothing_and_is_no_error(
    tmp_path: Path, server: FixtureServer
) -> None:
    server.route("/feeds/rss/cs.LG", _etagged(RSS_FILE))
    source = feed_source(tmp_path, server)
    first = make_context(now=WEDNESDAY)
    assert len(run(source, first)) == 37
    assert '"day-1"' in first.pending_state.values()
    second = make_context(now=WEDNESDAY, state=first.pending_state)
    assert run(source, second) == []
    assert server.hits("/feeds/rss/cs.LG")[-1].headers["if-none-match"] == '"day-1"'


def test_empty_saturday_feed_is_zero_papers_not_an_error(
    tmp_path: Path, server: FixtureServer
) -> None:
    server.route("/feeds/rss/cs.LG", Reply(body=SATURDAY_FILE, headers=RSS_TYPE))
    source = feed_source(tmp_path, server)
    assert run(source, make_context(now=SATURDAY)) == []
    assert source.expects_papers(SATURDAY) is False


def test_truncated_feed_over_http_is_an_error_naming_the_url(
    tmp_path: Path, server: FixtureServer
) -> None:
    server.route("/feeds/rss/cs.LG", Reply(body=data(RSS_FILE)[:30_000], headers=RSS_TYPE))
    url = server.url("/feeds/rss/cs.LG")
    with pytest.raises(SourceError, match=f"^{url}: truncated feed"):
        run(feed_source(tmp_path, server))


def test_html_page_with_status_200_is_an_error(tmp_path: Path, server: FixtureServer) -> None:
    page = b"<!DOCTYPE html><html><body><p>We are down for maintenance</p></body></html>"
    server.route("/feeds/rss/cs.LG", Reply(body=page, headers={"Content-Type": "text/html"}))
    url = server.url("/feeds/rss/cs.LG")
    with pytest.raises(SourceError, match=f"^{url}: not an RSS/Atom feed \\(got an HTML page\\)"):
        run(feed_source(tmp_path, server))


def test_http_errors_are_source_errors(tmp_path: Path, server: FixtureServer) -> None:
    server.route("/feeds/rss/cs.LG", Reply(status=404, body=b"no such feed"))
    with pytest.raises(SourceError, match="HTTP 404"):
        run(feed_source(tmp_path, server))


def _api_route(server: FixtureServer, name: str, status: int = 200, **query: str) -> None:
    server.route(
        "/api/query", Reply(status=status, body=f"{API}/{name}", headers=ATOM_TYPE), query=query
    )


def test_api_query_pages_until_max_results(tmp_path: Path, server: FixtureServer) -> None:
    _api_route(server, "query_testing_page1_start0.xml", search_query="testing", start="0")
    _api_route(server, "query_testing_page2_start10.xml", search_query="testing", start="10")
    source = api_source(
        tmp_path, server, queries=["testing"], page_size=10, max_results=20, sort_by="relevance"
    )
    papers = run(source)
    expected = api("query_testing_page1_start0.xml") + api("query_testing_page2_start10.xml")
    assert full(papers) == full(expected)
    requests = server.hits("/api/query")
    assert [r.query for r in requests] == [
        {
            "search_query": "testing",
            "start": start,
            "max_results": "10",
            "sortBy": "relevance",
            "sortOrder": "descending",
        }
        for start in ("0", "10")
    ]
    assert "application/atom+xml" in requests[0].headers["accept"]
    assert "if-none-match" not in requests[0].headers


def test_api_last_page_asks_only_for_what_is_left(tmp_path: Path, server: FixtureServer) -> None:
    _api_route(server, "query_testing_page1_start0.xml", start="0")
    _api_route(server, "query_testing_page2_start10.xml", start="10")
    papers = run(api_source(tmp_path, server, queries=["testing"], page_size=10, max_results=15))
    assert len(papers) == 15
    assert [r.query["max_results"] for r in server.hits("/api/query")] == ["10", "5"]


def test_api_stops_at_a_short_page(tmp_path: Path, server: FixtureServer) -> None:
    _api_route(server, "query_testing_page1_start0.xml")
    papers = run(api_source(tmp_path, server, queries=["testing"], page_size=50, max_results=500))
    assert len(papers) == 10
    assert len(server.hits("/api/query")) == 1


def test_api_stops_at_total_results(tmp_path: Path, server: FixtureServer) -> None:
    _api_route(server, "single_1605.08386.xml")
    papers = run(api_source(tmp_path, server, queries=["all:markov"], page_size=1, max_results=5))
    assert [p.id.value for p in papers] == ["1605.08386"]
    assert len(server.hits("/api/query")) == 1


def test_api_empty_result_is_no_error(tmp_path: Path, server: FixtureServer) -> None:
    _api_route(server, "empty_result.xml")
    assert run(api_source(tmp_path, server, id_list=["0000.00001"])) == []
    (request,) = server.hits("/api/query")
    assert request.query["id_list"] == "0000.00001" and "search_query" not in request.query


def test_api_id_list_in_one_request(tmp_path: Path, server: FixtureServer) -> None:
    _api_route(server, "two_ids.xml")
    papers = run(api_source(tmp_path, server, id_list=["0808.05394", "1707.08567"]))
    assert [p.id.value for p in papers] == ["1707.08567"]
    (request,) = server.hits("/api/query")
    assert request.query["id_list"] == "0808.05394,1707.08567"
    assert request.query["max_results"] == "2"


def test_api_long_id_lists_are_fetched_in_chunks(tmp_path: Path, server: FixtureServer) -> None:
    _api_route(server, "single_1605.08386.xml")
    ids = ["1605.08386", "2104.12255v1", "astro-ph/0601001"]
    papers = run(api_source(tmp_path, server, id_list=ids, page_size=2))
    assert [p.id.value for p in papers] == ["1605.08386"]  # the same reply twice, deduped
    assert [r.query["id_list"] for r in server.hits("/api/query")] == [
        "1605.08386,2104.12255v1",
        "astro-ph/0601001",
    ]


def test_api_http_400_error_feed_carries_arxivs_message(
    tmp_path: Path, server: FixtureServer
) -> None:
    _api_route(server, "error_bad_id_http400.xml", status=400)
    with pytest.raises(SourceError) as caught:
        run(api_source(tmp_path, server, id_list=["1234.5678"]))
    message = str(caught.value)
    assert message.startswith(server.url("/api/query?"))
    assert message.endswith(": arXiv API error: incorrect id format for abc")
    assert "\n" not in message
    assert isinstance(caught.value.__cause__, FetchError)
    assert len(server.hits("/api/query")) == 1  # a 400 is not retried


def test_api_http_400_without_error_feed_is_the_fetch_error(
    tmp_path: Path, server: FixtureServer
) -> None:
    server.route("/api/query", Reply(status=400, body=b"Bad Request"))
    with pytest.raises(FetchError, match="HTTP 400"):
        run(api_source(tmp_path, server, queries=["cat:cs.LG"]))


def test_daily_feed_and_api_together_without_duplicates(
    tmp_path: Path, server: FixtureServer
) -> None:
    server.route("/feeds/rss/cs.LG", Reply(body=RSS_FILE, headers=RSS_TYPE))
    _api_route(server, "single_1605.08386.xml", id_list="1605.08386")
    _api_route(server, "single_1605.08386.xml", search_query="cat:math.CO")
    source = feed_source(
        tmp_path,
        server,
        api_url=server.url("/api/query"),
        queries=["cat:math.CO"],
        id_list=["1605.08386"],
    )
    papers = run(source)
    assert len(papers) == 38 and len({p.id for p in papers}) == 38
    assert papers[-1].id.value == "1605.08386"


def test_a_failing_request_fails_the_whole_instance(tmp_path: Path, server: FixtureServer) -> None:
    server.route("/feeds/rss/cs.LG", Reply(body=RSS_FILE, headers=RSS_TYPE))
    server.route("/api/query", Reply(status=400, body=f"{API}/error_bad_id_http400.xml"))
    source = feed_source(tmp_path, server, api_url=server.url("/api/query"), queries=["bad"])
    with pytest.raises(SourceError, match="arXiv API error"):
        run(source)


def test_keeps_the_source_contract(tmp_path: Path, server: FixtureServer) -> None:
    server.route("/feeds/rss/cs.LG", Reply(body=RSS_FILE, headers=RSS_TYPE))
    _api_route(server, "query_testing_page1_start0.xml")
    source = feed_source(tmp_path, server, api_url=server.url("/api/query"), queries=["testing"])
    papers = check_source(source, context=make_context(now=WEDNESDAY))
    assert len(papers) == 47


# -- through the pipeline ---------------------------------------------------------------------

PIPELINE_CONFIG = """
[digest]
state_dir = "state"
output_dir = "out"
base_url = "https://digest.example.org"
sender = "Test Digest <digest@example.org>"
secret_key = "s"

[fetch]
allow = ["127.0.0.1/32"]
retries = 0

[selection]
rankers = {{ recency = 1.0 }}

[sources.daily]
component = "arxiv"
rss_url = "{rss_url}"
categories = ["cs.LG"]

[rankers.recency]
component = "recency"

[renderers.feed]
component = "feed"

[deliverers.out]
component = "files"

[subscribers.ada]
email = "ada@example.org"
channels = ["feed"]
"""


def test_a_broken_feed_does_not_advance_the_conditional_get_state(
    tmp_path: Path, server: FixtureServer
) -> None:
    from digest.pipeline import RunOptions
    from digest.plugins import PluginHost
    from helpers import build_pipeline

    broken = {"now": False}

    def feed(request: Request) -> Reply:
        if broken["now"]:  # a new ETag, and a body cut off mid-item
            return Reply(body=data(RSS_FILE)[:30_000], headers={**RSS_TYPE, "ETag": '"day-2"'})
        if request.headers.get("if-none-match") == '"day-1"':
            return Reply(status=304, headers={"ETag": '"day-1"'})
        return Reply(body=RSS_FILE, headers={**RSS_TYPE, "ETag": '"day-1"'})

    server.route("/feeds/rss/cs.LG", feed)
    config = tmp_path / "config.toml"
    config.write_text(PIPELINE_CONFIG.format(rss_url=server.url("/feeds")), "utf-8")
    installed = "arxiv" in PluginHost().components("sources")
    pipeline = build_pipeline(config) if installed else build_pipeline(config, digest_arxiv)
    options = RunOptions(now=WEDNESDAY)

    first = pipeline.run(options)
    (report,) = first.sources
    assert (report.collected, report.new, report.error) == (37, 37, None)

    broken["now"] = True
    second = pipeline.run(options)
    (report,) = second.sources
    assert report.collected == 0 and report.error and "truncated feed" in report.error

    broken["now"] = False
    third = pipeline.run(options)
    (report,) = third.sources
    assert (report.collected, report.error) == (0, None)
    # The third request still carried the first run's validator: the broken run saved nothing.
    assert server.hits("/feeds/rss/cs.LG")[-1].headers["if-none-match"] == '"day-1"'
