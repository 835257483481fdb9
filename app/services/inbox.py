"""Use cases of the inbox: what was sent to the caller's organization, and its acknowledgements.

An inbox item is one event for one receiving organization. A unit-level client reads its unit's
items; a principal-level client its principal's and every unit's of it (or, naming a unit, that
unit's and the principal's own). Reading an item that names a person is an access to personal
data and is logged; an item of another organization does not exist for the caller (404).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from app.domain.delivery import DeliveryState, Outcome, check_acknowledgement
from app.domain.errors import InvalidInput
from app.domain.message_events import MessageEvent
from app.domain.outbox import Delivery, parse_cursor
from app.security.access import Actor, acts_for, not_found, record
from app.services.ports import emit
from app.store.parties import reach_organizations
from app.store.unit_of_work import UnitOfWork

RESOURCE = "MessageHeader"


@dataclass(frozen=True, slots=True)
class InboxPage:
    """Items after a cursor; ``cursor`` is where the next poll starts (the same when empty)."""

    items: list[Delivery]
    cursor: str | None
    more: bool


async def list_inbox(
    uow: UnitOfWork,
    actor: Actor,
    *,
    since: str | None,
    limit: int,
    event: str | None,
    person_id: str | None,
    unacknowledged: bool = False,
) -> InboxPage:
    """The caller's inbox items after ``since``, oldest first; the same cursor gives the same items.

    With ``unacknowledged`` only the items the organization has not acknowledged yet (its unread
    work).

    Items appear once every transaction that could still commit before them has ended, so a
    client that polls with the returned cursor misses none.
    """
    after = None
    if since is not None:
        after = parse_cursor(since)
        if after is None:
            raise InvalidInput(
                "since is a cursor returned by an earlier poll (next_cursor)", field="since"
            )
    page = await uow.outbox.inbox(
        reach_organizations(actor.reach),
        after=after,
        limit=limit,
        event=event,
        person_id=person_id,
        unacknowledged=unacknowledged,
    )
    for item in page.items:
        if item.event.person_id is not None:
            record(uow, actor, "read", RESOURCE, item.event.id, item.event.person_id)
    cursor = page.items[-1].cursor if page.items else since
    return InboxPage(page.items, cursor, page.next_cursor is not None)


async def item_of_event(uow: UnitOfWork, actor: Actor, event_id: str) -> int | None:
    """The id of the caller's inbox item of an event, if the caller was sent it."""
    return await uow.outbox.inbox_item_of(event_id, reach_organizations(actor.reach))


async def acknowledge(
    uow: UnitOfWork,
    actor: Actor,
    delivery_id: int,
    outcome: Outcome,
    detail: str | None,
    *,
    now: datetime,
) -> Delivery:
    """Record the receiver's acknowledgement of an inbox item and tell the item's sender.

    Sending the same outcome again changes nothing and answers the same; ``ok`` and
    ``fatal-error`` are final.
    """
    item = await uow.outbox.get(delivery_id)
    if (
        item is None
        or item.state is not DeliveryState.INBOX
        or not await acts_for(uow, actor, item.receiver_id)
    ):
        record(uow, actor, "update", RESOURCE, str(delivery_id), None, outcome="denied")
        raise not_found("inbox item", str(delivery_id))
    record(uow, actor, "update", RESOURCE, item.event.id, item.event.person_id)
    if not check_acknowledgement(item.event.event, item.outcome, outcome):
        return item
    await uow.outbox.acknowledge(item.id, outcome, detail, now)
    if item.event.sender_id is not None:
        await emit(
            uow,
            event=MessageEvent.ACKNOWLEDGEMENT,
            stream=item.event.stream,
            person_id=item.event.person_id,
            receivers=[item.event.sender_id],
            payload={
                "event": "acknowledgement",
                "focus": item.event.payload.get("focus"),
                "person": item.event.payload.get("person"),
                "occurred_at": now.isoformat(),
                "response_to": item.event.id,
                "acknowledged_event": item.event.event,
                "outcome": outcome.value,
            },
            now=now,
            sender=actor,
        )
    return replace(item, outcome=outcome, outcome_detail=detail, acknowledged_at=now)
