"""Reading NCBI ``esearch.fcgi`` replies (``retmode=json``) and NCBI's error bodies.

A search answers ``{"header": {...}, "esearchresult": {"count": "42", "retmax": "20",
"retstart": "0", "idlist": ["39000001", ...], "querytranslation": "...", "errorlist": {...},
"warninglist": {...}}}``; the counts are strings. A query NCBI cannot run comes back as
``{"esearchresult": {"ERROR": "..."}}`` (or a top-level ``"ERROR"``), and a refused request as
``{"error": "API rate limit exceeded", "api-key": "...", "count": "11", "limit": "10"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from digest import SourceError, parse_json

from .ncbi import clip, error_message

__all__ = ["SearchPage", "parse_search"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchPage:
    """One page of PMIDs and what NCBI said about the query."""

    count: int
    retstart: int
    ids: tuple[str, ...]
    #: phrases or fields of the query PubMed ignored (``errorlist``): the query ran without them
    ignored: tuple[str, ...] = ()


def parse_search(content: bytes, *, url: str) -> SearchPage:
    """Parse one esearch reply; raise :class:`digest.SourceError` naming ``url`` for NCBI's
    error replies and for anything that is not the documented JSON object."""
    data = _load_json(content, url)
    message = error_message(content)
    if message:
        raise SourceError(f"{url}: NCBI esearch error: {message}")
    result = data.get("esearchresult")
    if not isinstance(result, Mapping):
        raise SourceError(f"{url}: expected an esearch reply, got JSON without 'esearchresult'")
    count = _number(result.get("count"))
    ids = result.get("idlist")
    if count is None or not isinstance(ids, list):
        raise SourceError(f"{url}: esearch reply without a count and an idlist")
    pmids = tuple(str(i).strip() for i in ids if isinstance(i, str | int) and str(i).strip())
    bad = [p for p in pmids if not p.isdigit()]
    if bad:
        raise SourceError(f"{url}: esearch idlist holds {bad[0]!r}, not a PMID")
    retstart = _number(result.get("retstart")) or 0
    return SearchPage(count=count, retstart=retstart, ids=pmids, ignored=_ignored(result))


def _load_json(content: bytes, url: str) -> Mapping[str, Any]:
    if content.lstrip()[:1] == b"<":
        message = error_message(content)  # NCBI answers some errors as an XML document
        if message:
            raise SourceError(f"{url}: NCBI esearch error: {message}")
    data = parse_json(content, url=url, expected="esearch JSON")
    if not isinstance(data, Mapping):
        raise SourceError(f"{url}: expected a JSON object, got a JSON {type(data).__name__}")
    return data


def _number(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _ignored(result: Mapping[str, Any]) -> tuple[str, ...]:
    errors = result.get("errorlist")
    if not isinstance(errors, Mapping):
        return ()
    found: list[str] = []
    for key in ("phrasesnotfound", "fieldsnotfound"):
        values = errors.get(key)
        if isinstance(values, list):
            found.extend(clip(v, 80) for v in values if isinstance(v, str) and v.strip())
    return tuple(found)
