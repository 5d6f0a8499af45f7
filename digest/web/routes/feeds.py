"""The subscriber's private feeds and the web archive of their editions (``read`` tokens)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from digest.web.caching import cached, not_modified, validator_headers
from digest.web.dependencies import EDITION_ID, Reader, Service
from digest.web.service import FEED_FORMATS, NotAvailable

router = APIRouter()


@router.get("/feeds/{token}/{filename}", response_class=Response)
def feed(stored: Reader, filename: str, request: Request, service: Service) -> Response:
    """The subscriber's private feed: rss.xml, atom.xml or feed.json."""
    if filename not in FEED_FORMATS:
        raise HTTPException(404, "Feeds are rss.xml, atom.xml and feed.json.")
    if stored.unsubscribed:
        raise HTTPException(410, "This subscription has ended.")
    cache_control = "private, max-age=300"
    validator = service.feed_validator(stored, filename)
    if not_modified(request, validator):  # most polls: no rendering at all
        return Response(status_code=304, headers=validator_headers(validator, cache_control))
    try:
        document = service.feed(stored, filename)
    except NotAvailable as error:
        raise HTTPException(404, str(error)) from None
    return cached(document, request, cache_control)


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
        raise HTTPException(404, "There is no such edition for you.")
    return cached(document, request, "private, no-cache")
