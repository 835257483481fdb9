"""Organization: regions, municipalities, providers and their units."""

from __future__ import annotations

from app.fhir.mappers import organization
from app.fhir.resources.params import by_id, reference_id, token
from app.fhir.resources.spec import ID, Found, Include, Resource, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import organizations as organization_service
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork


async def read_organization(uow: UnitOfWork, _actor: Actor, ident: str) -> Resource:
    return organization.to_fhir(await organization_service.get_organization(uow, ident))


async def search_organization(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await by_id(read_organization, uow, actor, params["_id"])
    identifier = token(params["identifier"], "identifier") if "identifier" in params else None
    parent = (
        reference_id(params["partof"], "Organization", "partof") if "partof" in params else None
    )
    page = await organization_service.list_organizations(
        uow,
        limit=count,
        after=cursor,
        kind=None,
        jurisdiction=None,
        parent_id=parent,
        function=None,
        identifier=identifier,
    )
    return [organization.to_fhir(o) for o in page.items], page.next_cursor


SPEC = ResourceSpec(
    read_organization,
    search_organization,
    (
        ID,
        SearchParam(
            "identifier",
            "token",
            "HSA-id, HER-id, organisation or municipality number as system|value",
        ),
        SearchParam("partof", "reference", "the principal a unit belongs to"),
    ),
    documentation="Regions, municipalities, providers and their units.",
    includes=(Include("Organization:partof", "partOf", "Organization"),),
)
