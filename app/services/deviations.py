"""Use cases of deviation reports: report, read, list, and move the handling on.

A report concerns an episode or a plan the reporter can see, and goes to the handling principal:
for an episode, the other side of the transition (the region's when a municipality reports, the
receiving municipality's when the region reports); for a plan, the principal named, which must
be one the plan is shared with. A general report (a failure of cooperation about no episode,
plan or person) names the organizations involved; it goes to the principal of one of them, and
their principals are parties to it. Within that principal it goes to the role that handles
deviations (a municipality's MAS, else its deviation handler; ``app.domain.staff``), at the
organization where the role is held, or to the principal itself when none is registered. Its
parties are the reporting organization and the handling one; only the handler moves it on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from app.domain.deviations import Deviation, DeviationCategory, DeviationState, StateChange
from app.domain.errors import InvalidInput, StaleVersion, UnknownReference
from app.domain.message_events import MessageEvent
from app.domain.parties import RecordType, Role, deviation_parties
from app.domain.staff import StaffRole, handling_role
from app.security.access import Actor, party_record, record, searched
from app.services import episodes as episode_service
from app.services import plans as plan_service
from app.services.ports import emit
from app.store.paging import AnyOf, Page
from app.store.unit_of_work import UnitOfWork

RESOURCE = "Task"


@dataclass(frozen=True, slots=True)
class Report:
    """A deviation as reported."""

    category: DeviationCategory
    description: str
    episode_id: str | None = None
    plan_id: str | None = None
    handler_principal_id: str | None = None
    organization_ids: tuple[str, ...] = ()


MAX_INVOLVED = 20


async def report(uow: UnitOfWork, actor: Actor, sent: Report, *, now: datetime) -> Deviation:
    """Report a deviation about an episode or a plan, or a general one naming the organizations
    involved, to the principal that must handle it."""
    if sent.episode_id is not None and sent.plan_id is not None:
        raise InvalidInput("a deviation concerns either an episode or a plan", field="episode_id")
    if sent.episode_id is None and sent.plan_id is None:
        return await _report_general(uow, actor, sent, now=now)
    if sent.organization_ids:
        raise InvalidInput(
            "only a general report (no episode, no plan) names the organizations involved",
            field="organization_ids",
        )
    handler = sent.handler_principal_id
    person_id: str | None
    if sent.episode_id is not None:
        episode = await episode_service.get_episode(uow, actor, sent.episode_id)
        person_id = episode.person_id
        principals = {episode.region_id, episode.municipality_id}
        if handler is None:
            handler = (
                episode.municipality_id
                if actor.principal_id == episode.region_id
                else episode.region_id
            )
    else:
        assert sent.plan_id is not None
        plan = await plan_service.get_plan(uow, actor, sent.plan_id)
        person_id = plan.person_id
        principals = set(plan.sharing_principals())
        if handler is None:
            raise InvalidInput(
                "name the principal that handles a deviation about a plan "
                f"(one of {', '.join(sorted(principals - {actor.principal_id})) or 'none'})",
                field="handler_principal_id",
            )
    if handler == actor.principal_id or handler not in principals:
        raise InvalidInput(
            f"{handler} cannot handle this deviation: the handler is another principal taking "
            f"part ({', '.join(sorted(principals - {actor.principal_id})) or 'none'})",
            field="handler_principal_id",
        )
    deviation = await _reported(
        uow,
        actor,
        sent,
        handler,
        now,
        person_id=person_id,
        episode_id=sent.episode_id,
        plan_id=sent.plan_id,
    )
    return await _store(uow, actor, deviation, (), now)


async def _report_general(
    uow: UnitOfWork, actor: Actor, sent: Report, *, now: datetime
) -> Deviation:
    """A failure of cooperation about no episode, plan or person, naming the organizations
    involved; it goes to one of their principals other than the reporter's."""
    named = sent.organization_ids
    if not named:
        raise InvalidInput(
            "a deviation concerns an episode or a plan, or, as a general failure of "
            "cooperation, names the organizations involved",
            field="organization_ids",
        )
    if len(named) > MAX_INVOLVED:
        raise InvalidInput(f"at most {MAX_INVOLVED} organizations", field="organization_ids")
    if len(set(named)) != len(named):
        raise InvalidInput("an organization is named twice", field="organization_ids")
    known = await uow.organizations.get_many(list(named))
    for index, org_id in enumerate(named):
        if org_id not in known:
            raise UnknownReference(
                f"unknown organization {org_id}", field=f"organization_ids[{index}]"
            )
    principals = set((await uow.parties.principals(list(named))).values())
    others = sorted(principals - {actor.principal_id})
    handler = sent.handler_principal_id
    if handler is None and len(others) == 1:
        handler = others[0]
    if handler is None or handler not in others:
        raise InvalidInput(
            f"{handler or 'no principal'} cannot handle this deviation: name, as the handler, the "
            f"principal of an involved organization other than the reporter's "
            f"({', '.join(others) or 'none is named'})",
            field="handler_principal_id",
        )
    deviation = await _reported(
        uow, actor, sent, handler, now, person_id=None, organizations=tuple(named)
    )
    return await _store(uow, actor, deviation, principals, now)


async def _reported(
    uow: UnitOfWork,
    actor: Actor,
    sent: Report,
    handler: str,
    now: datetime,
    *,
    person_id: str | None,
    episode_id: str | None = None,
    plan_id: str | None = None,
    organizations: tuple[str, ...] = (),
) -> Deviation:
    """A new deviation as the caller reported it, routed to where ``handler`` handles them;
    what it concerns (a person's episode or plan, or the organizations involved) is given."""
    handler_id, role_id = await route(uow, handler)
    return Deviation(
        id=str(uuid.uuid4()),
        person_id=person_id,
        category=sent.category,
        description=sent.description,
        reporter_id=actor.acting_id,
        reporter_principal_id=actor.principal_id,
        handler_principal_id=handler,
        handler_id=handler_id,
        handler_role_id=role_id,
        reported_at=now,
        episode_id=episode_id,
        plan_id=plan_id,
        organizations=organizations,
        history=[StateChange(DeviationState.REPORTED, now, actor.acting_id, None)],
    )


async def route(uow: UnitOfWork, handler_principal_id: str) -> tuple[str, str | None]:
    """Where a deviation to the principal is handled: the organization where its MAS (or
    deviation handler) works, else the principal; and that role, if one is registered."""
    principal = await uow.organizations.get(handler_principal_id)
    assert principal is not None
    role = handling_role(
        await uow.staff.roles_of_principal(
            handler_principal_id, (StaffRole.MAS, StaffRole.DEVIATION_HANDLER)
        ),
        principal,
    )
    if role is None:
        return handler_principal_id, None
    return role.organization_id, role.id


async def _store(
    uow: UnitOfWork,
    actor: Actor,
    deviation: Deviation,
    involved_principals: set[str] | tuple[str, ...],
    now: datetime,
) -> Deviation:
    await uow.deviations.add(deviation)
    await uow.parties.add(
        RecordType.DEVIATION,
        deviation.id,
        deviation.person_id,
        deviation_parties(deviation, involved_principals),
    )
    record(uow, actor, "create", RESOURCE, deviation.id, deviation.person_id)
    await announce(uow, actor, deviation, [deviation.handler_id], now)
    return deviation


async def announce(
    uow: UnitOfWork,
    actor: Actor | None,
    deviation: Deviation,
    receivers: list[str],
    now: datetime,
) -> None:
    """Queue the report (or its next step) for the other side: the handler, or the reporter."""
    payload: dict[str, object] = {
        "event": "deviation-report",
        "focus": f"Task/{deviation.id}",
        "occurred_at": now.isoformat(),
        "category": deviation.category.value,
        "state": deviation.state.value,
    }
    if deviation.person_id is not None:
        payload["person"] = f"Patient/{deviation.person_id}"
    if deviation.rule is not None:
        payload["raised_by_rule"] = deviation.rule
    await emit(
        uow,
        event=MessageEvent.DEVIATION_REPORT,
        stream=f"Task/{deviation.id}",
        person_id=deviation.person_id,
        receivers=receivers,
        payload=payload,
        now=now,
        sender=actor,
    )


async def get_deviation(
    uow: UnitOfWork, actor: Actor, deviation_id: str, *, action: str = "read"
) -> Deviation:
    """The report, if the caller is a party to it (reporter or handler); 404 (and a log entry)
    otherwise. For an ``update`` it is locked until the transaction ends: writers queue."""
    readers = (uow.checked.deviation_read, uow.deviations.get)
    return await party_record(
        uow, actor, (RecordType.DEVIATION, deviation_id), readers, action, (RESOURCE, "deviation")
    )


async def list_deviations(
    uow: UnitOfWork,
    actor: Actor,
    *,
    limit: int,
    after: str | None,
    role: str | None,
    person_id: AnyOf,
    state: AnyOf,
    category: AnyOf,
    ids: AnyOf = None,
) -> Page[Deviation]:
    """The reports the caller made (``reporter``) or handles (``handler``), filtered (a
    collection: any of its values)."""
    found = await uow.deviations.page(
        limit=limit,
        after=after,
        visible_to=actor.reach,
        role=role,
        person_id=person_id,
        state=state,
        category=category,
        ids=ids,
    )
    return searched(uow, actor, RESOURCE, found)


async def move(
    uow: UnitOfWork,
    actor: Actor,
    deviation_id: str,
    to: DeviationState,
    note: str | None,
    *,
    if_match: int | None,
    now: datetime,
) -> Deviation:
    """Move the handling on (investigating, answered, closed); only the handler does."""
    deviation = await get_deviation(uow, actor, deviation_id, action="update")
    parties = await uow.parties.of_record(RecordType.DEVIATION, deviation.id)
    by_handler = any(
        p.role is Role.HANDLER and actor.reach.matches(p.organization_id, p.principal_id)
        for p in parties
    )
    expected = deviation.version
    if if_match is not None and if_match != expected:
        raise StaleVersion(
            f"deviation {deviation_id} is at version {expected}, not {if_match}; read it again"
        )
    deviation.move(to, organization_id=actor.acting_id, by_handler=by_handler, note=note, at=now)
    await uow.deviations.save(deviation, expected_version=expected)
    await announce(uow, actor, deviation, [deviation.reporter_id, deviation.handler_id], now)
    return deviation
