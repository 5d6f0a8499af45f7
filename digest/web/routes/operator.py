"""The operator area, behind ``[serve] operator_token`` (a bearer token, or the password of
HTTP basic auth): subscribers, editions, source health, and previews."""

import base64
import binascii
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from digest.web.dependencies import Service
from digest.web.pages import page

router = APIRouter()
bearer = HTTPBearer(auto_error=False)


def operator(
    request: Request,
    token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    service: Service,
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


@router.get("/operator", response_class=HTMLResponse)
def operator_home(_: Operator, service: Service) -> HTMLResponse:
    """Subscribers, recent editions with delivery counts, source health."""
    return page(service, "operator.html", **service.overview())


@router.get("/operator/preview/{name}", response_class=HTMLResponse)
def operator_preview(
    _: Operator, name: Annotated[str, "subscriber name"], service: Service
) -> HTMLResponse:
    """The subscriber's next email from the papers already stored; nothing is sent."""
    stored = service.by_name(name)
    if stored is None:
        raise HTTPException(404, "No such subscriber.")
    html = service.preview(stored)
    if html is None:
        return page(service, "error.html", 200, message=f"Nothing new to send to {name} now.")
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def _basic_password(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    try:
        decoded = base64.b64decode(value.split(" ", 1)[1], validate=True).decode("utf-8")
    except (IndexError, ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]
