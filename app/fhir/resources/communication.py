"""Communication: care messages between units."""

from __future__ import annotations

from app.domain.care_messages import Category as MessageCategory
from app.domain.errors import InvalidInput
from app.fhir.mappers import communication
from app.fhir.resources.params import by_id, coded, own_organization, reference_id, subject_of
from app.fhir.resources.spec import (
    ID,
    PATIENT,
    SUBJECT,
    Found,
    Include,
    Resource,
    ResourceSpec,
    SearchParam,
)
from app.security.access import Actor
from app.services import care_messages as message_service
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork


async def read_communication(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    return communication.to_fhir(await message_service.get_message(uow, actor, ident))


async def search_communication(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await by_id(read_communication, uow, actor, params["_id"])
    category = coded(params, "category", communication.CATEGORY)
    if category is not None and category not in {c.value for c in MessageCategory}:
        raise InvalidInput(
            f"category is one of {', '.join(c.value for c in MessageCategory)}", field="category"
        )
    box = None
    for name in ("recipient", "sender"):
        if name in params:
            own_organization(params, name, actor)
            box = "received" if name == "recipient" else "sent"
    thread = (
        reference_id(params["part-of"], "Communication", "part-of") if "part-of" in params else None
    )
    page = await message_service.list_messages(
        uow,
        actor,
        limit=count,
        after=cursor,
        box=box,
        person_id=subject_of(params),
        thread_id=thread,
        category=MessageCategory(category) if category else None,
    )
    # part-of finds the replies in a thread: what is partOf its first message, not that message.
    return [
        communication.to_fhir(m) for m in page.items if thread is None or m.id != thread
    ], page.next_cursor


SPEC = ResourceSpec(
    read_communication,
    search_communication,
    (
        ID,
        PATIENT,
        SUBJECT,
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
