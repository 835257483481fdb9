"""Independent FHIR clients against the running server: the Python ``fhirclient`` package (its R4
models are a code base of their own) reads the CapabilityStatement and reads and searches every
resource type the server serves."""

from __future__ import annotations

import asyncio
import base64
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fhirclient import server as fhir_server
from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.models.fhirabstractresource import FHIRAbstractResource
from fhirclient.models.fhirsearch import FHIRSearch
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.identifiers import PERSONNUMMER
from app.fhir.resources import RESOURCES
from app.settings import Settings
from tests.conftest import fetch_token, register_test_client
from tests.e2e.test_http_server import Server, server  # noqa: F401 (the fixture)
from tests.factories import PLANNING_ANSWERS, consent, personnummer, staff_role

# Committing: the clients talk to a uvicorn process, which reads what the test wrote.
pytestmark = pytest.mark.committing


async def _fill(http: httpx.AsyncClient, now: datetime) -> dict[str, str]:
    """A person with an episode, an active plan with consent, and a meeting."""

    async def ok(response: Any, status: int = 200) -> dict[str, Any]:
        result = await response
        assert result.status_code == status, result.text
        body: dict[str, Any] = result.json()
        return body

    person = await ok(
        http.post(
            "/api/v1/persons",
            json={
                "identifier": {"system": PERSONNUMMER, "value": personnummer(date(1940, 1, 2))},
                "given_name": "Klient",
                "family_name": "Fhirsdottir",
                "residence_municipality_id": "kommun-0880",
            },
        ),
        201,
    )
    episode = await ok(
        http.post(
            "/api/v1/episodes",
            json={
                "person_id": person["id"],
                "hospital_unit_id": "region-kalmar-lanssjukhuset-med",
                "admitted_at": (now - timedelta(days=2)).isoformat(),
                "admission_type": "planned",
            },
        ),
        201,
    )
    noticed = await ok(
        http.post(
            f"/api/v1/episodes/{episode['id']}/admission-notice",
            json={
                "planning_basis": {"answers": PLANNING_ANSWERS},
                "documents": [
                    {
                        "type": "planning-basis",
                        "title": "Planeringsunderlag",
                        "content_type": "text/plain",
                        "data": base64.b64encode("Behöver hjälp".encode()).decode(),
                    }
                ],
            },
        )
    )
    coordinator = await staff_role(http, "kommun-0880-hemtjanst", "coordinator")
    plan = await ok(
        http.post(
            "/api/v1/plans",
            json={
                "person_id": person["id"],
                "title": "SIP",
                "goals": [{"id": "g", "description": "Hemma"}],
                "interventions": [
                    {
                        "id": "i",
                        "description": "Hemtjänst",
                        "responsible_unit_id": "kommun-0880-hemtjanst",
                    }
                ],
                "responsible_principal_id": "kommun-0880",
                "coordinator": {"practitioner_role_id": coordinator["id"]},
                "start_date": now.date().isoformat(),
                "follow_up_dates": [(now.date() + timedelta(days=60)).isoformat()],
            },
        ),
        201,
    )
    await consent(http, plan["id"], ["region-kalmar", "kommun-0880"], now, method="written")
    await ok(http.post(f"/api/v1/plans/{plan['id']}/activate", json={}))
    starts = now + timedelta(days=4)
    meeting = await ok(
        http.post(
            "/api/v1/meetings",
            json={
                "plan_id": plan["id"],
                "starts_at": starts.isoformat(),
                "reply_by": starts.date().isoformat(),
                "location": "Vårdcentralen",
                "participants": [{"id": "p", "kind": "person"}],
            },
        ),
        201,
    )
    await ok(
        http.post(
            f"/api/v1/meetings/{meeting['id']}/replies",
            json={"participant_id": "p", "reply": "accepted"},
        )
    )
    message = await ok(
        http.post(
            "/api/v1/care-messages",
            json={"recipients": ["kommun-0880-hemtjanst"], "person_id": person["id"], "text": "x"},
        ),
        201,
    )
    deviation = await ok(
        http.post(
            "/api/v1/deviations",
            json={"category": "other", "episode_id": episode["id"], "description": "x"},
        ),
        201,
    )
    log = await ok(http.get("/api/v1/access-log", params={"person_id": person["id"]}))
    return {
        "Patient": person["id"],
        "Organization": "kommun-0880-hemtjanst",
        "Encounter": episode["id"],
        "CarePlan": plan["id"],
        "Goal": f"{plan['id']}.g",
        "CareTeam": plan["id"],
        "Practitioner": coordinator["practitioner_id"],
        "PractitionerRole": coordinator["id"],
        "Consent": f"{plan['id']}.0",
        "Appointment": meeting["id"],
        "AppointmentResponse": f"{meeting['id']}.p",
        "Communication": message["id"],
        "Task": deviation["id"],
        "AuditEvent": str(log["items"][0]["id"]),
        "CodeSystem": "message-event",
        "StructureDefinition": "reply-by",
        "Measure": "admissions-notified",
        "DocumentReference": noticed["documents"][0]["id"],
        "Binary": noticed["documents"][0]["id"],
        "Questionnaire": "planning-basis",
        "QuestionnaireResponse": noticed["planning_basis"][0]["id"],
    }


def _model(resource_type: str) -> type[FHIRAbstractResource]:
    module = __import__(f"fhirclient.models.{resource_type.lower()}", fromlist=[resource_type])
    model: type[FHIRAbstractResource] = getattr(module, resource_type)
    return model


def _read_everything(base: str, token: str, ids: dict[str, str]) -> dict[str, int]:
    """With fhirclient: the CapabilityStatement, a read and a search of every resource type."""
    connection = fhir_server.FHIRServer(None, base_uri=f"{base}/fhir/")
    connection.session.headers["Authorization"] = f"Bearer {token}"
    connection.get_capability()
    assert connection.capabilityStatement is not None
    assert connection.capabilityStatement.fhirVersion == "4.0.1"
    found: dict[str, int] = {}
    for resource_type, ident in ids.items():
        model = _model(resource_type)
        read = model.read(ident, connection)
        assert read.id == ident, resource_type
        struct = {"_id": ident}
        results = FHIRSearch(model, struct=struct).perform_resources(connection)
        found[resource_type] = len(results)
    return found


async def test_fhirclient_reads_and_searches_every_resource_type(
    server: Server,  # noqa: F811
    engine: AsyncEngine,
    settings: Settings,
    now: datetime,
) -> None:
    client_id, pem, kid = await register_test_client(engine, "region-kalmar", "system/*.cruds")
    served = settings.model_copy(update={"public_base_url": server.url})
    async with httpx.AsyncClient(base_url=server.url) as http:
        token = (await fetch_token(http, served, client_id, pem, kid, "ES384")).json()[
            "access_token"
        ]
        http.headers["Authorization"] = f"Bearer {token}"
        ids = await _fill(http, now)
    assert set(ids) == set(RESOURCES), "a served resource type is missing from this test"
    try:
        found = await asyncio.to_thread(_read_everything, server.url, token, ids)
    except FHIRValidationError as exc:  # the other implementation disagrees with ours
        raise AssertionError(f"fhirclient refused a resource: {exc}") from exc
    assert found == dict.fromkeys(ids, 1)


async def test_fhirpy_creates_updates_and_searches(
    server: Server,  # noqa: F811
    engine: AsyncEngine,
    settings: Settings,
) -> None:
    """fhirpy (an independent async FHIR client) drives create, search, update and delete."""
    from fhirpy import AsyncFHIRClient
    from fhirpy.base.exceptions import OperationOutcome

    client_id, pem, kid = await register_test_client(engine, "region-kalmar", "system/*.cruds")
    served = settings.model_copy(update={"public_base_url": server.url})
    async with httpx.AsyncClient(base_url=server.url) as http:
        token = (await fetch_token(http, served, client_id, pem, kid, "ES384")).json()[
            "access_token"
        ]
    fhir = AsyncFHIRClient(f"{server.url}/fhir", authorization=f"Bearer {token}")
    value = personnummer(date(1939, 9, 9))
    person = fhir.resource(
        "Patient",
        identifier=[{"system": PERSONNUMMER, "value": value}],
        name=[{"family": "Pysson", "given": ["Fhir"]}],
        managingOrganization={"reference": "Organization/kommun-0880"},
    )
    await person.save()
    assert person.id
    found = await fhir.resources("Patient").search(identifier=f"{PERSONNUMMER}|{value}").fetch()
    assert [p.id for p in found] == [person.id]

    plan = fhir.resource(
        "CarePlan",
        status="draft",
        intent="plan",
        title="SIP via fhirpy",
        subject={"reference": f"Patient/{person.id}"},
    )
    await plan.save()
    assert plan["meta"]["versionId"] == "1"
    plan["title"] = "SIP via fhirpy, reviderad"
    await plan.save()  # fhirpy sends If-Match with the version it read
    again = await fhir.resources("CarePlan").search(patient=person.id).fetch_all()
    assert [(p.id, p["title"]) for p in again] == [(plan.id, "SIP via fhirpy, reviderad")]
    assert again[0]["meta"]["versionId"] == "2"
    try:
        await plan.delete()
    except OperationOutcome as refused:
        assert "not" in str(refused).lower()
    else:  # pragma: no cover - deleting plans is not offered
        raise AssertionError("a plan was deleted")
