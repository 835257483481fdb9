"""``GET /metrics``: delivery metrics in the Prometheus text format.

Public like the probes: it names event codes and counts, never organizations or persons.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from app.api.routing import DocumentedRoute
from app.delivery import metrics
from app.domain.delivery import DeliveryState
from app.store.unit_of_work import UnitOfWork

api = APIRouter(tags=["health"], route_class=DocumentedRoute)


async def refresh_backlog(uow: UnitOfWork) -> None:
    """Set the per-state gauge from the database, so every process reports the same backlog."""
    counts = await uow.outbox.counts()
    for state in DeliveryState:
        metrics.DELIVERIES.labels(state.value).set(counts.get(state.value, 0))


@api.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def prometheus_metrics(request: Request) -> Response:
    """Delivery lag, attempts, failures, dead letters and backlog, for Prometheus."""
    async with UnitOfWork(request.app.state.engine) as uow:
        await refresh_backlog(uow)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
