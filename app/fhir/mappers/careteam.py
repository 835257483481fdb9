"""A plan's coordinator and participants → CareTeam (https://hl7.org/fhir/R4/careteam.html).

One CareTeam per plan, with the plan's id: the coordinator (their PractitionerRole in the staff
register when the plan names one, else by name) and the unit employing them, the principal with
overall responsibility, every principal the plan is shared with, and relatives
and others with what they do.
"""

from __future__ import annotations

from typing import Any

from app.domain.plans import Plan, PlanStatus
from app.fhir.common import canonical, concept, meta, ref

CARE_TEAM_ROLE = canonical("CodeSystem", "care-team-role")
_STATUS = {
    PlanStatus.DRAFT: "proposed",
    PlanStatus.ACTIVE: "active",
    PlanStatus.COMPLETED: "inactive",
    PlanStatus.CANCELLED: "inactive",
}


def to_fhir(plan: Plan) -> dict[str, Any]:
    """The CareTeam resource of a plan."""
    content = plan.content
    members: list[dict[str, Any]] = []
    coordinator = content.coordinator
    if coordinator is not None:
        # R4's ctm-1 allows onBehalfOf only beside a Practitioner; a PractitionerRole already
        # names where it is held. So the unit employing the coordinator is a member of its own.
        members.append(
            {
                "role": [concept(CARE_TEAM_ROLE, "coordinator", "Coordinator")],
                "member": ref(
                    "PractitionerRole", coordinator.practitioner_role_id, coordinator.name
                )
                if coordinator.practitioner_role_id
                else {"display": coordinator.name},
            }
        )
        members.append(
            {
                "role": [concept(CARE_TEAM_ROLE, "coordinator-unit", "Coordinator's unit")],
                "member": ref("Organization", coordinator.unit_id),
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
    resource: dict[str, Any] = {
        "resourceType": "CareTeam",
        "id": plan.id,
        "meta": meta(plan.version, plan.last_changed_at),
        "status": _STATUS[plan.status],
        "name": content.title,
        "subject": ref("Patient", plan.person_id),
    }
    if members:
        resource["participant"] = members
    if content.responsible_principal_id is not None:
        resource["managingOrganization"] = [ref("Organization", content.responsible_principal_id)]
    return resource
