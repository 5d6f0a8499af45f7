"""The ASGI app of ``digest serve`` (FastAPI): every page a subscriber reaches from a digest.

Subscriber URLs carry a signed, purpose-salted token (:mod:`digest.tokens`): a tampered,
foreign or rotated-out token gets a 404 and changes nothing. A GET never changes anything
(mail scanners prefetch links); changes are POSTs from a confirmation page, or the RFC 8058
one-click POST mail providers send for ``List-Unsubscribe``.

The routes are in :mod:`digest.web.routes`, one router per group; what they share is in
:mod:`~digest.web.dependencies` (the service, token → subscriber), :mod:`~digest.web.pages`,
:mod:`~digest.web.caching`, :mod:`~digest.web.errors` and :mod:`~digest.web.security`.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from digest.web.errors import http_error, invalid_request
from digest.web.routes import ROUTERS
from digest.web.routes import bounces as bounce_webhooks
from digest.web.security import SECURITY_HEADERS, security_headers
from digest.web.service import WebService

__all__ = ["SECURITY_HEADERS", "Lifecycle", "create_app"]


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
    app.state.service = service  # what digest.web.dependencies.service_of hands the routes
    app.middleware("http")(security_headers)
    app.exception_handler(HTTPException)(http_error)
    app.exception_handler(RequestValidationError)(invalid_request)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(bounce_webhooks.router)  # POST /webhooks/<provider>
    return app
