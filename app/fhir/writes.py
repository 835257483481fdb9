"""FHIR writes: create, update, and transaction / batch Bundles (https://hl7.org/fhir/R4/http.html).

Inbound resources are validated with ``fhir.resources`` (R4B models), mapped to the same commands
the REST API uses, and applied through the same services. A transaction is all or nothing and
independent of entry order: entries are applied in dependency order (Patient, then Encounter,
then CarePlan) and ``urn:uuid`` references are replaced by the ids the earlier entries got.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from app.domain.errors import Conflict, DomainError, InvalidInput, Malformed, VersionRequired
from app.domain.plans import InitiatorKind
from app.domain.values import parse_int
from app.fhir import documents, parse, primitives
from app.fhir.bundles import check_full_urls
from app.fhir.expressions import from_loc
from app.fhir.mappers import careplan, communication, encounter, patient, task
from app.security.access import Actor
from app.services import care_messages as message_service
from app.services import deviations as deviation_service
from app.services import episodes as episode_service
from app.services import persons as person_service
from app.services import plans as plan_service
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork

Resource = dict[str, Any]


def validate(resource: Any, expected: str | None = None) -> Resource:
    """Check a resource against the R4 model of its type; Malformed names the element."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise Malformed("the body is not a FHIR resource", field="resourceType")
    kind = resource["resourceType"]
    if expected is not None and kind != expected:
        raise Malformed(f"the body is a {kind}, the URL names {expected}", field="resourceType")
    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError) as exc:
        raise Malformed(f"unknown resource type {kind}", field="resourceType") from exc
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = from_loc(kind, first["loc"])
        raise Malformed(f"{where}: {first['msg']}", field=where) from exc
    primitives.check(resource)
    return resource


@dataclass(frozen=True, slots=True)
class Written:
    """The outcome of a create or update."""

    resource: Resource
    created: bool


Creator = Callable[[UnitOfWork, Actor, Resource, Settings, datetime], Awaitable[Written]]
Updater = Callable[[UnitOfWork, Actor, str, Resource, int | None, datetime], Awaitable[Written]]


async def create_patients(
    uow: UnitOfWork,
    actor: Actor,
    entries: list[Entry],
    created: dict[str, str],
    settings: Settings,
    now: datetime,
) -> list[Written]:
    """The Patient entries of a transaction, registered together (a few statements for all).

    A refused entry raises ``EntryFailed`` naming it; the transaction then keeps nothing.
    """
    commands = []
    first_of: dict[tuple[str, str], int] = {}
    for entry in entries:
        assert entry.resource is not None
        try:
            command = patient.from_fhir(resolve(entry.resource, created))
        except DomainError as exc:
            raise EntryFailed(entry.index, exc) from exc
        # One person twice would be answered twice with the same fullUrl and version (bdl-7),
        # and which entry's details count would be a guess: it is sent once and referred to.
        key = (command.identifier_system, command.identifier_value)
        if key in first_of:
            raise EntryFailed(
                entry.index,
                InvalidInput(
                    f"registers the same person as Bundle.entry[{first_of[key]}] (the same "
                    "identifier); send a person once and refer to its fullUrl",
                    field="resource.identifier[0]",
                ),
            )
        first_of[key] = entry.index
        commands.append(command)
    try:
        found = await person_service.register_persons(
            uow,
            actor,
            commands,
            today=now.date(),
            reserve_systems=settings.reserve_number_systems,
        )
    except person_service.EntryError as exc:
        raise EntryFailed(entries[exc.index].index, exc.error) from exc
    written = []
    for entry, (person, was_created) in zip(entries, found, strict=True):
        if entry.full_url:
            created[entry.full_url] = f"Patient/{person.id}"
        written.append(Written(patient.to_fhir(person), was_created))
    return written


class EntryFailed(Exception):
    """A domain error of the Bundle entry at ``index``."""

    def __init__(self, index: int, error: DomainError) -> None:
        super().__init__(error.message)
        self.index = index
        self.error = error


async def create_patient(
    uow: UnitOfWork, actor: Actor, resource: Resource, settings: Settings, now: datetime
) -> Written:
    """Register a person; Conflict (409) when one is registered under the identifier already.

    Nothing of the sent Patient would be kept then, so the create is refused rather than
    answered with the stored one; a conditional create (If-None-Exist) is the way to get it.
    """
    registration = patient.from_fhir(resource)
    person, created = await person_service.register_person(
        uow, actor, registration, today=now.date(), reserve_systems=settings.reserve_number_systems
    )
    if not created:
        # The identifier is not echoed: the answer may be logged or shown where it should not be.
        raise Conflict(
            f"a Patient with this identifier is already registered (Patient/{person.id}); "
            "nothing was changed. Send If-None-Exist: identifier=<system>|<value> to get it",
            field="Patient.identifier[0]",
        )
    return Written(patient.to_fhir(person), created)


def _subject(resource: Resource) -> str:
    return parse.reference_id(
        resource.get("subject"), "Patient", f"{resource['resourceType']}.subject"
    )


async def create_encounter(
    uow: UnitOfWork, actor: Actor, resource: Resource, _settings: Settings, now: datetime
) -> Written:
    """Register an admission (class IMP)."""
    if (resource.get("class") or {}).get("code") != "IMP":
        raise InvalidInput(
            "an episode is an inpatient Encounter (class IMP)", field="Encounter.class"
        )
    episode = await episode_service.register_admission(
        uow, actor, encounter.from_fhir(resource, _subject(resource)), now=now
    )
    return Written(encounter.to_fhir(episode), True)


async def create_careplan(
    uow: UnitOfWork, actor: Actor, resource: Resource, _settings: Settings, now: datetime
) -> Written:
    """Initiate a plan (a draft) for the subject, by the caller's unit."""
    if resource.get("status") not in (None, "draft"):
        raise InvalidInput(
            "a plan starts as a draft; activate it after consent", field="CarePlan.status"
        )
    if resource.get("intent") != "plan":
        raise InvalidInput("a coordinated plan has intent plan", field="CarePlan.intent")
    plan = await plan_service.create_plan(
        uow,
        actor,
        _subject(resource),
        InitiatorKind.UNIT,
        None,
        careplan.from_fhir(resource),
        now=now,
    )
    return Written(careplan.to_fhir(plan), True)


async def update_careplan(
    uow: UnitOfWork,
    actor: Actor,
    ident: str,
    resource: Resource,
    if_match: int | None,
    now: datetime,
) -> Written:
    """Revise a plan: a new version, made against the version ``If-Match`` names."""
    if resource.get("id") != ident:
        raise Malformed("the CarePlan's id must be the id in the URL", field="CarePlan.id")
    if if_match is None:
        raise VersionRequired('an update names the version it was made against: If-Match: W/"n"')
    plan = await plan_service.revise_plan(
        uow,
        actor,
        ident,
        lambda current: careplan.from_fhir(resource, current),
        if_match=if_match,
        now=now,
    )
    return Written(careplan.to_fhir(plan), False)


async def create_communication(
    uow: UnitOfWork, actor: Actor, resource: Resource, _settings: Settings, now: datetime
) -> Written:
    """Send a care message from the caller's organization."""
    message = await message_service.send(uow, actor, communication.from_fhir(resource), now=now)
    return Written(communication.to_fhir(message), True)


async def create_task(
    uow: UnitOfWork, actor: Actor, resource: Resource, _settings: Settings, now: datetime
) -> Written:
    """Report a deviation (a Task whose code is the category and focus the episode or plan)."""
    if resource.get("intent") != "order":
        raise InvalidInput("a deviation report is a Task with intent order", field="Task.intent")
    deviation = await deviation_service.report(uow, actor, task.from_fhir(resource), now=now)
    return Written(task.to_fhir(deviation), True)


async def create_document_reference(
    uow: UnitOfWork, actor: Actor, resource: Resource, settings: Settings, now: datetime
) -> Written:
    """Share a document on the record its context names."""
    shown, created = await documents.create(uow, actor, resource, settings, now)
    return Written(shown, created)


CREATORS: dict[str, Creator] = {
    "Patient": create_patient,
    "Encounter": create_encounter,
    "CarePlan": create_careplan,
    "Communication": create_communication,
    "Task": create_task,
    "DocumentReference": create_document_reference,
}
UPDATERS: dict[str, Updater] = {"CarePlan": update_careplan}
# Entries of a transaction are applied in this order, so that references can be resolved.
ORDER = {
    "Patient": 0,
    "Encounter": 1,
    "CarePlan": 2,
    "Communication": 3,
    "Task": 3,
    "DocumentReference": 4,
}


def resolve(node: Any, created: dict[str, str]) -> Any:
    """A copy of ``node`` with ``urn:uuid`` references replaced by the created ``Type/id``."""
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and value in created:
                result[key] = created[value]
            else:
                result[key] = resolve(value, created)
        return result
    if isinstance(node, list):
        return [resolve(item, created) for item in node]
    return node


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a transaction or batch, in the order it was sent."""

    index: int
    full_url: str | None
    method: str
    url: str
    resource: Resource | None


def entries_of(bundle: Resource, max_entries: int) -> list[Entry]:
    """The entries of a transaction or batch Bundle, checked for what this server supports."""
    raw = bundle.get("entry") or []
    if len(raw) > max_entries:
        raise Malformed(
            f"a Bundle may have at most {max_entries} entries; this one has {len(raw)}",
            field="Bundle.entry",
        )
    check_full_urls(raw)
    found = []
    for index, entry in enumerate(raw):
        request = entry.get("request") or {}
        method, url = request.get("method"), request.get("url") or ""
        where = f"Bundle.entry[{index}]"
        kind = url.split("/", 1)[0].split("?", 1)[0]
        if request.get("ifNoneExist") is not None:
            raise Malformed(
                f"{where}.request.ifNoneExist: a conditional create is sent on its own "
                "(POST [base]/Type with If-None-Exist), not in a Bundle",
                field=f"{where}.request.ifNoneExist",
            )
        if method == "GET" and url and not url.startswith("/"):
            # A read; the Bundle's route reads it with the caller's access, after the writes.
            found.append(Entry(index, entry.get("fullUrl"), method, url, None))
            continue
        if method == "POST" and kind in CREATORS and "/" not in url:
            pass
        elif method == "PUT" and kind in UPDATERS and url.count("/") == 1:
            pass
        else:
            raise Malformed(
                f"{where}.request: {method} {url} is not supported in a Bundle; supported: "
                f"POST {', '.join(CREATORS)}, PUT {', '.join(k + '/id' for k in UPDATERS)} "
                "and GET Type/id",
                field=f"{where}.request",
            )
        resource = entry.get("resource")
        if resource is None or resource.get("resourceType") != kind:
            raise Malformed(f"{where}.resource must be a {kind}", field=f"{where}.resource")
        found.append(Entry(index, entry.get("fullUrl"), method, url, copy.deepcopy(resource)))
    # Reads come after every write (https://hl7.org/fhir/R4/http.html#trules).
    return sorted(
        found,
        key=lambda e: (10 if e.method == "GET" else ORDER.get(e.url.split("/", 1)[0], 9), e.index),
    )


async def apply(
    uow: UnitOfWork,
    actor: Actor,
    entry: Entry,
    created: dict[str, str],
    settings: Settings,
    now: datetime,
) -> Written:
    """Apply one entry, after resolving its references to what earlier entries created."""
    assert entry.resource is not None
    # The Bundle, entries included, was validated as a whole; resolving references keeps it valid.
    resource = resolve(entry.resource, created)
    kind = resource["resourceType"]
    if entry.method == "POST":
        written = await CREATORS[kind](uow, actor, resource, settings, now)
    else:
        version = str((resource.get("meta") or {}).get("versionId"))
        written = await UPDATERS[kind](
            uow,
            actor,
            entry.url.split("/", 1)[1],
            resource,
            parse_int(version, "meta.versionId") if version.isdigit() else None,
            now,
        )
    if entry.full_url:
        created[entry.full_url] = f"{kind}/{written.resource['id']}"
    return written
