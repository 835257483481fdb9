"""FHIR messaging: ``$process-message`` for the notices of the discharge flow.

A message is a Bundle of type ``message`` whose first entry is a MessageHeader; its event code
comes from the service's CodeSystem ``message-event`` (DESIGN §9). The message is parsed with
``fhir.resources`` (R4B models, identical to R4 for these resources), the codes it does not check
are checked here, and the event is applied through the same services as the REST API.

Reliable messaging (https://hl7.org/fhir/R4/messaging.html#reliable): a Bundle.id already
processed with the same MessageHeader.id gets the first response again, without processing; a
reused Bundle.id with another MessageHeader.id is refused. Only processed messages are remembered,
so a message refused because it arrived out of order can be sent again later.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.appointmentresponse import AppointmentResponse
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.messageheader import MessageHeader
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.resource import Resource as Model
from fhir.resources.R4B.task import Task
from pydantic import ValidationError

from app.domain.delivery import Outcome
from app.domain.errors import Forbidden, InvalidInput, Malformed
from app.domain.liability import LiabilityConfig
from app.domain.meetings import ParticipantKind
from app.domain.message_events import MessageEvent, event_of
from app.domain.values import parse_int
from app.fhir import documents, planning_basis, primitives
from app.fhir.bundles import check_full_urls
from app.fhir.common import BASE, extension_url
from app.fhir.conformance import EVENT_SYSTEM as EVENT_SYSTEM
from app.fhir.expressions import from_loc
from app.fhir.mappers import (
    appointment,
    careplan,
    communication,
    encounter,
    handover,
    patient,
    task,
)
from app.fhir.mappers.encounter import DISCHARGE_READY_AT, EXPECTED_DISCHARGE, extension
from app.fhir.parse import (
    day,
    instant,
    literal,
    optional_instant,
    organization_of,
    reference_id,
    reference_text,
)
from app.security.access import Actor, acts_for
from app.services import care_messages as message_service
from app.services import commands
from app.services import deviations as deviation_service
from app.services import episodes as episode_service
from app.services import inbox as inbox_service
from app.services import meetings as meeting_service
from app.services import persons as person_service
from app.services import plans as plan_service
from app.services.notice_content import Carried
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork

COORDINATED_PLANNING = extension_url("coordinated-planning")


_CODES = tuple(e.value for e in MessageEvent)
M = TypeVar("M", bound=Model)


class MessageRefused(Malformed):
    """The message is not a well-formed message of this service (answered 400)."""


@dataclass(frozen=True, slots=True)
class Message:
    """What of an inbound message the handlers need."""

    bundle_id: str
    header_id: str
    event: MessageEvent
    sent_at: datetime | None
    focus: list[str]
    resources: dict[str, Model]
    sender: str | None
    response_to: str | None
    response_code: str | None = None


Handler = Callable[[UnitOfWork, Actor, Message, Settings, datetime], Awaitable[list[str]]]


def parse(body: Any) -> Message:
    """Validate a message Bundle; MessageRefused names the element at fault.

    The Bundle is validated once, its entries with it: the handlers read the typed resources of
    ``Bundle.entry.resource`` (a ``Patient``, an ``Encounter``) the validation made."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise MessageRefused("the body is not a FHIR Bundle", field="resourceType")
    try:
        bundle = Bundle.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = from_loc("Bundle", first["loc"])
        raise MessageRefused(f"{where}: {first['msg']}", field=where) from exc
    entries = bundle.entry or []
    try:
        primitives.check(body)
        check_full_urls(entries)
    except Malformed as exc:
        raise MessageRefused(exc.message, field=exc.field) from exc
    if bundle.type != "message":
        raise MessageRefused("Bundle.type must be message", field="Bundle.type")
    if not bundle.id:
        raise MessageRefused("a message Bundle has an id (reliable messaging)", field="Bundle.id")
    header = entries[0].resource if entries else None
    if not isinstance(header, MessageHeader):
        raise MessageRefused(
            "the first entry of a message is its MessageHeader", field="Bundle.entry[0]"
        )
    if not header.id:
        raise MessageRefused("the MessageHeader has an id", field="MessageHeader.id")
    coding = header.eventCoding
    code = coding.code if coding is not None else None
    if coding is None or coding.system != EVENT_SYSTEM or code not in _CODES:
        raise MessageRefused(
            f"MessageHeader.eventCoding must be a code of {EVENT_SYSTEM}: {', '.join(_CODES)}",
            field="MessageHeader.eventCoding",
        )
    # Entries are found by their fullUrl and by ``Type/id``.
    resources: dict[str, Model] = {}
    for entry in entries[1:]:
        resource = entry.resource
        if resource is None:
            continue
        if entry.fullUrl:
            resources[entry.fullUrl] = resource
        if resource.id:
            resources[f"{resource.get_resource_type()}/{resource.id}"] = resource
    sender = literal(reference_text(header.sender))
    response = header.response
    return Message(
        bundle_id=str(bundle.id),
        header_id=str(header.id),
        event=event_of(str(code)),
        sent_at=_sent_at(bundle.timestamp),
        focus=[reference_text(f) or "" for f in header.focus or []],
        resources=resources,
        sender=sender.id if sender is not None else _bare_sender(reference_text(header.sender)),
        response_to=response.identifier if response is not None else None,
        response_code=response.code if response is not None else None,
    )


def _sent_at(timestamp: object) -> datetime | None:
    try:
        return optional_instant(timestamp, "Bundle.timestamp")
    except InvalidInput as exc:
        raise MessageRefused(exc.message, field=exc.field) from exc


def _bare_sender(text: str | None) -> str | None:
    """The last segment of a sender that names no ``Organization/id`` of ours (the caller's
    check then refuses it, naming what was sent)."""
    return text.rsplit("/", 1)[-1] if text else None


def _focus(message: Message, kind: type[M]) -> tuple[str, M]:
    name = kind.get_resource_type()
    for reference in message.focus:
        resource = message.resources.get(reference)
        named = literal(reference)
        if isinstance(resource, kind):
            return (named.id if named is not None else reference.rsplit("/", 1)[-1]), resource
        if resource is None and named is not None and named.kind == name:
            # Focused on by reference alone: the record is read by its id; nothing is sent of it.
            return named.id, cast(M, kind.model_construct())
    raise InvalidInput(
        f"a {message.event} message focuses on a {name}", field="MessageHeader.focus"
    )


def _carried(message: Message, settings: Settings) -> Carried:
    """The documents (DocumentReference entries, their content inline or in Binary entries)
    and the planning basis (a QuestionnaireResponse entry) a notice message carries."""
    entries = list({id(r): r for r in message.resources.values()}.values())
    references = [r for r in entries if isinstance(r, DocumentReference)]
    responses = [r for r in entries if isinstance(r, QuestionnaireResponse)]
    if len(responses) > 1:
        raise InvalidInput(
            "a notice carries at most one planning basis", field="QuestionnaireResponse"
        )
    return Carried(
        tuple(
            documents.from_fhir(r, message.resources, field=f"DocumentReference[{i}]")
            for i, r in enumerate(references)
        ),
        planning_basis.from_fhir(responses[0]) if responses else None,
        documents.rules_of(settings),
    )


async def _admission(
    uow: UnitOfWork,
    actor: Actor,
    message: Message,
    settings: Settings,
    now: datetime,
    *,
    liability: LiabilityConfig,
) -> list[str]:
    _key, resource = _focus(message, Encounter)
    patient_resource = message.resources.get(reference_text(resource.subject) or "")
    if not isinstance(patient_resource, Patient):
        raise InvalidInput(
            "Encounter.subject must reference the Patient entry of the message",
            field="Encounter.subject",
        )
    registration = patient.from_fhir(patient_resource)
    person, _created = await person_service.register_person(
        uow,
        actor,
        registration,
        today=now.date(),
        reserve_systems=settings.reserve_number_systems,
    )
    admission = encounter.from_fhir(resource, person.id)
    if admission.municipality_id is None:
        # The paying municipality as the sender's own Patient names it (managingOrganization):
        # a person registered by another organization does not show the sender what that one
        # stored.
        admission = replace(admission, municipality_id=registration.residence_municipality_id)
    episode = await episode_service.register_admission(uow, actor, admission, now=now)
    await episode_service.record_notice(
        uow,
        actor,
        episode.id,
        commands.SendAdmissionNotice(at=message.sent_at, carried=_carried(message, settings)),
        now=now,
        liability=liability,
    )
    return [f"Encounter/{episode.id}"]


async def _notice(
    uow: UnitOfWork,
    actor: Actor,
    message: Message,
    settings: Settings,
    now: datetime,
    *,
    liability: LiabilityConfig,
) -> list[str]:
    episode_id, resource = _focus(message, Encounter)
    await episode_service.record_notice(
        uow,
        actor,
        episode_id,
        _hospital_notice(message, resource, _carried(message, settings)),
        now=now,
        liability=liability,
    )
    return [f"Encounter/{episode_id}"]


def _hospital_notice(message: Message, resource: Encounter, carried: Carried) -> commands.Notice:
    """The command of a hospital's notice after the admission, from its Encounter."""
    at = message.sent_at
    match message.event:
        case MessageEvent.EXPECTED_DISCHARGE_CHANGED:
            found = extension(resource.extension, EXPECTED_DISCHARGE)
            expected = found.valueDate if found is not None else None
            where = "Encounter.extension(expected-discharge-date)"
            if not expected:
                raise InvalidInput(
                    "an expected-discharge-changed message carries the new date in the "
                    f"Encounter's extension {EXPECTED_DISCHARGE}",
                    field=where,
                )
            return commands.ChangeExpectedDischarge(
                at=at, expected_discharge_date=day(expected, where), carried=carried
            )
        case MessageEvent.DISCHARGE_READY:
            decided = extension(resource.extension, DISCHARGE_READY_AT)
            coordinated = extension(resource.extension, COORDINATED_PLANNING)
            return commands.DeclareDischargeReady(
                at=at,
                decided_at=optional_instant(
                    decided.valueDateTime if decided is not None else None,
                    "Encounter.extension(discharge-ready-at)",
                ),
                coordinated_planning=bool(coordinated is not None and coordinated.valueBoolean),
                carried=carried,
            )
        case MessageEvent.DISCHARGE_READY_WITHDRAWN:
            return commands.WithdrawDischargeReady(at=at, carried=carried)
    if resource.period is not None and resource.period.end:
        at = instant(resource.period.end, "Encounter.period.end")
    return commands.Discharge(at=at, carried=carried)


async def _municipality_notice(
    uow: UnitOfWork,
    actor: Actor,
    message: Message,
    _settings: Settings,
    now: datetime,
    *,
    liability: LiabilityConfig,
) -> list[str]:
    """The municipality's answer or its confirmation that services started, carried as an
    extension of the Encounter the message focuses on (``app.fhir.mappers.handover``)."""
    episode_id, resource = _focus(message, Encounter)
    notice: commands.Notice
    if message.event is MessageEvent.MUNICIPALITY_RESPONSE:
        notice = handover.answer_from_fhir(resource, message.sent_at)
    else:
        notice = handover.started_from_fhir(resource, message.sent_at)
    await episode_service.record_notice(
        uow, actor, episode_id, notice, now=now, liability=liability
    )
    return [f"Encounter/{episode_id}"]


async def _acknowledgement(
    uow: UnitOfWork, actor: Actor, message: Message, _settings: Settings, now: datetime
) -> list[str]:
    """An acknowledgement. When it answers an event this service delivered to the caller
    (``response.identifier`` is the pushed MessageHeader.id, the event id), the caller's inbox
    item records it; when its focus is a care message, the recipient's copy does."""
    if not message.response_to:
        raise InvalidInput(
            "an acknowledgement names the message it answers in MessageHeader.response.identifier",
            field="MessageHeader.response.identifier",
        )
    if message.response_code not in {o.value for o in Outcome}:
        raise InvalidInput(
            "MessageHeader.response.code is ok, transient-error or fatal-error",
            field="MessageHeader.response.code",
        )
    outcome = Outcome(message.response_code)
    cared = []
    for focus in message.focus:
        reference = literal(focus)
        if reference is not None and reference.kind == "Communication":
            await message_service.acknowledge(uow, actor, reference.id, outcome, None, now=now)
            cared.append(focus)
    item_id = await inbox_service.item_of_event(uow, actor, message.response_to)
    if item_id is not None:
        await inbox_service.acknowledge(uow, actor, item_id, outcome, None, now=now)
    # Otherwise it answers a message exchanged outside this service: accepted as received.
    return cared


class _Created(Protocol):
    @property
    def id(self) -> str: ...


def _creating(
    kind: type[M], create: Callable[[UnitOfWork, Actor, M, datetime], Awaitable[_Created]]
) -> Handler:
    """The handler of a message that creates a record from the ``kind`` resource it focuses on
    (a care message, a deviation report, a summons): the reference of what it created."""

    async def handle(
        uow: UnitOfWork, actor: Actor, message: Message, _settings: Settings, now: datetime
    ) -> list[str]:
        _key, resource = _focus(message, kind)
        created = await create(uow, actor, resource, now)
        return [f"{kind.get_resource_type()}/{created.id}"]

    return handle


_care_communication = _creating(
    Communication,
    lambda uow, actor, resource, now: message_service.send(
        uow, actor, communication.from_fhir(resource), now=now
    ),
)
_deviation_report = _creating(
    Task,
    lambda uow, actor, resource, now: deviation_service.report(
        uow, actor, task.from_fhir(resource), now=now
    ),
)
_summons = _creating(
    Appointment,
    lambda uow, actor, resource, now: meeting_service.summon(
        uow, actor, appointment.from_fhir(resource), now=now
    ),
)


async def _summons_reply(
    uow: UnitOfWork, actor: Actor, message: Message, _settings: Settings, now: datetime
) -> list[str]:
    _key, answer = _focus(message, AppointmentResponse)
    meeting_id = reference_id(answer.appointment, "Appointment", "AppointmentResponse.appointment")
    meeting = await meeting_service.get_meeting(uow, actor, meeting_id)
    who = answer.actor
    named = literal(reference_text(who))
    org = organization_of(who)
    if named is not None and named.kind == "Patient":
        matches = [p for p in meeting.participants if p.kind is ParticipantKind.PERSON]
    elif org is not None:
        matches = [p for p in meeting.participants if p.organization_id == org]
    else:
        display = who.display if who is not None else None
        matches = [p for p in meeting.participants if p.name and p.name == display]
    if len(matches) != 1:
        raise InvalidInput(
            "AppointmentResponse.actor must name exactly one participant of the meeting",
            field="AppointmentResponse.actor",
        )
    status = answer.participantStatus
    if status not in appointment.REPLY_OF:
        raise InvalidInput(
            "participantStatus is accepted, declined or tentative (another time proposed)",
            field="AppointmentResponse.participantStatus",
        )
    proposed = answer.start if status == "tentative" else None
    await meeting_service.reply(
        uow,
        actor,
        meeting_id,
        matches[0].id,
        appointment.REPLY_OF[status],
        reason=answer.comment,
        proposed_start=optional_instant(proposed, "AppointmentResponse.start"),
        if_match=None,
        now=now,
    )
    return [f"Appointment/{meeting_id}"]


async def _careplan_revised(
    uow: UnitOfWork, actor: Actor, message: Message, _settings: Settings, now: datetime
) -> list[str]:
    plan_id, resource = _focus(message, CarePlan)
    version = resource.meta.versionId if resource.meta is not None else None
    expected = parse_int(
        str(version),
        "CarePlan.meta.versionId",
        what="a revision names the version it was made against in CarePlan.meta.versionId",
    )
    await plan_service.revise_plan(
        uow,
        actor,
        plan_id,
        lambda current: careplan.from_fhir(resource, current),
        if_match=expected,
        now=now,
    )
    return [f"CarePlan/{plan_id}"]


async def _document_shared(
    uow: UnitOfWork, actor: Actor, message: Message, settings: Settings, now: datetime
) -> list[str]:
    _key, resource = _focus(message, DocumentReference)
    shown, _created = await documents.create(
        uow, actor, resource, settings, now, entries=message.resources
    )
    return [f"DocumentReference/{shown['id']}"]


EpisodeHandler = Callable[..., Awaitable[list[str]]]
# The episode's notices also derive its liable intervals, so they take the liability rules.
EPISODE_HANDLERS: dict[MessageEvent, EpisodeHandler] = {
    MessageEvent.ADMISSION_NOTICE: _admission,
    MessageEvent.EXPECTED_DISCHARGE_CHANGED: _notice,
    MessageEvent.DISCHARGE_READY: _notice,
    MessageEvent.DISCHARGE_READY_WITHDRAWN: _notice,
    MessageEvent.DISCHARGE_NOTICE: _notice,
    MessageEvent.MUNICIPALITY_RESPONSE: _municipality_notice,
    MessageEvent.SERVICES_STARTED: _municipality_notice,
}
_OTHER_HANDLERS: dict[MessageEvent, Handler] = {
    MessageEvent.SIP_SUMMONS: _summons,
    MessageEvent.SIP_SUMMONS_REPLY: _summons_reply,
    MessageEvent.CAREPLAN_REVISED: _careplan_revised,
    MessageEvent.CARE_COMMUNICATION: _care_communication,
    MessageEvent.DEVIATION_REPORT: _deviation_report,
    MessageEvent.ACKNOWLEDGEMENT: _acknowledgement,
    MessageEvent.DOCUMENT_SHARED: _document_shared,
}
# Every event of the CodeSystem, in its order (the CapabilityStatement's supported messages).
HANDLERS: dict[MessageEvent, EpisodeHandler | Handler] = {
    event: EPISODE_HANDLERS.get(event) or _OTHER_HANDLERS[event] for event in MessageEvent
}


async def process(
    uow: UnitOfWork,
    actor: Actor,
    message: Message,
    settings: Settings,
    now: datetime,
    liability: LiabilityConfig,
) -> list[str]:
    """Apply the message to the domain; the references of what it touched.

    The sender is the caller's organization or principal, or, for a principal's system, one of
    the principal's units.
    """
    if (
        message.sender is not None
        and message.sender not in actor.organizations
        and not (actor.is_principal_level and await acts_for(uow, actor, message.sender))
    ):
        raise Forbidden(
            f"MessageHeader.sender is Organization/{message.sender}, but the caller acts for "
            f"{actor.organization_id}",
            field="MessageHeader.sender",
        )
    if message.event in EPISODE_HANDLERS:
        return await EPISODE_HANDLERS[message.event](
            uow, actor, message, settings, now, liability=liability
        )
    return await HANDLERS[message.event](uow, actor, message, settings, now)


def response(
    message: Message, code: str, focus: list[str], now: datetime, issue: dict[str, Any] | None
) -> dict[str, Any]:
    """The response message: ok, transient-error or fatal-error (with an OperationOutcome)."""
    header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": str(uuid.uuid4()),
        "eventCoding": {"system": EVENT_SYSTEM, "code": message.event.value},
        "source": {"name": "Samverkan", "endpoint": f"{BASE}/$process-message"},
        "response": {"identifier": message.header_id, "code": code},
    }
    if focus:
        header["focus"] = [{"reference": f} for f in focus]
    entries: list[dict[str, Any]] = [{"fullUrl": f"urn:uuid:{header['id']}", "resource": header}]
    if issue is not None:
        outcome_id = str(uuid.uuid4())
        header["response"]["details"] = {"reference": f"urn:uuid:{outcome_id}"}
        entries.append(
            {
                "fullUrl": f"urn:uuid:{outcome_id}",
                "resource": {"resourceType": "OperationOutcome", "issue": [issue]},
            }
        )
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "message",
        "timestamp": now.isoformat(),
        "entry": entries,
    }
