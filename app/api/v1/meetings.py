"""Planning meetings: summonses, replies, rescheduling, cancelling, marking held, and the summons
deadline."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.v1.common import IfMatch, ListPage, page_of, parse_if_match, router, version_tag
from app.api.v1.plan_schemas import PlanContentIn, content_input
from app.domain.meetings import (
    DeadlineStatus,
    Meeting,
    MeetingStatus,
    Participant,
    ParticipantKind,
    Reply,
)
from app.domain.representatives import RepresentativeRole
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
from app.http.values import Day, Instant
from app.services import meetings as service

api = router("/api/v1", "meetings")


class ParticipantIn(BaseModel):
    """Someone summoned: a unit, named staff at a unit, the person, a relative, or a legal
    representative (who says on what ground they act)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._\-]+$")
    kind: ParticipantKind
    organization_id: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    representative_role: RepresentativeRole | None = Field(
        default=None,
        description="for a legal representative: guardian (vårdnadshavare, foresatt), trustee "
        "(god man), administrator (förvaltare) or adult-guardian (verge)",
    )


class MeetingCreate(BaseModel):
    """A summons to a planning meeting about a plan, or following an episode."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "plan_id": "0b6f2c1e-4f1a-4c8e-9a55-2d3c1e0f9b77",
                    "starts_at": "2026-03-12T13:00:00+01:00",
                    "reply_by": "2026-03-11",
                    "location": "Kalmar vårdcentral, rum 2",
                    "video_link": None,
                    "participants": [
                        {"id": "p1", "kind": "person"},
                        {"id": "p2", "kind": "relative", "name": "Sonen Erik"},
                        {
                            "id": "p5",
                            "kind": "legal-representative",
                            "name": "Gun Ek",
                            "representative_role": "trustee",
                        },
                        {"id": "p3", "kind": "unit", "organization_id": "kommun-0880-hemsjukvard"},
                        {
                            "id": "p4",
                            "kind": "staff",
                            "organization_id": "region-kalmar-hc-kalmar",
                            "name": "Dr. Lind",
                        },
                    ],
                }
            ]
        },
    )

    plan_id: str | None = Field(default=None, max_length=36)
    episode_id: str | None = Field(default=None, max_length=36)
    starts_at: Instant
    duration_minutes: int = Field(default=60, ge=15, le=480, description="planned length")
    reply_by: Day
    location: str | None = Field(default=None, max_length=500)
    video_link: str | None = Field(default=None, max_length=500, pattern=r"^https://")
    participants: list[ParticipantIn] = Field(min_length=1, max_length=50)


class ReplyCreate(BaseModel):
    """A participant's reply."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"participant_id": "p3", "reply": "accepted"},
                {"participant_id": "p4", "reply": "declined", "reason": "Jour den dagen"},
                {
                    "participant_id": "p4",
                    "reply": "proposed-new-time",
                    "proposed_start": "2026-03-13T09:00:00+01:00",
                },
            ]
        },
    )

    participant_id: str = Field(max_length=40)
    reply: Reply
    reason: str | None = Field(default=None, max_length=2000)
    proposed_start: Instant | None = None


class Reschedule(BaseModel):
    """A new time; everyone is asked again."""

    model_config = ConfigDict(extra="forbid")

    starts_at: Instant
    reply_by: Day


class Cancellation(BaseModel):
    """Why the meeting is called off."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class ParticipantRead(BaseModel):
    """A participant and their reply."""

    id: str
    kind: ParticipantKind
    organization_id: str | None
    name: str | None
    reply: Reply
    reason: str | None
    proposed_start: datetime | None
    replied_at: datetime | None
    representative_role: RepresentativeRole | None
    attended: bool | None = Field(description="once the meeting is held: whether they attended")


class MeetingRead(BaseModel):
    """A summoned meeting with the replies so far."""

    id: str
    person_id: str
    plan_id: str | None
    episode_id: str | None
    organizer_id: str
    status: MeetingStatus
    starts_at: datetime
    duration_minutes: int
    reply_by: date
    sent_at: datetime
    location: str | None
    video_link: str | None
    cancel_reason: str | None
    held_at: datetime | None
    minutes: str | None
    participants: list[ParticipantRead]
    version: int


def meeting_read(meeting: Meeting) -> MeetingRead:
    """The API shape of a meeting."""
    return MeetingRead(
        id=meeting.id,
        person_id=meeting.person_id,
        plan_id=meeting.plan_id,
        episode_id=meeting.episode_id,
        organizer_id=meeting.organizer_id,
        status=meeting.status,
        starts_at=meeting.starts_at,
        duration_minutes=meeting.duration_minutes,
        reply_by=meeting.reply_by,
        sent_at=meeting.sent_at,
        location=meeting.location,
        video_link=meeting.video_link,
        cancel_reason=meeting.cancel_reason,
        held_at=meeting.held_at,
        minutes=meeting.minutes,
        participants=[
            ParticipantRead(
                id=p.id,
                kind=p.kind,
                organization_id=p.organization_id,
                name=p.name,
                reply=p.reply,
                reason=p.reason,
                proposed_start=p.proposed_start,
                replied_at=p.replied_at,
                representative_role=p.representative_role,
                attended=p.attended,
            )
            for p in meeting.participants
        ],
        version=meeting.version,
    )


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
        service.Summons(
            starts_at=body.starts_at,
            reply_by=body.reply_by,
            participants=tuple(
                Participant(
                    p.id,
                    p.kind,
                    p.organization_id,
                    p.name,
                    representative_role=p.representative_role,
                )
                for p in body.participants
            ),
            plan_id=body.plan_id,
            episode_id=body.episode_id,
            location=body.location,
            video_link=body.video_link,
            duration_minutes=body.duration_minutes,
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


class MeetingHeld(BaseModel):
    """The meeting took place: when, who attended, short minutes; optionally the plan's
    revision made at it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "held_at": "2026-03-12T13:05:00+01:00",
                    "attended": ["p1", "p3", "p5"],
                    "minutes": "Insulin given by home health care from 13 March; next "
                    "follow-up 10 June.",
                }
            ]
        },
    )

    held_at: Instant | None = Field(
        default=None, description="when it took place; defaults to the planned start"
    )
    attended: list[str] = Field(
        min_length=1, max_length=50, description="ids of the participants who attended"
    )
    minutes: str | None = Field(default=None, max_length=4000, description="short minutes")
    revision: PlanContentIn | None = Field(
        default=None, description="the plan's revised content, recorded as its new version"
    )
    plan_version: int | None = Field(
        default=None, ge=1, description="with a revision: the plan version it was made against"
    )


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
        service.Held(
            attended=tuple(body.attended),
            held_at=body.held_at,
            minutes=body.minutes,
            revision=content_input(body.revision) if body.revision is not None else None,
            plan_version=body.plan_version,
        ),
        if_match=parse_if_match(if_match),
        now=now,
    )
    return _answer(meeting, response)


class DeadlineRead(BaseModel):
    """Whether the summons after a discharge-ready notice went out within three days."""

    episode_id: str
    person_id: str
    discharge_ready_at: datetime
    due_by: datetime = Field(description="end of the third day after the notice, local time")
    summons_sent_at: datetime | None
    status: DeadlineStatus


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
    return [
        DeadlineRead(
            episode_id=d.episode_id,
            person_id=d.person_id,
            discharge_ready_at=d.discharge_ready_at,
            due_by=d.due_by,
            summons_sent_at=d.summons_sent_at,
            status=d.status,
        )
        for d in found
    ]
