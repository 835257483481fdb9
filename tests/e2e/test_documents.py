"""Documents and the planning basis (issue 17, part D): they travel with the notices to the
notice's receivers, are read as the record they are attached to is, over REST and FHIR, and bad
content is refused naming the field, with nothing stored."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.settings import Settings
from tests.conftest import ClientFor
from tests.factories import PLANNING_ANSWERS, admit, create_person, notice

FHIR = {"Content-Type": "application/fhir+json"}
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
TYPES = "https://samverkan.dev/fhir/CodeSystem/document-type"
QUESTIONNAIRE = "https://samverkan.dev/fhir/Questionnaire/planning-basis"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def upload(kind: str, title: str, content_type: str, data: bytes) -> dict[str, Any]:
    return {"type": kind, "title": title, "content_type": content_type, "data": b64(data)}


async def in_hospital(client_for: ClientFor) -> tuple[httpx.AsyncClient, dict[str, Any]]:
    """A Kalmar resident admitted at Länssjukhuset two days ago."""
    hospital = await client_for("region-kalmar")
    person = await create_person(hospital, municipality="kommun-0880")
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    episode = await admit(
        hospital, person["id"], two_days_ago, unit="region-kalmar-lanssjukhuset-med"
    )
    return hospital, episode


@pytest.mark.committing("postgresql")  # reads the outbox
async def test_the_planning_basis_and_documents_go_with_the_notices(
    client_for: ClientFor,
    now: datetime,
) -> None:
    hospital, episode = await in_hospital(client_for)
    kalmar = await client_for("kommun-0880")
    stranger = await client_for("kommun-2580")
    # Before the notice, the municipality is already a party (the receiver) but has nothing.
    sent = ok(
        await notice(
            hospital,
            episode["id"],
            "admission-notice",
            now - timedelta(days=2) + timedelta(hours=2),
            planning_basis={"answers": PLANNING_ANSWERS},
            documents=[upload("planning-basis", "Planeringsunderlag", "application/pdf", PDF)],
        )
    )
    (basis,) = sent["planning_basis"]
    assert basis["notice"] == "admission-notice" and basis["questionnaire_version"] == "1.0.0"
    assert basis["answers"] == PLANNING_ANSWERS
    (document,) = sent["documents"]
    assert (document["type"], document["content_type"], document["size"]) == (
        "planning-basis",
        "application/pdf",
        len(PDF),
    )
    # The municipality's system finds both in the notice it receives, and reads them as data.
    inbox = ok(await kalmar.get("/api/v1/inbox", params={"event": "admission-notice"}))
    (item,) = [i for i in inbox["items"] if i["focus"] == f"Encounter/{episode['id']}"]
    assert item["payload"]["documents"] == [f"DocumentReference/{document['id']}"]
    assert item["payload"]["planning_basis"] == f"QuestionnaireResponse/{basis['id']}"
    seen = ok(await kalmar.get(f"/api/v1/episodes/{episode['id']}"))
    assert seen["planning_basis"][0]["answers"]["aids"] == ["rollator", "duschpall"]
    assert seen["planning_basis"][0]["answers"]["functional-status"] == "some-help"
    assert seen["discharge_information"] is None

    content = await kalmar.get(document["content_url"])
    assert content.status_code == 200 and content.content == PDF
    assert content.headers["content-type"] == "application/pdf"
    assert content.headers["content-disposition"].startswith('attachment; filename="')
    assert "Planeringsunderlag.pdf" in content.headers["content-disposition"]
    assert content.headers["etag"] == f'"{document["sha256"]}"'
    cached = await kalmar.get(
        document["content_url"], headers={"If-None-Match": content.headers["etag"]}
    )
    assert cached.status_code == 304 and cached.content == b""
    stale = await kalmar.get(document["content_url"], headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200

    # FHIR: the answers as a QuestionnaireResponse to the served Questionnaire.
    response = ok(await kalmar.get(f"/fhir/QuestionnaireResponse/{basis['id']}"))
    assert response["questionnaire"] == f"{QUESTIONNAIRE}|1.0.0"
    assert response["encounter"] == {"reference": f"Encounter/{episode['id']}"}
    items = {i["linkId"]: i["answer"] for i in response["item"]}
    assert items["current-home-services"] == [{"valueBoolean": True}]
    assert items["cognitive-state"][0]["valueCoding"]["code"] == "mild"
    by_encounter = ok(
        await kalmar.get("/fhir/QuestionnaireResponse", params={"encounter": episode["id"]})
    )
    assert [e["resource"]["id"] for e in by_encounter["entry"]] == [basis["id"]]
    questionnaire = ok(
        await kalmar.get("/fhir/Questionnaire", params={"url": QUESTIONNAIRE, "version": "1.0.0"})
    )
    (served,) = questionnaire["entry"]
    assert {i["linkId"] for i in served["resource"]["item"]} >= set(PLANNING_ANSWERS)
    assert ok(await kalmar.get("/fhir/Questionnaire", params={"version": "0.9"}))["total"] == 0
    reference = ok(await kalmar.get(f"/fhir/DocumentReference/{document['id']}"))
    assert reference["context"] == {"encounter": [{"reference": f"Encounter/{episode['id']}"}]}
    assert reference["content"][0]["attachment"]["url"] == f"Binary/{document['id']}"
    binary = ok(await kalmar.get(f"/fhir/Binary/{document['id']}"))
    assert base64.b64decode(binary["data"]) == PDF

    # No one else sees them; every read by the receiver is in the access log.
    for path in (
        f"/api/v1/documents/{document['id']}",
        document["content_url"],
        f"/fhir/DocumentReference/{document['id']}",
        f"/fhir/Binary/{document['id']}",
        f"/fhir/QuestionnaireResponse/{basis['id']}",
    ):
        assert (await stranger.get(path)).status_code == 404, path
    log = ok(await kalmar.get("/api/v1/access-log", params={"person_id": episode["person_id"]}))
    reads = {(e["resource_type"], e["action"]) for e in log["items"]}
    assert {("Binary", "read"), ("DocumentReference", "read")} <= reads
    assert ("QuestionnaireResponse", "read") in reads


@pytest.mark.committing("postgresql")  # reads the outbox
async def test_discharge_information_on_the_discharge_day_or_late(
    client_for: ClientFor,
    now: datetime,
) -> None:
    hospital, episode = await in_hospital(client_for)
    kalmar = await client_for("kommun-0880")
    # Discharged now, with the discharge information: on time.
    sent = ok(
        await notice(
            hospital,
            episode["id"],
            "discharge",
            documents=[
                upload(
                    "discharge-information",
                    "Utskrivningsinformation",
                    "text/plain",
                    "Utskriven till eget boende. Såromläggning varannan dag.".encode(),
                ),
                upload("medication-list", "Läkemedelslista", "application/pdf", PDF),
            ],
        )
    )
    assert sent["discharge_information"] == "on-time"
    by_type = {d["type"]: d for d in sent["documents"]}
    assert set(by_type) == {"discharge-information", "medication-list"}
    encounter = ok(await kalmar.get(f"/fhir/Encounter/{episode['id']}"))
    assert {
        "url": "https://samverkan.dev/fhir/StructureDefinition/discharge-information",
        "valueCode": "on-time",
    } in encounter["extension"]
    text = await kalmar.get(by_type["discharge-information"]["content_url"])
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert "Såromläggning" in text.text

    # Another stay, discharged yesterday without discharge information: late.
    _, later = await in_hospital(client_for)
    ok(await notice(hospital, later["id"], "discharge", now - timedelta(days=1, hours=1)))
    assert ok(await kalmar.get(f"/api/v1/episodes/{later['id']}"))["discharge_information"] == (
        "late"
    )
    # Sent afterwards, on its own, it stays late; the receivers get it as document-shared.
    shared = ok(
        await hospital.post(
            "/api/v1/documents",
            json={
                "attached_to": {"type": "episode", "id": later["id"]},
                **upload("discharge-information", "Epikris", "text/plain", b"Epikris"),
            },
        ),
        201,
    )
    assert shared["attached_to"] == {"type": "episode", "id": later["id"]}
    episode_now = ok(await kalmar.get(f"/api/v1/episodes/{later['id']}"))
    assert episode_now["discharge_information"] == "late"
    inbox = ok(await kalmar.get("/api/v1/inbox", params={"event": "document-shared"}))
    assert [i["focus"] for i in inbox["items"]] == [f"DocumentReference/{shared['id']}"]
    assert inbox["items"][0]["payload"]["context"] == f"Encounter/{later['id']}"
    listed = ok(
        await kalmar.get(
            "/api/v1/documents",
            params={"episode_id": later["id"], "type": "discharge-information"},
        )
    )
    assert [d["id"] for d in listed["items"]] == [shared["id"]]
    found = ok(
        await kalmar.get(
            "/fhir/DocumentReference",
            params={
                "patient": later["person_id"],
                "type": f"{TYPES}|discharge-information",
                "author": "Organization/region-kalmar",
            },
        )
    )
    assert [e["resource"]["id"] for e in found["entry"]] == [shared["id"]]


async def test_bad_documents_and_answers_are_refused_naming_the_field_and_store_nothing(
    client_for: ClientFor, settings: Settings, monkeypatch: pytest.MonkeyPatch, now: datetime
) -> None:
    monkeypatch.setattr(settings, "document_max_bytes", 2048)
    monkeypatch.setattr(settings, "document_content_types", ["application/pdf", "text/plain"])
    hospital, episode = await in_hospital(client_for)
    cases = [
        (upload("other", "big", "text/plain", b"x" * 2049), 413, "documents[0].data"),
        (upload("other", "bundle", "application/fhir+json", b"{}"), 415, "content_type"),
        (upload("other", "word", "application/msword", b"PK"), 415, "content_type"),
        (upload("other", "fake", "application/pdf", b"<html>"), 422, "documents[0].data"),
        (upload("other", "latin1", "text/plain", "Malmö".encode("latin-1")), 422, ".data"),
        ({**upload("other", "x", "text/plain", b"x"), "data": "%%%"}, 422, "documents[0].data"),
    ]
    for document, status, field in cases:
        refused = await notice(
            hospital, episode["id"], "admission-notice", now, documents=[document]
        )
        assert refused.status_code == status, (document["title"], refused.text)
        assert field in refused.json()["errors"][0]["field"], refused.text
    bad_answers = [
        ({**PLANNING_ANSWERS, "shoe-size": "42"}, "planning_basis.answers.shoe-size"),
        ({**PLANNING_ANSWERS, "current-home-services": "yes"}, "current-home-services"),
        ({**PLANNING_ANSWERS, "cognitive-state": "fine"}, "cognitive-state"),
        ({k: v for k, v in PLANNING_ANSWERS.items() if k != "expected-needs"}, "expected-needs"),
    ]
    for answers, field in bad_answers:
        refused = await notice(
            hospital, episode["id"], "admission-notice", now, planning_basis={"answers": answers}
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"].endswith(field), refused.text
    # A notice that carries no planning basis refuses one.
    other = await notice(
        hospital,
        episode["id"],
        "expected-discharge",
        now,
        expected_discharge_date="2030-01-01",
        planning_basis={"answers": PLANNING_ANSWERS},
    )
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "planning_basis"
    # Nothing of the refused notices was stored: no notice, no document, no answers.
    seen = ok(await hospital.get(f"/api/v1/episodes/{episode['id']}"))
    assert seen["events"] == [] and seen["documents"] == [] and seen["planning_basis"] == []
    assert ok(await hospital.get("/api/v1/documents"))["items"] == []
    # A fitting one is accepted after all.
    ok(
        await notice(
            hospital,
            episode["id"],
            "admission-notice",
            now,
            documents=[upload("other", "ok", "text/plain", "Malmö".encode())],
        )
    )


async def test_documents_in_message_bundles(client_for: ClientFor, now: datetime) -> None:
    hospital, episode = await in_hospital(client_for)
    kalmar = await client_for("kommun-0880")
    ok(await notice(hospital, episode["id"], "admission-notice", now - timedelta(days=1)))
    shared = {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": TYPES, "code": "nursing-discharge-report"}]},
        "subject": {"reference": f"Patient/{episode['person_id']}"},
        "content": [{"attachment": {"contentType": "text/plain", "url": "urn:uuid:b"}}],
        "context": {"encounter": [{"reference": f"Encounter/{episode['id']}"}]},
    }
    message = {
        "resourceType": "Bundle",
        "id": "c0d2b0f6-0a1e-4f54-9f6c-1a2b3c4d5e6f",
        "type": "message",
        "timestamp": now.isoformat(),
        "entry": [
            {
                "fullUrl": "urn:uuid:9e0b2c58-6d3f-4f0a-8b1e-2c3d4e5f6a7b",
                "resource": {
                    "resourceType": "MessageHeader",
                    "id": "9e0b2c58-6d3f-4f0a-8b1e-2c3d4e5f6a7b",
                    "eventCoding": {
                        "system": "https://samverkan.dev/fhir/CodeSystem/message-event",
                        "code": "document-shared",
                    },
                    "source": {"endpoint": "urn:oid:1.2.752.29.4.19"},
                    "focus": [{"reference": "urn:uuid:a"}],
                },
            },
            {"fullUrl": "urn:uuid:a", "resource": shared},
            {
                "fullUrl": "urn:uuid:b",
                "resource": {
                    "resourceType": "Binary",
                    "contentType": "text/plain",
                    "data": b64("Omvårdnadsepikris".encode()),
                },
            },
        ],
    }
    answer = await hospital.post(
        "/fhir/$process-message", content=json.dumps(message), headers=FHIR
    )
    assert answer.status_code == 200, answer.text
    header = answer.json()["entry"][0]["resource"]
    assert header["response"]["code"] == "ok"
    reference = header["focus"][0]["reference"]
    assert reference.startswith("DocumentReference/")
    document = ok(await kalmar.get(f"/fhir/{reference}"))
    assert document["type"]["coding"][0]["code"] == "nursing-discharge-report"
    content = await kalmar.get(f"/api/v1/documents/{document['id']}/content")
    assert content.text == "Omvårdnadsepikris"

    # A declared type its bytes contradict: refused naming the Binary, nothing stored.
    message["id"] = "d1e3c1a7-1b2f-4a65-8a7d-2b3c4d5e6f70"
    message["entry"][0]["resource"]["id"] = "0f1c3d69-7e4a-4a1b-9c2f-3d4e5f6a7b8c"
    shared["content"] = [{"attachment": {"contentType": "application/pdf", "url": "urn:uuid:b"}}]
    refused = await hospital.post(
        "/fhir/$process-message", content=json.dumps(message), headers=FHIR
    )
    assert refused.status_code == 422, refused.text
    issue = refused.json()["entry"][1]["resource"]["issue"][0]
    assert "contentType" in issue["expression"][0]
    listed = ok(await kalmar.get("/api/v1/documents", params={"episode_id": episode["id"]}))
    assert [d["id"] for d in listed["items"]] == [document["id"]]

    # FHIR create of a DocumentReference with inline data.
    created = await hospital.post(
        "/fhir/DocumentReference",
        content=json.dumps(
            {
                **shared,
                "content": [{"attachment": {"contentType": "application/pdf", "data": b64(PDF)}}],
            }
        ),
        headers=FHIR,
    )
    assert created.status_code == 201, created.text
    assert created.json()["content"][0]["attachment"]["size"] == len(PDF)

    # Data that is no base64: refused naming the element, as every malformed element is (the
    # model alone would drop what it cannot decode and store the rest).
    for junk in ("%%%", "aGVq!"):
        bad = {**shared, "content": [{"attachment": {"contentType": "text/plain", "data": junk}}]}
        refused = await hospital.post(
            "/fhir/DocumentReference", content=json.dumps(bad), headers=FHIR
        )
        assert refused.status_code == 400, refused.text
        expression = refused.json()["issue"][0]["expression"]
        assert expression == ["DocumentReference.content[0].attachment.data"]
