"""Errors as pages (JSON for ``/healthz`` and the schema), with the status and headers kept."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from digest.web.dependencies import service_of
from digest.web.pages import page

#: paths whose errors stay JSON
JSON_PATHS = ("/healthz", "/openapi.json")


async def http_error(request: Request, error: HTTPException) -> Response:
    if request.url.path in JSON_PATHS:
        return JSONResponse({"detail": error.detail}, error.status_code, error.headers)
    response = page(service_of(request), "error.html", error.status_code, message=str(error.detail))
    for key, value in (error.headers or {}).items():
        response.headers[key] = value
    return response


async def invalid_request(request: Request, error: RequestValidationError) -> Response:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in error.errors()
    )
    return page(service_of(request), "error.html", 422, message=f"Invalid request: {problems}")
