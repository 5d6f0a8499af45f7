"""ESP bounce and complaint webhooks: ``POST /webhooks/{ses,sendgrid,postmark,mailgun}``.

Each endpoint answers only when its provider is configured in ``[bounces.webhooks]`` (else
404, like any unknown path). A request is checked with the provider's own scheme
(:mod:`digest.bounces.webhooks`), its notices recorded by ``WebService.record_bounces``, and
only then answered 200: a database failure is a 500, so the provider sends it again. A request
that is not authentic gets 401/403 (Mailgun: 406, the answer Mailgun does not retry) and a body
that is not the documented JSON a 400, each with a one-line JSON error.

What the endpoints keep between requests (SNS signing certificates, Mailgun tokens already
used) is a :class:`Webhooks` in the app state, made on first use from the settings; tests put
their own there (``app.state.bounce_webhooks``) to fetch certificates from a local server.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from digest.bounces.notice import BounceNotice
from digest.bounces.webhooks import (
    SENDGRID_SIGNATURE,
    SENDGRID_TIMESTAMP,
    Fetch,
    MailgunTokens,
    SnsConfirmation,
    SnsVerifier,
    WebhookMalformed,
    WebhookRejected,
    WebhookUnavailable,
    https_get,
    mailgun_notices,
    postmark_notices,
    sendgrid_notices,
    ses_notices,
)
from digest.config import WebhookSettings
from digest.web.dependencies import Service
from digest.web.service import WebService

log = logging.getLogger("digest.webhooks")
router = APIRouter()

#: the largest body read (SendGrid batches events; a batch stays well under this)
BODY_LIMIT = 4 * 1024 * 1024


class Webhooks:
    """The endpoints' configuration and what they keep between requests. Secrets are read
    from ``environ`` (the process environment) at each request, by the names configured."""

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        fetch: Fetch = https_get,
        sns: SnsVerifier | None = None,
        mailgun: MailgunTokens | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.settings = settings
        self.sns = sns or SnsVerifier(settings.ses_topic_arns, fetch=fetch)
        self.mailgun = mailgun or MailgunTokens()
        self.environ = environ

    def secret(self, name: str | None, what: str) -> str:
        """The secret in environment variable ``name``; 404 when the provider is not
        configured, :class:`WebhookUnavailable` when the variable is not set."""
        if name is None:
            raise HTTPException(404, "Not Found")
        value = self.environ.get(name)
        if not value:
            raise WebhookUnavailable(f"{what}: environment variable {name} is not set")
        return value


_lock = threading.Lock()


def webhooks_of(request: Request, service: WebService) -> Webhooks:
    """The app's :class:`Webhooks`, made from the settings on first use."""
    with _lock:
        found = getattr(request.app.state, "bounce_webhooks", None)
        if not isinstance(found, Webhooks):
            found = Webhooks(service.settings.bounces.webhooks)
            request.app.state.bounce_webhooks = found
        return found


async def _body(request: Request) -> bytes:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > BODY_LIMIT:
            raise HTTPException(413, "Request body too large.")
    return bytes(data)


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status, dict(headers or {}))


def _answer(
    origin: str,
    service: WebService,
    check: Callable[[], Sequence[BounceNotice]],
    *,
    rejected_status: int | None = None,
    on_failure: Callable[[], None] | None = None,
) -> Response:
    """Check the request, record its notices, and answer (runs in a worker thread)."""
    try:
        notices = check()
    except WebhookRejected as error:
        log.warning("webhooks: %s request rejected: %s", origin, error)
        status = rejected_status or error.status
        headers = {"WWW-Authenticate": 'Basic realm="webhooks"'} if status == 401 else None
        return _error(status, str(error), headers)
    except WebhookMalformed as error:
        log.warning("webhooks: %s request malformed: %s", origin, error)
        return _error(400, str(error))
    except WebhookUnavailable as error:
        log.error("webhooks: %s request not checked: %s", origin, error)
        return _error(503, str(error))
    if notices:
        try:
            service.record_bounces(notices)
        except Exception:
            log.exception("webhooks: recording %d %s notices failed", len(notices), origin)
            if on_failure is not None:
                on_failure()
            return _error(500, "the events could not be recorded; send them again")
    level = logging.INFO if notices else logging.DEBUG  # opens, clicks: nothing to say
    log.log(level, "webhooks: %s: %d notices recorded", origin, len(notices))
    return JSONResponse({"recorded": len(notices)})


@router.post("/webhooks/ses", include_in_schema=False)
async def ses(request: Request, service: Service) -> Response:
    """Amazon SES notifications through an SNS HTTPS subscription."""
    hooks = webhooks_of(request, service)
    if not hooks.settings.ses_topic_arns:
        raise HTTPException(404, "Not Found")
    body = await _body(request)
    confirmed: list[str] = []

    def check() -> Sequence[BounceNotice]:
        found = ses_notices(body, verifier=hooks.sns)
        if isinstance(found, SnsConfirmation):
            hooks.sns.confirm(found)
            log.info("webhooks: SNS subscription to %s confirmed", found.topic_arn)
            confirmed.append(found.topic_arn)
            return []
        return found

    response = await run_in_threadpool(_answer, "ses", service, check)
    if confirmed and response.status_code == 200:
        return JSONResponse({"confirmed": confirmed[0]})
    return response


@router.post("/webhooks/sendgrid", include_in_schema=False)
async def sendgrid(request: Request, service: Service) -> Response:
    """SendGrid's Signed Event Webhook."""
    hooks = webhooks_of(request, service)
    name = hooks.settings.sendgrid_public_key_env
    if name is None:
        raise HTTPException(404, "Not Found")
    body = await _body(request)

    def check() -> Sequence[BounceNotice]:
        return sendgrid_notices(
            body,
            signature=request.headers.get(SENDGRID_SIGNATURE),
            timestamp=request.headers.get(SENDGRID_TIMESTAMP),
            public_key=hooks.secret(name, "SendGrid verification key"),
        )

    return await run_in_threadpool(_answer, "sendgrid", service, check)


@router.post("/webhooks/postmark", include_in_schema=False)
async def postmark(request: Request, service: Service) -> Response:
    """Postmark's bounce and spam-complaint webhooks (HTTP Basic credentials in the URL)."""
    hooks = webhooks_of(request, service)
    username = hooks.settings.postmark_username
    if username is None:
        raise HTTPException(404, "Not Found")
    body = await _body(request)

    def check() -> Sequence[BounceNotice]:
        return postmark_notices(
            body,
            authorization=request.headers.get("Authorization"),
            username=username,
            password=hooks.secret(hooks.settings.postmark_password_env, "Postmark password"),
        )

    return await run_in_threadpool(_answer, "postmark", service, check)


@router.post("/webhooks/mailgun", include_in_schema=False)
async def mailgun(request: Request, service: Service) -> Response:
    """Mailgun's webhooks (JSON, signed with the webhook signing key)."""
    hooks = webhooks_of(request, service)
    name = hooks.settings.mailgun_signing_key_env
    if name is None:
        raise HTTPException(404, "Not Found")
    body = await _body(request)
    taken: list[str] = []

    def check() -> Sequence[BounceNotice]:
        key = hooks.secret(name, "Mailgun signing key")
        delivery = mailgun_notices(body, signing_key=key, tokens=hooks.mailgun)
        taken.append(delivery.token)
        return delivery.notices

    def release() -> None:  # not recorded: Mailgun's retry must not look like a replay
        for token in taken:
            hooks.mailgun.release(token)

    return await run_in_threadpool(
        _answer, "mailgun", service, check, rejected_status=406, on_failure=release
    )
