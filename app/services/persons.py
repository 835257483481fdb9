"""Use cases for persons.

Registering a person makes the registrant a party to the person's registration; finding one
already registered tells a caller that is no party to any record about them only that the
person exists, and their id (DESIGN §10).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from app.domain.errors import DomainError, InvalidInput, UnknownReference
from app.domain.identifiers import (
    InvalidIdentifier,
    PersonIdentifier,
    normalize_person_identifier,
)
from app.domain.organizations import Jurisdiction, OrgKind
from app.domain.parties import RecordType, Role
from app.domain.persons import Person, validate_person
from app.domain.values import PartialDate
from app.security.access import (
    Actor,
    access_entry,
    not_found,
    record,
    visible_person,
    visible_persons,
    visible_to,
)
from app.store.paging import AnyOf, Page, among
from app.store.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class RegisterPerson:
    """Register a person under a national identifier."""

    identifier_system: str
    identifier_value: str
    given_name: str
    family_name: str
    residence_municipality_id: str
    birth_date: date | None = None
    stay_municipality_id: str | None = None
    protected_identity: bool = False
    address: str | None = None
    phone: str | None = None
    gender: str | None = None
    # A birth date stated as a year or a month only (FHIR allows it): it must agree with the
    # identifier's birth date, which is kept.
    birth_year_or_month: PartialDate | None = None


def parse_identifier(
    system: str, value: str, *, today: date, reserve_systems: frozenset[str], field: str
) -> PersonIdentifier:
    """Validate and normalize a national identifier, as a domain error naming ``field``."""
    try:
        return normalize_person_identifier(
            system, value, today=today, reserve_systems=reserve_systems
        )
    except InvalidIdentifier as exc:
        raise InvalidInput(exc.reason, field=field) from exc


class EntryError(Exception):
    """A domain error of the ``index``-th person of a batch (the edge names the entry)."""

    def __init__(self, index: int, error: DomainError) -> None:
        super().__init__(error.message)
        self.index = index
        self.error = error


async def register_person(
    uow: UnitOfWork,
    actor: Actor,
    cmd: RegisterPerson,
    *,
    today: date,
    reserve_systems: frozenset[str],
) -> tuple[Person, bool]:
    """Register a person, or find the one already registered under the identifier.

    A new person's registrant (the organization the caller acts as) becomes a party to the
    registration. Finding an existing person changes nothing: the caller sees the person as a
    party to their records sees them, or, when it is none, only the identifier and the id.
    Returns the person and whether it was created.
    """
    try:
        [found] = await register_persons(
            uow, actor, [cmd], today=today, reserve_systems=reserve_systems
        )
    except EntryError as exc:
        raise exc.error from None
    return found


async def register_persons(
    uow: UnitOfWork,
    actor: Actor,
    cmds: Sequence[RegisterPerson],
    *,
    today: date,
    reserve_systems: frozenset[str],
) -> list[tuple[Person, bool]]:
    """Register several persons with a handful of statements, whatever their number.

    The rules are ``register_person``'s; a second entry with an identifier already in the batch
    finds the first. A refused entry raises ``EntryError`` with its index; the caller's unit of
    work then keeps nothing.
    """
    identifiers = []
    for index, cmd in enumerate(cmds):
        try:
            identifiers.append(
                parse_identifier(
                    cmd.identifier_system,
                    cmd.identifier_value,
                    today=today,
                    reserve_systems=reserve_systems,
                    field="identifier.value",
                )
            )
        except DomainError as exc:
            raise EntryError(index, exc) from exc
    wanted = {c.residence_municipality_id for c in cmds} | {
        c.stay_municipality_id for c in cmds if c.stay_municipality_id is not None
    }
    known = await uow.organizations.kinds(sorted(wanted))
    persons: list[Person] = []
    for index, (cmd, identifier) in enumerate(zip(cmds, identifiers, strict=True)):
        try:
            persons.append(_new_person(cmd, identifier, known))
        except DomainError as exc:
            raise EntryError(index, exc) from exc
    keys = [f"{i.system}|{i.value}" for i in identifiers]
    # Two registrations of one identifier at once: the second waits and then finds the first.
    await uow.idempotency.lock_many("person", keys)
    existing = await uow.persons.find_by_identifiers(identifiers)
    first: dict[str, Person] = {}
    new: list[Person] = []
    found: list[tuple[Person, bool]] = []
    for key, person in zip(keys, persons, strict=True):
        earlier = existing.get(key)
        if earlier is not None:
            record(uow, actor, "read", "Patient", earlier.id, earlier.id)
            seen = await visible_person(uow, actor, earlier)
            found.append((seen or earlier.identity_only(), False))
        elif key in first:
            record(uow, actor, "read", "Patient", first[key].id, first[key].id)
            found.append((first[key], False))
        else:
            first[key] = person
            new.append(person)
            record(uow, actor, "create", "Patient", person.id, person.id)
            found.append((person, True))
    if new:
        await uow.persons.add_many(new)
        await uow.parties.add_many(
            [
                (RecordType.REGISTRATION, p.id, p.id, [(actor.acting_id, Role.REGISTRANT)])
                for p in new
            ],
            # The caller's principal is known: the statement that reads principals is not run.
            principals={actor.acting_id: actor.principal_id},
        )
    return found


def _new_person(
    cmd: RegisterPerson,
    identifier: PersonIdentifier,
    known: dict[str, tuple[OrgKind, Jurisdiction]],
) -> Person:
    municipality_fields = {"residence_municipality_id": cmd.residence_municipality_id}
    if cmd.stay_municipality_id is not None:
        municipality_fields["stay_municipality_id"] = cmd.stay_municipality_id
    for name, org_id in municipality_fields.items():
        if org_id not in known:
            raise UnknownReference(f"unknown organization {org_id}", field=name)
        kind, jurisdiction = known[org_id]
        if kind is not OrgKind.MUNICIPALITY:
            raise InvalidInput(f"{org_id} is a {kind.value}, not a municipality", field=name)
        if identifier.jurisdiction is not None and jurisdiction.value != identifier.jurisdiction:
            raise InvalidInput(
                f"{org_id} is in {jurisdiction.value}, the identifier is {identifier.jurisdiction}",
                field=name,
            )
    stated = cmd.birth_year_or_month
    if stated is not None:
        derived = identifier.birth_date
        if derived is None or not stated.contains(derived):
            raise InvalidInput(
                f"birthDate {stated.isoformat()} names only a "
                f"{'month' if stated.month else 'year'}; it is kept only when the identifier "
                "gives a birth date within it"
                + (f" (the identifier gives {derived.isoformat()})" if derived else ""),
                field="birth_date",
            )
    person = Person(
        id=str(uuid.uuid4()),
        identifier=identifier,
        given_name=cmd.given_name.strip(),
        family_name=cmd.family_name.strip(),
        residence_municipality_id=cmd.residence_municipality_id,
        birth_date=cmd.birth_date or identifier.birth_date,
        stay_municipality_id=cmd.stay_municipality_id,
        protected_identity=cmd.protected_identity,
        address=cmd.address,
        phone=cmd.phone,
        gender=cmd.gender,
    )
    validate_person(person)
    return person


async def is_party(uow: UnitOfWork, actor: Actor, person_id: str) -> bool:
    """Whether the caller is a party to any record about the person."""
    return await uow.parties.person_within(person_id, actor.reach)


async def get_person(uow: UnitOfWork, actor: Actor, person_id: str) -> Person:
    """The person with this id, if the caller is a party to any record about them."""
    logged = False
    if uow.logs_with_statement:
        # The read and its access-log row in one statement, written when the caller is a party
        # to a record about the person, which is when they are shown; a refusal is logged below.
        entry = access_entry(actor, "read", "Patient", person_id, None)
        person, parties, logged = await uow.checked.person_read_logged(
            person_id, actor.reach, entry
        )
        if logged:
            uow.logged_access.append(replace(entry, person_id=person_id))
    else:
        person, parties = await uow.checked.person(person_id)
    seen = visible_to(person, parties, actor.reach) if person is not None else None
    if seen is None:
        outcome = "denied"
        record(uow, actor, "read", "Patient", person_id, person_id if person else None, outcome)
        raise not_found("person", person_id)
    if not logged:
        record(uow, actor, "read", "Patient", person_id, person_id)
    return seen


async def list_persons(
    uow: UnitOfWork,
    actor: Actor,
    *,
    limit: int,
    after: str | None,
    municipality_id: AnyOf,
    identifier: PersonIdentifier | None,
    ids: AnyOf = None,
) -> Page[Person]:
    """The persons the caller is a party to a record of, filtered; or the one person with
    ``identifier`` (a lookup: to a caller that is no party, only that it exists and its id).

    Lists never carry a protected person's details; every person listed is logged as read.
    """
    if identifier is not None and not municipality_id:
        found = await uow.persons.find_by_identifier(identifier) if after is None else None
        if found is None or not among(found.id, ids):
            return Page([], None)
        record(uow, actor, "search", "Patient", found.id, found.id)
        if await uow.parties.person_within(found.id, actor.reach):
            return Page([(await visible_persons(uow, actor, [found]))[found.id]], None)
        return Page([found.identity_only()], None)
    page = await uow.persons.page(
        limit=limit,
        after=after,
        municipality_id=municipality_id,
        identifier=identifier,
        visible_to=actor.reach,
        ids=ids,
    )
    for person in page.items:
        record(uow, actor, "search", "Patient", person.id, person.id)
    # Read after the entries are queued: the parties' statement writes them (PostgreSQL).
    shown_page = await visible_persons(uow, actor, page.items)
    return Page([shown_page[p.id] for p in page.items], page.next_cursor)
