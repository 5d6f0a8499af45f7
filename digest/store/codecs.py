"""Records ⇄ the JSON text the store keeps: papers (and merging two sightings of one) and
subscribers.

A subscriber is stored in its settings form: the keys of ``[subscribers.<name>]`` (see
:class:`digest.config.SubscriberSettings`), which are the fields of
:class:`~digest.models.Subscriber` and of its :class:`~digest.models.Profile`, flat, without
``name`` (a column of its own) and without what comes from recorded feedback
(:data:`FROM_FEEDBACK`). :data:`SUBSCRIBER_FIELDS` is derived from the dataclasses, so a field
added there is stored, and rows written before it existed read back with its default.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any

from digest.models import Author, Paper, PaperId, Profile, Subscriber

# -- papers ------------------------------------------------------------------------------------


def paper_to_json(paper: Paper) -> str:
    return json.dumps(
        {
            "id": str(paper.id),
            "title": paper.title,
            "abstract": paper.abstract,
            "authors": [[a.name, a.affiliation] for a in paper.authors],
            "categories": list(paper.categories),
            "url": paper.url,
            "pdf_url": paper.pdf_url,
            "code_url": paper.code_url,
            "doi": paper.doi,
            "announced": paper.announced.isoformat() if paper.announced else None,
            "published": paper.published.isoformat() if paper.published else None,
            "updated": paper.updated.isoformat() if paper.updated else None,
            "version": paper.version,
            "sources": list(paper.sources),
            "signals": dict(paper.signals),
            **({"aliases": list(paper.aliases)} if paper.aliases else {}),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def paper_from_json(text: str) -> Paper:
    d = json.loads(text)

    def when(value: str | None) -> dt.datetime | None:
        return dt.datetime.fromisoformat(value) if value else None

    return Paper(
        id=PaperId.parse(d["id"]),
        title=d["title"],
        abstract=d["abstract"],
        authors=tuple(Author(name=n, affiliation=a) for n, a in d["authors"]),
        categories=tuple(d["categories"]),
        url=d["url"],
        pdf_url=d["pdf_url"],
        code_url=d["code_url"],
        doi=d["doi"],
        announced=dt.date.fromisoformat(d["announced"]) if d["announced"] else None,
        published=when(d["published"]),
        updated=when(d["updated"]),
        version=d["version"],
        sources=tuple(d["sources"]),
        signals=d["signals"],
        aliases=tuple(d.get("aliases", ())),
    )


def merge_papers(old: Paper, new: Paper) -> Paper:
    """Merge a new sighting into the stored paper: newer version wins text, signals add up."""
    newer = (new.version or 0) > (old.version or 0)
    base, other = (new, old) if newer else (old, new)
    return replace(
        base,
        abstract=base.abstract or other.abstract,
        authors=base.authors or other.authors,
        categories=base.categories or other.categories,
        url=base.url or other.url,
        pdf_url=base.pdf_url or other.pdf_url,
        code_url=base.code_url or other.code_url,
        doi=base.doi or other.doi,
        announced=old.announced or new.announced,
        published=old.published or new.published,
        updated=max((d for d in (old.updated, new.updated) if d), default=None),
        version=max(old.version or 0, new.version or 0) or None,
        sources=tuple(dict.fromkeys((*old.sources, *new.sources))),
        signals={**old.signals, **new.signals},
        aliases=tuple(a for a in dict.fromkeys((*old.aliases, *new.aliases)) if a != str(base.id)),
    )


# -- subscribers -------------------------------------------------------------------------------

#: :class:`~digest.models.Profile` fields filled from recorded feedback when a run starts
#: (:func:`digest.pipeline.with_feedback`): neither settings nor stored with the subscriber
FROM_FEEDBACK = frozenset({"muted_authors"})

_PROFILE_FIELDS = tuple(f.name for f in fields(Profile) if f.name not in FROM_FEEDBACK)

#: the settings of a subscriber, in the order they are stored: the fields of ``Subscriber``
#: with ``profile`` replaced by the fields of ``Profile``, less ``name`` and :data:`FROM_FEEDBACK`
SUBSCRIBER_FIELDS = tuple(
    key
    for f in fields(Subscriber)
    if f.name != "name"
    for key in (_PROFILE_FIELDS if f.name == "profile" else (f.name,))
)


def subscriber_values(subscriber: Subscriber) -> dict[str, Any]:
    """The settings of ``subscriber`` (:data:`SUBSCRIBER_FIELDS`), JSON-ready: tuples as lists."""
    out: dict[str, Any] = {}
    for key in SUBSCRIBER_FIELDS:
        value = getattr(subscriber.profile if key in _PROFILE_FIELDS else subscriber, key)
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


def email_key(address: str | None) -> str | None:
    """An address folded for lookups: one subscription per mailbox, whatever the case."""
    if not address:
        return None
    return address.strip().casefold()[:320]


def subscriber_to_json(subscriber: Subscriber) -> str:
    return json.dumps(subscriber_values(subscriber), ensure_ascii=False)


def subscriber_from_fields(name: str, values: Mapping[str, Any]) -> Subscriber:
    """The subscriber ``name`` with these settings, as stored (trusted: validated when they came
    in); a missing key takes the field's default, lists become tuples, other keys are ignored."""
    own: dict[str, Any] = {}
    profile: dict[str, Any] = {}
    for key in SUBSCRIBER_FIELDS:
        if key in values:
            value = values[key]
            (profile if key in _PROFILE_FIELDS else own)[key] = (
                tuple(value) if isinstance(value, list) else value
            )
    return Subscriber(name=name, profile=Profile(**profile), **own)
