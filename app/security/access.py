"""Who is calling, and what they may see (DESIGN §10; patientdatalagen 4 kap., Normen).

Access follows the record: a caller sees a record while it is a party to it, at the grain of its
client (``app.domain.parties``), and a person's demographic record while it is a party to any
record about them. The person's details follow the record they came with. Anyone else is told
the thing does not exist (404), exactly as for an id that does not exist, so that an id reveals
nothing; the refusal is logged with the person the record concerns.
"""

from __future__ import annotations

from collections.abc import Awaitable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from app.domain.access_log import AccessEntry
from app.domain.clock import utcnow
from app.domain.errors import InvalidInput, NotFound
from app.domain.parties import Party, Reach, RecordType, is_party, sees_details
from app.domain.persons import Person
from app.store.paging import Page
from app.store.unit_of_work import UnitOfWork

UNIT_HEADER = "X-Samverkan-Unit"
USER_HEADER = "X-Samverkan-User"
WRITES = frozenset({"create", "update", "delete"})


@dataclass(frozen=True, slots=True)
class Actor:
    """The caller: a client acting for one organization, with the scopes its token carries.

    ``unit_id`` is the unit a principal-level client said it acts for (``X-Samverkan-Unit``);
    a unit-level client always acts for its own unit. ``must_name_unit`` is set where the
    service requires a principal-level client to name unit and user for its writes of personal
    data, and this request named one or neither.
    """

    client_id: str
    organization_id: str
    principal_id: str
    scopes: frozenset[str]
    user_id: str | None = None
    purpose: str = "TREAT"
    request_id: str | None = None
    unit_id: str | None = None
    must_name_unit: bool = False

    @property
    def organizations(self) -> tuple[str, ...]:
        """The organization and its principal: whose own configuration the caller manages."""
        if self.principal_id == self.organization_id:
            return (self.organization_id,)
        return (self.organization_id, self.principal_id)

    @property
    def is_principal_level(self) -> bool:
        """Whether the client acts for a principal (a region's or municipality's system)."""
        return self.organization_id == self.principal_id

    @property
    def acting_id(self) -> str:
        """The organization the caller acts as: the named unit, else the client's own."""
        return self.unit_id or self.organization_id

    @property
    def reach(self) -> Reach:
        """The parties the caller matches."""
        return Reach.of(self.organization_id, self.principal_id, self.unit_id)


def not_found(kind: str, resource_id: str) -> NotFound:
    """The one answer for 'does not exist' and 'exists but not for you'."""
    return NotFound(f"no {kind} with id {resource_id}")


def record(
    uow: UnitOfWork,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: str | None,
    person_id: str | None,
    outcome: str = "success",
) -> None:
    """Queue an access-log entry for the caller's access to personal data.

    A write of personal data by a principal's system that must name its unit and user, and did
    not, is refused here: the entry would not tell who wrote.
    """
    _check_named(actor, action, outcome)
    uow.log_access(access_entry(actor, action, resource_type, resource_id, person_id, outcome))


def _check_named(actor: Actor, action: str, outcome: str) -> None:
    """Refuse a write of personal data whose entry would not tell who wrote."""
    if actor.must_name_unit and outcome == "success" and action in WRITES:
        missing = UNIT_HEADER if actor.unit_id is None else USER_HEADER
        raise InvalidInput(
            f"a principal-level client names the acting unit ({UNIT_HEADER}) and the user "
            f"({USER_HEADER}) of every write of personal data, for the access log",
            field=missing,
        )


def each_entry(actor: Actor, action: str, resource_type: str) -> AccessEntry:
    """The entry a statement that logs the rows it reads writes for each of them, before the
    record and its person are filled in (`UnitOfWork.logged_by_statement`): a report's
    thousands of rows share everything but the record and its person."""
    _check_named(actor, action, "success")
    return access_entry(actor, action, resource_type, None, None)


def access_entry(
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: str | None,
    person_id: str | None,
    outcome: str = "success",
) -> AccessEntry:
    """The access-log entry of the caller's access, made now."""
    return AccessEntry(
        at=utcnow(),
        client_id=actor.client_id,
        organization_id=actor.organization_id,
        user_id=actor.user_id,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        person_id=person_id,
        outcome=outcome,
        purpose=actor.purpose,
        request_id=actor.request_id,
        principal_id=actor.principal_id,
        unit_id=None if actor.acting_id == actor.principal_id else actor.acting_id,
    )


async def require_party(
    uow: UnitOfWork,
    actor: Actor,
    record_type: RecordType,
    record_id: str,
    *,
    exists: bool,
    person_id: str | None,
    action: str,
    resource_type: str,
    kind: str,
    within: bool | None = None,
) -> None:
    """Refuse, as 'not found', a caller that is no party to the record; log either way.

    ``within``: whether the caller is a party, when the record's read already answered it.

    A record that does not exist is refused exactly like one the caller may not see; a refusal
    of one that exists is logged with its person, so that it is in the person's log extract.
    """
    if within is None and exists:
        within = await uow.parties.within(record_type, record_id, actor.reach)
    _logged(uow, actor, exists and bool(within), action, resource_type, record_id, person_id, kind)


def _logged(
    uow: UnitOfWork,
    actor: Actor,
    allowed: bool,
    action: str,
    resource_type: str,
    resource_id: str,
    person_id: str | None,
    kind: str,
) -> None:
    """Log the access, and refuse it as 'not found' unless ``allowed``."""
    if not allowed:
        record(uow, actor, action, resource_type, resource_id, person_id, outcome="denied")
        raise not_found(kind, resource_id)
    record(uow, actor, action, resource_type, resource_id, person_id)


class OfPerson(Protocol):
    """A record that may concern a person."""

    @property
    def person_id(self) -> str | None:
        """The person it concerns, if any."""
        ...


R = TypeVar("R", bound=OfPerson)


async def read_attached(
    uow: UnitOfWork,
    actor: Actor,
    found: R | None,
    attached_to: tuple[RecordType, str] | None,
    logged_as: tuple[str, str],
    kind: str,
) -> R:
    """``found`` (a document, a planning basis) if the caller is a party to the record it is
    attached to; else 'not found'. The read is logged either way as ``logged_as`` (resource type
    and id), a refusal with the person of a record that exists."""
    allowed = attached_to is not None and await uow.parties.within(*attached_to, actor.reach)
    person_id = found.person_id if found is not None else None
    _logged(uow, actor, allowed, "read", *logged_as, person_id, kind)
    assert found is not None
    return found


R_co = TypeVar("R_co", bound=OfPerson, covariant=True)


class CheckedRead(Protocol[R_co]):
    """The store's read of a record with the caller's party check in one statement: the record,
    whether ``reach`` is a party to it, and whether the same statement wrote ``entry`` (given on
    PostgreSQL only) to the access log."""

    def __call__(
        self, record_id: str, reach: Reach, entry: AccessEntry | None, /
    ) -> Awaitable[tuple[R_co | None, bool, bool]]: ...


class LockingGet(Protocol[R_co]):
    """The store's read of a record, locked until the transaction ends with ``for_update``."""

    def __call__(
        self, record_id: str, /, *, for_update: bool = False
    ) -> Awaitable[R_co | None]: ...


async def party_record(
    uow: UnitOfWork,
    actor: Actor,
    record: tuple[RecordType, str],
    readers: tuple[CheckedRead[R], LockingGet[R]],
    action: str,
    logged_as: tuple[str, str],
) -> R:
    """The record (a meeting, a deviation, a care message), if the caller is a party to it;
    'not found' (and a log entry) otherwise. ``readers``: the store's checked read and its
    locking get; ``logged_as``: its resource type in the access log, and the kind a refusal
    names.

    A read checks the parties in the same statement, which on PostgreSQL also writes its
    access-log row (a refusal is logged here). For an ``update`` the record is locked until the
    transaction ends: concurrent writers queue.
    """
    record_type, record_id = record
    read, get = readers
    resource_type, kind = logged_as
    within: bool | None = None
    if action == "read":
        entry = access_entry(actor, "read", resource_type, record_id, None)
        found, within, logged = await read(
            record_id, actor.reach, entry if uow.logs_with_statement else None
        )
        if found is not None and logged:
            uow.logged_access.append(replace(entry, person_id=found.person_id))
            return found
    else:
        found = await get(record_id, for_update=action == "update")
    await require_party(
        uow,
        actor,
        record_type,
        record_id,
        exists=found is not None,
        person_id=found.person_id if found is not None else None,
        action=action,
        resource_type=resource_type,
        kind=kind,
        within=within,
    )
    assert found is not None
    return found


class Listed(OfPerson, Protocol):
    """A record a search lists."""

    @property
    def id(self) -> str:
        """The record's id."""
        ...


L = TypeVar("L", bound=Listed)


def searched(uow: UnitOfWork, actor: Actor, resource_type: str, page: Page[L]) -> Page[L]:
    """A search's page, each record on it logged as searched."""
    for item in page.items:
        record(uow, actor, "search", resource_type, item.id, item.person_id)
    return page


async def acts_for(uow: UnitOfWork, actor: Actor, organization_id: str) -> bool:
    """Whether the caller acts for the organization: it is within the caller's reach."""
    principals = await uow.parties.principals([organization_id])
    return actor.reach.matches(organization_id, principals.get(organization_id, organization_id))


def shown(person: Person, parties: Sequence[Party], reach: Reach, *, listed: bool) -> Person:
    """The person as a caller within ``reach`` may see them.

    Details (name, address, phone) only to a party that knows them from a record (and for a
    protected identity, one that must act); lists never carry a protected person's details.
    """
    if listed and person.protected_identity:
        return person.masked()
    if sees_details(parties, reach, protected=person.protected_identity):
        return person
    return person.identity_only()


async def visible_person(uow: UnitOfWork, actor: Actor, person: Person) -> Person | None:
    """The person as the caller may see them, or None when it is no party to any record."""
    parties = (await uow.parties.of_persons([person.id])).get(person.id, [])
    return visible_to(person, parties, actor.reach)


def visible_to(person: Person, parties: Sequence[Party], reach: Reach) -> Person | None:
    """The person as a caller within ``reach`` may see them, given the parties of every record
    about them; None when it is no party to any."""
    if not is_party(parties, reach):
        return None
    return shown(person, parties, reach, listed=False)


async def visible_persons(
    uow: UnitOfWork, actor: Actor, persons: Sequence[Person]
) -> dict[str, Person]:
    """Persons of a list or report as the caller may see them (every one must be visible).

    The statement also writes the access-log entries queued so far (on PostgreSQL)."""
    if not persons:
        return {}
    parties = await uow.parties.of_persons([p.id for p in persons], uow.access_for_statement())
    return {p.id: shown(p, parties.get(p.id, []), actor.reach, listed=True) for p in persons}


async def listed_persons(
    uow: UnitOfWork, actor: Actor, persons: Sequence[Person], known: Collection[str]
) -> dict[str, Person]:
    """`visible_persons` when the read that found the persons already established that the
    caller knows the details of those in ``known`` (ids): a listed protected person is masked
    whatever the parties say, so only the parties of the unprotected rest are read."""
    rest = [p for p in persons if not p.protected_identity and p.id not in known]
    decided = await visible_persons(uow, actor, rest)
    return {p.id: p.masked() if p.protected_identity else decided.get(p.id, p) for p in persons}
