"""The worklist of an organization: its patients in the discharge flow, and its unread inbox.

A hospital unit (or its region) sees its admitted and discharge-ready patients with the payment
clock; a municipality, its units, or a primary-care unit see the same patients from the receiving
side. Everything comes from the same services and access rules as the API: the episodes the caller
may see, the persons masked as lists mask them, the liability computed from the notices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from app.domain.episodes import ZONES, Episode, EpisodeState, EventKind
from app.domain.liability import AverageRuleSet, LiabilityConfig, compute_episode_liability
from app.domain.meetings import SummonsDeadline
from app.domain.organizations import INPATIENT_FUNCTIONS, Organization, OrgKind, UnitFunction
from app.domain.outbox import Delivery
from app.domain.persons import Person
from app.security.access import Actor, record
from app.services import episodes, inbox, meetings
from app.store.unit_of_work import UnitOfWork

OPEN_STATES = (EpisodeState.ADMITTED, EpisodeState.PLANNING, EpisodeState.DISCHARGE_READY)


class Side(StrEnum):
    """Which side of the discharge flow an organization works on."""

    HOSPITAL = "hospital"
    RECEIVING = "receiving"


@dataclass(frozen=True, slots=True)
class WorklistRow:
    """One patient in the flow, with the figures a planner acts on."""

    episode: Episode
    person: Person
    days_discharge_ready: int | None
    liability_from: date | None
    average_model: bool
    can_receive_from: date | None
    summons: SummonsDeadline | None


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """An inbox item not yet acknowledged, with the person it names (masked)."""

    item: Delivery
    person: Person | None


@dataclass(frozen=True, slots=True)
class Worklist:
    """An organization's worklist; ``truncated`` when more episodes exist than were read."""

    organization: Organization
    side: Side
    rows: list[WorklistRow]
    unread: list[InboxEntry]
    truncated: bool


def side_of(org: Organization) -> Side:
    """A region or an inpatient unit plans discharges; everyone else receives the patients."""
    if org.kind is OrgKind.REGION or (
        org.kind is OrgKind.UNIT and org.function in INPATIENT_FUNCTIONS
    ):
        return Side.HOSPITAL
    return Side.RECEIVING


async def worklist(
    uow: UnitOfWork,
    actor: Actor,
    config: LiabilityConfig,
    *,
    now: datetime,
    limit: int,
) -> Worklist:
    """The caller's open episodes (at most ``limit`` per state) and unread inbox items."""
    known = await uow.organizations.get_many([actor.organization_id, actor.principal_id])
    org, principal = known[actor.organization_id], known[actor.principal_id]
    side = side_of(org)
    municipal = principal.kind is OrgKind.MUNICIPALITY
    found: list[Episode] = []
    truncated = False
    for state in OPEN_STATES:
        page = await episodes.list_episodes(
            uow,
            actor,
            limit=limit,
            after=None,
            person_id=None,
            municipality_id=principal.id if municipal else None,
            hospital_unit_id=org.id if side is Side.HOSPITAL and org.kind is OrgKind.UNIT else None,
            state=state,
        )
        truncated = truncated or page.next_cursor is not None
        found += [e for e in page.items if _on_list(e, org, side)]
    persons = await _persons(uow, actor, [e.person_id for e in found])
    deadlines = {
        d.episode_id: d
        for d in await meetings.summons_deadlines(uow, actor, status=None, now=now)
        if d.episode_id in {e.id for e in found}
    }
    rows = [
        _row(episode, persons[episode.person_id], config, deadlines.get(episode.id), now)
        for episode in found
    ]
    unread: list[InboxEntry] = []
    if side is Side.RECEIVING:
        items = (
            await inbox.list_inbox(
                uow,
                actor,
                since=None,
                limit=limit,
                event=None,
                person_id=None,
                unacknowledged=True,
            )
        ).items
        named = await _persons(uow, actor, [i.event.person_id for i in items if i.event.person_id])
        unread = [
            InboxEntry(i, named.get(i.event.person_id) if i.event.person_id else None)
            for i in items
        ]
    return Worklist(org, side, rows, unread, truncated)


def _on_list(episode: Episode, org: Organization, side: Side) -> bool:
    """Whether an episode the caller may see belongs on this organization's list."""
    if side is Side.HOSPITAL:
        return org.id in (episode.hospital_unit_id, episode.region_id)
    if org.kind is OrgKind.UNIT and org.function is UnitFunction.PRIMARY_CARE:
        return episode.primary_care_unit_id == org.id
    return True


async def _persons(uow: UnitOfWork, actor: Actor, ids: list[str]) -> dict[str, Person]:
    """The persons a list names, masked as every list masks them, each logged as read."""
    persons = await uow.persons.get_many(sorted(set(ids)))
    for person_id in persons:
        record(uow, actor, "search", "Patient", person_id, person_id)
    return {k: p.masked() for k, p in persons.items()}


def _row(
    episode: Episode,
    person: Person,
    config: LiabilityConfig,
    summons: SummonsDeadline | None,
    now: datetime,
) -> WorklistRow:
    zone = ZONES[episode.jurisdiction]
    ready = episode.discharge_ready_since
    days = (now.astimezone(zone).date() - ready.astimezone(zone).date()).days if ready else None
    rule_set = config.resolve(
        episode.jurisdiction, episode.region_id, episode.municipality_id, episode.care_type
    )
    liability_from = None
    average = isinstance(rule_set, AverageRuleSet)
    if ready is not None and not isinstance(rule_set, AverageRuleSet):
        liability = compute_episode_liability(
            episode, rule_set, config.rates_for(rule_set), as_of=now
        )
        if liability.clocks:
            liability_from = liability.clocks[-1].liable_from
    answers = [e for e in episode.events if e.kind is EventKind.MUNICIPALITY_RESPONSE]
    return WorklistRow(
        episode=episode,
        person=person,
        days_discharge_ready=days,
        liability_from=liability_from,
        average_model=average,
        can_receive_from=answers[-1].can_receive_from if answers else None,
        summons=summons,
    )
