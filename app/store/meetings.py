"""Summoned meetings in the database, mapped explicitly to and from their domain objects.

What is searched on is in columns, the participants and the rest in one JSON document. Saving
compares and sets the version, so of two concurrent writers of the same version exactly one
succeeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.clock import utcnow
from app.domain.errors import StaleVersion
from app.domain.meetings import Meeting, MeetingStatus, Participant, ParticipantKind, Reply
from app.domain.parties import Reach, RecordType
from app.domain.representatives import RepresentativeRole
from app.store import statistics_daily as daily
from app.store import tables as t
from app.store.json_values import instant_of, instant_text
from app.store.paging import AnyOf, Page, trim_to_page, visible_page_query


def meeting_document(meeting: Meeting) -> dict[str, Any]:
    """What of a meeting is not in columns, as JSON."""
    return {
        "participants": [
            {
                "id": p.id,
                "kind": p.kind.value,
                "organization_id": p.organization_id,
                "name": p.name,
                "reply": p.reply.value,
                "reason": p.reason,
                "proposed_start": instant_text(p.proposed_start),
                "replied_at": instant_text(p.replied_at),
                "representative_role": p.representative_role.value
                if p.representative_role
                else None,
                "attended": p.attended,
            }
            for p in meeting.participants
        ],
        "location": meeting.location,
        "video_link": meeting.video_link,
        "cancel_reason": meeting.cancel_reason,
        "duration_minutes": meeting.duration_minutes,
        "minutes": meeting.minutes,
    }


def meeting_from(row: Any) -> Meeting:
    """A meeting from its row."""
    doc = row.document
    return Meeting(
        id=row.id,
        person_id=row.person_id,
        plan_id=row.plan_id,
        episode_id=row.episode_id,
        organizer_id=row.organizer_id,
        starts_at=row.starts_at,
        reply_by=row.reply_by,
        sent_at=row.sent_at,
        participants=[
            Participant(
                p["id"],
                ParticipantKind(p["kind"]),
                p.get("organization_id"),
                p.get("name"),
                Reply(p["reply"]),
                p.get("reason"),
                instant_of(p.get("proposed_start")),
                instant_of(p.get("replied_at")),
                RepresentativeRole(p["representative_role"])
                if p.get("representative_role")
                else None,
                p.get("attended"),
            )
            for p in doc["participants"]
        ],
        location=doc.get("location"),
        video_link=doc.get("video_link"),
        status=MeetingStatus(row.status),
        cancel_reason=doc.get("cancel_reason"),
        version=row.version,
        duration_minutes=doc.get("duration_minutes", 60),
        held_at=row.held_at,
        minutes=doc.get("minutes"),
        updated_at=row.updated_at,
    )


def _changeable(meeting: Meeting) -> dict[str, Any]:
    """The columns a meeting's later steps change (what a save writes; a summons writes them
    too, with the ones fixed at the summons)."""
    return {
        "status": meeting.status.value,
        "starts_at": meeting.starts_at,
        "reply_by": meeting.reply_by,
        "held_at": meeting.held_at,
        "version": meeting.version,
        "updated_at": meeting.updated_at,
        "document": meeting_document(meeting),
    }


class MeetingRepository:
    """Summoned meetings and their replies."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, meeting: Meeting) -> None:
        """Store a new summons."""
        meeting.updated_at = utcnow()
        # A summons decides the summons deadline of its person's notices (statistics per day).
        await daily.retract(self._conn, daily.of_person(meeting.person_id))
        await self._conn.execute(
            insert(t.meetings).values(
                id=meeting.id,
                person_id=meeting.person_id,
                plan_id=meeting.plan_id,
                episode_id=meeting.episode_id,
                organizer_id=meeting.organizer_id,
                sent_at=meeting.sent_at,
                **_changeable(meeting),
            )
        )
        await daily.apply(self._conn, daily.of_person(meeting.person_id))

    async def save(self, meeting: Meeting, *, expected_version: int) -> None:
        """Store the meeting's new state, if no one else saved over ``expected_version``."""
        meeting.updated_at = utcnow()
        # Cancelling a summons can change its person's notices' summons deadline.
        await daily.retract(self._conn, daily.of_person(meeting.person_id))
        result = await self._conn.execute(
            update(t.meetings)
            .where(t.meetings.c.id == meeting.id, t.meetings.c.version == expected_version)
            .values(**_changeable(meeting))
        )
        if result.rowcount != 1:
            raise StaleVersion(
                f"meeting {meeting.id} was changed by someone else since version "
                f"{expected_version}; read it again"
            )
        await daily.apply(self._conn, daily.of_person(meeting.person_id))

    async def get(self, meeting_id: str, *, for_update: bool = False) -> Meeting | None:
        """The meeting, or None.

        ``for_update``: locked until the transaction ends (see ``app.store.unit_of_work``).
        """
        query = select(t.meetings).where(t.meetings.c.id == meeting_id)
        row = (await self._conn.execute(query.with_for_update() if for_update else query)).first()
        return meeting_from(row) if row else None

    async def page(
        self,
        *,
        limit: int,
        after: str | None,
        visible_to: Reach,
        plan_id: AnyOf = None,
        episode_id: AnyOf = None,
        person_id: AnyOf = None,
        ids: AnyOf = None,
        status: AnyOf = None,
    ) -> Page[Meeting]:
        """Meetings the reach is a party to (organizer or participant), filtered (a collection:
        any of its values)."""
        query = visible_page_query(
            t.meetings,
            RecordType.MEETING,
            visible_to,
            limit=limit,
            after=after,
            equal={
                "id": ids,
                "plan_id": plan_id,
                "episode_id": episode_id,
                "person_id": person_id,
                "status": status,
            },
        )
        rows = (await self._conn.execute(query)).all()
        return trim_to_page([meeting_from(r) for r in rows], limit, _meeting_id)

    async def held_of_plans(self, plan_ids: Sequence[str]) -> dict[str, list[datetime]]:
        """When the held meetings of each plan took place, as instants: which local date that
        is depends on the plan's jurisdiction, so the caller decides it. A meeting only summoned
        (even one whose time has passed) is not among them."""
        if not plan_ids:
            return {}
        rows = await self._conn.execute(
            select(t.meetings.c.plan_id, t.meetings.c.held_at).where(
                t.meetings.c.plan_id.in_(list(plan_ids)),
                t.meetings.c.status == MeetingStatus.HELD.value,
            )
        )
        result: dict[str, list[datetime]] = {}
        for row in rows:
            result.setdefault(row.plan_id, []).append(row.held_at)
        return result

    async def summonses_of_persons(self, person_ids: Sequence[str]) -> dict[str, list[datetime]]:
        """When summonses (not cancelled) concerning each person were sent."""
        if not person_ids:
            return {}
        rows = await self._conn.execute(
            select(t.meetings.c.person_id, t.meetings.c.sent_at).where(
                t.meetings.c.person_id.in_(list(person_ids)),
                t.meetings.c.status != MeetingStatus.CANCELLED.value,
            )
        )
        result: dict[str, list[datetime]] = {}
        for row in rows:
            result.setdefault(row.person_id, []).append(row.sent_at)
        return result


def _meeting_id(meeting: Meeting) -> str:
    return meeting.id
