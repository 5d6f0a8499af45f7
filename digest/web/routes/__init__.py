"""The app's routes, one :class:`~fastapi.APIRouter` per group, in the order they are
matched."""

from fastapi import APIRouter

from digest.web.routes import feedback, feeds, health, operator, preferences, unsubscribe

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    feeds.router,
    unsubscribe.router,
    feedback.router,
    preferences.router,
    operator.router,
)
