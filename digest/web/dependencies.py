"""What routes are handed: the app's :class:`WebService`, the subscriber a signed token names,
and the bounds on values that reach a query.

A tampered, foreign or rotated-out token, or one signed for another purpose, is a 404.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.exceptions import HTTPException

from digest.store import StoredSubscriber
from digest.web.service import WebService

#: values that reach a query: no NUL (PostgreSQL refuses it), ids in the columns' range
NO_NUL = r"^[^\x00]*$"
EDITION_ID = r"^[0-9A-Za-z-]{1,40}$"
ROW_ID = Annotated[int, Path(ge=1, le=2**31 - 1)]  # an INTEGER column everywhere
BAD_LINK = "This link is not valid. It may be mistyped, or older than the site's current keys."


def service_of(request: Request) -> WebService:
    """The service of the app serving ``request`` (``create_app`` keeps it in the app state)."""
    service: WebService = request.app.state.service
    return service


Service = Annotated[WebService, Depends(service_of)]


def reader(purpose: str) -> Callable[[str, WebService], StoredSubscriber]:
    """A dependency: the subscriber of the path's ``token`` signed for ``purpose``, else 404."""

    def lookup(token: str, service: Service) -> StoredSubscriber:
        stored = service.subscriber(purpose, token)
        if stored is None:
            raise HTTPException(404, BAD_LINK)
        return stored

    return lookup


Reader = Annotated[StoredSubscriber, Depends(reader("read"))]
Unsubscriber = Annotated[StoredSubscriber, Depends(reader("unsubscribe"))]
Rater = Annotated[StoredSubscriber, Depends(reader("feedback"))]
Owner = Annotated[StoredSubscriber, Depends(reader("preferences"))]
