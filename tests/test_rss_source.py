"""The ``feed`` source: any RSS 2.0 / RSS 1.0 / Atom document, over a real local HTTP server."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pydantic
import pytest

from digest import SourceError, canonical_id
from digest.models import Paper
from digest.testing import check_source, make_context, make_runtime
from digest_rss import RssSource, html_to_text, parse_feed, register_sources, split_authors
from httpserver import FIXTURES, FixtureServer, Reply, needs_fixtures

pytestmark = needs_fixtures

RSS = "/arxiv_rss/rss_cs.LG_2025-06-11.xml"
ATOM = "/arxiv_rss/atom_cs.LG_2025-06-11.xml"
SATURDAY = "/arxiv_rss/rss_cs.LG_empty_saturday.xml"
NOW = dt.datetime(2025, 6, 11, 12, tzinfo=dt.UTC)
XML = {"Content-Type": "application/xml"}

# A journal's RSS 1.0 (RDF) feed, the way Nature and others publish: DOIs in prism:doi and
# dc:identifier, one dc:creator per author, HTML in the description, dates in dc:date.
RDF = """<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
  xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:prism="http://prismstandard.org/namespaces/basic/2.0/">
<channel rdf:about="https://journal.example.org/current">
  <title>Journal of Examples</title><link>https://journal.example.org/</link><description>d</description>
  <items><rdf:Seq>
    <rdf:li rdf:resource="https://journal.example.org/articles/s41586-025-00001-1"/>
    <rdf:li rdf:resource="https://journal.example.org/articles/s41586-025-00002-2"/>
  </rdf:Seq></items>
</channel>
<item rdf:about="https://journal.example.org/articles/s41586-025-00001-1">
  <title>Quantum widgets at room temperature</title>
  <link>https://journal.example.org/articles/s41586-025-00001-1</link>
  <description>&lt;p&gt;We show that &lt;i&gt;widgets&lt;/i&gt; work.&lt;/p&gt;
    &lt;p&gt;H&lt;sub&gt;2&lt;/sub&gt;O &amp;amp; more.&lt;/p&gt;</description>
  <dc:creator>Ada Lovelace</dc:creator>
  <dc:creator>Alan Turing</dc:creator>
  <dc:subject>Physics</dc:subject>
  <dc:date>2025-06-10T09:30:00Z</dc:date>
  <dc:identifier>doi:10.1038/S41586-025-00001-1</dc:identifier>
  <prism:doi>10.1038/s41586-025-00001-1</prism:doi>
</item>
<item rdf:about="https://journal.example.org/articles/s41586-025-00002-2">
  <title>Only an identifier</title>
  <link>https://journal.example.org/articles/s41586-025-00002-2</link>
  <dc:creator>Grace Hopper</dc:creator>
  <dc:identifier>https://doi.org/10.1038/s41586-025-00002-2</dc:identifier>
</item>
</rdf:RDF>
"""

# An Atom feed whose only identifiers are DOI links (with a tracking query) and a doi.org link.
ATOM_DOIS = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Chemistry Letters: latest articles</title><id>urn:uuid:feed</id>
  <updated>2025-06-11T08:00:00Z</updated>
  <entry>
    <id>urn:uuid:1a2b</id>
    <title type="html">Synthesis of &lt;i&gt;N&lt;/i&gt;-heterocycles</title>
    <link rel="alternate" href="https://pubs.example.org/doi/10.1021/jacs.5c01234?af=R"/>
    <link rel="related" type="application/pdf" href="https://pubs.example.org/doi/pdf/10.1021/jacs.5c01234"/>
    <published>2025-06-10T12:00:00+02:00</published>
    <updated>2025-06-11T08:00:00Z</updated>
    <author><name>Marie Curie</name></author>
    <author><name>Pierre Curie</name></author>
    <category term="Organic chemistry"/>
    <summary type="html">&lt;p&gt;Short teaser.&lt;/p&gt;</summary>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">
      <p>The full abstract of the paper, longer than the teaser.</p>
    </div></content>
  </entry>
  <entry>
    <id>tag:pubs.example.org,2025:article-2</id>
    <title>A second article</title>
    <link rel="alternate" href="https://pubs.example.org/article/2"/>
    <link rel="related" href="https://doi.org/10.1021/ACS.ORGLETT.5B00002"/>
    <author><name>Rosalind Franklin</name></author>
  </entry>
</feed>
"""

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


@pytest.mark.parametrize("path", [RSS, ATOM])
def test_arxiv_feeds_read_generically_give_the_arxiv_sources_ids(
    path: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    papers = collect(source(tmp_path, fixture_server.url(path)))
    # 40 items, one of them listed twice in the recorded feed.
    assert len(papers) == 39
    assert all(p.id.kind == "arxiv" for p in papers)
    # The guid's version is kept as the version (replacements are v2), never in the id.
    assert {p.id.value for p in papers if p.version == 2} == {"2506.08433", "2506.08920"}
    assert all(p.version == 1 for p in papers if p.id.value not in ("2506.08433", "2506.08920"))
    arxiv_rss = pytest.importorskip("digest_arxiv.rss")
    listing = arxiv_rss.parse_listing(
        (FIXTURES / path.lstrip("/")).read_bytes(), url=path, source="arxiv"
    )
    assert {p.id for p in papers} == {p.id for p in listing.papers}

    first = papers[0]
    assert str(first.id) == "arxiv:2506.08043"
    assert first.title.startswith("Neural-Augmented Kelvinlet")
    assert first.url == "https://arxiv.org/abs/2506.08043"
    assert first.categories == ("cs.GR", "cs.CV", "cs.LG", "cs.RO")
    assert [a.name for a in first.authors][:2] == ["Ashkan Shahbazi", "Kyvia Pereira"]
    assert len(first.authors) == 15  # one dc:creator string, split
    assert first.published == dt.datetime(2025, 6, 11, 4, tzinfo=dt.UTC)
    # arXiv's "arXiv:<id> Announce Type: … Abstract:" header is not part of the abstract.
    assert first.abstract.startswith("Fast and accurate simulation of soft tissue")
    assert first.sources == ("journal",)
    assert first.signals["feed.name"] == "cs.LG updates on arXiv.org"
    # The item carrying arXiv's own DOI (10.48550/arXiv.…) is the arXiv paper, not a DOI work.
    doi_item = next(p for p in papers if p.id.value == "2506.08920")
    assert doi_item.doi is None


def test_rss_1_0_journal_feed_gives_doi_ids(fixture_server: FixtureServer, tmp_path: Path) -> None:
    url = serve(fixture_server, "/journal.rdf", RDF, **{"Content-Type": "application/rdf+xml"})
    papers = collect(source(tmp_path, url, name="Journal of Examples"))
    assert [str(p.id) for p in papers] == [
        "doi:10.1038/s41586-025-00001-1",
        "doi:10.1038/s41586-025-00002-2",
    ]
    first = papers[0]
    assert first.doi == "10.1038/s41586-025-00001-1"
    assert first.title == "Quantum widgets at room temperature"
    assert first.abstract == "We show that widgets work. H2O & more."
    assert [a.name for a in first.authors] == ["Ada Lovelace", "Alan Turing"]
    assert first.categories == ("Physics",)
    assert first.updated == dt.datetime(2025, 6, 10, 9, 30, tzinfo=dt.UTC)
    assert first.url == "https://journal.example.org/articles/s41586-025-00001-1"
    assert first.signals["feed.name"] == "Journal of Examples"
    assert papers[1].doi == "10.1038/s41586-025-00002-2"


def test_atom_feed_with_dois_in_links(fixture_server: FixtureServer, tmp_path: Path) -> None:
    url = serve(fixture_server, "/chem.atom", ATOM_DOIS, **{"Content-Type": "application/atom+xml"})
    first, second = collect(source(tmp_path, url))
    # The tracking query (?af=R) is not part of the DOI.
    assert str(first.id) == "doi:10.1021/jacs.5c01234"
    assert first.title == "Synthesis of N-heterocycles"
    assert first.abstract == "The full abstract of the paper, longer than the teaser."
    assert first.pdf_url == "https://pubs.example.org/doi/pdf/10.1021/jacs.5c01234"
    assert first.url == "https://pubs.example.org/doi/10.1021/jacs.5c01234?af=R"
    assert first.published == dt.datetime(2025, 6, 10, 10, tzinfo=dt.UTC)
    assert first.updated == dt.datetime(2025, 6, 11, 8, tzinfo=dt.UTC)
    assert first.categories == ("Organic chemistry",)
    assert [a.name for a in first.authors] == ["Marie Curie", "Pierre Curie"]
    assert str(second.id) == "doi:10.1021/acs.orglett.5b00002"
    assert second.url == "https://pubs.example.org/article/2"


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


@pytest.mark.parametrize("path", [RSS, ATOM])
def test_truncated_xml_is_an_error_not_a_partial_success(
    path: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    whole = (FIXTURES / path.lstrip("/")).read_bytes()
    url = serve(fixture_server, "/cut.xml", whole[: len(whole) // 2])
    context = make_context(now=NOW)
    with pytest.raises(SourceError, match="ill-formed XML") as error:
        list(source(tmp_path, url).collect(context))
    assert "no element found" in str(error.value) or "unclosed token" in str(error.value)


def test_html_entities_are_tolerated_when_the_document_is_complete() -> None:
    # &nbsp; and &eacute; are not XML entities; hand-made feeds use them all the time.
    body = rss(item("Caf&eacute;&nbsp;science", 1) + item("Second", 2)).encode()
    parsed = parse_feed(body, url="https://x.example.org/feed")
    assert [p.title for p in parsed.papers] == ["Café science", "Second"]


def test_html_entities_do_not_hide_a_truncated_document() -> None:
    # feedparser reports only the first error (the entity); the cut must still be noticed.
    body = rss(item("A&nbsp;B", 1) + item("C", 2) + item("D", 3)).encode()[:-60]
    with pytest.raises(SourceError, match=r"ill-formed XML \((unclosed token|no element found)"):
        parse_feed(body, url="https://x.example.org/feed")


def test_an_undeclared_namespace_prefix_is_tolerated() -> None:
    body = rss("<item><title>A</title><media:thumbnail url='x'/></item>" + item("B", 2)).encode()
    assert [p.title for p in parse_feed(body, url="u").papers] == ["A", "B"]


def test_a_bare_ampersand_is_an_error() -> None:
    # Not well-formed in a way expat cannot step over: refused rather than guessed at.
    body = rss(item("AT&T results", 1)).encode()
    with pytest.raises(SourceError, match="not well-formed"):
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


@pytest.mark.parametrize("document", ["saturday", "atom"])
def test_a_feed_without_items_is_an_empty_result(
    document: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    if document == "saturday":
        url = fixture_server.url(SATURDAY)
    else:
        url = serve(fixture_server, "/empty.atom", EMPTY_ATOM)
    assert collect(source(tmp_path, url)) == []


def test_second_run_gets_304_and_collects_nothing(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    src = source(tmp_path, fixture_server.url(RSS))
    first = make_context(now=NOW)
    assert len(list(src.collect(first))) == 39
    second = make_context(now=NOW, state=first.pending_state)
    assert list(src.collect(second)) == []
    assert fixture_server.hits(RSS)[-1].headers["if-none-match"]


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


def test_keeps_the_source_contract(fixture_server: FixtureServer, tmp_path: Path) -> None:
    for url in (fixture_server.url(RSS), serve(fixture_server, "/j.rdf", RDF)):
        assert check_source(source(tmp_path, url), context=make_context(now=NOW))


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
        ("Lovelace, Ada", ["Lovelace, Ada"]),
        ("van der Berg, Jan", ["van der Berg, Jan"]),
        ("Lovelace, Ada and Turing, Alan", ["Lovelace, Ada", "Turing, Alan"]),
        ("Lovelace, A.; Turing, A. M.", ["Lovelace, A.", "Turing, A. M."]),
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
    assert [a.name for a in paper.authors] == ["Lovelace, Ada", "Turing, Alan"]


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
