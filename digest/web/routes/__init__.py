"""The app's routes, one :class:`~fastapi.APIRouter` per group, in the order they are
matched."""

from fastapi import APIRouter

from digest.web.routes import (
    feedback,
    feeds,
    health,
    operator,
    preferences,
    signup,
    unsubscribe,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    feeds.router,
    unsubscribe.router,
    signup.router,
    feedback.router,
    preferences.router,
    operator.router,
)
