"""A general failure of cooperation: a deviation about no episode, plan or person, naming the
organizations involved, over REST and as a FHIR deviation-report message."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.fhir.messaging import EVENT_SYSTEM
from tests.conftest import ClientFor

FHIR = {"Content-Type": "application/fhir+json"}


async def test_bad_general_reports_name_the_field_and_store_nothing(
    client: httpx.AsyncClient,
) -> None:
    base = {"category": "other", "description": "Telefonen besvaras inte."}
    bad = [
        (base, "organization_ids"),
        ({**base, "organization_ids": ["kommun-2580", "no-such-org"]}, "organization_ids[1]"),
        ({**base, "organization_ids": ["kommun-2580", "kommun-2580"]}, "organization_ids"),
        # Only the reporter's own principal is involved: nobody else can handle it.
        ({**base, "organization_ids": ["region-norrbotten-sunderby-med"]}, "handler_principal_id"),
        # Two other principals: the handler must be named, and be one of them.
        (
            {**base, "organization_ids": ["kommun-2580", "kommun-0880"]},
            "handler_principal_id",
        ),
        (
            {
                **base,
                "organization_ids": ["kommun-2580"],
                "handler_principal_id": "kommun-0880",
            },
            "handler_principal_id",
        ),
    ]
    for body, field in bad:
        refused = await client.post("/api/v1/deviations", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["errors"][0]["field"] == field, refused.text
    assert (await client.get("/api/v1/deviations")).json()["items"] == []


@pytest.mark.committing("postgresql")  # reads the outbox
async def test_a_general_report_goes_to_the_one_other_principal_involved(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    reported = await client.post(
        "/api/v1/deviations",
        json={
            "category": "unsafe-transition",
            "description": "Hemtjänsten nås inte på helger.",
            "organization_ids": ["kommun-2580-hemtjanst"],
        },
    )
    assert reported.status_code == 201, reported.text
    deviation = reported.json()
    assert deviation["handler_principal_id"] == "kommun-2580"
    assert deviation["organization_ids"] == ["kommun-2580-hemtjanst"]
    assert (deviation["person_id"], deviation["raised_by_rule"]) == (None, None)
    handler = await client_for(deviation["handler_id"])
    items: list[dict[str, Any]] = []
    page = {"more": True, "next_cursor": None}
    while page["more"]:
        since = {"since": page["next_cursor"]} if page["next_cursor"] else {}
        page = (await handler.get("/api/v1/inbox", params={"limit": "200", **since})).json()
        items += page["items"]
    (item,) = [i for i in items if i["focus"] == f"Task/{deviation['id']}"]
    assert item["person_id"] is None and "person" not in item["payload"]
    task = (await handler.get(f"/fhir/Task/{deviation['id']}")).json()
    assert "for" not in task and "focus" not in task
    assert task["extension"] == [
        {
            "url": "https://samverkan.dev/fhir/StructureDefinition/involved-organization",
            "valueReference": {"reference": "Organization/kommun-2580-hemtjanst"},
        }
    ]
    moved = await handler.post(
        f"/api/v1/deviations/{deviation['id']}/handling",
        json={"state": "answered", "note": "Jourtelefon inrättad."},
    )
    assert moved.status_code == 200, moved.text


async def test_a_general_report_as_a_fhir_message(client_for: ClientFor) -> None:
    municipality = await client_for("kommun-0880")
    message = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "message",
        "timestamp": datetime.now(UTC).isoformat(),
        "entry": [
            {
                "fullUrl": "urn:uuid:h",
                "resource": {
                    "resourceType": "MessageHeader",
                    "id": str(uuid.uuid4()),
                    "eventCoding": {"system": EVENT_SYSTEM, "code": "deviation-report"},
                    "source": {"endpoint": "urn:test"},
                    "focus": [{"reference": "urn:uuid:t"}],
                },
            },
            {
                "fullUrl": "urn:uuid:t",
                "resource": {
                    "resourceType": "Task",
                    "status": "requested",
                    "intent": "order",
                    "code": {
                        "coding": [
                            {
                                "system": "https://samverkan.dev/fhir/CodeSystem/"
                                "deviation-category",
                                "code": "other",
                            }
                        ]
                    },
                    "description": "Avdelningen ringer inte tillbaka.",
                    "extension": [
                        {
                            "url": "https://samverkan.dev/fhir/StructureDefinition/"
                            "involved-organization",
                            "valueReference": {
                                "reference": "Organization/region-kalmar-lanssjukhuset-med"
                            },
                        }
                    ],
                },
            },
        ],
    }
    answered = await municipality.post(
        "/fhir/$process-message", content=json.dumps(message), headers=FHIR
    )
    assert answered.status_code == 200, answered.text
    header = answered.json()["entry"][0]["resource"]
    assert header["response"]["code"] == "ok", answered.text
    task_id = header["focus"][0]["reference"].removeprefix("Task/")
    region = await client_for("region-kalmar")
    read = (await region.get(f"/api/v1/deviations/{task_id}")).json()
    assert (read["handler_principal_id"], read["person_id"]) == ("region-kalmar", None)
