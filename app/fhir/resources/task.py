"""Task: deviation reports."""

from __future__ import annotations

from app.domain.deviations import DeviationCategory, DeviationState
from app.domain.errors import InvalidInput
from app.fhir.mappers import task
from app.fhir.resources.params import by_id, choice, coded, own_organization, subject_of
from app.fhir.resources.spec import ID, PATIENT, Found, Include, Resource, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import deviations as deviation_service
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork


async def read_task(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    return task.to_fhir(await deviation_service.get_deviation(uow, actor, ident))


_TASK_STATES = {
    "requested": (DeviationState.REPORTED,),
    "in-progress": (DeviationState.INVESTIGATING,),
    "completed": (DeviationState.ANSWERED, DeviationState.CLOSED),
}


async def search_task(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await by_id(read_task, uow, actor, params["_id"])
    status = choice(params, "status", tuple(_TASK_STATES))
    business = coded(params, "business-status", task.STATE)
    code = coded(params, "code", task.CATEGORY)
    try:
        state = DeviationState(business) if business else None
        category = DeviationCategory(code) if code else None
    except ValueError as exc:
        field = "business-status" if business and business not in set(DeviationState) else "code"
        raise InvalidInput(f"{field}: unknown code", field=field) from exc
    role = None
    for name, kind in (("owner", "handler"), ("requester", "reporter")):
        if name in params:
            own_organization(params, name, actor)
            role = kind
    page = await deviation_service.list_deviations(
        uow,
        actor,
        limit=count,
        after=cursor,
        role=role,
        person_id=subject_of(params),
        state=state,
        category=category,
    )
    allowed = _TASK_STATES[status] if status else None
    return [
        task.to_fhir(d) for d in page.items if allowed is None or d.state in allowed
    ], page.next_cursor


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
