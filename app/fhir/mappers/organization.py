"""Organization → Organization (R4 organization.html); a unit points to its principal."""

from __future__ import annotations

from typing import Any

from app.domain.organizations import Organization, OrgKind
from app.domain.plo import SERVICE_DISPLAY, VOLVEN_8663
from app.fhir.common import canonical, concept, meta, ref

ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
UNIT_FUNCTION = canonical("CodeSystem", "unit-function")
_TYPES = {
    OrgKind.REGION: ("govt", "Government"),
    OrgKind.MUNICIPALITY: ("govt", "Government"),
    OrgKind.PRIVATE_PROVIDER: ("prov", "Healthcare Provider"),
    OrgKind.UNIT: ("dept", "Hospital Department"),
}


def to_fhir(org: Organization) -> dict[str, Any]:
    """The Organization resource of a principal or unit."""
    code, display = _TYPES[org.kind]
    types = [concept(ORGANIZATION_TYPE, code, display)]
    if org.function is not None:
        types.append(concept(UNIT_FUNCTION, org.function.value))
    if org.service_code is not None:
        # The service the unit provides, as the Norwegian address register (Volven 8663) says.
        types.append(
            concept(VOLVEN_8663, org.service_code.value, SERVICE_DISPLAY[org.service_code])
        )
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": org.id,
        "meta": meta(org.version, org.updated_at),
        "active": True,
        "type": types,
        "name": org.name,
        # The jurisdiction whose law applies; it also lets a register exported here be
        # imported elsewhere (`samverkan organizations import`).
        "address": [{"country": org.jurisdiction.value}],
    }
    if org.identifiers:
        resource["identifier"] = [{"system": i.system, "value": i.value} for i in org.identifiers]
    if org.parent_id:
        resource["partOf"] = ref("Organization", org.parent_id)
    return resource
