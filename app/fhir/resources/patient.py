"""Patient: the persons the caller is a party to a record of."""

from __future__ import annotations

from datetime import UTC, datetime

from app.fhir.mappers import patient
from app.fhir.resources.params import by_id, token
from app.fhir.resources.spec import ID, Found, Include, Resource, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import persons as person_service
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork


async def read_patient(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    return patient.to_fhir(await person_service.get_person(uow, actor, ident))


async def search_patient(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await by_id(read_patient, uow, actor, params["_id"])
    identifier = None
    if "identifier" in params:
        system, value = token(params["identifier"], "identifier")
        identifier = person_service.parse_identifier(
            system,
            value,
            today=datetime.now(UTC).date(),
            reserve_systems=settings.reserve_number_systems,
            field="identifier",
        )
    page = await person_service.list_persons(
        uow,
        actor,
        limit=count,
        after=cursor,
        municipality_id=params.get("organization"),
        identifier=identifier,
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
