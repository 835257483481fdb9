"""CareTeam: each plan's coordinator and participants; the id is the plan's."""

from __future__ import annotations

from app.domain.plans import PlanStatus
from app.fhir.mappers import careteam
from app.fhir.resources import spec
from app.fhir.resources.params import SearchQuery, coded_as, plans_of
from app.fhir.resources.spec import Found, Include, Resource, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import plans as plan_service
from app.store.unit_of_work import UnitOfWork

# A team's status is its plan's (app.fhir.mappers.careteam).
_TEAM_STATUS = {
    "proposed": (PlanStatus.DRAFT,),
    "active": (PlanStatus.ACTIVE,),
    "inactive": (PlanStatus.COMPLETED, PlanStatus.CANCELLED),
}


async def read_careteam(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    return careteam.to_fhir(await plan_service.get_plan(uow, actor, ident))


async def vread_careteam(uow: UnitOfWork, actor: Actor, ident: str, version: int) -> Resource:
    """The team as the plan's version ``version`` named it (the team is versioned with it)."""
    return careteam.to_fhir(await plan_service.plan_version(uow, actor, ident, version))


async def search_careteam(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    # participant is matched on the teams found (app.fhir.search_params.FILTERED).
    status = coded_as(query.choice("status", tuple(_TEAM_STATUS)), _TEAM_STATUS)
    plans, next_cursor = await plans_of(uow, actor, query, status, ids=query.ids)
    return [careteam.to_fhir(p) for p in plans], next_cursor


SPEC = ResourceSpec(
    read_careteam,
    search_careteam,
    vread=vread_careteam,
    params=(
        spec.ID,
        spec.PATIENT,
        spec.SUBJECT,
        SearchParam("status", "token", "proposed, active or inactive"),
        SearchParam(
            "participant",
            "reference",
            "a member: Organization (also one a member acts for), PractitionerRole, or "
            "Practitioner (through their roles)",
        ),
    ),
    documentation="Each plan's coordinator, principal with overall responsibility, "
    "participating principals, relatives and others; the id is the plan's.",
    includes=(
        Include("CareTeam:participant", "participant.member", "PractitionerRole|Organization"),
        Include("CareTeam:patient", "subject", "Patient"),
    ),
)
