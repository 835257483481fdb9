"""Subscriptions: an organization's rest-hook endpoints, pushed every event of a topic.

The same subscriptions are served as FHIR ``Subscription`` resources under ``/fhir`` (R4
Subscriptions Backport IG).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from app.api.v1.common import ListPage, page_of, router
from app.domain.breaker import BreakerState
from app.domain.delivery import PayloadContent, SubscriptionStatus, Topic, topic_url
from app.domain.outbox import Subscription
from app.domain.webhooks import SIGNATURE_HEADER
from app.http.deps import NowDep, PageDep, SettingsDep, UowDep, require
from app.http.errors import errors_for
from app.http.shapes import command, shaped
from app.security.access import Actor
from app.services import subscriptions as service
from app.settings import Environment

api = router("/api/v1/subscriptions", "subscriptions")

SubscriptionCreator = Annotated[Actor, Depends(require("Subscription", "c"))]
SubscriptionReader = Annotated[Actor, Depends(require("Subscription", "r"))]
SubscriptionSearcher = Annotated[Actor, Depends(require("Subscription", "s"))]
SubscriptionDeleter = Annotated[Actor, Depends(require("Subscription", "d"))]


class SubscriptionCreate(BaseModel):
    """A rest-hook endpoint to push a topic's events to."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "topic": "messages",
                    "endpoint": "https://verksamhetssystem.lulea.se/samverkan/notifications",
                    "heartbeat_seconds": 300,
                }
            ]
        },
    )

    topic: Topic = Field(
        description="discharge-ready: the discharge flow of the organization's episodes; "
        "plan-changes: plans and meetings it takes part in; messages: every event sent to it"
    )
    endpoint: str = Field(
        min_length=1, max_length=2000, description="https URL (http outside production)"
    )
    patient_id: str | None = Field(
        default=None, max_length=36, description="only events about this person"
    )
    content: PayloadContent = Field(
        default=PayloadContent.ID_ONLY,
        description="id-only: the event's MessageHeader and focus reference; empty: status only",
    )
    heartbeat_seconds: int | None = Field(
        default=None, ge=1, le=86400, description="send a heartbeat after this long without pushes"
    )


class SubscriptionRead(BaseModel):
    """A subscription of the caller's organization."""

    id: str
    organization_id: str
    topic: Topic
    topic_url: str = Field(description="the SubscriptionTopic's canonical URL")
    patient_id: str | None
    endpoint: str
    content: PayloadContent
    heartbeat_seconds: int | None
    status: SubscriptionStatus = Field(description="error while the endpoint fails")
    events_since_subscription_start: int
    last_error: str | None
    created_at: datetime


class SubscriptionCreated(SubscriptionRead):
    """The new subscription, with its signing secret (shown only now)."""

    secret: str = Field(
        description=f"HMAC-SHA256 key: each push carries `{SIGNATURE_HEADER}: sha256=<hex>` over "
        "the exact body"
    )


class BreakerRead(BaseModel):
    """The circuit breaker of the endpoint (the URL's origin) a subscription is pushed to."""

    origin: str = Field(
        description="the scheme, host and port pushes go to; every subscription there shares it",
        examples=["https://kommun.example:443"],
    )
    state: BreakerState = Field(
        description="closed: pushed; open: nothing is pushed until `open_until`; half-open: one "
        "probe push decides"
    )
    failures: int = Field(description="failed pushes in a row (0 once one succeeds)")
    open_until: datetime | None = Field(description="end of the cool-down of an open breaker")
    last_error: str | None = Field(
        description="what the last failed push met (a timeout, an HTTP status), never its content"
    )


class SubscriptionStatusRead(BaseModel):
    """Where a subscription's deliveries stand."""

    id: str
    status: SubscriptionStatus
    topic_url: str
    events_since_subscription_start: int
    pending: int = Field(description="pushes waiting for the endpoint")
    last_error: str | None
    endpoint_breaker: BreakerRead = Field(
        description="the breaker of the endpoint this subscription is pushed to"
    )


def subscription_read(subscription: Subscription) -> SubscriptionRead:
    """The API shape of a subscription."""
    return shaped(SubscriptionRead, subscription, **_renamed(subscription))


def _renamed(subscription: Subscription) -> dict[str, object]:
    """The fields of a subscription's shapes that its entity names otherwise."""
    return {
        "topic_url": topic_url(subscription.topic),
        "events_since_subscription_start": subscription.events_count,
    }


@api.post(
    "", status_code=201, response_model=SubscriptionCreated, responses=errors_for(409, 415, 422)
)
async def create_subscription(
    actor: SubscriptionCreator,
    body: SubscriptionCreate,
    uow: UowDep,
    now: NowDep,
    settings: SettingsDep,
    response: Response,
) -> SubscriptionCreated:
    """Register a rest-hook endpoint for a topic; the answer holds the signing secret."""
    subscription = await service.create_subscription(
        uow,
        actor,
        command(service.NewSubscription, body),
        now=now,
        https_only=settings.environment is Environment.PRODUCTION,
        limit=settings.max_subscriptions_per_organization,
    )
    response.headers["Location"] = f"/api/v1/subscriptions/{subscription.id}"
    return SubscriptionCreated(
        **subscription_read(subscription).model_dump(), secret=subscription.secret
    )


@api.get("", response_model=ListPage[SubscriptionRead])
async def list_subscriptions(
    actor: SubscriptionSearcher, uow: UowDep, page: PageDep, request: Request
) -> dict[str, object]:
    """List the subscriptions of the caller's organization."""
    result = await service.list_subscriptions(uow, actor, limit=page.limit, after=page.cursor)
    return page_of(request, result.items, result.next_cursor, subscription_read)


@api.get("/{subscription_id}", response_model=SubscriptionRead, responses=errors_for(404))
async def get_subscription(
    actor: SubscriptionReader, subscription_id: str, uow: UowDep
) -> SubscriptionRead:
    """Read one subscription of the caller's organization."""
    return subscription_read(await service.get_subscription(uow, actor, subscription_id))


@api.delete("/{subscription_id}", status_code=204, responses=errors_for(404))
async def delete_subscription(
    actor: SubscriptionDeleter, subscription_id: str, uow: UowDep, now: NowDep
) -> Response:
    """End a subscription; its pending pushes are dropped (the inbox keeps every item)."""
    await service.delete_subscription(uow, actor, subscription_id, now=now)
    return Response(status_code=204)


@api.get(
    "/{subscription_id}/status", response_model=SubscriptionStatusRead, responses=errors_for(404)
)
async def get_subscription_status(
    actor: SubscriptionReader, subscription_id: str, uow: UowDep, now: NowDep
) -> SubscriptionStatusRead:
    """The subscription's status, events since its start, pushes still waiting, and its
    endpoint's circuit breaker."""
    state = await service.subscription_status(uow, actor, subscription_id)
    subscription, breaker = state.subscription, state.breaker
    return shaped(
        SubscriptionStatusRead,
        subscription,
        **_renamed(subscription),
        pending=state.pending,
        endpoint_breaker=shaped(
            BreakerRead, breaker, state=breaker.state(now), open_until=breaker.opened_until
        ),
    )
