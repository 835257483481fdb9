"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse

from app.http.routing import DocumentedRoute
from app.services.readiness import schema_revision

api = APIRouter(tags=["health"], route_class=DocumentedRoute)


class Health(BaseModel):
    """Probe answer."""

    status: str
    detail: str | None = None


@api.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process answers."""
    return Health(status="ok")


@api.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the migration head the code expects."""
    expected = request.app.state.head_revision
    try:
        current = await schema_revision(request.app.state.engine)
    except Exception as exc:
        return JSONResponse(
            {"status": "unavailable", "detail": f"database unreachable: {type(exc).__name__}"}, 503
        )
    if current != expected:
        return JSONResponse(
            {
                "status": "unavailable",
                "detail": f"schema at {current or 'no revision'}, code expects "
                f"{expected}; run `samverkan migrate`",
            },
            503,
        )
    return JSONResponse({"status": "ok", "detail": f"schema at {current}"})
