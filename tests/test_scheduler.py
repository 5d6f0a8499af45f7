"""`digest serve`'s scheduler: editions at 07:00 local through DST, restarts, job sync.

The clock is time-machine's (frozen; every thread sees it), moved to where a test wants it;
the scheduler is then woken up and the test waits (with a timeout) for what it expects.
Every run is a real pipeline run against a real store, writing digests with the files
deliverer.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine
from configs import JSONL_SOURCE, config_text

from digest.models import Subscriber
from digest.scheduler import RUN_LISTENERS, EditionScheduler, SlotRun, slot_id
from digest.store import Store, deliveries, editions, subscribers
from digest.testing import make_paper
from helpers import TestPlugin, write_papers

UTC = dt.UTC
BERLIN = slot_id("0 7 * * *", "Europe/Berlin")
NEW_YORK = slot_id("0 7 * * *", "America/New_York")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def wait_until(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout  # time-machine leaves the monotonic clock alone
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Papers:
    """The source's JSON Lines file; each call adds one new robot paper."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.papers: list[Any] = []
        write_papers(path, [])

    def add(self) -> None:
        n = len(self.papers) + 1
        self.papers.append(
            make_paper(f"2610.{n:05d}", title=f"A robot paper number {n}", categories=("cs.RO",))
        )
        write_papers(self.path, self.papers)


@pytest.fixture
def runs() -> Iterator[list[SlotRun]]:
    """Every finished slot run, in order."""
    seen: list[SlotRun] = []
    RUN_LISTENERS.append(seen.append)
    yield seen
    RUN_LISTENERS.remove(seen.append)


@pytest.fixture(autouse=True)
def test_components(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs build their own plugin host; give it the test source (JSON Lines)."""
    import digest.plugins

    original = digest.plugins.PluginHost.__init__

    def with_test_plugin(self: Any, **kwargs: Any) -> None:
        original(self, **{**kwargs, "extra": [("tests", TestPlugin())]})

    monkeypatch.setattr(digest.plugins.PluginHost, "__init__", with_test_plugin)


@pytest.fixture
def schedulers() -> Iterator[Callable[..., EditionScheduler]]:
    """Make EditionSchedulers; whatever a test leaves running is shut down after it."""
    made: list[EditionScheduler] = []

    def make(database_url: str, config: Path | None) -> EditionScheduler:
        scheduler = EditionScheduler(database_url=database_url, config_path=config)
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        scheduler.shutdown(wait=True)


def write_config(tmp_path: Path, database_url: str, *subs: tuple[str, str, str]) -> Path:
    """The tests' configuration (tests/configs.py) on ``database_url``: papers from a file,
    email only, and one subscriber per ``(name, schedule, timezone)``."""
    text = config_text(
        digest={"database": database_url, "workers": 1},
        selection={"rankers": {"keywords": 1.0, "recency": None}},
        sources={"sample": None, **JSONL_SOURCE},
        rankers={"recency": None},
        renderers={"feed": None},
        subscribers={
            name: {
                "email": f"{name}@example.org",
                "keywords": ["robot"],
                "channels": ["email"],
                "schedule": schedule,
                "timezone": timezone,
            }
            for name, schedule, timezone in subs
        },
    )
    path = tmp_path / "config.toml"
    path.write_text(text, "utf-8")
    return path


def configured(config: Path) -> list[Subscriber]:
    from digest.config import load_settings

    settings = load_settings(config).settings
    return [s.to_subscriber(n) for n, s in settings.subscribers.items()]


def next_fire(scheduler: EditionScheduler) -> dt.datetime:
    return min(when for _, when in scheduler.jobs() if when is not None)


def fire_next(
    scheduler: EditionScheduler, clock: time_machine.Traveller, runs: list[SlotRun]
) -> dt.datetime:
    """Move the clock to the scheduler's next fire time and wait for that fire's runs."""
    when = next_fire(scheduler)
    assert when > dt.datetime.now(UTC), "a job was left behind in the past"
    due = sum(1 for _, t in scheduler.jobs() if t == when)
    expected = len(runs) + due
    clock.move_to(when)
    scheduler.wakeup()
    wait_until(lambda: len(runs) >= expected, f"{due} run(s) at {when}")
    # The scheduler has moved each fired job to its next fire time.
    wait_until(lambda: next_fire(scheduler) > when, "the jobs' next fire times")
    return when


def editions_of(database_url: str) -> dict[str, list[dt.datetime]]:
    """Per subscriber, when each edition they got a digest in was created (UTC)."""
    store = Store.open(database_url)
    try:
        query = (
            sa.select(subscribers.c.name, editions.c.created_at)
            .select_from(
                deliveries.join(editions, deliveries.c.edition_id == editions.c.id).join(
                    subscribers, deliveries.c.subscriber_id == subscribers.c.id
                )
            )
            .where(deliveries.c.status == "sent")
            .order_by(editions.c.created_at)
        )
        found: dict[str, list[dt.datetime]] = {}
        with store.engine.connect() as conn:
            for name, created in conn.execute(query):
                created = created if created.tzinfo else created.replace(tzinfo=UTC)
                found.setdefault(name, []).append(created.astimezone(UTC))
        return found
    finally:
        store.close()


def test_each_subscriber_gets_one_edition_a_day_at_7_local_across_dst(
    tmp_path: Path, runs: list[SlotRun], schedulers: Callable[..., EditionScheduler]
) -> None:
    database_url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    config = write_config(
        tmp_path,
        database_url,
        ("berlin", "0 7 * * *", "Europe/Berlin"),
        ("newyork", "0 7 * * *", "America/New_York"),
    )
    papers = Papers(tmp_path / "papers.jsonl")
    with time_machine.travel(at("2026-10-23T12:00"), tick=False) as clock:
        scheduler = schedulers(database_url, config)
        assert scheduler.sync(configured(config)).added == (NEW_YORK, BERLIN)
        scheduler.start()
        while next_fire(scheduler) < at("2026-11-03T00:00"):
            papers.add()  # something new to read every time
            fire_next(scheduler, clock, runs)
        scheduler.shutdown()

    # Europe leaves summer time on Sunday 25 October, the US on Sunday 1 November.
    berlin = [at("2026-10-24T05:00")] + [at(f"2026-{d}T06:00") for d in _days("10-25", 9)]
    new_york = [at(f"2026-{d}T11:00") for d in _days("10-24", 8)] + [
        at("2026-11-01T12:00"),
        at("2026-11-02T12:00"),
    ]
    assert [r.started for r in runs if r.slot == BERLIN] == berlin
    assert [r.started for r in runs if r.slot == NEW_YORK] == new_york
    assert all(r.error is None and r.report and r.report.delivered == 1 for r in runs)
    got = editions_of(database_url)
    assert got == {"berlin": berlin, "newyork": new_york}
    for name, zone, times in (
        ("berlin", "Europe/Berlin", berlin),
        ("newyork", "America/New_York", new_york),
    ):
        local = [t.astimezone(ZoneInfo(zone)) for t in times]
        assert {(t.hour, t.minute) for t in local} == {(7, 0)}
        assert len({t.date() for t in local}) == len(local) == 10  # one a day, ten days
        assert len(list((tmp_path / "out" / name).glob("*/digest.txt"))) == 10


def _days(first: str, count: int) -> list[str]:
    start = dt.date.fromisoformat(f"2026-{first}")
    return [f"{start + dt.timedelta(days=i):%m-%d}" for i in range(count)]


def test_a_restart_delivers_the_missed_edition_once(
    tmp_path: Path,
    database_url: str,
    runs: list[SlotRun],
    schedulers: Callable[..., EditionScheduler],
) -> None:
    config = write_config(tmp_path, database_url, ("berlin", "0 7 * * *", "Europe/Berlin"))
    papers = Papers(tmp_path / "papers.jsonl")
    papers.add()
    with time_machine.travel(at("2026-11-02T05:00"), tick=False) as clock:
        first = schedulers(database_url, config)
        first.sync(configured(config))
        first.start()
        assert fire_next(first, clock, runs) == at("2026-11-02T06:00")  # 07:00 in Berlin
        clock.move_to(at("2026-11-02T12:00"))
        first.shutdown()

        # Down for two fires (3 and 4 November, 06:00 UTC); new papers meanwhile.
        papers.add()
        papers.add()
        clock.move_to(at("2026-11-04T09:00"))
        second = schedulers(database_url, config)
        assert second.sync(configured(config)).kept == (BERLIN,)
        assert second.jobs() == [(BERLIN, at("2026-11-03T06:00"))]  # the missed fire is kept
        second.start()
        wait_until(lambda: len(runs) == 2, "the missed edition")
        wait_until(lambda: next_fire(second) > at("2026-11-04T09:00"), "the next fire")
        assert second.jobs() == [(BERLIN, at("2026-11-05T06:00"))]
        second.shutdown()  # waits for anything it started
        assert len(runs) == 2  # coalesced: one run for both missed fires
        assert runs[1].started == at("2026-11-04T09:00")
        assert runs[1].report is not None and runs[1].report.delivered == 1
        assert editions_of(database_url) == {
            "berlin": [at("2026-11-02T06:00"), at("2026-11-04T09:00")]
        }

        # Restarted again at the same instant: nothing was missed, nothing runs.
        third = schedulers(database_url, config)
        assert third.sync(configured(config)).kept == (BERLIN,)
        third.start()
        wait_until(lambda: third.last_check == at("2026-11-04T09:00"), "the scheduler's look")
        third.shutdown()
    assert len(runs) == 2
    assert len(editions_of(database_url)["berlin"]) == 2
    assert len(list((tmp_path / "out" / "berlin").glob("*/digest.txt"))) == 2


def _sub(name: str, schedule: str, timezone: str, *, active: bool = True) -> Subscriber:
    return Subscriber(name=name, schedule=schedule, timezone=timezone, active=active)


def test_sync_follows_subscribers_and_jobs_persist(
    tmp_path: Path, database_url: str, schedulers: Callable[..., EditionScheduler]
) -> None:
    weekdays = slot_id("30 6 * * 1-5", "America/New_York")
    eight = slot_id("0 8 * * *", "Europe/Berlin")
    with time_machine.travel(at("2026-11-06T12:00"), tick=False):  # a Friday
        first = schedulers(database_url, None)
        ada = _sub("ada", "0 7 * * *", "Europe/Berlin")
        bob = _sub("bob", "0 7 * * *", "Europe/Berlin")
        cy = _sub("cy", "30 6  * * 1-5", "America/New_York")  # spacing does not matter
        result = first.sync([ada, bob, cy])
        assert (result.added, result.removed, result.kept) == ((weekdays, BERLIN), (), ())
        expected = [(BERLIN, at("2026-11-07T06:00")), (weekdays, at("2026-11-09T11:30"))]
        assert first.jobs() == expected
        first.shutdown()

        # Another instance (a restart) finds the same jobs in the database.
        second = schedulers(database_url, None)
        assert second.jobs() == expected
        result = second.sync([ada, bob, cy])
        assert (result.added, result.removed, result.kept) == ((), (), (weekdays, BERLIN))
        # Ada moves to 08:00; Bob keeps the 07:00 slot alive.
        ada = _sub("ada", "0 8 * * *", "Europe/Berlin")
        result = second.sync([ada, bob, cy])
        assert (result.added, result.removed) == ((eight,), ())
        # Bob moves too: the 07:00 slot has nobody left and goes; Cy pauses.
        bob = _sub("bob", "0 8 * * *", "Europe/Berlin")
        cy = _sub("cy", "30 6 * * 1-5", "America/New_York", active=False)
        result = second.sync([ada, bob, cy])
        assert (result.added, result.removed, result.kept) == ((), (weekdays, BERLIN), (eight,))
        bad = second.sync([ada, _sub("dee", "0 7 * * *", "Mars/Olympus_Mons")])
        assert bad.invalid == (slot_id("0 7 * * *", "Mars/Olympus_Mons"),)
        second.shutdown()

        third = schedulers(database_url, None)
        assert third.jobs() == [(eight, at("2026-11-07T07:00"))]
        assert third.sync([]).removed == (eight,)
        assert third.jobs() == []


def test_a_failing_run_is_logged_and_the_next_slot_still_runs(
    tmp_path: Path,
    runs: list[SlotRun],
    schedulers: Callable[..., EditionScheduler],
    caplog: pytest.LogCaptureFixture,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    config = write_config(
        tmp_path,
        database_url,
        ("ada", "0 7 * * *", "UTC"),
        ("grace", "0 8 * * *", "UTC"),
    )
    good = config.read_text()
    papers = Papers(tmp_path / "papers.jsonl")
    papers.add()
    caplog.set_level(logging.INFO, logger="digest.scheduler")
    with time_machine.travel(at("2026-11-02T06:00"), tick=False) as clock:
        scheduler = schedulers(database_url, config)
        scheduler.sync(configured(config))
        scheduler.start()
        config.write_text(good + "\n[digest.oops\n")  # broken by an edit
        assert fire_next(scheduler, clock, runs) == at("2026-11-02T07:00")
        failure = runs[-1]
        assert failure.slot == slot_id("0 7 * * *", "UTC") and failure.report is None
        assert failure.error is not None and "invalid TOML" in failure.error
        logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert [m.split(": run failed: ")[0] for m in logged] == [failure.slot]
        assert "config.toml: invalid TOML" in logged[0]
        assert scheduler.running

        config.write_text(good)  # fixed
        assert fire_next(scheduler, clock, runs) == at("2026-11-02T08:00")
        assert runs[-1].report is not None and runs[-1].report.delivered == 1
        assert fire_next(scheduler, clock, runs) == at("2026-11-03T07:00")  # and Ada's next
        assert runs[-1].report is not None and runs[-1].report.delivered == 1
    assert editions_of(database_url) == {
        "ada": [at("2026-11-03T07:00")],
        "grace": [at("2026-11-02T08:00")],
    }
    summaries = [r.getMessage() for r in caplog.records if r.name == "digest.scheduler"]
    delivered = [m.split(": ")[0] for m in summaries if ": delivered 1 in edition " in m]
    assert delivered == [slot_id("0 8 * * *", "UTC"), slot_id("0 7 * * *", "UTC")]


def test_shutdown_waits_for_the_running_edition(
    tmp_path: Path, runs: list[SlotRun], schedulers: Callable[..., EditionScheduler]
) -> None:
    database_url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    config = write_config(tmp_path, database_url, ("ada", "0 7 * * *", "UTC"))
    Papers(tmp_path / "papers.jsonl").add()
    inside, release = threading.Event(), threading.Event()

    def slow_finish(run: SlotRun) -> None:  # still inside the job
        inside.set()
        release.wait(30)

    RUN_LISTENERS.append(slow_finish)
    try:
        with time_machine.travel(at("2026-11-02T06:59"), tick=False) as clock:
            scheduler = schedulers(database_url, config)
            scheduler.sync(configured(config))
            scheduler.start()
            clock.move_to(at("2026-11-02T07:00"))
            scheduler.wakeup()
            wait_until(inside.is_set, "the edition to start")
            stopping = threading.Thread(target=scheduler.shutdown)
            stopping.start()
            stopping.join(0.3)
            assert stopping.is_alive()  # SIGTERM arrived mid-edition: still waiting for it
            release.set()
            stopping.join(10)
            assert not stopping.is_alive() and not scheduler.running
    finally:
        RUN_LISTENERS.remove(slow_finish)
    assert len(runs) == 1 and runs[0].report is not None and runs[0].report.delivered == 1
    assert editions_of(database_url) == {"ada": [at("2026-11-02T07:00")]}
