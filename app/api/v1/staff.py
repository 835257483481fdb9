"""The staff register: practitioners (HSA-id, HPR-nummer) and their roles at organizations."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.v1.common import ListPage, page_of, router, system_and_value
from app.domain.organizations import Jurisdiction
from app.domain.staff import Practitioner, PractitionerRole, StaffRole
from app.http.deps import (
    PageDep,
    PractitionerCreator,
    PractitionerReader,
    PractitionerSearcher,
    RoleCreator,
    RoleReader,
    RoleSearcher,
    UowDep,
)
from app.http.errors import errors_for
from app.http.shapes import command, shaped
from app.services import staff as service

api = router("/api/v1", "staff")


class StaffIdentifier(BaseModel):
    """A staff identifier: HSA-id (`urn:oid:1.2.752.29.4.19`) or HPR-nummer
    (`urn:oid:2.16.578.1.12.4.1.4.4`)."""

    model_config = ConfigDict(extra="forbid")

    system: str = Field(min_length=1, max_length=200, examples=["urn:oid:1.2.752.29.4.19"])
    value: str = Field(min_length=1, max_length=40, examples=["SE2321000230-MAS1"])


class PractitionerCreate(BaseModel):
    """A practitioner to register."""

    model_config = ConfigDict(extra="forbid")

    identifier: StaffIdentifier
    given_name: str = Field(default="", max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    jurisdiction: Jurisdiction


class PractitionerRead(BaseModel):
    """A practitioner."""

    id: str
    identifier: StaffIdentifier
    given_name: str
    family_name: str
    jurisdiction: Jurisdiction
    active: bool
    version: int


def practitioner_read(practitioner: Practitioner) -> PractitionerRead:
    """The API shape of a practitioner."""
    identifier = StaffIdentifier(
        system=practitioner.identifier_system, value=practitioner.identifier_value
    )
    return shaped(PractitionerRead, practitioner, identifier=identifier)


class RoleCreate(BaseModel):
    """A practitioner's role at an organization the caller acts for."""

    model_config = ConfigDict(extra="forbid")

    practitioner_id: str = Field(min_length=1, max_length=36)
    organization_id: str = Field(min_length=1, max_length=64)
    role: StaffRole
    title: str | None = Field(default=None, max_length=200)


class RoleRead(BaseModel):
    """A practitioner's role."""

    id: str
    practitioner_id: str
    organization_id: str
    principal_id: str
    role: StaffRole
    title: str | None
    active: bool
    version: int


def role_read(role: PractitionerRole) -> RoleRead:
    """The API shape of a role."""
    return shaped(RoleRead, role)


@api.post(
    "/practitioners",
    status_code=201,
    response_model=PractitionerRead,
    responses=errors_for(409, 415, 422),
)
async def register_practitioner(
    _actor: PractitionerCreator,
    body: PractitionerCreate,
    uow: UowDep,
    request: Request,
    response: Response,
) -> PractitionerRead:
    """Register a practitioner under an HSA-id or HPR-nummer not registered before."""
    practitioner = await service.register_practitioner(
        uow,
        command(
            service.NewPractitioner,
            body,
            identifier_system=body.identifier.system,
            identifier_value=body.identifier.value,
        ),
    )
    response.headers["Location"] = str(
        request.url_for("get_practitioner", practitioner_id=practitioner.id)
    )
    return practitioner_read(practitioner)


@api.get("/practitioners", response_model=ListPage[PractitionerRead], responses=errors_for(422))
async def list_practitioners(
    _actor: PractitionerSearcher,
    uow: UowDep,
    page: PageDep,
    request: Request,
    name: Annotated[str | None, Query(max_length=200, description="part of the name")] = None,
    identifier: Annotated[str | None, Query(description="`system|value`")] = None,
) -> dict[str, object]:
    """List practitioners, by part of the name or by identifier."""
    ident = system_and_value(identifier, "identifier")
    result = await service.list_practitioners(
        uow, limit=page.limit, after=page.cursor, name=name, identifier=ident
    )
    return page_of(request, result.items, result.next_cursor, practitioner_read)


@api.get(
    "/practitioners/{practitioner_id}", response_model=PractitionerRead, responses=errors_for(404)
)
async def get_practitioner(
    _actor: PractitionerReader, practitioner_id: str, uow: UowDep
) -> PractitionerRead:
    """Read one practitioner."""
    return practitioner_read(await service.get_practitioner(uow, practitioner_id))


@api.post(
    "/practitioner-roles",
    status_code=201,
    response_model=RoleRead,
    responses=errors_for(415, 422),
)
async def register_practitioner_role(
    actor: RoleCreator, body: RoleCreate, uow: UowDep, request: Request, response: Response
) -> RoleRead:
    """Register a practitioner's role (coordinator, fixed care contact, MAS, planner, deviation
    handler) at the caller's unit, or, for a principal's client, at it or any of its units."""
    role = await service.register_role(
        uow,
        actor,
        command(service.NewRole, body),
    )
    response.headers["Location"] = str(request.url_for("get_practitioner_role", role_id=role.id))
    return role_read(role)


@api.get("/practitioner-roles", response_model=ListPage[RoleRead], responses=errors_for(422))
async def list_practitioner_roles(
    _actor: RoleSearcher,
    uow: UowDep,
    page: PageDep,
    request: Request,
    organization_id: Annotated[str | None, Query(max_length=64)] = None,
    principal_id: Annotated[
        str | None, Query(max_length=64, description="roles at the principal or its units")
    ] = None,
    practitioner_id: Annotated[str | None, Query(max_length=36)] = None,
    role: StaffRole | None = None,
) -> dict[str, object]:
    """List roles, e.g. a municipality's MAS (`principal_id=…&role=mas`)."""
    result = await service.list_roles(
        uow,
        limit=page.limit,
        after=page.cursor,
        organization_id=organization_id,
        principal_id=principal_id,
        practitioner_id=practitioner_id,
        role=role,
    )
    return page_of(request, result.items, result.next_cursor, role_read)


@api.get("/practitioner-roles/{role_id}", response_model=RoleRead, responses=errors_for(404))
async def get_practitioner_role(_actor: RoleReader, role_id: str, uow: UowDep) -> RoleRead:
    """Read one role."""
    return role_read(await service.get_role(uow, role_id))
