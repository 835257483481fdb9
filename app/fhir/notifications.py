"""Notification Bundles of the R4 Subscriptions Backport IG.

A notification is a Bundle of type ``history`` whose first entry is a ``Parameters``
SubscriptionStatus: the subscription, its topic and status, the type (``event-notification``,
``heartbeat``, ``query-status``), ``events-since-subscription-start`` and, per event, a
``notification-event`` with its number, time and focus
(https://hl7.org/fhir/uv/subscriptions-backport/STU1.1/notifications.html). With ``id-only``
content the event's MessageHeader follows (its id is the event id, by which a receiver recognises
a repeated push), and the focus as a reference-only entry; ``empty`` sends the status alone.

The dispatcher (``app.delivery``) signs and sends them (``app.domain.webhooks``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.domain.delivery import PayloadContent, SubscriptionStatus, topic_url
from app.domain.outbox import OutboxEvent, Subscription
from app.fhir.common import instant
from app.fhir.conformance import EVENT_SYSTEM

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition"
STATUS_PROFILE = f"{BACKPORT}/backport-subscription-status-r4"
NOTIFICATION_PROFILE = f"{BACKPORT}/backport-subscription-notification-r4"


@dataclass(frozen=True, slots=True)
class NotifiedEvent:
    """One event in a notification, with its number in the subscription's sequence."""

    number: int
    event: OutboxEvent
    receiver_id: str


def _focus(event: OutboxEvent) -> str | None:
    focus = event.payload.get("focus")
    return focus if isinstance(focus, str) else None


def status_parameters(
    subscription: Subscription,
    *,
    kind: str,
    base: str,
    events: list[NotifiedEvent],
    status: SubscriptionStatus | None = None,
) -> dict[str, Any]:
    """The SubscriptionStatus Parameters of a notification or of ``$status``."""
    shown = status or subscription.status
    parameters: list[dict[str, Any]] = [
        {
            "name": "subscription",
            "valueReference": {"reference": f"{base}/Subscription/{subscription.id}"},
        },
        {"name": "topic", "valueCanonical": topic_url(subscription.topic)},
        {"name": "status", "valueCode": "off" if shown is SubscriptionStatus.OFF else shown.value},
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": str(subscription.events_count)},
    ]
    for notified in events:
        parts: list[dict[str, Any]] = [
            {"name": "event-number", "valueString": str(notified.number)},
            {"name": "timestamp", "valueInstant": instant(notified.event.created_at)},
        ]
        focus = _focus(notified.event)
        if subscription.content is not PayloadContent.EMPTY and focus is not None:
            parts.append({"name": "focus", "valueReference": {"reference": focus}})
            parts.append(
                {
                    "name": "additional-context",
                    "valueReference": {"reference": f"MessageHeader/{notified.event.id}"},
                }
            )
        parameters.append({"name": "notification-event", "part": parts})
    if shown is SubscriptionStatus.ERROR and subscription.last_error:
        parameters.append(
            {
                "name": "error",
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/subscription-error",
                            "code": "no-response",
                        }
                    ],
                    "text": subscription.last_error[:500],
                },
            }
        )
    return {
        "resourceType": "Parameters",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [STATUS_PROFILE]},
        "parameter": parameters,
    }


def message_header(notified: NotifiedEvent, *, base: str, endpoint: str) -> dict[str, Any]:
    """The event as a MessageHeader: code, sender, receiver and focus; references only."""
    event = notified.event
    header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": event.id,
        "eventCoding": {"system": EVENT_SYSTEM, "code": event.event},
        "destination": [
            {
                "endpoint": endpoint,
                "receiver": {"reference": f"Organization/{notified.receiver_id}"},
            }
        ],
        "source": {"name": "Samverkan", "endpoint": f"{base}/$process-message"},
    }
    if event.sender_id is not None:
        header["sender"] = {"reference": f"Organization/{event.sender_id}"}
    focus = [f for f in (_focus(event), event.payload.get("person")) if isinstance(f, str)]
    if focus:
        header["focus"] = [{"reference": f} for f in focus]
    return header


def notification(
    subscription: Subscription,
    *,
    kind: str,
    events: list[NotifiedEvent],
    base: str,
    now: datetime,
) -> dict[str, Any]:
    """A notification Bundle (``event-notification`` or ``heartbeat``) for the subscription."""
    status = status_parameters(subscription, kind=kind, base=base, events=events)
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"urn:uuid:{status['id']}",
            "resource": status,
            "request": {"method": "GET", "url": f"Subscription/{subscription.id}/$status"},
            "response": {"status": "200"},
        }
    ]
    if subscription.content is not PayloadContent.EMPTY:
        for notified in events:
            entries.append(
                {
                    "fullUrl": f"urn:uuid:{notified.event.id}",
                    "resource": message_header(notified, base=base, endpoint=subscription.endpoint),
                    "request": {"method": "POST", "url": "MessageHeader"},
                    "response": {"status": "201"},
                }
            )
            focus = _focus(notified.event)
            if focus is not None:
                entries.append(
                    {
                        "fullUrl": f"{base}/{focus}",
                        "request": {"method": "PUT", "url": focus},
                        "response": {"status": "200"},
                    }
                )
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [NOTIFICATION_PROFILE]},
        "type": "history",
        "timestamp": instant(now),
        "entry": entries,
    }
