"""The FHIR R4 interactions, as a table over the services and the pure mappers.

``RESOURCES`` names, per resource type, how it is read, read at a version and searched, and
with which parameters. The routes dispatch through it and the CapabilityStatement at
``/fhir/metadata`` is generated from it, so what is declared is what is served
(https://hl7.org/fhir/R4/http.html, https://hl7.org/fhir/R4/capabilitystatement.html).

Access is the REST API's: the same services check the care relation and write the access log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.domain.care_messages import Category as MessageCategory
from app.domain.deviations import DeviationCategory, DeviationState
from app.domain.episodes import EpisodeState
from app.domain.errors import (
    DomainError,
    Forbidden,
    Incomplete,
    InvalidInput,
    Malformed,
    NotFound,
    StaleVersion,
    TooLarge,
    UnsupportedContent,
)
from app.domain.messages import ProcessedMessage
from app.domain.plans import Plan, PlanStatus
from app.domain.staff import StaffRole
from app.domain.values import INT4_MAX, check_instant, parse_int, parse_partial_date
from app.fhir import (
    conformance,
    documents,
    messaging,
    planning_basis,
    search_params,
    subscriptions,
    writes,
)
from app.fhir.common import (
    FHIR_JSON,
    FHIR_VERSION,
    canonical,
    instant,
    parent_of,
)
from app.fhir.interactions import served
from app.fhir.mappers import (
    appointment,
    appointmentresponse,
    auditevent,
    careplan,
    careteam,
    communication,
    consent,
    encounter,
    goal,
    measure,
    organization,
    patient,
    practitioner,
    task,
)
from app.fhir.operations import evaluate_measure
from app.fhir.outcome import fhir_response, outcome, read_body
from app.http.allow import allowed_methods
from app.http.deps import Caller, UowDep, get_settings
from app.http.errors import domain_error_response
from app.http.routing import UnitOfWorkRoute
from app.security.access import Actor, record
from app.security.scopes import scope_allows
from app.services import audit as audit_service
from app.services import care_messages as message_service
from app.services import deviations as deviation_service
from app.services import episodes as episode_service
from app.services import meetings as meeting_service
from app.services import messages as dedupe
from app.services import organizations as organization_service
from app.services import persons as person_service
from app.services import plans as plan_service
from app.services import staff as staff_service
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork

# The generic routes below serve every type of RESOURCES; the OpenAPI document declares them once
# per type and interaction instead (app.fhir.openapi), so they are left out of it themselves.
api = APIRouter(prefix="/fhir", tags=["FHIR"], route_class=UnitOfWorkRoute)

Resource = dict[str, Any]
Found = tuple[list[Resource], str | None]
Reader = Callable[[UnitOfWork, Actor, str], Awaitable[Resource]]
VersionReader = Callable[[UnitOfWork, Actor, str, int], Awaitable[Resource]]
Searcher = Callable[
    [UnitOfWork, Actor, dict[str, str], int, str | None, Settings], Awaitable[Found]
]


@dataclass(frozen=True, slots=True)
class SearchParam:
    """A search parameter a resource type supports."""

    name: str
    type: str
    documentation: str


@dataclass(frozen=True, slots=True)
class Include:
    """An ``_include`` a resource type supports: the resources its ``element`` refers to
    (``target`` names their type, or types as ``A|B``)."""

    name: str
    element: str
    target: str


Period = Callable[[dict[str, Any]], tuple[str | None, str | None]]


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """How one resource type is served.

    ``period`` gives the start and end a ``date`` search compares with (when it has one).
    """

    read: Reader
    search: Searcher
    params: tuple[SearchParam, ...]
    vread: VersionReader | None = None
    documentation: str = ""
    includes: tuple[Include, ...] = ()
    period: Period | None = None
    operations: tuple[tuple[str, str], ...] = ()


def _reference_id(value: str, resource_type: str, name: str) -> str:
    """The id in ``Patient/123`` or ``123``; another type's reference is refused."""
    kind, sep, ident = value.rpartition("/")
    if sep and kind.rsplit("/", 1)[-1] != resource_type:
        raise InvalidInput(f"{name} must reference a {resource_type}", field=name)
    return ident if sep else value


def _token(value: str, name: str) -> tuple[str, str]:
    system, sep, code = value.partition("|")
    if not sep or not system or not code:
        raise InvalidInput(f"{name} is searched as system|value", field=name)
    return system, code


async def _by_id(reader: Reader, uow: UnitOfWork, actor: Actor, ident: str) -> Found:
    try:
        return [await reader(uow, actor, ident)], None
    except NotFound:
        return [], None


# --- Patient ----------------------------------------------------------------------------------


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
        return await _by_id(read_patient, uow, actor, params["_id"])
    identifier = None
    if "identifier" in params:
        system, value = _token(params["identifier"], "identifier")
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


# --- Organization -----------------------------------------------------------------------------


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
        return await _by_id(read_organization, uow, actor, params["_id"])
    identifier = _token(params["identifier"], "identifier") if "identifier" in params else None
    parent = (
        _reference_id(params["partof"], "Organization", "partof") if "partof" in params else None
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


# --- Encounter --------------------------------------------------------------------------------

_ENCOUNTER_STATES = {
    "in-progress": (EpisodeState.ADMITTED, EpisodeState.PLANNING, EpisodeState.DISCHARGE_READY),
    "finished": (EpisodeState.DISCHARGED,),
}


async def read_encounter(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    episode = await episode_service.get_episode(uow, actor, ident)
    shown = [encounter.to_fhir(episode)]
    return (await documents.with_discharge_information(uow, [episode], shown, _now()))[0]


def _now() -> datetime:
    return datetime.now(UTC)


def _subject(params: dict[str, str]) -> str | None:
    for name in ("patient", "subject"):
        if name in params:
            return _reference_id(params[name], "Patient", name)
    return None


def _choice(params: dict[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = params.get(name)
    if value is not None and value not in allowed:
        raise InvalidInput(f"{name} is one of {', '.join(allowed)}", field=name)
    return value


async def search_encounter(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await _by_id(read_encounter, uow, actor, params["_id"])
    status = _choice(params, "status", tuple(_ENCOUNTER_STATES))
    states = _ENCOUNTER_STATES[status] if status else None
    page = await episode_service.list_episodes(
        uow,
        actor,
        limit=count,
        after=cursor,
        person_id=_subject(params),
        municipality_id=None,
        hospital_unit_id=None,
        state=states[0] if states and len(states) == 1 else None,
    )
    items = [e for e in page.items if states is None or e.state in states]
    shown = [encounter.to_fhir(e) for e in items]
    return await documents.with_discharge_information(uow, items, shown, _now()), page.next_cursor


# --- CarePlan ---------------------------------------------------------------------------------

_PLAN_STATUS = {
    "draft": PlanStatus.DRAFT,
    "active": PlanStatus.ACTIVE,
    "completed": PlanStatus.COMPLETED,
    "revoked": PlanStatus.CANCELLED,
}


async def read_careplan(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    return careplan.to_fhir(await plan_service.get_plan(uow, actor, ident))


async def vread_careplan(uow: UnitOfWork, actor: Actor, ident: str, version: int) -> Resource:
    return careplan.to_fhir(await plan_service.plan_version(uow, actor, ident, version))


async def search_careplan(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await _by_id(read_careplan, uow, actor, params["_id"])
    status = _choice(params, "status", tuple(_PLAN_STATUS))
    category = _choice(params, "category", ("SIP", "IP"))
    page = await plan_service.list_plans(
        uow,
        actor,
        limit=count,
        after=cursor,
        person_id=_subject(params),
        status=_PLAN_STATUS[status] if status else None,
    )
    items = [p for p in page.items if category is None or p.category == category]
    return [careplan.to_fhir(p) for p in items], page.next_cursor


# --- Goal, CareTeam (parts of a plan) ---------------------------------------------------------


async def _plans(
    uow: UnitOfWork, actor: Actor, params: dict[str, str], count: int, cursor: str | None
) -> tuple[list[Plan], str | None]:
    page = await plan_service.list_plans(
        uow, actor, limit=count, after=cursor, person_id=_subject(params), status=None
    )
    return page.items, page.next_cursor


async def read_goal(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    plan = await plan_service.get_plan(uow, actor, parent_of(ident))
    for found in plan.content.goals:
        if goal.resource_id(plan, found) == ident:
            return goal.to_fhir(plan, found)
    raise NotFound(f"no Goal with id {ident}")


async def search_goal(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await _by_id(read_goal, uow, actor, params["_id"])
    status = _choice(params, "lifecycle-status", ("proposed", "active", "completed", "cancelled"))
    plans, next_cursor = await _plans(uow, actor, params, count, cursor)
    found = [goal.to_fhir(p, g) for p in plans for g in p.content.goals]
    return [r for r in found if status in (None, r["lifecycleStatus"])], next_cursor


async def read_careteam(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    return careteam.to_fhir(await plan_service.get_plan(uow, actor, ident))


async def search_careteam(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await _by_id(read_careteam, uow, actor, params["_id"])
    # participant is matched on the teams found (app.fhir.search_params.FILTERED).
    status = _choice(params, "status", ("proposed", "active", "inactive"))
    plans, next_cursor = await _plans(uow, actor, params, count, cursor)
    found = [careteam.to_fhir(p) for p in plans]
    return [r for r in found if status in (None, r["status"])], next_cursor


# --- Practitioner, PractitionerRole (the staff register) ---------------------------------------


async def read_practitioner(uow: UnitOfWork, _actor: Actor, ident: str) -> Resource:
    return practitioner.practitioner(await staff_service.get_practitioner(uow, ident))


async def read_practitioner_role(uow: UnitOfWork, _actor: Actor, ident: str) -> Resource:
    return practitioner.practitioner_role(await staff_service.get_role(uow, ident))


async def search_practitioner(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await _by_id(read_practitioner, uow, actor, params["_id"])
    page = await staff_service.list_practitioners(
        uow,
        limit=count,
        after=cursor,
        name=params.get("name"),
        identifier=_token(params["identifier"], "identifier") if "identifier" in params else None,
    )
    return [practitioner.practitioner(p) for p in page.items], page.next_cursor


async def search_practitioner_role(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await _by_id(read_practitioner_role, uow, actor, params["_id"])
    code = _code(params, "role", practitioner.ROLE_SYSTEM)
    if code is not None and code not in {r.value for r in StaffRole}:
        raise InvalidInput(f"role is one of {', '.join(r.value for r in StaffRole)}", field="role")
    page = await staff_service.list_roles(
        uow,
        limit=count,
        after=cursor,
        organization_id=_reference_id(params["organization"], "Organization", "organization")
        if "organization" in params
        else None,
        principal_id=None,
        practitioner_id=_reference_id(params["practitioner"], "Practitioner", "practitioner")
        if "practitioner" in params
        else None,
        role=StaffRole(code) if code else None,
    )
    return [practitioner.practitioner_role(r) for r in page.items], page.next_cursor


# --- Consent ----------------------------------------------------------------------------------


async def read_consent(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    plan_id, _sep, index = ident.rpartition(".")
    plan = await plan_service.get_plan(uow, actor, plan_id or ident)
    if not (index.isascii() and index.isdigit()) or int(index) >= len(plan.consents):
        raise NotFound(f"no consent with id {ident}")
    return consent.to_fhir(plan, int(index))


async def search_consent(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await _by_id(read_consent, uow, actor, params["_id"])
    page = await plan_service.list_plans(
        uow, actor, limit=count, after=cursor, person_id=_subject(params), status=None
    )
    found = [consent.to_fhir(p, i) for p in page.items for i in range(len(p.consents))]
    return found, page.next_cursor


# --- Appointment ------------------------------------------------------------------------------


async def read_appointment(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    return appointment.to_fhir(await meeting_service.get_meeting(uow, actor, ident))


async def search_appointment(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await _by_id(read_appointment, uow, actor, params["_id"])
    status = _choice(params, "status", ("booked", "fulfilled", "cancelled"))
    plan_id = None
    if "supporting-info" in params:
        plan_id = _reference_id(params["supporting-info"], "CarePlan", "supporting-info")
    page = await meeting_service.list_meetings(
        uow,
        actor,
        limit=count,
        after=cursor,
        plan_id=plan_id,
        episode_id=None,
        person_id=_subject(params),
    )
    # actor is matched on the meetings found (app.fhir.search_params.FILTERED).
    found = [appointment.to_fhir(m) for m in page.items]
    return [r for r in found if status in (None, r["status"])], page.next_cursor


async def read_appointment_response(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    meeting = await meeting_service.get_meeting(uow, actor, parent_of(ident))
    for participant in appointmentresponse.replies(meeting):
        if appointmentresponse.resource_id(meeting, participant) == ident:
            return appointmentresponse.to_fhir(meeting, participant)
    raise NotFound(f"no AppointmentResponse with id {ident}")


async def search_appointment_response(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await _by_id(read_appointment_response, uow, actor, params["_id"])
    meeting_id = (
        _reference_id(params["appointment"], "Appointment", "appointment")
        if "appointment" in params
        else None
    )
    status = _choice(params, "part-status", ("accepted", "declined", "tentative"))
    if meeting_id is not None:
        try:
            meeting = await meeting_service.get_meeting(uow, actor, meeting_id)
        except NotFound:
            return [], None
        found = [
            appointmentresponse.to_fhir(meeting, p) for p in appointmentresponse.replies(meeting)
        ]
        return [r for r in found if status in (None, r["participantStatus"])], None
    page = await meeting_service.list_meetings(
        uow,
        actor,
        limit=count,
        after=cursor,
        plan_id=None,
        episode_id=None,
        person_id=_subject(params),
    )
    found = [
        appointmentresponse.to_fhir(m, p)
        for m in page.items
        for p in appointmentresponse.replies(m)
    ]
    return [r for r in found if status in (None, r["participantStatus"])], page.next_cursor


# --- Communication (care messages) and Task (deviation reports) --------------------------------


async def read_communication(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    return communication.to_fhir(await message_service.get_message(uow, actor, ident))


def _code(params: dict[str, str], name: str, system: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    given_system, sep, code = value.rpartition("|")
    if sep and given_system and given_system != system:
        raise InvalidInput(f"{name} codes are of {system}", field=name)
    return code


def _own_organization(params: dict[str, str], name: str, actor: Actor) -> None:
    """A reference parameter that may only name the caller's organization or its principal."""
    if _reference_id(params[name], "Organization", name) not in actor.organizations:
        raise InvalidInput(
            f"{name} is the caller's own organization ({', '.join(actor.organizations)})",
            field=name,
        )


async def search_communication(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await _by_id(read_communication, uow, actor, params["_id"])
    category = _code(params, "category", communication.CATEGORY)
    if category is not None and category not in {c.value for c in MessageCategory}:
        raise InvalidInput(
            f"category is one of {', '.join(c.value for c in MessageCategory)}", field="category"
        )
    box = None
    for name in ("recipient", "sender"):
        if name in params:
            _own_organization(params, name, actor)
            box = "received" if name == "recipient" else "sent"
    thread = (
        _reference_id(params["part-of"], "Communication", "part-of")
        if "part-of" in params
        else None
    )
    page = await message_service.list_messages(
        uow,
        actor,
        limit=count,
        after=cursor,
        box=box,
        person_id=_subject(params),
        thread_id=thread,
        category=MessageCategory(category) if category else None,
    )
    # part-of finds the replies in a thread: what is partOf its first message, not that message.
    return [
        communication.to_fhir(m) for m in page.items if thread is None or m.id != thread
    ], page.next_cursor


async def read_task(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    return task.to_fhir(await deviation_service.get_deviation(uow, actor, ident))


_TASK_STATES = {
    "requested": (DeviationState.REPORTED,),
    "in-progress": (DeviationState.INVESTIGATING,),
    "completed": (DeviationState.ANSWERED, DeviationState.CLOSED),
}


async def search_task(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await _by_id(read_task, uow, actor, params["_id"])
    status = _choice(params, "status", tuple(_TASK_STATES))
    business = _code(params, "business-status", task.STATE)
    code = _code(params, "code", task.CATEGORY)
    try:
        state = DeviationState(business) if business else None
        category = DeviationCategory(code) if code else None
    except ValueError as exc:
        field = "business-status" if business and business not in set(DeviationState) else "code"
        raise InvalidInput(f"{field}: unknown code", field=field) from exc
    role = None
    for name, kind in (("owner", "handler"), ("requester", "reporter")):
        if name in params:
            _own_organization(params, name, actor)
            role = kind
    page = await deviation_service.list_deviations(
        uow,
        actor,
        limit=count,
        after=cursor,
        role=role,
        person_id=_subject(params),
        state=state,
        category=category,
    )
    allowed = _TASK_STATES[status] if status else None
    return [
        task.to_fhir(d) for d in page.items if allowed is None or d.state in allowed
    ], page.next_cursor


# --- AuditEvent -------------------------------------------------------------------------------


async def read_auditevent(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    if not ident.isdigit() or not ident.isascii() or int(ident) > INT4_MAX:
        raise NotFound(f"no AuditEvent with id {ident}")
    return auditevent.to_fhir(await audit_service.get_entry(uow, actor, int(ident)))


# How long after an access its entry may still be written (the request's duration, at most).
_LOG_SETTLED = timedelta(minutes=5)


async def search_auditevent(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await _by_id(read_auditevent, uow, actor, params["_id"])
    # date, with any prefix: the log is read from the earliest moment the test allows (it is
    # kept oldest first), and each entry's time is compared with it.
    when = _date_test("date", params["date"]) if "date" in params else None
    since = None
    if when is not None and when.prefix in ("eq", "ge", "gt"):
        since = when.high if when.prefix == "gt" else when.low
    agent = _reference_id(params["agent"], "Organization", "agent") if "agent" in params else None
    page = await audit_service.search_access_log(
        uow,
        actor,
        limit=count,
        cursor=cursor,
        person_id=_subject(params),
        organization_id=agent,
        since=since,
    )
    found = [auditevent.to_fhir(e) for e in page.items]
    next_cursor = page.next_cursor
    if when is not None:
        moments = [_moment(r["recorded"], _NEVER) for r in found]
        found = [r for r, at in zip(found, moments, strict=True) if when.matches(at, at)]
        # Entries are numbered about in the order they are made: well past the latest moment
        # the test allows (more than any request lasts), no later page can match.
        if when.prefix != "gt" and when.prefix != "ge" and moments:
            if max(moments) > when.high + _LOG_SETTLED:
                next_cursor = None
    return found, next_cursor


# --- CodeSystem, StructureDefinition (the service's own conformance resources) ----------------


def _conformance(
    names: list[str], build: Callable[[str], Resource], kind: str
) -> tuple[Reader, Searcher]:
    async def read_one(_uow: UnitOfWork, _actor: Actor, ident: str) -> Resource:
        if ident not in names:
            raise NotFound(f"no {kind} with id {ident}")
        return build(ident)

    async def search_all(
        _uow: UnitOfWork,
        _actor: Actor,
        params: dict[str, str],
        count: int,
        cursor: str | None,
        _settings: Settings,
    ) -> Found:
        found = [build(n) for n in names if n > (cursor or "")]
        if "_id" in params:
            found = [r for r in found if r["id"] == params["_id"]]
        if "url" in params:
            found = [r for r in found if r["url"] == params["url"]]
        page = found[:count]
        return page, page[-1]["id"] if len(found) > count else None

    return read_one, search_all


_CODE_SYSTEM = _conformance(sorted(conformance.CODE_SYSTEMS), conformance.code_system, "CodeSystem")
_EXTENSIONS = _conformance(
    sorted(conformance.EXTENSIONS), conformance.structure_definition, "StructureDefinition"
)
_MEASURES = _conformance(measure.MEASURE_IDS, measure.by_id, "Measure")
_ID = SearchParam("_id", "token", "the logical id")
_PATIENT = SearchParam("patient", "reference", "the person (Patient/id or id)")
_SUBJECT = SearchParam("subject", "reference", "the same as patient")


def _date(documentation: str) -> SearchParam:
    return SearchParam(
        "date", "date", f"{documentation}; eq, gt, ge, lt, le prefixes; may be repeated"
    )


def _period(resource: Resource) -> tuple[str | None, str | None]:
    period = resource.get("period") or {}
    return period.get("start"), period.get("end")


def _start_end(resource: Resource) -> tuple[str | None, str | None]:
    return resource.get("start"), resource.get("end")


_PATIENT_INCLUDE = ("patient", "subject")

RESOURCES: dict[str, ResourceSpec] = {
    "Patient": ResourceSpec(
        read_patient,
        search_patient,
        (
            _ID,
            SearchParam("identifier", "token", "personnummer, fødselsnummer, … as system|value"),
            SearchParam("organization", "reference", "the residence or stay municipality"),
        ),
        documentation="Persons the caller is a party to a record of; a search by identifier "
        "finds any registered person, but tells a non-party only the id (meta.security "
        "REDACTED). Name, address and phone reach only parties to a record that shared them; "
        "protected identities are labelled R and masked for organizations that need not act.",
        includes=(Include("Patient:organization", "managingOrganization", "Organization"),),
    ),
    "Organization": ResourceSpec(
        read_organization,
        search_organization,
        (
            _ID,
            SearchParam(
                "identifier",
                "token",
                "HSA-id, HER-id, organisation or municipality number as system|value",
            ),
            SearchParam("partof", "reference", "the principal a unit belongs to"),
        ),
        documentation="Regions, municipalities, providers and their units.",
        includes=(Include("Organization:partof", "partOf", "Organization"),),
    ),
    "Encounter": ResourceSpec(
        read_encounter,
        search_encounter,
        (
            _ID,
            _PATIENT,
            _SUBJECT,
            SearchParam("status", "token", "in-progress or finished"),
            _date("the stay, admission to discharge"),
        ),
        documentation="Inpatient episodes; discharge-ready time and expected discharge date are "
        "extensions.",
        includes=(Include("Encounter:patient", "subject", "Patient"),),
        period=_period,
    ),
    "CarePlan": ResourceSpec(
        read_careplan,
        search_careplan,
        (
            _ID,
            _PATIENT,
            _SUBJECT,
            SearchParam("status", "token", "draft, active, completed or revoked"),
            SearchParam("category", "token", "SIP or IP"),
            _date("the plan's period, start to planned end"),
        ),
        vread=vread_careplan,
        documentation="Coordinated individual plans (SIP / IP); every version is readable. "
        "Goals and the care team are resources of their own (_include).",
        includes=(
            Include("CarePlan:goal", "goal", "Goal"),
            Include("CarePlan:care-team", "careTeam", "CareTeam"),
            Include("CarePlan:patient", "subject", "Patient"),
        ),
        period=_period,
    ),
    "Goal": ResourceSpec(
        read_goal,
        search_goal,
        (
            _ID,
            _PATIENT,
            _SUBJECT,
            SearchParam("lifecycle-status", "token", "proposed, active, completed or cancelled"),
        ),
        documentation="The person's own goals in the current version of each plan.",
        includes=(Include("Goal:patient", "subject", "Patient"),),
    ),
    "CareTeam": ResourceSpec(
        read_careteam,
        search_careteam,
        (
            _ID,
            _PATIENT,
            _SUBJECT,
            SearchParam("status", "token", "proposed, active or inactive"),
            SearchParam(
                "participant",
                "reference",
                "a member: Organization (also one a member acts for), PractitionerRole, or "
                "Practitioner (through their roles)",
            ),
        ),
        documentation="Each plan's coordinator, principal with overall responsibility, "
        "participating principals, relatives and others; the id is the plan's.",
        includes=(
            Include("CareTeam:participant", "participant.member", "PractitionerRole|Organization"),
            Include("CareTeam:patient", "subject", "Patient"),
        ),
    ),
    "Practitioner": ResourceSpec(
        read_practitioner,
        search_practitioner,
        (
            _ID,
            SearchParam("name", "string", "part of the name"),
            SearchParam("identifier", "token", "HSA-id or HPR-nummer as system|value"),
        ),
        documentation="The staff register: practitioners by HSA-id (Sweden) or HPR-nummer "
        "(Norway).",
    ),
    "PractitionerRole": ResourceSpec(
        read_practitioner_role,
        search_practitioner_role,
        (
            _ID,
            SearchParam("organization", "reference", "where the role is held"),
            SearchParam("practitioner", "reference", "the practitioner"),
            SearchParam(
                "role",
                "token",
                "coordinator, fixed-care-contact, mas, planner or deviation-handler",
            ),
        ),
        documentation="Practitioners' roles: coordinator, fixed care contact, MAS, planner, "
        "deviation handler; a plan's coordinator and a deviation's handler refer to one.",
        includes=(
            Include("PractitionerRole:practitioner", "practitioner", "Practitioner"),
            Include("PractitionerRole:organization", "organization", "Organization"),
        ),
    ),
    "Consent": ResourceSpec(
        read_consent,
        search_consent,
        (_ID, _PATIENT),
        documentation="Consents to plans, with withdrawals as deny provisions.",
    ),
    "Appointment": ResourceSpec(
        read_appointment,
        search_appointment,
        (
            _ID,
            _PATIENT,
            SearchParam("status", "token", "booked, fulfilled or cancelled"),
            SearchParam("supporting-info", "reference", "the plan (CarePlan/id)"),
            SearchParam(
                "actor", "reference", "a participant: the person (Patient) or a unit (Organization)"
            ),
            _date("the meeting's time"),
        ),
        documentation="Planning meetings; participants' replies are their status.",
        includes=(Include("Appointment:supporting-info", "supportingInformation", "CarePlan"),),
        period=_start_end,
    ),
    "AppointmentResponse": ResourceSpec(
        read_appointment_response,
        search_appointment_response,
        (
            _ID,
            _PATIENT,
            SearchParam("appointment", "reference", "the meeting"),
            SearchParam("part-status", "token", "accepted, declined or tentative"),
        ),
        documentation="Participants' replies to meetings (a proposed time is the start).",
        includes=(Include("AppointmentResponse:appointment", "appointment", "Appointment"),),
    ),
    "Communication": ResourceSpec(
        read_communication,
        search_communication,
        (
            _ID,
            _PATIENT,
            _SUBJECT,
            SearchParam("category", "token", "care-coordination, discharge, medication or other"),
            SearchParam("recipient", "reference", "received by the caller's organization"),
            SearchParam("sender", "reference", "sent by the caller's organization"),
            SearchParam("part-of", "reference", "the thread (its first message)"),
        ),
        documentation="Care messages between units; each recipient's state (delivered, read, "
        "acknowledged) is a recipient-state extension.",
        includes=(
            Include("Communication:patient", "subject", "Patient"),
            Include("Communication:part-of", "partOf", "Communication"),
        ),
    ),
    "Task": ResourceSpec(
        read_task,
        search_task,
        (
            _ID,
            _PATIENT,
            SearchParam("status", "token", "requested, in-progress or completed"),
            SearchParam("business-status", "token", "reported, investigating, answered, closed"),
            SearchParam("code", "token", "the deviation category"),
            SearchParam("owner", "reference", "handled by the caller's principal"),
            SearchParam("requester", "reference", "reported by the caller's principal"),
        ),
        documentation="Deviation reports: code is the category, focus the episode or plan, "
        "owner the handling principal, businessStatus the step of the handling.",
        includes=(
            Include("Task:patient", "for", "Patient"),
            Include("Task:focus", "focus", "Encounter|CarePlan"),
        ),
    ),
    "CodeSystem": ResourceSpec(
        _CODE_SYSTEM[0],
        _CODE_SYSTEM[1],
        (_ID, SearchParam("url", "uri", "the canonical URL")),
        documentation="The service's own code systems (message events, plan categories, …).",
    ),
    "StructureDefinition": ResourceSpec(
        _EXTENSIONS[0],
        _EXTENSIONS[1],
        (_ID, SearchParam("url", "uri", "the canonical URL")),
        documentation="The service's extensions.",
    ),
    "Measure": ResourceSpec(
        _MEASURES[0],
        _MEASURES[1],
        (_ID, SearchParam("url", "uri", "the canonical URL")),
        documentation="The follow-up indicators (GET /api/v1/statistics), one Measure each; "
        "$evaluate-measure gives a summary MeasureReport.",
        operations=(("evaluate-measure", evaluate_measure.DEFINITION),),
    ),
    "AuditEvent": ResourceSpec(
        read_auditevent,
        search_auditevent,
        (
            _ID,
            _PATIENT,
            SearchParam("agent", "reference", "the organization that accessed (own only)"),
            SearchParam(
                "date", "date", "when the access was recorded; eq, gt, ge, lt, le prefixes"
            ),
        ),
        documentation="The access log, read-only: the caller's own organization's entries; "
        "by patient, with the scope samverkan/log-extract, the person's complete extract (the "
        "caller must be a party to a record about the person).",
    ),
    "DocumentReference": ResourceSpec(
        documents.read,
        documents.search,
        (
            _ID,
            _PATIENT,
            _SUBJECT,
            SearchParam("encounter", "reference", "the episode it is attached to"),
            SearchParam("type", "token", "a code of the CodeSystem document-type"),
            SearchParam("author", "reference", "the unit that wrote it"),
            _date("when the service received it"),
        ),
        documentation="Documents attached to episodes, plans, meetings and care messages, "
        "visible to the parties of what they are attached to; the content is the Binary of "
        "content.attachment.url (raw, with its own Content-Type, at "
        "/api/v1/documents/{id}/content).",
        includes=(Include("DocumentReference:patient", "subject", "Patient"),),
        period=documents.period,
    ),
    "Binary": ResourceSpec(
        documents.read_binary,
        documents.search_binary,
        (_ID,),
        documentation="The content of a document (base64 data); read it through its "
        "DocumentReference, whose parties may.",
    ),
    "Questionnaire": ResourceSpec(
        planning_basis.read_questionnaire,
        planning_basis.search_questionnaire,
        (
            _ID,
            SearchParam("url", "uri", "the canonical URL (url|version too)"),
            SearchParam("version", "token", "the questionnaire's version"),
        ),
        documentation="The service's planning-basis questionnaire, versioned.",
    ),
    "QuestionnaireResponse": ResourceSpec(
        planning_basis.read_response,
        planning_basis.search_responses,
        (
            _ID,
            _PATIENT,
            _SUBJECT,
            SearchParam("encounter", "reference", "the episode whose notice carried it"),
        ),
        documentation="Planning bases that admission and discharge-ready notices carried, "
        "visible to the parties of the episode.",
        includes=(Include("QuestionnaireResponse:subject", "subject", "Patient"),),
    ),
}
COMMON_PARAMS = (
    "_count",
    "_cursor",
    "_format",
    "_sort",
    "_summary",
    "_revinclude",
    "_include",
    "_lastUpdated",
)
# Patient searches may bring along what refers to the patients found.
REVINCLUDES = ("Encounter:patient", "CarePlan:patient", "Appointment:patient", "Consent:patient")
MAX_COUNTED = 10_000


def _spec(resource_type: str) -> ResourceSpec:
    spec = RESOURCES.get(resource_type)
    if spec is None:
        raise HTTPException(
            404,
            f"resource type {resource_type} is not served here; supported: {', '.join(RESOURCES)}",
        )
    return spec


def _allowed(actor: Actor, resource_type: str, permission: str) -> None:
    if not scope_allows(actor.scopes, resource_type, permission):
        needed = f"system/{resource_type}.{permission}"
        raise HTTPException(
            403,
            f"the access token lacks the scope {needed}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'},
        )


def _resource_headers(resource: Resource) -> dict[str, str]:
    headers = {"ETag": f'W/"{resource["meta"]["versionId"]}"'}
    updated = resource["meta"].get("lastUpdated")
    if updated:
        stamp = datetime.fromisoformat(updated.replace("Z", "+00:00"))
        headers["Last-Modified"] = stamp.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return headers


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def _declared_method(request: Request) -> None:
    """405 for a method the document does not declare on a path it does (``POST
    /fhir/metadata``, ``PUT /fhir/Patient/<id>``), before the generic route takes the path's
    segments for a type and an id."""
    methods = allowed_methods(request.app, request.url.path)
    if methods is not None and request.method not in methods:
        raise HTTPException(405, f"{request.method} is not supported on {request.url.path}")


_DECLARED = [Depends(_declared_method)]


@api.get("/metadata", summary="The CapabilityStatement: what this server serves")
async def capability_statement(settings: SettingsDep) -> Response:
    """The CapabilityStatement, generated from the table that routes the requests."""
    base = f"{settings.issuer}/fhir"
    resources = []
    for name, spec in RESOURCES.items():
        interactions = [
            {"code": interaction.code}
            for interaction in served(
                versioned=spec.vread is not None,
                creatable=name in writes.CREATORS,
                updatable=name in writes.UPDATERS,
            )
        ]
        resources.append(
            {
                "type": name,
                "documentation": spec.documentation,
                "interaction": interactions,
                "versioning": "versioned" if spec.vread else "versioned-update",
                "readHistory": spec.vread is not None,
                "searchParam": [
                    {"name": p.name, "type": p.type, "documentation": p.documentation}
                    for p in spec.params
                ],
                **({"searchInclude": [i.name for i in spec.includes]} if spec.includes else {}),
                **({"searchRevInclude": list(REVINCLUDES)} if name == "Patient" else {}),
                **(
                    {"operation": [{"name": n, "definition": d} for n, d in spec.operations]}
                    if spec.operations
                    else {}
                ),
            }
        )
    # Delivery (issue 6): Subscription is served by app.fhir.subscriptions, not by RESOURCES.
    resources.append(subscriptions.capability())
    statement = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(datetime.now(UTC)),
        "publisher": "Samverkan",
        "kind": "instance",
        "software": {"name": "Samverkan", "version": "0.1.0"},
        "implementation": {"description": "Samverkan FHIR R4 interface", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "extension": [
                        {
                            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/"
                            "oauth-uris",
                            "extension": [{"url": "token", "valueUri": settings.token_endpoint}],
                        }
                    ],
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/"
                                    "restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "description": "OAuth 2.0 client credentials (SMART Backend Services); see "
                    f"{settings.issuer}/.well-known/smart-configuration",
                },
                "resource": resources,
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
                "searchParam": [
                    {
                        "name": "_lastUpdated",
                        "type": "date",
                        "documentation": "when the resource last changed (where it says)",
                    }
                ],
                "operation": [
                    {
                        "name": "process-message",
                        "definition": "http://hl7.org/fhir/OperationDefinition/"
                        "MessageHeader-process-message",
                    }
                ],
            }
        ],
        "messaging": [
            {
                "documentation": "Reliable messaging: a Bundle.id is remembered for "
                "reliableCache minutes; event codes of " + messaging.EVENT_SYSTEM,
                "reliableCache": settings.message_dedupe_minutes,
                "supportedMessage": [
                    {"mode": "receiver", "definition": canonical("MessageDefinition", event)}
                    for event in messaging.HANDLERS
                ],
            }
        ],
    }
    return fhir_response(statement)


_MESSAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            FHIR_JSON: {
                "schema": {"type": "object", "description": "a Bundle of type message"},
                "example": {
                    "resourceType": "Bundle",
                    "id": "7b1f4c2e-0d7a-4f57-9c41-0e6f4b5a1c11",
                    "type": "message",
                    "timestamp": "2026-03-05T11:40:00+01:00",
                    "entry": [
                        {
                            "fullUrl": "urn:uuid:3f0c2b1a-7a51-4a8e-9f0e-8d6b2f1c5a22",
                            "resource": {
                                "resourceType": "MessageHeader",
                                "id": "3f0c2b1a-7a51-4a8e-9f0e-8d6b2f1c5a22",
                                "eventCoding": {
                                    "system": messaging.EVENT_SYSTEM,
                                    "code": "discharge-ready",
                                },
                                "source": {"endpoint": "urn:oid:1.2.752.29.4.19"},
                                "focus": [{"reference": "Encounter/<episode id>"}],
                            },
                        },
                        {
                            "fullUrl": "Encounter/<episode id>",
                            "resource": {
                                "resourceType": "Encounter",
                                "id": "<episode id>",
                                "status": "in-progress",
                                "class": {
                                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                    "code": "IMP",
                                },
                            },
                        },
                    ],
                },
            }
        },
    }
}
_MESSAGE_SCOPES = {
    "admission-notice": ("Encounter", "c"),
    "sip-summons": ("Appointment", "c"),
    "sip-summons-reply": ("Appointment", "u"),
    "careplan-revised": ("CarePlan", "u"),
    "care-communication": ("Communication", "c"),
    "deviation-report": ("Task", "c"),
    "document-shared": ("DocumentReference", "c"),
    "acknowledgement": None,
}


@api.post(
    "/$process-message",
    summary="Process a message Bundle (reliable messaging)",
    openapi_extra=_MESSAGE_BODY,
)
async def process_message(
    request: Request, actor: Caller, uow: UowDep, settings: SettingsDep
) -> Response:
    """Apply a message to the domain and answer with a response message (ok / fatal-error).

    A Bundle.id already processed with the same MessageHeader.id gets the first response again;
    a Bundle.id reused with another MessageHeader.id is refused.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type not in (FHIR_JSON, "application/json"):
        return outcome(415, f"a message is sent as {FHIR_JSON}")
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        return outcome(400, f"the body is not JSON: {exc}")
    try:
        message = messaging.parse(body)
    except messaging.MessageRefused as exc:
        return outcome(400, exc.message, expressions=[(exc.field, exc.message)])
    needed = _MESSAGE_SCOPES.get(message.event, ("Encounter", "u"))
    if needed is not None:
        _allowed(actor, *needed)
    now = datetime.now(UTC)
    not_before = now - timedelta(minutes=settings.message_dedupe_minutes)
    seen = await dedupe.claim(
        uow,
        actor.organization_id,
        ProcessedMessage(message.bundle_id, message.header_id, message.event, {}),
        now=now,
        not_before=not_before,
    )
    if seen is not None:
        if seen.header_id != message.header_id:
            return outcome(
                400,
                f"Bundle.id {message.bundle_id} was already processed with MessageHeader.id "
                f"{seen.header_id}; a new message needs a new Bundle.id",
                expressions=[("Bundle.id", "reused with another MessageHeader.id")],
            )
        return fhir_response(seen.response, headers={"X-Samverkan-Replayed": "true"})
    try:
        focus = await messaging.process(
            uow, actor, message, settings, now, request.app.state.liability.config
        )
    except StaleVersion as exc:
        conflict = {"severity": "error", "code": "conflict", "diagnostics": exc.message}
        return fhir_response(
            messaging.response(message, "transient-error", [], now, conflict), status=409
        )
    except DomainError as exc:
        issue: dict[str, Any] = {
            "severity": "error",
            "code": "processing",
            "diagnostics": exc.message,
        }
        if exc.field:
            issue["expression"] = [exc.field]
        status = 403 if isinstance(exc, Forbidden) else 404 if isinstance(exc, NotFound) else 422
        if isinstance(exc, TooLarge | UnsupportedContent):
            status = 413 if isinstance(exc, TooLarge) else 415
        return fhir_response(
            messaging.response(message, "fatal-error", [], now, issue), status=status
        )
    answer = messaging.response(message, "ok", focus, now, None)
    await dedupe.answered(uow, actor.organization_id, message.bundle_id, answer)
    return fhir_response(answer)


def _prefer(request: Request) -> str:
    for part in request.headers.get("prefer", "").split(";"):
        name, _sep, value = part.strip().partition("=")
        if name == "return" and value in ("minimal", "representation", "OperationOutcome"):
            return value
    return "representation"


def _written(
    request: Request, written: writes.Written, settings: Settings, *, status: int
) -> Response:
    resource = written.resource
    headers = _resource_headers(resource)
    location = (
        f"{settings.issuer}/fhir/{resource['resourceType']}/{resource['id']}"
        f"/_history/{resource['meta']['versionId']}"
    )
    headers["Location"] = location
    prefer = _prefer(request)
    if prefer == "minimal":
        return Response(status_code=status, headers=headers)
    if prefer == "OperationOutcome":
        body = {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "information",
                    "code": "informational",
                    "diagnostics": f"{'created' if written.created else 'kept'} {location}",
                }
            ],
        }
        return fhir_response(body, status=status, headers=headers)
    return fhir_response(resource, status=status, headers=headers)


@api.post(
    "/{resource_type}",
    summary="Create a resource (or find it: If-None-Exist)",
    include_in_schema=False,
    dependencies=_DECLARED,
)
async def create(
    resource_type: str, actor: Caller, uow: UowDep, request: Request, settings: SettingsDep
) -> Response:
    """Create; for Patient an `If-None-Exist: identifier=system|value` returns the match (200)."""
    _spec(resource_type)
    creator = writes.CREATORS.get(resource_type)
    if creator is None:
        raise HTTPException(405, f"{resource_type} is not created through FHIR here")
    _allowed(actor, resource_type, "c")
    resource = writes.validate(await read_body(request), resource_type)
    condition = request.headers.get("if-none-exist")
    if condition is not None:
        name, _sep, value = condition.partition("=")
        identifiers = resource.get("identifier") or [{}]
        wanted = f"{identifiers[0].get('system')}|{identifiers[0].get('value')}"
        if resource_type != "Patient" or name != "identifier" or value != wanted:
            raise InvalidInput(
                "If-None-Exist is supported as identifier=system|value of the Patient sent",
                field="If-None-Exist",
            )
    written = await creator(uow, actor, resource, settings, datetime.now(UTC))
    return _written(request, written, settings, status=201 if written.created else 200)


@api.put(
    "/{resource_type}/{resource_id}",
    summary="Update a resource (If-Match)",
    include_in_schema=False,
    dependencies=_DECLARED,
)
async def update(
    resource_type: str,
    resource_id: Annotated[str, Path(max_length=64)],
    actor: Caller,
    uow: UowDep,
    request: Request,
    settings: SettingsDep,
) -> Response:
    """Update against a version: `If-Match`, or the body's meta.versionId (412 when stale)."""
    _spec(resource_type)
    updater = writes.UPDATERS.get(resource_type)
    if updater is None:
        raise HTTPException(405, f"{resource_type} is not updated through FHIR here")
    _allowed(actor, resource_type, "u")
    resource = writes.validate(await read_body(request), resource_type)
    # The version the change was made against: If-Match, else the meta.versionId of the body
    # (the version the client read); without either the update is refused (428).
    tag = request.headers.get("if-match")
    version = tag.strip().removeprefix("W/").strip('"') if tag else None
    if version is None and (resource.get("meta") or {}).get("versionId") is not None:
        version = str(resource["meta"]["versionId"])
    expected = (
        parse_int(version, "If-Match", what='If-Match names a version, e.g. W/"3"')
        if version is not None
        else None
    )
    written = await updater(uow, actor, resource_id, resource, expected, datetime.now(UTC))
    return _written(request, written, settings, status=200)


@api.post("", summary="Process a transaction or batch Bundle")
async def transaction(
    actor: Caller, uow: UowDep, request: Request, settings: SettingsDep
) -> Response:
    """A transaction (all or nothing, any entry order, urn:uuid references) or a batch."""
    body = writes.validate(await read_body(request), "Bundle")
    kind = body.get("type")
    if kind not in ("transaction", "batch"):
        raise Malformed("Bundle.type must be transaction or batch", field="Bundle.type")
    entries = writes.entries_of(body, settings.max_bundle_entries)
    for entry in entries:
        resource_type = entry.url.split("/", 1)[0]
        _allowed(actor, resource_type, "c" if entry.method == "POST" else "u")
    now = datetime.now(UTC)
    created: dict[str, str] = {}
    answers: dict[int, dict[str, Any]] = {}
    if kind == "transaction":
        # New Patients go in together; the rest one by one, after them (they may refer to them).
        patients = [e for e in entries if e.method == "POST" and e.url == "Patient"]
        failed: tuple[int, DomainError] | None = None
        try:
            for entry, written in zip(
                patients,
                await writes.create_patients(uow, actor, patients, created, settings, now),
                strict=True,
            ):
                answers[entry.index] = _entry_response(written, settings)
        except writes.EntryFailed as exc:
            failed = (exc.index, exc.error)
        for entry in entries:
            if failed is not None:
                break
            if entry.index in answers:
                continue
            try:
                written = await writes.apply(uow, actor, entry, created, settings, now)
            except DomainError as exc:
                failed = (entry.index, exc)
            else:
                answers[entry.index] = _entry_response(written, settings)
        if failed is not None:
            # Nothing of the transaction is kept: the request's unit of work is not committed.
            index, error = failed
            where = f"Bundle.entry[{index}]"
            problems = error.problems if isinstance(error, Incomplete) else [(error.field, "")]
            return outcome(
                domain_error_response(error).status_code,
                f"{where}: {error.message}",
                expressions=[
                    (f"{where}.{field}" if field else where, message or error.message)
                    for field, message in problems
                ],
            )
    else:
        for entry in entries:
            try:
                async with uow.savepoint():
                    written = await writes.apply(uow, actor, entry, created, settings, now)
                answers[entry.index] = _entry_response(written, settings)
            except DomainError as exc:
                answers[entry.index] = {
                    "response": {
                        "status": str(_status_of(exc)),
                        "outcome": {
                            "resourceType": "OperationOutcome",
                            "issue": [
                                {
                                    "severity": "error",
                                    "code": "processing",
                                    "diagnostics": exc.message,
                                    **({"expression": [exc.field]} if exc.field else {}),
                                }
                            ],
                        },
                    }
                }
    response: dict[str, Any] = {"resourceType": "Bundle", "type": f"{kind}-response"}
    if answers:
        response["entry"] = [answers[i] for i in sorted(answers)]
    return fhir_response(response)


def _status_of(exc: DomainError) -> int:
    return domain_error_response(exc).status_code


def _entry_response(written: writes.Written, settings: Settings) -> dict[str, Any]:
    resource = written.resource
    return {
        "fullUrl": f"{settings.issuer}/fhir/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "response": {
            "status": "201 Created" if written.created else "200 OK",
            "location": f"{resource['resourceType']}/{resource['id']}/_history/"
            f"{resource['meta']['versionId']}",
            "etag": f'W/"{resource["meta"]["versionId"]}"',
        },
    }


# --- dates: `date` and `_lastUpdated` (https://hl7.org/fhir/R4/search.html#date) -----------------

_PREFIXES = ("eq", "gt", "ge", "lt", "le")
_NEVER = datetime.min.replace(tzinfo=UTC)
_ALWAYS = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DateTest:
    """One date parameter: a prefix and the range its value stands for, [low, high)."""

    name: str
    prefix: str
    low: datetime
    high: datetime

    def matches(self, start: datetime, end: datetime) -> bool:
        """Whether a target range [start, end] satisfies the test (R4 search, date prefixes)."""
        if self.prefix == "eq":
            return self.low <= start and end < self.high
        if self.prefix == "gt":
            return end >= self.high
        if self.prefix == "ge":
            return end >= self.low
        if self.prefix == "lt":
            return start < self.low
        return start < self.high  # le


def _date_test(name: str, value: str) -> DateTest:
    prefix = value[:2] if value[:2] in _PREFIXES else "eq"
    text = value[2:] if value[:2] in _PREFIXES else value
    problem = f"{name}: {value} is not [prefix]YYYY[-MM[-DD[Thh:mm:ss[+zz:zz]]]]"
    # Searched dates lie within the years instants are kept in (app.domain.values), so the
    # range a value stands for can always be computed.
    try:
        if len(text) in (4, 7, 10):
            partial = parse_partial_date(text, name)
            first = partial.first_day
            low = datetime(first.year, first.month, first.day, tzinfo=UTC)
            if partial.day is not None:
                high = low + timedelta(days=1)
            elif partial.month is not None:
                high = (low + timedelta(days=32)).replace(day=1)
            else:
                high = low.replace(year=low.year + 1)
        elif len(text) > 10 and "T" in text:
            low = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if low.tzinfo is None:
                low = low.replace(tzinfo=UTC)
            high = check_instant(low, name) + timedelta(seconds=1)
        else:
            raise ValueError(text)
    except ValueError as exc:
        raise InvalidInput(problem, field=name) from exc
    return DateTest(name, prefix, low, high)


def _moment(value: str | None, default: datetime) -> datetime:
    if not value:
        return default
    if len(value) == 10:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _dated(spec: ResourceSpec, tests: list[DateTest], resource: Resource) -> bool:
    for test in tests:
        if test.name == "_lastUpdated":
            updated = (resource.get("meta") or {}).get("lastUpdated")
            if updated is None:
                return False
            moment = _moment(updated, _NEVER)
            start, end = moment, moment
        else:
            assert spec.period is not None
            low, high = spec.period(resource)
            if low is None and high is None:
                return False
            start, end = _moment(low, _NEVER), _moment(high, _ALWAYS)
            if high is not None and len(high) == 10:
                end += timedelta(days=1) - timedelta(microseconds=1)
        if not test.matches(start, end):
            return False
    return True


# --- _include ---------------------------------------------------------------------------------


def _references(node: Any, path: list[str]) -> list[str]:
    """The reference strings at a dotted element path (through lists)."""
    if isinstance(node, list):
        return [r for item in node for r in _references(item, path)]
    if not isinstance(node, dict):
        return []
    if not path:
        value = node.get("reference")
        return [value] if isinstance(value, str) else []
    return _references(node.get(path[0]), path[1:])


async def _included(
    uow: UnitOfWork, actor: Actor, spec: ResourceSpec, names: list[str], found: list[Resource]
) -> list[Resource]:
    """The resources the found ones refer to through the requested ``_include``s.

    Each is read through its own reader, so what the caller may not see is left out (as a
    missing one would be) and every read is access-logged.
    """
    wanted = {i.name: i for i in spec.includes}
    seen = {(r["resourceType"], r["id"]) for r in found}
    included: list[Resource] = []
    for name in names:
        include = wanted[name]
        targets = include.target.split("|")
        for target in targets:
            _allowed(actor, target, "r")
        for resource in found:
            for reference in _references(resource, include.element.split(".")):
                kind, _sep, ident = reference.partition("/")
                if kind not in targets or (kind, ident) in seen:
                    continue
                seen.add((kind, ident))
                try:
                    included.append(await RESOURCES[kind].read(uow, actor, ident))
                except NotFound:
                    continue
    return included


REPEATABLE = frozenset({"date", "_lastUpdated", "_include"})


def _search_params(
    resource_type: str, spec: ResourceSpec, request: Request
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The single-valued parameters, and the values of the repeatable ones."""
    params: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    known = {p.name for p in spec.params} | set(COMMON_PARAMS)
    for name, value in request.query_params.multi_items():
        if name not in known:
            raise InvalidInput(
                f"{resource_type} is not searched by {name}; supported: {', '.join(sorted(known))}",
                field=name,
            )
        if name in REPEATABLE and (name != "date" or spec.period is not None):
            repeated.setdefault(name, []).append(value)
            continue
        if name in params:
            raise InvalidInput(f"{name} is given more than once", field=name)
        params[name] = value
    return params, repeated


# Types whose search results are records about the searched person that the caller is a party
# to (their record parties carry the person).
_PERSON_RECORDS = frozenset({"CarePlan", "Encounter"})


@api.get(
    "/{resource_type}",
    summary="Search a resource type",
    include_in_schema=False,
    dependencies=_DECLARED,
)
async def search(resource_type: str, actor: Caller, uow: UowDep, request: Request) -> Response:
    """Search; the result is a searchset Bundle whose `next` link never repeats or skips."""
    spec = _spec(resource_type)
    _allowed(actor, resource_type, "s")
    settings: Settings = request.app.state.settings
    params, repeated = _search_params(resource_type, spec, request)
    if params.get("_format", "json") not in ("json", FHIR_JSON, "application/json"):
        raise InvalidInput("only JSON is served", field="_format")
    count_text = params.get("_count", str(settings.default_page_size))
    count = min(
        parse_int(count_text, "_count", minimum=1, what="_count is a positive number"),
        settings.max_page_size,
    )
    if params.get("_sort", "_id") != "_id":
        raise InvalidInput("results are sorted by _id only", field="_sort")
    summary = params.get("_summary")
    if summary not in (None, "count", "false"):
        raise InvalidInput("_summary is count or false", field="_summary")
    revinclude = params.get("_revinclude")
    if revinclude is not None and (resource_type != "Patient" or revinclude not in REVINCLUDES):
        raise InvalidInput(
            f"_revinclude is supported on Patient searches: {', '.join(REVINCLUDES)}",
            field="_revinclude",
        )
    includes = repeated.get("_include", [])
    supported = [i.name for i in spec.includes]
    for name in includes:
        if name not in supported:
            raise InvalidInput(
                f"{resource_type} supports _include of {', '.join(supported) or 'nothing'}",
                field="_include",
            )
    dates = [_date_test(n, v) for n in ("date", "_lastUpdated") for v in repeated.get(n, [])]
    declared = {p.name: p.type for p in spec.params}
    asked = search_params.plan(resource_type, declared, params, f"{settings.issuer}/fhir")

    async def matching(limit: int, cursor: str | None) -> Found:
        found, after = await search_params.run(
            spec.search, uow, actor, asked, limit, cursor, settings
        )
        if dates:
            found = [r for r in found if _dated(spec, dates, r)]
        return found, after

    if summary == "count":
        total, cursor = 0, None
        while True:
            found, cursor = await matching(settings.max_page_size, cursor)
            total += len(found)
            if cursor is None:
                break
            if total > MAX_COUNTED:
                raise InvalidInput(
                    f"more than {MAX_COUNTED} match; narrow the search", field="_summary"
                )
        return fhir_response({"resourceType": "Bundle", "type": "searchset", "total": total})
    resources, next_cursor = await matching(count, params.get("_cursor"))
    included = await _included(uow, actor, spec, includes, resources)
    if revinclude is not None:
        kind = revinclude.split(":", 1)[0]
        _allowed(actor, kind, "s")
        for found_patient in resources:
            related, _more = await RESOURCES[kind].search(
                uow,
                actor,
                {"patient": found_patient["id"]},
                settings.max_page_size,
                None,
                settings,
            )
            included += related
    subjects = asked.subjects()
    for subject in subjects:
        # A search by person is an access to that person's data even when nothing matches (the
        # answer echoes the id); refused when the caller has no part in the person's care.
        # A match of a type whose results are records the caller is a party to (each naming
        # the person) already answers it, without another statement.
        in_care = (len(subjects) == 1 and bool(resources) and resource_type in _PERSON_RECORDS) or (
            await person_service.is_party(uow, actor, subject)
        )
        result = "success" if in_care else "denied"
        record(uow, actor, "search", resource_type, None, subject, outcome=result)
    base = f"{settings.issuer}/fhir"
    links = [{"relation": "self", "url": str(request.url)}]
    if next_cursor is not None:
        links.append(
            {"relation": "next", "url": str(request.url.include_query_params(_cursor=next_cursor))}
        )
    entries = [
        {
            "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
            "resource": r,
            "search": {"mode": "match"},
        }
        for r in resources
    ] + [
        {
            "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
            "resource": r,
            "search": {"mode": "include"},
        }
        for r in included
    ]
    # ele-1: an element is never an empty array, so a searchset without matches has no entry.
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "link": links}
    if entries:
        bundle["entry"] = entries
    if next_cursor is None and "_cursor" not in params:
        bundle["total"] = len(resources)
    return fhir_response(bundle)


def _history_entry(base: str, resource: Resource) -> dict[str, Any]:
    kind, ident, version = resource["resourceType"], resource["id"], resource["meta"]["versionId"]
    first = version == "1"
    return {
        "fullUrl": f"{base}/{kind}/{ident}",
        "resource": resource,
        "request": {
            "method": "POST" if first else "PUT",
            "url": kind if first else f"{kind}/{ident}",
        },
        "response": {"status": "201 Created" if first else "200 OK", "etag": f'W/"{version}"'},
    }


def _history_key(resource: Resource) -> tuple[str, str, int]:
    meta_ = resource["meta"]
    return meta_.get("lastUpdated") or "", resource["id"], int(meta_["versionId"])


def _history_cursor(key: tuple[str, str, int]) -> str:
    return f"{key[0]}~{key[1]}~{key[2]}"


@api.get(
    "/{resource_type}/_history",
    summary="The history of a resource type",
    include_in_schema=False,
    dependencies=_DECLARED,
)
async def type_history(
    resource_type: str, actor: Caller, uow: UowDep, request: Request, settings: SettingsDep
) -> Response:
    """Every version of the resources of a type the caller may see, newest first.

    ``_since`` keeps the versions changed at or after an instant; pages follow ``next`` links
    whose cursor is the last entry's (time, id, version), so no version repeats or is skipped.
    """
    spec = _spec(resource_type)
    _allowed(actor, resource_type, "s")
    allowed = {"_since", "_count", "_cursor", "_format"}
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed or name in params:
            raise InvalidInput(
                f"a type history takes {', '.join(sorted(allowed))}, each at most once",
                field=name,
            )
        params[name] = value
    since = None
    if "_since" in params:
        since = _date_test("_since", "ge" + params["_since"]).low
    count_text = params.get("_count", str(settings.default_page_size))
    count = min(
        parse_int(count_text, "_count", minimum=1, what="_count is a positive number"),
        settings.max_page_size,
    )
    before: tuple[str, str, int] | None = None
    if "_cursor" in params:
        stamp, _sep, rest = params["_cursor"].partition("~")
        ident, _sep, version = rest.rpartition("~")
        what = "_cursor is not one this history gave out"
        before = (stamp, ident, parse_int(version, "_cursor", what=what))
    versions: list[Resource] = []
    scanned, cursor = 0, None
    while True:
        found, cursor = await spec.search(uow, actor, {}, settings.max_page_size, cursor, settings)
        scanned += len(found)
        if scanned > MAX_COUNTED:
            raise InvalidInput(
                f"more than {MAX_COUNTED} {resource_type} resources; read instance histories",
                field="_since",
            )
        for resource in found:
            # Newest first: once a version is older than _since, so are the ones before it.
            number, entry = int(resource["meta"]["versionId"]), resource
            while True:
                updated = (entry.get("meta") or {}).get("lastUpdated")
                if since is not None and (updated is None or _moment(updated, _NEVER) < since):
                    break
                versions.append(entry)
                number -= 1
                if spec.vread is None or number < 1:
                    break
                entry = await spec.vread(uow, actor, resource["id"], number)
        if cursor is None:
            break
    versions.sort(key=_history_key, reverse=True)
    if before is not None:
        versions = [v for v in versions if _history_key(v) < before]
    page = versions[:count]
    base = f"{settings.issuer}/fhir"
    links = [{"relation": "self", "url": str(request.url)}]
    if len(versions) > count:
        links.append(
            {
                "relation": "next",
                "url": str(
                    request.url.include_query_params(
                        _cursor=_history_cursor(_history_key(page[-1]))
                    )
                ),
            }
        )
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "history", "link": links}
    if page:
        bundle["entry"] = [_history_entry(base, v) for v in page]
    if before is None and len(versions) <= count:
        bundle["total"] = len(versions)
    return fhir_response(bundle)


@api.get(
    "/{resource_type}/{resource_id}",
    summary="Read a resource",
    include_in_schema=False,
    dependencies=_DECLARED,
)
async def read(
    resource_type: str,
    resource_id: Annotated[str, Path(max_length=64)],
    actor: Caller,
    uow: UowDep,
) -> Response:
    """Read the current version of a resource."""
    spec = _spec(resource_type)
    _allowed(actor, resource_type, "r")
    resource = await spec.read(uow, actor, resource_id)
    return fhir_response(resource, headers=_resource_headers(resource))


@api.get(
    "/{resource_type}/{resource_id}/_history",
    summary="The history of a resource",
    include_in_schema=False,
    dependencies=_DECLARED,
)
async def history(
    resource_type: str,
    resource_id: Annotated[str, Path(max_length=64)],
    actor: Caller,
    uow: UowDep,
    settings: SettingsDep,
) -> Response:
    """Every version of a CarePlan, newest first; the current version of other resources."""
    spec = _spec(resource_type)
    _allowed(actor, resource_type, "r")
    current = await spec.read(uow, actor, resource_id)
    versions = [current]
    if spec.vread is not None:
        newest = int(current["meta"]["versionId"])
        versions += [await spec.vread(uow, actor, resource_id, v) for v in range(newest - 1, 0, -1)]
    base = f"{settings.issuer}/fhir/{resource_type}/{resource_id}"
    entries = [
        {
            "fullUrl": base,
            "resource": version,
            "request": {
                "method": "POST" if version["meta"]["versionId"] == "1" else "PUT",
                "url": resource_type
                if version["meta"]["versionId"] == "1"
                else f"{resource_type}/{resource_id}",
            },
            "response": {
                "status": "201 Created" if version["meta"]["versionId"] == "1" else "200 OK",
                "etag": f'W/"{version["meta"]["versionId"]}"',
            },
        }
        for version in versions
    ]
    return fhir_response(
        {"resourceType": "Bundle", "type": "history", "total": len(entries), "entry": entries}
    )


@api.get(
    "/{resource_type}/{resource_id}/_history/{version_id}",
    summary="Read a version",
    include_in_schema=False,
    dependencies=_DECLARED,
)
async def vread(
    resource_type: str,
    resource_id: Annotated[str, Path(max_length=64)],
    version_id: Annotated[str, Path(max_length=12)],
    actor: Caller,
    uow: UowDep,
) -> Response:
    """Read one version of a resource (every version of a CarePlan; the current of others)."""
    spec = _spec(resource_type)
    _allowed(actor, resource_type, "r")
    if not (version_id.isascii() and version_id.isdigit()) or int(version_id) > INT4_MAX:
        raise NotFound(f"{resource_type}/{resource_id} has no version {version_id}")
    if spec.vread is not None:
        resource = await spec.vread(uow, actor, resource_id, int(version_id))
    else:
        resource = await spec.read(uow, actor, resource_id)
        if resource["meta"]["versionId"] != version_id:
            raise NotFound(
                f"{resource_type}/{resource_id} keeps only its current version "
                f"({resource['meta']['versionId']})"
            )
    return fhir_response(resource, headers=_resource_headers(resource))
