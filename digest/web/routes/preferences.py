"""The subscriber's preferences page: what they get, their feeds and editions, their feedback."""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from digest.store import StoredSubscriber
from digest.web.dependencies import ROW_ID, Owner, Service
from digest.web.pages import page
from digest.web.service import WebService

router = APIRouter()


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences(stored: Owner, token: str, service: Service) -> HTMLResponse:
    """What the subscriber gets, their feeds and editions, and the feedback they gave."""
    return _preferences(service, stored, token)


@router.post("/preferences/{token}/feedback/{feedback_id}/delete", response_class=HTMLResponse)
def forget_feedback(
    stored: Owner, token: str, feedback_id: ROW_ID, service: Service
) -> HTMLResponse:
    removed = service.remove_feedback(stored, feedback_id)
    notice = "Removed." if removed else "Already removed."
    return _preferences(service, stored, token, notice=notice)


def _preferences(
    service: WebService, stored: StoredSubscriber, token: str, notice: str = ""
) -> HTMLResponse:
    read = service.tokens.make("read", stored.id)
    return page(
        service,
        "preferences.html",
        prefs=service.preferences(stored),
        token=token,
        read=read,
        unsubscribe=service.tokens.make("unsubscribe", stored.id),
        notice=notice,
    )
