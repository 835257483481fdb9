"""FHIR writes: create, update, and transaction / batch Bundles (https://hl7.org/fhir/R4/http.html).

Inbound resources are validated once with ``fhir.resources`` (R4B models); the mappers read that
model into the same commands the REST API uses, applied through the same services. A transaction
is all or nothing and independent of entry order: entries are applied in dependency order
(Patient, then Encounter, then CarePlan) and ``urn:uuid`` references are replaced by the ids the
earlier entries got.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource as Model
from fhir.resources.R4B.task import Task
from pydantic import BaseModel, ValidationError

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
M = TypeVar("M", bound=Model)


def validate(resource: Any, expected: str | None = None) -> Model:
    """The R4 model of a resource, validated once (a Bundle's entries with it); Malformed names
    the element at fault. What the model lets through and FHIR does not is refused too
    (``app.fhir.primitives``)."""
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
        validated = model.model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = from_loc(kind, first["loc"])
        raise Malformed(f"{where}: {first['msg']}", field=where) from exc
    primitives.check(resource)
    assert isinstance(validated, Model)
    return validated


def validate_as(resource: Any, model: type[M]) -> M:
    """As ``validate``, for a body that must be a ``model`` (the type the URL names)."""
    return as_type(validate(resource, model.get_resource_type()), model)


def as_type(resource: Model, model: type[M]) -> M:
    """``resource`` as the ``model`` its type is; Malformed when it is another."""
    if not isinstance(resource, model):
        raise Malformed(
            f"the resource is a {resource.get_resource_type()}, not a {model.get_resource_type()}",
            field="resourceType",
        )
    return resource


@dataclass(frozen=True, slots=True)
class Written:
    """The outcome of a create or update."""

    resource: Resource
    created: bool


Creator = Callable[[UnitOfWork, Actor, Model, Settings, datetime], Awaitable[Written]]
Updater = Callable[[UnitOfWork, Actor, str, Model, int | None, datetime], Awaitable[Written]]


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
            command = patient.from_fhir(as_type(resolve(entry.resource, created), Patient))
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
    uow: UnitOfWork, actor: Actor, resource: Model, settings: Settings, now: datetime
) -> Written:
    """Register a person; Conflict (409) when one is registered under the identifier already.

    Nothing of the sent Patient would be kept then, so the create is refused rather than
    answered with the stored one; a conditional create (If-None-Exist) is the way to get it.
    """
    registration = patient.from_fhir(as_type(resource, Patient))
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


def _subject(subject: Reference | None, kind: str) -> str:
    return parse.reference_id(subject, "Patient", f"{kind}.subject")


async def create_encounter(
    uow: UnitOfWork, actor: Actor, resource: Model, _settings: Settings, now: datetime
) -> Written:
    """Register an admission (class IMP)."""
    stay = as_type(resource, Encounter)
    if stay.class_fhir is None or stay.class_fhir.code != "IMP":
        raise InvalidInput(
            "an episode is an inpatient Encounter (class IMP)", field="Encounter.class"
        )
    episode = await episode_service.register_admission(
        uow, actor, encounter.from_fhir(stay, _subject(stay.subject, "Encounter")), now=now
    )
    return Written(encounter.to_fhir(episode), True)


async def create_careplan(
    uow: UnitOfWork, actor: Actor, resource: Model, _settings: Settings, now: datetime
) -> Written:
    """Initiate a plan (a draft) for the subject, by the caller's unit."""
    plan_resource = as_type(resource, CarePlan)
    if plan_resource.status not in (None, "draft"):
        raise InvalidInput(
            "a plan starts as a draft; activate it after consent", field="CarePlan.status"
        )
    if plan_resource.intent != "plan":
        raise InvalidInput("a coordinated plan has intent plan", field="CarePlan.intent")
    plan = await plan_service.create_plan(
        uow,
        actor,
        _subject(plan_resource.subject, "CarePlan"),
        InitiatorKind.UNIT,
        None,
        careplan.from_fhir(plan_resource),
        now=now,
    )
    return Written(careplan.to_fhir(plan), True)


async def update_careplan(
    uow: UnitOfWork,
    actor: Actor,
    ident: str,
    resource: Model,
    if_match: int | None,
    now: datetime,
) -> Written:
    """Revise a plan: a new version, made against the version ``If-Match`` names."""
    plan_resource = as_type(resource, CarePlan)
    if plan_resource.id != ident:
        raise Malformed("the CarePlan's id must be the id in the URL", field="CarePlan.id")
    if if_match is None:
        raise VersionRequired('an update names the version it was made against: If-Match: W/"n"')
    plan = await plan_service.revise_plan(
        uow,
        actor,
        ident,
        lambda current: careplan.from_fhir(plan_resource, current),
        if_match=if_match,
        now=now,
    )
    return Written(careplan.to_fhir(plan), False)


async def create_communication(
    uow: UnitOfWork, actor: Actor, resource: Model, _settings: Settings, now: datetime
) -> Written:
    """Send a care message from the caller's organization."""
    draft = communication.from_fhir(as_type(resource, Communication))
    message = await message_service.send(uow, actor, draft, now=now)
    return Written(communication.to_fhir(message), True)


async def create_task(
    uow: UnitOfWork, actor: Actor, resource: Model, _settings: Settings, now: datetime
) -> Written:
    """Report a deviation (a Task whose code is the category and focus the episode or plan)."""
    report = as_type(resource, Task)
    if report.intent != "order":
        raise InvalidInput("a deviation report is a Task with intent order", field="Task.intent")
    deviation = await deviation_service.report(uow, actor, task.from_fhir(report), now=now)
    return Written(task.to_fhir(deviation), True)


async def create_document_reference(
    uow: UnitOfWork, actor: Actor, resource: Model, settings: Settings, now: datetime
) -> Written:
    """Share a document on the record its context names."""
    document = as_type(resource, DocumentReference)
    shown, created = await documents.create(uow, actor, document, settings, now)
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


def resolve(model: M, created: dict[str, str]) -> M:
    """``model`` with its ``urn:uuid`` references replaced, in place, by the ``Type/id`` the
    earlier entries of the transaction created."""
    _resolve(model, created)
    return model


def _resolve(node: Any, created: dict[str, str]) -> None:
    if isinstance(node, Reference):
        if node.reference is not None and node.reference in created:
            node.reference = created[node.reference]
        return
    if isinstance(node, list):
        for item in node:
            _resolve(item, created)
    elif isinstance(node, BaseModel):
        for value in node.__dict__.values():
            if isinstance(value, BaseModel | list):
                _resolve(value, created)


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a transaction or batch, in the order it was sent."""

    index: int
    full_url: str | None
    method: str
    url: str
    resource: Model | None


def entries_of(bundle: Bundle, max_entries: int) -> list[Entry]:
    """The entries of a transaction or batch Bundle, checked for what this server supports.

    An entry's resource is the model the Bundle's validation made of it (no second validation).
    """
    raw = bundle.entry or []
    if len(raw) > max_entries:
        raise Malformed(
            f"a Bundle may have at most {max_entries} entries; this one has {len(raw)}",
            field="Bundle.entry",
        )
    check_full_urls(raw)
    found = []
    for index, entry in enumerate(raw):
        request = entry.request
        method = request.method if request is not None else None
        url = (request.url if request is not None else None) or ""
        where = f"Bundle.entry[{index}]"
        kind = url.split("/", 1)[0].split("?", 1)[0]
        if request is not None and request.ifNoneExist is not None:
            raise Malformed(
                f"{where}.request.ifNoneExist: a conditional create is sent on its own "
                "(POST [base]/Type with If-None-Exist), not in a Bundle",
                field=f"{where}.request.ifNoneExist",
            )
        if method == "GET" and url and not url.startswith("/"):
            # A read; the Bundle's route reads it with the caller's access, after the writes.
            found.append(Entry(index, entry.fullUrl, method, url, None))
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
        resource = entry.resource
        if resource is None or resource.get_resource_type() != kind:
            raise Malformed(f"{where}.resource must be a {kind}", field=f"{where}.resource")
        found.append(Entry(index, entry.fullUrl, method, url, resource))
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
    kind = resource.get_resource_type()
    if entry.method == "POST":
        written = await CREATORS[kind](uow, actor, resource, settings, now)
    else:
        version = str(resource.meta.versionId if resource.meta is not None else None)
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
