"""Access-log entry → AuditEvent (https://hl7.org/fhir/R4/auditevent.html), read-only.

Who (client, end user, organization, and the unit a principal's system acted for), what (the
person and the resource), when, why (purpose of use) and with what outcome, in the shape of the
IHE Basic Audit Log Patterns.
"""

from __future__ import annotations

from typing import Any

from app.domain.access_log import AccessEntry
from app.fhir.common import canonical, coding, concept, instant, ref

EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
INTERACTION = "http://hl7.org/fhir/restful-interaction"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
CLIENT_IDS = canonical("NamingSystem", "client-id")
FHIR_TYPES = frozenset({"Patient", "Encounter", "CarePlan", "Appointment", "Consent", "AuditEvent"})
_ACTIONS = {"create": "C", "read": "R", "update": "U", "delete": "D", "search": "E"}
_SUBTYPES = {
    "create": "create",
    "read": "read",
    "update": "update",
    "delete": "delete",
    "search": "search-type",
}
_OUTCOMES = {"success": "0", "denied": "4", "failed": "8"}


def to_fhir(entry: AccessEntry) -> dict[str, Any]:
    """The AuditEvent of one access-log entry."""
    assert entry.id is not None
    agent: dict[str, Any] = {
        "who": {"identifier": {"system": CLIENT_IDS, "value": entry.client_id}},
        "requestor": True,
    }
    if entry.user_id:
        agent["altId"] = entry.user_id
    entities: list[dict[str, Any]] = []
    if entry.person_id:
        entities.append(
            {
                "what": ref("Patient", entry.person_id),
                "type": coding(ENTITY_TYPE, "1", "Person"),
                "role": coding(OBJECT_ROLE, "1", "Patient"),
            }
        )
    if entry.resource_id:
        what = (
            ref(entry.resource_type, entry.resource_id)
            if entry.resource_type in FHIR_TYPES
            else {"identifier": {"value": entry.resource_id}, "display": entry.resource_type}
        )
        entities.append({"what": what, "type": coding(ENTITY_TYPE, "2", "System Object")})
    if entry.request_id:
        entities.append(
            {
                "what": {"identifier": {"value": entry.request_id}},
                "description": "X-Request-ID of the request",
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(entry.id),
        "meta": {"versionId": "1", "lastUpdated": instant(entry.at)},
        "type": coding(EVENT_TYPE, "rest", "RESTful Operation"),
        "subtype": [coding(INTERACTION, _SUBTYPES.get(entry.action, "read"))],
        "action": _ACTIONS.get(entry.action, "R"),
        "recorded": instant(entry.at),
        "outcome": _OUTCOMES.get(entry.outcome, "8"),
        "purposeOfEvent": [concept(ACT_REASON, entry.purpose)],
        "agent": [agent, {"who": ref("Organization", entry.organization_id), "requestor": False}]
        + (
            [{"who": ref("Organization", entry.unit_id), "requestor": False}]
            if entry.unit_id and entry.unit_id != entry.organization_id
            else []
        ),
        "source": {"observer": {"display": "Samverkan"}},
    }
    if entry.outcome != "success":
        resource["outcomeDesc"] = f"access {entry.outcome}"
    if entities:
        resource["entity"] = entities
    return resource
