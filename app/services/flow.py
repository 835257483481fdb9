"""The person's flow: one timeline of notices, answers, meetings, messages and plan versions.

It is read through the services the API uses, so it holds exactly what the caller may see, and
each read is in the access log. The person is shown as ``get_person`` shows them: a protected
identity keeps its details only for the organizations that must act.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.domain.episodes import Episode
from app.domain.meetings import Meeting
from app.domain.persons import Person
from app.domain.plans import Plan
from app.security.access import Actor
from app.services import care_messages, episodes, meetings, persons, plans
from app.services.handover import MUNICIPALITY_EVENTS
from app.store.unit_of_work import UnitOfWork

# A person's records are few; these bound a page of the console, not what exists.
MOST = 100


@dataclass(frozen=True, slots=True)
class FlowEntry:
    """One thing that happened, for the timeline.

    ``kind`` names it (an episode event code, ``summons``, ``summons-reply``, ``care-message``,
    ``plan-version``); ``organization_id`` is who did it; ``detail`` holds what the page shows
    beside it (dates, a reply, a subject) as plain values.
    """

    at: datetime
    kind: str
    organization_id: str | None
    reference: str
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Flow:
    """The person, the timeline newest first, and the episodes, plans and meetings it came
    from."""

    person: Person
    entries: list[FlowEntry]
    episodes: list[Episode]
    plans: list[Plan]
    meetings: list[Meeting]


async def person_flow(uow: UnitOfWork, actor: Actor, person_id: str) -> Flow:
    """The timeline of one person, limited to what the caller may see (404 for anyone else)."""
    person = await persons.get_person(uow, actor, person_id)
    entries: list[FlowEntry] = []
    found = await episodes.list_episodes(
        uow,
        actor,
        limit=MOST,
        after=None,
        person_id=person.id,
        municipality_id=None,
        hospital_unit_id=None,
        state=None,
    )
    for episode in found.items:
        for event in episode.events:
            detail: dict[str, object] = {"episode_state": episode.state.value}
            for name in ("expected_discharge_date", "can_receive_from"):
                if getattr(event, name) is not None:
                    detail[name] = getattr(event, name)
            if event.coordinated_planning:
                detail["coordinated_planning"] = True
            if event.services:
                detail["services"] = list(event.services)
            if event.arrived_at is not None:
                detail["arrived_at"] = event.arrived_at
            sender = (
                episode.municipality_id
                if event.kind in MUNICIPALITY_EVENTS
                else episode.hospital_unit_id
            )
            entries.append(FlowEntry(event.at, event.kind.value, sender, episode.id, detail))
    shared = await plans.list_plans(
        uow, actor, limit=MOST, after=None, person_id=person.id, status=None
    )
    for plan in shared.items:
        _, versions = await plans.plan_history(uow, actor, plan.id)
        for version, status, at, organization_id in versions:
            entries.append(
                FlowEntry(
                    at,
                    "plan-version",
                    organization_id,
                    plan.id,
                    {"version": version, "status": status, "title": plan.content.title},
                )
            )
    seen = await meetings.list_meetings(
        uow, actor, limit=MOST, after=None, plan_id=None, episode_id=None, person_id=person.id
    )
    for meeting in seen.items:
        entries.append(
            FlowEntry(
                meeting.sent_at,
                "summons",
                meeting.organizer_id,
                meeting.id,
                {"starts_at": meeting.starts_at, "status": meeting.status.value},
            )
        )
        for participant in meeting.participants:
            if participant.replied_at is not None:
                entries.append(
                    FlowEntry(
                        participant.replied_at,
                        "summons-reply",
                        participant.organization_id,
                        meeting.id,
                        {"reply": participant.reply.value, "name": participant.name or ""},
                    )
                )
    messages = await care_messages.list_messages(
        uow,
        actor,
        limit=MOST,
        after=None,
        box=None,
        person_id=person.id,
        thread_id=None,
        category=None,
    )
    for message in messages.items:
        entries.append(
            FlowEntry(
                message.sent_at,
                "care-message",
                message.sender_id,
                message.id,
                {
                    "subject": message.subject,
                    "category": message.category.value,
                    "recipients": ", ".join(r.organization_id for r in message.recipients),
                },
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return Flow(person, entries, found.items, shared.items, seen.items)
