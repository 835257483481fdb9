"""Use cases for organizations and cooperation areas."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.errors import Conflict, Forbidden, UnknownReference
from app.domain.organizations import (
    CooperationArea,
    Jurisdiction,
    Organization,
    OrgIdentifier,
    OrgKind,
    UnitFunction,
    validate_cooperation_area,
    validate_organization,
)
from app.domain.plo import ServiceCode
from app.security.access import Actor
from app.security.scopes import ADMIN_SCOPE
from app.services.lookups import present
from app.store.paging import AnyOf, Page, among
from app.store.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class CreateOrganization:
    """Register an organization."""

    id: str
    kind: OrgKind
    name: str
    jurisdiction: Jurisdiction
    parent_id: str | None = None
    function: UnitFunction | None = None
    identifiers: tuple[OrgIdentifier, ...] = ()
    service_code: ServiceCode | None = None


async def create_organization(
    uow: UnitOfWork, cmd: CreateOrganization, *, actor: Actor | None
) -> Organization:
    """Validate and store a new organization; its id and identifiers must be unused.

    Regions, municipalities and providers are registered by the service's administrators (or,
    with ``actor`` None, by the operator's own tools); an organization registers units under
    itself or its own units.
    """
    parent = None
    if cmd.parent_id is not None:
        parent = await uow.organizations.get(cmd.parent_id)
        if parent is None:
            raise UnknownReference(f"unknown organization {cmd.parent_id}", field="parent_id")
    if actor is not None and ADMIN_SCOPE not in actor.scopes:
        principal = None
        if parent is not None:
            principal = parent.parent_id if parent.kind is OrgKind.UNIT else parent.id
        if cmd.kind is not OrgKind.UNIT or principal != actor.principal_id:
            raise Forbidden(
                f"the caller acts for {actor.organization_id} and may register units under "
                f"itself; other organizations are registered by the service's administrators "
                f"(scope {ADMIN_SCOPE})"
            )
    org = Organization(
        id=cmd.id,
        kind=cmd.kind,
        name=cmd.name.strip(),
        jurisdiction=cmd.jurisdiction,
        parent_id=cmd.parent_id,
        function=cmd.function,
        identifiers=cmd.identifiers,
        service_code=cmd.service_code,
    )
    validate_organization(org, parent)
    if await uow.organizations.get(org.id) is not None:
        raise Conflict(f"an organization with id {org.id} already exists", field="id")
    for index, ident in enumerate(org.identifiers):
        owner = await uow.organizations.identifier_owner(ident.system, ident.value)
        if owner is not None:
            raise Conflict(
                f"identifier {ident.system}|{ident.value} already belongs to organization {owner}",
                field=f"identifiers[{index}].value",
            )
    await uow.organizations.add(org)
    return org


async def get_organization(uow: UnitOfWork, org_id: str) -> Organization:
    """The organization with this id."""
    return present(await uow.organizations.get(org_id), "organization", org_id)


async def find_organization(uow: UnitOfWork, org_id: str) -> Organization | None:
    """The organization with this id, or None (for callers to whom absence is an answer)."""
    return await uow.organizations.get(org_id)


async def any_organizations(uow: UnitOfWork) -> bool:
    """Whether any organization is registered (an empty database gets the demo data)."""
    return await uow.organizations.count() > 0


async def organizations_by_id(uow: UnitOfWork, ids: list[str]) -> dict[str, Organization]:
    """The organizations of these ids that exist (for showing names beside ids)."""
    return await uow.organizations.get_many(sorted(set(ids)))


async def list_organizations(
    uow: UnitOfWork,
    *,
    limit: int,
    after: str | None,
    kind: OrgKind | None,
    jurisdiction: Jurisdiction | None,
    parent_id: AnyOf,
    function: UnitFunction | None,
    identifier: tuple[str, str] | None,
    ids: AnyOf = None,
) -> Page[Organization]:
    """Organizations, filtered (a collection: any of its values); an identifier filter gives
    at most one."""
    if identifier is not None:
        found = await uow.organizations.find_by_identifier(*identifier)
        wanted = found is not None and all(
            among(value, wanted)
            for value, wanted in (
                (found.id, ids),
                (found.parent_id, parent_id),
                (found.kind, kind),
                (found.jurisdiction, jurisdiction),
                (found.function, function),
            )
        )
        return Page([found] if found and wanted else [], None)
    return await uow.organizations.page(
        limit=limit,
        after=after,
        kind=kind,
        jurisdiction=jurisdiction,
        parent_id=parent_id,
        function=function,
        ids=ids,
    )


@dataclass(frozen=True, slots=True)
class CreateCooperationArea:
    """Register a cooperation area of a region and some of its municipalities."""

    id: str
    name: str
    region_id: str
    municipality_ids: tuple[str, ...]


async def create_cooperation_area(
    uow: UnitOfWork, cmd: CreateCooperationArea, *, actor: Actor | None
) -> CooperationArea:
    """Validate and store a new cooperation area: by its region's own system (a principal-level
    client), or an administrator."""
    if (
        actor is not None
        and ADMIN_SCOPE not in actor.scopes
        and not (actor.is_principal_level and cmd.region_id == actor.principal_id)
    ):
        raise Forbidden(
            f"a cooperation area of {cmd.region_id} is registered by that region or the "
            f"service's administrators; the caller acts for {actor.organization_id}"
        )
    wanted = [cmd.region_id, *cmd.municipality_ids]
    known = await uow.organizations.get_many(wanted)
    if cmd.region_id not in known:
        raise UnknownReference(f"unknown organization {cmd.region_id}", field="region_id")
    for index, municipality_id in enumerate(cmd.municipality_ids):
        if municipality_id not in known:
            raise UnknownReference(
                f"unknown organization {municipality_id}", field=f"municipality_ids[{index}]"
            )
    area = CooperationArea(cmd.id, cmd.name.strip(), cmd.region_id, cmd.municipality_ids)
    validate_cooperation_area(area, known[cmd.region_id], [known[m] for m in cmd.municipality_ids])
    if await uow.areas.get(area.id) is not None:
        raise Conflict(f"a cooperation area with id {area.id} already exists", field="id")
    await uow.areas.add(area)
    return area


async def get_cooperation_area(uow: UnitOfWork, area_id: str) -> CooperationArea:
    """The cooperation area with this id."""
    return present(await uow.areas.get(area_id), "cooperation area", area_id)


async def list_cooperation_areas(
    uow: UnitOfWork,
    *,
    limit: int,
    after: str | None,
    region_id: str | None,
    municipality_id: str | None,
) -> Page[CooperationArea]:
    """Cooperation areas, by region or member municipality."""
    return await uow.areas.page(
        limit=limit, after=after, region_id=region_id, municipality_id=municipality_id
    )
