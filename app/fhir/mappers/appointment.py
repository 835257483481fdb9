"""Meeting → Appointment (R4 appointment.html); the replies are the participants' status.

Each participant keeps its id as the element id and its kind (unit, staff, person, relative,
legal representative, with the representative's role) as ``participant.type``; the place is the
comment and a video link an extension. A held meeting is ``fulfilled``: when it took place, its
minutes and each participant's attendance are extensions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir.resources.R4B.appointment import Appointment

from app.domain.errors import InvalidInput
from app.domain.meetings import Meeting, MeetingStatus, Participant, ParticipantKind, Reply
from app.domain.representatives import RepresentativeRole
from app.fhir import parse
from app.fhir.common import (
    canonical,
    concept,
    day,
    instant,
    meta,
    ref,
    unit_reference,
)
from app.services.meetings import Summons

REPLY_DEADLINE = canonical("StructureDefinition", "reply-by")
VIDEO_LINK = canonical("StructureDefinition", "video-link")
PARTICIPANT_KIND = canonical("CodeSystem", "participant-kind")
REPRESENTATIVE_ROLE = canonical("CodeSystem", "representative-role")
ATTENDED = canonical("StructureDefinition", "attended")
HELD_AT = canonical("StructureDefinition", "held-at")
MINUTES = canonical("StructureDefinition", "meeting-minutes")
_STATUS = {
    MeetingStatus.SCHEDULED: "booked",
    MeetingStatus.HELD: "fulfilled",
    MeetingStatus.CANCELLED: "cancelled",
}
_REPLY = {
    Reply.PENDING: "needs-action",
    Reply.ACCEPTED: "accepted",
    Reply.DECLINED: "declined",
    Reply.PROPOSED: "tentative",
}
REPLY_OF = {
    "accepted": Reply.ACCEPTED,
    "declined": Reply.DECLINED,
    "tentative": Reply.PROPOSED,
}


def participant_actor(meeting: Meeting, participant: Participant) -> dict[str, Any]:
    if participant.kind is ParticipantKind.PERSON:
        return ref("Patient", meeting.person_id)
    if participant.organization_id:
        # R4 does not let Appointment.participant.actor reference an Organization.
        return unit_reference(participant.organization_id, participant.name)
    return {"display": participant.name or participant.id}


def _participant(meeting: Meeting, p: Participant) -> dict[str, Any]:
    types = [concept(PARTICIPANT_KIND, p.kind.value)]
    if p.representative_role is not None:
        types.append(concept(REPRESENTATIVE_ROLE, p.representative_role.value))
    entry: dict[str, Any] = {
        "id": p.id,
        "type": types,
        "actor": participant_actor(meeting, p),
        "required": "required",
        "status": _REPLY[p.reply],
    }
    if p.attended is not None:
        entry["extension"] = [{"url": ATTENDED, "valueBoolean": p.attended}]
    return entry


def to_fhir(meeting: Meeting) -> dict[str, Any]:
    """The Appointment resource of a meeting."""
    participants = [_participant(meeting, p) for p in meeting.participants]
    extensions: list[dict[str, Any]] = [{"url": REPLY_DEADLINE, "valueDate": day(meeting.reply_by)}]
    if meeting.video_link:
        extensions.append({"url": VIDEO_LINK, "valueUrl": meeting.video_link})
    if meeting.held_at is not None:
        extensions.append({"url": HELD_AT, "valueDateTime": instant(meeting.held_at)})
    if meeting.minutes:
        extensions.append({"url": MINUTES, "valueString": meeting.minutes})
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": meeting.id,
        "meta": meta(meeting.version, meeting.last_changed_at),
        "extension": extensions,
        "status": _STATUS[meeting.status],
        "description": "Coordinated individual plan meeting"
        if meeting.plan_id
        else "Discharge planning meeting",
        "start": instant(meeting.starts_at),
        "end": instant(meeting.ends_at),
        "minutesDuration": meeting.duration_minutes,
        "created": meeting.sent_at.date().isoformat(),
        "participant": participants,
    }
    if meeting.location:
        resource["comment"] = meeting.location
    if meeting.plan_id:
        resource["supportingInformation"] = [ref("CarePlan", meeting.plan_id)]
    elif meeting.episode_id:
        resource["supportingInformation"] = [ref("Encounter", meeting.episode_id)]
    if meeting.cancel_reason:
        resource["cancelationReason"] = {"text": meeting.cancel_reason}
    return resource


def _when(value: object, field: str) -> datetime:
    if not value:
        raise InvalidInput(f"{field} is required", field=field)
    return parse.instant(value, field)


def from_fhir(resource: Appointment) -> Summons:
    """A summons from an Appointment as ``to_fhir`` writes it (the inverse mapping)."""
    plan_id = episode_id = None
    for info in resource.supportingInformation or []:
        named = parse.reference_to(info, {"CarePlan", "Encounter"})
        if named is not None and named[0] == "CarePlan":
            plan_id = named[1]
        elif named is not None:
            episode_id = named[1]
    extensions = resource.extension or []
    reply_by = next((e.valueDate for e in extensions if e.url == REPLY_DEADLINE), None)
    if not reply_by:
        raise InvalidInput("the reply-by extension is required", field="Appointment.extension")
    video = next((e.valueUrl for e in extensions if e.url == VIDEO_LINK), None)
    participants = []
    for index, entry in enumerate(resource.participant or []):
        codings = [c for t in entry.type or [] for c in t.coding or []]
        codes = [c.code for c in codings if c.system == PARTICIPANT_KIND]
        roles = [c.code for c in codings if c.system == REPRESENTATIVE_ROLE]
        try:
            role = RepresentativeRole(str(roles[0])) if roles else None
        except ValueError as exc:
            raise InvalidInput(
                f"unknown representative role {roles[0]}",
                field=f"Appointment.participant[{index}].type",
            ) from exc
        actor = entry.actor
        actor_named = parse.literal(parse.reference_text(actor))
        unit = parse.organization_of(actor)
        if codes:
            try:
                kind = ParticipantKind(str(codes[0]))
            except ValueError as exc:
                raise InvalidInput(
                    f"unknown participant kind {codes[0]}",
                    field=f"Appointment.participant[{index}].type",
                ) from exc
        elif actor_named is not None and actor_named.kind == "Patient":
            kind = ParticipantKind.PERSON
        elif unit is not None:
            kind = ParticipantKind.UNIT
        else:
            kind = ParticipantKind.RELATIVE
        display = actor.display if actor is not None else None
        participants.append(
            Participant(
                entry.id or f"p{index + 1}",
                kind,
                unit,
                display if display != unit else None,
                representative_role=role,
            )
        )
    starts = _when(resource.start, "Appointment.start")
    duration = resource.minutesDuration
    if duration is None and resource.end:
        duration = int((_when(resource.end, "Appointment.end") - starts).total_seconds() // 60)
    return Summons(
        starts_at=starts,
        reply_by=parse.day(reply_by, "Appointment.extension(reply-by)"),
        participants=tuple(participants),
        plan_id=plan_id,
        episode_id=episode_id,
        location=resource.comment,
        video_link=str(video) if video else None,
        duration_minutes=int(duration or 60),
    )
