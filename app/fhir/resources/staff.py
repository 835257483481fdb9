"""Practitioner and PractitionerRole: the staff register."""

from __future__ import annotations

from app.domain.staff import StaffRole
from app.fhir.mappers import practitioner
from app.fhir.resources.params import SearchQuery, enum_codes, token
from app.fhir.resources.spec import ID, Found, Include, Resource, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import staff as staff_service
from app.store.unit_of_work import UnitOfWork


async def read_practitioner(uow: UnitOfWork, _actor: Actor, ident: str) -> Resource:
    return practitioner.practitioner(await staff_service.get_practitioner(uow, ident))


async def read_practitioner_role(uow: UnitOfWork, _actor: Actor, ident: str) -> Resource:
    return practitioner.practitioner_role(await staff_service.get_role(uow, ident))


async def search_practitioner(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    written = query.one("identifier")
    page = await staff_service.list_practitioners(
        uow,
        limit=query.count,
        after=query.cursor,
        name=query.one("name"),
        identifier=token(written, "identifier") if written is not None else None,
        ids=query.ids,
    )
    return [practitioner.practitioner(p) for p in page.items], page.next_cursor


async def search_practitioner_role(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    page = await staff_service.list_roles(
        uow,
        limit=query.count,
        after=query.cursor,
        organization_id=query.references("organization", "Organization"),
        principal_id=None,
        practitioner_id=query.references("practitioner", "Practitioner"),
        role=enum_codes(query, "role", practitioner.ROLE_SYSTEM, StaffRole),
        ids=query.ids,
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
