"""Organizations and cooperation areas: who takes part in the cooperation."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.v1.common import ListPage, page_of, router, system_and_value
from app.domain.organizations import (
    CooperationArea,
    Jurisdiction,
    Organization,
    OrgIdentifier,
    OrgKind,
    UnitFunction,
)
from app.domain.plo import ServiceCode
from app.http.deps import (
    OrganizationCreator,
    OrganizationReader,
    OrganizationSearcher,
    PageDep,
    UowDep,
)
from app.http.errors import errors_for
from app.http.shapes import command, shaped
from app.services import organizations as service

api = router("/api/v1", "organizations")


class Identifier(BaseModel):
    """An identifier: system URI and value."""

    model_config = ConfigDict(extra="forbid")

    system: str = Field(min_length=1, max_length=200, examples=["urn:oid:1.2.752.129.2.2.1.17"])
    value: str = Field(min_length=1, max_length=100, examples=["2580"])


class OrganizationCreate(BaseModel):
    """A new organization. Units need a ``function`` and a principal as ``parent_id``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "kommun-2580-hemtjanst-centrum",
                    "kind": "unit",
                    "name": "Hemtjänst Centrum",
                    "jurisdiction": "SE",
                    "parent_id": "kommun-2580",
                    "function": "home-care",
                    "identifiers": [
                        {"system": "urn:oid:1.2.752.29.4.19", "value": "SE2120001231-HT01"}
                    ],
                }
            ]
        },
    )

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\-.]+$")
    kind: OrgKind
    name: str = Field(min_length=1, max_length=200)
    jurisdiction: Jurisdiction
    parent_id: str | None = None
    function: UnitFunction | None = None
    identifiers: list[Identifier] = Field(default_factory=list, max_length=10)
    service_code: ServiceCode | None = Field(
        default=None,
        description="a Norwegian unit's service (tjenestetype, Volven 8663): KD0501 "
        "saksbehandling, KP02 sykepleietjeneste, KP03 psykisk helsetjeneste, …; the PLO notices "
        "to its municipality are routed by it",
    )


class OrganizationRead(BaseModel):
    """An organization."""

    id: str
    kind: OrgKind
    name: str
    jurisdiction: Jurisdiction
    parent_id: str | None
    function: UnitFunction | None
    identifiers: list[Identifier]
    municipality_code: str | None = Field(description="official municipality code, if any")
    service_code: ServiceCode | None = Field(
        description="a Norwegian unit's service (tjenestetype, Volven 8663), if any"
    )
    version: int


def organization_read(org: Organization) -> OrganizationRead:
    """The API shape of an organization."""
    return shaped(OrganizationRead, org)


@api.post(
    "/organizations",
    status_code=201,
    response_model=OrganizationRead,
    responses=errors_for(409, 415, 422),
)
async def create_organization(
    actor: OrganizationCreator,
    body: OrganizationCreate,
    uow: UowDep,
    request: Request,
    response: Response,
) -> OrganizationRead:
    """Register a region, municipality, private provider or unit.

    Units are registered by their own organization; anything else needs the administration scope.
    """
    org = await service.create_organization(
        uow,
        command(
            service.CreateOrganization,
            body,
            identifiers=tuple(OrgIdentifier(i.system, i.value) for i in body.identifiers),
        ),
        actor=actor,
    )
    response.headers["Location"] = str(request.url_for("get_organization", org_id=org.id))
    return organization_read(org)


@api.get("/organizations", response_model=ListPage[OrganizationRead], responses=errors_for(422))
async def list_organizations(
    _actor: OrganizationSearcher,
    uow: UowDep,
    page: PageDep,
    request: Request,
    kind: OrgKind | None = None,
    jurisdiction: Jurisdiction | None = None,
    parent_id: str | None = None,
    function: UnitFunction | None = None,
    identifier: Annotated[
        str | None, Query(description="`system|value`, e.g. `urn:oid:1.2.752.129.2.2.1.17|2580`")
    ] = None,
) -> dict[str, object]:
    """List organizations, filtered by kind, jurisdiction, parent, function or identifier."""
    ident = system_and_value(identifier, "identifier")
    result = await service.list_organizations(
        uow,
        limit=page.limit,
        after=page.cursor,
        kind=kind,
        jurisdiction=jurisdiction,
        parent_id=parent_id,
        function=function,
        identifier=ident,
    )
    return page_of(request, result.items, result.next_cursor, organization_read)


@api.get("/organizations/{org_id}", response_model=OrganizationRead, responses=errors_for(404))
async def get_organization(
    _actor: OrganizationReader, org_id: str, uow: UowDep
) -> OrganizationRead:
    """Read one organization."""
    return organization_read(await service.get_organization(uow, org_id))


class CooperationAreaCreate(BaseModel):
    """A new cooperation area grouping municipalities with their region."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "area-lulea-boden",
                    "name": "Luleå–Boden",
                    "region_id": "region-norrbotten",
                    "municipality_ids": ["kommun-2580", "kommun-2582"],
                }
            ]
        },
    )

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\-.]+$")
    name: str = Field(min_length=1, max_length=200)
    region_id: str
    municipality_ids: list[str] = Field(max_length=500)


class CooperationAreaRead(BaseModel):
    """A cooperation area."""

    id: str
    name: str
    region_id: str
    municipality_ids: list[str]
    version: int


def area_read(area: CooperationArea) -> CooperationAreaRead:
    """The API shape of a cooperation area."""
    return shaped(CooperationAreaRead, area)


@api.post(
    "/cooperation-areas",
    status_code=201,
    response_model=CooperationAreaRead,
    tags=["cooperation areas"],
    responses=errors_for(409, 415, 422),
)
async def create_cooperation_area(
    actor: OrganizationCreator,
    body: CooperationAreaCreate,
    uow: UowDep,
    request: Request,
    response: Response,
) -> CooperationAreaRead:
    """Register a cooperation area."""
    area = await service.create_cooperation_area(
        uow,
        command(service.CreateCooperationArea, body, municipality_ids=tuple(body.municipality_ids)),
        actor=actor,
    )
    response.headers["Location"] = str(request.url_for("get_cooperation_area", area_id=area.id))
    return area_read(area)


@api.get(
    "/cooperation-areas",
    response_model=ListPage[CooperationAreaRead],
    tags=["cooperation areas"],
    responses=errors_for(422),
)
async def list_cooperation_areas(
    _actor: OrganizationSearcher,
    uow: UowDep,
    page: PageDep,
    request: Request,
    region_id: str | None = None,
    municipality_id: str | None = None,
) -> dict[str, object]:
    """List cooperation areas, by region or member municipality."""
    result = await service.list_cooperation_areas(
        uow,
        limit=page.limit,
        after=page.cursor,
        region_id=region_id,
        municipality_id=municipality_id,
    )
    return page_of(request, result.items, result.next_cursor, area_read)


@api.get(
    "/cooperation-areas/{area_id}",
    response_model=CooperationAreaRead,
    tags=["cooperation areas"],
    responses=errors_for(404),
)
async def get_cooperation_area(
    _actor: OrganizationReader, area_id: str, uow: UowDep
) -> CooperationAreaRead:
    """Read one cooperation area."""
    return area_read(await service.get_cooperation_area(uow, area_id))
