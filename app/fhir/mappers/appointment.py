"""Meeting → Appointment (R4 appointment.html); the replies are the participants' status."""

from __future__ import annotations

from typing import Any

from app.domain.meetings import Meeting, MeetingStatus, ParticipantKind, Reply
from app.fhir.common import canonical, day, instant, meta, ref

REPLY_DEADLINE = canonical("StructureDefinition", "reply-by")
_REPLY = {
    Reply.PENDING: "needs-action",
    Reply.ACCEPTED: "accepted",
    Reply.DECLINED: "declined",
    Reply.PROPOSED: "tentative",
}


def to_fhir(meeting: Meeting) -> dict[str, Any]:
    """The Appointment resource of a meeting."""
    participants = []
    for participant in meeting.participants:
        entry: dict[str, Any] = {"status": _REPLY[participant.reply], "required": "required"}
        if participant.kind is ParticipantKind.PERSON:
            entry["actor"] = ref("Patient", meeting.person_id)
        elif participant.organization_id and participant.kind is ParticipantKind.UNIT:
            entry["actor"] = ref("Organization", participant.organization_id)
        else:
            entry["actor"] = {"display": participant.name or participant.id}
        participants.append(entry)
    where = [w for w in (meeting.location, meeting.video_link) if w]
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": meeting.id,
        "meta": meta(meeting.version),
        "extension": [{"url": REPLY_DEADLINE, "valueDate": day(meeting.reply_by)}],
        "status": "cancelled" if meeting.status is MeetingStatus.CANCELLED else "booked",
        "description": "Coordinated individual plan meeting"
        if meeting.plan_id
        else "Discharge planning meeting",
        "start": instant(meeting.starts_at),
        "end": instant(meeting.ends_at),
        "minutesDuration": meeting.duration_minutes,
        "created": meeting.sent_at.date().isoformat(),
        "comment": " · ".join(where),
        "participant": participants,
    }
    if meeting.plan_id:
        resource["supportingInformation"] = [ref("CarePlan", meeting.plan_id)]
    elif meeting.episode_id:
        resource["supportingInformation"] = [ref("Encounter", meeting.episode_id)]
    if meeting.cancel_reason:
        resource["cancelationReason"] = {"text": meeting.cancel_reason}
    return resource
