"""The ``feed`` renderer as feed readers see it: RSS 2.0 and Atom parsed by feedparser/lxml."""

from __future__ import annotations

import dataclasses
import datetime as dt
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
from digest_feed import NAMESPACE, FeedRenderer

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
    assert [a.role for a in artifacts] == ["rss", "atom"]
    return {a.role: a for a in artifacts}


def parse(artifact: Artifact) -> Any:
    parsed = feedparser.parse(artifact.content.encode("utf-8"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def xml(artifact: Artifact) -> Any:
    # lxml is strict: any ill-formed or invalid character fails here.
    return etree.fromstring(artifact.content.encode("utf-8"))


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
    assert (feeds["rss"].media_type, feeds["rss"].filename) == ("application/rss+xml", "feed.xml")
    assert (feeds["atom"].media_type, feeds["atom"].filename) == (
        "application/atom+xml",
        "atom.xml",
    )
    for artifact in feeds.values():
        assert artifact.content.startswith('<?xml version="1.0" encoding="utf-8"?>\n')
        xml(artifact)


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
            assert f"Score: {score}" in entry.summary
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
