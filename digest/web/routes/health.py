"""Public: the home page and ``/healthz``."""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse

from digest.web.dependencies import Service
from digest.web.pages import page

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(service: Service) -> HTMLResponse:
    return page(service, "home.html")


@router.get("/healthz")
def healthz(service: Service) -> JSONResponse:
    """Liveness and source health: 200 while the database answers, else 503."""
    healthy, details = service.health()
    return JSONResponse(details, status_code=200 if healthy else 503)
