"""The shapes of the meetings API: a summons and its participants, replies, rescheduling,
cancelling, marking held, the meeting read and the summons deadline."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from app.api.v1.plan_schemas import PlanContentIn
from app.domain.meetings import DeadlineStatus, Meeting, MeetingStatus, ParticipantKind, Reply
from app.domain.representatives import RepresentativeRole
from app.http.shapes import shaped
from app.http.values import Day, Instant


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


class DeadlineRead(BaseModel):
    """Whether the summons after a discharge-ready notice went out within three days."""

    episode_id: str
    person_id: str
    discharge_ready_at: datetime
    due_by: datetime = Field(description="end of the third day after the notice, local time")
    summons_sent_at: datetime | None
    status: DeadlineStatus


def meeting_read(meeting: Meeting) -> MeetingRead:
    """The API shape of a meeting."""
    return shaped(MeetingRead, meeting)
