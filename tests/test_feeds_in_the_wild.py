"""Feed shapes real publishers, preprint servers and lab blogs serve, which a strict reading
gets wrong: the classes of failure found when the sources were checked against real
documents, each on a hand-written fixture in ``tests/fixtures/feeds`` (invented papers).

The legacy arXiv RSS 1.0 export is covered in ``test_arxiv.py`` (the ``arxiv`` source) and
``test_rss_source.py`` (the generic source); the DOI merge of an arXiv paper and its journal
version in ``test_paper_links.py``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from digest.testing import make_context, make_runtime
from digest_rss import RssSource, parse_feed
from httpserver import FixtureServer, fixture_bytes

NOW = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)
BLOG = "feeds/lab_blog_content_only.atom"
TOC = "feeds/toc_identifiers.rdf"
WHITESPACE = "feeds/toc_whitespace_before_declaration.xml"


def names(paper: object) -> list[str]:
    return [a.name for a in paper.authors]  # type: ignore[attr-defined]


def test_atom_content_without_a_summary_is_text_not_html() -> None:
    soft, rigid = parse_feed(fixture_bytes(BLOG), url="https://widgetlab.example.org/news").papers
    assert soft.abstract == ("We show that soft widgets bend & recover under load. Preprint: doi.")
    # With both, the longer text wins, and xhtml content is text too.
    assert rigid.abstract == "A longer text about rigid widgets and how they fail at the joints."
    assert rigid.title == "Guest post: Rigid widgets revisited"


def test_entries_without_authors_inherit_the_feeds_atom_author() -> None:
    # RFC 4287 §4.2.1: an entry without <author> has the feed's.
    soft, rigid = parse_feed(fixture_bytes(BLOG), url="https://widgetlab.example.org/news").papers
    assert names(soft) == ["Adaeze Okonkwo"]
    assert names(rigid) == ["Bjørn Halvorsen"]  # its own author, not the feed's


def test_every_dc_identifier_is_read_and_dois_win() -> None:
    papers = parse_feed(fixture_bytes(TOC), url="https://flows.example.org/rss").papers
    assert [str(p.id) for p in papers] == [
        "doi:10.5555/flows.9.120",  # info:doi/… before hwp:resource-id:…
        "doi:10.5555/flows.9.121",  # "doi: 10.5555/FLOWS.9.121 " before an ISSN
        "doi:10.5555/flows.9.122",  # prism:doi after an hwp id
        "doi:10.5555/flows.9.123",  # only in the link; the identifiers name none
    ]
    assert [p.doi for p in papers] == [p.id.value for p in papers]


def test_dc_title_beats_a_display_title() -> None:
    papers = parse_feed(fixture_bytes(TOC), url="https://flows.example.org/rss").papers
    assert [p.title for p in papers] == [
        "Vortex Shedding Behind Soft Cylinders",
        "Drag on Porous Plates & Screens",
        "Turbulent Mixing in Invented Stars",
        "Flows, Vol. 9, Pages 123: Editorial",  # no dc:title: the title as given
    ]


def test_author_lists_in_one_dc_creator() -> None:
    papers = parse_feed(fixture_bytes(TOC), url="https://flows.example.org/rss").papers
    # "Family, Initials" pairs: 13 authors, not 26 names.
    assert names(papers[0])[:4] == ["M. Kaur", "A. Shukla", "V. Shukla", "C. J. Okafor"]
    assert len(papers[0].authors) == 13
    assert names(papers[1]) == ["Ada Lovelace", "Jan van der Berg", "Martin Luther King, Jr."]
    assert names(papers[2]) == ["STARFLOW Collaboration", "R. Okafor", "T. Al-Masri"]
    assert names(papers[3]) == ["Sofía Castaño", "Tariq Al-Masri", "Rosa Lindgren"]


def test_whitespace_before_the_declaration_loses_nothing_and_is_reported(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    url = fixture_server.url(f"/{WHITESPACE}")  # served as a file, with an ETag
    source = RssSource(RssSource.Config(url=url), instance="annals", runtime=make_runtime(tmp_path))
    context = make_context(now=NOW)
    papers = list(source.collect(context))
    assert len(papers) == 12
    assert str(papers[0].id) == "doi:10.5555/annals.2026.1"
    assert names(papers[0]) == ["A. Author1", "B. Coauthor1"]
    assert context.warnings == [
        f"{url}: ill-formed XML read leniently: whitespace before the XML declaration"
    ]
    # The whole document was read: its validators are kept as for any feed.
    assert context.pending_state.get(f"http.etag {url}")
