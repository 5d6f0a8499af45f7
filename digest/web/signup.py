"""The front door's work, apart from HTTP: who may sign up, the live preview, pending
sign-ups and their confirmation email, the "manage your subscription" email, re-subscribing.

Whether an address is known never shows in an answer: a new address gets a confirmation
link, a known one a link to its preferences (or a fresh confirmation while pending), and
both are told the same "check your inbox". Emails go through the deliverer serving the
``email`` channel (SMTP, or files under the output directory), as digests do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from digest.batch import Batch
from digest.models import (
    Artifact,
    DeliveryStatus,
    Edition,
    Links,
    Paper,
    Parcel,
    Reason,
    ScoredPaper,
    Selection,
    Subscriber,
)
from digest.select import Selector
from digest.store import LIBRARY_SOURCE, StoredSubscriber, utcnow
from digest.web.service import WebService

log = logging.getLogger("digest.serve")
#: papers the preview ranks: the newest stored (2,000 is a heavy arXiv day)
PREVIEW_PAPERS = 2000
MODE_SETTING = "signup.mode"
MODES = ("closed", "open", "domains")


@dataclass(frozen=True, slots=True, kw_only=True)
class Preview:
    """The digest a profile would get now, from the newest stored papers."""

    items: tuple[ScoredPaper, ...]
    considered: int
    empty_reason: str | None = None


class SignupService:
    """Sign-up, confirmation and re-subscription over one :class:`WebService`."""

    def __init__(self, web: WebService) -> None:
        self.web = web
        self.store = web.store
        self.settings = web.settings.signup
        self._lock = threading.Lock()
        self._prepared: tuple[int, Batch, Selector] | None = None
        self._mail_lock = threading.Lock()
        self._warming: threading.Thread | None = None

    # -- policy -------------------------------------------------------------------------------

    def mode(self) -> str:
        """The sign-up mode: the operator's switch if set, else ``[signup] mode``."""
        stored = self.store.site_setting(MODE_SETTING)
        return stored if stored in MODES else self.settings.mode

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"sign-up mode must be one of {', '.join(MODES)}")
        self.store.set_site_setting(MODE_SETTING, mode, now=utcnow())
        self.store.log_signup("mode", now=utcnow(), detail=f"sign-up mode set to {mode}")

    def can_email(self) -> bool:
        return "email" in self.web.pipeline.c.routes

    def open(self) -> bool:
        return self.mode() != "closed" and self.can_email()

    def domain_allowed(self, address: str) -> bool:
        if self.mode() != "domains":
            return True
        domain = address.rpartition("@")[2].casefold()
        return any(domain == d or domain.endswith(f".{d}") for d in self.settings.allowed_domains)

    # -- preview ------------------------------------------------------------------------------

    def preview(self, subscriber: Subscriber) -> Preview:
        """What ``subscriber`` would get if a digest went out now (nothing is recorded)."""
        with self._lock:
            batch, selector = self._batch()
            if not len(batch):
                return Preview(items=(), considered=0, empty_reason="no papers stored yet")
            choice = selector.select(
                subscriber.profile, subscriber.max_items, batch, np.ones(len(batch), dtype=bool)
            )
        if choice.skipped:
            return Preview(items=(), considered=len(batch), empty_reason=choice.skipped)
        items = tuple(
            ScoredPaper(paper=batch[p.position], score=p.score, reasons=p.reasons)
            for p in choice.picks
        )
        return Preview(items=items, considered=len(batch))

    def warm(self) -> None:
        """Prepare the preview's papers now if new ones arrived (``digest serve`` calls this
        after runs, so the first preview after an edition does not wait ~1.5 s)."""
        with self._lock:
            self._batch()

    def warm_soon(self) -> None:
        """:meth:`warm` in the background, when the prepared papers are stale (the sign-up
        form calls this: a preview is likely to follow)."""
        prepared = self._prepared
        if prepared is not None and prepared[0] == self.store.max_seq():
            return
        if self._warming is not None and self._warming.is_alive():
            return
        self._warming = threading.Thread(target=self._warm_quietly, name="digest-preview")
        self._warming.daemon = True
        self._warming.start()

    def _warm_quietly(self) -> None:
        try:
            self.warm()
        except Exception:  # the preview itself reports; a warm-up never fails a request
            log.exception("preview: preparing the latest papers failed")

    def _batch(self) -> tuple[Batch, Selector]:
        """The newest stored papers, prepared once for every ranker until more arrive."""
        newest = self.store.max_seq()
        if self._prepared is not None and self._prepared[0] == newest:
            return self._prepared[1], self._prepared[2]
        seqs, papers = self.store.latest_papers(PREVIEW_PAPERS)
        papers = self.web.pipeline.enrich(papers)
        batch = Batch(papers, now=utcnow(), seqs=seqs)
        c = self.web.pipeline.c
        selection = self.web.settings.selection
        selector = Selector(
            c.filters,
            c.rankers,
            c.weights,
            on_error=lambda where, error: None,  # a preview shows what works
            diversity=selection.diversity,
            relevant_only=selection.relevant_only,
            min_reason_strength=selection.min_reason_strength,
        )
        if len(batch):
            selector.prepare(batch)
        self._prepared = (newest, batch, selector)
        return batch, selector

    # -- sign-up ------------------------------------------------------------------------------

    def new_name(self, address: str) -> str:
        """A subscriber name for a web sign-up: the mailbox's local part and a short hash."""
        local = re.sub(r"[^A-Za-z0-9._-]+", "-", address.partition("@")[0])[:40].strip(".-_")
        tag = hashlib.sha256(address.casefold().encode()).hexdigest()[:6]
        name = f"{local or 'reader'}-{tag}"
        while self.store.name_taken(name):
            name = f"{local or 'reader'}-{secrets.token_hex(3)}"
        return name

    def keep_references(self, subscriber: Subscriber, papers: Sequence[Paper]) -> None:
        """Store the uploaded ``papers`` that ``subscriber`` likes, as library references
        (never news), so rankers know their text."""
        liked = set(subscriber.profile.liked)
        keep = [p for p in papers if str(p.id) in liked]
        if keep:
            self.store.upsert_papers(keep, source=LIBRARY_SOURCE, now=utcnow())

    def request(self, subscriber: Subscriber, references: Sequence[Paper] = ()) -> str:
        """Handle a valid sign-up; what happened, for the log (never shown to the reader).
        ``references``: papers of an uploaded export, kept for a new subscriber."""
        address = subscriber.email or ""
        now = utcnow()
        known = self.store.subscriber_id_by_email(address)
        if known is None:
            self.keep_references(subscriber, references)
            sid = self.store.add_pending(subscriber, now=now)
            self._send_confirmation(sid, subscriber, now=now, again=False)
            event = "requested"
        else:
            stored = self.store.subscriber(known)
            assert stored is not None
            if stored.pending or stored.bounced:
                # A bounced address asking again confirms it works: the link re-activates it.
                self._send_confirmation(known, stored.subscriber, now=now, again=True)
                event = "requested-again"
            else:
                self._send_manage(stored, now=now)
                event = "known-address"
        self.store.log_signup(
            event, now=now, subscriber=subscriber.name if known is None else None, address=address
        )
        return event

    def resubscribe(self, stored: StoredSubscriber) -> None:
        """Send a fresh confirmation to an unsubscribed reader; confirming re-activates."""
        now = utcnow()
        self._send_confirmation(stored.id, stored.subscriber, now=now, again=True)
        self.store.log_signup("resubscribe-requested", now=now, subscriber=stored.subscriber.name)

    def confirmable(self, token: str) -> StoredSubscriber | None:
        """The subscriber a confirmation token names, if still valid and not yet active."""
        max_age = self.settings.confirm_within_days * 86400
        sid = self.web.tokens.read_timed("confirm", token, max_age=max_age)
        if not isinstance(sid, int):
            return None
        stored = self.store.subscriber(sid)
        if stored is None or stored.status not in ("pending", "unsubscribed", "active"):
            return None
        return stored

    def confirm(self, stored: StoredSubscriber) -> bool:
        changed = self.store.activate(stored.id, now=utcnow())
        if changed:
            self.store.log_signup("confirmed", now=utcnow(), subscriber=stored.subscriber.name)
        return changed

    def purge(self) -> int:
        before = utcnow() - dt.timedelta(days=self.settings.confirm_within_days)
        return self.store.purge_pending(before=before)

    # -- emails -------------------------------------------------------------------------------

    def _send_confirmation(
        self, sid: int, subscriber: Subscriber, *, now: dt.datetime, again: bool
    ) -> None:
        token = self.web.tokens.make_timed("confirm", sid)
        url = f"{self.web.site.base_url}/confirm/{token}"
        self._send(
            subscriber,
            "confirm",
            subject=f"Confirm your subscription to {self.web.site.title}",
            context={
                "url": url,
                "days": self.settings.confirm_within_days,
                "again": again,
                "subscriber": subscriber,
            },
            now=now,
        )

    def _send_manage(self, stored: StoredSubscriber, *, now: dt.datetime) -> None:
        links = self.web.pipeline.links(stored.id, Edition(id="manage", created=now))
        self._send(
            stored.subscriber,
            "manage",
            subject=f"Your subscription to {self.web.site.title}",
            context={"url": links.preferences, "stored": stored},
            now=now,
        )

    def _send(
        self, subscriber: Subscriber, kind: str, *, subject: str, context: dict[str, object],
        now: dt.datetime,
    ) -> None:  # fmt: skip
        templates = self.web.templates
        site = self.web.site
        html = templates.get_template(f"web/email_{kind}.html").render(site=site, **context)
        text = templates.get_template(f"web/email_{kind}.txt").render(site=site, **context)
        pipeline = self.web.pipeline
        edition = Edition(id=f"{kind}-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}", created=now)
        mid = f"<{edition.id}@{pipeline.messages.domain}>"
        message = pipeline.messages.transactional(
            to=subscriber.email or "",
            subject=subject,
            text=text,
            html=html,
            message_id=mid,
            date=now,
        )
        empty = Links(unsubscribe="", unsubscribe_mailto=None, preferences="", archive="", feed="")
        parcel = Parcel(
            selection=Selection(subscriber=subscriber, edition=edition, items=(), links=empty),
            channel="email",
            artifacts=(
                Artifact(role="subject", media_type="text/plain", content=subject),
                Artifact(role="text", media_type="text/plain", content=text),
                Artifact(role="html", media_type="text/html", content=html),
            ),
            message_id=mid,
            message=message,
        )
        deliverer = pipeline.c.routes["email"]
        with self._mail_lock:  # deliverers are not thread-safe
            outcome = deliverer.deliver(parcel)
        if outcome.status is not DeliveryStatus.SENT:
            self.store.log_signup(
                f"{kind}-not-sent", now=now, address=subscriber.email, detail=outcome.detail
            )


def reasons_text(reasons: Sequence[Reason]) -> str:
    return "; ".join(r.text for r in reasons)
