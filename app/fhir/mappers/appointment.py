"""Meeting → Appointment (R4 appointment.html); the replies are the participants' status.

Each participant keeps its id as the element id and its kind (unit, staff, person, relative) as
``participant.type``; the place is the comment and a video link an extension.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.domain.errors import InvalidInput
from app.domain.meetings import Meeting, MeetingStatus, Participant, ParticipantKind, Reply
from app.domain.values import parse_day, parse_instant
from app.fhir.common import (
    canonical,
    concept,
    day,
    instant,
    meta,
    organization_of,
    ref,
    unit_reference,
)
from app.services.meetings import Summons

REPLY_DEADLINE = canonical("StructureDefinition", "reply-by")
VIDEO_LINK = canonical("StructureDefinition", "video-link")
PARTICIPANT_KIND = canonical("CodeSystem", "participant-kind")
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


def to_fhir(meeting: Meeting) -> dict[str, Any]:
    """The Appointment resource of a meeting."""
    participants = [
        {
            "id": p.id,
            "type": [concept(PARTICIPANT_KIND, p.kind.value)],
            "actor": participant_actor(meeting, p),
            "required": "required",
            "status": _REPLY[p.reply],
        }
        for p in meeting.participants
    ]
    extensions = [{"url": REPLY_DEADLINE, "valueDate": day(meeting.reply_by)}]
    if meeting.video_link:
        extensions.append({"url": VIDEO_LINK, "valueUrl": meeting.video_link})
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": meeting.id,
        "meta": meta(meeting.version),
        "extension": extensions,
        "status": "cancelled" if meeting.status is MeetingStatus.CANCELLED else "booked",
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


def _when(value: str | None, field: str) -> datetime:
    if not value:
        raise InvalidInput(f"{field} is required", field=field)
    return parse_instant(value, field)


def from_fhir(resource: dict[str, Any]) -> Summons:
    """A summons from an Appointment as ``to_fhir`` writes it (the inverse mapping)."""
    plan_id = episode_id = None
    for info in resource.get("supportingInformation") or []:
        kind, _sep, ident = (info.get("reference") or "").partition("/")
        if kind == "CarePlan":
            plan_id = ident
        elif kind == "Encounter":
            episode_id = ident
    reply_by = next(
        (
            e.get("valueDate")
            for e in resource.get("extension") or []
            if e.get("url") == REPLY_DEADLINE
        ),
        None,
    )
    if not reply_by:
        raise InvalidInput("the reply-by extension is required", field="Appointment.extension")
    video = next(
        (e.get("valueUrl") for e in resource.get("extension") or [] if e.get("url") == VIDEO_LINK),
        None,
    )
    participants = []
    for index, entry in enumerate(resource.get("participant") or []):
        codes = [
            c.get("code")
            for t in entry.get("type") or []
            for c in t.get("coding") or []
            if c.get("system") == PARTICIPANT_KIND
        ]
        actor = entry.get("actor") or {}
        reference = actor.get("reference") or ""
        unit = organization_of(actor)
        if codes:
            try:
                kind = ParticipantKind(codes[0])
            except ValueError as exc:
                raise InvalidInput(
                    f"unknown participant kind {codes[0]}",
                    field=f"Appointment.participant[{index}].type",
                ) from exc
        elif reference.startswith("Patient/"):
            kind = ParticipantKind.PERSON
        elif unit is not None:
            kind = ParticipantKind.UNIT
        else:
            kind = ParticipantKind.RELATIVE
        participants.append(
            Participant(
                entry.get("id") or f"p{index + 1}",
                kind,
                unit,
                actor.get("display") if actor.get("display") != unit else None,
            )
        )
    starts = _when(resource.get("start"), "Appointment.start")
    duration = resource.get("minutesDuration")
    if duration is None and resource.get("end"):
        duration = int((_when(resource["end"], "Appointment.end") - starts).total_seconds() // 60)
    return Summons(
        starts_at=starts,
        reply_by=parse_day(reply_by, "Appointment.extension(reply-by)"),
        participants=tuple(participants),
        plan_id=plan_id,
        episode_id=episode_id,
        location=resource.get("comment"),
        video_link=video,
        duration_minutes=int(duration or 60),
    )
