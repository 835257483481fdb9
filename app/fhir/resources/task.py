"""Task: deviation reports."""

from __future__ import annotations

from app.domain.deviations import DeviationCategory, DeviationState
from app.fhir.mappers import task
from app.fhir.resources.params import SearchQuery, coded_as, enum_codes, own_role
from app.fhir.resources.spec import ID, PATIENT, Found, Include, Resource, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import deviations as deviation_service
from app.store.unit_of_work import UnitOfWork


async def read_task(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    return task.to_fhir(await deviation_service.get_deviation(uow, actor, ident))


_TASK_STATES = {
    "requested": (DeviationState.REPORTED,),
    "in-progress": (DeviationState.INVESTIGATING,),
    "completed": (DeviationState.ANSWERED, DeviationState.CLOSED),
}


async def search_task(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    states = enum_codes(query, "business-status", task.STATE, DeviationState)
    status = query.choice("status", tuple(_TASK_STATES))
    category = enum_codes(query, "code", task.CATEGORY, DeviationCategory)
    role = own_role(query, actor, {"owner": "handler", "requester": "reporter"})
    if status:
        # status and business-status both apply: the states both allow.
        allowed = coded_as(status, _TASK_STATES)
        states = [s for s in states if s in allowed] if states else allowed
        if not states:
            return [], None
    page = await deviation_service.list_deviations(
        uow,
        actor,
        limit=query.count,
        after=query.cursor,
        role=role,
        person_id=query.subjects(),
        state=states,
        category=category,
        ids=query.ids,
    )
    return [task.to_fhir(d) for d in page.items], page.next_cursor


SPEC = ResourceSpec(
    read_task,
    search_task,
    (
        ID,
        PATIENT,
        SearchParam("status", "token", "requested, in-progress or completed"),
        SearchParam("business-status", "token", "reported, investigating, answered, closed"),
        SearchParam("code", "token", "the deviation category"),
        SearchParam("owner", "reference", "handled by the caller's principal"),
        SearchParam("requester", "reference", "reported by the caller's principal"),
    ),
    documentation="Deviation reports: code is the category, focus the episode or plan, "
    "owner the handling principal, businessStatus the step of the handling.",
    includes=(
        Include("Task:patient", "for", "Patient"),
        Include("Task:focus", "focus", "Encounter|CarePlan"),
    ),
)
