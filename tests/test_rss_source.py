"""The ``rss`` source: any RSS 2.0 / RSS 1.0 / Atom document, over a real local HTTP server.

It runs on the project's own fixtures (``tests/fixtures/feeds`` for journals,
``tests/fixtures/arxiv_rss`` for arXiv's feeds read generically) and, as an extra layer, on the
recorded arXiv captures in ``../shared/fixtures`` when that checkout is present (parametrised
``recorded``; skipped with the reason otherwise).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import pytest

from digest import SourceError, canonical_id
from digest.models import Paper
from digest.testing import check_source, make_context, make_runtime
from digest_rss import RssSource, html_to_text, parse_feed, register_sources, split_authors
from httpserver import FixtureServer, Reply, fixture_bytes, needs_recorded

NOW = dt.datetime(2025, 6, 11, 12, tzinfo=dt.UTC)
XML = {"Content-Type": "application/xml"}

# Journal feeds (own fixtures, invented articles; DOIs under the 10.5555 test prefix).
JOURNAL_RSS2 = "/feeds/journal_rss2.xml"  # RSS 2.0: dc:identifier, prism:doi, content:encoded
# A journal's RSS 1.0 (RDF) feed, the way Nature and others publish: DOIs in prism:doi and
# dc:identifier, one dc:creator per author, HTML in the description, dates in dc:date.
JOURNAL_RDF = "/feeds/journal.rdf"
# An Atom feed whose only identifiers are DOI links (with a tracking query) and a doi.org link.
JOURNAL_ATOM = "/feeds/journal.atom"
# arXiv's legacy RSS 1.0 export (export.arxiv.org/rss/<cat>, before rss.arxiv.org).
LEGACY_RDF = "/arxiv_rss/cs.LG_legacy_export.rdf.xml"


@dataclass(frozen=True)
class ArxivDay:
    """arXiv's daily listing of 2025-06-11 in RSS and Atom, and what the tests rely on."""

    rss: str
    atom: str
    saturday: str
    papers: int  # distinct papers (one cross-list is listed twice)
    versions: dict[str, int]  # the papers whose guid carries a version above 1
    first: str
    first_title: str
    first_categories: tuple[str, ...]
    first_authors: tuple[str, ...]  # the first two
    first_author_count: int
    first_abstract: str  # how it starts
    arxiv_doi: str  # the item carrying arXiv's own DOI (10.48550/arXiv.…)


OWN = ArxivDay(
    rss="/arxiv_rss/cs.LG_2025-06-11.rss.xml",
    atom="/arxiv_rss/cs.LG_2025-06-11.atom.xml",
    saturday="/arxiv_rss/cs.LG_2025-06-14_saturday.rss.xml",
    papers=12,
    versions={"2411.90733": 2, "2503.90288": 3, "2505.90611": 2},
    first="2506.90017",
    first_title="Sparse Mixture-of-Experts Routing with Learned Temperature Schedules",
    first_categories=("cs.LG", "cs.AI"),
    first_authors=("Maren Ødegaard", "Julien Fabre"),
    first_author_count=3,
    first_abstract="Routing in sparse mixture-of-experts layers is usually trained",
    arxiv_doi="2505.90611",
)

RECORDED = ArxivDay(
    rss="/arxiv_rss/rss_cs.LG_2025-06-11.xml",
    atom="/arxiv_rss/atom_cs.LG_2025-06-11.xml",
    saturday="/arxiv_rss/rss_cs.LG_empty_saturday.xml",
    papers=39,
    versions={"2506.08433": 2, "2506.08920": 2},
    first="2506.08043",
    first_title="Neural-Augmented Kelvinlet",
    first_categories=("cs.GR", "cs.CV", "cs.LG", "cs.RO"),
    first_authors=("Ashkan Shahbazi", "Kyvia Pereira"),
    first_author_count=15,
    first_abstract="Fast and accurate simulation of soft tissue",
    arxiv_doi="2506.08920",
)

DAYS = [
    pytest.param(OWN, id="own"),
    pytest.param(RECORDED, id="recorded", marks=needs_recorded),
]
# (day, "rss" | "atom") pairs
DOCUMENTS = [
    pytest.param(day.values[0], kind, id=f"{day.id}-{kind}", marks=day.marks)
    for day in DAYS
    for kind in ("rss", "atom")
]


def path_of(day: ArxivDay, kind: str) -> str:
    return day.rss if kind == "rss" else day.atom


def read(path: str) -> bytes:
    return fixture_bytes(path)


# No guid, no DOI, no arXiv id anywhere: identified by title + first author.
NO_ID = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>Lab news</title><link>https://lab.example.org/</link>
<item><title>Our new preprint on widgets</title><link>https://lab.example.org/posts/widgets</link>
<author>ada@example.org (Ada Lovelace)</author>
<pubDate>Tue, 10 Jun 2025 10:00:00 GMT</pubDate></item>
</channel></rss>
"""

EMPTY_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Nothing yet</title><id>urn:x</id>
<updated>2025-06-11T00:00:00Z</updated></feed>
"""


def rss(items: str, *, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return f'{declaration}<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'


def item(title: str, n: int) -> str:
    return f"<item><title>{title}</title><link>https://example.org/{n}</link></item>"


def source(tmp_path: Path, url: str, **config: object) -> RssSource:
    return RssSource(
        RssSource.Config(url=url, **config),
        instance="journal",
        runtime=make_runtime(tmp_path),
    )


def collect(src: RssSource, state: dict[str, str] | None = None) -> list[Paper]:
    return list(src.collect(make_context(now=NOW, state=state)))


def serve(server: FixtureServer, path: str, body: str | bytes, **headers: str) -> str:
    data = body.encode("utf-8") if isinstance(body, str) else body
    server.route(path, Reply(body=data, headers=headers or XML))
    return server.url(path)


def test_registers_the_source() -> None:
    assert register_sources() == [RssSource]
    assert RssSource.name == "rss" and RssSource.aliases == ("feed",)


# -- identity --------------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "kind"), DOCUMENTS)
def test_arxiv_feeds_read_generically_give_the_arxiv_sources_ids(
    day: ArxivDay, kind: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    path = path_of(day, kind)
    papers = collect(source(tmp_path, fixture_server.url(path)))
    # Every item once: the feed lists one cross-list twice.
    assert len(papers) == day.papers
    assert all(p.id.kind == "arxiv" for p in papers)
    # The guid's version is kept as the version (replacements are v2, v3), never in the id.
    assert {p.id.value: p.version for p in papers if p.version != 1} == day.versions
    arxiv_rss = pytest.importorskip("digest_arxiv.rss")
    listing = arxiv_rss.parse_listing(read(path), url=path, source="arxiv")
    assert {p.id for p in papers} == {p.id for p in listing.papers}
    assert {p.id: p.version for p in papers} == {p.id: p.version for p in listing.papers}

    first = papers[0]
    assert str(first.id) == f"arxiv:{day.first}"
    assert first.title.startswith(day.first_title)
    assert first.url == f"https://arxiv.org/abs/{day.first}"
    assert first.categories == day.first_categories
    assert tuple(a.name for a in first.authors)[:2] == day.first_authors
    assert len(first.authors) == day.first_author_count  # one dc:creator string, split
    assert first.published == dt.datetime(2025, 6, 11, 4, tzinfo=dt.UTC)
    # arXiv's "arXiv:<id> Announce Type: … Abstract:" header is not part of the abstract.
    assert first.abstract.startswith(day.first_abstract)
    assert first.sources == ("journal",)
    assert first.signals["feed.name"] == "cs.LG updates on arXiv.org"
    # The item carrying arXiv's own DOI (10.48550/arXiv.…) is the arXiv paper, not a DOI work.
    doi_item = next(p for p in papers if p.id.value == day.arxiv_doi)
    assert doi_item.doi is None


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_own_arxiv_feed_read_generically_exactly(
    kind: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    papers = {
        p.id.value: p for p in collect(source(tmp_path, fixture_server.url(path_of(OWN, kind))))
    }
    # Split from one dc:creator string each: "A, B and C", "X, Jr.", an affiliation in brackets.
    assert [a.name for a in papers["2506.90023"].authors] == [
        "Tobiah Okonkwo-Reyes",
        "Liesl Vandermeer",
        "Arnav Sethi",
    ]
    assert [a.name for a in papers["2506.90101"].authors] == [
        "Wen-Jie Tsai",
        "Carolina Ibáñez Rojas",
        "Paul Lemaire, Jr.",
        "Nadia Haddad",
    ]
    assert [a.name for a in papers["2506.90058"].authors] == ["Zoë Ashworth-Müller"]
    # The wrapped title is one line; the escaped "<" and "&" are text.
    assert papers["2506.90412"].title == (
        "Tactile Diffusion Policies for Contact-Rich Peg-in-Hole Assembly"
    )
    assert "For rank $r < 8$" in papers["2506.90058"].abstract
    assert "vision & language" in papers["2506.90058"].abstract
    # A journal's DOI on an arXiv item is kept as the DOI; the id stays the arXiv id.
    grid = papers["2503.90288"]
    assert (str(grid.id), grid.version, grid.doi) == (
        "arxiv:2503.90288",
        3,
        "10.5555/jeps.2025.90288",
    )
    assert grid.categories == ("eess.SY", "cs.LG", "cs.SY")
    replaced = papers["2411.90733"]
    assert (replaced.version, replaced.url) == (2, "https://arxiv.org/abs/2411.90733")


def test_journal_rss2_feed_with_dc_identifier_and_prism_doi(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    parsed = parse_feed(read(JOURNAL_RSS2), url=fixture_server.url(JOURNAL_RSS2), source="journal")
    assert parsed.version == "rss20"
    assert parsed.title == "Example Letters in Machine Learning: Latest Articles"
    assert (parsed.untitled, parsed.duplicates, parsed.beyond_limit) == (1, 1, 0)
    papers = collect(source(tmp_path, fixture_server.url(JOURNAL_RSS2)))
    assert len(papers) == 5
    assert [str(p.id) for p in papers[:4]] == [
        "doi:10.5555/eljml.2025.0417",  # prism:doi (dc:identifier "doi:…" agrees)
        "doi:10.5555/eljml.2025.0422",  # dc:identifier as a doi.org URL
        "doi:10.5555/eljml.2025.0398",  # only in the link, with a tracking query
        "arxiv:2506.90455",  # a link to the arXiv preprint: the arXiv paper
    ]
    routing, benchmark, errata, preprint = papers[:4]
    assert routing.doi == "10.5555/eljml.2025.0417"
    assert routing.title == "Entropy-Regularised Routing for Mixture-of-Experts Models"
    # content:encoded (the abstract) is longer than the teaser in the description.
    assert routing.abstract == (
        "Routers of sparse mixture-of-experts models collapse onto few experts. We add an "
        "entropy regulariser to the routing distribution, prove that it bounds the load "
        "imbalance, and show on two translation tasks that it matches auxiliary-loss "
        "balancing at k = 2."
    )
    assert [a.name for a in routing.authors] == ["Solveig Arntzen", "Babajide Olatunji"]
    assert routing.categories == ("Mixture of experts", "Regularisation")
    assert routing.published == dt.datetime(2025, 6, 10, 12, 30, tzinfo=dt.UTC)
    assert routing.updated is None
    assert routing.url == (
        "https://eljml.example.org/articles/10.5555/eljml.2025.0417?utm_source=rss&utm_medium=feed"
    )
    assert routing.signals["feed.name"] == "Example Letters in Machine Learning: Latest Articles"
    # "editor@… (A, B and C)": the names, not the address.
    assert [a.name for a in benchmark.authors] == [
        "Dagny Rasmussen",
        "Kwabena Owusu",
        "Ilaria Fontana",
    ]
    assert benchmark.abstract == (
        "Forty tabular datasets with injected drift and anomaly labels; <5% of rows are anomalous."
    )
    assert errata.doi == "10.5555/eljml.2025.0398"
    assert errata.url == "https://eljml.example.org/doi/10.5555/ELJML.2025.0398?af=R"
    assert (preprint.version, preprint.doi) == (2, None)
    assert preprint.url == "https://arxiv.org/abs/2506.90455v2"
    assert [a.name for a in preprint.authors] == ["Nguyễn Thị Hạnh", "Ravi Chandrasekaran"]
    assert papers[4].title == "Sparse Probing of Vision Transformers"


def test_a_doi_in_the_first_of_two_dc_identifiers_is_kept() -> None:
    papers = parse_feed(read(JOURNAL_RSS2), url="https://eljml.example.org/rss").papers
    probing = next(p for p in papers if p.title == "Sparse Probing of Vision Transformers")
    assert str(probing.id) == "doi:10.5555/eljml.2025.0430"


def test_rss_1_0_journal_feed_gives_doi_ids(fixture_server: FixtureServer, tmp_path: Path) -> None:
    url = fixture_server.url(JOURNAL_RDF)
    papers = collect(source(tmp_path, url, name="Journal of Examples"))
    assert [str(p.id) for p in papers] == [
        "doi:10.5555/jex-2025-00001",
        "doi:10.5555/jex-2025-00002",
    ]
    first = papers[0]
    assert first.doi == "10.5555/jex-2025-00001"
    assert first.title == "Quantum widgets at room temperature"
    assert first.abstract == "We show that widgets work. H2O & more."
    assert [a.name for a in first.authors] == ["Ada Lovelace", "Alan Turing"]
    assert first.categories == ("Physics",)
    assert first.updated == dt.datetime(2025, 6, 10, 9, 30, tzinfo=dt.UTC)
    assert first.url == "https://journal.example.org/articles/jex-2025-00001"
    assert first.signals["feed.name"] == "Journal of Examples"
    assert papers[1].doi == "10.5555/jex-2025-00002"
    (request,) = fixture_server.hits(JOURNAL_RDF)
    assert "application/rdf+xml" in request.headers["accept"]


def test_atom_feed_with_dois_in_links(fixture_server: FixtureServer, tmp_path: Path) -> None:
    first, second = collect(source(tmp_path, fixture_server.url(JOURNAL_ATOM)))
    # The tracking query (?af=R) is not part of the DOI.
    assert str(first.id) == "doi:10.5555/jacs.5c01234"
    assert first.title == "Synthesis of N-heterocycles"
    assert first.abstract == "The full abstract of the paper, longer than the teaser."
    assert first.pdf_url == "https://pubs.example.org/doi/pdf/10.5555/jacs.5c01234"
    assert first.url == "https://pubs.example.org/doi/10.5555/jacs.5c01234?af=R"
    assert first.published == dt.datetime(2025, 6, 10, 10, tzinfo=dt.UTC)
    assert first.updated == dt.datetime(2025, 6, 11, 8, tzinfo=dt.UTC)
    assert first.categories == ("Organic chemistry",)
    assert [a.name for a in first.authors] == ["Marie Curie", "Pierre Curie"]
    assert str(second.id) == "doi:10.5555/acs.orglett.5b00002"
    assert second.url == "https://pubs.example.org/article/2"


def test_arxiv_legacy_rdf_export_gives_arxiv_ids(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    papers = collect(source(tmp_path, fixture_server.url(LEGACY_RDF)))
    assert [str(p.id) for p in papers] == [
        "arxiv:2311.90204",
        "arxiv:2311.90317",
        "arxiv:2310.90876",
        "arxiv:2311.90555",
        "arxiv:2309.90111",
    ]
    first = papers[0]
    # The title loses its ". (arXiv:<id>v<N> [cat] …)" suffix; the version comes from it.
    assert first.title == "Spectral Pruning of Recurrent State-Space Models"
    assert [p.version for p in papers] == [1, 1, 2, 1, 3]
    assert first.categories == ()
    assert first.url == "http://arxiv.org/abs/2311.90204"
    # The HTML description becomes text.
    assert first.abstract == (
        "State-space models are pruned channel by channel. We prune in the spectral domain "
        "instead and keep the poles that dominate the impulse response, halving the state "
        "size at equal perplexity."
    )
    assert first.signals["feed.name"] == "cs.LG updates on arXiv.org"
    assert [len(p.authors) for p in papers] == [2, 1, 3, 3, 1]


def test_arxiv_legacy_rdf_export_author_names_are_text() -> None:
    papers = parse_feed(read(LEGACY_RDF), url="https://export.arxiv.org/rss/cs.LG").papers
    assert [[a.name for a in p.authors] for p in papers] == [
        ["Eirik Halvorsen", "Chidinma Amadi"],
        ["Oksana Koval"],
        ["Marta Ferreira", "Yuki Nakamura", "Daniel Weiss"],
        ["ZEPHYR Collaboration", "A. Okafor", "L. Brandt"],  # not "et al. (909 …)"
        ["Sofia Lindqvist"],
    ]


def test_an_item_without_any_id_gets_a_fingerprint(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    url = serve(fixture_server, "/news.xml", NO_ID)
    (paper,) = collect(source(tmp_path, url))
    expected, _ = canonical_id(title="Our new preprint on widgets", first_author="Ada Lovelace")
    assert paper.id == expected and paper.id.kind == "fp"
    assert [a.name for a in paper.authors] == ["Ada Lovelace"]  # not the e-mail address
    assert paper.url == "https://lab.example.org/posts/widgets"
    assert paper.published == dt.datetime(2025, 6, 10, 10, tzinfo=dt.UTC)
    assert paper.updated is None


def test_relative_links_resolve_against_the_feed_url() -> None:
    body = rss("<item><title>T</title><link>/doi/10.5555/rel.1?x=1</link></item>").encode()
    (paper,) = parse_feed(body, url="https://pubs.example.org/feeds/latest.xml").papers
    assert paper.url == "https://pubs.example.org/doi/10.5555/rel.1?x=1"
    assert str(paper.id) == "doi:10.5555/rel.1"


def test_unsafe_links_are_not_kept_as_urls() -> None:
    body = rss("<item><title>T</title><link>javascript:alert(1)</link></item>").encode()
    (paper,) = parse_feed(body, url="https://x.example.org/feed").papers
    assert paper.url is None


def test_items_without_title_are_skipped_and_max_items_is_honoured() -> None:
    items = "<item><link>https://example.org/untitled</link></item>" + "".join(
        item(f"Paper {n}", n) for n in range(10)
    )
    parsed = parse_feed(rss(items).encode(), url="https://x.example.org/feed", max_items=5)
    assert [p.title for p in parsed.papers] == [f"Paper {n}" for n in range(4)]
    assert parsed.untitled == 1 and parsed.beyond_limit == 6


def test_max_items_on_a_journal_feed(fixture_server: FixtureServer, tmp_path: Path) -> None:
    papers = collect(source(tmp_path, fixture_server.url(JOURNAL_RSS2), max_items=2))
    assert [str(p.id) for p in papers] == [
        "doi:10.5555/eljml.2025.0417",
        "doi:10.5555/eljml.2025.0422",
    ]


# -- health ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<!DOCTYPE html><html><head><title>Login</title></head><body>x</body></html>", "HTML"),
        (b"", "empty response"),
        (b'{"items": []}', "not well-formed"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "no RSS"),
    ],
)
def test_documents_that_are_not_feeds_are_errors(
    body: bytes, why: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    url = serve(fixture_server, "/feed", body, **{"Content-Type": "text/html"})
    with pytest.raises(SourceError, match=why) as error:
        collect(source(tmp_path, url))
    message = str(error.value)
    assert message.startswith(f"{url}: not an RSS/Atom feed") and "\n" not in message


def _truncatable() -> list[Any]:
    own = [JOURNAL_RSS2, JOURNAL_RDF, JOURNAL_ATOM, OWN.rss, OWN.atom]
    return [pytest.param(p, id=p) for p in own] + [
        pytest.param(p, id=p, marks=needs_recorded) for p in (RECORDED.rss, RECORDED.atom)
    ]


@pytest.mark.parametrize("path", _truncatable())
def test_a_cut_off_document_gives_its_complete_items_and_is_fetched_whole_next_time(
    path: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    whole = read(path)
    # Cut inside the last item, as a dropped connection does.
    cut = max(whole.rfind(b"</item>"), whole.rfind(b"</entry>")) - 40
    url = serve(fixture_server, "/cut.xml", whole[:cut])
    context = make_context(now=NOW)
    papers = list(source(tmp_path, url).collect(context))
    # The items before the cut, exactly as the whole document gives them; not the one cut.
    expected = parse_feed(whole, url=url).papers[: len(papers)]
    assert papers and [(p.id, p.title, p.abstract) for p in papers] == [
        (p.id, p.title, p.abstract) for p in expected
    ]
    assert len(papers) < len(parse_feed(whole, url=url).papers)
    (warning,) = context.warnings
    assert warning.startswith(f"{url}: ill-formed XML read leniently: the document is cut off")
    assert re.search(r"\(.+ at line \d+\); read the \d+ complete items$", warning), warning
    # No validators kept: the next run is not answered "304 Not Modified" for the rest.
    assert not any(v for k, v in context.pending_state.items() if k.startswith("http."))


def test_html_entities_are_tolerated_when_the_document_is_complete() -> None:
    # &nbsp; and &eacute; are not XML entities; hand-made feeds use them all the time.
    body = rss(item("Caf&eacute;&nbsp;science", 1) + item("Second", 2)).encode()
    parsed = parse_feed(body, url="https://x.example.org/feed")
    assert [p.title for p in parsed.papers] == ["Café science", "Second"]


def test_html_entities_in_a_whole_arxiv_listing_are_tolerated() -> None:
    content = read(OWN.rss).replace(
        b"Mixture-of-Experts Routing", b"Mixture-of-Experts&nbsp;Routing", 1
    )
    parsed = parse_feed(content, url="https://rss.arxiv.org/rss/cs.LG")
    assert len(parsed.papers) == OWN.papers and parsed.duplicates == 1
    assert parsed.papers[0].title == OWN.first_title


def test_html_entities_do_not_hide_a_truncated_document() -> None:
    # feedparser reports only the first error (the entity); the cut must still be noticed.
    body = rss(item("A&nbsp;B", 1) + item("C", 2) + item("D", 3)).encode()[:-60]
    parsed = parse_feed(body, url="https://x.example.org/feed")
    assert [p.title for p in parsed.papers] == ["A B", "C"] and parsed.partial
    assert "cut off" in parsed.warnings[-1]


def test_an_undeclared_namespace_prefix_is_tolerated() -> None:
    body = rss("<item><title>A</title><media:thumbnail url='x'/></item>" + item("B", 2)).encode()
    assert [p.title for p in parse_feed(body, url="u").papers] == ["A", "B"]


def test_a_bare_ampersand_is_read_as_one_and_reported() -> None:
    body = rss(item("AT&T results", 1) + item("R&D &amp; more", 2)).encode()
    parsed = parse_feed(body, url="u")
    assert [p.title for p in parsed.papers] == ["AT&T results", "R&D & more"]
    assert parsed.warnings == ("ill-formed XML read leniently: 2 unescaped “&”s",)
    assert not parsed.partial


def test_damage_in_the_middle_is_still_an_error() -> None:
    # Not a cut and nothing a lenient reader could be sure of: refused, naming the place.
    body = rss(item("A", 1) + "<item><title>B</titel></item>" + item("C", 3)).encode()
    with pytest.raises(SourceError, match=r"u: ill-formed XML \(mismatched tag at line"):
        parse_feed(body, url="u")


@pytest.mark.parametrize(
    ("declaration", "encoding"),
    [
        ('<?xml version="1.0" encoding="us-ascii"?>', "utf-8"),  # UTF-8 declared as ASCII
        ('<?xml version="1.0" encoding="utf-8"?>', "latin-1"),  # Latin-1 declared as UTF-8
    ],
)
def test_a_wrong_declared_encoding_still_reads_right(
    declaration: str, encoding: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    # feedparser notices the declaration is wrong (CharacterEncodingOverride, bozo) and
    # re-decodes; the entries are complete and the titles come out right.
    body = rss(item("Über naïve Straße", 1) + item("Ørsted façade", 2), declaration=declaration)
    url = serve(fixture_server, "/enc.xml", body.encode(encoding))
    papers = collect(source(tmp_path, url))
    assert [p.title for p in papers] == ["Über naïve Straße", "Ørsted façade"]


def test_an_arxiv_listing_with_utf8_declared_latin1_reads_right() -> None:
    content = read(OWN.rss).replace(b"encoding='UTF-8'", b"encoding='ISO-8859-1'", 1)
    papers = {p.id.value: p for p in parse_feed(content, url="u").papers}
    assert papers["2506.90017"].authors[0].name == "Maren Ødegaard"
    assert papers["2506.90455"].authors[0].name == "Nguyễn Thị Hạnh"


def _empty_feeds() -> list[Any]:
    own = [OWN.saturday, "/arxiv_rss/cs.LG_2025-06-14_saturday.atom.xml", "atom"]
    return [pytest.param(d, id=d) for d in own] + [
        pytest.param(RECORDED.saturday, id=RECORDED.saturday, marks=needs_recorded)
    ]


@pytest.mark.parametrize("document", _empty_feeds())
def test_a_feed_without_items_is_an_empty_result(
    document: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    if document == "atom":
        url = serve(fixture_server, "/empty.atom", EMPTY_ATOM)
    else:
        url = fixture_server.url(document)
    assert collect(source(tmp_path, url)) == []


@pytest.mark.parametrize(
    "path", [JOURNAL_RSS2, OWN.rss, pytest.param(RECORDED.rss, marks=needs_recorded)]
)
def test_second_run_gets_304_and_collects_nothing(
    path: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    src = source(tmp_path, fixture_server.url(path))
    first = make_context(now=NOW)
    expected = {JOURNAL_RSS2: 5, OWN.rss: OWN.papers, RECORDED.rss: RECORDED.papers}[path]
    assert len(list(src.collect(first))) == expected
    second = make_context(now=NOW, state=first.pending_state)
    assert list(src.collect(second)) == []
    assert fixture_server.hits(path)[-1].headers["if-none-match"]


def test_a_body_naming_a_local_file_is_never_read(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    # Given bytes, feedparser.parse first tries them as a file name: a hostile server could
    # answer with the path of a local feed (another subscriber's private feed, say).
    secret = tmp_path / "private.xml"
    secret.write_text(rss(item("Someone else's private item", 1)), "utf-8")
    url = serve(fixture_server, "/path.xml", str(secret).encode())
    with pytest.raises(SourceError, match="not an RSS/Atom feed"):
        collect(source(tmp_path, url))


def test_http_errors_name_the_url(fixture_server: FixtureServer, tmp_path: Path) -> None:
    url = fixture_server.url("/arxiv_rss/missing.xml")
    with pytest.raises(SourceError, match="HTTP 404") as error:
        collect(source(tmp_path, url))
    assert url in str(error.value)


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"url": "ftp://example.org/feed"},
        {"url": "https://x", "max_items": 0},
        {"url": "https://x", "tags": 1},
    ],
)
def test_bad_config_is_rejected_before_any_request(config: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        RssSource.Config(**config)


@pytest.mark.parametrize("day", DAYS)
def test_keeps_the_source_contract(
    day: ArxivDay, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    for path in (day.rss, JOURNAL_RDF, JOURNAL_RSS2, JOURNAL_ATOM, LEGACY_RDF):
        assert check_source(
            source(tmp_path, fixture_server.url(path)), context=make_context(now=NOW)
        )


# -- text helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("combined", "names"),
    [
        (
            "Ada Lovelace, Alan Turing and Grace Hopper",
            ["Ada Lovelace", "Alan Turing", "Grace Hopper"],
        ),
        (
            "Ada Lovelace, Alan Turing, and Grace Hopper",
            ["Ada Lovelace", "Alan Turing", "Grace Hopper"],
        ),
        ("Ada Lovelace & Alan Turing", ["Ada Lovelace", "Alan Turing"]),
        ("Lovelace, Ada", ["Ada Lovelace"]),
        ("van der Berg, Jan", ["Jan van der Berg"]),
        ("Lovelace, Ada and Turing, Alan", ["Ada Lovelace", "Alan Turing"]),
        ("Lovelace, A.; Turing, A. M.", ["A. Lovelace", "A. M. Turing"]),
        ("Martin Luther King, Jr., Ada Lovelace", ["Martin Luther King, Jr.", "Ada Lovelace"]),
        ("Ada Lovelace, Alan Turing, et al.", ["Ada Lovelace", "Alan Turing"]),
        ("Sandy Anderson", ["Sandy Anderson"]),
        ("Mausam, Dan Weld, Ada Lovelace", ["Mausam", "Dan Weld", "Ada Lovelace"]),
    ],
)
def test_split_authors(combined: str, names: list[str]) -> None:
    assert split_authors(combined) == names


def test_several_author_elements_are_never_split() -> None:
    body = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <id>urn:t</id><updated>2025-01-01T00:00:00Z</updated><entry><id>urn:e</id><title>T</title>
    <updated>2025-01-01T00:00:00Z</updated><author><name>Lovelace, Ada</name></author>
    <author><name>Turing, Alan</name></author></entry></feed>"""
    (paper,) = parse_feed(body, url="u").papers
    assert [a.name for a in paper.authors] == ["Ada Lovelace", "Alan Turing"]


@pytest.mark.parametrize(
    ("fragment", "text"),
    [
        ("<p>One.</p><p>Two.</p>", "One. Two."),
        ("H<sub>2</sub>O and CO<sub>2</sub>", "H2O and CO2"),
        ("a<br>b<br/>c", "a b c"),
        ("x <script>alert(1)</script>y <style>p{}</style>z", "x y z"),
        ("&lt;not a tag&gt; &amp; &eacute;&nbsp;!", "<not a tag> & é !"),
        ('<a href="x>y">link</a> <!-- hidden --> <b>unclosed', "link unclosed"),
        (
            '<math><semantics><mi>α</mi><annotation encoding="application/x-tex">\\alpha'
            "</annotation></semantics></math>-divergence",
            "α-divergence",
        ),
        ("plain text, no markup", "plain text, no markup"),
    ],
)
def test_html_to_text(fragment: str, text: str) -> None:
    assert html_to_text(fragment) == text
