"""The municipality's notices on an episode: its answer and its confirmation that services began.

Both are the municipality's: the receiving municipality's own system, or a unit of it that is a
party to the episode. Only the municipality or its units that plan discharges
(``app.domain.handover``) answer. Both are delivered to the hospital's side
(``MessageEvent.routing``) by ``app.services.episodes``.
"""

from __future__ import annotations

from app.domain.episodes import Episode, EventKind
from app.domain.errors import Forbidden
from app.domain.handover import answer_refusal
from app.security.access import Actor
from app.store.unit_of_work import UnitOfWork

MUNICIPALITY_EVENTS = frozenset({EventKind.MUNICIPALITY_RESPONSE, EventKind.SERVICES_STARTED})


async def check_municipality_sender(
    uow: UnitOfWork, episode: Episode, actor: Actor, kind: EventKind
) -> None:
    """Refuse a caller that may not send the municipality's ``kind`` notice on the episode."""
    reach = actor.reach
    municipality = episode.municipality_id
    if not (
        reach.matches(municipality, municipality)
        or any(reach.matches(unit, municipality) for unit in episode.receiving_units)
    ):
        raise Forbidden(
            f"a {kind.notice} notice on episode {episode.id} is sent by the receiving municipality "
            f"{municipality}; the caller acts for {actor.acting_id}"
        )
    if kind is not EventKind.MUNICIPALITY_RESPONSE or actor.acting_id == municipality:
        return
    unit = await uow.organizations.get(actor.acting_id)
    refusal = answer_refusal(actor.acting_id, unit.function if unit is not None else None)
    if refusal is not None:
        raise Forbidden(refusal)
