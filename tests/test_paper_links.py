"""One work, many ids: an arXiv paper, its journal version and a preprint server's DOI are one
paper in the store whichever arrives first, and nobody is sent the work twice.

Runs on SQLite and, with ``DIGEST_TEST_POSTGRES_URL``, on PostgreSQL (the ``database_url``
fixture).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from digest.application import Application
from digest.identity import paper_keys, preferred_id
from digest.models import Paper
from digest.pipeline import Pipeline
from digest.pipeline.run import RunOptions
from digest.store import Store, papers
from digest.store.schema import selections
from digest.testing import make_paper
from httpserver import FixtureServer, Reply, fixture_bytes

NOW = dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=1)
JOURNAL_DOI = "10.5555/jml.2026.0042"
TITLE = "Sparse Routing for Mixtures of Experts"


@pytest.fixture
def store(database_url: str) -> Store:
    return Store.open(database_url)


def preprint(version: str = "v1", *, doi: str | None = JOURNAL_DOI) -> Paper:
    return make_paper(f"2506.90017{version}", title=TITLE, doi=doi, sources=("arxiv",))


def journal(**changes: object) -> Paper:
    paper = make_paper(
        None,
        title=f"{TITLE} (journal version)",
        doi=JOURNAL_DOI,
        sources=("journal",),
        signals={"feed.name": "Journal of ML"},
    )
    return replace(paper, **changes)  # type: ignore[arg-type]


def candidates(store: Store, after_seq: int = 0) -> list[str]:
    _, found = store.papers_since(after_seq=after_seq, first_seen_after=NOW - dt.timedelta(1))
    return [str(p.id) for p in found]


def test_a_paper_is_known_by_its_id_doi_and_aliases() -> None:
    paper = replace(preprint(), aliases=("https://doi.org/10.1101/2026.01.02.123456", "junk"))
    assert paper_keys(paper) == [
        "arxiv:2506.90017",
        f"doi:{JOURNAL_DOI}",
        "doi:10.1101/2026.01.02.123456",
    ]
    assert str(preferred_id(["doi:10.5555/a", "fp:abc", "arxiv:2506.90017"])) == (
        "arxiv:2506.90017"
    )
    assert str(preferred_id(["doi:10.5555/a", "doi:10.5555/b"])) == "doi:10.5555/a"


def test_the_journal_version_merges_into_the_arxiv_paper(store: Store) -> None:
    assert store.upsert_papers([preprint()], source="arxiv", now=NOW).new == 1
    result = store.upsert_papers([journal()], source="journal", now=LATER)
    assert (result.new, result.updated) == (0, 1)
    assert store.paper_count() == 1
    (paper,) = store.papers_by_seq([1]).values()
    assert str(paper.id) == "arxiv:2506.90017" and paper.doi == JOURNAL_DOI
    assert paper.sources == ("arxiv", "journal")
    assert paper.signals["feed.name"] == "Journal of ML"
    assert paper.title == TITLE  # the arXiv version (it has a version) keeps the text
    # Either id finds it.
    found = store.papers_by_id([f"doi:{JOURNAL_DOI}", "arxiv:2506.90017", "doi:10.5555/none"])
    assert {k: str(p.id) for k, p in found.items()} == {
        f"doi:{JOURNAL_DOI}": "arxiv:2506.90017",
        "arxiv:2506.90017": "arxiv:2506.90017",
    }


def test_the_journal_version_first_then_arxiv_is_still_one_paper(store: Store) -> None:
    store.upsert_papers([journal()], source="journal", now=NOW)
    (seq,) = store.papers_by_seq([1])
    result = store.upsert_papers([preprint("v2")], source="arxiv", now=LATER)
    assert (result.new, result.updated) == (0, 1)
    assert store.paper_count() == 1
    # Not a new candidate: the work was already news when the journal version came.
    assert candidates(store, after_seq=seq) == []
    (paper,) = store.papers_by_seq([seq]).values()
    # The work is now known by its arXiv id, as the README promises; the DOI is an alias.
    assert str(paper.id) == "arxiv:2506.90017" and paper.version == 2
    assert paper.aliases == (f"doi:{JOURNAL_DOI}",)
    assert set(store.papers_by_id([f"doi:{JOURNAL_DOI}"])) == {f"doi:{JOURNAL_DOI}"}
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(papers.c.paper_id)).scalars().all() == ["arxiv:2506.90017"]


def test_a_late_link_merges_two_stored_papers_into_the_first(store: Store) -> None:
    # arXiv's listing carries no DOI; the journal item comes; then the API names the DOI.
    store.upsert_papers([preprint(doi=None)], source="arxiv", now=NOW)
    store.upsert_papers([journal()], source="journal", now=NOW)
    assert store.paper_count() == 2 and len(candidates(store)) == 2
    result = store.upsert_papers([preprint("v2")], source="arxiv-api", now=LATER)
    assert (result.new, result.updated) == (0, 1)
    assert store.paper_count() == 1
    assert candidates(store) == ["arxiv:2506.90017"]  # the journal row is no candidate
    (paper,) = store.papers_by_id([f"doi:{JOURNAL_DOI}"]).values()
    assert str(paper.id) == "arxiv:2506.90017"
    assert set(paper.sources) == {"arxiv", "journal"}
    # Seen again, the journal item lands on the merged paper, not its old row.
    again = store.upsert_papers([journal()], source="journal", now=LATER)
    assert (again.new, store.paper_count()) == (0, 1)


def test_links_within_one_batch(store: Store) -> None:
    result = store.upsert_papers([journal(), preprint()], source="mixed", now=NOW)
    assert result.new == 1
    (paper,) = store.papers_by_seq([1]).values()
    assert str(paper.id) == "arxiv:2506.90017" and paper.aliases == (f"doi:{JOURNAL_DOI}",)


def test_a_preprint_server_doi_and_its_published_doi_link(store: Store) -> None:
    biorxiv = replace(
        make_paper(None, title="Neurons in a dish", doi="10.1101/2026.01.02.123456"),
        aliases=(f"doi:{JOURNAL_DOI}",),
        version=1,
    )
    store.upsert_papers([biorxiv], source="biorxiv", now=NOW)
    published = make_paper(None, title="Neurons in a dish", doi=JOURNAL_DOI)
    assert store.upsert_papers([published], source="crossref", now=LATER).new == 0
    (paper,) = store.papers_by_id([f"doi:{JOURNAL_DOI}"]).values()
    # The first stored DOI stays the id; the other is an alias.
    assert str(paper.id) == "doi:10.1101/2026.01.02.123456"
    assert paper.aliases == (f"doi:{JOURNAL_DOI}",)


def test_a_journal_item_naming_its_preprint_is_known_by_the_arxiv_id(store: Store) -> None:
    item = replace(journal(), aliases=("arxiv:2506.90017",))
    store.upsert_papers([item], source="crossref", now=NOW)
    assert candidates(store) == ["arxiv:2506.90017"]
    assert store.upsert_papers([preprint(doi=None)], source="arxiv", now=LATER).new == 0


# -- through a whole run: the subscriber gets the work once -------------------------------------

RUN_CONFIG = """
[digest]
state_dir = "state"
output_dir = "out"

[fetch]
allow = ["127.0.0.1/32"]
retries = 0

[sources.arxiv-api]
component = "arxiv"
categories = []
id_list = ["2506.90017"]
api_url = "{base}/api/query"

[sources.journal]
component = "rss"
url = "{base}/journal.xml"

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

JOURNAL_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:prism="http://prismstandard.org/namespaces/basic/2.0/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Journal of ML</title><link>https://jml.example.org</link>
<description>New articles</description>
{items}
</channel></rss>"""

JOURNAL_ITEM = """<item><title>{title}</title><link>https://jml.example.org/{n}</link>
<description>An abstract.</description><dc:creator>Ødegaard, M.; Fabre, J.</dc:creator>
<prism:doi>{doi}</prism:doi></item>"""


def _serve_run(
    server: FixtureServer, *, journal_items: list[tuple[str, str]], with_api: bool
) -> None:
    api = fixture_bytes("arxiv_api/id_2506.90017.xml").decode()
    api = api.replace("</entry>", f"<arxiv:doi>{JOURNAL_DOI}</arxiv:doi></entry>")
    if not with_api:  # the paper is not on arXiv's API yet: an empty answer
        head, _, rest = api.partition("<entry>")
        api = head + rest.partition("</entry>")[2]
    server.route(
        "/api/query", Reply(body=api.encode(), headers={"Content-Type": "application/atom+xml"})
    )
    items = "".join(
        JOURNAL_ITEM.format(title=t, doi=d, n=n) for n, (t, d) in enumerate(journal_items)
    )
    server.route(
        "/journal.xml",
        Reply(
            body=JOURNAL_FEED.format(items=items).encode(),
            headers={"Content-Type": "application/rss+xml"},
        ),
    )


def _picked(pipeline: Pipeline) -> list[list[str]]:
    """The paper ids each edition selected for ada, edition by edition."""
    with pipeline.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(selections.c.edition_id, papers.c.data)
            .join(papers, papers.c.seq == selections.c.paper_seq)
            .order_by(selections.c.edition_id, selections.c.rank)
        ).all()
    by_edition: dict[str, list[str]] = {}
    for row in rows:
        by_edition.setdefault(row.edition_id, []).append(json.loads(row.data)["id"])
    return list(by_edition.values())


@pytest.mark.parametrize("arxiv_first", [True, False], ids=["arxiv-first", "journal-first"])
def test_the_journal_version_of_a_delivered_paper_is_not_delivered_again(
    arxiv_first: bool, tmp_path: Path, fixture_server: FixtureServer
) -> None:
    (tmp_path / "config.toml").write_text(RUN_CONFIG.format(base=fixture_server.url("")))
    pipeline = Application.from_path(tmp_path / "config.toml").pipeline
    day1 = dt.datetime(2026, 12, 7, 8, tzinfo=dt.UTC)
    journal_version = ("Sparse Routing with Learned Temperatures (journal)", JOURNAL_DOI)
    other = ("An Unrelated Article", "10.5555/jml.2026.0043")
    if arxiv_first:
        _serve_run(fixture_server, journal_items=[], with_api=True)
    else:
        _serve_run(fixture_server, journal_items=[journal_version], with_api=False)
    first = pipeline.run(RunOptions(now=day1))
    assert first.delivered == 1 and not first.problems
    _serve_run(fixture_server, journal_items=[journal_version, other], with_api=True)
    second = pipeline.run(RunOptions(now=day1 + dt.timedelta(days=1)))
    assert second.delivered == 1 and not second.problems
    first_pick, second_pick = _picked(pipeline)
    assert first_pick == ["arxiv:2506.90017"]  # known by its arXiv id either way
    assert second_pick == ["doi:10.5555/jml.2026.0043"]  # only the new work, not the version
    assert pipeline.store.paper_count() == 2


def test_papers_stored_before_aliases_existed_are_found_by_their_ids_and_dois(
    database_url: str,
) -> None:
    from digest.migrations import upgrade

    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        upgrade(conn, "0004")
        rows = [
            ("arxiv:2506.90017", {"id": "arxiv:2506.90017", "doi": JOURNAL_DOI}),
            ("doi:10.5555/jml.2026.0043", {"id": "doi:10.5555/jml.2026.0043", "doi": None}),
        ]
        for paper_id, data in rows:
            conn.execute(
                sa.text(
                    "INSERT INTO papers (paper_id, data, first_seen, updated_at) "
                    "VALUES (:id, :data, :at, :at)"
                ),
                {"id": paper_id, "data": json.dumps(data), "at": NOW},
            )
        upgrade(conn)
        aliases = dict(conn.execute(sa.text("SELECT alias, paper_seq FROM paper_aliases")).all())
    engine.dispose()
    first, second = sorted(set(aliases.values()))
    assert aliases == {
        "arxiv:2506.90017": first,
        f"doi:{JOURNAL_DOI}": first,
        "doi:10.5555/jml.2026.0043": second,
    }


# -- the same title and first author: linked when at most one side has a strong id -------------


def openreview(title: str = TITLE) -> Paper:
    """A conference paper without an arXiv id or DOI (OpenReview): a fingerprint id."""
    return make_paper(None, title=title, sources=("openreview",), signals={"openreview.venue": "X"})


def test_a_paper_without_ids_merges_with_the_arxiv_paper_of_that_title(store: Store) -> None:
    store.upsert_papers([preprint(doi=None)], source="arxiv", now=NOW)
    result = store.upsert_papers([openreview()], source="openreview", now=LATER)
    assert (result.new, result.updated, store.paper_count()) == (0, 1, 1)
    (paper,) = store.papers_by_seq([1]).values()
    assert str(paper.id) == "arxiv:2506.90017" and paper.signals["openreview.venue"] == "X"
    assert candidates(store, after_seq=1) == []


def test_the_arxiv_version_after_the_conference_paper_is_the_same_work(store: Store) -> None:
    store.upsert_papers([openreview()], source="openreview", now=NOW)
    assert store.upsert_papers([preprint(doi=None)], source="arxiv", now=LATER).new == 0
    (paper,) = store.papers_by_seq([1]).values()
    assert str(paper.id) == "arxiv:2506.90017"  # known by its arXiv id from now on
    assert {k: str(p.id) for k, p in store.papers_by_id([str(openreview().id)]).items()} == {
        str(openreview().id): "arxiv:2506.90017"
    }


def test_two_papers_with_ids_and_the_same_title_stay_two(store: Store) -> None:
    erratum_a = make_paper("2506.90001", title="Erratum", authors=("J. Smith",))
    erratum_b = make_paper(None, title="Erratum", authors=("J. Smith",), doi="10.5555/other")
    store.upsert_papers([erratum_a], source="arxiv", now=NOW)
    assert store.upsert_papers([erratum_b], source="journal", now=LATER).new == 1
    assert store.paper_count() == 2
