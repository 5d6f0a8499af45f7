"""Turning an OpenReview API v2 ``GET /notes`` reply into :class:`~digest.models.Paper`s.

Pure functions over bytes. A reply is ``{"notes": [...], "count": N}``; each note has ``id``,
``forum``, ``number``, times in milliseconds since the epoch (``cdate`` created, ``tcdate``,
``mdate``/``tmdate`` modified, ``odate`` made public, ``pdate`` accepted) and ``content``, whose
fields are ``{"value": ...}`` objects: ``title``, ``abstract``, ``authors``, ``keywords``,
``venue`` ("ICLR 2025 Poster"), ``venueid``, ``pdf`` ("/pdf/<hash>.pdf"), ``TLDR`` (or
``TL;DR``), ``_bibtex``. Fields hidden from the public (authors of a submission under
double-blind review) are simply absent. Errors come as
``{"name": "NotFoundError", "message": "...", "status": 404}``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from digest import (
    SourceError,
    canonical_id,
    find_arxiv,
    normalize_doi,
    one_line,
    parse_json,
    safe_url,
    strip_invalid,
)
from digest.models import Author, Paper, SignalValue

from .text import plain

__all__ = ["NotesPage", "Sighting", "api_error", "parse_notes"]

Which = Literal["accepted", "submissions"]
#: venue ids a submission moves to when it leaves the running
_GONE = ("/Withdrawn_Submission", "/Desk_Rejected_Submission")
_BIBTEX_FIELD = re.compile(r"\b(doi|eprint|journal|note|url)\s*=\s*[{\"]([^}\"]*)[}\"]", re.I)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sighting:
    """One paper of a reply and the note's times (milliseconds since the epoch)."""

    paper: Paper
    #: when the note last changed: the latest of its creation, modification, publication and
    #: acceptance times
    changed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NotesPage:
    """One parsed reply."""

    sightings: tuple[Sighting, ...]
    #: notes in the reply, skipped ones included (what paging compares with the limit)
    notes: int
    #: the reply's ``count``: how many notes match the query in all
    count: int | None
    #: every note's last change, in reply order (skipped notes included)
    changes: tuple[int, ...] = ()
    #: notes without an id or a title
    incomplete: int = 0
    #: withdrawn, desk-rejected or (for accepted papers) not in the venue
    left_out: int = 0


def parse_notes(
    content: bytes,
    *,
    url: str,
    source: str = "openreview",
    venue: str,
    which: Which = "accepted",
    web_url: str = "https://openreview.net",
) -> NotesPage:
    """Parse one ``/notes`` reply. Raises :class:`digest.SourceError` naming ``url`` for
    OpenReview's error JSON and for anything that is not the documented object."""
    data = _load(content, url)
    message = api_error(data)
    if message:
        raise SourceError(f"{url}: OpenReview error: {message}")
    notes = data.get("notes")
    if not isinstance(notes, list):
        raise SourceError(f"{url}: expected a reply with a 'notes' list")
    count = _integer(data.get("count"))
    sightings: list[Sighting] = []
    incomplete = left_out = 0
    changes: list[int] = []
    for note in notes:
        if not isinstance(note, Mapping):
            incomplete += 1
            continue
        changes.append(_changed(note))
        content_ = note.get("content")
        fields: Mapping[str, Any] = content_ if isinstance(content_, Mapping) else {}
        if not _kept(fields, venue, which):
            left_out += 1
            continue
        sighting = _sighting(note, fields, source=source, web_url=web_url.rstrip("/"), which=which)
        if sighting is None:
            incomplete += 1
        else:
            sightings.append(sighting)
    return NotesPage(
        sightings=tuple(sightings),
        notes=len(notes),
        count=count,
        changes=tuple(changes),
        incomplete=incomplete,
        left_out=left_out,
    )


def api_error(data: Any) -> str | None:
    """OpenReview's error (``{"name": ..., "message": ...}``) as one line, else ``None``."""
    if not isinstance(data, Mapping) or "notes" in data:
        return None
    name, message = data.get("name"), data.get("message")
    if not isinstance(message, str) or not message.strip():
        return None
    text = f"{name}: {message}" if isinstance(name, str) and name.strip() else message
    return _clip(text)


def error_in(content: bytes) -> str | None:
    """OpenReview's error message in an error reply's body, else ``None``."""
    try:
        return api_error(json.loads(content))
    except (UnicodeDecodeError, ValueError):
        return None


def _load(content: bytes, url: str) -> Mapping[str, Any]:
    data = parse_json(content, url=url, expected="OpenReview notes JSON")
    if not isinstance(data, Mapping):
        raise SourceError(f"{url}: expected a JSON object, got a JSON {type(data).__name__}")
    return data


def _kept(fields: Mapping[str, Any], venue: str, which: Which) -> bool:
    venue_id = _text(_value(fields, "venueid"))
    if venue_id and venue_id.endswith(_GONE):
        return False
    # Accepted papers carry the venue's own id; a note that does not was not accepted there.
    return which != "accepted" or venue_id in (None, venue)


def _changed(note: Mapping[str, Any]) -> int:
    times = (
        _integer(note.get(k)) for k in ("cdate", "tcdate", "mdate", "tmdate", "odate", "pdate")
    )
    return max((t for t in times if t is not None), default=0)


def _sighting(
    note: Mapping[str, Any],
    fields: Mapping[str, Any],
    *,
    source: str,
    web_url: str,
    which: Which,
) -> Sighting | None:
    forum = _text(note.get("forum")) or _text(note.get("id"))
    raw_title = _text(_value(fields, "title"))
    title = plain(raw_title) if raw_title else ""
    if not forum or not title:
        return None
    times = {k: _integer(note.get(k)) for k in ("cdate", "tcdate", "mdate", "tmdate", "odate")}
    accepted = _integer(note.get("pdate"))
    changed = _changed(note)
    authors = _authors(_value(fields, "authors"))
    arxiv, doi = _ids(fields)
    first = authors[0].name if authors else None
    paper_id, version = canonical_id(title=title, first_author=first, arxiv=arxiv, doi=doi)
    forum_url = f"{web_url}/forum?id={forum}"
    aliases = [f"url:{forum_url}"]
    if paper_id.kind == "arxiv":
        aliases.insert(0, f"arxiv:{paper_id.value}")
    if doi:
        aliases.append(f"doi:{doi}")
    if paper_id.kind != "fp":
        aliases.append(str(canonical_id(title=title, first_author=first)[0]))
    published = _moment(times["odate"] or times["cdate"] or times["tcdate"])
    # The day it reached the venue's list: accepted, else (a submission) made public.
    listed = _moment(accepted or changed) if which == "accepted" else published
    pdf = _text(_value(fields, "pdf"))
    return Sighting(
        paper=Paper(
            id=paper_id,
            title=title,
            abstract=_plain(_value(fields, "abstract")),
            authors=authors,
            url=forum_url,
            pdf_url=safe_url(f"{web_url}{pdf}" if pdf and pdf.startswith("/") else pdf),
            code_url=safe_url(_text(_value(fields, "code"))),
            doi=doi,
            announced=listed.date() if listed else None,
            published=published,
            updated=_moment(times["tmdate"] or times["mdate"]),
            version=version,
            sources=(source,),
            signals=_signals(fields, accepted),
            aliases=tuple(dict.fromkeys(aliases)),
        ),
        changed=changed,
    )


def _ids(fields: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The arXiv id and DOI a note names for itself (its BibTeX, or a ``doi`` field)."""
    arxiv: str | None = None
    doi = normalize_doi(_text(_value(fields, "doi")) or "")
    for key, value in _BIBTEX_FIELD.findall(_text(_value(fields, "_bibtex")) or ""):
        key = key.lower()
        if key == "doi" and not doi:
            doi = normalize_doi(value)
        elif key != "doi" and arxiv is None:
            ref = find_arxiv(value)
            arxiv = f"{ref.id}v{ref.version}" if ref and ref.version else ref.id if ref else None
    if doi and doi.startswith("10.48550/"):  # arXiv's own DOI names the arXiv paper
        arxiv = arxiv or doi
    return arxiv, doi


def _authors(value: Any) -> tuple[Author, ...]:
    if not isinstance(value, list):
        return ()
    names = (one_line(strip_invalid(v)) for v in value if isinstance(v, str))
    return tuple(Author(name=name) for name in names if name)


def _signals(fields: Mapping[str, Any], accepted: int | None) -> dict[str, SignalValue]:
    signals: dict[str, SignalValue] = {}
    venue = _text(_value(fields, "venue"))
    if venue:
        signals["openreview.venue"] = one_line(strip_invalid(venue))
    venue_id = _text(_value(fields, "venueid"))
    if venue_id:
        signals["openreview.venueid"] = venue_id
    keywords = _value(fields, "keywords")
    if isinstance(keywords, list):
        # Commas inside a keyword would be read as separators later; they become spaces.
        words = [
            " ".join(plain(k).replace(",", " ").split()) for k in keywords if isinstance(k, str)
        ]
        joined = ", ".join(w for w in words if w)
        if joined:
            signals["openreview.keywords"] = joined
    moment = _moment(accepted)
    if moment:
        signals["openreview.accepted_at"] = moment.isoformat()
    tldr = next(
        (_plain(_value(fields, k)) for k in ("TLDR", "TL;DR", "tldr") if _value(fields, k)), ""
    )
    if tldr:
        # The authors' own one-line summary: what the digest shows as the paper's TL;DR.
        signals["tldr"] = tldr
        signals["tldr_source"] = "openreview"
    return signals


def _value(fields: Mapping[str, Any], key: str) -> Any:
    """A content field's value: ``{"value": x}`` in API v2, the bare value in older notes."""
    field = fields.get(key)
    return field.get("value") if isinstance(field, Mapping) else field


def _plain(value: Any) -> str:
    return plain(value) if isinstance(value, str) else ""


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return int(value)


def _moment(milliseconds: int | None) -> dt.datetime | None:
    if not milliseconds:
        return None
    try:
        return dt.datetime.fromtimestamp(milliseconds / 1000, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _clip(text: str, limit: int = 200) -> str:
    text = one_line(strip_invalid(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"
