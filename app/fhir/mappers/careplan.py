"""Plan → CarePlan (https://hl7.org/fhir/R4/careplan.html).

The plan's goals are Goal resources and its coordinator and participants a CareTeam, referenced
from the CarePlan (``_include=CarePlan:goal`` and ``CarePlan:care-team`` bring them along). Needs,
resources, what others do and the plans it builds on travel in the service's extensions
(``plan-need``, ``plan-resource``, ``plan-other-contribution``, ``plan-basis``, served as
StructureDefinitions); the plans it builds on are also named in ``supportingInfo`` for a human
reader. A revision is a new version of the same CarePlan (``_history``), never a CarePlan that
``replaces`` another: the domain has no plan that supersedes a different plan, so ``replaces`` is
not used. A ``note`` is narrative only (the reason for the status): what a client sends in notes
is not read.

A client writing a plan sends its goals, coordinator and care team contained in the CarePlan;
when it sends back what it read, the references to the plan's own Goals and CareTeam keep them.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.careteam import CareTeam, CareTeamParticipant
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.goal import Goal as GoalResource
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.resource import Resource as FhirResource

from app.domain.errors import InvalidInput
from app.domain.plans import Basis, BasisKind, Goal, OtherContribution, Plan, PlanStatus
from app.fhir.common import (
    canonical,
    concept,
    day,
    extension_url,
    instant,
    meta,
    ref,
)
from app.fhir.mappers import goal as goal_mapper
from app.fhir.parse import Literal, contained_id, identifier_in, literal, organization_of
from app.fhir.parse import day as parse_day
from app.services.plans import ContentInput as PlanContentInput
from app.services.plans import CoordinatorInput, InterventionInput

# The version of ``to_fhir``'s output, stored with each CarePlan projection (the read model,
# ``app.fhir.projections``): raise it with any change to what ``to_fhir`` writes, then run
# ``samverkan projections rebuild``; until then reads map the plans again.
MAPPER_VERSION = 2  # 2: instants always to the microsecond
PLAN_CATEGORY = canonical("CodeSystem", "plan-category")
CARE_TEAM_ROLE = canonical("CodeSystem", "care-team-role")
GOAL_IDS = goal_mapper.GOAL_IDS
_STATUS = {
    PlanStatus.DRAFT: "draft",
    PlanStatus.ACTIVE: "active",
    PlanStatus.COMPLETED: "completed",
    PlanStatus.CANCELLED: "revoked",
}
_ACTIVITY_STATUS = {
    PlanStatus.DRAFT: "not-started",
    PlanStatus.ACTIVE: "in-progress",
    PlanStatus.COMPLETED: "completed",
    PlanStatus.CANCELLED: "cancelled",
}


def to_fhir(plan: Plan) -> dict[str, Any]:
    """The CarePlan resource of a plan at its version."""
    content = plan.content
    subject = ref("Patient", plan.person_id)
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": plan.id,
        "meta": meta(plan.version, plan.last_changed_at),
        "status": _STATUS[plan.status],
        "intent": "plan",
        "category": [concept(PLAN_CATEGORY, plan.category)],
        "title": content.title,
        "subject": subject,
        "created": instant(plan.created_at),
        "author": ref("Organization", plan.initiator.organization_id),
        "careTeam": [ref("CareTeam", plan.id)],
    }
    if content.episode_id is not None:
        resource["encounter"] = ref("Encounter", content.episode_id)
    period: dict[str, Any] = {}
    if content.start_date is not None:
        period["start"] = day(content.start_date)
    if content.planned_end_date is not None:
        period["end"] = day(content.planned_end_date)
    if period:
        resource["period"] = period
    if content.basis:
        resource["supportingInfo"] = [
            {"display": f"{b.kind.value}: {b.reference}"} for b in content.basis
        ]
    if content.goals:
        resource["goal"] = [ref("Goal", goal_mapper.resource_id(plan, g)) for g in content.goals]
    if content.interventions:
        activities = []
        for intervention in content.interventions:
            detail: dict[str, Any] = {
                "status": _ACTIVITY_STATUS[plan.status],
                "description": intervention.description,
            }
            if intervention.responsible_unit_id:
                detail["performer"] = [ref("Organization", intervention.responsible_unit_id)]
            if intervention.frequency:
                detail["scheduledString"] = intervention.frequency
            activities.append({"id": intervention.id, "detail": detail})
        resource["activity"] = activities
    if plan.status_reason:
        resource["note"] = [{"text": f"Status: {plan.status_reason}"}]
    extensions = _content_extensions(plan)
    if extensions:
        resource["extension"] = extensions
    return resource


FOLLOW_UP = extension_url("follow-up-date")
NEED = extension_url("plan-need")
RESOURCE = extension_url("plan-resource")
OTHER = extension_url("plan-other-contribution")
BASIS = extension_url("plan-basis")


def _parts(url: str, **parts: str | None) -> dict[str, Any]:
    """A complex extension: one ``valueString`` (``valueCode`` for a kind) per given part."""
    return {
        "url": url,
        "extension": [
            {"url": name, "valueCode" if name == "kind" else "valueString": value}
            for name, value in parts.items()
            if value
        ],
    }


def _content_extensions(plan: Plan) -> list[dict[str, Any]]:
    content = plan.content
    return (
        [{"url": NEED, "valueString": n} for n in content.needs]
        + [{"url": RESOURCE, "valueString": r} for r in content.resources]
        + [
            _parts(OTHER, who=o.who, relation=o.relation, contribution=o.contribution)
            for o in content.others
        ]
        + [
            _parts(BASIS, kind=b.kind.value, reference=b.reference, description=b.description)
            for b in content.basis
        ]
        + [{"url": FOLLOW_UP, "valueDate": day(d)} for d in content.follow_up_dates]
    )


def _strings(extensions: list[Extension], url: str) -> tuple[str, ...]:
    found = []
    for index, extension in enumerate(extensions):
        if extension.url == url:
            value = extension.valueString
            if not value or not value.strip():
                raise InvalidInput(
                    f"{url} carries its text as valueString", field=f"CarePlan.extension[{index}]"
                )
            found.append(value)
    return tuple(found)


def _complex(
    extensions: list[Extension], url: str, required: tuple[str, ...]
) -> list[tuple[int, dict[str, str]]]:
    """Each ``url`` extension's index and parts by name; a missing required part is refused."""
    found = []
    for index, extension in enumerate(extensions):
        if extension.url != url:
            continue
        parts = {
            str(p.url): str(p.valueString or p.valueCode or "") for p in extension.extension or []
        }
        missing = [name for name in required if not parts.get(name)]
        if missing:
            raise InvalidInput(
                f"{url} needs the part(s) {', '.join(missing)}",
                field=f"CarePlan.extension[{index}]",
            )
        found.append((index, parts))
    return found


def _basis(extensions: list[Extension]) -> tuple[Basis, ...]:
    kinds = {b.value for b in BasisKind}
    basis = []
    for index, parts in _complex(extensions, BASIS, ("kind", "reference")):
        if parts["kind"] not in kinds:
            raise InvalidInput(
                f"plan-basis kind is one of {', '.join(sorted(kinds))}",
                field=f"CarePlan.extension[{index}].extension('kind').value",
            )
        basis.append(
            Basis(BasisKind(parts["kind"]), parts["reference"], parts.get("description") or None)
        )
    return tuple(basis)


def _role(member: CareTeamParticipant) -> str | None:
    for role in member.role or []:
        for code in role.coding or []:
            if code.system == CARE_TEAM_ROLE:
                return str(code.code)
    return None


def _goals(
    resource: CarePlan, contained: dict[str | None, FhirResource], current: Plan | None
) -> list[Goal]:
    own = {goal_mapper.resource_id(current, g): g for g in current.content.goals} if current else {}
    goals = []
    for index, reference in enumerate(resource.goal or []):
        named = literal(reference.reference)
        if named is not None and named.kind == "Goal":
            if named.id not in own:
                raise InvalidInput(
                    f"{named} is not a goal of this plan; send new goals contained",
                    field=f"CarePlan.goal[{index}]",
                )
            goals.append(own[named.id])
            continue
        goal = contained.get(contained_id(reference))
        if not isinstance(goal, GoalResource):
            raise InvalidInput(
                f"{reference.reference or 'the reference'} names no contained Goal",
                field=f"CarePlan.goal[{index}]",
            )
        goal_id = identifier_in(goal.identifier, GOAL_IDS) or str(goal.id or "")
        target = goal.target[0].dueDate if goal.target else None
        goals.append(
            Goal(
                goal_id,
                goal.description.text or "",
                parse_day(target, "CarePlan.goal.target.dueDate") if target else None,
            )
        )
    return goals


def _interventions(resource: CarePlan) -> tuple[InterventionInput, ...]:
    interventions = []
    for index, activity in enumerate(resource.activity or []):
        detail = activity.detail
        performers = (detail.performer if detail is not None else None) or []
        interventions.append(
            InterventionInput(
                activity.id or f"i{index + 1}",
                (detail.description if detail is not None else None) or "",
                organization_of(performers[0]) if performers else None,
                detail.scheduledString if detail is not None else None,
            )
        )
    return tuple(interventions)


def _kept_coordinator(current: Plan) -> CoordinatorInput | None:
    kept = current.content.coordinator
    if kept is None:
        return None
    return CoordinatorInput(
        kept.name, kept.unit_id, kept.title, kept.chosen_with_person, kept.practitioner_role_id
    )


def _team(
    resource: CarePlan, contained: dict[str | None, FhirResource], current: Plan | None
) -> tuple[CoordinatorInput | None, str | None]:
    """The coordinator and the responsible principal: the plan's own CareTeam kept, or read from
    a contained one."""
    coordinator = None
    responsible = None
    team: CareTeam | None = None
    for index, reference in enumerate(resource.careTeam or []):
        named = literal(reference.reference)
        local = contained.get(contained_id(reference))
        if current is not None and named == Literal("CareTeam", current.id):
            coordinator = _kept_coordinator(current)
            responsible = current.content.responsible_principal_id
        elif isinstance(local, CareTeam):
            team = local
        else:
            raise InvalidInput(
                f"{reference.reference or 'the reference'} is neither this plan's CareTeam nor "
                "a contained one",
                field=f"CarePlan.careTeam[{index}]",
            )
    members = (team.participant if team is not None else None) or []
    # The coordinator's unit: a member of its own (as we write it), or, beside a coordinator
    # named without a PractitionerRole, what they act on behalf of.
    own_unit = next(
        (organization_of(m.member) for m in members if _role(m) == "coordinator-unit"), None
    )
    for member in members:
        role = _role(member)
        if role == "coordinator":
            practitioner = contained.get(contained_id(member.member))
            names = practitioner.name if isinstance(practitioner, Practitioner) else None
            display = member.member.display if member.member is not None else None
            name = (names[0].text if names else None) or display or ""
            unit = own_unit or organization_of(member.onBehalfOf)
            named = literal(member.member.reference if member.member is not None else None)
            role_id = named.id if named is not None and named.kind == "PractitionerRole" else None
            if unit or role_id:
                coordinator = CoordinatorInput(name, unit or "", practitioner_role_id=role_id)
        elif role == "responsible-principal":
            responsible = organization_of(member.member)
    return coordinator, responsible


def from_fhir(resource: CarePlan, current: Plan | None = None) -> PlanContentInput:
    """A plan's content from a CarePlan (the inverse mapping).

    New goals, the coordinator and the care team are read from contained resources; on a
    revision (``current``), references to the plan's own Goals and CareTeam keep what they name.
    Needs, resources, what others do and the plans it builds on come from the service's
    extensions; notes and ``supportingInfo`` are for human readers and are not read.
    """
    contained: dict[str | None, FhirResource] = {c.id: c for c in resource.contained or []}
    extensions = resource.extension or []
    coordinator, responsible = _team(resource, contained, current)
    others = [
        OtherContribution(p["who"], p["relation"], p["contribution"])
        for _index, p in _complex(extensions, OTHER, ("who", "relation", "contribution"))
    ]
    period = resource.period
    encounter = resource.encounter.reference if resource.encounter is not None else None
    episode = literal(encounter)
    if encounter and (episode is None or episode.kind != "Encounter"):
        raise InvalidInput(
            "CarePlan.encounter refers to the Encounter (Encounter/<id>) the plan follows",
            field="CarePlan.encounter",
        )
    start = period.start if period is not None else None
    end = period.end if period is not None else None
    return PlanContentInput(
        title=resource.title or "",
        goals=tuple(_goals(resource, contained, current)),
        resources=_strings(extensions, RESOURCE),
        needs=_strings(extensions, NEED),
        interventions=_interventions(resource),
        others=tuple(others),
        responsible_principal_id=responsible,
        coordinator=coordinator,
        start_date=parse_day(start, "CarePlan.period.start") if start else None,
        planned_end_date=parse_day(end, "CarePlan.period.end") if end else None,
        follow_up_dates=tuple(
            parse_day(e.valueDate, "CarePlan.extension(follow-up-date)")
            for e in extensions
            if e.url == FOLLOW_UP and e.valueDate
        ),
        basis=_basis(extensions),
        episode_id=episode.id if episode is not None else None,
    )
