"""arXiv's announcement calendar: when its daily feeds should carry papers.

arXiv announces Sunday–Thursday at 20:00 US/Eastern and rebuilds its RSS/Atom feeds around
midnight Eastern, so the feed dated Monday–Friday carries the previous evening's batch and
the weekend feeds are empty. Holidays defer a mailing: no announcement on the evening of a
holiday, so the next feed is empty (FIELD-NOTES; arXiv's published schedule).

arXiv publishes its schedule a year at a time. The holidays it keeps every year follow fixed
rules (:func:`arxiv_holidays`): New Year's Day, Martin Luther King Jr. Day, Juneteenth,
Independence Day, Labor Day, Thanksgiving and Christmas, a Saturday holiday observed on the
Friday before and a Sunday one on the Monday after. Years whose schedule has been published
use it as published (:data:`PUBLISHED`: 2026 adds two year-end evenings); other days arXiv
announces, such as a year-end break, go in the source's ``holidays`` setting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache
from zoneinfo import ZoneInfo

ARXIV_TZ = ZoneInfo("America/New_York")

#: Evenings without an announcement as arXiv published them, by year.
PUBLISHED: dict[int, frozenset[dt.date]] = {
    2026: frozenset(
        dt.date.fromisoformat(day)
        for day in (
            "2026-01-01",
            "2026-01-19",
            "2026-06-19",
            "2026-07-03",
            "2026-09-07",
            "2026-11-26",
            "2026-12-25",
            "2026-12-29",
            "2026-12-31",
        )
    )
}

#: the 2026 schedule (kept under its former name)
ARXIV_HOLIDAYS = PUBLISHED[2026]


def _observed(day: dt.date) -> dt.date:
    """A holiday on a Saturday is kept on the Friday before, on a Sunday the Monday after."""
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


def _nth(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The ``n``-th ``weekday`` (Monday = 0) of the month."""
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


@lru_cache(maxsize=32)
def arxiv_holidays(year: int) -> frozenset[dt.date]:
    """The evenings of ``year`` without an announcement: as published, else by the rules."""
    if year in PUBLISHED:
        return PUBLISHED[year]
    days = {
        _observed(dt.date(year, 1, 1)),
        _nth(year, 1, 0, 3),  # Martin Luther King Jr. Day: third Monday of January
        _observed(dt.date(year, 6, 19)),  # Juneteenth
        _observed(dt.date(year, 7, 4)),  # Independence Day
        _nth(year, 9, 0, 1),  # Labor Day: first Monday of September
        _nth(year, 11, 3, 4),  # Thanksgiving: fourth Thursday of November
        _observed(dt.date(year, 12, 25)),
        _observed(dt.date(year + 1, 1, 1)),  # a Saturday New Year's Day: Friday, Dec 31
    }
    return frozenset(d for d in days if d.year == year)


def arxiv_feed_date(now: dt.datetime) -> dt.date:
    """The date of the arXiv feed being served at ``now`` (the Eastern calendar day)."""
    return now.astimezone(ARXIV_TZ).date()


def arxiv_feed_has_papers(
    now: dt.datetime,
    *,
    holidays: Iterable[dt.date] | None = None,
    extra: Iterable[dt.date] = (),
) -> bool:
    """Whether arXiv's feed served at ``now`` should carry an announcement.

    ``False`` on Saturday and Sunday, and on the first feed day after a holiday evening.
    ``holidays`` replaces the calendar (default: :func:`arxiv_holidays` of the evening's
    year); ``extra`` adds evenings to it (the source's ``holidays`` setting).
    """
    day = arxiv_feed_date(now)
    if day.weekday() >= 5:  # Saturday, Sunday
        return False
    evening = day - dt.timedelta(days=3 if day.weekday() == 0 else 1)  # Monday ← Sunday
    known = set(holidays) if holidays is not None else set(arxiv_holidays(evening.year))
    return evening not in known | set(extra)


__all__ = [
    "ARXIV_HOLIDAYS",
    "ARXIV_TZ",
    "PUBLISHED",
    "arxiv_feed_date",
    "arxiv_feed_has_papers",
    "arxiv_holidays",
]
