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

from app.domain.errors import InvalidInput
from app.domain.plans import Basis, BasisKind, Goal, OtherContribution, Plan, PlanStatus
from app.domain.values import parse_day
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
from app.fhir.parse import literal, organization_of
from app.services.plans import ContentInput as PlanContentInput
from app.services.plans import CoordinatorInput, InterventionInput

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


def _strings(resource: dict[str, Any], url: str) -> tuple[str, ...]:
    found = []
    for index, extension in enumerate(resource.get("extension") or []):
        if extension.get("url") == url:
            value = extension.get("valueString")
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(
                    f"{url} carries its text as valueString", field=f"CarePlan.extension[{index}]"
                )
            found.append(value)
    return tuple(found)


def _complex(
    resource: dict[str, Any], url: str, required: tuple[str, ...]
) -> list[tuple[int, dict[str, str]]]:
    """Each ``url`` extension's index and parts by name; a missing required part is refused."""
    found = []
    for index, extension in enumerate(resource.get("extension") or []):
        if extension.get("url") != url:
            continue
        parts = {
            str(p.get("url")): str(p.get("valueString") or p.get("valueCode") or "")
            for p in extension.get("extension") or []
        }
        missing = [name for name in required if not parts.get(name)]
        if missing:
            raise InvalidInput(
                f"{url} needs the part(s) {', '.join(missing)}",
                field=f"CarePlan.extension[{index}]",
            )
        found.append((index, parts))
    return found


def _basis(resource: dict[str, Any]) -> tuple[Basis, ...]:
    kinds = {b.value for b in BasisKind}
    basis = []
    for index, parts in _complex(resource, BASIS, ("kind", "reference")):
        if parts["kind"] not in kinds:
            raise InvalidInput(
                f"plan-basis kind is one of {', '.join(sorted(kinds))}",
                field=f"CarePlan.extension[{index}].extension('kind').value",
            )
        basis.append(
            Basis(BasisKind(parts["kind"]), parts["reference"], parts.get("description") or None)
        )
    return tuple(basis)


def _role(member: dict[str, Any]) -> str | None:
    for role in member.get("role") or []:
        for code in role.get("coding") or []:
            if code.get("system") == CARE_TEAM_ROLE:
                return str(code.get("code"))
    return None


def _goals(resource: dict[str, Any], contained: dict[Any, Any], current: Plan | None) -> list[Goal]:
    own = {goal_mapper.resource_id(current, g): g for g in current.content.goals} if current else {}
    goals = []
    for index, reference in enumerate(resource.get("goal") or []):
        value = reference.get("reference") or ""
        if value.startswith("Goal/"):
            if value[5:] not in own:
                raise InvalidInput(
                    f"{value} is not a goal of this plan; send new goals contained",
                    field=f"CarePlan.goal[{index}]",
                )
            goals.append(own[value[5:]])
            continue
        goal = contained.get(value.lstrip("#"))
        if goal is None or goal.get("resourceType") != "Goal":
            raise InvalidInput(
                f"{value or 'the reference'} names no contained Goal",
                field=f"CarePlan.goal[{index}]",
            )
        goal_id = next(
            (i.get("value") for i in goal.get("identifier") or [] if i.get("system") == GOAL_IDS),
            str(goal.get("id", "")),
        )
        target = (goal.get("target") or [{}])[0].get("dueDate")
        goals.append(
            Goal(
                goal_id,
                (goal.get("description") or {}).get("text", ""),
                parse_day(target, "CarePlan.goal.target.dueDate") if target else None,
            )
        )
    return goals


def from_fhir(resource: dict[str, Any], current: Plan | None = None) -> PlanContentInput:
    """A plan's content from a CarePlan (the inverse mapping).

    New goals, the coordinator and the care team are read from contained resources; on a
    revision (``current``), references to the plan's own Goals and CareTeam keep what they name.
    Needs, resources, what others do and the plans it builds on come from the service's
    extensions; notes and ``supportingInfo`` are for human readers and are not read.
    """
    contained = {c.get("id"): c for c in resource.get("contained") or []}
    goals = _goals(resource, contained, current)
    interventions = []
    for index, activity in enumerate(resource.get("activity") or []):
        detail = activity.get("detail") or {}
        performer = organization_of((detail.get("performer") or [None])[0])
        interventions.append(
            InterventionInput(
                activity.get("id") or f"i{index + 1}",
                detail.get("description", ""),
                performer,
                detail.get("scheduledString"),
            )
        )
    coordinator = None
    responsible = None
    team: dict[str, Any] = {}
    for index, reference in enumerate(resource.get("careTeam") or []):
        value = reference.get("reference") or ""
        if current is not None and value == f"CareTeam/{current.id}":
            kept = current.content.coordinator
            if kept is not None:
                coordinator = CoordinatorInput(
                    kept.name,
                    kept.unit_id,
                    kept.title,
                    kept.chosen_with_person,
                    kept.practitioner_role_id,
                )
            responsible = current.content.responsible_principal_id
        elif value.startswith("#") and value[1:] in contained:
            team = contained[value[1:]]
        else:
            raise InvalidInput(
                f"{value or 'the reference'} is neither this plan's CareTeam nor a contained one",
                field=f"CarePlan.careTeam[{index}]",
            )
    members = team.get("participant") or []
    # The coordinator's unit: a member of its own (as we write it), or, beside a coordinator
    # named without a PractitionerRole, what they act on behalf of.
    own_unit = next(
        (organization_of(m.get("member")) for m in members if _role(m) == "coordinator-unit"),
        None,
    )
    for member in members:
        role = _role(member)
        if role == "coordinator":
            who = member.get("member") or {}
            reference = who.get("reference") or ""
            practitioner = contained.get(reference.lstrip("#"), {})
            name = ((practitioner.get("name") or [{}])[0]).get("text") or who.get("display", "")
            unit = own_unit or organization_of(member.get("onBehalfOf"))
            named = literal(reference)
            role_id = named.id if named is not None and named.kind == "PractitionerRole" else None
            if unit or role_id:
                coordinator = CoordinatorInput(name, unit or "", practitioner_role_id=role_id)
        elif role == "responsible-principal":
            responsible = organization_of(member.get("member"))
    others = [
        OtherContribution(p["who"], p["relation"], p["contribution"])
        for _index, p in _complex(resource, OTHER, ("who", "relation", "contribution"))
    ]
    period = resource.get("period") or {}
    encounter = (resource.get("encounter") or {}).get("reference") or ""
    kind, _sep, episode_id = encounter.partition("/")
    if encounter and (kind != "Encounter" or not episode_id):
        raise InvalidInput(
            "CarePlan.encounter refers to the Encounter (Encounter/<id>) the plan follows",
            field="CarePlan.encounter",
        )
    return PlanContentInput(
        title=resource.get("title") or "",
        goals=tuple(goals),
        resources=_strings(resource, RESOURCE),
        needs=_strings(resource, NEED),
        interventions=tuple(interventions),
        others=tuple(others),
        responsible_principal_id=responsible,
        coordinator=coordinator,
        start_date=parse_day(period["start"], "CarePlan.period.start")
        if period.get("start")
        else None,
        planned_end_date=parse_day(period["end"], "CarePlan.period.end")
        if period.get("end")
        else None,
        follow_up_dates=tuple(
            parse_day(e["valueDate"], "CarePlan.extension(follow-up-date)")
            for e in resource.get("extension") or []
            if e.get("url") == FOLLOW_UP and e.get("valueDate")
        ),
        basis=_basis(resource),
        episode_id=episode_id or None,
    )
