"""Organization: regions, municipalities, providers and their units."""

from __future__ import annotations

from app.fhir.mappers import organization
from app.fhir.resources.params import SearchQuery, token
from app.fhir.resources.spec import ID, Found, Include, Resource, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import organizations as organization_service
from app.store.unit_of_work import UnitOfWork


async def read_organization(uow: UnitOfWork, _actor: Actor, ident: str) -> Resource:
    return organization.to_fhir(await organization_service.get_organization(uow, ident))


async def search_organization(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    written = query.one("identifier")
    page = await organization_service.list_organizations(
        uow,
        limit=query.count,
        after=query.cursor,
        kind=None,
        jurisdiction=None,
        parent_id=query.references("partof", "Organization"),
        function=None,
        identifier=token(written, "identifier") if written is not None else None,
        ids=query.ids,
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
