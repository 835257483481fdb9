"""Use cases of planning meetings: summon, reply, reschedule, cancel, mark held; and the summons
deadline.

A meeting's parties are its organizer and its participating organizations. Only principals the
plan is shared with (or their units) can be summoned to a meeting of a plan, and only the
episode's parties (or units of their principals) to a meeting that follows an episode.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from app.domain.episodes import EventKind
from app.domain.errors import Forbidden, InvalidInput, StaleVersion
from app.domain.meetings import (
    PRIVATE_KINDS,
    DeadlineStatus,
    Meeting,
    Participant,
    Reply,
    SummonsDeadline,
    check_participants,
    check_times,
    summons_deadline,
)
from app.domain.message_events import MessageEvent
from app.domain.parties import RecordType, meeting_parties
from app.domain.plans import PlanStatus
from app.security.access import Actor, acts_for, party_record, record, searched
from app.services.episodes import get_episode
from app.services.plans import ContentInput, get_plan, principal_of, revise_plan
from app.services.ports import emit, payload
from app.store.paging import AnyOf, Page
from app.store.unit_of_work import UnitOfWork

RESOURCE = "Appointment"


@dataclass(frozen=True, slots=True)
class Summons:
    """A summons as sent by the organizer."""

    starts_at: datetime
    reply_by: date
    participants: tuple[Participant, ...]
    plan_id: str | None = None
    episode_id: str | None = None
    location: str | None = None
    video_link: str | None = None
    duration_minutes: int = 60


async def summon(uow: UnitOfWork, actor: Actor, cmd: Summons, *, now: datetime) -> Meeting:
    """Send a summons to a meeting about a plan or an episode."""
    if (cmd.plan_id is None) == (cmd.episode_id is None):
        raise InvalidInput(
            "a summons names either the plan or the episode it follows", field="plan_id"
        )
    if not cmd.location and not cmd.video_link:
        raise InvalidInput("a summons gives a place or a video link", field="location")
    check_times(cmd.starts_at, cmd.reply_by, now)
    participants = list(cmd.participants)
    check_participants(participants)
    known = await uow.organizations.get_many(
        sorted({p.organization_id for p in participants if p.organization_id})
    )
    principals: dict[int, str] = {}
    for index, participant in enumerate(participants):
        if participant.organization_id is None:
            continue
        org = known.get(participant.organization_id)
        if org is None:
            raise InvalidInput(
                f"unknown organization {participant.organization_id}",
                field=f"participants[{index}].organization_id",
            )
        principals[index] = principal_of(org)
    if cmd.plan_id is not None:
        plan = await get_plan(uow, actor, cmd.plan_id, action="update")
        if plan.status not in (PlanStatus.DRAFT, PlanStatus.ACTIVE):
            raise InvalidInput(
                f"plan {plan.id} is {plan.status.value}; meetings are for draft or active plans",
                field="plan_id",
            )
        person_id = plan.person_id
        shared = plan.sharing_principals()
        for index, principal in principals.items():
            if principal not in shared:
                raise InvalidInput(
                    f"the person's consent does not cover sharing the plan with {principal}; "
                    "record a consent that names it before summoning it",
                    field=f"participants[{index}].organization_id",
                )
        if any(p.kind in PRIVATE_KINDS for p in participants) and not plan.has_consent():
            raise InvalidInput(
                "relatives and legal representatives take part only with the person's consent "
                "(or their representative's); record it first",
                field="participants",
            )
    else:
        assert cmd.episode_id is not None
        episode = await get_episode(uow, actor, cmd.episode_id, action="update")
        person_id = episode.person_id
        parties = await uow.parties.of_record(RecordType.EPISODE, episode.id)
        taking_part = {p.organization_id for p in parties} | {p.principal_id for p in parties}
        for index, principal in principals.items():
            org_id = participants[index].organization_id or principal
            if not {org_id, principal} & taking_part:
                raise InvalidInput(
                    f"{org_id} takes no part in this episode; only its hospital, receivers and "
                    "primary care (or their principals' units) can be summoned",
                    field=f"participants[{index}].organization_id",
                )
    meeting = Meeting(
        id=str(uuid.uuid4()),
        person_id=person_id,
        plan_id=cmd.plan_id,
        episode_id=cmd.episode_id,
        organizer_id=actor.acting_id,
        starts_at=cmd.starts_at,
        reply_by=cmd.reply_by,
        sent_at=now,
        participants=participants,
        location=cmd.location,
        video_link=cmd.video_link,
        duration_minutes=cmd.duration_minutes,
    )
    await uow.meetings.add(meeting)
    await uow.parties.add(RecordType.MEETING, meeting.id, person_id, meeting_parties(meeting))
    record(uow, actor, "create", RESOURCE, meeting.id, person_id)
    await _announce(uow, actor, meeting, "summoned", now)
    return meeting


def _stream(meeting: Meeting) -> str:
    """A meeting's events are ordered with those of the plan or episode it follows."""
    if meeting.plan_id is not None:
        return f"CarePlan/{meeting.plan_id}"
    return f"Encounter/{meeting.episode_id}"


async def _announce(
    uow: UnitOfWork, actor: Actor, meeting: Meeting, action: str, now: datetime
) -> None:
    """Queue a summons (new, rescheduled, cancelled or held) for the participating
    organizations."""
    facts: dict[str, object] = {
        "action": action,
        "status": meeting.status.value,
        "starts_at": meeting.starts_at.isoformat(),
        "reply_by": meeting.reply_by.isoformat(),
        "version": meeting.version,
    }
    if meeting.held_at is not None:
        facts["held_at"] = meeting.held_at.isoformat()
    summons = payload(
        MessageEvent.SIP_SUMMONS, f"Appointment/{meeting.id}", meeting.person_id, now, **facts
    )
    await emit(
        uow,
        event=MessageEvent.SIP_SUMMONS,
        stream=_stream(meeting),
        person_id=meeting.person_id,
        receivers=[p.organization_id for p in meeting.participants if p.organization_id],
        payload=summons,
        now=now,
        sender=actor,
    )


async def get_meeting(
    uow: UnitOfWork, actor: Actor, meeting_id: str, *, action: str = "read"
) -> Meeting:
    """The meeting, if the caller is a party to it; 404 (and a log entry) otherwise.

    For an ``update`` it is locked until the transaction ends: concurrent writers queue.
    """
    readers = (uow.checked.meeting_read, uow.meetings.get)
    return await party_record(
        uow, actor, (RecordType.MEETING, meeting_id), readers, action, (RESOURCE, "meeting")
    )


async def list_meetings(
    uow: UnitOfWork,
    actor: Actor,
    *,
    limit: int,
    after: str | None,
    plan_id: AnyOf,
    episode_id: AnyOf,
    person_id: AnyOf,
    ids: AnyOf = None,
    status: AnyOf = None,
) -> Page[Meeting]:
    """The meetings the caller may see, filtered (a collection: any of its values)."""
    found = await uow.meetings.page(
        limit=limit,
        after=after,
        visible_to=actor.reach,
        plan_id=plan_id,
        episode_id=episode_id,
        person_id=person_id,
        ids=ids,
        status=status,
    )
    return searched(uow, actor, RESOURCE, found)


def _check_version(meeting: Meeting, if_match: int | None) -> int:
    if if_match is not None and if_match != meeting.version:
        raise StaleVersion(
            f"meeting {meeting.id} is at version {meeting.version}, the request was made "
            f"against version {if_match}; read it again"
        )
    return meeting.version


async def reply(
    uow: UnitOfWork,
    actor: Actor,
    meeting_id: str,
    participant_id: str,
    answer: Reply,
    *,
    reason: str | None,
    proposed_start: datetime | None,
    if_match: int | None,
    now: datetime,
) -> Meeting:
    """Record a participant's reply.

    A unit or its staff answer for themselves (the unit, or its principal's system); the
    person's, relatives' and legal representatives' answers are recorded by any party to the
    meeting.
    """
    meeting = await get_meeting(uow, actor, meeting_id, action="update")
    expected = _check_version(meeting, if_match)
    participant = meeting.participant(participant_id)
    if participant.organization_id is not None and not await acts_for(
        uow, actor, participant.organization_id
    ):
        raise Forbidden(
            f"participant {participant_id} ({participant.organization_id}) answers for "
            f"itself; the caller acts for {actor.acting_id}"
        )
    meeting.answer(participant_id, answer, at=now, reason=reason, proposed_start=proposed_start)
    await uow.meetings.save(meeting, expected_version=expected)
    await emit(
        uow,
        event=MessageEvent.SIP_SUMMONS_REPLY,
        stream=_stream(meeting),
        person_id=meeting.person_id,
        receivers=[meeting.organizer_id],
        payload=payload(
            MessageEvent.SIP_SUMMONS_REPLY,
            f"Appointment/{meeting.id}",
            meeting.person_id,
            now,
            participant_id=participant_id,
            reply=answer.value,
            version=meeting.version,
        ),
        now=now,
        sender=actor,
    )
    return meeting


async def _organizers(
    uow: UnitOfWork, actor: Actor, meeting_id: str, if_match: int | None, what: str
) -> tuple[Meeting, int]:
    """The meeting to change, and the version it is changed from, when the caller is its
    organizer and ``if_match`` (if any) names its version."""
    meeting = await get_meeting(uow, actor, meeting_id, action="update")
    expected = _check_version(meeting, if_match)
    if not await acts_for(uow, actor, meeting.organizer_id):
        raise Forbidden(
            f"only the organizer {meeting.organizer_id} {what}s meeting {meeting.id}; the caller "
            f"acts for {actor.acting_id}"
        )
    return meeting, expected


async def _save_announced(
    uow: UnitOfWork, actor: Actor, meeting: Meeting, expected: int, change: str, now: datetime
) -> None:
    """Store the organizer's change and tell the participants of it."""
    await uow.meetings.save(meeting, expected_version=expected)
    await _announce(uow, actor, meeting, change, now)


async def reschedule(
    uow: UnitOfWork,
    actor: Actor,
    meeting_id: str,
    *,
    starts_at: datetime,
    reply_by: date,
    if_match: int | None,
    now: datetime,
) -> Meeting:
    """Move the meeting; every participant is asked again."""
    meeting, expected = await _organizers(uow, actor, meeting_id, if_match, "reschedule")
    meeting.reschedule(starts_at, reply_by, at=now)
    await _save_announced(uow, actor, meeting, expected, "rescheduled", now)
    return meeting


async def cancel(
    uow: UnitOfWork,
    actor: Actor,
    meeting_id: str,
    *,
    reason: str,
    if_match: int | None,
    now: datetime,
) -> Meeting:
    """Call the meeting off; the participants are told (without the free-text reason)."""
    meeting, expected = await _organizers(uow, actor, meeting_id, if_match, "cancel")
    meeting.cancel(reason)
    await _save_announced(uow, actor, meeting, expected, "cancelled", now)
    return meeting


@dataclass(frozen=True, slots=True)
class Held:
    """What the organizer records once the meeting took place; with ``revision`` the plan is
    revised in the same step (made against ``plan_version``)."""

    attended: tuple[str, ...]
    held_at: datetime | None = None
    minutes: str | None = None
    revision: ContentInput | None = None
    plan_version: int | None = None


async def mark_held(
    uow: UnitOfWork,
    actor: Actor,
    meeting_id: str,
    held: Held,
    *,
    if_match: int | None,
    now: datetime,
) -> Meeting:
    """Mark the meeting held (organizer only): when, who attended, short minutes.

    ``held_at`` defaults to the planned start, which must then have passed. A held meeting of a
    plan answers its follow-up date; with a revision, the plan's new version is recorded with it
    and its parties are told as of any revision.
    """
    meeting, expected = await _organizers(uow, actor, meeting_id, if_match, "mark")
    if held.revision is not None:
        if meeting.plan_id is None:
            raise InvalidInput(
                "the meeting follows an episode, not a plan; there is no plan to revise",
                field="revision",
            )
        if held.plan_version is None:
            raise InvalidInput(
                "a revision names the plan version it was made against", field="plan_version"
            )
    meeting.mark_held(
        held_at=held.held_at or meeting.starts_at,
        attended=list(held.attended),
        minutes=held.minutes,
        at=now,
    )
    await _save_announced(uow, actor, meeting, expected, "held", now)
    if held.revision is not None:
        assert meeting.plan_id is not None
        await revise_plan(
            uow, actor, meeting.plan_id, held.revision, if_match=held.plan_version, now=now
        )
    return meeting


async def summons_deadlines(
    uow: UnitOfWork, actor: Actor, *, status: DeadlineStatus | None, now: datetime
) -> list[SummonsDeadline]:
    """The three-day summons deadlines of the caller's episodes (Sweden), oldest first."""
    episodes = await uow.episodes.with_coordinated_planning(actor.reach)
    sent = await uow.meetings.summonses_of_persons(sorted({e.person_id for e in episodes}))
    result: list[SummonsDeadline] = []
    for episode in episodes:
        if episode.jurisdiction != "SE":
            continue
        events = episode.events
        for index, event in enumerate(events):
            if event.kind is not EventKind.DISCHARGE_READY or not event.coordinated_planning:
                continue
            withdrawn = next(
                (
                    later.at
                    for later in events[index + 1 :]
                    if later.kind is EventKind.DISCHARGE_READY_WITHDRAWN
                ),
                None,
            )
            deadline = summons_deadline(
                episode_id=episode.id,
                person_id=episode.person_id,
                jurisdiction=episode.jurisdiction,
                discharge_ready_at=event.at,
                withdrawn_at=withdrawn,
                summons_times=sent.get(episode.person_id, []),
                now=now,
            )
            if status is None or deadline.status is status:
                result.append(deadline)
                record(uow, actor, "search", "Encounter", episode.id, episode.person_id)
    result.sort(key=lambda d: d.discharge_ready_at)
    return result
