"""The subscriber's own page: change what they get, see when the next digest comes, undo
feedback, subscribe again, download their data, delete themselves.

Every change is a POST carrying the form's CSRF token (:mod:`digest.web.guard`) and takes
effect at the next edition. Subscribers from the configuration file see their settings but
change them there (the file is the source of truth; the next run would undo an edit).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from digest.cron import next_fire
from digest.store import StoredSubscriber, utcnow
from digest.web.dependencies import ROW_ID, Owner, Service
from digest.web.guard import FIELD
from digest.web.pages import form_page, page
from digest.web.profile_form import ProfileForm, check, schedule_words
from digest.web.routes.signup import form_context, known_categories, read_form
from digest.web.service import WebService

router = APIRouter()


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences(stored: Owner, token: str, request: Request, service: Service) -> HTMLResponse:
    """What the subscriber gets, as an editable form, with their feeds, editions, feedback."""
    return _preferences(service, request, stored, token)


@router.post("/preferences/{token}", response_class=HTMLResponse)
async def save_preferences(
    stored: Owner, token: str, request: Request, service: Service
) -> HTMLResponse:
    submitted = await read_form(request)
    values = submitted.values
    service.guard.check(request, submitted.csrf)
    if stored.origin == "config":
        return _preferences(
            service, request, stored, token, notice="This subscription is set in the "
            "configuration file: ask the people who run this digest to change it.",
        )  # fmt: skip
    values["email"] = stored.subscriber.email or ""
    checked = submitted.checked(
        check(values, name=stored.subscriber.name, known_categories=known_categories())
    )
    if checked.subscriber is None:
        return _preferences(
            service, request, stored, token, form=checked.form, errors=checked.errors, status=400
        )
    # What feedback folded in stays the store's (muted authors are managed below the form).
    profile = checked.subscriber.profile
    keep = stored.subscriber.profile
    subscriber = replace(
        checked.subscriber,
        profile=replace(profile, exclude=keep.exclude, disliked=keep.disliked),
        active=stored.subscriber.active,
    )
    await run_in_threadpool(service.signup.keep_references, subscriber, submitted.papers)
    await run_in_threadpool(service.store.update_subscriber, stored.id, subscriber)
    fresh = service.store.subscriber(stored.id) or stored
    return _preferences(
        service, request, fresh, token, notice="Saved: your next digest uses these settings."
    )


@router.post("/preferences/{token}/feedback/{feedback_id}/delete", response_class=HTMLResponse)
async def forget_feedback(
    stored: Owner, token: str, feedback_id: ROW_ID, request: Request, service: Service
) -> HTMLResponse:
    form = await request.form()
    submitted = form.get(FIELD)
    service.guard.check(request, submitted if isinstance(submitted, str) else None)
    removed = service.remove_feedback(stored, feedback_id)
    notice = "Removed." if removed else "Already removed."
    return _preferences(service, request, stored, token, notice=notice)


@router.post("/preferences/{token}/resubscribe", response_class=HTMLResponse)
async def resubscribe(
    stored: Owner, token: str, request: Request, service: Service
) -> HTMLResponse:
    """Send a fresh confirmation link: subscribing again is confirmed like the first time."""
    form = await request.form()
    submitted = form.get(FIELD)
    service.guard.check(request, submitted if isinstance(submitted, str) else None)
    if not stored.unsubscribed:
        return _preferences(service, request, stored, token, notice="You are subscribed.")
    service.limits.refuse("signup-address", (stored.subscriber.email or "").casefold())
    await run_in_threadpool(service.signup.resubscribe, stored)
    notice = f"We sent a confirmation link to {stored.subscriber.email}."
    return _preferences(service, request, stored, token, notice=notice)


@router.post("/preferences/{token}/import", response_class=HTMLResponse)
async def import_papers(
    stored: Owner, token: str, request: Request, service: Service
) -> HTMLResponse:
    """Like the papers a Zotero library, an ORCID iD, ... lists now; resynced later."""
    form = await request.form()
    submitted = form.get(FIELD)
    service.guard.check(request, submitted if isinstance(submitted, str) else None)
    if stored.origin == "config" or stored.unsubscribed:
        notice = "Imports are for readers who manage their own subscription here."
        return _preferences(service, request, stored, token, notice=notice, status=400)
    name, ref = form.get("importer"), form.get("ref")
    if not isinstance(name, str) or not isinstance(ref, str):
        return _preferences(
            service, request, stored, token, notice="Choose where to import from.", status=400
        )
    service.limits.refuse("import", str(stored.id))
    from digest.importers import ProfileImportError

    try:
        summary = await run_in_threadpool(service.imports.run, stored, name[:40], ref)
    except ProfileImportError as error:
        return _preferences(
            service, request, stored, token, notice=f"Not imported: {error}", status=400
        )
    fresh = service.store.subscriber(stored.id) or stored
    return _preferences(service, request, fresh, token, notice=f"Imported {summary}.")


@router.post("/preferences/{token}/import/{import_id}/delete", response_class=HTMLResponse)
async def stop_import(
    stored: Owner, token: str, import_id: ROW_ID, request: Request, service: Service
) -> HTMLResponse:
    """Stop resyncing an import; the papers it added stay liked (remove them in the form)."""
    form = await request.form()
    submitted = form.get(FIELD)
    service.guard.check(request, submitted if isinstance(submitted, str) else None)
    removed = await run_in_threadpool(service.imports.remove, stored, import_id)
    notice = "No longer synced; its papers stay in your list." if removed else "Already removed."
    return _preferences(service, request, stored, token, notice=notice)


@router.get("/preferences/{token}/export.json")
def export(stored: Owner, service: Service) -> Response:
    """Everything stored about the subscriber, as JSON (a download)."""
    data = service.export(stored)
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    return Response(
        body,
        media_type="application/json",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": 'attachment; filename="my-digest-data.json"',
        },
    )


@router.post("/preferences/{token}/delete", response_class=HTMLResponse)
async def delete(stored: Owner, token: str, request: Request, service: Service) -> HTMLResponse:
    """Erase the subscriber (profile, feedback, selections); delivery counts stay anonymous."""
    form = await request.form()
    submitted = form.get(FIELD)
    service.guard.check(request, submitted if isinstance(submitted, str) else None)
    if form.get("confirm") != "yes":
        return _preferences(
            service, request, stored, token, notice="Tick the box to confirm the deletion."
        )
    await run_in_threadpool(service.forget, stored)
    return page(service, "deleted.html")


def _preferences(
    service: WebService,
    request: Request,
    stored: StoredSubscriber,
    token: str,
    *,
    notice: str = "",
    form: ProfileForm | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    sub = stored.subscriber
    now = utcnow()
    upcoming = None
    if not stored.unsubscribed and not stored.pending:
        upcoming = next_fire(sub.schedule, sub.timezone, after=now)
    return form_page(
        service,
        request,
        "preferences.html",
        status,
        prefs=service.preferences(stored),
        token=token,
        read=service.tokens.make("read", stored.id),
        unsubscribe=service.tokens.make("unsubscribe", stored.id),
        notice=notice,
        form=form or ProfileForm.of(sub),
        errors=errors or {},
        editable=stored.origin != "config",
        imports=service.imports.of(stored),
        importers=service.imports.choices(),
        resync_hours=service.settings.signup.resync_imports_hours,
        schedule=schedule_words(sub.schedule, sub.timezone),
        upcoming=_local(upcoming, sub.timezone),
        **form_context(service),
    )


def _local(when: dt.datetime | None, timezone: str) -> str | None:
    if when is None:
        return None
    from zoneinfo import ZoneInfo

    local = when.astimezone(ZoneInfo(timezone))
    return local.strftime(f"%A %d %B %Y, %H:%M ({timezone})")
