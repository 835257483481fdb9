"""A participant's reply to a meeting → AppointmentResponse (R4 appointmentresponse.html).

Only replies exist as resources: a participant still to answer has none. The id is the meeting's
id and the participant's key (``common.part_id``); a proposed new time is the response's start.
AppointmentResponse.actor may not reference an Organization, so a unit that answers is named by
a logical reference (its organization id as identifier).
"""

from __future__ import annotations

from typing import Any

from app.domain.meetings import Meeting, Participant, Reply
from app.fhir.common import instant, meta, part_id, ref
from app.fhir.mappers.appointment import REPLY_OF, participant_actor

_STATUS = {reply: code for code, reply in REPLY_OF.items()}


def resource_id(meeting: Meeting, participant: Participant) -> str:
    """The AppointmentResponse id of a participant's reply."""
    return part_id(meeting.id, participant.id)


def replies(meeting: Meeting) -> list[Participant]:
    """The participants who have answered."""
    return [p for p in meeting.participants if p.reply is not Reply.PENDING]


def to_fhir(meeting: Meeting, participant: Participant) -> dict[str, Any]:
    """The AppointmentResponse of a participant who has replied."""
    resource: dict[str, Any] = {
        "resourceType": "AppointmentResponse",
        "id": resource_id(meeting, participant),
        "meta": meta(meeting.version, meeting.last_changed_at),
        "appointment": ref("Appointment", meeting.id),
        "actor": participant_actor(meeting, participant),
        "participantStatus": _STATUS[participant.reply],
    }
    if participant.proposed_start is not None:
        resource["start"] = instant(participant.proposed_start)
    if participant.reason:
        resource["comment"] = participant.reason
    return resource
