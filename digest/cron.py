"""Cron schedules: standard 5-field crontab lines as APScheduler triggers, and when they fire.

A subscriber's ``schedule`` is a crontab line in their own ``timezone``; :func:`next_fire` says
when it fires next (``digest run --due``) and :func:`cron_trigger` is what the edition
scheduler (:mod:`digest.scheduler`) runs jobs on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

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
