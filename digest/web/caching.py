"""HTTP caching: ETag / Last-Modified on documents, and 304 when the client's copy is current."""

from __future__ import annotations

import email.utils

from fastapi import Request, Response

from digest.web.service import Document, Validator


def validator_headers(
    validator: Validator | Document, cache_control: str, *, vary: str | None = None
) -> dict[str, str]:
    headers = {"ETag": validator.etag, "Cache-Control": cache_control}
    if vary:
        headers["Vary"] = vary
    if validator.last_modified is not None:
        headers["Last-Modified"] = email.utils.format_datetime(
            validator.last_modified.replace(microsecond=0), usegmt=True
        )
    return headers


def cached(
    document: Document, request: Request, cache_control: str, *, vary: str | None = None
) -> Response:
    """The document, or 304 when the client's copy (ETag / Last-Modified) is current."""
    headers = validator_headers(document, cache_control, vary=vary)
    if not_modified(request, document):
        return Response(status_code=304, headers=headers)
    return Response(document.content, media_type=document.media_type, headers=headers)


def not_modified(request: Request, document: Validator | Document) -> bool:
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
