"""All sources in one run: one paper per work with merged signals; failures stay local."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from digest.config import load_settings
from digest.pipeline import Pipeline
from digest.plugins import PluginHost
from digest.store import Store, papers
from digest.wiring import build, make_runtime
from httpserver import FIXTURES, FixtureServer, Reply, needs_fixtures

pytestmark = needs_fixtures

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
id_list = ["2506.08043"]
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

ID = "2506.08043"  # the first item of the recorded cs.LG listing


def hf_item(arxiv_id: str) -> dict[str, object]:
    return {
        "paper": {
            "id": arxiv_id,
            "title": "Neural-Augmented Kelvinlet: Real-Time Soft Tissue Deformation",
            "summary": "Fast and accurate simulation of soft tissue deformation.",
            "authors": [{"name": "Ada Lovelace"}],
            "publishedAt": "2025-06-10T17:59:00.000Z",
            "upvotes": 42,
            "githubRepo": "https://github.com/example/kelvinlet",
        },
        "publishedAt": "2025-06-11T08:00:00.000Z",
        "numComments": 3,
    }


JOURNAL = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>A journal</title><id>urn:journal</id><updated>2025-06-12T00:00:00Z</updated>
  <entry>
    <title>Neural-Augmented Kelvinlet (journal version)</title>
    <id>urn:journal:1</id><updated>2025-06-12T00:00:00Z</updated>
    <link href="https://arxiv.org/abs/{ID}v2"/>
  </entry>
</feed>"""


def serve(server: FixtureServer) -> None:
    server.route(
        "/rss/cs.LG",
        Reply(
            body="arxiv_rss/rss_cs.LG_2025-06-11.xml",
            headers={"Content-Type": "application/rss+xml"},
        ),
    )
    api = (FIXTURES / "arxiv_api" / "single_1605.08386.xml").read_text()
    server.route(
        "/api/query",
        Reply(
            body=api.replace("1605.08386", ID).encode(),
            headers={"Content-Type": "application/atom+xml"},
        ),
    )
    server.route(
        "/api/daily_papers",
        Reply(
            body=json.dumps([hf_item(ID)]).encode(), headers={"Content-Type": "application/json"}
        ),
    )
    server.route(
        "/journal.atom",
        Reply(body=JOURNAL.encode(), headers={"Content-Type": "application/atom+xml"}),
    )


def pipeline_for(tmp_path: Path, server: FixtureServer) -> Pipeline:
    (tmp_path / "config.toml").write_text(CONFIG.format(base=server.url("")))
    loaded = load_settings(tmp_path / "config.toml")
    host = PluginHost()
    runtime = make_runtime(loaded, host)
    components, problems = build(loaded, host, runtime)
    assert not problems, problems
    return Pipeline(
        loaded=loaded,
        host=host,
        store=Store.open(loaded.database_url),
        components=components,
        runtime=runtime,
    )


def stored(pipeline: Pipeline) -> dict[str, dict[str, object]]:
    with pipeline.store.engine.connect() as conn:
        rows = [json.loads(r.data) for r in conn.execute(sa.select(papers.c.data))]
    return {row["id"]: row for row in rows}  # type: ignore[misc]


def test_one_work_from_four_sources_is_one_paper_with_merged_signals(
    tmp_path: Path, fixture_server: FixtureServer
) -> None:
    serve(fixture_server)
    pipeline = pipeline_for(tmp_path, fixture_server)
    report = pipeline.run()
    assert not report.problems, report.problems
    by_name = {s.name: s for s in report.sources}
    assert by_name["arxiv"].collected == 39  # 40 items, one cross-list listed twice
    assert (by_name["arxiv-api"].new, by_name["hf"].new, by_name["journal"].new) == (0, 0, 0)
    paper = stored(pipeline)[f"arxiv:{ID}"]
    assert set(paper["sources"]) == {"arxiv", "arxiv-api", "hf", "journal"}  # type: ignore[arg-type]
    signals = paper["signals"]
    assert signals["hf.upvotes"] == 42 and signals["arxiv.announce_type"] == "cross"  # type: ignore[index]
    assert paper["version"] == 2  # the journal linked v2
    assert len(stored(pipeline)) == 39
    (feed,) = (tmp_path / "out" / "ada").glob("feed.xml")
    assert feed.read_text().count(f'<guid isPermaLink="false">arxiv:{ID}</guid>') == 1

    again = pipeline.run()
    assert again.delivered == 0, "a second run delivers nothing new"
    assert {s.name: s.collected for s in again.sources}["arxiv"] == 0  # 304 Not Modified


def test_failing_sources_lose_nothing_from_the_others(
    tmp_path: Path, fixture_server: FixtureServer
) -> None:
    serve(fixture_server)
    fixture_server.route("/api/daily_papers", Reply(status=500, body=b"oops"))
    fixture_server.route(
        "/journal.atom",
        Reply(body=b"<html><body>Maintenance</body></html>", headers={"Content-Type": "text/html"}),
    )
    fixture_server.route("/api/query", Reply(status=429, headers={"Retry-After": "0"}))
    pipeline = pipeline_for(tmp_path, fixture_server)
    report = pipeline.run()
    errors = {s.name: s.error for s in report.sources if s.error}
    base = fixture_server.url("")
    assert errors["hf"].startswith(f"{base}/api/daily_papers?date=")  # type: ignore[union-attr]
    assert "HTTP 500" in errors["hf"]  # type: ignore[operator]
    assert errors["journal"].startswith(f"{base}/journal.atom: not an RSS/Atom feed")  # type: ignore[union-attr]
    assert "HTTP 429 Too Many Requests" in errors["arxiv-api"]  # type: ignore[operator]
    assert {s.name: s.collected for s in report.sources}["arxiv"] == 39
    assert report.delivered == 1 and len(stored(pipeline)) == 39
    assert {p.where for p in report.problems} >= {
        "sources.hf",
        "sources.journal",
        "sources.arxiv-api",
    }
