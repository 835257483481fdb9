"""Who receives an episode's notices: in Norway, the municipality's unit for the service the
notice is addressed to (the PLO messages' addressing by tjenestetype, Volven 8663); in Sweden, and
for a Norwegian municipality that registered no unit for the service, the municipality itself.

The units a Norwegian episode's notices are routed to are parties to the episode (receivers), so
that a unit's own system reads what it was sent; they follow from the episode and the
municipality's units, and are derived again whenever the episode's parties are.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.domain.episodes import CareType, Episode
from app.domain.message_events import MessageEvent, Routing
from app.domain.organizations import Jurisdiction
from app.domain.parties import Pairs, Party, Role, episode_parties
from app.domain.plo import EVENT_SERVICES, ServiceCode, route
from app.store.unit_of_work import UnitOfWork

# A Norwegian municipality has a handful of units; more than this is a register gone wrong.
MAX_UNITS = 500


async def _units_by_service(
    uow: UnitOfWork, municipality_id: str
) -> dict[ServiceCode, list[str]] | None:
    """The municipality's units by the service they provide; None outside Norway."""
    if await uow.organizations.jurisdiction(municipality_id) is not Jurisdiction.NO:
        return None
    units = await uow.organizations.page(limit=MAX_UNITS, parent_id=municipality_id)
    by_service: dict[ServiceCode, list[str]] = {}
    for unit in units.items:
        if unit.service_code is not None:
            by_service.setdefault(unit.service_code, []).append(unit.id)
    return by_service


async def notice_receivers(uow: UnitOfWork, episode: Episode, event: MessageEvent) -> list[str]:
    """The receivers of one of the hospital's notices: the municipality (or, in Norway, its units
    for the addressed service) and the primary-care unit."""
    by_service = await _units_by_service(uow, episode.municipality_id)
    if by_service is None:
        receivers = [episode.municipality_id]
    else:
        receivers = route(
            event,
            episode.municipality_id,
            by_service,
            psychiatric=episode.care_type is CareType.PSYCHIATRIC,
        )
    if episode.primary_care_unit_id is not None:
        receivers.append(episode.primary_care_unit_id)
    return receivers


async def episode_event_receivers(
    uow: UnitOfWork, episode: Episode, event: MessageEvent
) -> list[str]:
    """The receivers of a notice on the episode, by the event's routing: the hospital's notices
    go to the municipality's side and primary care (``notice_receivers``), the municipality's
    to the hospital unit (and its region)."""
    match event.routing:
        case Routing.HOSPITAL_AND_REGION:
            return [episode.hospital_unit_id, episode.region_id]
        case Routing.HOSPITAL_UNIT:
            return [episode.hospital_unit_id]
        case Routing.MUNICIPALITY_AND_PRIMARY_CARE:
            return await notice_receivers(uow, episode, event)
    raise ValueError(f"{event.value} is not routed to an episode's parties")


async def episode_party_pairs(uow: UnitOfWork, episode: Episode) -> Pairs:
    """The episode's parties (``episode_parties``) and, in Norway, the units its notices are
    routed to by service."""
    pairs = episode_parties(episode)
    by_service = await _units_by_service(uow, episode.municipality_id)
    if not by_service:
        return pairs
    psychiatric = episode.care_type is CareType.PSYCHIATRIC
    routed = {
        unit
        for event in EVENT_SERVICES
        for unit in route(event, episode.municipality_id, by_service, psychiatric=psychiatric)
        if unit != episode.municipality_id
    }
    have = {org for org, _role in pairs}
    return pairs + [(unit, Role.RECEIVER) for unit in sorted(routed - have)]


async def document_receivers(
    uow: UnitOfWork, episode: Episode, parties: Sequence[Party]
) -> list[str]:
    """The receivers of a document shared on the episode, among its ``parties``: in Norway, the
    municipality's side only at the service documents are addressed to (``document-shared``:
    the sykepleietjeneste, else saksbehandling, else the municipality), the hospital's side and
    the primary care as they are; elsewhere every party. The sender is left out later."""
    everyone = [p.organization_id for p in parties]
    if episode.jurisdiction != Jurisdiction.NO.value:
        return everyone
    addressed = await notice_receivers(uow, episode, MessageEvent.DOCUMENT_SHARED)
    others = [p.organization_id for p in parties if p.role is not Role.RECEIVER]
    return list(dict.fromkeys(others + addressed))
