"""Use cases of care messages: send (a new thread or a reply), read, list, mark read, acknowledge.

A message's parties are its sender and its recipients, and no one else sees it. A message about
a person needs the sender to be a party to a record about the person; each recipient becomes a
party to the message (and so sees the person's record), at the grain of the unit addressed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from app.domain.care_messages import CareMessage, Category, Priority, Recipient
from app.domain.delivery import Outcome
from app.domain.errors import InvalidInput, NotFound, UnknownReference
from app.domain.message_events import MessageEvent
from app.domain.parties import RecordType, Role, message_parties
from app.security.access import Actor, not_found, party_record, record, searched
from app.services.ports import emit, payload
from app.store.paging import AnyOf, Page
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
    if actor.acting_id in recipients:
        raise InvalidInput("the sender is not one of its own recipients", field="recipients")
    known = await uow.organizations.get_many(recipients)
    for index, org_id in enumerate(recipients):
        if org_id not in known:
            raise UnknownReference(f"unknown organization {org_id}", field=f"recipients[{index}]")
    if person_id is not None and not await uow.parties.person_within(person_id, actor.reach):
        record(uow, actor, "create", RESOURCE, None, person_id, outcome="denied")
        error = not_found("person", person_id)
        error.field = "person_id"
        raise error
    message_id = str(uuid.uuid4())
    message = CareMessage(
        id=message_id,
        thread_id=thread_id or message_id,
        sender_id=actor.acting_id,
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
    await uow.parties.add(RecordType.MESSAGE, message.id, person_id, message_parties(message))
    record(uow, actor, "create", RESOURCE, message.id, person_id)
    await emit(
        uow,
        event=MessageEvent.CARE_COMMUNICATION,
        stream=f"Communication/{message.thread_id}",
        person_id=person_id,
        receivers=recipients,
        payload=payload(
            MessageEvent.CARE_COMMUNICATION,
            f"Communication/{message.id}",
            person_id,
            now,
            thread=f"Communication/{message.thread_id}",
            category=message.category.value,
            priority=message.priority.value,
        ),
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
    """The message, if the caller sent or received it; 404 (and a log entry) otherwise.

    For an ``update`` it is locked until the transaction ends: concurrent writers queue.
    """
    try:
        readers = (uow.checked.message_read, uow.care_messages.get)
        return await party_record(
            uow, actor, (RecordType.MESSAGE, message_id), readers, action, (RESOURCE, "message")
        )
    except NotFound as error:
        error.field = field
        raise


async def _own_copies(uow: UnitOfWork, actor: Actor, message: CareMessage) -> set[str]:
    """The recipients whose copy the caller handles: its unit's, or its principal's units'."""
    parties = await uow.parties.of_record(RecordType.MESSAGE, message.id)
    return {
        p.organization_id
        for p in parties
        if p.role is Role.RECIPIENT and actor.reach.matches(p.organization_id, p.principal_id)
    }


async def list_messages(
    uow: UnitOfWork,
    actor: Actor,
    *,
    limit: int,
    after: str | None,
    box: str | None,
    person_id: AnyOf,
    thread_id: AnyOf,
    category: AnyOf,
    ids: AnyOf = None,
    replies_only: bool = False,
) -> Page[CareMessage]:
    """The messages the caller's organization sent or received, filtered (a collection: any
    of its values); ``replies_only`` leaves out each thread's first message."""
    found = await uow.care_messages.page(
        limit=limit,
        after=after,
        visible_to=actor.reach,
        box=box,
        person_id=person_id,
        thread_id=thread_id,
        category=category,
        ids=ids,
        replies_only=replies_only,
    )
    return searched(uow, actor, RESOURCE, found)


async def mark_read(
    uow: UnitOfWork, actor: Actor, message_id: str, *, now: datetime
) -> CareMessage:
    """The caller's organization has read the message."""
    message = await get_message(uow, actor, message_id, action="update")
    expected = message.version
    if message.mark_read(await _own_copies(uow, actor, message), now):
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
    message.acknowledge(await _own_copies(uow, actor, message), outcome, detail, now)
    await uow.care_messages.save_state(message, expected_version=expected)
    # The sender's system learns the outcome as MedCom's acknowledgement message.
    await emit(
        uow,
        event=MessageEvent.ACKNOWLEDGEMENT,
        stream=f"Communication/{message.thread_id}",
        person_id=message.person_id,
        receivers=[message.sender_id],
        payload=payload(
            MessageEvent.ACKNOWLEDGEMENT,
            f"Communication/{message.id}",
            message.person_id,
            now,
            acknowledged_event=MessageEvent.CARE_COMMUNICATION.value,
            outcome=outcome.value,
        ),
        now=now,
        sender=actor,
    )
    return message
