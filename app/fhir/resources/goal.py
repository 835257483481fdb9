"""Goal: the person's own goals in each plan's current version."""

from __future__ import annotations

from app.domain.errors import NotFound
from app.domain.plans import Plan, PlanStatus
from app.fhir.common import parent_of
from app.fhir.mappers import goal
from app.fhir.resources import spec
from app.fhir.resources.params import SearchQuery, coded_as, parents, plans_of
from app.fhir.resources.spec import Found, Include, Resource, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import plans as plan_service
from app.store.unit_of_work import UnitOfWork

# A goal's lifecycle status is its plan's (app.fhir.mappers.goal).
_GOAL_STATUS = {
    "proposed": (PlanStatus.DRAFT,),
    "active": (PlanStatus.ACTIVE,),
    "completed": (PlanStatus.COMPLETED,),
    "cancelled": (PlanStatus.CANCELLED,),
}


def _goal_of(plan: Plan, ident: str) -> Resource:
    for found in plan.content.goals:
        if goal.resource_id(plan, found) == ident:
            return goal.to_fhir(plan, found)
    raise NotFound(f"no Goal with id {ident} (in version {plan.version} of its plan)")


async def read_goal(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    return _goal_of(await plan_service.get_plan(uow, actor, parent_of(ident)), ident)


async def vread_goal(uow: UnitOfWork, actor: Actor, ident: str, version: int) -> Resource:
    """The goal as its plan's version ``version`` had it (a goal is versioned with its plan)."""
    plan = await plan_service.plan_version(uow, actor, parent_of(ident), version)
    return _goal_of(plan, ident)


async def search_goal(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    """The goals of a page of plans (a page is of plans, each with its goals); ``_id`` names
    goals, read in the plans it names."""
    status = coded_as(query.choice("lifecycle-status", tuple(_GOAL_STATUS)), _GOAL_STATUS)
    plans, next_cursor = await plans_of(uow, actor, query, status, ids=parents(query))
    found = [goal.to_fhir(p, g) for p in plans for g in p.content.goals]
    return [r for r in found if not query.ids or r["id"] in query.ids], next_cursor


SPEC = ResourceSpec(
    read_goal,
    search_goal,
    (
        spec.ID,
        spec.PATIENT,
        spec.SUBJECT,
        SearchParam("lifecycle-status", "token", "proposed, active, completed or cancelled"),
    ),
    vread=vread_goal,
    documentation="The person's own goals in the current version of each plan; a goal's "
    "version is its plan's, and every version of the plan that had it is readable.",
    includes=(Include("Goal:patient", "subject", "Patient"),),
    parts=True,
)
