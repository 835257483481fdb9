"""The municipality's notices on an episode: its answer and its confirmation that services began.

Both are the municipality's: the receiving municipality's own system, or a unit of it that is a
party to the episode. Only the municipality or its units that plan discharges
(``app.domain.handover``) answer; the answer is delivered to the hospital unit and its region,
the confirmation to the hospital unit.
"""

from __future__ import annotations

from datetime import datetime

from app.domain.episodes import Episode, EpisodeEvent, EventKind
from app.domain.errors import Forbidden
from app.domain.handover import answer_refusal
from app.security.access import Actor
from app.services.ports import emit
from app.store.unit_of_work import UnitOfWork

MUNICIPALITY_NOTICES = frozenset({"municipality-response", "services-started"})
MUNICIPALITY_EVENTS = frozenset({EventKind.MUNICIPALITY_RESPONSE, EventKind.SERVICES_STARTED})


async def check_municipality_sender(
    uow: UnitOfWork, episode: Episode, actor: Actor, kind: str
) -> None:
    """Refuse a caller that may not send the municipality's ``kind`` notice on the episode."""
    reach = actor.reach
    municipality = episode.municipality_id
    if not (
        reach.matches(municipality, municipality)
        or any(reach.matches(unit, municipality) for unit in episode.receiving_units)
    ):
        raise Forbidden(
            f"a {kind} notice on episode {episode.id} is sent by the receiving municipality "
            f"{municipality}; the caller acts for {actor.acting_id}"
        )
    if kind != "municipality-response" or actor.acting_id == municipality:
        return
    unit = await uow.organizations.get(actor.acting_id)
    refusal = answer_refusal(actor.acting_id, unit.function if unit is not None else None)
    if refusal is not None:
        raise Forbidden(refusal)


async def announce(
    uow: UnitOfWork, actor: Actor, episode: Episode, event: EpisodeEvent, now: datetime
) -> None:
    """Queue the municipality's answer for the hospital unit and its region, or its
    confirmation that services began for the hospital unit.

    The payload carries codes and dates only; the reason, free text, is read on the episode.
    """
    payload: dict[str, object] = {
        "event": event.kind.value,
        "focus": f"Encounter/{episode.id}",
        "person": f"Patient/{episode.person_id}",
        "occurred_at": event.at.isoformat(),
        "episode_state": episode.state.value,
        "version": episode.version,
    }
    if event.kind is EventKind.MUNICIPALITY_RESPONSE:
        payload["answer"] = "can-receive" if event.can_receive_from else "cannot-receive-yet"
        if event.can_receive_from is not None:
            payload["can_receive_from"] = event.can_receive_from.isoformat()
        payload["planned_services"] = list(event.services)
        receivers = [episode.hospital_unit_id, episode.region_id]
    else:
        payload["arrived_at"] = (event.arrived_at or event.at).isoformat()
        payload["services"] = list(event.services)
        receivers = [episode.hospital_unit_id]
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
