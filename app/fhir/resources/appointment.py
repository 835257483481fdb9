"""Appointment and AppointmentResponse: planning meetings and participants' replies."""

from __future__ import annotations

from app.domain.errors import NotFound
from app.domain.meetings import MeetingStatus
from app.fhir.common import parent_of
from app.fhir.mappers import appointment, appointmentresponse
from app.fhir.mappers.appointment import REPLY_OF
from app.fhir.resources import spec
from app.fhir.resources.params import SearchQuery, coded_as, parents
from app.fhir.resources.spec import Found, Include, Resource, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import meetings as meeting_service
from app.store.unit_of_work import UnitOfWork

# An Appointment's status is its meeting's (app.fhir.mappers.appointment).
_MEETING_STATUS = {
    "booked": (MeetingStatus.SCHEDULED,),
    "fulfilled": (MeetingStatus.HELD,),
    "cancelled": (MeetingStatus.CANCELLED,),
}


async def read_appointment(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    return appointment.to_fhir(await meeting_service.get_meeting(uow, actor, ident))


async def search_appointment(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    page = await meeting_service.list_meetings(
        uow,
        actor,
        limit=query.count,
        after=query.cursor,
        plan_id=query.references("supporting-info", "CarePlan"),
        episode_id=None,
        person_id=query.subjects(),
        ids=query.ids,
        status=coded_as(query.choice("status", tuple(_MEETING_STATUS)), _MEETING_STATUS),
    )
    # actor is matched on the meetings found (app.fhir.search_params.FILTERED).
    return [appointment.to_fhir(m) for m in page.items], page.next_cursor


async def read_appointment_response(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    meeting = await meeting_service.get_meeting(uow, actor, parent_of(ident))
    for participant in appointmentresponse.replies(meeting):
        if appointmentresponse.resource_id(meeting, participant) == ident:
            return appointmentresponse.to_fhir(meeting, participant)
    raise NotFound(f"no AppointmentResponse with id {ident}")


async def search_appointment_response(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    """The replies in a page of meetings (a page is of meetings, each with its replies);
    ``_id`` names replies, read in the meetings it names."""
    meetings = query.references("appointment", "Appointment")
    if meetings and query.ids:
        # Both name meetings: the replies are in those both name.
        meetings = tuple(m for m in meetings if m in parents(query))
        if not meetings:
            return [], None
    replies = {REPLY_OF[code] for code in query.choice("part-status", tuple(REPLY_OF))}
    page = await meeting_service.list_meetings(
        uow,
        actor,
        limit=query.count,
        after=query.cursor,
        plan_id=None,
        episode_id=None,
        person_id=query.subjects(),
        ids=meetings or parents(query),
    )
    found = [
        appointmentresponse.to_fhir(m, p)
        for m in page.items
        for p in appointmentresponse.replies(m)
        if not replies or p.reply in replies
    ]
    return [r for r in found if not query.ids or r["id"] in query.ids], page.next_cursor


APPOINTMENT = ResourceSpec(
    read_appointment,
    search_appointment,
    (
        spec.ID,
        spec.PATIENT,
        SearchParam("status", "token", "booked, fulfilled or cancelled"),
        SearchParam("supporting-info", "reference", "the plan (CarePlan/id)"),
        SearchParam(
            "actor", "reference", "a participant: the person (Patient) or a unit (Organization)"
        ),
        spec.date_param("the meeting's time"),
    ),
    documentation="Planning meetings; participants' replies are their status.",
    includes=(Include("Appointment:supporting-info", "supportingInformation", "CarePlan"),),
    period=spec.start_end,
)

APPOINTMENT_RESPONSE = ResourceSpec(
    read_appointment_response,
    search_appointment_response,
    (
        spec.ID,
        spec.PATIENT,
        SearchParam("appointment", "reference", "the meeting"),
        SearchParam("part-status", "token", "accepted, declined or tentative"),
    ),
    documentation="Participants' replies to meetings (a proposed time is the start).",
    includes=(Include("AppointmentResponse:appointment", "appointment", "Appointment"),),
    parts=True,
)
