"""Use cases of coordinated individual plans: initiate, revise, consent, activate, close.

A plan's parties are the organization that initiated it, the principals it is shared with (the
initiator's, and those the person consented to), and, of those principals, the units responsible
for its interventions and the coordinator's unit; to anyone else it does not exist. The parties
are kept in step with every change of content and consent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime

from app.domain.episodes import ZONES
from app.domain.errors import (
    InvalidInput,
    NotFound,
    StaleVersion,
    UnknownReference,
    VersionRequired,
)
from app.domain.message_events import MessageEvent
from app.domain.organizations import Organization, OrgKind
from app.domain.parties import RecordType, plan_parties
from app.domain.plans import (
    Basis,
    Consent,
    ConsentGiver,
    ConsentMethod,
    Coordinator,
    Goal,
    Initiator,
    InitiatorKind,
    Intervention,
    OtherContribution,
    OverdueFollowUp,
    Plan,
    PlanContent,
    PlanStatus,
    Withdrawal,
    overdue_follow_ups,
    validate_content,
)
from app.domain.representatives import Representative
from app.domain.staff import StaffRole
from app.security.access import Actor, access_entry, record, require_party, searched
from app.services.ports import emit, payload
from app.store.paging import AnyOf, Page
from app.store.unit_of_work import UnitOfWork

RESOURCE = "CarePlan"


@dataclass(frozen=True, slots=True)
class InterventionInput:
    """An intervention as sent: the responsible unit's principal is looked up."""

    id: str
    description: str
    responsible_unit_id: str | None = None
    frequency: str | None = None


@dataclass(frozen=True, slots=True)
class CoordinatorInput:
    """A coordinator as sent: the unit's principal is looked up. With a ``practitioner_role_id``
    (a coordinator role in the staff register) the name and unit come from the register."""

    name: str
    unit_id: str
    title: str | None = None
    chosen_with_person: bool = True
    practitioner_role_id: str | None = None


@dataclass(frozen=True, slots=True)
class ContentInput:
    """A plan's content as sent."""

    title: str
    goals: tuple[Goal, ...] = ()
    resources: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    interventions: tuple[InterventionInput, ...] = ()
    others: tuple[OtherContribution, ...] = ()
    responsible_principal_id: str | None = None
    coordinator: CoordinatorInput | None = None
    start_date: date | None = None
    planned_end_date: date | None = None
    follow_up_dates: tuple[date, ...] = ()
    basis: tuple[Basis, ...] = ()
    episode_id: str | None = None


def principal_of(org: Organization) -> str:
    """The principal an organization belongs to: a unit's parent, else itself."""
    return org.parent_id if org.kind is OrgKind.UNIT and org.parent_id else org.id


async def _registered_coordinator(uow: UnitOfWork, given: CoordinatorInput) -> CoordinatorInput:
    """The coordinator as the staff register names them."""
    assert given.practitioner_role_id is not None
    where = "coordinator.practitioner_role_id"
    role = await uow.staff.get_role(given.practitioner_role_id)
    if role is None or not role.active:
        raise UnknownReference(
            f"unknown practitioner role {given.practitioner_role_id}", field=where
        )
    if role.role is not StaffRole.COORDINATOR:
        raise InvalidInput(
            f"practitioner role {role.id} is a {role.role.value} role, not a coordinator",
            field=where,
        )
    if given.unit_id and given.unit_id != role.organization_id:
        raise InvalidInput(
            f"coordinator.unit_id {given.unit_id} is not where role {role.id} is held "
            f"({role.organization_id})",
            field="coordinator.unit_id",
        )
    practitioner = await uow.staff.get_practitioner(role.practitioner_id)
    assert practitioner is not None
    return CoordinatorInput(
        practitioner.name,
        role.organization_id,
        given.title or role.title,
        given.chosen_with_person,
        role.id,
    )


async def _resolve(uow: UnitOfWork, content: ContentInput) -> PlanContent:
    given = content.coordinator
    if given is not None and given.practitioner_role_id is not None:
        content = replace(content, coordinator=await _registered_coordinator(uow, given))
    elif given is not None:
        for name, value in (("unit_id", given.unit_id), ("name", given.name.strip())):
            if not value:
                raise InvalidInput(
                    f"the coordinator needs a {name}, or a practitioner_role_id from the "
                    "staff register",
                    field=f"coordinator.{name}",
                )
    wanted: dict[str, str] = {}
    for index, intervention in enumerate(content.interventions):
        if intervention.responsible_unit_id:
            wanted[f"interventions[{index}].responsible_unit_id"] = intervention.responsible_unit_id
    if content.coordinator is not None:
        wanted["coordinator.unit_id"] = content.coordinator.unit_id
    if content.responsible_principal_id is not None:
        wanted["responsible_principal_id"] = content.responsible_principal_id
    known = await uow.organizations.get_many(sorted(set(wanted.values())))
    for where, org_id in wanted.items():
        if org_id not in known:
            raise UnknownReference(f"unknown organization {org_id}", field=where)
    if content.responsible_principal_id is not None:
        principal = known[content.responsible_principal_id]
        if principal.kind is OrgKind.UNIT:
            raise InvalidInput(
                f"{principal.id} is a unit; overall responsibility lies with a principal "
                f"(here {principal.parent_id})",
                field="responsible_principal_id",
            )
    coordinator = None
    if content.coordinator is not None:
        unit = known[content.coordinator.unit_id]
        coordinator = Coordinator(
            content.coordinator.name,
            unit.id,
            principal_of(unit),
            content.coordinator.title,
            content.coordinator.chosen_with_person,
            content.coordinator.practitioner_role_id,
        )
    resolved = PlanContent(
        title=content.title,
        goals=content.goals,
        resources=content.resources,
        needs=content.needs,
        interventions=tuple(
            Intervention(
                i.id,
                i.description,
                i.responsible_unit_id,
                principal_of(known[i.responsible_unit_id]) if i.responsible_unit_id else None,
                i.frequency,
            )
            for i in content.interventions
        ),
        others=content.others,
        responsible_principal_id=content.responsible_principal_id,
        coordinator=coordinator,
        start_date=content.start_date,
        planned_end_date=content.planned_end_date,
        follow_up_dates=content.follow_up_dates,
        basis=content.basis,
        episode_id=content.episode_id,
    )
    validate_content(resolved)
    return resolved


async def _check_episode(
    uow: UnitOfWork, actor: Actor, person_id: str, content: PlanContent
) -> None:
    """The episode a plan follows is the same person's, and one the caller is a party to (an
    episode the caller may not see is answered as unknown, telling nothing of it)."""
    if content.episode_id is None:
        return
    episode = await uow.episodes.get(content.episode_id)
    if episode is None or not await uow.parties.within(RecordType.EPISODE, episode.id, actor.reach):
        raise UnknownReference(f"unknown episode {content.episode_id}", field="episode_id")
    if episode.person_id != person_id:
        raise InvalidInput(
            f"episode {episode.id} is another person's stay; a plan follows an episode of its "
            "own person",
            field="episode_id",
        )


async def create_plan(
    uow: UnitOfWork,
    actor: Actor,
    person_id: str,
    initiator_kind: InitiatorKind,
    initiator_name: str | None,
    content: ContentInput,
    *,
    now: datetime,
) -> Plan:
    """Initiate a plan as a draft, by a unit or as asked for by the person or someone close.

    Any person the caller can name by id: the plan is the caller's own record, and makes it a
    party to that record only.
    """
    person = await uow.persons.get(person_id)
    if person is None:
        raise UnknownReference(f"unknown person {person_id}", field="person_id")
    if initiator_kind is not InitiatorKind.UNIT and not initiator_name:
        raise InvalidInput(
            f"a plan asked for by the {initiator_kind.value.replace('-', ' ')} names who asked",
            field="initiated_by.name",
        )
    municipality = await uow.organizations.get(person.residence_municipality_id)
    assert municipality is not None
    resolved = await _resolve(uow, content)
    await _check_episode(uow, actor, person.id, resolved)
    plan = Plan(
        id=str(uuid.uuid4()),
        person_id=person.id,
        jurisdiction=municipality.jurisdiction.value,
        initiator=Initiator(initiator_kind, actor.acting_id, initiator_name),
        initiating_principal_id=actor.principal_id,
        content=resolved,
        created_at=now,
        updated_at=now,
    )
    await uow.plans.add(plan, organization_id=actor.acting_id, client_id=actor.client_id)
    await uow.parties.add(RecordType.PLAN, plan.id, person.id, plan_parties(plan))
    record(uow, actor, "create", RESOURCE, plan.id, person.id)
    return plan


async def get_plan(uow: UnitOfWork, actor: Actor, plan_id: str, *, action: str = "read") -> Plan:
    """The plan, if the caller is a party to it; 404 (and a log entry) otherwise.

    For an ``update`` it is locked until the transaction ends: concurrent writers queue.
    """
    if action == "read" and uow.logs_with_statement:
        # The read and its access-log row in one statement; a refusal is logged below.
        entry = access_entry(actor, "read", RESOURCE, plan_id, None)
        plan, within = await uow.checked.plan_read_logged(plan_id, actor.reach, entry)
        if plan is not None and within:
            uow.logged_access.append(replace(entry, person_id=plan.person_id))
            return plan
    else:
        plan, within = await uow.checked.plan(plan_id, actor.reach, for_update=action == "update")
    await require_party(
        uow,
        actor,
        RecordType.PLAN,
        plan_id,
        exists=plan is not None,
        person_id=plan.person_id if plan else None,
        action=action,
        resource_type=RESOURCE,
        kind="plan",
        within=within,
    )
    assert plan is not None
    return plan


def _check_version(plan: Plan, if_match: int | None, *, required: bool) -> int:
    if if_match is None:
        if required:
            raise VersionRequired(
                f'a revision names the version it was made against: If-Match: W/"{plan.version}"'
            )
        return plan.version
    if if_match != plan.version:
        raise StaleVersion(
            f"plan {plan.id} is at version {plan.version}, the request was made against version "
            f"{if_match}; read it again"
        )
    return if_match


async def _save(
    uow: UnitOfWork, actor: Actor, plan: Plan, expected: int, *, change: str, now: datetime
) -> Plan:
    await uow.plans.save(
        plan,
        expected_version=expected,
        organization_id=actor.acting_id,
        client_id=actor.client_id,
    )
    await uow.parties.keep(RecordType.PLAN, plan.id, plan.person_id, plan_parties(plan))
    await _announce(uow, actor, plan, change, now)
    return plan


async def _announce(uow: UnitOfWork, actor: Actor, plan: Plan, change: str, now: datetime) -> None:
    """Queue the new version for the principals the plan is shared with now.

    A principal whose sharing was just withdrawn is no longer among them, and is not told.
    """
    await emit(
        uow,
        event=MessageEvent.CAREPLAN_REVISED,
        stream=f"CarePlan/{plan.id}",
        person_id=plan.person_id,
        receivers=sorted(plan.sharing_principals()),
        payload=payload(
            MessageEvent.CAREPLAN_REVISED,
            f"CarePlan/{plan.id}",
            plan.person_id,
            now,
            change=change,
            status=plan.status.value,
            version=plan.version,
        ),
        now=now,
        sender=actor,
    )


async def revise_plan(
    uow: UnitOfWork,
    actor: Actor,
    plan_id: str,
    content: ContentInput | Callable[[Plan], ContentInput],
    *,
    if_match: int | None,
    now: datetime,
) -> Plan:
    """Replace the plan's content as a new version; ``If-Match`` is required.

    ``content`` may be built from the current plan (a FHIR CarePlan that refers to the plan's own
    goals and care team), after the caller's access to it is checked.
    """
    plan = await get_plan(uow, actor, plan_id, action="update")
    expected = _check_version(plan, if_match, required=True)
    wanted = content(plan) if callable(content) else content
    resolved = await _resolve(uow, wanted)
    if resolved.episode_id != plan.content.episode_id:
        await _check_episode(uow, actor, plan.person_id, resolved)
    plan.revise(resolved, now=now)
    return await _save(uow, actor, plan, expected, change="revised", now=now)


async def _principals(uow: UnitOfWork, ids: tuple[str, ...], field: str) -> None:
    known = await uow.organizations.get_many(list(ids))
    for index, org_id in enumerate(ids):
        org = known.get(org_id)
        if org is None:
            raise UnknownReference(f"unknown organization {org_id}", field=f"{field}[{index}]")
        if org.kind is OrgKind.UNIT:
            raise InvalidInput(
                f"{org_id} is a unit; consent names principals (here {org.parent_id})",
                field=f"{field}[{index}]",
            )


async def add_consent(
    uow: UnitOfWork,
    actor: Actor,
    plan_id: str,
    *,
    given_by: ConsentGiver,
    given_at: datetime,
    method: ConsentMethod,
    share_with: tuple[str, ...],
    representative_name: str | None,
    if_match: int | None,
    now: datetime,
    representatives: tuple[Representative, ...] = (),
) -> tuple[Plan, Consent]:
    """Record the consent of the person (or a representative) and with whom the plan is shared."""
    plan = await get_plan(uow, actor, plan_id, action="update")
    expected = _check_version(plan, if_match, required=False)
    await _principals(uow, share_with, "share_with")
    consent = Consent(
        id=str(uuid.uuid4()),
        given_by=given_by,
        given_at=given_at,
        method=method,
        share_with=tuple(dict.fromkeys(share_with)),
        recorded_by=actor.acting_id,
        representative_name=representative_name,
        representatives=representatives,
    )
    plan.add_consent(consent, now=now)
    return await _save(uow, actor, plan, expected, change="consent-recorded", now=now), consent


async def withdraw_consent(
    uow: UnitOfWork,
    actor: Actor,
    plan_id: str,
    consent_id: str,
    *,
    at: datetime,
    principal_ids: tuple[str, ...],
    if_match: int | None,
    now: datetime,
) -> Plan:
    """Record a withdrawal; sharing with the named principals (or all) stops from ``at``."""
    plan = await get_plan(uow, actor, plan_id, action="update")
    expected = _check_version(plan, if_match, required=False)
    plan.withdraw(
        Withdrawal(consent_id, at, tuple(dict.fromkeys(principal_ids)), actor.acting_id),
        now=now,
    )
    return await _save(uow, actor, plan, expected, change="consent-withdrawn", now=now)


async def change_status(
    uow: UnitOfWork,
    actor: Actor,
    plan_id: str,
    to: PlanStatus,
    *,
    reason: str | None,
    if_match: int | None,
    now: datetime,
) -> Plan:
    """Activate, complete or cancel a plan."""
    plan = await get_plan(uow, actor, plan_id, action="update")
    expected = _check_version(plan, if_match, required=False)
    if to is PlanStatus.ACTIVE:
        plan.activate(now=now)
    elif to is PlanStatus.COMPLETED:
        plan.complete(now=now, reason=reason)
    elif to is PlanStatus.CANCELLED:
        if not reason:
            raise InvalidInput("cancelling a plan gives a reason", field="reason")
        plan.cancel(now=now, reason=reason)
    else:
        raise InvalidInput(f"a plan cannot be moved to {to.value}", field="status")
    return await _save(uow, actor, plan, expected, change=to.value, now=now)


async def list_plans(
    uow: UnitOfWork,
    actor: Actor,
    *,
    limit: int,
    after: str | None,
    person_id: AnyOf,
    status: AnyOf,
    ids: AnyOf = None,
    jurisdiction: AnyOf = None,
) -> Page[Plan]:
    """The plans the caller is a party to, filtered (a collection: any of its values)."""
    found = await uow.plans.page(
        limit=limit,
        after=after,
        visible_to=actor.reach,
        person_id=person_id,
        status=status,
        ids=ids,
        jurisdiction=jurisdiction,
    )
    return searched(uow, actor, RESOURCE, found)


async def plan_history(
    uow: UnitOfWork, actor: Actor, plan_id: str
) -> tuple[Plan, list[tuple[int, str, datetime, str]]]:
    """The plan and the list of its versions."""
    plan = await get_plan(uow, actor, plan_id)
    return plan, await uow.plans.versions(plan_id)


async def plan_version(uow: UnitOfWork, actor: Actor, plan_id: str, version: int) -> Plan:
    """The plan as it was at one version (readable by its parties now)."""
    await get_plan(uow, actor, plan_id)
    old = await uow.plans.get_version(plan_id, version)
    if old is None:
        raise NotFound(f"plan {plan_id} has no version {version}")
    return old


async def overdue(
    uow: UnitOfWork,
    actor: Actor,
    *,
    now: datetime,
    as_of: date | None = None,
    responsible_principal_id: str | None,
) -> list[tuple[Plan, OverdueFollowUp]]:
    """Follow-ups of the caller's active plans that passed without a meeting.

    A follow-up date is overdue from the local day after it: "today" is ``as_of``, else the
    date ``now`` falls on in the plan's jurisdiction (Europe/Stockholm, Europe/Oslo), not in UTC,
    so a follow-up due yesterday is overdue from local midnight on.
    """
    plans = await uow.plans.active_visible_to(actor.reach)
    if responsible_principal_id is not None:
        plans = [p for p in plans if p.content.responsible_principal_id == responsible_principal_id]
    held = await uow.meetings.held_of_plans([p.id for p in plans])
    result = []
    for plan in plans:
        today = as_of or now.astimezone(ZONES[plan.jurisdiction]).date()
        missed = overdue_follow_ups(plan, held.get(plan.id, []), today=today)
        if missed:
            record(uow, actor, "search", RESOURCE, plan.id, plan.person_id)
        result += [(plan, late) for late in missed]
    return result
