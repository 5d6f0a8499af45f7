"""Feedback on a paper: "more like this", "less like this", or mute one of its authors."""

from typing import Annotated

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from digest.models import Paper
from digest.web.dependencies import NO_NUL, Rater, Service
from digest.web.pages import page
from digest.web.service import ACTIONS, WebService

router = APIRouter()


def rated(service: WebService, paper_id: str, action: str) -> Paper:
    found = service.paper(paper_id)
    if found is None:
        raise HTTPException(404, "That paper is not in this digest's records.")
    if action not in ACTIONS:
        raise HTTPException(400, f"Unknown action; use one of {', '.join(ACTIONS)}.")
    return found


@router.get("/feedback/{token}", response_class=HTMLResponse)
def feedback_page(
    stored: Rater,
    paper: Annotated[str, Query(max_length=300, pattern=NO_NUL)],
    service: Service,
    action: Annotated[str, Query(max_length=20, pattern=NO_NUL)] = "more",
) -> HTMLResponse:
    """Confirm feedback on a paper; opening the link records nothing."""
    found = rated(service, paper, action)
    return page(
        service, "feedback.html", stored=stored, paper=found, action=action, actions=ACTIONS
    )


@router.post("/feedback/{token}", response_class=HTMLResponse)
def feedback(
    stored: Rater,
    paper: Annotated[str, Form(max_length=300, pattern=NO_NUL)],
    action: Annotated[str, Form(max_length=20, pattern=NO_NUL)],
    service: Service,
    author: Annotated[str, Form(max_length=300, pattern=NO_NUL)] = "",
) -> HTMLResponse:
    """Record "more like this", "less like this" or "mute" one of the paper's authors."""
    found = rated(service, paper, action)
    try:
        service.record_feedback(stored, found, action, author)
    except ValueError as error:
        raise HTTPException(400, str(error)) from None
    preferences = service.tokens.make("preferences", stored.id)
    return page(
        service,
        "feedback_done.html",
        paper=found,
        action=action,
        author=author,
        token=preferences,
    )
