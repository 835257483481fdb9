"""Staff register → Practitioner and PractitionerRole (R4 practitioner.html,
practitionerrole.html).

A practitioner carries the HSA-id (Sweden) or HPR-nummer (Norway) as identifier; a role names
the practitioner, the organization it is held at and its code from the service's
``practitioner-role`` CodeSystem (coordinator, fixed-care-contact, mas, planner,
deviation-handler).
"""

from __future__ import annotations

from typing import Any

from app.domain.staff import ROLE_DISPLAY, Practitioner, PractitionerRole
from app.fhir.common import canonical, concept, meta, ref

ROLE_SYSTEM = canonical("CodeSystem", "practitioner-role")


def practitioner(found: Practitioner) -> dict[str, Any]:
    """The Practitioner resource of a registered practitioner."""
    name: dict[str, Any] = {"use": "official", "family": found.family_name, "text": found.name}
    if found.given_name:
        name["given"] = found.given_name.split()
    return {
        "resourceType": "Practitioner",
        "id": found.id,
        "meta": meta(found.version, found.updated_at),
        "identifier": [
            {"use": "official", "system": found.identifier_system, "value": found.identifier_value}
        ],
        "active": found.active,
        "name": [name],
    }


def practitioner_role(role: PractitionerRole, name: str | None = None) -> dict[str, Any]:
    """The PractitionerRole resource of a role (``name``: the practitioner's, as display)."""
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": role.id,
        "meta": meta(role.version, role.updated_at),
        "active": role.active,
        "practitioner": ref("Practitioner", role.practitioner_id, name),
        "organization": ref("Organization", role.organization_id),
        "code": [concept(ROLE_SYSTEM, role.role.value, ROLE_DISPLAY[role.role])],
    }
    if role.title:
        resource["code"].append({"text": role.title})
    return resource
