"""``GET /metrics``: delivery metrics in the Prometheus text format, for holders of a scope.

The figures name event codes and counts, never organizations or persons, yet they tell how busy
each kind of exchange is; so a scraper authenticates like any client, with a token carrying
``samverkan/metrics`` (docs/operations.md shows how Prometheus gets one).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from app import metrics
from app.http.deps import MetricsReader, UowDep
from app.http.errors import errors_for
from app.http.routing import UnitOfWorkRoute
from app.services.metrics import backlog, breakers

api = APIRouter(tags=["health"], route_class=UnitOfWorkRoute)


@api.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"},
        **errors_for(401, 403, 429),
    },
)
async def prometheus_metrics(_reader: MetricsReader, uow: UowDep) -> Response:
    """Delivery lag, attempts, failures, dead letters, backlog and breakers, for Prometheus."""
    # The gauges come from the database, so every process reports the same backlog and the
    # same failing endpoints.
    for state, count in (await backlog(uow)).items():
        metrics.DELIVERIES.labels(state.value).set(count)
    for breaker_state, count in (await breakers(uow, datetime.now(UTC))).items():
        metrics.BREAKERS.labels(breaker_state.value).set(count)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
