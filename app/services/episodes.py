"""Use cases of the discharge flow: register an admission, then record its notices.

An episode's parties are its hospital unit, its receiving municipality (the municipality's units
once its answer names them) and its primary-care unit; they are kept in step with every notice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime

from app.domain.episodes import (
    AdmissionType,
    CareType,
    Episode,
    EpisodeEvent,
    EpisodeState,
    EventKind,
    check_aware,
    find_readmission_source,
)
from app.domain.errors import Forbidden, InvalidInput, StaleVersion, UnknownReference
from app.domain.liability import LiabilityConfig, liable_intervals
from app.domain.organizations import INPATIENT_FUNCTIONS, OrgKind, UnitFunction
from app.domain.parties import RecordType
from app.security.access import Actor, access_entry, record, require_party, visible_person
from app.services import handover
from app.services.commands import Notice, RecordMunicipalityResponse
from app.services.notice_content import carry
from app.services.notice_handlers import apply_notice, notice_facts
from app.services.ports import emit
from app.services.routing import episode_event_receivers, episode_party_pairs
from app.store.paging import AnyOf, Page
from app.store.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class RegisterAdmission:
    """A person was admitted to a hospital unit.

    ``municipality_id`` defaults to the person's paying municipality: in Sweden the residence
    municipality, in Norway the municipality of stay.
    """

    person_id: str
    hospital_unit_id: str
    admitted_at: datetime
    admission_type: AdmissionType
    municipality_id: str | None = None
    primary_care_unit_id: str | None = None
    expected_discharge_date: date | None = None


async def register_admission(
    uow: UnitOfWork, actor: Actor, cmd: RegisterAdmission, *, now: datetime
) -> Episode:
    """Open an episode for an admission; links it to a discharge of the last 30 days.

    Only the hospital (the ward, or its region acting for no other unit) registers its
    admissions, for any person it can name by id: the episode is its own record, and makes it a
    party to that record only. The receivers of its notices become parties too.
    """
    check_aware(cmd.admitted_at, "admitted_at")
    if cmd.admitted_at > now:
        raise InvalidInput("admitted_at is in the future", field="admitted_at")
    # Whether the caller may register at the unit is settled before the person is looked up,
    # so that a caller who may not learns nothing of whether the person exists.
    unit = await uow.organizations.get(cmd.hospital_unit_id)
    if unit is None:
        raise UnknownReference(
            f"unknown organization {cmd.hospital_unit_id}", field="hospital_unit_id"
        )
    if unit.function not in INPATIENT_FUNCTIONS:
        raise InvalidInput(
            f"{unit.id} is not an inpatient unit (its function is "
            f"{unit.function.value if unit.function else unit.kind.value}); an episode is a stay "
            "at a hospital or psychiatric ward",
            field="hospital_unit_id",
        )
    region = await uow.organizations.get(unit.parent_id) if unit.parent_id else None
    if region is None or region.kind is not OrgKind.REGION:
        raise InvalidInput(f"unit {unit.id} does not belong to a region", field="hospital_unit_id")
    if not actor.reach.matches(unit.id, region.id):
        raise Forbidden(
            f"only {unit.id} or its region {region.id} registers admissions to {unit.id}; the "
            f"caller acts for {actor.acting_id}"
        )
    person = await uow.persons.get(cmd.person_id)
    if person is None:
        raise UnknownReference(f"unknown person {cmd.person_id}", field="person_id")
    if cmd.municipality_id is None:
        seen = await visible_person(uow, actor, person)
        if seen is None or seen.details_withheld:
            # The default would tell where the person lives, which is not the caller's to know.
            raise InvalidInput(
                "name the receiving municipality: where the person lives was not shared with "
                "the caller",
                field="municipality_id",
            )
    # Sweden: the residence municipality pays; Norway: the municipality of stay.
    municipality_id = cmd.municipality_id or person.paying_municipality_id(unit.jurisdiction.value)
    wanted = {"municipality_id": municipality_id}
    if cmd.primary_care_unit_id is not None:
        wanted["primary_care_unit_id"] = cmd.primary_care_unit_id
    known = await uow.organizations.get_many(list(wanted.values()))
    for name, org_id in wanted.items():
        if org_id not in known:
            raise UnknownReference(f"unknown organization {org_id}", field=name)
    municipality = known[municipality_id]
    if municipality.kind is not OrgKind.MUNICIPALITY:
        raise InvalidInput(f"{municipality_id} is not a municipality", field="municipality_id")
    if cmd.primary_care_unit_id is not None:
        primary = known[cmd.primary_care_unit_id]
        if primary.function is not UnitFunction.PRIMARY_CARE:
            raise InvalidInput(
                f"{primary.id} is not a primary-care unit", field="primary_care_unit_id"
            )
    episode = Episode(
        id=str(uuid.uuid4()),
        person_id=person.id,
        hospital_unit_id=unit.id,
        region_id=region.id,
        municipality_id=municipality_id,
        primary_care_unit_id=cmd.primary_care_unit_id,
        jurisdiction=unit.jurisdiction.value,
        admitted_at=cmd.admitted_at,
        admission_type=cmd.admission_type,
        care_type=CareType.PSYCHIATRIC
        if unit.function is UnitFunction.PSYCHIATRIC_WARD
        else CareType.SOMATIC,
        expected_discharge_date=cmd.expected_discharge_date,
    )
    episode.readmission_of_id = find_readmission_source(
        cmd.admitted_at, await uow.episodes.discharges_of_person(person.id)
    )
    await uow.episodes.add(episode)
    await uow.parties.add(
        RecordType.EPISODE, episode.id, person.id, await episode_party_pairs(uow, episode)
    )
    record(uow, actor, "create", "Encounter", episode.id, person.id)
    return episode


async def get_episode(
    uow: UnitOfWork, actor: Actor, episode_id: str, *, action: str = "read"
) -> Episode:
    """The episode with its notices, if the caller is a party to it.

    For an ``update`` it is locked until the transaction ends: concurrent notices queue.
    """
    if action == "read" and uow.logs_with_statement:
        # The read and its access-log row in one statement; a refusal is logged below.
        entry = access_entry(actor, "read", "Encounter", episode_id, None)
        episode, within, logged = await uow.checked.episode_read_logged(
            episode_id, actor.reach, entry
        )
        if episode is not None and logged:
            uow.logged_access.append(replace(entry, person_id=episode.person_id))
            return episode
    else:
        episode, within = await uow.checked.episode(
            episode_id, actor.reach, for_update=action == "update"
        )
    await require_party(
        uow,
        actor,
        RecordType.EPISODE,
        episode_id,
        exists=episode is not None,
        person_id=episode.person_id if episode else None,
        action=action,
        resource_type="Encounter",
        kind="episode",
        within=within,
    )
    assert episode is not None
    return episode


async def list_episodes(
    uow: UnitOfWork,
    actor: Actor,
    *,
    limit: int,
    after: str | None,
    person_id: AnyOf,
    municipality_id: str | None,
    hospital_unit_id: str | None,
    state: EpisodeState | None,
    ids: AnyOf = None,
    states: AnyOf = None,
) -> Page[Episode]:
    """The episodes the caller is a party to, filtered (a collection: any of its values)."""
    page = await uow.episodes.page(
        limit=limit,
        after=after,
        person_id=person_id,
        municipality_id=municipality_id,
        hospital_unit_id=hospital_unit_id,
        state=state,
        visible_to=actor.reach,
        ids=ids,
        states=states,
    )
    for episode in page.items:
        record(uow, actor, "search", "Encounter", episode.id, episode.person_id)
    return page


# The notices that start, move or end a payment clock; the others leave the intervals as they are.
CLOCK_EVENTS = frozenset(
    {
        EventKind.DISCHARGE_READY,
        EventKind.DISCHARGE_READY_WITHDRAWN,
        EventKind.MUNICIPALITY_RESPONSE,
        EventKind.DISCHARGE_NOTICE,
    }
)


async def record_notice(
    uow: UnitOfWork,
    actor: Actor,
    episode_id: str,
    notice: Notice,
    *,
    now: datetime,
    liability: LiabilityConfig,
) -> tuple[Episode, EpisodeEvent]:
    """Apply one notice to an episode and store it; a stale ``if_match`` is refused.

    The municipality answers with ``municipality-response`` (naming the units that will provide
    its services, which then become the episode's receivers) and confirms with
    ``services-started`` that its services began; every other notice is the hospital's. A
    notice that can start, move or end a payment clock also stores the episode's liable
    intervals anew, derived from its notices under ``liability``, in the same transaction.
    """
    episode = await get_episode(uow, actor, episode_id, action="update")
    if notice.kind in handover.MUNICIPALITY_EVENTS:
        await handover.check_municipality_sender(uow, episode, actor, notice.kind)
    else:
        _check_sender(episode, actor, notice.kind)
    if isinstance(notice, RecordMunicipalityResponse) and notice.units:
        await _check_units(uow, episode, notice.units)
    if notice.if_match is not None and notice.if_match != episode.version:
        raise StaleVersion(
            f"episode {episode_id} is at version {episode.version}, the request was made against "
            f"version {notice.if_match}; read it again"
        )
    at = notice.at or _sent_now(episode, now)
    check_aware(at, "at")
    event = apply_notice(episode, notice, at, now)
    await _save(uow, episode, event, liability)
    if event.units:
        await uow.parties.keep(
            RecordType.EPISODE,
            episode.id,
            episode.person_id,
            await episode_party_pairs(uow, episode),
        )
    # Documents and the planning basis go with the notice, to its receivers.
    carried = await carry(uow, actor, episode, event, notice.carried, now=now)
    await _announce(uow, actor, episode, event, now, carried)
    return episode, event


async def _save(
    uow: UnitOfWork, episode: Episode, event: EpisodeEvent, liability: LiabilityConfig
) -> None:
    """Store the episode with its new event and, when the event can move a payment clock, its
    liable intervals anew (``store_intervals``): on PostgreSQL in the save's one statement."""
    if event.kind not in CLOCK_EVENTS:
        await uow.episodes.save(episode, [event])
        return
    intervals = liable_intervals(episode, liability)
    riders, params = uow.liability.replacement(episode, intervals, liability.version)
    await uow.episodes.save(episode, [event], riders=riders, params=params)
    if not riders:
        await uow.liability.replace(episode, intervals, liability.version)


def _sent_now(episode: Episode, now: datetime) -> datetime:
    """When a notice that names no time was sent: when it is applied.

    That is ``now``, unless a concurrent notice queued ahead of this one was stamped a moment
    later; then the same instant as that one, so that this one is not refused as out of order.
    """
    if episode.events and episode.events[-1].at > now:
        return episode.events[-1].at
    return now


async def _check_units(uow: UnitOfWork, episode: Episode, units: tuple[str, ...]) -> None:
    known = await uow.organizations.get_many(list(units))
    for index, unit_id in enumerate(units):
        unit = known.get(unit_id)
        if unit is None:
            raise UnknownReference(f"unknown organization {unit_id}", field=f"units[{index}]")
        if unit.kind is not OrgKind.UNIT or unit.parent_id != episode.municipality_id:
            raise InvalidInput(
                f"{unit_id} is not a unit of the receiving municipality {episode.municipality_id}",
                field=f"units[{index}]",
            )
    if len(set(units)) != len(units):
        raise InvalidInput("a unit is named twice", field="units")


async def _announce(
    uow: UnitOfWork,
    actor: Actor,
    episode: Episode,
    event: EpisodeEvent,
    now: datetime,
    carried: dict[str, object],
) -> None:
    """Queue the notice for its receivers (``MessageEvent.routing``): the hospital's notices
    for the receiving municipality (in Norway, its units for the service the notice is
    addressed to) and primary-care unit, the municipality's for the hospital.

    The payload carries codes, dates and references; free text (the municipality's reason) is
    read on the episode.
    """
    payload: dict[str, object] = {
        "event": event.kind.value,
        "focus": f"Encounter/{episode.id}",
        "person": f"Patient/{episode.person_id}",
        "occurred_at": event.at.isoformat(),
        "episode_state": episode.state.value,
        "version": episode.version,
        **notice_facts(event),
        **carried,
    }
    await emit(
        uow,
        event=event.kind.event,
        stream=f"Encounter/{episode.id}",
        person_id=episode.person_id,
        receivers=await episode_event_receivers(uow, episode, event.kind.event),
        payload=payload,
        now=now,
        sender=actor,
    )


def _check_sender(episode: Episode, actor: Actor, kind: EventKind) -> None:
    if not actor.reach.matches(episode.hospital_unit_id, episode.region_id):
        raise Forbidden(
            f"a {kind.notice} notice on episode {episode.id} is sent by the hospital "
            f"({episode.hospital_unit_id} or {episode.region_id}); the caller acts for "
            f"{actor.acting_id}"
        )
