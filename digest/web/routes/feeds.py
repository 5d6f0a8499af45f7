"""The subscriber's private feeds and the web archive of their editions (``read`` tokens)."""

import dataclasses
from typing import Annotated, TypeVar

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from digest.config import Settings
from digest.store import utcnow
from digest.store.retention import beyond_retention
from digest.web.caching import cached, not_modified, validator_headers
from digest.web.dependencies import EDITION_ID, Reader, Service
from digest.web.service import FEED_FORMATS, Document, NotAvailable, Validator

router = APIRouter()
V = TypeVar("V", Validator, Document)


XML_FEEDS = frozenset(name for name, role in FEED_FORMATS.items() if role in ("rss", "atom"))


def for_browser(request: Request, filename: str) -> bool:
    """True for a browser opening an XML feed: it asks for text/html and names no feed type
    (readers name application/rss+xml or atom+xml, or ask for anything)."""
    accept = request.headers.get("accept", "").lower()
    return (
        filename in XML_FEEDS
        and "text/html" in accept
        and "rss+xml" not in accept
        and "atom+xml" not in accept
    )


def _variant(value: V, suffix: str) -> V:
    """``value`` with an ETag of its own (one representation, one validator)."""
    return dataclasses.replace(value, etag=f'{value.etag.removesuffix(chr(34))}-{suffix}"')


@router.get("/feeds/{token}/{filename}", response_class=Response)
def feed(stored: Reader, filename: str, request: Request, service: Service) -> Response:
    """The subscriber's private feed: rss.xml, atom.xml or feed.json (and the feeds'
    stylesheet, feed.xsl). A browser opening an XML feed gets the page its stylesheet makes
    of it (what a feed is, how to follow it, the entries); readers get the feed."""
    if filename not in FEED_FORMATS:
        raise HTTPException(404, "Feeds are rss.xml, atom.xml and feed.json.")
    if stored.unsubscribed:
        raise HTTPException(410, "This subscription has ended.")
    cache_control = "private, max-age=300"
    browser = for_browser(request, filename)
    vary = "Accept" if filename in XML_FEEDS else None
    validator = service.feed_validator(stored, filename)
    if browser:
        validator = _variant(validator, "page")
    if not_modified(request, validator):  # most polls: no rendering at all
        headers = validator_headers(validator, cache_control, vary=vary)
        return Response(status_code=304, headers=headers)
    try:
        if browser:  # the page the feed's stylesheet makes of it: what it is, how to follow it
            document = _variant(service.feed_page(stored, filename), "page")
        else:
            document = service.feed(stored, filename)
    except NotAvailable as error:
        raise HTTPException(404, str(error)) from None
    return cached(document, request, cache_control, vary=vary)


@router.get("/archive/{edition_id}/{token}", response_class=HTMLResponse)
def archive(
    edition_id: Annotated[str, Path(pattern=EDITION_ID)],
    stored: Reader,
    request: Request,
    service: Service,
) -> Response:
    """One edition's email as a web page."""
    try:
        document = service.archive(stored, edition_id)
    except NotAvailable as error:
        raise HTTPException(404, str(error)) from None
    if document is None:
        raise HTTPException(404, _missing_edition(edition_id, service.settings))
    return cached(document, request, "private, no-cache")


def _missing_edition(edition_id: str, settings: Settings) -> str:
    """Why an archive link shows nothing: the edition is older than what the ledger keeps
    (``[retention] ledger_days``), or it never was this subscriber's."""
    days = settings.retention.ledger_days
    if beyond_retention(edition_id, days, utcnow()):
        return (
            f"This edition is no longer available: digests are kept for {days:,} days. "
            "Your feed and your next digests are not affected."
        )
    return "There is no such edition for you."
