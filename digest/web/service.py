"""What the web endpoints do, apart from HTTP: look up, render and record.

Every subscriber-facing lookup starts from a signed token (:mod:`digest.tokens`) and only ever
returns that subscriber's data. Rendering reuses the configured renderers on what the ledger
stored, so an archived edition shows the same papers, scores and reasons as the email did.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from digest.bounces.notice import BounceNotice
from digest.ledger import StoredItem
from digest.models import Artifact, Edition, Paper, ScoredPaper, Selection
from digest.pipeline import Pipeline, RunOptions
from digest.store import FeedbackItem, StoredSubscriber, utcnow

#: feed file name in the URL → the feed renderer's artifact role
FEED_FORMATS = {
    "rss.xml": "rss",
    "feed.xml": "rss",
    "atom.xml": "atom",
    "feed.json": "json",
    "feed.xsl": "stylesheet",
}


#: the feeds' XSLT stylesheet (the renderer's "stylesheet" artifact)
STYLESHEET = "feed.xsl"


@functools.lru_cache(maxsize=4)
def _transform(stylesheet: str) -> Any:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    sheet = etree.fromstring(stylesheet.encode("utf-8"), parser)
    return etree.XSLT(sheet, access_control=etree.XSLTAccessControl.DENY_ALL)


def feed_as_page(feed: str, stylesheet: str) -> str:
    """An RSS / Atom document as HTML through its XSLT ``stylesheet`` (no file or network
    access from either)."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    document = etree.fromstring(feed.encode("utf-8"), parser)
    return str(_transform(stylesheet)(document))


def with_charset(media_type: str) -> str:
    """``media_type`` with ``charset=utf-8`` unless it names a charset (the feeds are UTF-8;
    without it Chromium shows ``application/rss+xml`` as Latin-1 text: mojibake)."""
    return media_type if "charset=" in media_type.lower() else f"{media_type}; charset=utf-8"


#: feedback actions a link may carry, and how the pages name them
ACTIONS = {"more": "More like this", "less": "Less like this", "mute": "Mute an author"}


#: rendered feeds kept (per subscriber and latest edition, all formats)
FEED_CACHE = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class Validator:
    """What HTTP caching compares: an ETag and the time of the newest content."""

    etag: str
    last_modified: dt.datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A rendered response body with what HTTP caching needs."""

    content: str
    media_type: str
    etag: str
    last_modified: dt.datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Preferences:
    subscriber: StoredSubscriber
    editions: list[tuple[Edition, int]]
    feedback: list[tuple[FeedbackItem, Paper | None]]


class NotAvailable(Exception):
    """The thing exists but cannot be shown (no renderer configured for it)."""


class WebService:
    """The web endpoints' work over one pipeline (its store, ledger, tokens, renderers).

    Renderers keep per-run caches and are not thread-safe, so rendering is serialised; the
    store is safe to use from several threads.
    """

    def __init__(
        self, pipeline: Pipeline, *, scheduler_status: Callable[[], dict[str, Any]] | None = None
    ) -> None:
        self.pipeline = pipeline
        self.store = pipeline.store
        self.ledger = pipeline.ledger
        self.tokens = pipeline.tokens
        self.settings = pipeline.settings
        self.site = pipeline.runtime.site
        self.templates = pipeline.runtime.templates
        self.scheduler_status = scheduler_status
        self._render_lock = threading.Lock()
        self._feeds: OrderedDict[tuple[int, str], dict[str, Artifact]] = OrderedDict()
        from digest import __version__

        settings_json = self.settings.model_dump_json()
        self._fingerprint = hashlib.sha256(f"{__version__}\0{settings_json}".encode()).hexdigest()
        from digest.web.guard import FormGuard, RateLimits
        from digest.web.signup import SignupService

        #: CSRF tokens of the state-changing forms
        self.guard = FormGuard(self.tokens, self.site.base_url)
        signup = self.settings.signup
        self.limits = RateLimits(
            {"signup-ip": signup.per_ip, "signup-address": signup.per_address,
             "preview-ip": signup.preview_per_ip, "import": signup.imports_per_subscriber}
        )  # fmt: skip
        #: sign-up, confirmation, re-subscription
        self.signup = SignupService(self)
        from digest.web.imports import ProfileImports

        #: Zotero/ORCID/... imports from the preferences page, and their resync
        self.imports = ProfileImports(self)

    # -- identity ---------------------------------------------------------------------------

    def subscriber(self, purpose: str, token: str) -> StoredSubscriber | None:
        """The subscriber a valid ``purpose`` token names, if they still exist."""
        sid = self.tokens.read(purpose, token)
        if sid is None:
            return None
        found = self.store.subscriber(sid)
        if found is None or found.origin == "removed":
            return None
        return found

    def by_name(self, name: str) -> StoredSubscriber | None:
        for s in self.store.subscribers():
            if s.subscriber.name == name:
                return s
        return None

    # -- feeds and archive --------------------------------------------------------------------

    def feed_validator(self, stored: StoredSubscriber, filename: str) -> Validator:
        """The feed's ETag and Last-Modified, from one small query and without rendering.

        A feed changes when the subscriber gets a new edition, or when the deployment changes
        (settings or version: the fingerprint), so most polls are answered 304 cheaply.
        """
        latest = self.ledger.editions_of(stored.id, limit=1)
        edition = latest[0][0] if latest else None
        key = "\0".join(
            [self._fingerprint, str(stored.id), edition.id if edition else "none", filename]
        )
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return Validator(etag=f'"{digest}"', last_modified=edition.created if edition else None)

    def feed(self, stored: StoredSubscriber, filename: str) -> Document:
        """The subscriber's private feed in the format ``filename`` names (see FEED_FORMATS).

        All formats are rendered together, so they are kept for a while per (subscriber,
        edition): a reader that polls RSS and Atom renders once.
        """
        role = FEED_FORMATS[filename]
        validator = self.feed_validator(stored, filename)
        runs = self.ledger.history(
            [stored.id], before=None, editions_back=self.settings.serve.feed_editions
        ).get(stored.id, [])
        if runs:
            edition, items = runs[0]
        else:  # nothing sent yet: an empty, valid feed
            edition, items = Edition(id="none", created=utcnow()), []
        key = (stored.id, edition.id)
        with self._render_lock:
            artifacts = self._feeds.get(key)
            if artifacts is None:
                selection = self._selection(stored, edition, items, runs[1:])
                artifacts = self._render_all("feed", selection)
                self._feeds[key] = artifacts
                while len(self._feeds) > FEED_CACHE:
                    self._feeds.popitem(last=False)
            else:
                self._feeds.move_to_end(key)
        artifact = artifacts.get(role)
        if artifact is None:
            raise NotAvailable(f"no configured renderer produces feed {role!r}")
        return Document(
            content=artifact.content,
            media_type=with_charset(artifact.media_type),
            etag=validator.etag,
            last_modified=validator.last_modified,
        )

    def feed_page(self, stored: StoredSubscriber, filename: str) -> Document:
        """The XML feed ``filename`` as the web page its stylesheet makes of it (for a
        browser: Chromium is dropping XSLT, so the server applies it), or the feed itself as
        ``application/xml`` when the renderer has no stylesheet."""
        feed = self.feed(stored, filename)
        try:
            sheet = self.feed(stored, STYLESHEET)
        except NotAvailable:
            return dataclasses.replace(feed, media_type="application/xml; charset=utf-8")
        html = feed_as_page(feed.content, sheet.content)
        return dataclasses.replace(feed, content=html, media_type="text/html; charset=utf-8")

    def archive(self, stored: StoredSubscriber, edition_id: str) -> Document | None:
        """The edition's email as a web page, if this subscriber had one in it."""
        edition = self.ledger.edition_of(edition_id, stored.id)
        if edition is None:
            return None
        items = self.ledger.selected(edition.id, [stored.id]).get(stored.id, [])
        selection = self._selection(stored, edition, items, [])
        return _document(self._page(selection), edition.created)

    def _page(self, selection: Selection) -> Artifact:
        """The web version: an email renderer's ``render_page`` (whole abstracts, no size
        budget) when it has one, else its HTML part."""
        for renderer in self.pipeline.c.renderers.values():
            if renderer.channel == "email":
                with self._render_lock:
                    artifact = renderer.render_page(selection)
                if artifact is not None:
                    return artifact
        return self._render("email", selection, "html")

    def _selection(
        self,
        stored: StoredSubscriber,
        edition: Edition,
        items: Sequence[StoredItem],
        history: Sequence[tuple[Edition, Sequence[StoredItem]]],
    ) -> Selection:
        seqs = {i.paper_seq for i in items} | {i.paper_seq for _, its in history for i in its}
        papers = self.store.papers_by_seq(seqs) if seqs else {}

        def scored(its: Sequence[StoredItem]) -> tuple[ScoredPaper, ...]:
            return tuple(
                ScoredPaper(paper=papers[i.paper_seq], score=i.score, reasons=i.reasons)
                for i in its
                if i.paper_seq in papers
            )

        return Selection(
            subscriber=stored.subscriber,
            edition=edition,
            items=scored(items),
            links=self.pipeline.links(stored.id, edition),
            candidates=0,
            history=tuple((ed, scored(its)) for ed, its in history),
        )

    def _render_all(self, channel: str, selection: Selection) -> dict[str, Artifact]:
        """Every artifact the channel's renderers make, by role (call under the lock)."""
        out: dict[str, Artifact] = {}
        for renderer in self.pipeline.c.renderers.values():
            if renderer.channel == channel:
                for artifact in renderer.render(selection):
                    out.setdefault(artifact.role, artifact)
        return out

    def _render(self, channel: str, selection: Selection, role: str) -> Artifact:
        renderers = [r for r in self.pipeline.c.renderers.values() if r.channel == channel]
        with self._render_lock:
            for renderer in renderers:
                for artifact in renderer.render(selection):
                    if artifact.role == role:
                        return artifact
        raise NotAvailable(f"no configured renderer produces {channel} {role!r}")

    # -- changes ----------------------------------------------------------------------------

    def unsubscribe(self, stored: StoredSubscriber) -> bool:
        """Unsubscribe (idempotent): ``True`` the first time."""
        return self.store.unsubscribe(stored.id, now=utcnow())

    def record_bounces(self, notices: Sequence[BounceNotice]) -> None:
        """Record bounces and complaints an ESP's webhook reported (each once: a redelivered
        webhook changes nothing); raises on a database error, so the webhook is not
        acknowledged and the provider sends it again."""
        from digest.bounces.intake import book_for

        book_for(self.store, self.settings).record(notices, now=utcnow())

    def paper(self, paper_id: str) -> Paper | None:
        return self.store.papers_by_id([paper_id]).get(paper_id)

    def record_feedback(
        self, stored: StoredSubscriber, paper: Paper, action: str, author: str = ""
    ) -> bool:
        """Record "more"/"less" for ``paper`` or "mute" for one of its authors."""
        if action == "mute":
            names = {a.name for a in paper.authors}
            if author not in names:
                raise ValueError("choose one of the paper's authors to mute")
        return self.store.add_feedback(
            stored.id,
            str(paper.id),
            action,
            detail=author if action == "mute" else "",
            now=utcnow(),
        )

    def export(self, stored: StoredSubscriber) -> dict[str, Any]:
        """Everything stored about one subscriber ("export my data")."""
        from digest.store import subscriber_values

        sub = stored.subscriber
        items = self.store.feedback([stored.id]).get(stored.id, [])
        runs = self.ledger.history([stored.id], before=None, editions_back=1000).get(stored.id, [])
        papers = self.store.papers_by_seq({i.paper_seq for _, its in runs for i in its})

        def paper(seq: int) -> dict[str, str]:
            found = papers.get(seq)
            return {"id": str(found.id), "title": found.title} if found else {"id": str(seq)}

        return {
            "name": sub.name,
            "status": stored.status,
            "created_at": _iso(stored.created_at),
            "settings": subscriber_values(sub),
            "feedback": [
                {"paper": i.paper_id, "kind": i.kind, "detail": i.detail, "at": _iso(i.created_at)}
                for i in items
            ],
            "editions": [
                {
                    "edition": edition.id,
                    "at": _iso(edition.created),
                    "papers": [
                        {**paper(item.paper_seq), "score": item.score,
                         "reasons": [r.text for r in item.reasons]}
                        for item in its
                    ],
                }
                for edition, its in runs
            ],
        }  # fmt: skip

    def forget(self, stored: StoredSubscriber) -> None:
        """Delete the subscriber ("delete me"); delivery rows stay as anonymous counts."""
        self.store.forget_subscriber(stored.id)
        self.store.log_signup("deleted", now=utcnow())

    def remove_feedback(self, stored: StoredSubscriber, feedback_id: int) -> bool:
        return self.store.remove_feedback(stored.id, feedback_id)

    def preferences(self, stored: StoredSubscriber) -> Preferences:
        items = self.store.feedback([stored.id]).get(stored.id, [])
        papers = self.store.papers_by_id({i.paper_id for i in items})
        return Preferences(
            subscriber=stored,
            editions=self.ledger.editions_of(stored.id, limit=20),
            feedback=[(i, papers.get(i.paper_id)) for i in reversed(items)],
        )

    # -- operator -----------------------------------------------------------------------------

    def preview(self, stored: StoredSubscriber) -> str | None:
        """The subscriber's next email as HTML from stored papers; nothing is recorded."""
        rendered: list[str] = []

        def keep(selection: Selection, channel: str, artifacts: Sequence[Artifact]) -> None:
            rendered.extend(a.content for a in artifacts if a.role == "html")

        with self._render_lock:
            self.pipeline.run(
                RunOptions(
                    subscriber=stored.subscriber.name,
                    dry_run=True,
                    collect=False,
                    on_rendered=keep,
                )
            )
        return rendered[0] if rendered else None

    def overview(self) -> dict[str, Any]:
        subscribers = self.store.subscribers()
        return {
            "subscribers": [s for s in subscribers if s.status != "deleted"],
            "active": sum(1 for s in subscribers if not s.unsubscribed),
            "counts": self.store.status_counts(),
            "signup_log": self.store.signup_events(limit=50),
            "signup_mode": self.signup.mode(),
            "signup_email": self.signup.can_email(),
            "editions": self.ledger.recent_editions(limit=20),
            "sources": self.store.source_health(),
            "scheduler": self.scheduler_status() if self.scheduler_status else None,
            "bounced": sum(1 for s in subscribers if s.bounced and not s.unsubscribed),
            "suppressed": self.store.suppression_count(),
            "bounce_editions": self.store.bounce_counts(by="edition", limit=10),
            "bounce_domains": self.store.bounce_counts(by="domain", limit=10),
            "bounce_latest": self.store.bounce_events(limit=20),
        }

    def subscriber_rows(self) -> list[dict[str, Any]]:
        """Subscribers for the operator's export: name, status, dates and settings."""
        from digest.store import subscriber_values

        return [
            {
                "name": s.subscriber.name,
                "status": s.status,
                "origin": s.origin,
                "created_at": _iso(s.created_at),
                "last_edition_at": _iso(s.last_edition_at),
                **subscriber_values(s.subscriber),
            }
            for s in self.store.subscribers()
            if s.status != "deleted"
        ]

    def health(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, details): the database answers and no source's latest run failed."""
        try:
            sources = self.store.source_health()
        except Exception:  # the database is down or unreadable
            return False, {"status": "error", "database": "unavailable"}
        listed = [
            {
                "source": h.source,
                "ok": not h.failing,
                "last_success": _iso(h.last_success),
                "last_collected": h.last_collected,
                "last_error_at": _iso(h.last_error_at),
                "flag": h.flag,
            }
            for h in sources
        ]
        degraded = any(h.failing or h.flag for h in sources)
        details: dict[str, Any] = {
            "status": "degraded" if degraded else "ok",
            "database": "ok",
            "sources": listed,
        }
        if self.scheduler_status is not None:
            # A summary only: the schedules themselves are for the operator area.
            status = self.scheduler_status()
            runs = [j["next_run"] for j in status["jobs"] if j["next_run"]]
            details["scheduler"] = {
                "running": status["running"],
                "schedules": len(status["jobs"]),
                "next_run": min(runs) if runs else None,
            }
        return True, details


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _document(artifact: Artifact, last_modified: dt.datetime | None) -> Document:
    digest = hashlib.sha256(artifact.content.encode("utf-8")).hexdigest()[:32]
    return Document(
        content=artifact.content,
        media_type=artifact.media_type,
        etag=f'"{digest}"',
        last_modified=last_modified,
    )
