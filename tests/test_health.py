"""Source health: expected-empty days are quiet, unexpectedly empty or stale sources flagged."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import CliResult
from digest.testing import make_paper
from digest_arxiv.calendar import arxiv_feed_has_papers, arxiv_holidays
from helpers import build_pipeline, write_papers


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-11-23T12:00", True),  # Monday: Sunday evening's announcement
        ("2026-11-26T12:00", True),  # Thanksgiving Thursday: Wednesday's announcement
        ("2026-11-27T12:00", False),  # Friday after the Thanksgiving evening: none
        ("2026-11-28T12:00", False),  # Saturday
        ("2026-11-29T12:00", False),  # Sunday
        ("2026-11-30T03:00", False),  # still Sunday 22:00 in New York
        ("2026-11-30T06:00", True),  # Monday 01:00 in New York
        ("2026-01-02T15:00", False),  # after New Year's Day
        ("2026-01-20T15:00", False),  # after Martin Luther King Jr. Day
        ("2026-01-21T15:00", True),
    ],
)
def test_the_arxiv_announcement_calendar(when: str, expected: bool) -> None:
    assert arxiv_feed_has_papers(at(when)) is expected


def test_years_without_a_published_schedule_follow_arxivs_holiday_rules() -> None:
    assert sorted(arxiv_holidays(2027)) == [
        dt.date(2027, 1, 1),
        dt.date(2027, 1, 18),  # third Monday of January
        dt.date(2027, 6, 18),  # Juneteenth is a Saturday: kept on the Friday
        dt.date(2027, 7, 5),  # Independence Day is a Sunday: kept on the Monday
        dt.date(2027, 9, 6),
        dt.date(2027, 11, 25),
        dt.date(2027, 12, 24),  # Christmas is a Saturday
        dt.date(2027, 12, 31),  # New Year's Day 2028 is a Saturday
    ]
    # The published 2026 schedule is used as published (its year-end evenings included).
    assert {dt.date(2026, 12, 29), dt.date(2026, 12, 31)} <= arxiv_holidays(2026)
    assert arxiv_feed_has_papers(at("2027-11-26T15:00")) is False  # after Thanksgiving 2027
    assert arxiv_feed_has_papers(at("2027-11-25T15:00")) is True
    assert arxiv_feed_has_papers(at("2027-07-06T15:00")) is False  # after July 5
    # A year-end break the rules cannot know comes from the source's `holidays` setting.
    assert arxiv_feed_has_papers(at("2027-12-29T15:00")) is True
    assert arxiv_feed_has_papers(at("2027-12-29T15:00"), extra=[dt.date(2027, 12, 28)]) is False


def test_the_arxiv_source_takes_extra_holidays_from_its_settings(tmp_path: Path) -> None:
    from digest.testing import make_runtime
    from digest_arxiv import ArxivSource

    config = ArxivSource.Config(categories=["cs.LG"], holidays=["2027-12-28"])  # type: ignore[list-item]
    source = ArxivSource(config, instance="arxiv", runtime=make_runtime(tmp_path))
    assert source.expects_papers(at("2027-12-29T15:00")) is False
    assert source.expects_papers(at("2027-12-30T15:00")) is True


CONFIG = """
[digest]
state_dir = "state"
output_dir = "out"

[sources.watched]
component = "jsonl"
file = "papers.jsonl"
{expects}

[subscribers.ada]
channels = []
"""


def _pipeline(tmp_path: Path, expects: str = ""):
    (tmp_path / "config.toml").write_text(CONFIG.format(expects=expects))
    return build_pipeline(tmp_path / "config.toml")


DAY1 = at("2026-11-23T12:00")


def _report(pipeline, day: int = 0, hours: int = 0):
    from digest.pipeline import RunOptions

    now = DAY1 + dt.timedelta(days=day, hours=hours)
    (report,) = pipeline.run(RunOptions(now=now)).sources
    return report


def test_empty_on_an_announcement_day_is_flagged(tmp_path: Path) -> None:
    write_papers(tmp_path / "papers.jsonl", [])
    report = _report(_pipeline(tmp_path, "expects = true"))
    assert report.flag == "no papers on a day with an announcement (empty or unchanged feed)"


def test_empty_on_an_expected_empty_day_is_quiet(tmp_path: Path) -> None:
    write_papers(tmp_path / "papers.jsonl", [])
    assert _report(_pipeline(tmp_path, "expects = false")).flag is None


def test_a_source_that_usually_has_papers_is_flagged_when_empty(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path)
    for n in range(3):
        write_papers(
            tmp_path / "papers.jsonl", [make_paper(f"2411.0{n}001"), make_paper(f"2411.0{n}002")]
        )
        assert _report(pipeline, day=n).flag is None
    write_papers(tmp_path / "papers.jsonl", [])
    assert _report(pipeline, day=2, hours=3).flag is None, "polled again the same day"
    assert _report(pipeline, day=3).flag == "no papers, although its recent runs returned ~2"


def test_a_stale_feed_is_flagged(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, "expects = true")
    write_papers(tmp_path / "papers.jsonl", [make_paper("2411.00001")])
    assert _report(pipeline).flag is None
    assert _report(pipeline, hours=6).flag is None, "the same batch again the same day is fine"
    stale = _report(pipeline, day=1)
    assert stale.flag == "stale: only papers already seen, on a day with an announcement"


def test_digest_sources_shows_health(
    tmp_path: Path, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_papers(tmp_path / "papers.jsonl", [])
    _pipeline(tmp_path, "expects = true").run()
    import digest.plugins
    from helpers import TestPlugin

    original = digest.plugins.PluginHost.__init__

    def with_test_plugin(self, **kwargs):  # the CLI builds its own host
        original(self, **{**kwargs, "extra": [("tests", TestPlugin())]})

    monkeypatch.setattr(digest.plugins.PluginHost, "__init__", with_test_plugin)
    out = cli("sources", "--config", str(tmp_path / "config.toml")).out
    assert out.startswith("watched: WARNING; last success ")
    assert "warning: no papers on a day with an announcement" in out


@pytest.mark.parametrize(
    ("schedule", "after", "fires"),
    [
        ("0 7 * * 1", "2026-11-23T05:00", "2026-11-23T12:00"),  # Monday, crontab's 1
        ("0 7 * * 0", "2026-11-23T05:00", "2026-11-29T12:00"),  # Sunday
        ("0 7 * * 7", "2026-11-23T05:00", "2026-11-29T12:00"),  # Sunday again
        ("0 7 * * 1-5", "2026-11-27T13:00", "2026-11-30T12:00"),  # Friday after 7 → Monday
        ("30 6 * * mon-fri", "2026-11-28T00:00", "2026-11-30T11:30"),
    ],
)
def test_cron_weekdays_mean_what_crontab_means(schedule: str, after: str, fires: str) -> None:
    from digest.cron import next_fire

    fire = next_fire(schedule, "America/New_York", after=at(after))
    assert fire is not None and fire.astimezone(dt.UTC) == at(fires)
