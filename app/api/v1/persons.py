"""Persons: patients and clients, identified by validated national identifiers."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.v1.common import ListPage, page_of, router
from app.domain.errors import InvalidInput
from app.domain.persons import Person
from app.http.deps import (
    NowDep,
    PageDep,
    PatientCreator,
    PatientReader,
    PatientSearcher,
    SettingsDep,
    UowDep,
)
from app.http.errors import errors_for
from app.http.shapes import command, shaped
from app.http.values import Day
from app.services import persons as service

api = router("/api/v1", "persons")


class PersonIdentifierIn(BaseModel):
    """A national identifier as sent; it is validated and normalized."""

    model_config = ConfigDict(extra="forbid")

    system: str = Field(
        min_length=1,
        max_length=200,
        examples=["http://electronichealth.se/identifier/personnummer"],
    )
    value: str = Field(min_length=1, max_length=40, examples=["19121212-1212"])


class PersonCreate(BaseModel):
    """A new person. Personnummer may be sent in 10- or 12-digit form, with `-` or `+`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "identifier": {
                        "system": "http://electronichealth.se/identifier/personnummer",
                        "value": "19121212-1212",
                    },
                    "given_name": "Tolvan",
                    "family_name": "Tolvansson",
                    "residence_municipality_id": "kommun-2580",
                    "protected_identity": False,
                }
            ]
        },
    )

    identifier: PersonIdentifierIn
    given_name: str = Field(default="", max_length=200)
    family_name: str = Field(default="", max_length=200)
    residence_municipality_id: str = Field(description="folkbokföringskommun / bostedskommune")
    stay_municipality_id: str | None = Field(
        default=None, description="Norwegian oppholdskommune, when it differs"
    )
    birth_date: Day | None = None
    protected_identity: bool = Field(
        default=False,
        description="sekretessmarkering / skyddad folkbokföring / strengt fortrolig adresse",
    )
    address: str | None = Field(default=None, max_length=500)
    phone: str | None = Field(default=None, max_length=40)


class PersonIdentifierOut(BaseModel):
    """A normalized national identifier."""

    system: str
    value: str


class PersonRead(BaseModel):
    """A person. Name, address and phone reach only parties to a record that shared them
    (`details_withheld` otherwise); for protected identities, lists and reports withhold the
    details, and so does every view of an organization that need not act."""

    id: str
    identifier: PersonIdentifierOut
    given_name: str
    family_name: str
    birth_date: date | None
    residence_municipality_id: str | None = Field(
        description="folkbokföringskommun / bostedskommune; null when details are withheld"
    )
    stay_municipality_id: str | None
    protected_identity: bool
    address: str | None
    phone: str | None
    version: int
    details_withheld: bool = Field(
        description="name, address and phone are withheld: the caller is no party to a record "
        "that shared them (a lookup by identifier tells a non-party only the id)"
    )


def person_read(person: Person) -> PersonRead:
    """The API shape of a person."""
    withheld = person.details_withheld
    return shaped(
        PersonRead,
        person,
        residence_municipality_id=None if withheld else person.residence_municipality_id,
        stay_municipality_id=None if withheld else person.stay_municipality_id,
    )


@api.post(
    "/persons",
    status_code=201,
    response_model=PersonRead,
    responses={
        **errors_for(401, 403, 415, 422),
        200: {
            "model": PersonRead,
            "description": "the person was already registered: as the caller sees them, which "
            "for an organization that is no party to a record about them is the id and "
            "identifier only (details_withheld)",
        },
    },
)
async def register_person(
    actor: PatientCreator,
    body: PersonCreate,
    uow: UowDep,
    settings: SettingsDep,
    now: NowDep,
    request: Request,
    response: Response,
) -> PersonRead:
    """Register a person under a validated national identifier, or find the registered one."""
    person, created = await service.register_person(
        uow,
        actor,
        command(
            service.RegisterPerson,
            body,
            identifier_system=body.identifier.system,
            identifier_value=body.identifier.value,
        ),
        today=now.date(),
        reserve_systems=settings.reserve_number_systems,
    )
    response.headers["Location"] = str(request.url_for("get_person", person_id=person.id))
    if not created:
        response.status_code = 200
    return person_read(person)


@api.get("/persons", response_model=ListPage[PersonRead], responses=errors_for(422))
async def list_persons(
    actor: PatientSearcher,
    uow: UowDep,
    page: PageDep,
    settings: SettingsDep,
    now: NowDep,
    request: Request,
    municipality_id: str | None = None,
    identifier: Annotated[
        str | None,
        Query(
            description="`system|value`; the value is normalized first, so `191212121212` and "
            "`121212-1212` find the same person"
        ),
    ] = None,
) -> dict[str, object]:
    """List persons by municipality or find one by national identifier."""
    ident = None
    if identifier is not None:
        system, sep, value = identifier.partition("|")
        if not sep:
            raise InvalidInput("identifier must be given as system|value", field="identifier")
        ident = service.parse_identifier(
            system,
            value,
            today=now.date(),
            reserve_systems=settings.reserve_number_systems,
            field="identifier",
        )
    result = await service.list_persons(
        uow,
        actor,
        limit=page.limit,
        after=page.cursor,
        municipality_id=municipality_id,
        identifier=ident,
    )
    return page_of(request, result.items, result.next_cursor, person_read)


@api.get("/persons/{person_id}", response_model=PersonRead, responses=errors_for(404))
async def get_person(actor: PatientReader, person_id: str, uow: UowDep) -> PersonRead:
    """Read one person."""
    return person_read(await service.get_person(uow, actor, person_id))
