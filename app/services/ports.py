"""The ports through which the services reach adapters outside the core.

A service names what it needs here; the adapter that provides it (``app.delivery``) is connected
at start-up by ``app.wiring``, so the services never import an adapter and the flow of imports
stays one way: edges → services → domain.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NotRequired, Protocol, TypedDict, Unpack

from app.domain.message_events import MessageEvent
from app.security.access import Actor
from app.store.unit_of_work import UnitOfWork


class Event(TypedDict):
    """An event as a service queues it: ``event`` is a code of the message-event CodeSystem,
    ``stream`` names what it is about (``Encounter/<id>``), ``payload`` is what the inbox shows;
    the ``sender``'s own organizations never receive it."""

    event: MessageEvent
    stream: str
    person_id: str | None
    receivers: Iterable[str]
    payload: dict[str, Any]
    now: datetime
    sender: NotRequired[Actor | None]


class EventSink(Protocol):
    """Queues an event and its deliveries in the caller's unit of work; returns the event's id."""

    async def __call__(self, uow: UnitOfWork, /, **event: Unpack[Event]) -> str: ...


def payload(
    event: MessageEvent, focus: str, person_id: str | None, at: datetime, **facts: object
) -> dict[str, Any]:
    """What the inbox shows of an event: its code, the resource it is about (``focus``), the
    person it concerns (null for none) and when it happened; then the event's own facts."""
    return {
        "event": event.value,
        "focus": focus,
        "person": f"Patient/{person_id}" if person_id else None,
        "occurred_at": at.isoformat(),
        **facts,
    }


_events: EventSink | None = None


def connect_events(sink: EventSink) -> None:
    """Make ``sink`` the adapter that ``emit`` hands events to (done once at start-up)."""
    global _events
    _events = sink


async def emit(uow: UnitOfWork, /, **event: Unpack[Event]) -> str:
    """Queue the event for its receivers in the unit of work's transaction; the event's id.

    The event commits with the state change that caused it, or not at all.
    """
    if _events is None:
        raise RuntimeError("no event sink is connected: app.wiring.wire() runs at start-up")
    return await _events(uow, **event)
