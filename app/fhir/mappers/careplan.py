"""Plan → CarePlan (https://hl7.org/fhir/R4/careplan.html) with its goals and care team.

The plan's goals (Goal), its coordinator (Practitioner) and its participants (CareTeam) travel
contained in the CarePlan, so one read gives the whole plan as the law describes it. Needs,
resources and what others do are notes; the plans it builds on are ``supportingInfo``. A revision
``replaces`` the version before it.
"""

from __future__ import annotations

from typing import Any

from app.domain.plans import Plan, PlanStatus
from app.fhir.common import canonical, concept, day, instant, meta, ref

PLAN_CATEGORY = canonical("CodeSystem", "plan-category")
CARE_TEAM_ROLE = canonical("CodeSystem", "care-team-role")
GOAL_ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
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
_GOAL_STATUS = {
    PlanStatus.DRAFT: "proposed",
    PlanStatus.ACTIVE: "active",
    PlanStatus.COMPLETED: "completed",
    PlanStatus.CANCELLED: "cancelled",
}


def to_fhir(plan: Plan) -> dict[str, Any]:
    """The CarePlan resource of a plan at its version."""
    content = plan.content
    subject = ref("Patient", plan.person_id)
    contained: list[dict[str, Any]] = []
    for goal in content.goals:
        resource: dict[str, Any] = {
            "resourceType": "Goal",
            "id": f"goal-{goal.id}",
            "lifecycleStatus": _GOAL_STATUS[plan.status],
            "description": {"text": goal.description},
            "subject": subject,
        }
        if goal.target_date is not None:
            resource["target"] = [{"dueDate": day(goal.target_date)}]
        contained.append(resource)
    members: list[dict[str, Any]] = []
    if content.coordinator is not None:
        coordinator = content.coordinator
        practitioner: dict[str, Any] = {
            "resourceType": "Practitioner",
            "id": "coordinator",
            "name": [{"text": coordinator.name}],
        }
        contained.append(practitioner)
        members.append(
            {
                "role": [concept(CARE_TEAM_ROLE, "coordinator", "Coordinator")],
                "member": {"reference": "#coordinator", "display": coordinator.name},
                "onBehalfOf": ref("Organization", coordinator.unit_id),
            }
        )
    if content.responsible_principal_id is not None:
        members.append(
            {
                "role": [
                    concept(CARE_TEAM_ROLE, "responsible-principal", "Overall responsibility")
                ],
                "member": ref("Organization", content.responsible_principal_id),
            }
        )
    for principal in sorted(plan.sharing_principals()):
        members.append(
            {
                "role": [concept(CARE_TEAM_ROLE, "participant", "Participating principal")],
                "member": ref("Organization", principal),
            }
        )
    for other in content.others:
        members.append(
            {
                "role": [concept(CARE_TEAM_ROLE, "relative-or-other", other.relation)],
                "member": {"display": other.who},
            }
        )
    contained.append(
        {
            "resourceType": "CareTeam",
            "id": "team",
            "status": "active" if plan.status is PlanStatus.ACTIVE else "proposed",
            "subject": subject,
            "participant": members,
        }
    )
    notes = (
        [f"Need: {n}" for n in content.needs]
        + [f"Resource: {r}" for r in content.resources]
        + [f"{o.who} ({o.relation}): {o.contribution}" for o in content.others]
    )
    resource = {
        "resourceType": "CarePlan",
        "id": plan.id,
        "meta": meta(plan.version, plan.updated_at),
        "contained": contained,
        "status": _STATUS[plan.status],
        "intent": "plan",
        "category": [concept(PLAN_CATEGORY, plan.category)],
        "title": content.title,
        "subject": subject,
        "created": instant(plan.created_at),
        "author": ref("Organization", plan.initiator.organization_id),
        "careTeam": [{"reference": "#team"}],
    }
    period: dict[str, Any] = {}
    if content.start_date is not None:
        period["start"] = day(content.start_date)
    if content.planned_end_date is not None:
        period["end"] = day(content.planned_end_date)
    if period:
        resource["period"] = period
    if plan.version > 1:
        resource["replaces"] = [{"reference": f"CarePlan/{plan.id}/_history/{plan.version - 1}"}]
    if content.basis:
        resource["supportingInfo"] = [
            {"display": f"{b.kind.value}: {b.reference}"} for b in content.basis
        ]
    if content.goals:
        resource["goal"] = [{"reference": f"#goal-{g.id}"} for g in content.goals]
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
            activities.append({"detail": detail})
        resource["activity"] = activities
    if notes:
        resource["note"] = [{"text": text} for text in notes]
    if plan.status_reason:
        resource.setdefault("note", []).append({"text": f"Status: {plan.status_reason}"})
    if content.follow_up_dates:
        resource.setdefault("extension", []).extend(
            {"url": canonical("StructureDefinition", "follow-up-date"), "valueDate": day(d)}
            for d in content.follow_up_dates
        )
    return resource
