"""Sign-up with double opt-in: ``/subscribe`` (form, live preview, request) and
``/confirm/<token>`` (a page with a button; only its POST activates)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from digest.models import Paper
from digest.web.dependencies import BAD_LINK, Service
from digest.web.guard import FIELD, client_address
from digest.web.pages import form_page, page
from digest.web.profile_form import (
    CHANNELS,
    DAY_NAMES,
    FREQUENCIES,
    MAX_ITEMS,
    Checked,
    ProfileForm,
    check,
)
from digest.web.service import WebService

router = APIRouter()
CLOSED = "Sign-up is closed here: ask the people who run this digest to add you."
#: the honeypot: a field people never see or fill (hidden by CSS), bots do
HONEYPOT = "website"
#: the file field for a BibTeX / Zotero CSV / Zotero RDF export of liked papers
UPLOAD = "liked_file"
MAX_UPLOAD = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Submitted:
    """A submitted profile form: its fields, and the papers of an uploaded export (already
    listed in ``values["liked"]``, stored as references when the profile is saved)."""

    values: dict[str, str | list[str]]
    papers: tuple[Paper, ...] = ()
    upload_error: str | None = None
    csrf: str | None = field(default=None)

    def checked(self, checked: Checked) -> Checked:
        """``checked`` with the upload's error, if any, on the liked papers' field."""
        if self.upload_error is None:
            return checked
        return Checked(form=checked.form, errors={**checked.errors, "liked": self.upload_error})


async def read_form(request: Request) -> Submitted:
    """The profile form's fields; an uploaded export's papers are added, one id per line, to
    the ``liked`` field (so a preview shows them there and a second submit keeps them)."""
    form = await request.form()
    values = values_of(form)
    csrf = str(values.get(FIELD, "")) or None
    upload = form.get(UPLOAD)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return Submitted(values, csrf=csrf)
    name = upload.filename[-80:]
    data = await upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        return Submitted(values, upload_error=f"{name}: larger than 2 MB", csrf=csrf)
    from digest.importers import ProfileImportError, read_upload

    try:
        papers = await run_in_threadpool(read_upload, name, data)
    except ProfileImportError as error:
        return Submitted(values, upload_error=str(error)[:300], csrf=csrf)
    if not papers:
        empty = f"{name}: no entry with a title and an arXiv id or DOI"
        return Submitted(values, upload_error=empty, csrf=csrf)
    typed = str(values.get("liked", "")).rstrip()
    values["liked"] = "\n".join([*([typed] if typed else []), *(str(p.id) for p in papers)])
    return Submitted(values, papers=tuple(papers), csrf=csrf)


def form_context(service: WebService) -> dict[str, Any]:
    """What the profile form's template needs besides the values."""
    return {
        "frequencies": FREQUENCIES,
        "days": DAY_NAMES,
        "max_items_choices": MAX_ITEMS,
        "channel_names": CHANNELS,
        "categories": _categories(),
    }


def _categories() -> list[tuple[str, str]]:
    try:
        from digest.taxonomy import CATEGORIES
    except ImportError:  # pragma: no cover - the taxonomy module is part of the package
        return []
    return [(c.code, c.name) for c in CATEGORIES]


def known_categories() -> frozenset[str] | None:
    codes = frozenset(code for code, _ in _categories())
    return codes or None


def values_of(form: FormData) -> dict[str, str | list[str]]:
    """The submitted fields; repeatable ones (categories, channels) as lists."""
    out: dict[str, str | list[str]] = {}
    for key in form:
        items = [v for v in form.getlist(key) if isinstance(v, str)]
        out[key] = items if key in ("categories", "channels") else (items[0] if items else "")
    return out


def _open_or_404(service: WebService) -> None:
    if not service.signup.open():
        raise HTTPException(404, CLOSED)


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_form(request: Request, service: Service) -> HTMLResponse:
    """The sign-up form; nothing is stored."""
    _open_or_404(service)
    service.signup.warm_soon()
    return _form(service, request, ProfileForm(), {}, None)


@router.post("/subscribe", response_class=HTMLResponse)
async def subscribe(request: Request, service: Service) -> HTMLResponse:
    """``action=preview`` shows the digest the profile would get now; else the sign-up is
    requested and the answer is the same whether or not the address was known."""
    _open_or_404(service)
    submitted = await read_form(request)
    values = submitted.values
    service.guard.check(request, submitted.csrf)
    preview = values.get("action") == "preview"
    service.limits.refuse("preview-ip" if preview else "signup-ip", client_address(request))
    checked = submitted.checked(
        check(
            values,
            name=service.signup.new_name(str(values.get("email", "")) or "reader@localhost"),
            known_categories=known_categories(),
            email_required=not preview,
        )
    )
    subscriber = checked.subscriber
    if (
        subscriber is not None
        and subscriber.email
        and not service.signup.domain_allowed(subscriber.email)
    ):
        domains = ", ".join(service.settings.signup.allowed_domains)
        checked = Checked(
            form=checked.form, errors={"email": f"sign-up here is for addresses at {domains}"}
        )
        subscriber = None
    if preview or subscriber is None:
        shown = await run_in_threadpool(service.signup.preview, subscriber) if subscriber else None
        status = 400 if checked.errors and not preview else 200
        return _form(service, request, checked.form, checked.errors, shown, status=status)
    if values.get(HONEYPOT):
        service.store.log_signup("honeypot", now=_now(), address=subscriber.email)
    elif service.limits.hit("signup-address", (subscriber.email or "").casefold()) is None:
        await run_in_threadpool(service.signup.request, subscriber, submitted.papers)
    else:
        service.store.log_signup("address-limited", now=_now(), address=subscriber.email)
    return page(service, "subscribe_sent.html", email=subscriber.email)


def _form(
    service: WebService,
    request: Request,
    form: ProfileForm,
    errors: dict[str, str],
    preview: Any,
    *,
    status: int = 200,
) -> HTMLResponse:
    return form_page(
        service,
        request,
        "subscribe.html",
        status,
        form=form,
        errors=errors,
        preview=preview,
        **form_context(service),
    )


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(token: str, request: Request, service: Service) -> HTMLResponse:
    """A page with a Confirm button: opening the link (as mail scanners do) changes nothing."""
    stored = service.signup.confirmable(token)
    if stored is None:
        raise HTTPException(404, f"{BAD_LINK} Confirmation links expire after a few days.")
    return form_page(service, request, "confirm.html", stored=stored, token=token, done=False)


@router.post("/confirm/{token}", response_class=HTMLResponse)
async def confirm(token: str, request: Request, service: Service) -> HTMLResponse:
    form = await request.form()
    submitted = form.get(FIELD)
    service.guard.check(request, submitted if isinstance(submitted, str) else None)
    stored = service.signup.confirmable(token)
    if stored is None:
        raise HTTPException(404, f"{BAD_LINK} Confirmation links expire after a few days.")
    await run_in_threadpool(service.signup.confirm, stored)
    tokens = service.tokens
    return page(
        service,
        "confirm.html",
        stored=stored,
        done=True,
        preferences=tokens.make("preferences", stored.id),
        read=tokens.make("read", stored.id),
    )


def _now() -> Any:
    from digest.store import utcnow

    return utcnow()
