"""``emit``: write an event and its deliveries in the caller's unit of work (DESIGN §11).

The event commits with the state change that caused it, or not at all: a request that fails
writes neither. Each receiving organization gets an inbox item; each of its subscriptions whose
topic covers the event gets a push that the dispatcher delivers after the commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from app.domain.delivery import Topic, covers
from app.domain.message_events import MessageEvent
from app.domain.outbox import OutboxEvent
from app.security.access import Actor
from app.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)


async def emit(
    uow: UnitOfWork,
    *,
    event: MessageEvent,
    stream: str,
    person_id: str | None,
    receivers: Iterable[str],
    payload: dict[str, Any],
    now: datetime,
    sender: Actor | None = None,
) -> str:
    """Queue ``event`` for ``receivers`` in the unit of work's transaction; the event's id.

    ``event`` is one of the message events (``MessageEvent``); ``stream`` names what the event is
    about (``Encounter/<id>``, ``CarePlan/<id>``): each receiver gets the events of one stream in
    the order they were committed. ``payload`` is what the inbox shows: references and the
    facts a receiver needs to act, never more personal data than that. The ``sender``'s own
    organizations never receive the event; its request id is kept with the event so the logs
    follow a message from intake to delivery.
    """
    excluded = set(sender.organizations) if sender is not None else set()
    targets = sorted({r for r in receivers if r and r not in excluded})
    outbox_event = OutboxEvent(
        id=str(uuid.uuid4()),
        event=str(event),
        stream=stream,
        person_id=person_id,
        sender_id=sender.organization_id if sender is not None else None,
        payload=payload,
        created_at=now,
        request_id=sender.request_id if sender is not None else None,
    )
    topics = [topic.value for topic in Topic if covers(topic, event)]
    # Written by the request's last statement when it announced one (``$process-message``'s
    # stored response), else now; the number of pushes is known only when written now.
    pushes: int | None = None
    if uow.defers_writes:
        uow.defer(*uow.outbox.queued(outbox_event, targets, topics, now))
    else:
        pushes = await uow.outbox.queue(outbox_event, targets, topics, now)
    logger.info(
        "event queued",
        extra={
            "event_id": outbox_event.id,
            "event": str(event),
            "stream": stream,
            "receivers": targets,
            "pushes": pushes,
        },
    )
    return outbox_event.id
