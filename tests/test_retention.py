"""Retention (``digest prune``, the ``digest serve`` chore): old complete editions and old
bounce events go; open and paused editions, watermarks and a bounce's effect stay.

Editions are made by the real pipeline (``RunOptions(now=…)`` dates them) and the real
ledger API, on a SQLite file and, with ``DIGEST_TEST_POSTGRES_URL``, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from configs import JSONL_SOURCE, config_text

from conftest import CliResult
from digest.application import Application
from digest.ledger import Claim, Ledger
from digest.models import Edition, Paper, Reason, RunReport
from digest.pipeline import RunOptions
from digest.store import Store, StoredSubscriber, utcnow
from digest.store.bounces import BounceRow
from digest.store.retention import Pruned, Retention, RetentionChore
from digest.store.schema import bounce_events, deliveries, editions, selections
from digest.testing import make_host, make_paper
from digest.web.serve import build_app
from helpers import TestPlugin, write_papers
from webserver import ServerThread, reserve_port

NOW = utcnow()
DAY = dt.timedelta(days=1)
DEFER = {"files": None, "out": {"component": "flaky", "defer_all": True}}


def robots(start: int, count: int) -> list[Paper]:
    return [
        make_paper(f"2411.{n:05d}", title=f"A robot paper number {n}", categories=("cs.RO",))
        for n in range(start, start + count)
    ]


LANGUAGE = [
    make_paper(f"2411.{9000 + n:05d}", title=f"Language model study {n}", categories=("cs.CL",))
    for n in range(3)
]


class Site:
    """A config in ``tmp_path`` on one database: its runs, its store and its settings."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.dir = tmp_path
        self.database_url = database_url
        self.config = tmp_path / "config.toml"
        self.store = Store.open(database_url)

    def write(self, **changes: Any) -> Path:
        self.config.write_text(
            config_text(
                sources={"sample": None, **JSONL_SOURCE},
                digest={"database": self.database_url},
                **changes,
            ),
            "utf-8",
        )
        return self.config

    def application(self, **changes: Any) -> Application:
        return Application.from_path(self.write(**changes), host=make_host(TestPlugin()))

    def run(
        self, papers: list[Paper], *, at: dt.datetime | None = None, **changes: Any
    ) -> RunReport:
        """Collect ``papers`` and deliver (at ``at``, default now), as ``digest run`` does."""
        write_papers(self.dir / "papers.jsonl", papers)
        with self.application(**changes) as app:
            report = app.pipeline.run(RunOptions(now=at))
        assert not report.failed and not report.problems, report
        return report

    def edition(self, papers: list[Paper], *, at: dt.datetime, **changes: Any) -> Edition:
        edition = self.run(papers, at=at, **changes).edition
        assert edition is not None
        return edition

    def retention(self, **changes: Any) -> Retention:
        return Retention.from_settings(self.store, self.application(**changes).settings)

    def subscriber(self, name: str) -> StoredSubscriber:
        return next(s for s in self.store.subscribers() if s.subscriber.name == name)


@pytest.fixture
def site(tmp_path: Path, database_url: str) -> Iterator[Site]:
    site = Site(tmp_path, database_url)
    yield site
    site.store.close()


def statuses(store: Store) -> dict[str, str]:
    with store.engine.connect() as conn:
        return {r.id: r.status for r in conn.execute(sa.select(editions.c.id, editions.c.status))}


def rows(store: Store, table: sa.Table, edition_id: str | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    if edition_id is not None:
        query = query.where(table.c.edition_id == edition_id)
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def watermarks(store: Store) -> dict[str, int]:
    return {s.subscriber.name: s.watermark for s in store.subscribers()}


def paused_edition(site: Site, at: dt.datetime) -> Edition:
    """An edition a run paused (claimed rows waiting), made through the ledger API."""
    store = site.store
    store.upsert_papers([LANGUAGE[1]], source="main", now=at)
    seqs, _ = store.papers_since(
        after_seq=site.subscriber("grace").watermark, first_seen_after=at - DAY
    )
    ledger = Ledger(store)
    edition = ledger.open_edition(at)
    grace = site.subscriber("grace")
    reason = Reason(kind="keyword", text="mentions “language model”", weight=1.0)
    claim = Claim(
        subscriber_id=grace.id,
        watermark=seqs[-1],
        items=[(seqs[-1], 0.9, [reason])],
        channels=[("email", f"<{edition.id}.{grace.id}@test>"), ("feed", "")],
    )
    ledger.claim(edition, [claim], now=at)
    ledger.pause(edition)
    return edition


def test_old_complete_editions_go_and_open_or_paused_ones_stay_to_be_resumed(site: Site) -> None:
    old = site.edition([*robots(1, 3), LANGUAGE[0]], at=NOW - 500 * DAY)
    recent = site.edition(robots(1, 5), at=NOW - 10 * DAY)
    crashed = site.edition(robots(1, 7), at=NOW - 450 * DAY, deliverers=DEFER)  # left claimed
    paused = paused_edition(site, NOW - 420 * DAY)
    store = site.store
    before = statuses(store)
    assert before == {
        old.id: "complete",
        recent.id: "complete",
        crashed.id: "open",
        paused.id: "paused",
    }
    old_rows = rows(store, selections, old.id), rows(store, deliveries, old.id)
    assert old_rows == (4, 4)  # ada: three robots, grace: one study; email + feed each
    marks = watermarks(store)
    pending = Ledger(store).pending()

    done = site.retention().prune()

    assert done == Pruned(
        ledger_days=400, bounce_events_days=180, editions=1, selections=4, deliveries=4
    )
    assert statuses(store) == {k: v for k, v in before.items() if k != old.id}
    assert rows(store, selections, old.id) == rows(store, deliveries, old.id) == 0
    assert Ledger(store).pending() == pending  # every claimed row is still there
    assert watermarks(store) == marks
    ada = site.subscriber("ada")
    assert Ledger(store).edition_of(old.id, ada.id) is None
    assert Ledger(store).edition_of(recent.id, ada.id) is not None

    # The next run finishes the crashed and the paused edition, with their Message-IDs.
    report = site.run(robots(1, 7))
    assert report.resumed == 2 and report.edition is None  # ada's and grace's, nothing new
    for p in pending:
        if p.channel == "email":
            name = "ada" if p.edition.id == crashed.id else "grace"
            eml = (site.dir / "out" / name / p.edition.id / "digest.eml").read_text("utf-8")
            assert f"Message-ID: {p.message_id}" in eml
    assert set(statuses(store).values()) == {"complete"}
    # Complete now, and older than 400 days: the next prune takes them.
    again = site.retention().prune()
    assert again.editions == 2 and set(statuses(store)) == {recent.id}


def test_a_subscriber_whose_editions_were_pruned_never_gets_those_papers_again(
    site: Site,
) -> None:
    site.run([*robots(1, 3), LANGUAGE[0]], at=NOW)
    later = NOW + 401 * DAY  # every edition is now older than ledger_days
    done = site.retention().prune(now=later)
    assert done.editions == 1 and rows(site.store, selections) == 0

    # The same papers again (one in a new version), and two new ones, the same day.
    revised = make_paper("2411.00001v2", title="A robot paper number 1", categories=("cs.RO",))
    second = site.edition([revised, *robots(2, 4), LANGUAGE[0]], at=NOW + dt.timedelta(hours=1))
    picked = Ledger(site.store).selected(second.id, [site.subscriber("ada").id])
    papers = site.store.papers_by_seq(i.paper_seq for its in picked.values() for i in its)
    assert sorted(p.title for p in papers.values()) == [
        "A robot paper number 4",
        "A robot paper number 5",
    ]
    assert Ledger(site.store).selected(second.id, [site.subscriber("grace").id]) == {}
    # The feed shows what the ledger keeps: the pruned edition's items are gone from it.
    feed = (site.dir / "out" / "ada" / "rss.xml").read_text("utf-8")
    assert "number 5" in feed and "number 1" not in feed


def old_bounce(site: Site, name: str, *, days: int, kind: str = "hard") -> None:
    sub = site.subscriber(name)
    site.store.record_bounce(
        BounceRow(
            key=f"{name}-{days}-{kind}",
            at=NOW - days * DAY,
            origin="mbox",
            kind=kind,
            subscriber_id=sub.id,
            edition_id=None,
            domain="example.org",
            status="5.1.1",
            detail="550 5.1.1 user unknown",
        ),
        soft_limit=3,
        soft_days=14,
    )


def test_old_bounce_events_go_and_what_they_did_stays(site: Site) -> None:
    site.run([*robots(1, 3), LANGUAGE[0]], at=NOW - 300 * DAY)
    old_bounce(site, "ada", days=200)
    old_bounce(site, "grace", days=10, kind="soft")
    store = site.store

    done = site.retention().prune()

    assert done.bounce_events == 1 and rows(store, bounce_events) == 1
    assert [e["subscriber"] for e in store.bounce_events()] == ["grace"]
    assert site.subscriber("ada").bounced  # no email to ada until she confirms again
    assert "ada@example.org" in store.suppressed(["ada@example.org"])
    assert statuses(store)  # 300 days: the edition is kept


def test_digest_prune_prints_one_summary_line_and_dry_run_deletes_nothing(
    site: Site, cli: Callable[..., CliResult]
) -> None:
    site.run([*robots(1, 3), LANGUAGE[0]], at=NOW - 500 * DAY)
    site.run(robots(1, 5), at=NOW - 5 * DAY)
    old_bounce(site, "ada", days=200)
    config = str(site.write())
    counts = rows(site.store, selections), rows(site.store, deliveries)

    dry = cli("prune", "--dry-run", "--config", config)
    assert dry.exit_code == 0, dry.err
    assert dry.out == (
        "Would prune 1 edition older than 400 days: 4 selections, 4 deliveries; "
        "1 bounce event older than 180 days.\n"
    )
    assert (rows(site.store, selections), rows(site.store, deliveries)) == counts
    assert rows(site.store, bounce_events) == 1

    real = cli("prune", "--config", config)
    assert real.exit_code == 0, real.err
    assert real.out == dry.out.replace("Would prune", "Pruned")
    assert len(statuses(site.store)) == 1
    assert cli("prune", "--config", config).out == (
        "Pruned 0 editions older than 400 days: 0 selections, 0 deliveries; "
        "0 bounce events older than 180 days.\n"
    )


def test_ledger_days_0_keeps_everything(site: Site, cli: Callable[..., CliResult]) -> None:
    site.run([*robots(1, 3), LANGUAGE[0]], at=NOW - 5000 * DAY)
    old_bounce(site, "ada", days=4000)
    config = site.write(retention={"ledger_days": 0, "bounce_events_days": 0})
    result = cli("prune", "--config", str(config))
    assert result.exit_code == 0, result.err
    assert result.out == (
        "Kept every edition ([retention] ledger_days = 0); "
        "kept every bounce event ([retention] bounce_events_days = 0).\n"
    )
    assert len(statuses(site.store)) == 1
    assert rows(site.store, bounce_events) == 1
    # Bounce events alone may still be pruned.
    site.write(retention={"ledger_days": 0})
    assert cli("prune", "--config", str(config)).out == (
        "Kept every edition ([retention] ledger_days = 0); "
        "pruned 1 bounce event older than 180 days.\n"
    )


def test_a_retention_shorter_than_what_reads_old_rows_is_one_line(
    site: Site, cli: Callable[..., CliResult]
) -> None:
    config = str(site.write(retention={"ledger_days": 5}))
    result = cli("prune", "--config", config)
    assert result.exit_code == 1 and result.out == ""
    assert result.err.startswith("Error: [retention] ledger_days = 5 must be 0 or more than ")
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    site.write(retention={"bounce_events_days": 7})
    result = cli("prune", "--config", config)
    assert result.exit_code == 1
    assert "[retention] bounce_events_days = 7" in result.err
    assert "[bounces] soft_days = 14" in result.err


def test_the_chore_prunes_once_a_day_and_goes_on_where_its_budget_stopped(site: Site) -> None:
    site.run([*robots(1, 3), LANGUAGE[0]], at=NOW - 500 * DAY)
    store = site.store
    settings = site.application().settings
    clock = [NOW]
    chore = RetentionChore(store, settings, budget_seconds=0, batch=1, now=lambda: clock[0])

    first = chore()  # one subscriber's rows (batch = 1 id), then out of time
    assert first is not None and not first.finished
    assert first.summary().endswith("(stopped early: the rest goes next time).")
    assert rows(store, selections) > 0
    second = chore()  # not a day later: it goes on since it was not finished
    assert second is not None and second.finished and second.editions == 1
    assert rows(store, selections) == rows(store, deliveries) == 0
    assert chore() is None  # done for today

    site.run(robots(1, 5), at=NOW - 399 * DAY)  # 400 days old tomorrow
    clock[0] = NOW + dt.timedelta(hours=23)
    assert chore() is None
    clock[0] = NOW + DAY + dt.timedelta(minutes=1)
    while (done := chore()) is not None and not done.finished:
        pass
    assert statuses(store) == {}


def test_an_archive_link_older_than_the_ledger_keeps_is_a_friendly_page(tmp_path: Path) -> None:
    site = Site(tmp_path, f"sqlite:///{tmp_path / 'store.sqlite3'}")
    site.run(robots(1, 3), at=NOW - 500 * DAY)
    html = next((tmp_path / "out" / "ada").glob("*/digest.html")).read_text("utf-8")
    link = re.search(r'href="https://digest\.example\.org(/archive/[^"]+)"', html)
    assert link, "the email links its web version"
    application = site.application()
    app = build_app(application, scheduler=False)
    with ServerThread(app, reserve_port()) as server, httpx.Client(base_url=server.url) as http:
        assert http.get(link.group(1)).status_code == 200
        site.retention().prune()
        page = http.get(link.group(1))
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "This edition is no longer available: digests are kept for 400 days." in page.text
