"""The web console for the people who coordinate care (DESIGN §1): server-rendered pages under
``/console`` over the same services and access rules as the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from app.settings import Settings
from app.web import actions, pages, sign_in, statistics
from app.web.oidc import OidcClient

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the console, its static files and the landing page at ``/``."""
    app.state.oidc = OidcClient(settings) if settings.oidc_configured else None
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    for module in (sign_in, pages, statistics, actions):
        app.include_router(module.api)
