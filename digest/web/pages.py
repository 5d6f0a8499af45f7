"""Pages: the templates under ``web/`` rendered for the site, never cached."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from digest.web.service import WebService


def page(service: WebService, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``templates/web/<name>`` with the site and ``context``; ``Cache-Control: no-store``."""
    html = service.templates.get_template(f"web/{name}").render(site=service.site, **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def form_page(
    service: WebService, request: Request, name: str, status: int = 200, **context: Any
) -> HTMLResponse:
    """Like :func:`page`, for pages with state-changing forms: ``csrf`` is in the context
    and the cookie it is bound to is set (:mod:`digest.web.guard`)."""
    token, cookie = service.guard.issue(request)
    response = page(service, name, status, csrf=token, **context)
    service.guard.set_cookie(response, cookie)
    return response
