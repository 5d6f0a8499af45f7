"""Records passed between the core and plugins.

Every record is a frozen, slotted, keyword-only dataclass: plugins receive and return these,
never bare dicts. Fields may be added in later versions, never removed or renamed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

SignalValue = int | float | str | bool
IdKind = Literal["arxiv", "doi", "fp", "url"]


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class PaperId:
    """Canonical identity of a work: an arXiv id without version, else a DOI, else a fingerprint.

    ``str(paper_id)`` is the stable text form used as feed guid and in the store, e.g.
    ``arxiv:2406.01234``, ``arxiv:hep-th/9901001``, ``doi:10.1000/xyz``, ``fp:3f2a…``.
    """

    kind: IdKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    @classmethod
    def parse(cls, text: str) -> PaperId:
        """Inverse of ``str()``: ``PaperId.parse("arxiv:2406.01234")``."""
        kind, sep, value = text.partition(":")
        if not sep or kind not in ("arxiv", "doi", "fp", "url") or not value:
            raise ValueError(f"not a canonical paper id: {text!r}")
        return cls(kind=kind, value=value)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class Author:
    """One author as the source spelled the name."""

    name: str
    affiliation: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Paper:
    """A source-neutral, immutable paper.

    ``signals`` is a small bag of source signals (HF upvotes, GitHub stars, …) that rankers
    may use; keys are namespaced by convention (``hf.upvotes``).
    """

    id: PaperId
    title: str
    abstract: str = ""
    authors: tuple[Author, ...] = ()
    categories: tuple[str, ...] = ()
    url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    doi: str | None = None
    announced: dt.date | None = None
    published: dt.datetime | None = None
    updated: dt.datetime | None = None
    version: int | None = None
    sources: tuple[str, ...] = ()
    signals: Mapping[str, SignalValue] = field(default_factory=dict, compare=False)
    #: other canonical ids of the same work (``doi:…`` of its journal version, ``arxiv:…`` of
    #: its preprint, a preprint server's own DOI): the store links them all to one paper, so
    #: the work is delivered once whichever version arrives first (``doi`` is linked too)
    aliases: tuple[str, ...] = ()

    @property
    def primary_category(self) -> str | None:
        return self.categories[0] if self.categories else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """What a subscriber cares about, as rankers and filters see it."""

    interests: str = ""
    keywords: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    liked: tuple[str, ...] = ()
    disliked: tuple[str, ...] = ()
    #: authors whose papers are never picked ("mute this author" feedback)
    muted_authors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscriber:
    """One recipient with their interests, schedule and channels."""

    name: str
    email: str | None = None
    profile: Profile = field(default_factory=Profile)
    schedule: str = "0 7 * * *"
    timezone: str = "UTC"
    max_items: int = 10
    channels: tuple[str, ...] = ("email", "feed")
    active: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Reason:
    """Why a paper was picked: ``kind`` is machine-readable, ``text`` is shown to the reader.

    ``ref`` is the canonical id of a paper the reason points at, e.g. the nearest liked paper
    (``"arxiv:2406.01234"``); feeds carry it for machines.
    """

    kind: str
    text: str
    weight: float = 0.0
    ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoredPaper:
    """A paper picked for a subscriber, with its combined score and the reasons."""

    paper: Paper
    score: float
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Edition:
    """One publication cycle; every due subscriber gets at most one digest per edition."""

    id: str
    created: dt.datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Links:
    """Per-subscriber links a renderer puts in the digest."""

    unsubscribe: str
    unsubscribe_mailto: str | None
    preferences: str
    archive: str
    feed: str
    #: base of the per-paper feedback links: ``{feedback}?paper=<id>&action=more|less|mute``
    feedback: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """The papers picked for one subscriber in one edition, best first.

    ``history`` holds items from the subscriber's earlier editions (newest first) for renderers
    of rolling outputs such as feeds; ``candidates`` is how many papers were considered.
    """

    subscriber: Subscriber
    edition: Edition
    items: tuple[ScoredPaper, ...]
    links: Links
    candidates: int = 0
    history: tuple[tuple[Edition, tuple[ScoredPaper, ...]], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Artifact:
    """One rendered output. ``role`` is what it is for (``subject``, ``html``, ``text``,
    ``rss``, ``atom``); ``filename`` is a suggestion for file-based deliverers."""

    role: str
    media_type: str
    content: str
    filename: str | None = None


class DeliveryStatus(StrEnum):
    """States of a ledger row; the last three are terminal."""

    CLAIMED = "claimed"
    SENT = "sent"
    SUPPRESSED = "suppressed"
    FAILED_PERMANENT = "failed_permanent"


@dataclass(frozen=True, slots=True, kw_only=True)
class Parcel:
    """Everything a deliverer needs for one (edition, subscriber, channel).

    ``message`` is the complete RFC 5322 message for the ``email`` channel (built by the core,
    identical on every retry), else ``None``.
    """

    selection: Selection
    channel: str
    artifacts: tuple[Artifact, ...]
    message_id: str
    message: bytes | None = None
    #: the envelope sender (SMTP ``MAIL FROM``) for this message: a VERP address naming the
    #: edition and subscriber, so a bounce identifies its recipient; ``None``: the
    #: deliverer's own
    return_path: str | None = None

    def artifact(self, role: str) -> Artifact | None:
        for artifact in self.artifacts:
            if artifact.role == role:
                return artifact
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """A deliverer's answer for one parcel."""

    status: DeliveryStatus
    detail: str = ""
    location: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """Something that failed during a run, attributed to a component or subscriber."""

    where: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceReport:
    """What one source instance did in a run."""

    name: str
    collected: int = 0
    new: int = 0
    updated: int = 0
    error: str | None = None
    #: a health warning: empty or stale when papers were expected
    flag: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunReport:
    """The summary of one ``digest run``."""

    edition: Edition | None
    sources: tuple[SourceReport, ...] = ()
    delivered: int = 0
    skipped: Mapping[str, str] = field(default_factory=dict)
    failed: Mapping[str, str] = field(default_factory=dict)
    #: deliveries that failed for now and stay claimed: the next run retries them
    deferred: Mapping[str, str] = field(default_factory=dict)
    #: the edition stopped after too many failures in a row; the next run resumes it
    paused: bool = False
    problems: tuple[Problem, ...] = ()
    resumed: int = 0
    outputs: tuple[str, ...] = ()
    dry_run: bool = False
    #: what works but deserves attention: unused config tables, old component names
    warnings: tuple[str, ...] = ()
    #: the list's health: bounces and complaints of the last days, per edition and domain
    list_health: tuple[str, ...] = ()
    #: subscribers whose chunks were left queued for ``digest worker`` (``--no-wait``)
    queued: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.problems
