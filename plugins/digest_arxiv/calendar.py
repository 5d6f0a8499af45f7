"""arXiv's announcement calendar: when its daily feeds should carry papers.

arXiv announces Sunday–Thursday at 20:00 US/Eastern and rebuilds its RSS/Atom feeds around
midnight Eastern, so the feed dated Monday–Friday carries the previous evening's batch and
the weekend feeds are empty. Holidays defer a mailing: no announcement on the evening of a
listed holiday, so the next feed is empty (FIELD-NOTES; arXiv's published schedule).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
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


__all__ = ["ARXIV_HOLIDAYS", "ARXIV_TZ", "arxiv_feed_date", "arxiv_feed_has_papers"]
