"""``GET /fhir/Subscription/{id}/$status``: a Subscription's status as a searchset Bundle
holding its SubscriptionStatus ``Parameters`` (the R4 Subscriptions Backport IG,
https://hl7.org/fhir/uv/subscriptions-backport/STU1.1/OperationDefinition-backport-subscription-status.html).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from app.fhir.common import instant
from app.fhir.notifications import status_parameters
from app.fhir.outcome import fhir_response
from app.fhir.subscriptions import Reader
from app.http.deps import SettingsDep, UowDep
from app.http.routing import UnitOfWorkRoute, reads_only
from app.services import subscriptions as service

api = APIRouter(prefix="/fhir/Subscription", tags=["FHIR"], route_class=UnitOfWorkRoute)


@api.get("/{subscription_id}/$status", summary="The status of a Subscription ($status)")
@reads_only
async def fhir_subscription_status(
    actor: Reader,
    subscription_id: Annotated[str, Path(max_length=64)],
    uow: UowDep,
    settings: SettingsDep,
) -> Response:
    """A Bundle with the SubscriptionStatus: status, topic, events since its start."""
    state = await service.subscription_status(uow, actor, subscription_id)
    status = status_parameters(
        state.subscription, kind="query-status", base=f"{settings.issuer}/fhir", events=[]
    )
    return fhir_response(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "timestamp": instant(datetime.now(UTC)),
            "entry": [
                {
                    "fullUrl": f"urn:uuid:{status['id']}",
                    "resource": status,
                    "search": {"mode": "match"},
                }
            ],
        }
    )
