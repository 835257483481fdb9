"""The outbox's entities: an event as queued, its deliveries (inbox items and pushes) and the
subscriptions pushes go to. ``app.store.outbox`` stores them; the services, the edges and the
dispatcher read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.domain.delivery import (
    DeliveryState,
    Outcome,
    PayloadContent,
    SubscriptionStatus,
    Topic,
)


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """An event as the outbox keeps it."""

    id: str
    event: str
    stream: str
    person_id: str | None
    sender_id: str | None
    payload: dict[str, Any]
    created_at: datetime
    request_id: str | None


@dataclass(frozen=True, slots=True)
class Subscription:
    """A rest-hook subscription of an organization to a topic.

    ``events_count`` is the backport's events-since-subscription-start: every push queued for
    it so far, delivered or not (so it keeps counting while the endpoint fails).
    """

    id: str
    organization_id: str
    topic: Topic
    patient_id: str | None
    endpoint: str
    secret: str
    content: PayloadContent
    heartbeat_seconds: int | None
    status: SubscriptionStatus
    events_count: int
    last_error: str | None
    heartbeat_at: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one receiver: its inbox item, or a push to one of its subscriptions."""

    id: int
    event: OutboxEvent
    receiver_id: str
    subscription_id: str | None
    event_number: int | None
    txid: int
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None
    outcome: Outcome | None
    outcome_detail: str | None
    acknowledged_at: datetime | None

    @property
    def cursor(self) -> str:
        """The opaque position of this item in its receiver's sequence."""
        return f"{self.txid}-{self.id}"


def parse_cursor(value: str) -> tuple[int, int] | None:
    """The (txid, id) an inbox cursor names, or None when it is not one."""
    txid, sep, row = value.partition("-")
    if not sep or not txid.isdigit() or not row.isdigit():
        return None
    return int(txid), int(row)
