"""Public: the home page, the form script and ``/healthz``."""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response

from digest.web.dependencies import Service
from digest.web.pages import page

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(service: Service) -> HTMLResponse:
    return page(service, "home.html", signup=service.signup.open())


@router.get("/static/profile.js")
def profile_script(service: Service) -> Response:
    """The profile form's enhancement (the form works without it)."""
    loader = service.templates.loader
    assert loader is not None  # digest.rendering always sets one
    source, _, _ = loader.get_source(service.templates, "web/profile.js")
    return Response(
        source,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/healthz")
def healthz(service: Service) -> JSONResponse:
    """Liveness and source health: 200 while the database answers, else 503."""
    healthy, details = service.health()
    return JSONResponse(details, status_code=200 if healthy else 503)
