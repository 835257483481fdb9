"""Planning meetings: summonses, replies, rescheduling, cancelling, marking held, and the summons
deadline."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from app.api.v1.common import IfMatch, ListPage, page_of, parse_if_match, router, version_tag
from app.api.v1.meeting_schemas import (
    Cancellation,
    DeadlineRead,
    MeetingCreate,
    MeetingHeld,
    MeetingRead,
    ReplyCreate,
    Reschedule,
    meeting_read,
)
from app.api.v1.plan_schemas import content_input
from app.domain.meetings import DeadlineStatus, Meeting, Participant
from app.http.deps import (
    AppointmentCreator,
    AppointmentReader,
    AppointmentSearcher,
    AppointmentUpdater,
    NowDep,
    PageDep,
    UowDep,
)
from app.http.errors import errors_for
from app.http.shapes import command, shaped
from app.services import meetings as service

api = router("/api/v1", "meetings")


def _answer(meeting: Meeting, response: Response) -> MeetingRead:
    response.headers["ETag"] = version_tag(meeting.version)
    return meeting_read(meeting)


WRITE_ERRORS = errors_for(403, 404, 409, 412, 415, 422)


@api.post("/meetings", status_code=201, response_model=MeetingRead, responses=errors_for(415, 422))
async def summon_meeting(
    actor: AppointmentCreator,
    body: MeetingCreate,
    uow: UowDep,
    now: NowDep,
    request: Request,
    response: Response,
) -> MeetingRead:
    """Send a summons to a planning meeting."""
    meeting = await service.summon(
        uow,
        actor,
        command(
            service.Summons,
            body,
            participants=tuple(command(Participant, p) for p in body.participants),
        ),
        now=now,
    )
    response.headers["Location"] = str(request.url_for("get_meeting", meeting_id=meeting.id))
    return _answer(meeting, response)


@api.get("/meetings", response_model=ListPage[MeetingRead], responses=errors_for(422))
async def list_meetings(
    actor: AppointmentSearcher,
    uow: UowDep,
    page: PageDep,
    request: Request,
    plan_id: str | None = None,
    episode_id: str | None = None,
    person_id: str | None = None,
) -> dict[str, object]:
    """List the meetings the caller may see."""
    result = await service.list_meetings(
        uow,
        actor,
        limit=page.limit,
        after=page.cursor,
        plan_id=plan_id,
        episode_id=episode_id,
        person_id=person_id,
    )
    return page_of(request, result.items, result.next_cursor, meeting_read)


@api.get("/meetings/{meeting_id}", response_model=MeetingRead, responses=errors_for(404))
async def get_meeting(
    actor: AppointmentReader, meeting_id: str, uow: UowDep, response: Response
) -> MeetingRead:
    """Read a meeting with its replies."""
    return _answer(await service.get_meeting(uow, actor, meeting_id), response)


@api.post("/meetings/{meeting_id}/replies", response_model=MeetingRead, responses=WRITE_ERRORS)
async def reply_to_meeting(
    actor: AppointmentUpdater,
    meeting_id: str,
    body: ReplyCreate,
    uow: UowDep,
    now: NowDep,
    response: Response,
    if_match: IfMatch = None,
) -> MeetingRead:
    """Accept, decline (with a reason) or propose another time."""
    meeting = await service.reply(
        uow,
        actor,
        meeting_id,
        body.participant_id,
        body.reply,
        reason=body.reason,
        proposed_start=body.proposed_start,
        if_match=parse_if_match(if_match),
        now=now,
    )
    return _answer(meeting, response)


@api.post("/meetings/{meeting_id}/reschedule", response_model=MeetingRead, responses=WRITE_ERRORS)
async def reschedule_meeting(
    actor: AppointmentUpdater,
    meeting_id: str,
    body: Reschedule,
    uow: UowDep,
    now: NowDep,
    response: Response,
    if_match: IfMatch = None,
) -> MeetingRead:
    """Move the meeting (organizer only); every participant is asked again."""
    meeting = await service.reschedule(
        uow,
        actor,
        meeting_id,
        starts_at=body.starts_at,
        reply_by=body.reply_by,
        if_match=parse_if_match(if_match),
        now=now,
    )
    return _answer(meeting, response)


@api.post("/meetings/{meeting_id}/cancel", response_model=MeetingRead, responses=WRITE_ERRORS)
async def cancel_meeting(
    actor: AppointmentUpdater,
    meeting_id: str,
    body: Cancellation,
    uow: UowDep,
    now: NowDep,
    response: Response,
    if_match: IfMatch = None,
) -> MeetingRead:
    """Call the meeting off (organizer only)."""
    meeting = await service.cancel(
        uow, actor, meeting_id, reason=body.reason, if_match=parse_if_match(if_match), now=now
    )
    return _answer(meeting, response)


@api.post("/meetings/{meeting_id}/held", response_model=MeetingRead, responses=WRITE_ERRORS)
async def mark_meeting_held(
    actor: AppointmentUpdater,
    meeting_id: str,
    body: MeetingHeld,
    uow: UowDep,
    now: NowDep,
    response: Response,
    if_match: IfMatch = None,
) -> MeetingRead:
    """Mark the meeting held (organizer only), with attendance, minutes and a plan revision."""
    meeting = await service.mark_held(
        uow,
        actor,
        meeting_id,
        command(
            service.Held,
            body,
            attended=tuple(body.attended),
            revision=content_input(body.revision) if body.revision is not None else None,
        ),
        if_match=parse_if_match(if_match),
        now=now,
    )
    return _answer(meeting, response)


@api.get("/summons-deadlines", response_model=list[DeadlineRead], responses=errors_for(422))
async def list_summons_deadlines(
    actor: AppointmentSearcher,
    uow: UowDep,
    now: NowDep,
    status: Annotated[
        DeadlineStatus | None, Query(description="e.g. `breached` for the breaches")
    ] = None,
) -> list[DeadlineRead]:
    """List the 3-day summons deadlines after discharge-ready notices (Sweden)."""
    found = await service.summons_deadlines(uow, actor, status=status, now=now)
    return [shaped(DeadlineRead, d) for d in found]
