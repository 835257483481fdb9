"""Goal: the person's own goals in each plan's current version."""

from __future__ import annotations

from app.domain.errors import NotFound
from app.fhir.common import parent_of
from app.fhir.mappers import goal
from app.fhir.resources.params import by_id, choice, plans_of
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
from app.services import plans as plan_service
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork


async def read_goal(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    plan = await plan_service.get_plan(uow, actor, parent_of(ident))
    for found in plan.content.goals:
        if goal.resource_id(plan, found) == ident:
            return goal.to_fhir(plan, found)
    raise NotFound(f"no Goal with id {ident}")


async def search_goal(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await by_id(read_goal, uow, actor, params["_id"])
    status = choice(params, "lifecycle-status", ("proposed", "active", "completed", "cancelled"))
    plans, next_cursor = await plans_of(uow, actor, params, count, cursor)
    found = [goal.to_fhir(p, g) for p in plans for g in p.content.goals]
    return [r for r in found if status in (None, r["lifecycleStatus"])], next_cursor


SPEC = ResourceSpec(
    read_goal,
    search_goal,
    (
        ID,
        PATIENT,
        SUBJECT,
        SearchParam("lifecycle-status", "token", "proposed, active, completed or cancelled"),
    ),
    documentation="The person's own goals in the current version of each plan.",
    includes=(Include("Goal:patient", "subject", "Patient"),),
)
