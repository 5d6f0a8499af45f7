"""The ASGI app of ``digest serve`` (FastAPI): every page a subscriber reaches from a digest.

Subscriber URLs carry a signed, purpose-salted token (:mod:`digest.tokens`): a tampered,
foreign or rotated-out token gets a 404 and changes nothing. A GET never changes anything
(mail scanners prefetch links); changes are POSTs from a confirmation page, or the RFC 8058
one-click POST mail providers send for ``List-Unsubscribe``.
"""

import email.utils
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from digest.models import Paper
from digest.store import StoredSubscriber
from digest.web.service import (
    ACTIONS,
    FEED_FORMATS,
    Document,
    NotAvailable,
    Validator,
    WebService,
)

#: on every response: no token leaks through Referer, no scripts, no framing
SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}
#: values that reach a query: no NUL (PostgreSQL refuses it), ids in the columns' range
NO_NUL = r"^[^\x00]*$"
EDITION_ID = r"^[0-9A-Za-z-]{1,40}$"
ROW_ID = Annotated[int, Path(ge=1, le=2**31 - 1)]  # an INTEGER column everywhere
_BAD_LINK = "This link is not valid. It may be mistyped, or older than the site's current keys."


class Lifecycle:
    """Starts and stops what runs beside the web app (the scheduler)."""

    def start(self) -> None:  # pragma: no cover - the default does nothing
        pass

    def stop(self) -> None:  # pragma: no cover
        pass


def create_app(service: WebService, *, lifecycle: Lifecycle | None = None) -> FastAPI:
    """The app over ``service``; ``lifecycle`` starts with the server and stops with it."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if lifecycle is not None:
            lifecycle.start()
        try:
            yield
        finally:
            if lifecycle is not None:
                lifecycle.stop()

    app = FastAPI(
        title=f"{service.site.title} (papers-digest)",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    templates = service.templates
    site = service.site

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = templates.get_template(f"web/{name}").render(site=site, **context)
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if request.url.path in ("/healthz", "/openapi.json"):
            return JSONResponse({"detail": error.detail}, error.status_code, error.headers)
        response = page("error.html", error.status_code, message=str(error.detail))
        for key, value in (error.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in error.errors()
        )
        return page("error.html", 422, message=f"Invalid request: {problems}")

    def reader(purpose: str) -> Callable[[str], StoredSubscriber]:
        def lookup(token: str) -> StoredSubscriber:
            stored = service.subscriber(purpose, token)
            if stored is None:
                raise HTTPException(404, _BAD_LINK)
            return stored

        return lookup

    Reader = Annotated[StoredSubscriber, Depends(reader("read"))]
    Unsubscriber = Annotated[StoredSubscriber, Depends(reader("unsubscribe"))]
    Rater = Annotated[StoredSubscriber, Depends(reader("feedback"))]
    Owner = Annotated[StoredSubscriber, Depends(reader("preferences"))]

    # -- public ---------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def home() -> HTMLResponse:
        return page("home.html")

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """Liveness and source health: 200 while the database answers, else 503."""
        healthy, details = service.health()
        return JSONResponse(details, status_code=200 if healthy else 503)

    # -- private feeds and the archive ------------------------------------------------------

    @app.get("/feeds/{token}/{filename}", response_class=Response)
    def feed(stored: Reader, filename: str, request: Request) -> Response:
        """The subscriber's private feed: rss.xml, atom.xml or feed.json."""
        if filename not in FEED_FORMATS:
            raise HTTPException(404, "Feeds are rss.xml, atom.xml and feed.json.")
        if stored.unsubscribed:
            raise HTTPException(410, "This subscription has ended.")
        cache_control = "private, max-age=300"
        validator = service.feed_validator(stored, filename)
        if _not_modified(request, validator):  # most polls: no rendering at all
            return Response(status_code=304, headers=_validator_headers(validator, cache_control))
        try:
            document = service.feed(stored, filename)
        except NotAvailable as error:
            raise HTTPException(404, str(error)) from None
        return _cached(document, request, cache_control)

    @app.get("/archive/{edition_id}/{token}", response_class=HTMLResponse)
    def archive(
        edition_id: Annotated[str, Path(pattern=EDITION_ID)], stored: Reader, request: Request
    ) -> Response:
        """One edition's email as a web page."""
        try:
            document = service.archive(stored, edition_id)
        except NotAvailable as error:
            raise HTTPException(404, str(error)) from None
        if document is None:
            raise HTTPException(404, "There is no such edition for you.")
        return _cached(document, request, "private, no-cache")

    # -- unsubscribe (RFC 8058) ---------------------------------------------------------------

    @app.get("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe_page(stored: Unsubscriber) -> HTMLResponse:
        """A confirmation page: opening the link changes nothing."""
        return page("unsubscribe.html", stored=stored, done=False)

    @app.post("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe(
        stored: Unsubscriber,
        one_click: Annotated[str, Form(alias="List-Unsubscribe")],
    ) -> HTMLResponse:
        """Unsubscribe: the one-click POST (``List-Unsubscribe=One-Click``); idempotent,
        answered in place (no redirect, no cookie)."""
        if one_click != "One-Click":
            raise HTTPException(400, "Expected List-Unsubscribe=One-Click.")
        service.unsubscribe(stored)
        return page("unsubscribe.html", stored=stored, done=True)

    # -- feedback -----------------------------------------------------------------------------

    def rated(paper_id: str, action: str) -> Paper:
        found = service.paper(paper_id)
        if found is None:
            raise HTTPException(404, "That paper is not in this digest's records.")
        if action not in ACTIONS:
            raise HTTPException(400, f"Unknown action; use one of {', '.join(ACTIONS)}.")
        return found

    @app.get("/feedback/{token}", response_class=HTMLResponse)
    def feedback_page(
        stored: Rater,
        paper: Annotated[str, Query(max_length=300, pattern=NO_NUL)],
        action: Annotated[str, Query(max_length=20, pattern=NO_NUL)] = "more",
    ) -> HTMLResponse:
        """Confirm feedback on a paper; opening the link records nothing."""
        found = rated(paper, action)
        return page("feedback.html", stored=stored, paper=found, action=action, actions=ACTIONS)

    @app.post("/feedback/{token}", response_class=HTMLResponse)
    def feedback(
        stored: Rater,
        paper: Annotated[str, Form(max_length=300, pattern=NO_NUL)],
        action: Annotated[str, Form(max_length=20, pattern=NO_NUL)],
        author: Annotated[str, Form(max_length=300, pattern=NO_NUL)] = "",
    ) -> HTMLResponse:
        """Record "more like this", "less like this" or "mute" one of the paper's authors."""
        found = rated(paper, action)
        try:
            service.record_feedback(stored, found, action, author)
        except ValueError as error:
            raise HTTPException(400, str(error)) from None
        preferences = service.tokens.make("preferences", stored.id)
        return page(
            "feedback_done.html", paper=found, action=action, author=author, token=preferences
        )

    # -- preferences --------------------------------------------------------------------------

    @app.get("/preferences/{token}", response_class=HTMLResponse)
    def preferences(stored: Owner, token: str) -> HTMLResponse:
        """What the subscriber gets, their feeds and editions, and the feedback they gave."""
        return _preferences(stored, token)

    @app.post("/preferences/{token}/feedback/{feedback_id}/delete", response_class=HTMLResponse)
    def forget_feedback(stored: Owner, token: str, feedback_id: ROW_ID) -> HTMLResponse:
        removed = service.remove_feedback(stored, feedback_id)
        return _preferences(stored, token, notice="Removed." if removed else "Already removed.")

    def _preferences(stored: StoredSubscriber, token: str, notice: str = "") -> HTMLResponse:
        read = service.tokens.make("read", stored.id)
        return page(
            "preferences.html",
            prefs=service.preferences(stored),
            token=token,
            read=read,
            unsubscribe=service.tokens.make("unsubscribe", stored.id),
            notice=notice,
        )

    # -- operator -----------------------------------------------------------------------------

    bearer = HTTPBearer(auto_error=False)

    def operator(
        request: Request,
        token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        expected = service.settings.serve.operator_token
        if not expected:
            raise HTTPException(404, "The operator area is off: set [serve] operator_token.")
        given = token.credentials if token is not None else None
        if given is None and request.headers.get("authorization", "").lower().startswith("basic"):
            given = _basic_password(request)
        if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(
                401,
                "The operator area needs the operator token.",
                headers={"WWW-Authenticate": 'Basic realm="papers-digest operator"'},
            )

    Operator = Annotated[None, Depends(operator)]

    @app.get("/operator", response_class=HTMLResponse)
    def operator_home(_: Operator) -> HTMLResponse:
        """Subscribers, recent editions with delivery counts, source health."""
        return page("operator.html", **service.overview())

    @app.get("/operator/preview/{name}", response_class=HTMLResponse)
    def operator_preview(_: Operator, name: Annotated[str, "subscriber name"]) -> HTMLResponse:
        """The subscriber's next email from the papers already stored; nothing is sent."""
        stored = service.by_name(name)
        if stored is None:
            raise HTTPException(404, "No such subscriber.")
        html = service.preview(stored)
        if html is None:
            return page("error.html", 200, message=f"Nothing new to send to {name} now.")
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    return app


def _basic_password(request: Request) -> str | None:
    import base64
    import binascii

    value = request.headers.get("authorization", "")
    try:
        decoded = base64.b64decode(value.split(" ", 1)[1], validate=True).decode("utf-8")
    except (IndexError, ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]


def _validator_headers(validator: Validator | Document, cache_control: str) -> dict[str, str]:
    headers = {"ETag": validator.etag, "Cache-Control": cache_control}
    if validator.last_modified is not None:
        headers["Last-Modified"] = email.utils.format_datetime(
            validator.last_modified.replace(microsecond=0), usegmt=True
        )
    return headers


def _cached(document: Document, request: Request, cache_control: str) -> Response:
    """The document, or 304 when the client's copy (ETag / Last-Modified) is current."""
    headers = _validator_headers(document, cache_control)
    if _not_modified(request, document):
        return Response(status_code=304, headers=headers)
    return Response(document.content, media_type=document.media_type, headers=headers)


def _not_modified(request: Request, document: Validator | Document) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:  # RFC 9110: If-None-Match wins over If-Modified-Since
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return "*" in tags or document.etag in tags
    since = request.headers.get("if-modified-since")
    if since is None or document.last_modified is None:
        return False
    try:
        when = email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError):
        return False
    if when.tzinfo is None:
        return False
    return document.last_modified.replace(microsecond=0) <= when
