"""A plan's coordinator → Practitioner and PractitionerRole (R4 practitioner.html,
practitionerrole.html).

The service keeps no staff register: the coordinator is known by name and employing unit in the
plan that names them. Each plan with a coordinator therefore has a Practitioner and a
PractitionerRole (code ``coordinator``) with the plan's id, read under the plan's access rules.
"""

from __future__ import annotations

from typing import Any

from app.domain.plans import Plan
from app.fhir.common import canonical, concept, meta, ref

CARE_TEAM_ROLE = canonical("CodeSystem", "care-team-role")


def practitioner(plan: Plan) -> dict[str, Any]:
    """The coordinator as a Practitioner (the plan must have one)."""
    coordinator = plan.content.coordinator
    assert coordinator is not None
    return {
        "resourceType": "Practitioner",
        "id": plan.id,
        "meta": meta(plan.version, plan.updated_at),
        "active": True,
        "name": [{"text": coordinator.name}],
    }


def practitioner_role(plan: Plan) -> dict[str, Any]:
    """The coordinator's role in the plan, on behalf of the unit that employs them."""
    coordinator = plan.content.coordinator
    assert coordinator is not None
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": plan.id,
        "meta": meta(plan.version, plan.updated_at),
        "active": True,
        "practitioner": ref("Practitioner", plan.id, coordinator.name),
        "organization": ref("Organization", coordinator.unit_id),
        "code": [concept(CARE_TEAM_ROLE, "coordinator", "Coordinator")],
    }
    if coordinator.title:
        resource["code"].append({"text": coordinator.title})
    return resource
