"""Schedules and calendars: when subscribers are due, and when arXiv announces.

arXiv announces Sunday–Thursday at 20:00 US/Eastern and rebuilds its RSS/Atom feeds around
midnight Eastern, so the feed dated Monday–Friday carries the previous evening's batch and
the weekend feeds are empty. Holidays defer a mailing: no announcement on the evening of a
listed holiday, so the next feed is empty (FIELD-NOTES; arXiv's published schedule).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

ARXIV_TZ = ZoneInfo("America/New_York")

#: Evenings without an announcement (arXiv's published holiday schedule).
ARXIV_HOLIDAYS: frozenset[dt.date] = frozenset(
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


def arxiv_feed_date(now: dt.datetime) -> dt.date:
    """The date of the arXiv feed being served at ``now`` (the Eastern calendar day)."""
    return now.astimezone(ARXIV_TZ).date()


def arxiv_feed_has_papers(
    now: dt.datetime, *, holidays: Iterable[dt.date] = ARXIV_HOLIDAYS
) -> bool:
    """Whether arXiv's feed served at ``now`` should carry an announcement.

    ``False`` on Saturday and Sunday, and on the first feed day after a holiday evening.
    """
    day = arxiv_feed_date(now)
    if day.weekday() >= 5:  # Saturday, Sunday
        return False
    evening = day - dt.timedelta(days=3 if day.weekday() == 0 else 1)  # Monday ← Sunday
    return evening not in set(holidays)


_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _crontab_days(field: str) -> str:
    """A crontab day-of-week field (0 or 7 = Sunday) as APScheduler day names.

    APScheduler 3's ``CronTrigger.from_crontab`` reads numbers with its own convention
    (0 = Monday), so ``0 7 * * 1`` would fire on Tuesdays; names mean the same to both.
    """
    if field == "*":
        return field
    days: set[int] = set()
    for item in field.lower().split(","):
        part, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if part == "*":
            first, last = 0, 6
        elif "-" in part:
            a, b = part.split("-", 1)
            first, last = _day(a), _day(b)
            if last == 0 and b.strip() == "7":
                last = 7
        else:
            first = last = _day(part)
            if step_text:
                last = 6
        if step < 1 or last < first:
            raise ValueError(f"day-of-week {item!r} is not a valid range")
        days.update(d % 7 for d in range(first, last + 1, step))
    return ",".join(_DAYS[d] for d in sorted(days))


def _day(text: str) -> int:
    text = text.strip()
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text) % 7 if int(text) != 7 else 7
    if text[:3] in _DAYS:
        return _DAYS.index(text[:3])
    raise ValueError(f"unknown day of week {text!r}")


def cron_trigger(schedule: str, timezone: str) -> Any:
    """APScheduler's trigger for a standard 5-field crontab line in ``timezone``."""
    from apscheduler.triggers.cron import CronTrigger

    fields = schedule.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_crontab_days(weekday),
        timezone=ZoneInfo(timezone),
    )


def next_fire(schedule: str, timezone: str, *, after: dt.datetime) -> dt.datetime | None:
    """The first time the cron ``schedule`` fires after ``after`` (in the subscriber's zone)."""
    fire: dt.datetime | None = cron_trigger(schedule, timezone).get_next_fire_time(None, after)
    return fire
