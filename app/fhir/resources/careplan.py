"""CarePlan: coordinated individual plans (SIP / IP), every version readable."""

from __future__ import annotations

from app.domain.plans import PlanStatus
from app.fhir.mappers import careplan
from app.fhir.resources import spec
from app.fhir.resources.params import SearchQuery, coded_as, plans_of
from app.fhir.resources.spec import Found, Include, Resource, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import plans as plan_service
from app.store.unit_of_work import UnitOfWork

_PLAN_STATUS = {
    "draft": (PlanStatus.DRAFT,),
    "active": (PlanStatus.ACTIVE,),
    "completed": (PlanStatus.COMPLETED,),
    "revoked": (PlanStatus.CANCELLED,),
}
# A plan's category is its jurisdiction's kind of plan (Plan.category).
_JURISDICTION = {"SIP": "SE", "IP": "NO"}


async def read_careplan(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    return careplan.to_fhir(await plan_service.get_plan(uow, actor, ident))


async def vread_careplan(uow: UnitOfWork, actor: Actor, ident: str, version: int) -> Resource:
    return careplan.to_fhir(await plan_service.plan_version(uow, actor, ident, version))


async def search_careplan(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    status = coded_as(query.choice("status", tuple(_PLAN_STATUS)), _PLAN_STATUS)
    categories = query.choice("category", tuple(_JURISDICTION))
    jurisdiction = [_JURISDICTION[c] for c in categories]
    plans, next_cursor = await plans_of(
        uow, actor, query, status, ids=query.ids, jurisdiction=jurisdiction
    )
    return [careplan.to_fhir(p) for p in plans], next_cursor


SPEC = ResourceSpec(
    read_careplan,
    search_careplan,
    (
        spec.ID,
        spec.PATIENT,
        spec.SUBJECT,
        SearchParam("status", "token", "draft, active, completed or revoked"),
        SearchParam("category", "token", "SIP or IP"),
        spec.date_param("the plan's period, start to planned end"),
    ),
    vread=vread_careplan,
    documentation="Coordinated individual plans (SIP / IP); every version is readable. "
    "Goals and the care team are resources of their own (_include).",
    includes=(
        Include("CarePlan:goal", "goal", "Goal"),
        Include("CarePlan:care-team", "careTeam", "CareTeam"),
        Include("CarePlan:patient", "subject", "Patient"),
    ),
    period=spec.period_of,
)
