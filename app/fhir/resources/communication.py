"""Communication: care messages between units."""

from __future__ import annotations

from app.domain.care_messages import Category as MessageCategory
from app.fhir.mappers import communication
from app.fhir.resources import spec
from app.fhir.resources.params import SearchQuery, enum_codes, own_role
from app.fhir.resources.spec import Found, Include, Resource, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import care_messages as message_service
from app.store.unit_of_work import UnitOfWork


async def read_communication(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    return communication.to_fhir(await message_service.get_message(uow, actor, ident))


async def search_communication(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    category = enum_codes(query, "category", communication.CATEGORY, MessageCategory)
    box = own_role(query, actor, {"recipient": "received", "sender": "sent"})
    threads = query.references("part-of", "Communication")
    page = await message_service.list_messages(
        uow,
        actor,
        limit=query.count,
        after=query.cursor,
        box=box,
        person_id=query.subjects(),
        thread_id=threads,
        category=category,
        ids=query.ids,
        # part-of finds the replies in a thread: what is partOf its first message, not that
        # message itself.
        replies_only=bool(threads),
    )
    return [communication.to_fhir(m) for m in page.items], page.next_cursor


SPEC = ResourceSpec(
    read_communication,
    search_communication,
    (
        spec.ID,
        spec.PATIENT,
        spec.SUBJECT,
        SearchParam("category", "token", "care-coordination, discharge, medication or other"),
        SearchParam("recipient", "reference", "received by the caller's organization"),
        SearchParam("sender", "reference", "sent by the caller's organization"),
        SearchParam("part-of", "reference", "the thread (its first message)"),
    ),
    documentation="Care messages between units; each recipient's state (delivered, read, "
    "acknowledged) is a recipient-state extension.",
    includes=(
        Include("Communication:patient", "subject", "Patient"),
        Include("Communication:part-of", "partOf", "Communication"),
    ),
)
