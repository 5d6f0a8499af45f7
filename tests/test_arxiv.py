"""The ``arxiv`` source: arXiv's daily feeds and API replies, parsed exactly, over real sockets.

Two layers of documents (see tests/httpserver.py):

* the project's own fixtures (``tests/fixtures``: invented papers written to arXiv's published
  RSS 2.0 / Atom / API formats) -- every test here runs on them;
* the recorded captures in ``../shared/fixtures``, when that checkout is present -- the same
  behaviours on real documents (parametrised ``recorded``), skipped with the reason otherwise.

Parsing is checked on the files directly (both engines: the lxml fast path and the feedparser
fallback must agree), then the source is run against the local fixture server through the real
fetcher: conditional GET, paging, arXiv's HTTP 400 error feed, empty days and broken documents.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import pytest
from lxml import etree

import digest_arxiv
from digest import CollectContext, FetchError, SourceError, split_authors
from digest.models import Author, Paper, PaperId
from digest.testing import check_source, make_context, make_host, make_runtime
from digest_arxiv import ArxivSource, api_error_message, parse_api_page, parse_listing
from digest_arxiv.common import Engine
from httpserver import FixtureServer, Reply, Request, fixture_bytes, fixture_path, needs_recorded

RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
ATOM_TYPE = {"Content-Type": "application/atom+xml; charset=utf-8"}
URL = "https://rss.arxiv.org/rss/cs.LG"
WEDNESDAY = dt.datetime(2025, 6, 11, 12, 0, tzinfo=dt.UTC)
SATURDAY = dt.datetime(2025, 6, 14, 12, 0, tzinfo=dt.UTC)

# The project's own fixtures (tests/fixtures/arxiv_rss, tests/fixtures/arxiv_api).
RSS_FILE = "arxiv_rss/cs.LG_2025-06-11.rss.xml"
ATOM_FILE = "arxiv_rss/cs.LG_2025-06-11.atom.xml"
SATURDAY_FILE = "arxiv_rss/cs.LG_2025-06-14_saturday.rss.xml"
SATURDAY_ATOM_FILE = "arxiv_rss/cs.LG_2025-06-14_saturday.atom.xml"
LEGACY_RDF_FILE = "arxiv_rss/cs.LG_legacy_export.rdf.xml"
API_SINGLE = "arxiv_api/id_2506.90017.xml"
API_TWO = "arxiv_api/ids_two_one_found.xml"
API_EMPTY = "arxiv_api/empty_id_2506.99999.xml"
API_ERROR = "arxiv_api/error_http400_bad_id.xml"
API_OLD_STYLE = "arxiv_api/id_old_style_hep-th_9911207.xml"
API_VERSIONED = "arxiv_api/id_versioned_2311.99871v2.xml"
API_PAGE_0 = "arxiv_api/query_calibration_start0.xml"
API_PAGE_10 = "arxiv_api/query_calibration_start10.xml"

# The recorded captures (../shared/fixtures).
REC_RSS = "arxiv_rss/rss_cs.LG_2025-06-11.xml"
REC_ATOM = "arxiv_rss/atom_cs.LG_2025-06-11.xml"
REC_SATURDAY = "arxiv_rss/rss_cs.LG_empty_saturday.xml"
REC_API = "arxiv_api"


@dataclass(frozen=True)
class Layer:
    """One set of documents -- own fixtures or recorded captures -- and what tests rely on."""

    # the daily listing
    rss: str
    atom: str
    saturday: str
    items: int  # items in the listing, a repeated cross-list counted twice
    repeated: tuple[str, ...]  # ids the listing repeats
    types: dict[str, int]  # announce types of the items
    replaced_cross: tuple[tuple[str, int], ...]  # (id, version) of replace-cross items, in order
    default: int  # distinct papers announced new or cross (what the source yields by default)
    new: int  # distinct papers announced new
    every: int  # distinct papers, every announce type
    nbsp: tuple[bytes, bytes, str]  # put an &nbsp; in the first title: old, new, title prefix
    lost_items: tuple[bytes, bytes, int, str]  # damage that loses items: old, new, count, message
    together: tuple[int, str]  # feed + API together: distinct papers, the last one's id
    # the API
    single: str
    single_id: str
    two: str
    two_asked: tuple[str, str]
    two_found: str
    latin1_name: str  # a non-ASCII name in ``two`` that Latin-1 can encode
    empty: str
    empty_asked: str
    error: str
    error_message: str
    page_0: str
    page_10: str
    query: str
    chunk_ids: tuple[str, str, str]
    with_entries: tuple[str, ...]  # every API document with entries


OWN = Layer(
    rss=RSS_FILE,
    atom=ATOM_FILE,
    saturday=SATURDAY_FILE,
    items=13,
    repeated=("2506.90490",),
    types={"new": 5, "cross": 5, "replace": 1, "replace-cross": 2},
    replaced_cross=(("2503.90288", 3), ("2505.90611", 2)),
    default=9,
    new=5,
    every=12,
    nbsp=(b"Mixture-of-Experts Routing", b"Mixture-of-Experts&nbsp;Routing", "Sparse Mixture-of-"),
    lost_items=(b"<description>arXiv", b"<description><arXiv", 13, "only 8 of 13 items readable"),
    together=(9, "2506.90490"),  # the API's paper is already in the feed
    single=API_SINGLE,
    single_id="2506.90017",
    two=API_TWO,
    two_asked=("2506.90999", "2312.90555"),
    two_found="2312.90555",
    latin1_name="Jürgen Weißenborn",
    empty=API_EMPTY,
    empty_asked="2506.99999",
    error=API_ERROR,
    error_message="incorrect id format for 2506.9901x",
    page_0=API_PAGE_0,
    page_10=API_PAGE_10,
    query="all:calibration",
    chunk_ids=("2506.90017", "2311.99871v2", "hep-th/9911207"),
    with_entries=(API_SINGLE, API_TWO, API_OLD_STYLE, API_VERSIONED, API_PAGE_0, API_PAGE_10),
)

RECORDED = Layer(
    rss=REC_RSS,
    atom=REC_ATOM,
    saturday=REC_SATURDAY,
    items=40,
    repeated=("2506.08210",),
    types={"new": 11, "cross": 27, "replace-cross": 2},
    replaced_cross=(("2506.08433", 2), ("2506.08920", 2)),
    default=37,
    new=11,
    every=39,
    nbsp=(b"Neural-Augmented", b"Neural&nbsp;Augmented", "Neural Augmented Kelvinlet"),
    lost_items=(b"<description>", b"<description><", 5, "only 2 of 40 items readable"),
    together=(38, "1605.08386"),
    single=f"{REC_API}/single_1605.08386.xml",
    single_id="1605.08386",
    two=f"{REC_API}/two_ids.xml",
    two_asked=("0808.05394", "1707.08567"),
    two_found="1707.08567",
    latin1_name="Dirk Wübben",
    empty=f"{REC_API}/empty_result.xml",
    empty_asked="0000.00001",
    error=f"{REC_API}/error_bad_id_http400.xml",
    error_message="incorrect id format for abc",
    page_0=f"{REC_API}/query_testing_page1_start0.xml",
    page_10=f"{REC_API}/query_testing_page2_start10.xml",
    query="testing",
    chunk_ids=("1605.08386", "2104.12255v1", "astro-ph/0601001"),
    with_entries=tuple(
        f"{REC_API}/{name}"
        for name in (
            "single_1605.08386.xml",
            "two_ids.xml",
            "old_style_id_astro-ph_0601001.xml",
            "versioned_id_2104.12255v1.xml",
            "query_testing_page1_start0.xml",
            "query_testing_page2_start10.xml",
            "query_testing_100_results.xml",
        )
    ),
)

LAYERS = [
    pytest.param(OWN, id="own"),
    pytest.param(RECORDED, id="recorded", marks=needs_recorded),
]


def both(own: Iterable[str], recorded: Iterable[str]) -> list[Any]:
    """Parameters: the own fixtures' names, then the recorded ones (skipped where absent)."""
    return [pytest.param(name, id=name) for name in own] + [
        pytest.param(name, id=name, marks=needs_recorded) for name in recorded
    ]


def data(name: str) -> bytes:
    return fixture_bytes(name)


def listing(name: str, engine: Engine = "auto") -> list[Paper]:
    return list(parse_listing(data(name), url=URL, source="arxiv", engine=engine).papers)


def api(name: str, engine: Engine = "auto") -> list[Paper]:
    page = parse_api_page(data(name), url="api", source="arxiv", engine=engine)
    return list(page.papers)


def by_id(papers: list[Paper]) -> dict[str, Paper]:
    return {p.id.value: p for p in papers}


def names(paper: Paper) -> list[str]:
    return [a.name for a in paper.authors]


def full(papers: Iterable[Paper]) -> list[tuple[Paper, dict[str, Any]]]:
    """Papers with their signals (``Paper.__eq__`` leaves signals out)."""
    return [(p, dict(p.signals)) for p in papers]


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


# -- the daily listing: RSS 2.0 and Atom -------------------------------------------------------

# Every item of the own listing, in feed order: id, version, announce type, title, authors,
# categories (the primary category first). 2506.90490 is listed twice, as arXiv's feeds
# sometimes repeat a cross-list.
OWN_ITEMS: list[tuple[str, int, str, str, list[str], tuple[str, ...]]] = [
    (
        "2506.90017",
        1,
        "new",
        "Sparse Mixture-of-Experts Routing with Learned Temperature Schedules",
        ["Maren Ødegaard", "Julien Fabre", "Hyun-woo Baek"],
        ("cs.LG", "cs.AI"),
    ),
    (
        "2506.90023",
        1,
        "new",
        "Conformal Prediction Sets for Streaming Time Series under Covariate Drift",
        ["Tobiah Okonkwo-Reyes", "Liesl Vandermeer", "Arnav Sethi"],  # "A, B and C"
        ("cs.LG", "stat.ML", "stat.ME"),
    ),
    (
        "2506.90058",
        1,
        "new",
        "On the $\\ell_1$ Geometry of Low-Rank Adapters",
        ["Zoë Ashworth-Müller"],
        ("cs.LG", "math.OC"),
    ),
    (
        "2506.90101",
        1,
        "new",
        "Curriculum Distillation for Tabular Foundation Models",
        ["Wen-Jie Tsai", "Carolina Ibáñez Rojas", "Paul Lemaire, Jr.", "Nadia Haddad"],
        ("cs.LG",),
    ),
    (
        "2506.90144",
        1,
        "new",
        "Benchmarking the Energy Use of Federated Learning on Edge Accelerators",
        [
            "Priya Raghunathan",
            "Olusegun Adeyemi",
            "Mikkel Brandt-Sørensen",
            "The EdgeBench Consortium",
        ],
        ("cs.LG", "cs.DC", "cs.PF"),
    ),
    (
        "2506.90412",
        1,
        "cross",
        "Tactile Diffusion Policies for Contact-Rich Peg-in-Hole Assembly",  # wrapped in the feed
        [
            "Ingrid Solvang",
            "Tomás Ferreira",
            "Kenji Morishita",
            "Aaliyah Brooks",
            "Dmitri Volkov",
            "Łukasz Wróbel",
            "Hana Kobayashi",
        ],
        ("cs.RO", "cs.LG", "cs.CV"),
    ),
    (
        "2506.90455",
        1,
        "cross",
        "Who Said What? Speaker-Aware Retrieval for Meeting Transcripts",
        ["Nguyễn Thị Hạnh", "Ravi Chandrasekaran"],
        ("cs.CL", "cs.IR", "cs.LG"),
    ),
    (
        "2506.90467",
        1,
        "cross",
        "Physics-Informed Surrogates for Groundwater Flow with Sparse Wells",
        ["Fatima Zahra Benali (Univ. Rabat, LMI)", "Gustav Lindqvist"],
        ("physics.geo-ph", "cs.LG"),
    ),
    (
        "2506.90490",
        1,
        "cross",
        "Private Set Intersection Meets Gradient Boosting",
        ["Inês Carvalho", "Bram de Vries"],
        ("cs.CR", "cs.LG"),
    ),
    (
        "2506.90490",
        1,
        "cross",
        "Private Set Intersection Meets Gradient Boosting",
        ["Inês Carvalho", "Bram de Vries"],
        ("cs.CR", "cs.LG"),
    ),
    (
        "2411.90733",
        2,
        "replace",
        "Revisiting Warmup in Adaptive Optimizers",
        ["Sung-min Park", "Eleni Papadopoulou"],
        ("cs.LG", "math.OC"),
    ),
    (
        "2503.90288",
        3,
        "replace-cross",
        "Graph Neural Operators for Power-Grid Contingency Analysis",
        ["Oluwaseun Bankole", "Charlotte Dufresne", "Arjun Mehta"],
        ("eess.SY", "cs.LG", "cs.SY"),
    ),
    (
        "2505.90611",
        2,
        "replace-cross",
        "A Note on Calibration of Ensembles under Label Shift",
        ["Henrike Albers"],
        ("stat.ML", "cs.LG"),
    ),
]


@pytest.mark.parametrize("layer", LAYERS)
def test_rss_listing_has_every_item_with_its_announce_type(layer: Layer) -> None:
    papers = listing(layer.rss)
    assert len(papers) == layer.items
    # The listing repeats one cross-list (as arXiv's feeds sometimes do); the source dedupes.
    repeated = [k for k, n in Counter(p.id.value for p in papers).items() if n > 1]
    assert tuple(repeated) == layer.repeated
    types = Counter(p.signals["arxiv.announce_type"] for p in papers)
    assert types == layer.types
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
        assert paper.published is None and paper.updated is None
    replaced = [
        (p.id.value, p.version)
        for p in papers
        if p.signals["arxiv.announce_type"] == "replace-cross"
    ]
    assert tuple(replaced) == layer.replaced_cross


def test_own_listing_every_item_exactly() -> None:
    papers = listing(RSS_FILE)
    got = [
        (
            p.id.value,
            p.version,
            p.signals["arxiv.announce_type"],
            p.title,
            names(p),
            p.categories,
        )
        for p in papers
    ]
    assert got == OWN_ITEMS
    assert [p.primary_category for p in papers[:5]] == ["cs.LG"] * 5  # "new" items
    assert papers[5].primary_category == "cs.RO"  # a cross-list keeps its own primary


def test_own_listing_abstracts_lose_arxivs_header_and_keep_the_text() -> None:
    papers = by_id(listing(RSS_FILE))
    first = papers["2506.90017"]
    assert first.abstract.startswith("Routing in sparse mixture-of-experts layers is usually")
    assert first.abstract.endswith("18% fewer expert evaluations per token.")
    assert dict(first.signals) == {"arxiv.announce_type": "new"}
    assert first.doi is None and first.published is None
    # Escaped markup in the description is text: "&lt;" is "<", "&amp;" is "&"; TeX stays TeX.
    adapters = papers["2506.90058"]
    assert "For rank $r < 8$ the reachable set" in adapters.abstract
    assert "vision & language fine-tuning" in adapters.abstract
    assert adapters.title == "On the $\\ell_1$ Geometry of Low-Rank Adapters"


def test_own_listing_replacements_are_new_versions_of_older_papers() -> None:
    papers = by_id(listing(RSS_FILE))
    warmup = papers["2411.90733"]
    assert (warmup.version, warmup.signals["arxiv.announce_type"]) == (2, "replace")
    assert warmup.url == "https://arxiv.org/abs/2411.90733"
    assert warmup.announced == dt.date(2025, 6, 11)  # announced today, submitted in 2024
    assert warmup.abstract.endswith("This version adds experiments at 4096 sequences per batch.")
    assert papers["2503.90288"].version == 3


def test_own_listing_items_with_doi_and_journal_reference() -> None:
    papers = listing(RSS_FILE)
    grid = by_id(papers)["2503.90288"]
    assert grid.doi == "10.5555/jeps.2025.90288"  # a journal's DOI, normalised
    assert dict(grid.signals) == {
        "arxiv.announce_type": "replace-cross",
        "arxiv.journal_ref": "Journal of Example Power Systems 12 (2025) 101-117",  # unwrapped
    }
    # arXiv's own DOI (10.48550/arXiv.<id>) is the item's DOI too, without a journal reference.
    ensembles = by_id(papers)["2505.90611"]
    assert ensembles.doi == "10.48550/arxiv.2505.90611"
    assert dict(ensembles.signals) == {"arxiv.announce_type": "replace-cross"}
    assert [p.id.value for p in papers if p.doi] == ["2503.90288", "2505.90611"]


def test_own_listing_non_ascii_names_survive() -> None:
    authors = {a.name for p in listing(RSS_FILE) for a in p.authors}
    assert {
        "Maren Ødegaard",
        "Zoë Ashworth-Müller",
        "Carolina Ibáñez Rojas",
        "Łukasz Wróbel",
        "Nguyễn Thị Hạnh",
        "Inês Carvalho",
        "Mikkel Brandt-Sørensen",
    } <= authors


@needs_recorded
def test_recorded_rss_first_item_exactly() -> None:
    first = listing(REC_RSS)[0]
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


@needs_recorded
def test_recorded_rss_new_items_and_the_last_item() -> None:
    papers = listing(REC_RSS)
    new = [p for p in papers if p.signals["arxiv.announce_type"] == "new"]
    assert all(p.primary_category == "cs.LG" for p in new)
    last = papers[-1]
    assert last.id.value == "2506.08020" and last.version == 1
    assert last.title == "Bi-level Unbalanced Optimal Transport for Partial Domain Adaptation"
    assert names(last) == ["Zi-Ying Chen", "Chuan-Xian Ren", "Hong Yan"]
    assert last.categories == ("cs.LG", "cs.AI", "cs.CV")
    assert last.abstract.startswith("Partial domain adaptation (PDA) problem requires")


@needs_recorded
def test_recorded_rss_item_with_doi_and_journal_reference() -> None:
    paper = by_id(listing(REC_RSS))["2506.08920"]
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
    assert [p.id.value for p in listing(REC_RSS) if p.doi] == ["2506.08920"]


@needs_recorded
def test_recorded_non_ascii_names_survive() -> None:
    authors = {a.name for p in listing(REC_RSS) for a in p.authors}
    assert {"Hernán Maina", "Nicolás Wolovick", "Marek Kadlčík", "Josef Kuchař"} <= authors


@pytest.mark.parametrize("layer", LAYERS)
def test_atom_listing_gives_the_same_papers_as_rss(layer: Layer) -> None:
    rss, atom = listing(layer.rss), listing(layer.atom)
    assert len(atom) == layer.items
    assert full(atom) == full(rss)


@pytest.mark.parametrize(
    "name",
    both(
        [RSS_FILE, ATOM_FILE, SATURDAY_FILE, SATURDAY_ATOM_FILE, LEGACY_RDF_FILE],
        [REC_RSS, REC_ATOM, REC_SATURDAY],
    ),
)
def test_feedparser_fallback_agrees_with_the_fast_path(name: str) -> None:
    fast = parse_listing(data(name), url=URL, source="arxiv")
    slow = parse_listing(data(name), url=URL, source="arxiv", engine="feedparser")
    # lxml reads RSS 2.0, Atom and the legacy RSS 1.0 (RDF) export.
    assert (fast.engine, slow.engine) == ("lxml", "feedparser")
    assert full(slow.papers) == full(fast.papers)
    assert slow.announced == fast.announced


@pytest.mark.parametrize("name", both([SATURDAY_FILE, SATURDAY_ATOM_FILE], [REC_SATURDAY]))
def test_empty_saturday_feed_is_an_empty_listing(name: str) -> None:
    result = parse_listing(data(name), url=URL, source="arxiv")
    assert result.papers == () and result.skipped == ()
    assert result.announced == dt.date(2025, 6, 14)


def test_legacy_rdf_export_gives_the_same_paper_fields_as_todays_feeds() -> None:
    # The RSS 1.0 (RDF) shape export.arxiv.org/rss/<cat> served before rss.arxiv.org, still
    # what archives and mirrors serve: no guid, no announce-type element, no categories; the
    # version, primary category and announce type are in the title's "(arXiv:…)" suffix.
    result = parse_listing(data(LEGACY_RDF_FILE), url=URL, source="arxiv")
    assert result.engine == "lxml" and result.skipped == ()
    assert result.announced == dt.date(2023, 11, 14)  # the channel's dc:date, US/Eastern
    fields = [
        (p.id.value, p.version, p.title, p.categories, p.signals["arxiv.announce_type"])
        for p in result.papers
    ]
    assert fields == [
        ("2311.90204", 1, "Spectral Pruning of Recurrent State-Space Models", ("cs.LG",), "new"),
        (
            "2311.90317",
            1,
            "Counterfactual Data Augmentation for Fair Credit Scoring",
            ("cs.CY", "cs.LG"),
            "cross",
        ),
        (
            "2310.90876",
            2,
            "Learning Rate Free Training with Distance Estimates",
            ("cs.LG",),
            "replace",
        ),
        (
            "2311.90555",
            1,
            "Search for Invented Bosons Decaying to Photon Pairs",
            ("hep-ex", "cs.LG"),
            "cross",
        ),
        (
            "2309.90111",
            3,
            "Calibrated Uncertainty for Gradient Boosting",
            ("stat.ML", "cs.LG"),
            "replace-cross",
        ),
    ]
    first = result.papers[0]
    assert first.url == "https://arxiv.org/abs/2311.90204"
    assert first.pdf_url == "https://arxiv.org/pdf/2311.90204"


def test_legacy_rdf_export_gives_plain_text_abstracts_and_names() -> None:
    papers = listing(LEGACY_RDF_FILE)
    assert names(papers[0]) == ["Eirik Halvorsen", "Chidinma Amadi"]
    assert papers[0].abstract == (
        "State-space models are pruned channel by channel. We prune in the spectral domain "
        "instead and keep the poles that dominate the impulse response, halving the state "
        "size at equal perplexity."
    )
    # A collaboration is an author; "et al." and the count of authors not shown are not.
    assert names(papers[3]) == ["ZEPHYR Collaboration", "A. Okafor", "L. Brandt"]
    # Entities escaped twice (inside the escaped HTML) are decoded once each.
    assert papers[3].abstract.startswith("Events with two photons of $p_T > 20$ GeV")
    assert "seen & limits" in papers[3].abstract


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
    (paper,) = api(API_SINGLE)
    assert paper.id == PaperId(kind="arxiv", value="2506.90017") and paper.version == 1
    assert paper.title == "Sparse Mixture-of-Experts Routing with Learned Temperature Schedules"
    assert names(paper) == ["Maren Ødegaard", "Julien Fabre", "Hyun-woo Baek"]
    assert paper.categories == ("cs.LG", "cs.AI")
    assert paper.abstract.startswith("Routing in sparse mixture-of-experts layers")
    assert paper.published == utc(2025, 6, 10, 15, 12, 40)
    assert paper.updated == utc(2025, 6, 10, 15, 12, 40)
    assert paper.announced is None and paper.doi is None
    assert dict(paper.signals) == {"arxiv.comment": "12 pages, 4 figures; code to be released"}
    assert paper.url == "https://arxiv.org/abs/2506.90017"
    assert paper.pdf_url == "https://arxiv.org/pdf/2506.90017"
    # The API and the daily listing describe one paper: the same id, title, authors, abstract.
    (listed,) = [p for p in listing(RSS_FILE) if p.id == paper.id]
    assert (listed.title, listed.authors, listed.abstract) == (
        paper.title,
        paper.authors,
        paper.abstract,
    )


def test_api_authors_are_the_whole_list_not_the_last_one() -> None:
    (paper,) = api(API_TWO)  # two ids asked for, one of them unknown to arXiv
    assert paper.id.value == "2312.90555" and paper.version == 1
    assert paper.title == (
        "Report on the Second Workshop on Reproducible Benchmarks for Learned Compression"
    )
    assert len(paper.authors) == 14
    assert paper.authors[0].name == "Jürgen Weißenborn"
    assert paper.authors[-1].name == "Björn Åkesson"
    assert {"Søren Lykke", "Íñigo Sarasola", "Matthias Groß"} <= set(names(paper))
    assert paper.categories == ("cs.IT", "eess.IV")
    assert paper.abstract.startswith("The second workshop on reproducible benchmarks for")
    assert "\n" not in paper.abstract
    assert paper.signals["arxiv.comment"] == (
        "30 pages; editors of the report: Jürgen Weißenborn and Søren Lykke"
    )


def test_api_old_style_id_with_affiliations_and_journal_ref() -> None:
    # The API's older layout: namespaces declared on each element, primary_category first.
    (paper,) = api(API_OLD_STYLE)
    assert paper.id == PaperId(kind="arxiv", value="hep-th/9911207") and paper.version == 1
    assert paper.url == "https://arxiv.org/abs/hep-th/9911207"
    assert paper.pdf_url == "https://arxiv.org/pdf/hep-th/9911207"
    assert paper.title == (
        "Boundary Terms for Twisted Sigma Models on Orbifolds with Discrete Torsion"
    )
    assert paper.authors == (
        Author(name="Teodora Vasileva", affiliation="Sofia University"),
        Author(name="Rafael Quintana", affiliation="IFT Madrid; CERN"),  # two affiliations
        Author(name="Marcus J. Whitfield"),
    )
    assert paper.categories == ("hep-th", "math.AG")
    assert dict(paper.signals) == {
        "arxiv.comment": "24 pages, LaTeX, 3 eps figures; references added",
        "arxiv.journal_ref": "Ann.Ex.Phys. 281 (2000) 77-104",
    }
    assert paper.abstract.startswith("We construct the boundary terms")
    assert "a choice of a cocycle & we show" in paper.abstract and "|G|<12" in paper.abstract
    assert paper.abstract.endswith("We comment on the relation to D-brane charges.")
    assert paper.published == paper.updated == utc(1999, 11, 25, 16, 41, 9)


def test_api_versioned_id() -> None:
    (paper,) = api(API_VERSIONED)
    assert paper.id.value == "2311.99871" and paper.version == 2
    assert paper.title == "Ω"  # a one-character title is a title
    assert names(paper) == ["Kwame Asante-Darko"]
    assert paper.categories == ("cs.CR",)
    # published is v1's date, updated this version's.
    assert paper.published == utc(2023, 11, 20, 9, 14, 3)
    assert paper.updated == utc(2024, 2, 2, 18, 40, 51)
    assert dict(paper.signals) == {"arxiv.comment": "v2: two more libraries"}


def test_api_query_page_with_doi_and_primary_category_first() -> None:
    page = parse_api_page(data(API_PAGE_0), url="api", source="arxiv")
    assert (page.entries, page.total_results, page.start_index, page.items_per_page) == (
        10,
        20,
        0,
        10,
    )
    first, second = page.papers[:2]
    assert first.id.value == "2506.90733" and first.version == 1
    assert first.doi == "10.5555/exu.2025.0733"  # <arxiv:doi>10.5555/EXU.2025.0733</arxiv:doi>
    assert first.categories == ("stat.ML", "cs.LG")
    assert names(first) == ["Rosa Lindgren", "Amit Bhattacharya", "Chloé Marchetti"]
    # arxiv:primary_category comes first even where the document lists it second.
    assert second.categories == ("cs.LG", "cs.CV")
    assert second.title == "Temperature Scaling Revisited for Long-Tailed Classification"
    assert second.version == 2 and second.updated == utc(2025, 6, 2, 17, 30)
    assert "\n" not in second.abstract
    weather = by_id(list(page.papers))["2412.90961"]
    assert weather.signals["arxiv.journal_ref"] == (
        "Example Quarterly Journal of Meteorology 151 (2025) 455-470"
    )
    assert [p.id.value for p in page.papers if p.doi] == ["2506.90733", "2412.90961", "2408.90503"]
    second_page = parse_api_page(data(API_PAGE_10), url="api", source="arxiv")
    assert (second_page.entries, second_page.total_results, second_page.start_index) == (10, 20, 10)
    assert len({p.id for p in page.papers + second_page.papers}) == 20


@needs_recorded
def test_recorded_api_single_id_exactly() -> None:
    (paper,) = api(f"{REC_API}/single_1605.08386.xml")
    assert paper.id == PaperId(kind="arxiv", value="1605.08386") and paper.version == 1
    assert paper.title == "Heat-bath random walks with Markov bases"
    assert names(paper) == ["Caprice Stanley", "Tobias Windisch"]
    assert paper.categories == ("math.CO", "math.ST")
    assert paper.abstract.startswith("Graphs on lattice points are studied")
    assert paper.published == utc(2016, 5, 26, 17, 59, 46)
    assert paper.updated == utc(2016, 5, 26, 17, 59, 46)
    assert paper.announced is None and paper.doi is None
    assert dict(paper.signals) == {"arxiv.comment": "20 pages, 3 figures"}
    assert paper.url == "https://arxiv.org/abs/1605.08386"


@needs_recorded
def test_recorded_api_authors_are_the_whole_list_not_the_last_one() -> None:
    (paper,) = api(f"{REC_API}/two_ids.xml")
    assert paper.id.value == "1707.08567"
    assert len(paper.authors) == 34
    assert paper.authors[0].name == "Kees A. Schouhamer Immink"
    assert paper.authors[-1].name == "Hirosuke Yamamoto"
    assert "Dirk Wübben" in names(paper)
    assert paper.categories == ("cs.IT",)


@needs_recorded
def test_recorded_api_old_style_id_with_affiliations_and_journal_ref() -> None:
    (paper,) = api(f"{REC_API}/old_style_id_astro-ph_0601001.xml")
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


@needs_recorded
def test_recorded_api_versioned_id() -> None:
    (paper,) = api(f"{REC_API}/versioned_id_2104.12255v1.xml")
    assert paper.id.value == "2104.12255" and paper.version == 1
    assert paper.title == "0"
    assert names(paper) == ["Quan Thoi Minh Nguyen"]


@needs_recorded
def test_recorded_api_query_page_with_doi_and_primary_category_first() -> None:
    content = data(f"{REC_API}/query_testing_page1_start0.xml")
    page = parse_api_page(content, url="api", source="arxiv")
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


@pytest.mark.parametrize("name", both(OWN.with_entries, RECORDED.with_entries))
def test_api_papers_match_the_xml(name: str) -> None:
    content = data(name)
    papers = list(parse_api_page(content, url="api", source="arxiv").papers)
    ns = {"a": "http://www.w3.org/2005/Atom", "x": "http://arxiv.org/schemas/atom"}
    entries = etree.fromstring(content).findall("a:entry", ns)
    assert papers and len({p.id for p in papers}) == len(papers) == len(entries)
    for paper, entry in zip(papers, entries, strict=True):
        assert paper.categories[0] == entry.find("x:primary_category", ns).get("term")
        assert set(paper.categories) == {c.get("term") for c in entry.findall("a:category", ns)}
        assert len(paper.authors) == len(entry.findall("a:author", ns))
        assert "\n" not in paper.abstract and "  " not in paper.abstract
        assert "\n" not in paper.title and "  " not in paper.title
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
    both(
        [*OWN.with_entries, API_EMPTY],
        [*RECORDED.with_entries, RECORDED.empty],
    ),
)
def test_api_feedparser_fallback_agrees_with_the_fast_path(name: str) -> None:
    fast, slow = api(name), api(name, engine="feedparser")
    # feedparser keeps only the last author's affiliation (at entry level): names only there.
    assert full(slow) == full(_without_affiliations(fast))


@pytest.mark.parametrize("layer", LAYERS)
def test_api_empty_result(layer: Layer) -> None:
    page = parse_api_page(data(layer.empty), url="api", source="arxiv")
    assert page.papers == () and page.entries == 0 and page.total_results == 0


@pytest.mark.parametrize("engine", ["auto", "feedparser"])
@pytest.mark.parametrize("layer", LAYERS)
def test_api_error_feed_is_an_error_with_arxivs_message(layer: Layer, engine: Engine) -> None:
    content = data(layer.error)
    expected = f"^api: arXiv API error: {re.escape(layer.error_message)}$"
    with pytest.raises(SourceError, match=expected):
        parse_api_page(content, url="api", source="arxiv", engine=engine)
    assert api_error_message(content) == layer.error_message
    assert api_error_message(data(layer.single)) is None
    assert api_error_message(b"Bad Request") is None


# -- broken documents and encodings --------------------------------------------------------


def _cuts() -> list[Any]:
    """Where to cut the listings: inside the channel header, mid-item, in the closing tags."""
    return [
        pytest.param(layer.values[0], cut, id=f"{layer.id}-{cut}", marks=layer.marks)
        for layer in LAYERS
        for cut in (500, "middle", -20, -8)
    ]


@pytest.mark.parametrize(("layer", "cut"), _cuts())
def test_a_truncated_feed_is_an_error_never_a_partial_listing(layer: Layer, cut: int | str) -> None:
    whole = data(layer.rss)
    content = whole[: len(whole) // 2] if cut == "middle" else whole[: int(cut)]
    with pytest.raises(SourceError, match=r"^https://rss\.arxiv\.org/rss/cs\.LG: truncated feed"):
        parse_listing(content, url=URL, source="arxiv")


@pytest.mark.parametrize("layer", LAYERS)
def test_a_feed_cut_inside_its_first_tag_is_an_error(layer: Layer) -> None:
    with pytest.raises(SourceError, match="not an RSS/Atom feed"):
        parse_listing(data(layer.rss)[:200], url=URL, source="arxiv")


@pytest.mark.parametrize("layer", LAYERS)
def test_a_truncated_api_page_is_an_error(layer: Layer) -> None:
    content = data(layer.page_0)[:-3]
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


@pytest.mark.parametrize("layer", LAYERS)
def test_a_body_naming_a_local_file_is_not_read_from_disk(layer: Layer) -> None:
    # feedparser given bytes would first try them as a file name: the body names a real feed.
    path = fixture_path(layer.rss)
    assert path.is_file()
    body = str(path).encode()
    with pytest.raises(SourceError, match="not an RSS/Atom feed"):
        parse_listing(body, url=URL, source="arxiv")
    with pytest.raises(SourceError, match="not an RSS/Atom feed"):
        parse_listing(body, url=URL, source="arxiv", engine="feedparser")


@pytest.mark.parametrize("layer", LAYERS)
def test_an_ill_formed_but_complete_feed_is_read_by_feedparser(layer: Layer) -> None:
    # An HTML entity XML does not define: lxml refuses the document, feedparser's loose parser
    # reads every item, and the root element is closed, so nothing was lost.
    old, new, title = layer.nbsp
    content = data(layer.rss).replace(old, new, 1)
    assert content != data(layer.rss)
    result = parse_listing(content, url=URL, source="arxiv")
    assert result.engine == "feedparser" and "nbsp" in result.fallback_reason
    assert len(result.papers) == layer.items
    assert result.papers[0].title.startswith(title)
    assert full(result.papers[1:]) == full(listing(layer.rss)[1:])


@pytest.mark.parametrize(
    ("old", "new", "count"),
    [
        (b"<item>", b"<item><", 3),  # a stray "<" between elements
        (b"<guid", b"<<guid", 2),
        (b"</item>", b"</item", 2),  # an end tag without its ">"
    ],
)
def test_damage_between_elements_is_recovered_exactly(old: bytes, new: bytes, count: int) -> None:
    content = data(RSS_FILE).replace(old, new, count)
    result = parse_listing(content, url=URL, source="arxiv")
    assert result.engine == "feedparser" and result.fallback_reason
    assert full(result.papers) == full(listing(RSS_FILE))


@pytest.mark.parametrize("layer", LAYERS)
def test_an_ill_formed_feed_losing_items_is_an_error(layer: Layer) -> None:
    # Broken end tags: feedparser still finds every item, but two lost their ids in the damage.
    content = data(layer.rss).replace(b"</title>", b"</titl>", 3)
    with pytest.raises(
        SourceError, match=rf"ill-formed feed .*2 of {layer.items} items unreadable"
    ):
        parse_listing(content, url=URL, source="arxiv")
    # A stray "<" before a description's text: items are swallowed by the damage.
    old, new, count, message = layer.lost_items
    content = data(layer.rss).replace(old, new, count)
    with pytest.raises(SourceError, match=re.escape(message)):
        parse_listing(content, url=URL, source="arxiv")


@pytest.mark.xfail(
    strict=True,
    reason="parser bug: damage inside descriptions that keeps every item's id and title is "
    "accepted from feedparser's loose parser with wrong abstracts ('' or '\" routing=\"Routing\" "
    'in="in" …\'); only lost ids/titles are checked (digest_arxiv.common.refuse_damaged)',
)
@pytest.mark.parametrize(
    ("old", "new", "count"),
    [(b"<description>", b"<description><", 5), (b"Abstract: ", b"Abstract: <", 3)],
)
def test_damage_inside_descriptions_is_refused_or_read_right(
    old: bytes, new: bytes, count: int
) -> None:
    content = data(RSS_FILE).replace(old, new, count)
    try:
        result = parse_listing(content, url=URL, source="arxiv")
    except SourceError:
        return
    assert full(result.papers) == full(listing(RSS_FILE))


@pytest.mark.parametrize("layer", LAYERS)
def test_latin1_bytes_declared_utf8_are_still_read(layer: Layer) -> None:
    # Latin-1 bytes under encoding='UTF-8': lxml refuses them, feedparser detects the encoding.
    content = data(layer.two).decode("utf-8").encode("latin-1")
    page = parse_api_page(content, url="api", source="arxiv")
    assert page.engine == "feedparser"
    assert layer.latin1_name in names(page.papers[0])
    assert full(page.papers) == full(api(layer.two))


@pytest.mark.parametrize("layer", LAYERS)
def test_utf8_bytes_declared_latin1_are_read_as_utf8(layer: Layer) -> None:
    # UTF-8 bytes under encoding='ISO-8859-1' would come out as mojibake ("WÃ¼bben").
    content = data(layer.rss).replace(b"encoding='UTF-8'", b"encoding='ISO-8859-1'", 1)
    assert content != data(layer.rss)
    result = parse_listing(content, url=URL, source="arxiv")
    assert result.engine == "lxml"
    assert full(result.papers) == full(listing(layer.rss))
    two = data(layer.two).replace(b"encoding='UTF-8'", b"encoding='iso-8859-1'", 1)
    assert two != data(layer.two)
    assert layer.latin1_name in names(parse_api_page(two, url="api", source="arxiv").papers[0])


@pytest.mark.parametrize("layer", LAYERS)
def test_a_real_latin1_document_stays_latin1(layer: Layer) -> None:
    text = data(layer.two).decode("utf-8").replace("encoding='UTF-8'", "encoding='ISO-8859-1'")
    page = parse_api_page(text.encode("latin-1"), url="api", source="arxiv")
    assert page.engine == "lxml" and layer.latin1_name in names(page.papers[0])
    assert full(page.papers) == full(api(layer.two))


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


def _feed_route(server: FixtureServer, layer: Layer) -> None:
    server.route("/feeds/rss/cs.LG", Reply(body=layer.rss, headers=RSS_TYPE))


@pytest.mark.parametrize("layer", LAYERS)
def test_daily_feed_over_http_yields_new_and_cross_listed_papers(
    layer: Layer, tmp_path: Path, server: FixtureServer
) -> None:
    _feed_route(server, layer)
    papers = run(feed_source(tmp_path, server))
    assert len(papers) == layer.default  # new + cross, the repeated cross-list once
    assert len({p.id for p in papers}) == layer.default
    assert {p.signals["arxiv.announce_type"] for p in papers} == {"new", "cross"}
    assert all(p.sources == ("arxiv",) for p in papers)
    (request,) = server.hits("/feeds/rss/cs.LG")
    assert "application/rss+xml" in request.headers["accept"]


def test_own_daily_feed_over_http_exactly(tmp_path: Path, server: FixtureServer) -> None:
    _feed_route(server, OWN)
    papers = run(feed_source(tmp_path, server))
    expected = [(i, v) for i, v, kind, *_ in OWN_ITEMS if kind in ("new", "cross")]
    assert [(p.id.value, p.version) for p in papers] == list(dict.fromkeys(expected))
    wanted = [p for p in listing(RSS_FILE) if p.signals["arxiv.announce_type"] in ("new", "cross")]
    assert full(papers) == full({p.id: p for p in wanted}.values())


def test_a_mirror_serving_the_legacy_export_gives_new_and_cross_listed_papers_only(
    tmp_path: Path, server: FixtureServer
) -> None:
    # A replaced v2 ("UPDATED") of a paper already announced is not news again.
    server.route(
        "/feeds/rss/cs.LG",
        Reply(body=data(LEGACY_RDF_FILE), headers={"Content-Type": "application/rdf+xml"}),
    )
    papers = run(feed_source(tmp_path, server))
    assert [(p.id.value, p.signals["arxiv.announce_type"]) for p in papers] == [
        ("2311.90204", "new"),
        ("2311.90317", "cross"),
        ("2311.90555", "cross"),
    ]


@pytest.mark.parametrize("layer", LAYERS)
def test_announce_types_choose_what_counts(
    layer: Layer, tmp_path: Path, server: FixtureServer
) -> None:
    _feed_route(server, layer)
    every = run(
        feed_source(tmp_path, server, announce_types=["new", "cross", "replace", "replace-cross"])
    )
    assert len(every) == layer.every
    only_new = run(feed_source(tmp_path, server, announce_types=["new"]))
    assert len(only_new) == layer.new
    replaced = run(feed_source(tmp_path, server, announce_types=["replace-cross"]))
    assert tuple((p.id.value, p.version) for p in replaced) == layer.replaced_cross


def test_own_replace_announcements_are_their_own_type(
    tmp_path: Path, server: FixtureServer
) -> None:
    _feed_route(server, OWN)
    (paper,) = run(feed_source(tmp_path, server, announce_types=["replace"]))
    assert (paper.id.value, paper.version, paper.signals["arxiv.announce_type"]) == (
        "2411.90733",
        2,
        "replace",
    )


@pytest.mark.parametrize("layer", LAYERS)
def test_atom_feed_and_several_categories(
    layer: Layer, tmp_path: Path, server: FixtureServer
) -> None:
    server.route("/feeds/atom/cs.LG+cs.RO", Reply(body=layer.atom, headers=ATOM_TYPE))
    _feed_route(server, layer)
    atom = run(feed_source(tmp_path, server, feed="atom", categories=["cs.LG", "cs.RO"]))
    (request,) = server.hits("/feeds/atom/cs.LG+cs.RO")
    assert "application/atom+xml" in request.headers["accept"]
    assert len(atom) == layer.default
    assert full(atom) == full(run(feed_source(tmp_path, server)))


def _etagged(body: str, etag: str = '"day-1"') -> Callable[[Request], Reply]:
    def reply(request: Request) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(status=304, headers={"ETag": etag})
        return Reply(body=body, headers={**RSS_TYPE, "ETag": etag})

    return reply


@pytest.mark.parametrize("layer", LAYERS)
def test_an_unchanged_feed_yields_nothing_and_is_no_error(
    layer: Layer, tmp_path: Path, server: FixtureServer
) -> None:
    server.route("/feeds/rss/cs.LG", _etagged(layer.rss))
    source = feed_source(tmp_path, server)
    first = make_context(now=WEDNESDAY)
    assert len(run(source, first)) == layer.default
    assert '"day-1"' in first.pending_state.values()
    second = make_context(now=WEDNESDAY, state=first.pending_state)
    assert run(source, second) == []
    assert server.hits("/feeds/rss/cs.LG")[-1].headers["if-none-match"] == '"day-1"'


def test_a_fixture_file_served_as_is_answers_304(tmp_path: Path, server: FixtureServer) -> None:
    # The server's own validators (ETag from the file), not a scripted 304.
    source = feed_source(tmp_path, server)
    server.route("/feeds/rss/cs.LG", Reply(body=RSS_FILE, headers=RSS_TYPE))
    first = make_context(now=WEDNESDAY)
    assert len(run(source, first)) == OWN.default
    second = make_context(now=WEDNESDAY, state=first.pending_state)
    assert run(source, second) == []
    assert server.hits("/feeds/rss/cs.LG")[-1].headers["if-none-match"].startswith('"')


@pytest.mark.parametrize("name", both([SATURDAY_FILE, SATURDAY_ATOM_FILE], [REC_SATURDAY]))
def test_empty_saturday_feed_is_zero_papers_not_an_error(
    name: str, tmp_path: Path, server: FixtureServer
) -> None:
    atom = "atom" in name
    headers = ATOM_TYPE if atom else RSS_TYPE
    server.route(f"/feeds/{'atom' if atom else 'rss'}/cs.LG", Reply(body=name, headers=headers))
    source = feed_source(tmp_path, server, feed="atom" if atom else "rss")
    assert run(source, make_context(now=SATURDAY)) == []
    assert source.expects_papers(SATURDAY) is False


@pytest.mark.parametrize("layer", LAYERS)
def test_truncated_feed_over_http_is_an_error_naming_the_url(
    layer: Layer, tmp_path: Path, server: FixtureServer
) -> None:
    whole = data(layer.rss)
    server.route("/feeds/rss/cs.LG", Reply(body=whole[: len(whole) // 2], headers=RSS_TYPE))
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
    server.route("/api/query", Reply(status=status, body=name, headers=ATOM_TYPE), query=query)


@pytest.mark.parametrize("layer", LAYERS)
def test_api_query_pages_until_max_results(
    layer: Layer, tmp_path: Path, server: FixtureServer
) -> None:
    _api_route(server, layer.page_0, search_query=layer.query, start="0")
    _api_route(server, layer.page_10, search_query=layer.query, start="10")
    source = api_source(
        tmp_path, server, queries=[layer.query], page_size=10, max_results=20, sort_by="relevance"
    )
    papers = run(source)
    assert full(papers) == full(api(layer.page_0) + api(layer.page_10))
    requests = server.hits("/api/query")
    assert [r.query for r in requests] == [
        {
            "search_query": layer.query,
            "start": start,
            "max_results": "10",
            "sortBy": "relevance",
            "sortOrder": "descending",
        }
        for start in ("0", "10")
    ]
    assert "application/atom+xml" in requests[0].headers["accept"]
    assert "if-none-match" not in requests[0].headers


@pytest.mark.parametrize("layer", LAYERS)
def test_api_last_page_asks_only_for_what_is_left(
    layer: Layer, tmp_path: Path, server: FixtureServer
) -> None:
    _api_route(server, layer.page_0, start="0")
    _api_route(server, layer.page_10, start="10")
    papers = run(api_source(tmp_path, server, queries=[layer.query], page_size=10, max_results=15))
    assert len(papers) == 15
    assert full(papers) == full((api(layer.page_0) + api(layer.page_10))[:15])
    assert [r.query["max_results"] for r in server.hits("/api/query")] == ["10", "5"]


@pytest.mark.parametrize("layer", LAYERS)
def test_api_stops_at_a_short_page(layer: Layer, tmp_path: Path, server: FixtureServer) -> None:
    _api_route(server, layer.page_0)
    papers = run(api_source(tmp_path, server, queries=[layer.query], page_size=50, max_results=500))
    assert len(papers) == 10
    assert len(server.hits("/api/query")) == 1


@pytest.mark.parametrize("layer", LAYERS)
def test_api_stops_at_total_results(layer: Layer, tmp_path: Path, server: FixtureServer) -> None:
    _api_route(server, layer.single)
    papers = run(api_source(tmp_path, server, queries=["all:markov"], page_size=1, max_results=5))
    assert [p.id.value for p in papers] == [layer.single_id]
    assert len(server.hits("/api/query")) == 1


def test_api_paging_stops_at_the_pages_total(tmp_path: Path, server: FixtureServer) -> None:
    # opensearch:totalResults is 20: two full pages, and no third request.
    _api_route(server, API_PAGE_0, start="0")
    _api_route(server, API_PAGE_10, start="10")
    papers = run(api_source(tmp_path, server, queries=[OWN.query], page_size=10, max_results=100))
    assert len(papers) == 20 and len({p.id for p in papers}) == 20
    assert [r.query["start"] for r in server.hits("/api/query")] == ["0", "10"]


@pytest.mark.parametrize("layer", LAYERS)
def test_api_empty_result_is_no_error(layer: Layer, tmp_path: Path, server: FixtureServer) -> None:
    _api_route(server, layer.empty)
    assert run(api_source(tmp_path, server, id_list=[layer.empty_asked])) == []
    (request,) = server.hits("/api/query")
    assert request.query["id_list"] == layer.empty_asked and "search_query" not in request.query


@pytest.mark.parametrize("layer", LAYERS)
def test_api_id_list_in_one_request(layer: Layer, tmp_path: Path, server: FixtureServer) -> None:
    _api_route(server, layer.two)
    papers = run(api_source(tmp_path, server, id_list=list(layer.two_asked)))
    assert [p.id.value for p in papers] == [layer.two_found]
    (request,) = server.hits("/api/query")
    assert request.query["id_list"] == ",".join(layer.two_asked)
    assert request.query["max_results"] == "2"


@pytest.mark.parametrize("layer", LAYERS)
def test_api_long_id_lists_are_fetched_in_chunks(
    layer: Layer, tmp_path: Path, server: FixtureServer
) -> None:
    _api_route(server, layer.single)
    ids = list(layer.chunk_ids)
    papers = run(api_source(tmp_path, server, id_list=ids, page_size=2))
    assert [p.id.value for p in papers] == [layer.single_id]  # the same reply twice, deduped
    assert [r.query["id_list"] for r in server.hits("/api/query")] == [",".join(ids[:2]), ids[2]]


@pytest.mark.parametrize("layer", LAYERS)
def test_api_http_400_error_feed_carries_arxivs_message(
    layer: Layer, tmp_path: Path, server: FixtureServer
) -> None:
    _api_route(server, layer.error, status=400)
    with pytest.raises(SourceError) as caught:
        run(api_source(tmp_path, server, id_list=["1234.5678"]))
    message = str(caught.value)
    assert message.startswith(server.url("/api/query?"))
    assert message.endswith(f": arXiv API error: {layer.error_message}")
    assert "\n" not in message
    assert isinstance(caught.value.__cause__, FetchError)
    assert len(server.hits("/api/query")) == 1  # a 400 is not retried


def test_api_http_400_without_error_feed_is_the_fetch_error(
    tmp_path: Path, server: FixtureServer
) -> None:
    server.route("/api/query", Reply(status=400, body=b"Bad Request"))
    with pytest.raises(FetchError, match="HTTP 400"):
        run(api_source(tmp_path, server, queries=["cat:cs.LG"]))


@pytest.mark.parametrize("layer", LAYERS)
def test_daily_feed_and_api_together_without_duplicates(
    layer: Layer, tmp_path: Path, server: FixtureServer
) -> None:
    _feed_route(server, layer)
    _api_route(server, layer.single, id_list=layer.single_id)
    _api_route(server, layer.single, search_query="cat:math.CO")
    source = feed_source(
        tmp_path,
        server,
        api_url=server.url("/api/query"),
        queries=["cat:math.CO"],
        id_list=[layer.single_id],
    )
    papers = run(source)
    count, last = layer.together
    assert len(papers) == count and len({p.id for p in papers}) == count
    assert papers[-1].id.value == last


def test_own_feed_and_api_merge_keeps_the_feeds_paper_and_adds_the_rest(
    tmp_path: Path, server: FixtureServer
) -> None:
    # 2506.90017 is in the day's feed and in the API reply; 2311.99871 only in the API's.
    _feed_route(server, OWN)
    _api_route(server, API_SINGLE, id_list="2506.90017")
    _api_route(server, API_VERSIONED, search_query="cat:cs.CR")
    source = feed_source(
        tmp_path,
        server,
        api_url=server.url("/api/query"),
        queries=["cat:cs.CR"],
        id_list=["2506.90017"],
    )
    papers = run(source)
    assert [p.id.value for p in papers][-1:] == ["2311.99871"] and len(papers) == OWN.default + 1
    merged = by_id(papers)["2506.90017"]
    assert merged.signals["arxiv.announce_type"] == "new"  # the first seen (the feed's) is kept
    assert merged.published is None
    assert by_id(papers)["2311.99871"].version == 2


@pytest.mark.parametrize("layer", LAYERS)
def test_a_failing_request_fails_the_whole_instance(
    layer: Layer, tmp_path: Path, server: FixtureServer
) -> None:
    _feed_route(server, layer)
    server.route("/api/query", Reply(status=400, body=layer.error))
    source = feed_source(tmp_path, server, api_url=server.url("/api/query"), queries=["bad"])
    with pytest.raises(SourceError, match="arXiv API error"):
        run(source)


@pytest.mark.parametrize("layer", LAYERS)
def test_keeps_the_source_contract(layer: Layer, tmp_path: Path, server: FixtureServer) -> None:
    _feed_route(server, layer)
    _api_route(server, layer.page_0)
    source = feed_source(tmp_path, server, api_url=server.url("/api/query"), queries=[layer.query])
    papers = check_source(source, context=make_context(now=WEDNESDAY))
    assert len(papers) == layer.default + 10


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


@pytest.mark.parametrize("layer", LAYERS)
def test_a_broken_feed_does_not_advance_the_conditional_get_state(
    layer: Layer, tmp_path: Path, server: FixtureServer
) -> None:
    from digest.pipeline import RunOptions
    from digest.plugins import PluginHost
    from helpers import build_pipeline

    broken = {"now": False}
    whole = data(layer.rss)

    def feed(request: Request) -> Reply:
        if broken["now"]:  # a new ETag, and a body cut off mid-item
            return Reply(body=whole[: len(whole) // 2], headers={**RSS_TYPE, "ETag": '"day-2"'})
        if request.headers.get("if-none-match") == '"day-1"':
            return Reply(status=304, headers={"ETag": '"day-1"'})
        return Reply(body=layer.rss, headers={**RSS_TYPE, "ETag": '"day-1"'})

    server.route("/feeds/rss/cs.LG", feed)
    config = tmp_path / "config.toml"
    config.write_text(PIPELINE_CONFIG.format(rss_url=server.url("/feeds")), "utf-8")
    installed = "arxiv" in PluginHost().components("sources")
    pipeline = build_pipeline(config) if installed else build_pipeline(config, digest_arxiv)
    options = RunOptions(now=WEDNESDAY)

    first = pipeline.run(options)
    (report,) = first.sources
    assert (report.collected, report.new, report.error) == (layer.default, layer.default, None)

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
