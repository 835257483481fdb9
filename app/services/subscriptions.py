"""Use cases of subscriptions: an organization registers a rest-hook endpoint for a topic.

A subscription belongs to the organization that created it; to anyone else it does not exist.
A subscription narrowed to one patient names a person, so it needs a care relation to that person
and every answer that shows it is logged. The signing secret is shown once, at creation. An
organization has at most ``max_subscriptions_per_organization`` live subscriptions: each one is
pushed every event it covers, so subscriptions without end would let one organization crowd the
dispatcher.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from app.domain.breaker import Breaker, origin_of
from app.domain.delivery import PayloadContent, SubscriptionStatus, Topic
from app.domain.errors import Conflict, InvalidInput, UnknownReference
from app.domain.outbox import Subscription
from app.security.access import Actor, not_found, record
from app.store.paging import Page
from app.store.unit_of_work import UnitOfWork

RESOURCE = "Subscription"
MAX_ENDPOINT = 2000
MAX_HOST = 253  # a DNS name's limit; the endpoint's origin is stored in 300 characters


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """A subscription as requested."""

    topic: Topic
    endpoint: str
    patient_id: str | None = None
    content: PayloadContent = PayloadContent.ID_ONLY
    heartbeat_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """A subscription with the number of pushes still waiting for its endpoint, and the
    endpoint's circuit breaker."""

    subscription: Subscription
    pending: int
    breaker: Breaker


def check_endpoint(endpoint: str, *, https_only: bool, field: str) -> None:
    """Refuse an endpoint that is not an absolute http(s) URL (https only when required)."""
    parts = urlsplit(endpoint)
    schemes = ("https",) if https_only else ("http", "https")
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        port = 0
    if port == 0:
        raise InvalidInput("the endpoint's port is a number from 1 to 65535", field=field)
    if parts.scheme not in schemes or not parts.hostname or len(endpoint) > MAX_ENDPOINT:
        raise InvalidInput(
            f"the endpoint is an absolute {' or '.join(schemes)} URL of at most "
            f"{MAX_ENDPOINT} characters",
            field=field,
        )
    if parts.username or parts.password:
        raise InvalidInput("the endpoint carries no credentials; use the signature", field=field)
    if len(parts.hostname) > MAX_HOST:
        raise InvalidInput(f"the endpoint's host is at most {MAX_HOST} characters", field=field)


def _shown(uow: UnitOfWork, actor: Actor, subscription: Subscription, action: str) -> None:
    if subscription.patient_id is not None:
        record(uow, actor, action, RESOURCE, subscription.id, subscription.patient_id)


async def create_subscription(
    uow: UnitOfWork,
    actor: Actor,
    cmd: NewSubscription,
    *,
    now: datetime,
    https_only: bool,
    limit: int,
    endpoint_field: str = "endpoint",
    patient_field: str = "patient_id",
) -> Subscription:
    """Register a rest-hook subscription of the caller's organization; active at once.

    Refused (Conflict) when the organization already has ``limit`` live subscriptions.
    """
    check_endpoint(cmd.endpoint, https_only=https_only, field=endpoint_field)
    if cmd.patient_id is not None and not await uow.parties.person_within(
        cmd.patient_id, actor.reach
    ):
        record(uow, actor, "read", "Patient", cmd.patient_id, None, outcome="denied")
        raise UnknownReference(f"unknown person {cmd.patient_id}", field=patient_field)
    live = await uow.subscriptions.live_count(actor.organization_id, lock=True)
    if live >= limit:
        raise Conflict(
            f"{actor.organization_id} already has {live} live subscriptions, the most an "
            f"organization may have ({limit}); delete one it no longer needs, or subscribe to "
            "the topic 'messages', which covers every event"
        )
    subscription = Subscription(
        id=str(uuid.uuid4()),
        organization_id=actor.organization_id,
        topic=cmd.topic,
        patient_id=cmd.patient_id,
        endpoint=cmd.endpoint,
        secret=secrets.token_hex(32),
        content=cmd.content,
        heartbeat_seconds=cmd.heartbeat_seconds,
        status=SubscriptionStatus.ACTIVE,
        events_count=0,
        last_error=None,
        heartbeat_at=now,
        created_at=now,
    )
    await uow.subscriptions.add(subscription, now)
    _shown(uow, actor, subscription, "create")
    return subscription


async def get_subscription(
    uow: UnitOfWork, actor: Actor, subscription_id: str, *, action: str = "read"
) -> Subscription:
    """The caller's organization's live subscription; 404 for any other."""
    subscription = await uow.subscriptions.get(subscription_id)
    if (
        subscription is None
        or subscription.organization_id not in actor.organizations
        or subscription.status is SubscriptionStatus.OFF
    ):
        raise not_found("subscription", subscription_id)
    _shown(uow, actor, subscription, action)
    return subscription


async def list_subscriptions(
    uow: UnitOfWork, actor: Actor, *, limit: int, after: str | None
) -> Page[Subscription]:
    """The live subscriptions of the caller's organization."""
    page = await uow.subscriptions.page(actor.organizations, limit=limit, after=after)
    for subscription in page.items:
        _shown(uow, actor, subscription, "search")
    return page


async def delete_subscription(
    uow: UnitOfWork, actor: Actor, subscription_id: str, *, now: datetime
) -> None:
    """End a subscription; what still waited for its endpoint is not pushed (the inbox has it)."""
    await get_subscription(uow, actor, subscription_id, action="delete")
    await uow.subscriptions.end(subscription_id, now)
    await uow.outbox.end_pushes(subscription_id, now)


async def subscription_status(
    uow: UnitOfWork, actor: Actor, subscription_id: str
) -> SubscriptionState:
    """The subscription's status, events since its start, and pushes still waiting."""
    subscription = await get_subscription(uow, actor, subscription_id)
    return SubscriptionState(
        subscription,
        await uow.subscriptions.pending_count(subscription_id),
        await uow.breakers.get(origin_of(subscription.endpoint)),
    )
