"""Use cases of care messages: send (a new thread or a reply), read, list, mark read, acknowledge.

A message is visible to its sender and its recipients and to no one else. A message about a
person needs the sender to take part in the person's care, and gives each recipient a ``party``
care relation: being told about a person is what brings an organization into the care.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from app.delivery.outbox import emit
from app.domain.care_messages import CareMessage, Category, Priority, Recipient
from app.domain.delivery import Outcome
from app.domain.errors import InvalidInput, UnknownReference
from app.security.access import Actor, not_found, record
from app.store.repositories import Page
from app.store.unit_of_work import UnitOfWork

RESOURCE = "Communication"


@dataclass(frozen=True, slots=True)
class Draft:
    """A message as sent: to whom, about whom, what."""

    recipients: tuple[str, ...]
    text: str
    subject: str = ""
    category: Category = Category.OTHER
    priority: Priority = Priority.ROUTINE
    person_id: str | None = None
    in_reply_to: str | None = None


async def send(uow: UnitOfWork, actor: Actor, draft: Draft, *, now: datetime) -> CareMessage:
    """Send a message; a reply joins its thread and, unless told otherwise, answers the sender."""
    thread_id = None
    person_id = draft.person_id
    recipients = list(dict.fromkeys(draft.recipients))
    subject = draft.subject
    if draft.in_reply_to is not None:
        parent = await get_message(uow, actor, draft.in_reply_to, field="in_reply_to")
        thread_id = parent.thread_id
        if person_id is not None and person_id != parent.person_id:
            raise InvalidInput("a reply is about the person its thread is about", field="person_id")
        person_id = parent.person_id
        if not recipients:
            recipients = [parent.sender_id]
        subject = subject or parent.subject
    if not recipients:
        raise InvalidInput("a message needs at least one recipient", field="recipients")
    if actor.organization_id in recipients:
        raise InvalidInput("the sender is not one of its own recipients", field="recipients")
    known = await uow.organizations.get_many(recipients)
    for index, org_id in enumerate(recipients):
        if org_id not in known:
            raise UnknownReference(f"unknown organization {org_id}", field=f"recipients[{index}]")
    if person_id is not None and not await uow.relations.exists(
        person_id, actor.organizations, care_only=True
    ):
        record(uow, actor, "create", RESOURCE, None, person_id, outcome="denied")
        raise not_found("person", person_id)
    message_id = str(uuid.uuid4())
    message = CareMessage(
        id=message_id,
        thread_id=thread_id or message_id,
        sender_id=actor.organization_id,
        recipients=[Recipient(org_id) for org_id in sorted(recipients)],
        category=draft.category,
        priority=draft.priority,
        subject=subject,
        text=draft.text,
        sent_at=now,
        person_id=person_id,
        in_reply_to=draft.in_reply_to,
    )
    await uow.care_messages.add(message)
    record(uow, actor, "create", RESOURCE, message.id, person_id)
    if person_id is not None:
        await uow.relations.add(person_id, recipients, "party")
    await emit(
        uow,
        event="care-communication",
        stream=f"Communication/{message.thread_id}",
        person_id=person_id,
        receivers=recipients,
        payload={
            "event": "care-communication",
            "focus": f"Communication/{message.id}",
            "person": f"Patient/{person_id}" if person_id else None,
            "occurred_at": now.isoformat(),
            "thread": f"Communication/{message.thread_id}",
            "category": message.category.value,
            "priority": message.priority.value,
        },
        now=now,
        sender=actor,
    )
    return message


async def get_message(
    uow: UnitOfWork,
    actor: Actor,
    message_id: str,
    *,
    action: str = "read",
    field: str | None = None,
) -> CareMessage:
    """The message, if the caller sent or received it; 404 (and a log entry) otherwise."""
    message = await uow.care_messages.get(message_id)
    if message is None or not message.involves(actor.organizations):
        record(uow, actor, action, RESOURCE, message_id, None, outcome="denied")
        error = not_found("message", message_id)
        error.field = field
        raise error
    record(uow, actor, action, RESOURCE, message.id, message.person_id)
    return message


async def list_messages(
    uow: UnitOfWork,
    actor: Actor,
    *,
    limit: int,
    after: str | None,
    box: str | None,
    person_id: str | None,
    thread_id: str | None,
    category: Category | None,
) -> Page[CareMessage]:
    """The messages the caller's organization sent or received, filtered."""
    page = await uow.care_messages.page(
        limit=limit,
        after=after,
        organizations=actor.organizations,
        box=box,
        person_id=person_id,
        thread_id=thread_id,
        category=category.value if category else None,
    )
    for message in page.items:
        record(uow, actor, "search", RESOURCE, message.id, message.person_id)
    return page


async def mark_read(
    uow: UnitOfWork, actor: Actor, message_id: str, *, now: datetime
) -> CareMessage:
    """The caller's organization has read the message."""
    message = await get_message(uow, actor, message_id, action="update")
    expected = message.version
    if message.mark_read(actor.organizations, now):
        await uow.care_messages.save_state(message, expected_version=expected)
    return message


async def acknowledge(
    uow: UnitOfWork,
    actor: Actor,
    message_id: str,
    outcome: Outcome,
    detail: str | None,
    *,
    now: datetime,
) -> CareMessage:
    """The caller's organization acknowledges the message (ok, transient-error, fatal-error)."""
    message = await get_message(uow, actor, message_id, action="update")
    expected = message.version
    message.acknowledge(actor.organizations, outcome, detail, now)
    await uow.care_messages.save_state(message, expected_version=expected)
    # The sender's system learns the outcome as MedCom's acknowledgement message.
    await emit(
        uow,
        event="acknowledgement",
        stream=f"Communication/{message.thread_id}",
        person_id=message.person_id,
        receivers=[message.sender_id],
        payload={
            "event": "acknowledgement",
            "focus": f"Communication/{message.id}",
            "person": f"Patient/{message.person_id}" if message.person_id else None,
            "occurred_at": now.isoformat(),
            "acknowledged_event": "care-communication",
            "outcome": outcome.value,
        },
        now=now,
        sender=actor,
    )
    return message
