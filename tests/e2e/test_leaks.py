"""Nothing leaks: every route of the application, walked as callers who must not see a person.

The routes come from the application's own OpenAPI document, which FastAPI builds from its route
table; a route without a rule below fails the test, so a new route cannot ship unclassified.
Each route is called as an anonymous caller (401), as a caller whose token lacks the scope (403)
and as organizations that are no party to any of the person's records, at the grain of a
principal and of units (of another county, of the ward's own region, of a principal that is a
party): the same answer as for an id that does not exist, and nothing of the person in any list.
The walk ends with the escalation of issue 13: look the person up by national identifier (which
tells existence and id only), create records of one's own about them, and find that none of the
records of others opened, nor the person's details.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.domain.identifiers import PERSONNUMMER
from app.domain.statistics import INDICATORS
from app.fhir.messaging import EVENT_SYSTEM
from app.fhir.resources import RESOURCES as FHIR_RESOURCES
from tests.conftest import ClientFor
from tests.factories import (
    PLANNING_ANSWERS,
    admit,
    create_person,
    notice,
    personnummer,
    staff_role,
)

PUBLIC = "public"  # no token needed
AUTHENTICATED = "authenticated"  # service configuration: any valid token, no scope
REFERENCE = "reference"  # organizations and rule sets: not personal data, any scoped caller
PERSONAL = "personal"  # about a person: only organizations with a care relation
ADMIN = "admin"  # one of the service's own scopes only (samverkan/admin, samverkan/metrics)
OWN = "own"  # the caller's organization's own configuration (subscriptions): scoped, own only

RULES: dict[str, str] = {
    "healthz": PUBLIC,
    "readyz": PUBLIC,
    "token": PUBLIC,
    "smart_configuration": PUBLIC,
    "jwks": PUBLIC,
    "list_organizations": REFERENCE,
    "create_organization": REFERENCE,
    "get_organization": REFERENCE,
    "list_cooperation_areas": REFERENCE,
    "create_cooperation_area": REFERENCE,
    "get_cooperation_area": REFERENCE,
    "list_rule_sets": AUTHENTICATED,
    "list_persons": PERSONAL,
    "register_person": PERSONAL,
    "get_person": PERSONAL,
    "list_episodes": PERSONAL,
    "register_admission": PERSONAL,
    "get_episode": PERSONAL,
    "send_admission_notice": PERSONAL,
    "change_expected_discharge": PERSONAL,
    "declare_discharge_ready": PERSONAL,
    "withdraw_discharge_ready": PERSONAL,
    "record_municipality_response": PERSONAL,
    "confirm_services_started": PERSONAL,
    "discharge": PERSONAL,
    "get_episode_liability": PERSONAL,
    "get_monthly_report": PERSONAL,
    "search_access_log": PERSONAL,
    "create_plan": PERSONAL,
    "list_plans": PERSONAL,
    "list_overdue_follow_ups": PERSONAL,
    "get_plan": PERSONAL,
    "revise_plan": PERSONAL,
    "list_plan_versions": PERSONAL,
    "get_plan_version": PERSONAL,
    "record_consent": PERSONAL,
    "withdraw_consent": PERSONAL,
    "activate_plan": PERSONAL,
    "complete_plan": PERSONAL,
    "cancel_plan": PERSONAL,
    "summon_meeting": PERSONAL,
    "list_meetings": PERSONAL,
    "get_meeting": PERSONAL,
    "reply_to_meeting": PERSONAL,
    "reschedule_meeting": PERSONAL,
    "cancel_meeting": PERSONAL,
    "mark_meeting_held": PERSONAL,
    "list_summons_deadlines": PERSONAL,
    "process_message": PERSONAL,
    "list_api_clients": ADMIN,
    "register_api_client": ADMIN,
    "get_api_client": ADMIN,
    "set_api_client_active": ADMIN,
    "send_care_message": PERSONAL,
    "list_care_messages": PERSONAL,
    "get_care_message": PERSONAL,
    "mark_care_message_read": PERSONAL,
    "acknowledge_care_message": PERSONAL,
    "report_deviation": PERSONAL,
    "list_deviations": PERSONAL,
    "get_deviation": PERSONAL,
    "handle_deviation": PERSONAL,
    "list_inbox": PERSONAL,
    "acknowledge_inbox_item": PERSONAL,
    "create_subscription": OWN,
    "list_subscriptions": OWN,
    "get_subscription": OWN,
    "delete_subscription": OWN,
    "get_subscription_status": OWN,
    "create_fhir_subscription": OWN,
    "search_fhir_subscriptions": OWN,
    "read_fhir_subscription": OWN,
    "delete_fhir_subscription": OWN,
    "fhir_subscription_status": OWN,
    "list_notice_boards": OWN,
    "list_bulletins": OWN,
    "post_bulletin": OWN,
    "withdraw_bulletin": OWN,
    "list_dead_letters": ADMIN,
    "replay_dead_letters": ADMIN,
    "prometheus_metrics": ADMIN,
    # Aggregates of the caller's own organization (no person): any valid token.
    "get_statistics": AUTHENTICATED,
    "get_statistics_chart": AUTHENTICATED,
    # The records behind a figure: only those the caller is a party to, like any list.
    "list_statistics_records": PERSONAL,
    "evaluate_measure": REFERENCE,
    "register_practitioner": REFERENCE,
    "list_practitioners": REFERENCE,
    "get_practitioner": REFERENCE,
    "register_practitioner_role": REFERENCE,
    "list_practitioner_roles": REFERENCE,
    "get_practitioner_role": REFERENCE,
    "share_document": PERSONAL,
    "list_documents": PERSONAL,
    "get_document": PERSONAL,
    "get_document_content": PERSONAL,
}

FHIR = "fhir"  # the generic FHIR interactions: the rule is per resource type, below
RULES.update(
    {
        "capability_statement": PUBLIC,
        "read": FHIR,
        "vread": FHIR,
        "search": FHIR,
        "create": FHIR,
        "update": FHIR,
        "history": FHIR,
        "type_history": FHIR,
        "transaction": PERSONAL,
    }
)
# Find the person by the full identifier: existence and id, nothing else.
LOOKUPS = ("register_person", "create:Patient", "list_persons")
# Create a record of one's own about a person named by id: allowed, and opens nothing else.
OWN_RECORDS = ("register_admission", "create_plan", "create:Encounter", "create:CarePlan")
# Per FHIR resource type: its rule, and which of the scene's ids names one of it.
FHIR_TYPES: dict[str, tuple[str, str | None]] = {
    "Patient": (PERSONAL, "person_id"),
    "Organization": (REFERENCE, None),
    "Encounter": (PERSONAL, "episode_id"),
    "CarePlan": (PERSONAL, "plan_id"),
    "Goal": (PERSONAL, "plan_id"),
    "CareTeam": (PERSONAL, "plan_id"),
    "Practitioner": (REFERENCE, "practitioner"),
    "PractitionerRole": (REFERENCE, "role"),
    "Consent": (PERSONAL, "plan_id"),
    "Appointment": (PERSONAL, "meeting_id"),
    "AppointmentResponse": (PERSONAL, "meeting_id"),
    "Communication": (PERSONAL, "message_id"),
    "Task": (PERSONAL, "deviation_id"),
    "AuditEvent": (PERSONAL, "audit"),
    "CodeSystem": (REFERENCE, "=message-event"),
    "StructureDefinition": (REFERENCE, "=reply-by"),
    "Measure": (REFERENCE, "=admissions-notified"),
    "DocumentReference": (PERSONAL, "document_id"),
    "Binary": (PERSONAL, "document_id"),
    "Questionnaire": (REFERENCE, "=planning-basis"),
    "QuestionnaireResponse": (PERSONAL, "basis_id"),
}

# The ids of parts of a plan or a meeting: the parent's id and the part's key.
PART_SUFFIX = {"Consent": ".0", "Goal": ".g1", "AppointmentResponse": ".p1"}

SECRET_ADDRESS = "Hemlig gränd 7"
DOCUMENT_TYPES = "https://samverkan.dev/fhir/CodeSystem/document-type"
TEXT_DATA = base64.b64encode(b"hej").decode()
SECRET_NAME = "Sekretessa"


# Organizations that are no party to any of the scene's records, with the principal they act for.
STRANGERS = [
    pytest.param(("kommun-0880", "kommun-0880"), id="principal-of-another-county"),
    pytest.param(("region-kalmar-lanssjukhuset-med", "region-kalmar"), id="ward-of-another-region"),
    pytest.param(
        ("region-norrbotten-sunderby-psyk", "region-norrbotten"), id="unit-of-the-wards-region"
    ),
    pytest.param(("kommun-2580-lss", "kommun-2580"), id="unit-of-a-party-municipality"),
]


@dataclass
class Scene:
    """A protected person in care at Sunderby's medical ward (registered, admitted and planned
    for by Region Norrbotten's system acting for the ward), received by Luleå, whose home care
    was sent a message and whose MAS handles a deviation."""

    person_id: str
    episode_id: str
    plan_id: str
    meeting_id: str
    identifier: str
    person_body: dict[str, Any]
    versions: dict[str, str]
    audit_id: str
    message_id: str
    deviation_id: str
    practitioner_id: str
    role_id: str
    document_id: str
    basis_id: str
    t0: datetime  # when the scene's story began (the admission)

    def records(self) -> dict[str, str]:
        """The REST path of each record of the scene, by its FHIR resource type."""
        return {
            "Encounter": f"/api/v1/episodes/{self.episode_id}",
            "CarePlan": f"/api/v1/plans/{self.plan_id}",
            "Appointment": f"/api/v1/meetings/{self.meeting_id}",
            "Communication": f"/api/v1/care-messages/{self.message_id}",
            "Task": f"/api/v1/deviations/{self.deviation_id}",
            "DocumentReference": f"/api/v1/documents/{self.document_id}",
            "Binary": f"/fhir/Binary/{self.document_id}",
            "QuestionnaireResponse": f"/fhir/QuestionnaireResponse/{self.basis_id}",
        }

    def ids(self) -> dict[str, str]:
        return {
            "person_id": self.person_id,
            "episode_id": self.episode_id,
            "plan_id": self.plan_id,
            "meeting_id": self.meeting_id,
            "message_id": self.message_id,
            "deviation_id": self.deviation_id,
            "document_id": self.document_id,
            "basis_id": self.basis_id,
        }


def missing_ids() -> dict[str, str]:
    """Ids of the same kinds that exist nowhere."""
    kinds = (
        "person_id",
        "episode_id",
        "plan_id",
        "meeting_id",
        "message_id",
        "deviation_id",
        "document_id",
        "basis_id",
    )
    return {k: str(uuid.uuid4()) for k in kinds}


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str]
    body: dict[str, Any] | None


def operations(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(operation id, method, path) of every operation the application serves.

    The document declares the FHIR interactions once per resource type
    (``fhir_read_Patient``, …); they are walked as ``read:Patient`` and so on, under the rule of
    the generic route that serves them.
    """
    found = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            op = operation["operationId"]
            typed = re.fullmatch(r"fhir_([a-z_]+)_([A-Za-z]+)", op)
            if typed and typed.group(2) in FHIR_RESOURCES:
                generic = FHIR_INTERACTION_ROUTES[typed.group(1)]
                concrete = path.replace("{id}", "{resource_id}").replace("{vid}", "{version_id}")
                found.append((f"{generic}:{typed.group(2)}", method.upper(), concrete))
            else:
                found.append((op, method.upper(), path))
    return found


# The generic FHIR route serving each interaction (by the code in its typed operationId).
FHIR_INTERACTION_ROUTES = {
    "read": "read",
    "vread": "vread",
    "search_type": "search",
    "create": "create",
    "update": "update",
    "history_instance": "history",
    "history_type": "type_history",
}


def rule_of(op: str) -> str:
    """The rule of an operation (of a FHIR interaction: of its resource type)."""
    name, _sep, kind = op.partition(":")
    return FHIR_TYPES[kind][0] if kind else RULES[name]


def fhir_body(kind: str, scene: Scene, ids: dict[str, str]) -> dict[str, Any]:
    """A valid resource of ``kind`` about the scene's person (or the missing one)."""
    subject = {"reference": f"Patient/{ids['person_id']}"}
    if kind == "Patient":
        return {
            "resourceType": "Patient",
            "identifier": [{"system": PERSONNUMMER, "value": scene.identifier}],
            "name": [{"family": "Anyone"}],
            "managingOrganization": {"reference": "Organization/kommun-2580"},
        }
    if kind == "Encounter":
        return {
            "resourceType": "Encounter",
            "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": subject,
            "period": {"start": scene.t0.isoformat()},
            "serviceProvider": {"reference": "Organization/kommun-0880-hemtjanst"},
        }
    if kind == "DocumentReference":
        return {
            "resourceType": "DocumentReference",
            "status": "current",
            "type": {"coding": [{"system": DOCUMENT_TYPES, "code": "other"}]},
            "subject": subject,
            "content": [{"attachment": {"contentType": "text/plain", "data": TEXT_DATA}}],
            "context": {"encounter": [{"reference": f"Encounter/{ids['episode_id']}"}]},
        }
    if kind == "CarePlan":
        return {
            "resourceType": "CarePlan",
            "id": ids["plan_id"],
            "status": "draft",
            "intent": "plan",
            "title": "x",
            "subject": subject,
        }
    return {"resourceType": kind}


def build(op: str, method: str, path: str, scene: Scene, ids: dict[str, str]) -> Call:
    """A valid request for the operation, about the person, episode, plan and meeting ``ids``."""
    person = ids["person_id"]
    params: dict[str, str] = {}
    soon = datetime.now(UTC) + timedelta(days=7)
    values = {
        **ids,
        "consent_id": "c1",
        "version": "1",
        "org_id": "region-norrbotten",
        "area_id": "area-luleaboden",
        "board_id": "region-norrbotten",
        "bulletin_id": str(uuid.uuid4()),
        "client_id": "no-such-client",
        "municipality_id": "kommun-2580",
        "month": scene.t0.strftime("%Y-%m"),
        "practitioner_id": scene.practitioner_id,
        "role_id": scene.role_id,
    }
    if path.startswith("/fhir/") and path.split("/")[2] in FHIR_TYPES:
        kind = path.split("/")[2]
        key = FHIR_TYPES[kind][1]
        fixed = {"audit": scene.audit_id, "practitioner": scene.practitioner_id}
        fixed["role"] = scene.role_id
        if key in fixed:
            resource_id = fixed[key]
        elif key and key.startswith("="):
            resource_id = key[1:]
        else:
            resource_id = ids[key] if key else "region-norrbotten"
        values["resource_id"] = resource_id + PART_SUFFIX.get(kind, "")
        values["version_id"] = scene.versions[kind]
        searchable = {p.name for p in FHIR_RESOURCES[kind].params}
        if op.startswith("search:") and "patient" in searchable:
            params["patient"] = f"Patient/{person}"
        if op == "search:Binary":
            params["_id"] = ids["document_id"]
    month = scene.t0.strftime("%Y-%m")
    if op.startswith("get_statistics"):
        params.update({"period": month, "indicator": "admissions-notified"})
    if op == "list_statistics_records":
        values["indicator"] = "admissions-notified"
        params["period"] = month
    if op.startswith("evaluate_measure"):
        first = scene.t0.date().replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        params.update({"periodStart": first.isoformat(), "periodEnd": last.isoformat()})
    filled = path
    for name, value in values.items():
        filled = filled.replace("{" + name + "}", value)
    unique = uuid.uuid4().hex[:8]
    bodies: dict[str, dict[str, Any]] = {
        "register_person": scene.person_body,
        "register_admission": {
            "person_id": person,
            "hospital_unit_id": "region-kalmar-lanssjukhuset-med",
            "admitted_at": scene.t0.isoformat(),
            "admission_type": "acute",
        },
        "change_expected_discharge": {"expected_discharge_date": scene.t0.date().isoformat()},
        "record_municipality_response": {"can_receive_from": scene.t0.date().isoformat()},
        "create_organization": {
            "id": f"leak-unit-{unique}",
            "kind": "unit",
            "name": "Hemtjänst",
            "jurisdiction": "SE",
            "parent_id": "kommun-0880",
            "function": "home-care",
        },
        "create_cooperation_area": {
            "id": f"leak-area-{unique}",
            "name": "Area",
            "region_id": "region-norrbotten",
            "municipality_ids": ["kommun-2580"],
        },
        "register_api_client": {
            "organization_id": "kommun-0880",
            "name": "x",
            "jwks": {"keys": []},
        },
        "set_api_client_active": {"active": False},
        "create_plan": {"person_id": person, "title": "Plan"},
        "revise_plan": {"title": "Plan"},
        "record_consent": {
            "given_by": "person",
            "given_at": scene.t0.isoformat(),
            "method": "oral",
            "share_with": ["kommun-0880"],
        },
        "withdraw_consent": {"at": scene.t0.isoformat()},
        "activate_plan": {},
        "complete_plan": {},
        "cancel_plan": {"reason": "no longer needed"},
        "summon_meeting": {
            "plan_id": ids["plan_id"],
            "starts_at": soon.isoformat(),
            "reply_by": soon.date().isoformat(),
            "location": "Room 1",
            "participants": [{"id": "p1", "kind": "person"}],
        },
        "reply_to_meeting": {"participant_id": "p1", "reply": "accepted"},
        "reschedule_meeting": {
            "starts_at": soon.isoformat(),
            "reply_by": soon.date().isoformat(),
        },
        "cancel_meeting": {"reason": "called off"},
        "mark_meeting_held": {"attended": ["p1"], "minutes": "held"},
        "send_care_message": {
            "recipients": ["kommun-2580-hemtjanst"],
            "person_id": person,
            "text": "hej",
        },
        "acknowledge_care_message": {"outcome": "ok"},
        "report_deviation": {
            "category": "other",
            "episode_id": ids["episode_id"],
            "description": "x",
        },
        "handle_deviation": {"state": "investigating"},
        "share_document": {
            "attached_to": {"type": "episode", "id": ids["episode_id"]},
            "type": "other",
            "title": "x",
            "content_type": "text/plain",
            "data": TEXT_DATA,
        },
        "transaction": {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "resource": fhir_body("Encounter", scene, ids),
                    "request": {"method": "POST", "url": "Encounter"},
                }
            ],
        },
        "process_message": {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "type": "message",
            "timestamp": datetime.now(UTC).isoformat(),
            "entry": [
                {
                    "resource": {
                        "resourceType": "MessageHeader",
                        "id": str(uuid.uuid4()),
                        "eventCoding": {"system": EVENT_SYSTEM, "code": "discharge-ready"},
                        "source": {"endpoint": "urn:test"},
                        "focus": [{"reference": f"Encounter/{ids['episode_id']}"}],
                    }
                }
            ],
        },
    }
    body = bodies.get(op, {} if method in ("POST", "PUT") else None)
    if op.startswith(("create:", "update:")):
        body = fhir_body(op.split(":", 1)[1], scene, ids)
    if op in (
        "list_episodes",
        "search_access_log",
        "list_plans",
        "list_meetings",
        "list_care_messages",
        "list_deviations",
        "list_inbox",
        "list_documents",
    ):
        params["person_id"] = person
    if op == "list_persons":
        params["identifier"] = f"{PERSONNUMMER}|{scene.identifier}"
    return Call(method, filled, params, body)


async def send(http: httpx.AsyncClient, call: Call) -> httpx.Response:
    return await http.request(call.method, call.path, params=call.params, json=call.body)


@pytest.fixture
def t0(now: datetime) -> datetime:
    """Five days before the test's now: when its story begins."""
    return now - timedelta(days=5)


@pytest.fixture
async def scene(client_for: ClientFor, t0: datetime) -> Scene:
    client = await client_for("region-norrbotten")
    client.headers["X-Samverkan-Unit"] = "region-norrbotten-sunderby-med"
    identifier = personnummer()
    body = {
        "identifier": {"system": PERSONNUMMER, "value": identifier},
        "given_name": SECRET_NAME,
        "family_name": "Skyddsdottir",
        "residence_municipality_id": "kommun-2580",
        "protected_identity": True,
        "address": SECRET_ADDRESS,
        "phone": "070-0000000",
    }
    created = await client.post("/api/v1/persons", json=body)
    assert created.status_code == 201, created.text
    person_id = created.json()["id"]
    episode = await admit(client, person_id, t0)
    carried: dict[str, Any] = {
        "documents": [
            {
                "type": "planning-basis",
                "title": SECRET_NAME,
                "content_type": "text/plain",
                "data": base64.b64encode(SECRET_ADDRESS.encode()).decode(),
            }
        ],
        "planning_basis": {"answers": PLANNING_ANSWERS | {"contact-name": SECRET_NAME}},
    }
    for kind, at in (
        ("admission-notice", t0 + timedelta(hours=1)),
        ("discharge-ready", t0 + timedelta(days=1)),
    ):
        flag = {"coordinated_planning": True} if kind == "discharge-ready" else carried
        sent = await notice(client, episode["id"], kind, at, **flag)
        assert sent.status_code == 200, sent.text
    carrying = (await client.get(f"/api/v1/episodes/{episode['id']}")).json()
    plan = await client.post(
        "/api/v1/plans",
        json={
            "person_id": person_id,
            "title": SECRET_NAME,
            "goals": [{"id": "g1", "description": f"{SECRET_NAME} hemma"}],
            "coordinator": {"name": SECRET_NAME, "unit_id": "kommun-2580-hemtjanst"},
        },
    )
    assert plan.status_code == 201, plan.text
    consented = await client.post(
        f"/api/v1/plans/{plan.json()['id']}/consents",
        json={
            "given_by": "person",
            "given_at": t0.isoformat(),
            "method": "oral",
            "share_with": ["region-norrbotten", "kommun-2580"],
        },
    )
    assert consented.status_code == 201, consented.text
    current = (await client.get(f"/api/v1/episodes/{episode['id']}")).json()["version"]
    soon = datetime.now(UTC) + timedelta(days=3)
    meeting = await client.post(
        "/api/v1/meetings",
        json={
            "plan_id": plan.json()["id"],
            "starts_at": soon.isoformat(),
            "reply_by": soon.date().isoformat(),
            "location": SECRET_ADDRESS,
            "participants": [{"id": "p1", "kind": "person"}],
        },
    )
    assert meeting.status_code == 201, meeting.text
    replied = await client.post(
        f"/api/v1/meetings/{meeting.json()['id']}/replies",
        json={"participant_id": "p1", "reply": "accepted"},
    )
    assert replied.status_code == 200, replied.text
    versions = {
        "Patient": "1",
        "Organization": "1",
        "Encounter": str(current),
        "CarePlan": "1",
        "Goal": str(consented.json()["version"]),
        "CareTeam": str(consented.json()["version"]),
        "Practitioner": "1",
        "PractitionerRole": "1",
        "Consent": str(consented.json()["version"]),
        "Appointment": str(replied.json()["version"]),
        "AppointmentResponse": str(replied.json()["version"]),
        "Communication": "1",
        "Task": "1",
        "AuditEvent": "1",
        "CodeSystem": "1",
        "StructureDefinition": "1",
        "Measure": "1",
        "DocumentReference": "1",
        "Binary": "1",
        "Questionnaire": "1",
        "QuestionnaireResponse": "1",
    }
    message = await client.post(
        "/api/v1/care-messages",
        json={
            "recipients": ["kommun-2580-hemtjanst"],
            "person_id": person_id,
            "subject": SECRET_NAME,
            "text": SECRET_ADDRESS,
        },
    )
    assert message.status_code == 201, message.text
    deviation = await client.post(
        "/api/v1/deviations",
        json={"category": "other", "episode_id": episode["id"], "description": SECRET_NAME},
    )
    assert deviation.status_code == 201, deviation.text
    log = await client.get("/api/v1/access-log", params={"person_id": person_id})
    audit_id = str(log.json()["items"][0]["id"])
    coordinator = await staff_role(client, "kommun-2580-hemtjanst", "coordinator")
    return Scene(
        person_id,
        episode["id"],
        plan.json()["id"],
        meeting.json()["id"],
        identifier,
        body,
        versions,
        audit_id,
        message.json()["id"],
        deviation.json()["id"],
        coordinator["practitioner_id"],
        coordinator["id"],
        carrying["documents"][0]["id"],
        carrying["planning_basis"][0]["id"],
        t0,
    )


def comparable(text: str) -> Any:
    """A response reduced to what must not differ: a response message loses its fresh ids."""
    try:
        body = json.loads(text)
    except ValueError:
        return text
    if isinstance(body, dict) and body.get("type") == "message":
        header = body["entry"][0]["resource"]
        issues = [
            e["resource"]["issue"] for e in body["entry"][1:] if "issue" in e.get("resource", {})
        ]
        return header.get("response", {}).get("code"), header.get("focus"), issues
    return text


def assert_no_trace(response: httpx.Response, scene: Scene, where: str) -> None:
    text = response.text
    for secret in (
        scene.person_id,
        scene.episode_id,
        scene.identifier,
        SECRET_ADDRESS,
        SECRET_NAME,
    ):
        assert secret not in text, f"{where}: the response reveals {secret!r}: {text[:300]}"


async def test_every_route_has_a_rule(anonymous: httpx.AsyncClient) -> None:
    document = (await anonymous.get("/openapi.json")).json()
    served = {op.partition(":")[0] for op, _method, _path in operations(document)}
    assert served - RULES.keys() == set(), "routes without a rule in the leak table"
    assert RULES.keys() - served == set(), "rules for routes that no longer exist"
    assert set(FHIR_RESOURCES) == set(FHIR_TYPES), "FHIR resource types without a rule"


async def test_anonymous_and_unscoped_callers_get_401_and_403(
    anonymous: httpx.AsyncClient, client_for: ClientFor, scene: Scene
) -> None:
    unscoped = await client_for("region-norrbotten", scopes="system/Observation.r")
    document = (await anonymous.get("/openapi.json")).json()
    for op, method, path in operations(document):
        call = build(op, method, path, scene, scene.ids())
        where = f"{method} {path}"
        answer = await send(anonymous, call)
        if rule_of(op) == PUBLIC:
            assert answer.status_code != 401, where
            continue
        assert answer.status_code == 401, (where, answer.text)
        assert answer.headers["www-authenticate"].startswith("Bearer"), where
        assert_no_trace(answer, scene, where)
        if rule_of(op) == AUTHENTICATED:
            assert (await send(unscoped, call)).status_code == 200, where
            continue
        refused = await send(unscoped, call)
        assert refused.status_code == 403, (where, refused.text)
        assert "insufficient_scope" in refused.headers["www-authenticate"], where
        expected = (
            "application/fhir+json" if path.startswith("/fhir") else "application/problem+json"
        )
        assert refused.headers["content-type"].startswith(expected), where


def assert_no_secret(response: httpx.Response, scene: Scene, where: str) -> None:
    for secret in (scene.identifier, SECRET_ADDRESS, SECRET_NAME):
        assert secret not in response.text, f"{where}: the response reveals {secret!r}"


async def assert_nothing_opened(
    stranger: httpx.AsyncClient, principal: str, scene: Scene, *, own_record: bool
) -> None:
    """After the lookup and its own records: every record of the scene still answers 404 and
    appears in no list; the person's record shows existence and id only (when the stranger has
    a record of its own about them) and its log the stranger's own accesses only."""
    fhir = [f"/fhir/{kind}/{path.rsplit('/', 1)[1]}" for kind, path in scene.records().items()]
    for path in [*scene.records().values(), *fhir, f"/fhir/AuditEvent/{scene.audit_id}"]:
        assert (await stranger.get(path)).status_code == 404, path
    mine = {"person_id": scene.person_id}
    for path in (
        "/api/v1/episodes",
        "/api/v1/plans",
        "/api/v1/meetings",
        "/api/v1/care-messages",
        "/api/v1/deviations",
        "/api/v1/inbox",
        "/api/v1/documents",
    ):
        listed = await stranger.get(path, params=mine)
        assert listed.status_code == 200, (path, listed.text)
        for record in scene.ids().values():
            if record != scene.person_id:
                assert record not in listed.text, path
    for kind in (
        "Encounter",
        "CarePlan",
        "Appointment",
        "Communication",
        "Task",
        "Goal",
        "DocumentReference",
        "QuestionnaireResponse",
    ):
        found = await stranger.get(f"/fhir/{kind}", params={"patient": scene.person_id})
        assert found.status_code == 200 and scene.episode_id not in found.text, kind
        assert scene.plan_id not in found.text and scene.message_id not in found.text, kind
        assert scene.document_id not in found.text and scene.basis_id not in found.text, kind
    record = await stranger.get(f"/api/v1/persons/{scene.person_id}")
    log = await stranger.get("/api/v1/access-log", params=mine)
    if not own_record:
        assert record.status_code == 404 and log.status_code == 404
        return
    assert record.status_code == 200 and record.json()["details_withheld"] is True
    assert_no_secret(record, scene, "the person's record")
    patient = await stranger.get(f"/fhir/Patient/{scene.person_id}")
    assert "REDACTED" in patient.text and "name" not in patient.json()
    assert_no_secret(patient, scene, "the Patient")
    assert log.status_code == 200
    assert {e["principal_id"] for e in log.json()["items"]} == {principal}
    assert scene.episode_id not in log.text and scene.plan_id not in log.text


@pytest.mark.parametrize("stranger_of", STRANGERS)
async def test_an_organization_that_is_no_party_learns_nothing(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    client_for: ClientFor,
    scene: Scene,
    stranger_of: tuple[str, str],
) -> None:
    organization, principal = stranger_of
    stranger = await client_for(organization)
    document = (await anonymous.get("/openapi.json")).json()
    missing = missing_ids()
    walked = [op for op in operations(document) if rule_of(op[0]) != PUBLIC]
    # Looking the person up and creating records of one's own come last: they are the
    # escalation, and what they make the stranger a party to is checked after the walk.
    walked.sort(key=lambda item: (item[0] in OWN_RECORDS, item[0] in LOOKUPS))
    checked = 0
    own_record = False
    for op, method, path in walked:
        where = f"{method} {path}"
        real = build(op, method, path, scene, scene.ids())
        answer = await send(stranger, real)
        assert answer.status_code < 500, (where, answer.text)
        if rule_of(op) == ADMIN:
            assert answer.status_code == 403, where
        if op == "create:Patient":
            # A plain FHIR create of a registered person is refused (409), naming the id only.
            assert answer.status_code == 409, (where, answer.text)
            assert scene.person_id in answer.text, where
            assert_no_secret(answer, scene, where)
            continue
        if op in LOOKUPS:
            # The full identifier finds the person: its existence and id, nothing else.
            assert answer.status_code == 200, (where, answer.text)
            assert scene.person_id in answer.text, where
            withheld = '"details_withheld":true' if "/api/" in path else '"code":"REDACTED"'
            assert withheld in answer.text, where
            assert_no_secret(answer, scene, where)
            continue
        if op in OWN_RECORDS:
            # Its own record about the person may be made (where the caller may make one).
            own_record |= answer.status_code == 201
            assert_no_secret(answer, scene, where)
            assert scene.episode_id not in answer.text and scene.plan_id not in answer.text
            continue
        if any(
            real_id in f"{real.path} {real.params} {real.body}" for real_id in scene.ids().values()
        ):
            fake = build(op, method, path, scene, missing)
            fake_answer = await send(stranger, fake)
            shown = answer.text
            for kind, real_id in scene.ids().items():
                shown = shown.replace(real_id, missing[kind])
            assert (answer.status_code, comparable(shown)) == (
                fake_answer.status_code,
                comparable(fake_answer.text),
            ), f"{where}: an existing id is answered differently from a missing one"
            checked += 1
        else:
            assert_no_trace(answer, scene, where)
        if rule_of(op) == PERSONAL and method == "GET":
            # The same request by the hospital does see the person: the walk is not vacuous.
            seen = await send(client, real)
            assert seen.status_code == 200, (where, seen.text)
    assert checked >= 25
    # Every stranger here may initiate a plan of its own; the Kalmar ward also an admission.
    assert own_record
    await assert_nothing_opened(stranger, principal, scene, own_record=own_record)


async def test_the_escalation_of_issue_13_stops_after_the_lookup(
    client_for: ClientFor, scene: Scene, t0: datetime
) -> None:
    """Kommun-0882 knows a personnummer: it learns the id, may plan on its own, and nothing of
    the hospital's opens; a ward of an unrelated region admitting the protected person by its own
    episode sees neither name nor address afterwards."""
    oskarshamn = await client_for("kommun-0882")
    found = await oskarshamn.post("/api/v1/persons", json=scene.person_body)
    assert found.status_code == 200 and found.json()["id"] == scene.person_id
    assert found.json()["details_withheld"] is True
    assert_no_secret(found, scene, "the lookup")
    plan = await oskarshamn.post("/api/v1/plans", json={"person_id": scene.person_id, "title": "x"})
    assert plan.status_code == 201
    assert (await oskarshamn.get(f"/api/v1/plans/{plan.json()['id']}")).status_code == 200
    await assert_nothing_opened(oskarshamn, "kommun-0882", scene, own_record=True)

    ward = await client_for("region-vgr-sas-boras-med")
    # Where the person lives was not shared with it: it names the receiving municipality.
    unnamed = await ward.post(
        "/api/v1/episodes",
        json={
            "person_id": scene.person_id,
            "hospital_unit_id": "region-vgr-sas-boras-med",
            "admitted_at": t0.isoformat(),
            "admission_type": "acute",
        },
    )
    assert unnamed.status_code == 422
    assert unnamed.json()["errors"][0]["field"] == "municipality_id"
    admitted = await admit(
        ward, scene.person_id, t0, unit="region-vgr-sas-boras-med", municipality_id="kommun-2580"
    )
    await assert_nothing_opened(ward, "region-vgr", scene, own_record=True)
    # The municipality it named is told of that stay, and sees it: the ward shared its own
    # record. It learns nothing new of the person from it (it received the hospital's notices).
    lulea = await client_for("kommun-2580")
    assert (await lulea.get(f"/api/v1/episodes/{admitted['id']}")).status_code == 200


async def test_creating_a_record_of_ones_own_opens_no_other_partys_record(
    client_for: ClientFor, scene: Scene, t0: datetime
) -> None:
    """The ward of the same region, too, may admit the person to its own ward and plan on its
    own; every record of the medical ward stays closed to it."""
    psych = await client_for("region-norrbotten-sunderby-psyk")
    admitted = await admit(
        psych,
        scene.person_id,
        t0,
        unit="region-norrbotten-sunderby-psyk",
        municipality_id="kommun-2580",
    )
    planned = await psych.post("/api/v1/plans", json={"person_id": scene.person_id, "title": "x"})
    assert planned.status_code == 201
    episodes = (await psych.get("/api/v1/episodes", params={"person_id": scene.person_id})).json()
    assert [e["id"] for e in episodes["items"]] == [admitted["id"]]
    plans = (await psych.get("/api/v1/plans", params={"person_id": scene.person_id})).json()
    assert [p["id"] for p in plans["items"]] == [planned.json()["id"]]
    for path in scene.records().values():
        assert (await psych.get(path)).status_code == 404, path


async def test_a_unit_of_the_wards_region_sees_none_of_its_patients_unless_a_party(
    client: httpx.AsyncClient, client_for: ClientFor, scene: Scene, t0: datetime
) -> None:
    ward = await client_for("region-norrbotten-sunderby-med")
    person = await create_person(ward)
    episode = await admit(ward, person["id"], t0, primary_care_unit_id="region-norrbotten-hc-lulea")
    theirs = {scene.person_id, person["id"], scene.episode_id, episode["id"]}
    for unit in ("region-norrbotten-sunderby-psyk", "region-norrbotten-hc-kiruna"):
        other = await client_for(unit)
        for path in ("/api/v1/persons", "/api/v1/episodes", "/fhir/Patient", "/fhir/Encounter"):
            listed = await other.get(path)
            assert listed.status_code == 200 and not any(i in listed.text for i in theirs), path
        for path in (f"/api/v1/persons/{person['id']}", f"/api/v1/episodes/{episode['id']}"):
            assert (await other.get(path)).status_code == 404, (unit, path)
    # The ward's own client and the health centre the episode names (a party) do see it; so
    # does the region's system, which sees what any of its units is a party to.
    centre = await client_for("region-norrbotten-hc-lulea")
    for party in (ward, centre, client):
        listed = (await party.get("/api/v1/episodes", params={"person_id": person["id"]})).json()
        assert [e["id"] for e in listed["items"]] == [episode["id"]]
        shown = (await party.get(f"/api/v1/persons/{person['id']}")).json()
        assert shown["family_name"] == "Testsson" and shown["details_withheld"] is False
    # Acting for the psychiatric ward, the region's system sees the ward's episode no more.
    client.headers["X-Samverkan-Unit"] = "region-norrbotten-sunderby-psyk"
    assert (await client.get(f"/api/v1/episodes/{episode['id']}")).status_code == 404
    assert (await client.get(f"/api/v1/episodes/{scene.episode_id}")).status_code == 404


async def test_the_strangers_own_access_log_does_not_tell_existing_from_missing_ids(
    client_for: ClientFor, scene: Scene
) -> None:
    stranger = await client_for("kommun-0880")
    missing = str(uuid.uuid4())
    since = datetime.now(UTC).isoformat()
    for person_id in (scene.person_id, missing):
        assert (await stranger.get(f"/api/v1/persons/{person_id}")).status_code == 404
    entries = (await stranger.get("/api/v1/access-log", params={"since": since})).json()["items"]
    tried = [e for e in entries if e["resource_type"] == "Patient"]
    assert len(tried) == 2
    assert {e["outcome"] for e in tried} == {"denied"}
    assert all(e["person_id"] is None and e["resource_id"] is None for e in tried)
    # The person's complete log extract shows the refused attempt in full; it needs the scope.
    hospital = await client_for("region-norrbotten", scopes="system/*.cruds samverkan/log-extract")
    about = (
        await hospital.get(
            "/api/v1/access-log", params={"person_id": scene.person_id, "since": since}
        )
    ).json()["items"]
    assert [(e["organization_id"], e["outcome"]) for e in about if e["action"] == "read"] == [
        ("kommun-0880", "denied")
    ]


async def test_refused_reads_of_any_record_are_in_the_persons_extract(
    client_for: ClientFor, scene: Scene
) -> None:
    stranger = await client_for("kommun-2580-lss")
    since = datetime.now(UTC).isoformat()
    refused = scene.records()
    for path in refused.values():
        assert (await stranger.get(path)).status_code == 404, path
    extract = await client_for("kommun-2580", scopes="system/*.cruds samverkan/log-extract")
    about = (
        await extract.get(
            "/api/v1/access-log", params={"person_id": scene.person_id, "since": since}
        )
    ).json()["items"]
    denied = {
        (e["resource_type"], e["resource_id"])
        for e in about
        if e["outcome"] == "denied" and e["unit_id"] == "kommun-2580-lss"
    }
    assert denied == {(kind, path.rsplit("/", 1)[1]) for kind, path in refused.items()}
    # The FHIR view of the extract is the same.
    events = await extract.get(
        "/fhir/AuditEvent", params={"patient": scene.person_id, "date": f"ge{since}"}
    )
    assert events.status_code == 200 and len(
        [e for e in events.json()["entry"] if e["resource"]["outcome"] == "4"]
    ) >= len(refused)


async def test_a_general_deviation_is_seen_by_its_parties_only(client_for: ClientFor) -> None:
    """A deviation about no episode, plan or person: its parties are the reporter, the handler
    and the principals of the organizations it names, at the grain of principals."""
    ward = await client_for("region-norrbotten")
    ward.headers["X-Samverkan-Unit"] = "region-norrbotten-sunderby-med"
    reported = await ward.post(
        "/api/v1/deviations",
        json={
            "category": "other",
            "description": SECRET_NAME,
            "organization_ids": ["kommun-2580-hemtjanst", "region-kalmar-lanssjukhuset-med"],
            "handler_principal_id": "kommun-2580",
        },
    )
    assert reported.status_code == 201, reported.text
    deviation = reported.json()
    assert deviation["person_id"] is None and deviation["episode_id"] is None
    path = f"/api/v1/deviations/{deviation['id']}"
    for party in ("region-norrbotten", "kommun-2580", "region-kalmar", deviation["handler_id"]):
        http = await client_for(party)
        assert (await http.get(path)).status_code == 200, party
        listed = (await http.get("/api/v1/deviations")).json()["items"]
        assert deviation["id"] in {d["id"] for d in listed}, party
    for stranger in (
        "kommun-0880",
        "region-kalmar-lanssjukhuset-med",
        "kommun-2580-lss",
        "region-norrbotten-sunderby-psyk",
    ):
        http = await client_for(stranger)
        for where in (path, f"/fhir/Task/{deviation['id']}"):
            refused = await http.get(where)
            assert refused.status_code == 404, (stranger, where)
            assert SECRET_NAME not in refused.text
        listed = await http.get("/api/v1/deviations")
        assert deviation["id"] not in listed.text and SECRET_NAME not in listed.text, stranger
        searched = await http.get("/fhir/Task")
        assert deviation["id"] not in searched.text, stranger


@pytest.mark.parametrize("stranger_of", STRANGERS)
async def test_the_statistics_drill_down_lists_none_of_anothers_records(
    client: httpx.AsyncClient,
    client_for: ClientFor,
    scene: Scene,
    stranger_of: tuple[str, str],
    t0: datetime,
) -> None:
    """Whatever figures a stranger may ask for (its own, an area it belongs to, which may cover
    the scene's), the records behind them are only its own; an organization it is not, or an
    area it is no member of, answers as one that does not exist."""
    organization, _principal = stranger_of
    stranger = await client_for(organization)
    months = sorted({t0.strftime("%Y-%m"), datetime.now(UTC).strftime("%Y-%m")})
    secrets = [*scene.ids().values(), scene.identifier, SECRET_NAME, SECRET_ADDRESS]
    subjects = [{}, {"area": "area-luleaboden"}, {"organization": "region-norrbotten"}]
    for item in INDICATORS:
        path = f"/api/v1/statistics/{item.code}/records"
        for month, subject in ((m, s) for m in months for s in subjects):
            answer = await stranger.get(path, params={"period": month, **subject})
            where = f"{organization} {item.code} {month} {subject}"
            assert answer.status_code in (200, 404, 422), (where, answer.text)
            for secret in secrets:
                assert secret not in answer.text, f"{where}: the drill-down reveals {secret!r}"
            if answer.status_code == 404:
                field = next(iter(subject))
                missing = await stranger.get(
                    path, params={"period": month, field: f"{field}-nowhere"}
                )
                assert missing.status_code == 404, where
                assert answer.json()["detail"].replace(subject[field], "X") == missing.json()[
                    "detail"
                ].replace(f"{field}-nowhere", "X"), where
            elif answer.status_code == 200:
                assert answer.json()["items"] == [], where
    # The walk is not vacuous: the region, a party, is listed the episode, without the person.
    episodes: list[dict[str, Any]] = []
    for month in months:
        listed = await client.get(
            "/api/v1/statistics/admissions-notified/records", params={"period": month}
        )
        assert listed.status_code == 200, listed.text
        episodes += listed.json()["items"]
        assert scene.person_id not in listed.text and scene.identifier not in listed.text
    assert [(e["id"], e["person_id"]) for e in episodes] == [(scene.episode_id, None)]
