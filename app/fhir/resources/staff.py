"""Practitioner and PractitionerRole: the staff register."""

from __future__ import annotations

from app.domain.errors import InvalidInput
from app.domain.staff import StaffRole
from app.fhir.mappers import practitioner
from app.fhir.resources.params import by_id, coded, reference_id, token
from app.fhir.resources.spec import ID, Found, Include, Resource, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import staff as staff_service
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork


async def read_practitioner(uow: UnitOfWork, _actor: Actor, ident: str) -> Resource:
    return practitioner.practitioner(await staff_service.get_practitioner(uow, ident))


async def read_practitioner_role(uow: UnitOfWork, _actor: Actor, ident: str) -> Resource:
    return practitioner.practitioner_role(await staff_service.get_role(uow, ident))


async def search_practitioner(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await by_id(read_practitioner, uow, actor, params["_id"])
    page = await staff_service.list_practitioners(
        uow,
        limit=count,
        after=cursor,
        name=params.get("name"),
        identifier=token(params["identifier"], "identifier") if "identifier" in params else None,
    )
    return [practitioner.practitioner(p) for p in page.items], page.next_cursor


async def search_practitioner_role(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await by_id(read_practitioner_role, uow, actor, params["_id"])
    code = coded(params, "role", practitioner.ROLE_SYSTEM)
    if code is not None and code not in {r.value for r in StaffRole}:
        raise InvalidInput(f"role is one of {', '.join(r.value for r in StaffRole)}", field="role")
    page = await staff_service.list_roles(
        uow,
        limit=count,
        after=cursor,
        organization_id=reference_id(params["organization"], "Organization", "organization")
        if "organization" in params
        else None,
        principal_id=None,
        practitioner_id=reference_id(params["practitioner"], "Practitioner", "practitioner")
        if "practitioner" in params
        else None,
        role=StaffRole(code) if code else None,
    )
    return [practitioner.practitioner_role(r) for r in page.items], page.next_cursor


PRACTITIONER = ResourceSpec(
    read_practitioner,
    search_practitioner,
    (
        ID,
        SearchParam("name", "string", "part of the name"),
        SearchParam("identifier", "token", "HSA-id or HPR-nummer as system|value"),
    ),
    documentation="The staff register: practitioners by HSA-id (Sweden) or HPR-nummer (Norway).",
)

PRACTITIONER_ROLE = ResourceSpec(
    read_practitioner_role,
    search_practitioner_role,
    (
        ID,
        SearchParam("organization", "reference", "where the role is held"),
        SearchParam("practitioner", "reference", "the practitioner"),
        SearchParam(
            "role", "token", "coordinator, fixed-care-contact, mas, planner or deviation-handler"
        ),
    ),
    documentation="Practitioners' roles: coordinator, fixed care contact, MAS, planner, "
    "deviation handler; a plan's coordinator and a deviation's handler refer to one.",
    includes=(
        Include("PractitionerRole:practitioner", "practitioner", "Practitioner"),
        Include("PractitionerRole:organization", "organization", "Organization"),
    ),
)
