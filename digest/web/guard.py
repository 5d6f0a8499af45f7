"""Guards of the state-changing forms: CSRF tokens bound to a cookie, and rate limits.

CSRF (double submit, signed): a page with a form sets a random ``pd_form`` cookie (HttpOnly,
SameSite=Strict) and puts a signed, expiring token of that value in the form; a POST is taken
only when the two match and any ``Origin`` header is the site's own. A cross-site page can
neither read the cookie nor forge the signature. (The RFC 8058 one-click unsubscribe POST is
exempt: mail providers send it without cookies, and its token is the credential.)

Rate limits (``limits``, a moving window in memory per process): per client address for
sign-up attempts and previews, and per email address for the emails they send. A refused
request gets 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.exceptions import HTTPException

from digest.tokens import Tokens

COOKIE = "pd_form"
FIELD = "csrf"
#: a form stays valid for this long after the page was shown
FORM_MAX_AGE = 4 * 3600
EXPIRED = "This form has expired or was not sent from this site: reload the page and try again."


class FormGuard:
    """Issues and checks the CSRF token of every state-changing form."""

    def __init__(self, tokens: Tokens, base_url: str) -> None:
        self.tokens = tokens
        parts = urlsplit(base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.secure = parts.scheme == "https"

    def issue(self, request: Request) -> tuple[str, str | None]:
        """``(form token, cookie value to set or None)`` for a page with forms."""
        current = request.cookies.get(COOKIE)
        value = current if current and len(current) == 32 else secrets.token_hex(16)
        return self.tokens.make_timed("form", value), (None if value == current else value)

    def set_cookie(self, response: Response, value: str | None) -> Response:
        if value is not None:
            response.set_cookie(
                COOKIE,
                value,
                max_age=FORM_MAX_AGE,
                httponly=True,
                samesite="strict",
                secure=self.secure,
                path="/",
            )
        return response

    def check(self, request: Request, submitted: str | None) -> None:
        """Raise 403 unless ``submitted`` matches this browser's cookie and the origin is ours."""
        origin = request.headers.get("origin")
        if (
            origin
            and origin != "null"
            and origin != self.origin
            and not _same_host(origin, request)
        ):
            raise HTTPException(403, EXPIRED)
        cookie = request.cookies.get(COOKIE)
        value = (
            self.tokens.read_timed("form", submitted, max_age=FORM_MAX_AGE) if submitted else None
        )
        if not cookie or value != cookie:
            raise HTTPException(403, EXPIRED)


def _same_host(origin: str, request: Request) -> bool:
    # Served under another name than base_url (a test server, a local port): its own origin.
    host = request.headers.get("host")
    return bool(host) and urlsplit(origin).netloc == host


class RateLimits:
    """Named moving-window limits, e.g. ``{"signup-ip": "10/hour"}``."""

    def __init__(self, rates: dict[str, str]) -> None:
        self._storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._items: dict[str, RateLimitItem] = {name: parse(rate) for name, rate in rates.items()}

    def hit(self, name: str, key: str) -> int | None:
        """Count one request; ``None`` if allowed, else the seconds until it would be."""
        item = self._items[name]
        if self._limiter.hit(item, name, key):
            return None
        stats: Any = self._limiter.get_window_stats(item, name, key)
        return max(1, math.ceil(float(stats.reset_time) - time.time()))

    def refuse(self, name: str, key: str) -> None:
        """Raise 429 with ``Retry-After`` when ``key`` is over the limit ``name``."""
        wait = self.hit(name, key)
        if wait is not None:
            raise HTTPException(
                429,
                "Too many attempts from here: please wait a while and try again.",
                headers={"Retry-After": str(wait)},
            )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
