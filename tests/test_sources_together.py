"""All sources in one run: one paper per work with merged signals; failures stay local.

The run reads the project's own fixtures (tests/fixtures) and, as an extra layer, the recorded
arXiv captures in ../shared/fixtures when that checkout is present (parametrised ``recorded``;
skipped with the reason otherwise). The end of the file checks the fixtures themselves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from lxml import etree

from digest.application import Application
from digest.pipeline import Pipeline
from digest.store import papers
from httpserver import FIXTURES, RECORDED, FixtureServer, Reply, fixture_bytes, needs_recorded

CONFIG = """
[digest]
state_dir = "state"
output_dir = "out"

[fetch]
allow = ["127.0.0.1/32"]
retries = 1
backoff = 0.01

[sources.arxiv]
component = "arxiv"
categories = ["cs.LG"]
rss_url = "{base}"
announce_types = ["new", "cross", "replace", "replace-cross"]

[sources.arxiv-api]
component = "arxiv"
id_list = ["{id}"]
api_url = "{base}/api/query"

[sources.hf]
component = "huggingface"
url = "{base}/api/daily_papers"

[sources.journal]
component = "rss"
url = "{base}/journal.atom"

[selection]
rankers = {{ recency = 1.0 }}

[rankers.recency]
component = "recency"

[renderers.feed]
component = "feed"

[deliverers.files]
component = "files"

[subscribers.ada]
channels = ["feed"]
max_items = 100
"""


@dataclass(frozen=True)
class Layer:
    """The documents one run reads, and what it should make of them."""

    rss: str  # the arXiv daily listing
    id: str  # a paper of that listing that every source mentions
    title: str
    author: str
    announce_type: str  # the listing's announce type for ``id``
    listing: int  # distinct papers in the listing (every announce type)
    api: Callable[[], bytes]  # the arXiv API's reply for ``id``
    journal: Callable[[], bytes]  # a journal feed linking ``id``'s v2


OWN_ID = "2506.90017"  # the first item of the own cs.LG listing
RECORDED_ID = "2506.08043"  # the first item of the recorded cs.LG listing

RECORDED_JOURNAL = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>A journal</title><id>urn:journal</id><updated>2025-06-12T00:00:00Z</updated>
  <entry>
    <title>Neural-Augmented Kelvinlet (journal version)</title>
    <id>urn:journal:1</id><updated>2025-06-12T00:00:00Z</updated>
    <link href="https://arxiv.org/abs/{RECORDED_ID}v2"/>
  </entry>
</feed>"""


def _recorded_api() -> bytes:
    # The recorded API reply for another paper, renamed: the recorded listing's first item.
    text = fixture_bytes("arxiv_api/single_1605.08386.xml").decode()
    return text.replace("1605.08386", RECORDED_ID).encode()


OWN = Layer(
    rss="arxiv_rss/cs.LG_2025-06-11.rss.xml",
    id=OWN_ID,
    title="Sparse Mixture-of-Experts Routing with Learned Temperature Schedules",
    author="Maren Ødegaard",
    announce_type="new",
    listing=12,  # 13 items, one cross-list listed twice
    api=lambda: fixture_bytes("arxiv_api/id_2506.90017.xml"),
    journal=lambda: fixture_bytes("feeds/journal_links_arxiv_v2.atom"),
)

RECORDED_LAYER = Layer(
    rss="arxiv_rss/rss_cs.LG_2025-06-11.xml",
    id=RECORDED_ID,
    title="Neural-Augmented Kelvinlet: Real-Time Soft Tissue Deformation",
    author="Ada Lovelace",
    announce_type="cross",
    listing=39,  # 40 items, one cross-list listed twice
    api=_recorded_api,
    journal=RECORDED_JOURNAL.encode,
)

LAYERS = [
    pytest.param(OWN, id="own"),
    pytest.param(RECORDED_LAYER, id="recorded", marks=needs_recorded),
]


def hf_item(layer: Layer) -> dict[str, object]:
    return {
        "paper": {
            "id": layer.id,
            "title": layer.title,
            "summary": "A short summary of the paper.",
            "authors": [{"name": layer.author}],
            "publishedAt": "2025-06-10T17:59:00.000Z",
            "upvotes": 42,
            "githubRepo": "https://github.com/example/moe-routing",
        },
        "publishedAt": "2025-06-11T08:00:00.000Z",
        "numComments": 3,
    }


def serve(server: FixtureServer, layer: Layer) -> None:
    server.route(
        "/rss/cs.LG",
        Reply(body=layer.rss, headers={"Content-Type": "application/rss+xml"}),
    )
    server.route(
        "/api/query",
        Reply(body=layer.api(), headers={"Content-Type": "application/atom+xml"}),
    )
    server.route(
        "/api/daily_papers",
        Reply(
            body=json.dumps([hf_item(layer)]).encode(),
            headers={"Content-Type": "application/json"},
        ),
    )
    server.route(
        "/journal.atom",
        Reply(body=layer.journal(), headers={"Content-Type": "application/atom+xml"}),
    )


def pipeline_for(tmp_path: Path, server: FixtureServer, layer: Layer) -> Pipeline:
    (tmp_path / "config.toml").write_text(CONFIG.format(base=server.url(""), id=layer.id))
    return Application.from_path(tmp_path / "config.toml").pipeline


def stored(pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    with pipeline.store.engine.connect() as conn:
        rows = [json.loads(r.data) for r in conn.execute(sa.select(papers.c.data))]
    return {row["id"]: row for row in rows}


@pytest.mark.parametrize("layer", LAYERS)
def test_one_work_from_four_sources_is_one_paper_with_merged_signals(
    layer: Layer, tmp_path: Path, fixture_server: FixtureServer
) -> None:
    serve(fixture_server, layer)
    pipeline = pipeline_for(tmp_path, fixture_server, layer)
    report = pipeline.run()
    assert not report.problems, report.problems
    by_name = {s.name: s for s in report.sources}
    assert by_name["arxiv"].collected == layer.listing
    assert (by_name["arxiv-api"].new, by_name["hf"].new, by_name["journal"].new) == (0, 0, 0)
    paper = stored(pipeline)[f"arxiv:{layer.id}"]
    assert set(paper["sources"]) == {"arxiv", "arxiv-api", "hf", "journal"}
    signals = paper["signals"]
    assert signals["hf.upvotes"] == 42
    assert signals["arxiv.announce_type"] == layer.announce_type
    assert paper["version"] == 2  # the journal linked v2
    assert len(stored(pipeline)) == layer.listing
    (feed,) = (tmp_path / "out" / "ada").glob("rss.xml")
    assert feed.read_text().count(f'<guid isPermaLink="false">arxiv:{layer.id}</guid>') == 1

    again = pipeline.run()
    assert again.delivered == 0, "a second run delivers nothing new"
    assert {s.name: s.collected for s in again.sources}["arxiv"] == 0  # 304 Not Modified


@pytest.mark.parametrize("layer", LAYERS)
def test_failing_sources_lose_nothing_from_the_others(
    layer: Layer, tmp_path: Path, fixture_server: FixtureServer
) -> None:
    serve(fixture_server, layer)
    fixture_server.route("/api/daily_papers", Reply(status=500, body=b"oops"))
    fixture_server.route(
        "/journal.atom",
        Reply(body=b"<html><body>Maintenance</body></html>", headers={"Content-Type": "text/html"}),
    )
    fixture_server.route("/api/query", Reply(status=429, headers={"Retry-After": "0"}))
    pipeline = pipeline_for(tmp_path, fixture_server, layer)
    report = pipeline.run()
    errors = {s.name: s.error or "" for s in report.sources if s.error}
    base = fixture_server.url("")
    assert errors["hf"].startswith(f"{base}/api/daily_papers?date=")
    assert "HTTP 500" in errors["hf"]
    assert errors["journal"].startswith(f"{base}/journal.atom: not an RSS/Atom feed")
    assert "HTTP 429 Too Many Requests" in errors["arxiv-api"]
    assert {s.name: s.collected for s in report.sources}["arxiv"] == layer.listing
    assert report.delivered == 1 and len(stored(pipeline)) == layer.listing
    assert {p.where for p in report.problems} >= {
        "sources.hf",
        "sources.journal",
        "sources.arxiv-api",
    }


# -- the fixtures themselves --------------------------------------------------------------------


def own_fixtures() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.name != "README.md")


#: fixtures ill-formed on purpose, as real feeds are (read leniently by the ``rss`` source)
ILL_FORMED = frozenset({"feeds/toc_whitespace_before_declaration.xml"})


def test_every_own_fixture_is_well_formed_and_described_in_the_readme() -> None:
    readme = (FIXTURES / "README.md").read_text("utf-8")
    files = own_fixtures()
    assert len(files) >= 20
    for path in files:
        name = path.relative_to(FIXTURES).as_posix()
        assert f"`{name}`" in readme, f"{name} is not described in tests/fixtures/README.md"
        if name.startswith("bounces/"):
            continue  # mail messages (.eml), not XML: described, read by test_bounce_classify
        if path.suffix == ".json":
            json.loads(path.read_bytes())
        elif name in ILL_FORMED:
            with pytest.raises(etree.XMLSyntaxError):
                etree.fromstring(path.read_bytes())
        else:
            etree.fromstring(path.read_bytes())  # the other own fixtures are well-formed XML


_ARXIV_ID = re.compile(rb"\b(?:\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?=v\d|\b)")
_DOI = re.compile(rb"\b10\.\d{4,9}/[^\s<\"&]+")


def _identifiers(paths: list[Path]) -> set[bytes]:
    found: set[bytes] = set()
    for path in paths:
        content = path.read_bytes()
        found |= set(_ARXIV_ID.findall(content))
        found |= {doi.lower() for doi in _DOI.findall(content)}
    return found


@needs_recorded
def test_own_fixtures_never_shadow_the_recorded_captures() -> None:
    # The server looks in the own fixtures first: a shared name would hide a capture.
    own = {p.relative_to(FIXTURES).as_posix() for p in own_fixtures()}
    recorded = {p.relative_to(RECORDED).as_posix() for p in RECORDED.rglob("*") if p.is_file()}
    assert not own & recorded


@needs_recorded
def test_own_fixtures_are_not_copies_of_the_captures() -> None:
    # Invented papers: no arXiv id or DOI of a recorded paper, and no captured document.
    captures = [p for p in RECORDED.rglob("*") if p.is_file() and p.suffix in (".xml", ".json")]
    shared = _identifiers(own_fixtures()) & _identifiers(captures)
    assert not shared, sorted(shared)
    captured = {p.read_bytes() for p in captures}
    assert not [p for p in own_fixtures() if p.read_bytes() in captured]
