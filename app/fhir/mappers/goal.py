"""A plan's goals → Goal (https://hl7.org/fhir/R4/goal.html).

Each of the person's own goals in the current version of a plan is a Goal of its own, so that a
``CarePlan?_include=CarePlan:goal`` search brings them along. Its id is the plan's id and the
goal's key (``common.part_id``); its version is the plan's.
"""

from __future__ import annotations

from typing import Any

from app.domain.plans import Goal, Plan, PlanStatus
from app.fhir.common import canonical, day, meta, part_id, ref

GOAL_IDS = canonical("NamingSystem", "plan-goal-id")
_STATUS = {
    PlanStatus.DRAFT: "proposed",
    PlanStatus.ACTIVE: "active",
    PlanStatus.COMPLETED: "completed",
    PlanStatus.CANCELLED: "cancelled",
}


def resource_id(plan: Plan, goal: Goal) -> str:
    """The Goal id of one of the plan's goals."""
    return part_id(plan.id, goal.id)


def to_fhir(plan: Plan, goal: Goal) -> dict[str, Any]:
    """The Goal resource of one of the plan's goals."""
    resource: dict[str, Any] = {
        "resourceType": "Goal",
        "id": resource_id(plan, goal),
        "meta": meta(plan.version, plan.last_changed_at),
        "identifier": [{"system": GOAL_IDS, "value": goal.id}],
        "lifecycleStatus": _STATUS[plan.status],
        "description": {"text": goal.description},
        "subject": ref("Patient", plan.person_id),
        # The goals of a coordinated plan are the person's own (HSL 16:4, SoL 2:7).
        "expressedBy": ref("Patient", plan.person_id),
    }
    if goal.target_date is not None:
        resource["target"] = [{"dueDate": day(goal.target_date)}]
    return resource
