"""Appointment and AppointmentResponse: planning meetings and participants' replies."""

from __future__ import annotations

from app.domain.errors import NotFound
from app.fhir.common import parent_of
from app.fhir.mappers import appointment, appointmentresponse
from app.fhir.resources.params import by_id, choice, reference_id, subject_of
from app.fhir.resources.spec import (
    ID,
    PATIENT,
    Found,
    Include,
    Resource,
    ResourceSpec,
    SearchParam,
    date_param,
    start_end,
)
from app.security.access import Actor
from app.services import meetings as meeting_service
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork


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
        return await by_id(read_appointment, uow, actor, params["_id"])
    status = choice(params, "status", ("booked", "fulfilled", "cancelled"))
    plan_id = None
    if "supporting-info" in params:
        plan_id = reference_id(params["supporting-info"], "CarePlan", "supporting-info")
    page = await meeting_service.list_meetings(
        uow,
        actor,
        limit=count,
        after=cursor,
        plan_id=plan_id,
        episode_id=None,
        person_id=subject_of(params),
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
        return await by_id(read_appointment_response, uow, actor, params["_id"])
    meeting_id = (
        reference_id(params["appointment"], "Appointment", "appointment")
        if "appointment" in params
        else None
    )
    status = choice(params, "part-status", ("accepted", "declined", "tentative"))
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
        person_id=subject_of(params),
    )
    found = [
        appointmentresponse.to_fhir(m, p)
        for m in page.items
        for p in appointmentresponse.replies(m)
    ]
    return [r for r in found if status in (None, r["participantStatus"])], page.next_cursor


APPOINTMENT = ResourceSpec(
    read_appointment,
    search_appointment,
    (
        ID,
        PATIENT,
        SearchParam("status", "token", "booked, fulfilled or cancelled"),
        SearchParam("supporting-info", "reference", "the plan (CarePlan/id)"),
        SearchParam(
            "actor", "reference", "a participant: the person (Patient) or a unit (Organization)"
        ),
        date_param("the meeting's time"),
    ),
    documentation="Planning meetings; participants' replies are their status.",
    includes=(Include("Appointment:supporting-info", "supportingInformation", "CarePlan"),),
    period=start_end,
)

APPOINTMENT_RESPONSE = ResourceSpec(
    read_appointment_response,
    search_appointment_response,
    (
        ID,
        PATIENT,
        SearchParam("appointment", "reference", "the meeting"),
        SearchParam("part-status", "token", "accepted, declined or tentative"),
    ),
    documentation="Participants' replies to meetings (a proposed time is the start).",
    includes=(Include("AppointmentResponse:appointment", "appointment", "Appointment"),),
)
