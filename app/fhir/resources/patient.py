"""Patient: the persons the caller is a party to a record of."""

from __future__ import annotations

from datetime import UTC, datetime

from app.fhir.mappers import patient
from app.fhir.resources.params import SearchQuery, token
from app.fhir.resources.spec import ID, Found, Include, Resource, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import persons as person_service
from app.store.unit_of_work import UnitOfWork


async def read_patient(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    return patient.to_fhir(await person_service.get_person(uow, actor, ident))


async def search_patient(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    identifier = None
    written = query.one("identifier")
    if written is not None:
        system, value = token(written, "identifier")
        identifier = person_service.parse_identifier(
            system,
            value,
            today=datetime.now(UTC).date(),
            reserve_systems=query.settings.reserve_number_systems,
            field="identifier",
        )
    page = await person_service.list_persons(
        uow,
        actor,
        limit=query.count,
        after=query.cursor,
        municipality_id=query.references("organization", "Organization"),
        identifier=identifier,
        ids=query.ids,
    )
    return [patient.to_fhir(p) for p in page.items], page.next_cursor


SPEC = ResourceSpec(
    read_patient,
    search_patient,
    (
        ID,
        SearchParam("identifier", "token", "personnummer, fødselsnummer, … as system|value"),
        SearchParam("organization", "reference", "the residence or stay municipality"),
    ),
    documentation="Persons the caller is a party to a record of; a search by identifier "
    "finds any registered person, but tells a non-party only the id (meta.security "
    "REDACTED). Name, address and phone reach only parties to a record that shared them; "
    "protected identities are labelled R and masked for organizations that need not act.",
    includes=(Include("Patient:organization", "managingOrganization", "Organization"),),
)
