"""Delivery of events to the organizations that must act on them (DESIGN §6, §9, §11).

Every event the service accepts is delivered to each receiving organization's inbox, and pushed
to the organization's rest-hook subscriptions whose topic covers it. A push is retried with
exponential backoff and jitter up to a maximum number of attempts, then it is dead (a dead letter
an operator can replay). Receivers acknowledge inbox items with MedCom's outcomes.

These are the rules only: which topic covers which event, how long to wait before the next
attempt, which acknowledgement may follow which, and how a subscription's state follows its
deliveries.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from app.domain.errors import IllegalTransition, InvalidInput
from app.domain.message_events import MessageEvent, events_of
from app.domain.message_events import Topic as Topic


class DeliveryState(StrEnum):
    """Where a push of one event to one endpoint is.

    ``inbox`` is the receiving organization's copy: it is in the inbox from the commit on and is
    never pushed. ``pending`` waits for its (next) attempt; ``delivered`` was accepted by the
    endpoint (2xx); ``dead`` failed every attempt, or its subscription ended.
    """

    INBOX = "inbox"
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class Outcome(StrEnum):
    """A receiver's acknowledgement of an inbox item (MedCom's acknowledgement model)."""

    OK = "ok"
    TRANSIENT_ERROR = "transient-error"
    FATAL_ERROR = "fatal-error"


class SubscriptionStatus(StrEnum):
    """A subscription's state (R4 ``Subscription.status``; ``off`` once deleted)."""

    ACTIVE = "active"
    ERROR = "error"
    OFF = "off"


# The service's SubscriptionTopics are FHIR artifacts under its canonical base (app.fhir.common).
TOPIC_BASE = "https://samverkan.dev/fhir/SubscriptionTopic"


def topic_url(topic: Topic) -> str:
    """The canonical URL of a SubscriptionTopic of this service."""
    return f"{TOPIC_BASE}/{topic.value}"


class PayloadContent(StrEnum):
    """How much a notification carries (backport ``payload-content``)."""

    EMPTY = "empty"
    ID_ONLY = "id-only"


# The events each topic covers (``MessageEvent.topic``); ``messages`` covers every event.
TOPIC_EVENTS: dict[Topic, frozenset[MessageEvent]] = {topic: events_of(topic) for topic in Topic}
# An acknowledgement answers an event; it is not itself acknowledged (no echo of echoes).
UNACKNOWLEDGED_EVENTS = frozenset({MessageEvent.ACKNOWLEDGEMENT})


def covers(topic: Topic, event: str) -> bool:
    """Whether a subscription to ``topic`` is notified of ``event``."""
    return event in TOPIC_EVENTS[topic]


def backoff(attempt: int, *, base: float, cap: float, jitter: float) -> timedelta:
    """How long to wait after failed attempt number ``attempt`` (1 for the first).

    Exponential (base · 2^(attempt-1), at most ``cap``) with "equal jitter": half the delay is
    fixed and half is scaled by ``jitter`` in [0, 1], so that many deliveries failing together
    (an endpoint that was down) do not all come back at the same instant.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError("jitter is in [0, 1]")
    delay = min(cap, base * 2 ** (attempt - 1))
    return timedelta(seconds=delay / 2 + delay / 2 * jitter)


def after_failure(
    attempts: int, *, max_attempts: int, now: datetime, wait: timedelta
) -> tuple[DeliveryState, datetime | None]:
    """The state of a push after its ``attempts``-th attempt failed, and when to try next."""
    if attempts >= max_attempts:
        return DeliveryState.DEAD, None
    return DeliveryState.PENDING, now + wait


def check_acknowledgement(event: str, previous: Outcome | None, outcome: Outcome) -> bool:
    """Whether to record ``outcome`` on an item last acknowledged with ``previous``.

    Returns False when the same outcome is sent again (nothing changes; the answer is the same).
    A ``transient-error`` may be followed by any outcome, as the receiver retries its own
    processing; ``ok`` and ``fatal-error`` are final.
    """
    if event in UNACKNOWLEDGED_EVENTS:
        raise InvalidInput(f"an {event} is not acknowledged", field="outcome")
    if previous is None or previous is Outcome.TRANSIENT_ERROR:
        return previous is not outcome
    if previous is outcome:
        return False
    raise IllegalTransition(
        f"the item was already acknowledged with {previous.value}, which is final; it cannot "
        f"become {outcome.value}"
    )


def status_after_push(succeeded: bool) -> SubscriptionStatus:
    """A subscription is in ``error`` while its endpoint fails, and ``active`` again after."""
    return SubscriptionStatus.ACTIVE if succeeded else SubscriptionStatus.ERROR
