"""What the built-in importers share: reading JSON values defensively and paging limits."""

from __future__ import annotations

import datetime as dt
from typing import Any

#: no importer reads more than this many papers from one ref
MAX_PAPERS = 10_000


def text(value: Any) -> str:
    """``value`` if it is a non-empty string, else ``""`` (JSON fields may be null or odd)."""
    return value.strip() if isinstance(value, str) else ""


def dig(value: Any, *keys: str | int) -> Any:
    """``value[k1][k2]…``, or ``None`` where a level is missing or of another type."""
    for key in keys:
        if isinstance(key, int):
            if not isinstance(value, list) or not -len(value) <= key < len(value):
                return None
        elif not isinstance(value, dict):
            return None
        value = value[key] if isinstance(key, int) else value.get(key)
    return value


def published(year: Any, month: Any = None, day: Any = None) -> dt.datetime | None:
    """A UTC date from year, month and day (strings or numbers) when all three are there and
    valid; a year alone says too little to be a publication time."""
    try:
        return dt.datetime(int(year), int(month), int(day), tzinfo=dt.UTC)
    except (TypeError, ValueError):
        return None
