"""Unsubscribe (RFC 8058): a confirmation page, and the one-click POST."""

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from digest.web.dependencies import Service, Unsubscriber
from digest.web.pages import page

router = APIRouter()


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(stored: Unsubscriber, service: Service) -> HTMLResponse:
    """A confirmation page: opening the link changes nothing."""
    return page(service, "unsubscribe.html", stored=stored, done=False)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(
    stored: Unsubscriber,
    one_click: Annotated[str, Form(alias="List-Unsubscribe")],
    service: Service,
) -> HTMLResponse:
    """Unsubscribe: the one-click POST (``List-Unsubscribe=One-Click``); idempotent,
    answered in place (no redirect, no cookie)."""
    if one_click != "One-Click":
        raise HTTPException(400, "Expected List-Unsubscribe=One-Click.")
    service.unsubscribe(stored)
    return page(service, "unsubscribe.html", stored=stored, done=True)
