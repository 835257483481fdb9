"""Use cases of the discharge flow: register an admission, then record its notices.

An episode's parties are its hospital unit, its receiving municipality (the municipality's units
once its answer names them) and its primary-care unit; they are kept in step with every notice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
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
from app.domain.handover import Answer, check_answer, check_services
from app.domain.liability import LiabilityConfig
from app.domain.organizations import INPATIENT_FUNCTIONS, OrgKind, UnitFunction
from app.domain.parties import RecordType
from app.security.access import Actor, access_entry, record, require_party, visible_person
from app.services import handover
from app.services.liability_rules import store_intervals
from app.services.notice_content import Carried, carry
from app.services.ports import emit
from app.services.routing import episode_party_pairs, notice_receivers
from app.store.paging import Page
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
    if action == "read" and uow.dialect == "postgresql":
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
    person_id: str | None,
    municipality_id: str | None,
    hospital_unit_id: str | None,
    state: EpisodeState | None,
) -> Page[Episode]:
    """The episodes the caller is a party to, filtered."""
    page = await uow.episodes.page(
        limit=limit,
        after=after,
        person_id=person_id,
        municipality_id=municipality_id,
        hospital_unit_id=hospital_unit_id,
        state=state,
        visible_to=actor.reach,
    )
    for episode in page.items:
        record(uow, actor, "search", "Encounter", episode.id, episode.person_id)
    return page


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice on an episode; which one is chosen by ``kind``.

    ``at`` is when it was sent (defaults to now); ``if_match`` is the version the sender last saw.
    The municipality's answer says whether it can receive the patient (``answer``, from
    ``can_receive_from``) or not yet (with its ``reason``) and the ``services`` it plans;
    ``services-started`` says when the patient arrived (``arrived_at``) and which ``services``
    began.
    """

    kind: str
    at: datetime | None = None
    expected_discharge_date: date | None = None
    decided_at: datetime | None = None
    coordinated_planning: bool = False
    can_receive_from: date | None = None
    units: tuple[str, ...] = ()
    if_match: int | None = None
    carried: Carried = field(default_factory=Carried)
    answer: Answer = Answer.CAN_RECEIVE
    reason: str | None = None
    services: tuple[str, ...] = ()
    arrived_at: datetime | None = None


# The notices that start, move or end a payment clock; the others leave the intervals as they are.
CLOCK_EVENTS = frozenset(
    {
        EventKind.DISCHARGE_READY,
        EventKind.DISCHARGE_READY_WITHDRAWN,
        EventKind.MUNICIPALITY_RESPONSE,
        EventKind.DISCHARGE_NOTICE,
    }
)
NOTICE_KINDS = (
    "admission-notice",
    "expected-discharge",
    "discharge-ready",
    "withdrawal",
    "municipality-response",
    "discharge",
    "services-started",
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
    if notice.kind in handover.MUNICIPALITY_NOTICES:
        await handover.check_municipality_sender(uow, episode, actor, notice.kind)
    else:
        _check_sender(episode, actor, notice.kind)
    if notice.units:
        await _check_units(uow, episode, notice.units)
    if notice.if_match is not None and notice.if_match != episode.version:
        raise StaleVersion(
            f"episode {episode_id} is at version {episode.version}, the request was made against "
            f"version {notice.if_match}; read it again"
        )
    at = notice.at or _sent_now(episode, now)
    check_aware(at, "at")
    event = _apply(episode, notice, at, now)
    await uow.episodes.save(episode, [event])
    if event.kind in CLOCK_EVENTS:
        await store_intervals(uow, episode, liability)
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
    """Queue the hospital's notice for the receiving municipality (in Norway, its units for the
    service the notice is addressed to) and primary-care unit, and the municipality's answers
    for the hospital."""
    if event.kind in handover.MUNICIPALITY_EVENTS:
        await handover.announce(uow, actor, episode, event, now)
        return
    payload: dict[str, object] = {
        "event": event.kind.value,
        "focus": f"Encounter/{episode.id}",
        "person": f"Patient/{episode.person_id}",
        "occurred_at": event.at.isoformat(),
        "episode_state": episode.state.value,
        "version": episode.version,
    }
    if event.kind is EventKind.EXPECTED_DISCHARGE_CHANGED and event.expected_discharge_date:
        payload["expected_discharge_date"] = event.expected_discharge_date.isoformat()
    if event.kind is EventKind.DISCHARGE_READY:
        payload["decided_at"] = (event.decided_at or event.at).isoformat()
        payload["coordinated_planning"] = event.coordinated_planning
    payload.update(carried)
    receivers = await notice_receivers(uow, episode, event.kind.value)
    await emit(
        uow,
        event=event.kind.value,
        stream=f"Encounter/{episode.id}",
        person_id=episode.person_id,
        receivers=receivers,
        payload=payload,
        now=now,
        sender=actor,
    )


def _check_sender(episode: Episode, actor: Actor, kind: str) -> None:
    if not actor.reach.matches(episode.hospital_unit_id, episode.region_id):
        raise Forbidden(
            f"a {kind} notice on episode {episode.id} is sent by the hospital "
            f"({episode.hospital_unit_id} or {episode.region_id}); the caller acts for "
            f"{actor.acting_id}"
        )


def _apply(episode: Episode, notice: Notice, at: datetime, now: datetime) -> EpisodeEvent:
    match notice.kind:
        case "admission-notice":
            return episode.send_admission_notice(at, now=now)
        case "expected-discharge":
            if notice.expected_discharge_date is None:
                raise InvalidInput(
                    "expected_discharge_date is required", field="expected_discharge_date"
                )
            return episode.change_expected_discharge(at, notice.expected_discharge_date, now=now)
        case "discharge-ready":
            if notice.decided_at is not None:
                check_aware(notice.decided_at, "decided_at")
            return episode.declare_discharge_ready(
                at,
                now=now,
                decided_at=notice.decided_at,
                coordinated_planning=notice.coordinated_planning,
            )
        case "withdrawal":
            return episode.withdraw_discharge_ready(at, now=now)
        case "municipality-response":
            can_receive_from, reason = check_answer(
                notice.answer, notice.can_receive_from, notice.reason
            )
            return episode.record_municipality_response(
                at,
                can_receive_from,
                now=now,
                units=notice.units,
                reason=reason,
                services=check_services(notice.services),
            )
        case "discharge":
            return episode.discharge(at, now=now)
        case "services-started":
            return episode.confirm_services_started(
                at,
                now=now,
                arrived_at=notice.arrived_at,
                services=check_services(notice.services, "services"),
            )
    raise InvalidInput(
        f"unknown notice {notice.kind}; known: {', '.join(NOTICE_KINDS)}", field="kind"
    )
