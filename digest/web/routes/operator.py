"""The operator area, behind ``[serve] operator_token`` (a bearer token, or the password of
HTTP basic auth): subscribers, editions, source health, and previews."""

import base64
import binascii
import csv
import hmac
import io
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from digest.web.dependencies import Service
from digest.web.guard import FIELD
from digest.web.pages import form_page, page
from digest.web.signup import MODES

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
def operator_home(_: Operator, request: Request, service: Service) -> HTMLResponse:
    """Subscriber counts, the sign-up log and mode, recent editions, source health."""
    return form_page(service, request, "operator.html", notice="", **service.overview())


@router.post("/operator/signup-mode", response_class=HTMLResponse)
async def signup_mode(_: Operator, request: Request, service: Service) -> HTMLResponse:
    """Switch the sign-up mode at run time (kept in the database, over ``[signup] mode``)."""
    form = await request.form()
    submitted, mode = form.get(FIELD), form.get("mode")
    service.guard.check(request, submitted if isinstance(submitted, str) else None)
    if not isinstance(mode, str) or mode not in MODES:
        raise HTTPException(400, f"Sign-up mode must be one of {', '.join(MODES)}.")
    service.signup.set_mode(mode)
    notice = f"Sign-up is now {mode}."
    return form_page(service, request, "operator.html", notice=notice, **service.overview())


@router.get("/operator/subscribers.{fmt}")
def export_subscribers(
    _: Operator, fmt: Annotated[str, FastPath(pattern="^(csv|jsonl)$")], service: Service
) -> Response:
    """Every subscriber but the deleted, with status and settings (CSV or JSON Lines)."""
    rows = service.subscriber_rows()
    if fmt == "jsonl":
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        media = "application/x-ndjson"
    else:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["name"])
        writer.writeheader()
        for r in rows:
            writer.writerow({k: "; ".join(v) if isinstance(v, list) else v for k, v in r.items()})
        body, media = out.getvalue(), "text/csv; charset=utf-8"
    return Response(
        body,
        media_type=media,
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="subscribers.{fmt}"',
        },
    )


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
