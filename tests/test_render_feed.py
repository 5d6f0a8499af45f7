"""The ``feed`` renderer as feed readers see it: RSS 2.0 and Atom parsed by feedparser/lxml,
JSON Feed 1.1 parsed by json."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import feedparser
import pydantic
import pytest
from lxml import etree

import digest_feed
from digest import Batch
from digest.components import Runtime, Site
from digest.models import (
    Artifact,
    Author,
    Edition,
    Links,
    Paper,
    PaperId,
    Reason,
    ScoredPaper,
    Selection,
    Subscriber,
)
from digest.rendering import make_environment
from digest.testing import HOSTILE_TITLE
from digest.testing import make_paper as make_real_paper
from digest_feed.renderer import NAMESPACE, FeedRenderer
from digest_feed.views import json_text
from helpers import ONE_SUBSCRIBER, build_pipeline, write_papers

HOSTILE = "<script>alert(1)</script> {{ 7*7 }} & $\\alpha$\r\nInjected: x\x00\x0b\x0c"
SHOWN = "<script>alert(1)</script> {{ 7*7 }} & α Injected: x"
LINKS = Links(
    unsubscribe="https://digest.example.org/u/tok123",
    unsubscribe_mailto=None,
    preferences="https://digest.example.org/prefs/tok123",
    archive="https://digest.example.org/archive/tok123",
    feed="https://digest.example.org/feeds/tok123/rss.xml",
)
NS = {"digest": NAMESPACE, "atom": "http://www.w3.org/2005/Atom"}


def edition(day: int) -> Edition:
    return Edition(id=f"2024-06-{day:02d}", created=dt.datetime(2024, 6, day, 6, 0, tzinfo=dt.UTC))


def make_runtime(tmp_path: Path) -> Runtime:
    return Runtime(
        site=Site(
            title="Papers digest",
            base_url="https://digest.example.org",
            sender="Digest <d@example.org>",
        ),
        templates=make_environment(),
        state_dir=tmp_path,
        output_dir=tmp_path,
    )


def make_renderer(tmp_path: Path, **config: object) -> FeedRenderer:
    return FeedRenderer(
        FeedRenderer.Config(**config), instance="feed", runtime=make_runtime(tmp_path)
    )


def make_paper(n: int, *, title: str | None = None, **kw: object) -> Paper:
    value = f"2406.{n:05d}"
    fields: dict[str, object] = {
        "id": PaperId(kind="arxiv", value=value),
        "title": title if title is not None else f"Paper number {n} on $\\beta$-VAEs",
        "abstract": f"Abstract of paper {n} with $x^2$ & <b>tags</b>.\x01",
        "authors": (Author(name=f"Ada {n}"), Author(name="Grace Hopper"), Author(name="Alan T")),
        "categories": ("cs.LG", "stat.ML"),
        "url": f"https://arxiv.org/abs/{value}",
        "pdf_url": f"https://arxiv.org/pdf/{value}",
    }
    fields.update(kw)
    return Paper(**fields)  # type: ignore[arg-type]


def scored(paper: Paper, score: float, *, reason: str = "matches “diffusion”") -> ScoredPaper:
    return ScoredPaper(
        paper=paper,
        score=score,
        reasons=(
            Reason(kind="keyword", text=reason, weight=0.5),
            Reason(kind="recency", text="announced today", weight=0.25),
        ),
    )


def make_selection(
    items: list[ScoredPaper],
    history: tuple[tuple[Edition, tuple[ScoredPaper, ...]], ...] = (),
    name: str = "alice",
) -> Selection:
    return Selection(
        subscriber=Subscriber(name=name, email="alice@example.org"),
        edition=edition(11),
        items=tuple(items),
        links=LINKS,
        candidates=100,
        history=history,
    )


def render(renderer: FeedRenderer, selection: Selection) -> dict[str, Artifact]:
    artifacts = renderer.render(selection)
    assert [a.role for a in artifacts][:3] == ["rss", "atom", "json"]
    assert [a.role for a in artifacts][3:] in ([], ["stylesheet"])
    return {a.role: a for a in artifacts}


def parse(artifact: Artifact) -> Any:
    parsed = feedparser.parse(artifact.content.encode("utf-8"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def xml(artifact: Artifact) -> Any:
    # lxml is strict: any ill-formed or invalid character fails here.
    return etree.fromstring(artifact.content.encode("utf-8"))


def _no_constants(name: str) -> Any:
    raise AssertionError(f"{name} is not JSON")


def load_json(artifact: Artifact) -> Any:
    # Strict: NaN/Infinity are rejected, and the text must encode as UTF-8 (it is written so).
    return json.loads(artifact.content.encode("utf-8"), parse_constant=_no_constants)


@pytest.fixture
def feeds(tmp_path: Path) -> dict[str, Artifact]:
    """Today's 3 papers (one hostile) and two earlier editions, one repeating a paper."""
    papers = [make_paper(n) for n in range(8)]
    papers[1] = make_paper(1, title=HOSTILE)
    today = [scored(papers[2], 0.93), scored(papers[1], 0.81), scored(papers[0], 0.52)]
    history = (
        (edition(10), (scored(papers[3], 0.7), scored(papers[0], 0.6))),  # 0 again: dropped
        (edition(9), (scored(papers[4], 0.9), scored(papers[5], 0.4))),
    )
    renderer = make_renderer(tmp_path)
    renderer.prepare(Batch(papers, now=dt.datetime.now(dt.UTC)))
    return render(renderer, make_selection(today, history))


ORDER = ["2406.00002", "2406.00001", "2406.00000", "2406.00003", "2406.00004", "2406.00005"]


def test_artifacts_are_named_and_typed(feeds: dict[str, Artifact]) -> None:
    assert (feeds["rss"].media_type, feeds["rss"].filename) == ("application/rss+xml", "rss.xml")
    assert (feeds["atom"].media_type, feeds["atom"].filename) == (
        "application/atom+xml",
        "atom.xml",
    )
    assert (feeds["json"].media_type, feeds["json"].filename) == (
        "application/feed+json",
        "feed.json",
    )
    for role in ("rss", "atom"):
        assert feeds[role].content.startswith('<?xml version="1.0" encoding="utf-8"?>\n')
        xml(feeds[role])


def test_feeds_parse_cleanly(feeds: dict[str, Artifact]) -> None:
    rss, atom = parse(feeds["rss"]), parse(feeds["atom"])
    assert (rss.version, atom.version) == ("rss20", "atom10")
    for parsed in (rss, atom):
        assert parsed.feed.title == "Papers digest — alice"
        assert parsed.feed.link == LINKS.archive
        assert len(parsed.entries) == 6


def test_guids_are_canonical_ids_in_ranking_then_history_order(
    feeds: dict[str, Artifact],
) -> None:
    rss, atom = parse(feeds["rss"]), parse(feeds["atom"])
    assert [e.id for e in rss.entries] == [f"arxiv:{v}" for v in ORDER]
    assert [e.guidislink for e in rss.entries] == [False] * 6
    assert [e.id for e in atom.entries] == [f"tag:papers-digest.org,2024:arxiv:{v}" for v in ORDER]
    assert [e.link for e in atom.entries] == [f"https://arxiv.org/abs/{v}" for v in ORDER]


def test_dates_are_the_edition_dates(feeds: dict[str, Artifact]) -> None:
    rss, atom = parse(feeds["rss"]), parse(feeds["atom"])
    days = [e.published_parsed.tm_mday for e in rss.entries]
    assert days == [11, 11, 11, 10, 9, 9]
    assert [e.updated for e in atom.entries][3] == "2024-06-10T06:00:00Z"
    assert rss.feed.updated == "Tue, 11 Jun 2024 06:00:00 +0000"  # lastBuildDate
    assert atom.feed.updated == "2024-06-11T06:00:00Z"


def test_hostile_title_is_escaped_text(feeds: dict[str, Artifact]) -> None:
    for role in ("rss", "atom"):
        content = feeds[role].content
        assert "<script>" not in content
        assert "\x00" not in content and "\x0b" not in content and "\x01" not in content
        entry = parse(feeds[role]).entries[1]
        assert entry.title == SHOWN  # readable LaTeX, one line, braces kept as text
        assert "49" not in entry.title
        # The description is HTML whose text is escaped: no live <script>, no <b> from data.
        assert "<script>" not in entry.summary
        assert "&lt;b&gt;tags&lt;/b&gt;" in parse(feeds[role]).entries[0].summary
        assert "with x^2 &amp;" in parse(feeds[role]).entries[0].summary  # LaTeX, no $


def test_each_entry_carries_score_and_reasons(feeds: dict[str, Artifact]) -> None:
    scores = ["0.930", "0.810", "0.520", "0.700", "0.900", "0.400"]
    for role, item in (("rss", "item"), ("atom", "atom:entry")):
        parsed = parse(feeds[role])
        assert [e.digest_score for e in parsed.entries] == scores
        for entry, score in zip(parsed.entries, scores, strict=True):
            assert "Why this paper:</strong> matches “diffusion”; announced today" in entry.summary
            assert "Score" not in entry.summary and score not in entry.summary
            assert "From your digest of " in entry.summary
        tree = xml(feeds[role])
        entries = tree.findall(f".//{item}", NS) if role == "atom" else tree.iter("item")
        for element in entries:
            assert element.findtext("digest:score", namespaces=NS) in scores
            reasons = element.findall("digest:reason", NS)
            assert [(r.get("kind"), r.get("weight"), r.text) for r in reasons] == [
                ("keyword", "0.5", "matches “diffusion”"),
                ("recency", "0.25", "announced today"),
            ]


def test_authors_and_categories(feeds: dict[str, Artifact]) -> None:
    rss, atom = parse(feeds["rss"]), parse(feeds["atom"])
    # RSS: one dc:creator with the comma-joined names (multiple elements are invalid RSS).
    creators = list(xml(feeds["rss"]).iter("{http://purl.org/dc/elements/1.1/}creator"))
    assert len(creators) == 6
    assert rss.entries[0].author == "Ada 2, Grace Hopper, Alan T"
    assert [a.name for a in atom.entries[0].authors] == ["Ada 2", "Grace Hopper", "Alan T"]
    for parsed in (rss, atom):
        assert [t.term for t in parsed.entries[0].tags] == ["cs.LG", "stat.ML"]


def test_many_authors_are_capped(tmp_path: Path) -> None:
    crowd = tuple(Author(name=f"Physicist {i}") for i in range(3000))
    renderer = make_renderer(tmp_path, max_authors=5)
    out = render(renderer, make_selection([scored(make_paper(1, authors=crowd), 0.5)]))
    rss, atom = parse(out["rss"]), parse(out["atom"])
    names = ", ".join(f"Physicist {i}" for i in range(5))
    assert rss.entries[0].author == f"{names} et al."
    assert len(atom.entries[0].authors) == 5
    (item,) = load_json(out["json"])["items"]
    assert item["authors"] == [{"name": f"Physicist {i}"} for i in range(5)]


def test_channel_links(feeds: dict[str, Artifact]) -> None:
    rss_self = xml(feeds["rss"]).find("channel/atom:link[@rel='self']", NS)
    assert rss_self is not None and rss_self.get("href") == LINKS.feed
    links = {(link.rel, link.type): link.href for link in parse(feeds["atom"]).feed.links}
    assert links[("self", "application/atom+xml")] == LINKS.feed.replace("rss.xml", "atom.xml")
    assert links[("alternate", "application/rss+xml")] == LINKS.feed
    assert links[("alternate", "text/html")] == LINKS.archive


def test_entries_are_capped_and_unique(tmp_path: Path) -> None:
    papers = [make_paper(n) for n in range(30)]
    history = tuple(
        (edition(10 - k), tuple(scored(p, 0.5) for p in papers[k * 8 : k * 8 + 12]))
        for k in range(3)
    )
    renderer = make_renderer(tmp_path, max_entries=20)
    out = render(renderer, make_selection([scored(papers[29], 0.9)], history))
    ids = [e.id for e in parse(out["rss"]).entries]
    assert len(ids) == 20 == len(set(ids))
    assert ids[:3] == ["arxiv:2406.00029", "arxiv:2406.00000", "arxiv:2406.00001"]
    assert [item["id"] for item in load_json(out["json"])["items"]] == ids


def test_canonical_atom_ids_with_an_empty_prefix(tmp_path: Path) -> None:
    paper = make_paper(1, id=PaperId(kind="doi", value="10.1000/a b#c"), url=None)
    out = render(make_renderer(tmp_path, atom_id_prefix=""), make_selection([scored(paper, 1)]))
    entry = parse(out["atom"]).entries[0]
    assert entry.id == "doi:10.1000/a%20b%23c"  # percent-encoded where an IRI needs it
    assert parse(out["rss"]).entries[0].id == "doi:10.1000/a b#c"
    with pytest.raises(pydantic.ValidationError):
        FeedRenderer.Config(atom_id_prefix="not a prefix")


def test_empty_feed_is_valid(tmp_path: Path) -> None:
    out = render(make_renderer(tmp_path), make_selection([], name="bob\r\n<x>"))
    for role in ("rss", "atom"):
        parsed = parse(out[role])
        assert parsed.entries == []
        assert parsed.feed.title == "Papers digest — bob <x>"
    document = load_json(out["json"])
    assert (document["title"], document["items"]) == ("Papers digest — bob <x>", [])


def test_render_without_prepare_and_with_revised_papers(tmp_path: Path) -> None:
    renderer = make_renderer(tmp_path)
    first = render(renderer, make_selection([scored(make_paper(1), 0.5)]))
    assert parse(first["rss"]).entries[0].title == "Paper number 1 on β-VAEs"
    renderer.prepare(Batch([make_paper(2)], now=dt.datetime.now(dt.UTC)))
    revised = make_paper(2, title="Revised")
    again = render(renderer, make_selection([scored(revised, 0.5)]))
    assert parse(again["atom"]).entries[0].title == "Revised"


def test_prepare_fills_the_batch_cache(tmp_path: Path) -> None:
    papers = [make_paper(n) for n in range(4)]
    batch = Batch(papers, now=dt.datetime.now(dt.UTC))
    make_renderer(tmp_path).prepare(batch)
    assert set(batch.cache["feed"]) == {str(p.id) for p in papers}


def test_registered_through_the_hook() -> None:
    assert digest_feed.register_renderers() == [FeedRenderer]
    assert (FeedRenderer.name, FeedRenderer.channel) == ("feed", "feed")
    for field in FeedRenderer.Config.model_fields.values():
        assert field.description


def test_no_atom_self_link_when_the_atom_url_is_unknown(tmp_path: Path) -> None:
    links = Links(
        unsubscribe=LINKS.unsubscribe,
        unsubscribe_mailto=None,
        preferences=LINKS.preferences,
        archive=LINKS.archive,
        feed="https://digest.example.org/feeds?token=tok123",
    )
    selection = make_selection([scored(make_paper(1), 0.5)])
    out = render(make_renderer(tmp_path), dataclasses.replace(selection, links=links))
    parsed = parse(out["atom"])
    assert {link.rel for link in parsed.feed.links} == {"alternate"}
    assert parsed.feed.id == links.feed
    # Nor a JSON Feed feed_url (a guess would point readers at a URL that does not exist).
    document = load_json(out["json"])
    assert "feed_url" not in document and document["home_page_url"] == LINKS.archive


def test_everything_an_entry_exposes_is_already_escaped(tmp_path: Path) -> None:
    """The templates' entry loops run without autoescaping: no plain text may reach them."""
    from markupsafe import Markup

    renderer = make_renderer(tmp_path)
    paper = make_paper(1, title=HOSTILE, code_url="https://github.com/a/b?x=1&y=2")
    entries = list(renderer._entries(make_selection([scored(paper, 0.5, reason="<i>&</i>")])))

    def walk(value: object, path: str) -> None:
        if isinstance(value, str):
            assert isinstance(value, Markup), f"{path} is plain text"
        elif isinstance(value, tuple):  # named tuples and tuples of values
            fields = getattr(value, "_fields", None) or range(len(value))
            for i, field in enumerate(fields):
                walk(value[i], f"{path}.{field}")
        elif dataclasses.is_dataclass(value):
            for field in dataclasses.fields(value):
                walk(getattr(value, field.name), f"{path}.{field.name}")
        else:
            assert value is None, f"{path} is a {type(value).__name__}"

    walk(entries[0], "entry")
    assert entries[0].paper.data.title == Markup.escape(SHOWN)


# -- JSON Feed 1.1 -----------------------------------------------------------------------


def rss_descriptions(artifact: Artifact) -> list[str]:
    # lxml gives an element's text XML-unescaped: the HTML a reader renders.
    return [item.findtext("description") for item in xml(artifact).iter("item")]


def test_json_feed_top_level(feeds: dict[str, Artifact]) -> None:
    document = load_json(feeds["json"])
    rss = parse(feeds["rss"]).feed
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["title"] == rss.title == "Papers digest — alice"
    assert document["description"] == rss.description
    assert document["home_page_url"] == LINKS.archive
    # Next to the RSS document: .../feeds/tok123/rss.xml -> .../feeds/tok123/feed.json
    assert document["feed_url"] == "https://digest.example.org/feeds/tok123/feed.json"
    assert document["authors"] == [{"name": "Papers digest"}]
    assert document["_digest"] == {"about": NAMESPACE}


@pytest.mark.parametrize(
    ("feed", "expected"),
    [
        ("https://d.example.org/f/tok/feed.xml", "https://d.example.org/f/tok/feed.json"),
        ("https://d.example.org/f/tok/rss.xml?v=2", "https://d.example.org/f/tok/feed.json?v=2"),
    ],
)
def test_json_feed_url_is_the_rss_sibling(tmp_path: Path, feed: str, expected: str) -> None:
    selection = make_selection([scored(make_paper(1), 0.5)])
    links = dataclasses.replace(LINKS, feed=feed)
    out = render(make_renderer(tmp_path), dataclasses.replace(selection, links=links))
    assert load_json(out["json"])["feed_url"] == expected


def test_json_items_are_the_rss_entries(feeds: dict[str, Artifact]) -> None:
    items = load_json(feeds["json"])["items"]
    rss = parse(feeds["rss"])
    # Same papers, same order (ranking, then history newest first), same de-duplication.
    assert [item["id"] for item in items] == [e.id for e in rss.entries]
    assert [item["id"] for item in items] == [f"arxiv:{v}" for v in ORDER]
    assert [item["url"] for item in items] == [e.link for e in rss.entries]
    assert [item["title"] for item in items] == [e.title for e in rss.entries]
    assert items[1]["title"] == SHOWN  # plain text, not HTML-escaped
    # content_html is exactly the HTML of the RSS description.
    assert [item["content_html"] for item in items] == rss_descriptions(feeds["rss"])
    assert items[0]["content_html"].endswith(
        "<p><strong>Why this paper:</strong> matches “diffusion”; announced today</p>"
        "<p><small>From your digest of 11 June 2024.</small></p>"
    )
    dates = [item["date_published"] for item in items]
    assert (
        dates
        == ["2024-06-11T06:00:00Z"] * 3 + ["2024-06-10T06:00:00Z"] + ["2024-06-09T06:00:00Z"] * 2
    )
    first = items[0]
    assert first["summary"] == "Abstract of paper 2 with x^2 & <b>tags</b>."  # plain text
    assert first["authors"] == [{"name": "Ada 2"}, {"name": "Grace Hopper"}, {"name": "Alan T"}]
    assert first["tags"] == ["cs.LG", "stat.ML"]


def test_json_items_carry_score_and_reasons(feeds: dict[str, Artifact]) -> None:
    items = load_json(feeds["json"])["items"]
    assert [item["_digest"]["score"] for item in items] == [0.93, 0.81, 0.52, 0.7, 0.9, 0.4]
    reasons = [
        {"kind": "keyword", "text": "matches “diffusion”", "weight": 0.5},
        {"kind": "recency", "text": "announced today", "weight": 0.25},
    ]
    for item in items:
        assert item["_digest"]["reasons"] == reasons


def test_json_abstracts_are_truncated_like_the_rss_ones(tmp_path: Path) -> None:
    paper = make_paper(1, abstract="word " * 100)
    out = render(make_renderer(tmp_path, abstract_chars=60), make_selection([scored(paper, 1)]))
    (item,) = load_json(out["json"])["items"]
    assert item["summary"] == "word " * 10 + "word…"  # 56 characters, cut at a word
    assert f"<p>{item['summary']}</p>" in rss_descriptions(out["rss"])[0]


def test_json_omits_what_a_paper_lacks_and_nulls_non_finite_numbers(tmp_path: Path) -> None:
    paper = make_paper(
        1,
        id=PaperId(kind="fp", value="ab12cd"),
        url=None,
        pdf_url=None,
        authors=(),
        categories=(),
    )
    bare = ScoredPaper(
        paper=paper, score=math.nan, reasons=(Reason(kind="k", text="t", weight=math.inf),)
    )
    out = render(make_renderer(tmp_path), make_selection([bare]))
    (item,) = load_json(out["json"])["items"]  # strict: no NaN / Infinity literals
    assert "url" not in item and "authors" not in item and "tags" not in item
    assert item["_digest"] == {
        "score": None,
        "reasons": [{"kind": "k", "text": "t", "weight": None}],
    }


HOSTILE_TITLES = [
    # (title as the source gave it, title as every feed shows it)
    ('</script><script>alert("x")</script>', '</script><script>alert("x")</script>'),
    ('Say "hi" \\ and \\\\ ok', 'Say "hi" \\ and \\\\ ok'),
    ("a\u2028b\u2029c", "a b c"),
    ("x\x00\x07\x1b\x7fy\r\nz\t!", "xy z !"),
    ("{{ 7*7 }} {% if x %}", "{{ 7*7 }} {% if x %}"),
    ("On $\\alpha$-nets in $\\mathbb{R}^n$", "On α-nets in ℝ^n"),
    ("Rockets 🚀🧪 and 𝔘", "Rockets 🚀🧪 and 𝔘"),
    (HOSTILE_TITLE, "<script>alert(1)</script> {{ 7*7 }} & α-nets Bcc: victim@example.org"),
]


@pytest.mark.parametrize(("title", "shown"), HOSTILE_TITLES)
def test_json_hostile_titles_round_trip_exactly(tmp_path: Path, title: str, shown: str) -> None:
    paper = make_paper(
        1,
        title=title,
        id=PaperId(kind="doi", value='10.1000/"q"\\</script>'),
        authors=(Author(name=title),),
        categories=(title,),
    )
    selection = make_selection([scored(paper, 0.5, reason=title)], name=title)
    out = render(make_renderer(tmp_path), selection)
    document = load_json(out["json"])
    (item,) = document["items"]
    assert item["title"] == shown == parse(out["rss"]).entries[0].title
    assert item["id"] == 'doi:10.1000/"q"\\</script>' == parse(out["rss"]).entries[0].id
    assert item["authors"] == [{"name": shown}]
    assert item["tags"] == [c.text for c in xml(out["rss"]).iter("category")]
    assert item["_digest"]["reasons"][0]["text"] == shown
    assert document["title"] == parse(out["rss"]).feed.title
    assert item["content_html"] == rss_descriptions(out["rss"])[0]
    # Safe to paste into an HTML <script> or evaluate as JavaScript, too; all ASCII.
    assert "</" not in out["json"].content and out["json"].content.isascii()


def test_json_text_escapes_anything_into_a_json_string() -> None:
    nasty = 'a"b\\c</script>\u2028\u2029\x00\x1f\x7f\n{{}}😀'
    assert json.loads(f'"{json_text(nasty)}"') == nasty
    assert "</" not in json_text(nasty) and json_text(nasty).isascii()


def test_files_deliverer_writes_feed_json_next_to_the_xml_feeds(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(ONE_SUBSCRIBER)
    write_papers(tmp_path / "papers.jsonl", [make_real_paper("2411.00666", title=HOSTILE_TITLE)])
    report = build_pipeline(tmp_path / "config.toml").run()
    assert report.delivered == 1 and not report.problems, report
    person = tmp_path / "out" / "victim"
    assert {"rss.xml", "atom.xml", "feed.json", "feed.xsl"} <= {p.name for p in person.iterdir()}
    document = json.loads((person / "feed.json").read_bytes())
    (item,) = document["items"]
    assert item["id"] == "arxiv:2411.00666"
    assert item["title"] == feedparser.parse((person / "rss.xml").read_bytes()).entries[0].title
    assert "α-nets" in item["title"] and "{{ 7*7 }}" in item["title"]


def test_a_reason_pointing_at_a_liked_paper_carries_its_id_for_machines(tmp_path: Path) -> None:
    from digest.ledger import reasons_from_json, reasons_to_json

    near = Reason(
        kind="liked", text="close to a paper you liked: Diffusion", weight=0.62, ref="arxiv:2401.1"
    )
    assert reasons_from_json(reasons_to_json([near])) == (near,)  # kept by the ledger
    item = ScoredPaper(paper=make_paper(1), score=0.9, reasons=(near,))
    out = render(make_renderer(tmp_path), make_selection([item]))
    root = etree.fromstring(out["rss"].content.encode())
    (element,) = root.findall(".//digest:reason", NS)
    assert element.get("ref") == "arxiv:2401.1" and element.get("kind") == "liked"
    (json_item,) = json.loads(out["json"].content)["items"]
    assert json_item["_digest"]["reasons"][0]["ref"] == "arxiv:2401.1"


# -- what readers see, ids, file names, media types ---------------------------------------------


def test_readers_see_the_edition_and_why_but_no_raw_score(feeds: dict[str, Artifact]) -> None:
    for role in ("rss", "atom"):
        summaries = [e.summary for e in parse(feeds[role]).entries]
        assert not any("Score" in text for text in summaries)
        assert "From your digest of 10 June 2024." in summaries[3]  # a history entry
    items = load_json(feeds["json"])["items"]
    assert not any("Score" in item["content_html"] for item in items)
    assert items[0]["_digest"]["score"] == 0.93  # machines still get it


def test_atom_id_and_self_links_name_the_documents_themselves(
    feeds: dict[str, Artifact],
) -> None:
    rss_url = LINKS.feed
    atom_url = rss_url.rpartition("/")[0] + "/atom.xml"
    tree = xml(feeds["atom"])
    assert tree.findtext("atom:id", namespaces=NS) == atom_url != rss_url
    links = {(a.get("rel"), a.get("type")): a.get("href") for a in tree.findall("atom:link", NS)}
    assert links[("self", "application/atom+xml")] == atom_url
    assert links[("alternate", "text/html")] == LINKS.archive
    rss = xml(feeds["rss"])
    (self_link,) = rss.findall("channel/atom:link", NS)
    assert (self_link.get("rel"), self_link.get("href")) == ("self", rss_url)


def test_files_are_named_as_served(feeds: dict[str, Artifact]) -> None:
    from digest.web.service import FEED_FORMATS

    names = {a.role: a.filename for a in feeds.values()}
    assert names == {
        "rss": "rss.xml",
        "atom": "atom.xml",
        "json": "feed.json",
        "stylesheet": "feed.xsl",
    }
    for role, name in names.items():
        assert FEED_FORMATS[name] == role
    assert FEED_FORMATS["feed.xml"] == "rss"  # the old name still answers


def test_served_feeds_declare_utf8() -> None:
    from digest.web.service import with_charset

    for media_type in ("application/rss+xml", "application/atom+xml", "application/feed+json"):
        assert with_charset(media_type) == f"{media_type}; charset=utf-8"
    assert with_charset("text/xsl; charset=UTF-8") == "text/xsl; charset=UTF-8"


# -- the stylesheet: a feed opened in a browser -------------------------------------------------


def test_the_xml_feeds_name_a_stylesheet_that_makes_them_a_page(
    feeds: dict[str, Artifact],
) -> None:
    from digest.web.service import feed_as_page

    sheet = feeds["stylesheet"]
    assert sheet.media_type == "text/xsl" and sheet.filename == "feed.xsl"
    for role in ("rss", "atom"):
        assert '<?xml-stylesheet type="text/xsl" href="feed.xsl"?>' in feeds[role].content
        page = feed_as_page(feeds[role].content, sheet.content)
        document = etree.fromstring(page.encode(), etree.HTMLParser())
        text = " ".join("".join(document.itertext()).split())
        assert "This is your private feed of" in text and "feed reader" in text
        self_url = LINKS.feed if role == "rss" else LINKS.feed.rpartition("/")[0] + "/atom.xml"
        assert self_url in text  # the address to copy into a reader
        titles = [" ".join(a.itertext()) for a in document.iterfind(".//article/h3/a")]
        assert len(titles) == 6  # the hostile title as readable text...
        assert "<script>alert(1)</script> {{ 7*7 }} & α Injected: x" in titles
        assert document.find(".//script") is None  # ...never as markup
        assert "Why:" in text and "Score" not in text


def test_atom_pages_list_three_authors_then_et_al(tmp_path: Path) -> None:
    from digest.web.service import feed_as_page

    many = make_paper(1, authors=tuple(Author(name=f"Author {n}") for n in range(7)))
    out = render(make_renderer(tmp_path), make_selection([scored(many, 0.5)]))
    page = feed_as_page(out["atom"].content, out["stylesheet"].content)
    meta = etree.fromstring(page.encode(), etree.HTMLParser()).find(".//p[@class='dg-meta']")
    assert meta is not None
    shown = " ".join("".join(meta.itertext()).split())
    assert shown == "Author 0, Author 1, Author 2 et al. · cs.LG, stat.ML"


def test_no_stylesheet_when_it_is_turned_off(tmp_path: Path) -> None:
    out = render(make_renderer(tmp_path, stylesheet_template=""), make_selection([]))
    assert "stylesheet" not in out
    assert "xml-stylesheet" not in out["rss"].content + out["atom"].content


def test_a_broken_stylesheet_template_is_a_one_line_error(tmp_path: Path) -> None:
    from digest.errors import PluginError

    with pytest.raises(PluginError, match=r"feed template not found: feed/nope\.xsl"):
        render(make_renderer(tmp_path, stylesheet_template="feed/nope.xsl"), make_selection([]))
