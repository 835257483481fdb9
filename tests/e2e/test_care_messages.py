"""Care messages between units (REST and FHIR Communication) and deviation reports (REST and
FHIR Task): who sees what, each recipient's state, the handling steps, and the messages."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import ClientFor
from tests.e2e.test_documents import in_hospital as admitted
from tests.e2e.test_fhir_messaging import example, header_of, post
from tests.factories import notice

FHIR = {"Content-Type": "application/fhir+json"}
HOME_CARE = "kommun-0880-hemtjanst"
NEIGHBOUR = "kommun-0861-hemtjanst"


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def in_hospital(client_for: ClientFor) -> tuple[httpx.AsyncClient, dict[str, Any]]:
    """A Kalmar resident admitted at Länssjukhuset two days ago, the municipality notified."""
    hospital, episode = await admitted(client_for)
    assert (await notice(hospital, episode["id"], "admission-notice")).status_code == 200
    return hospital, episode


@pytest.mark.committing("postgresql")  # reads the outbox
async def test_a_message_thread_with_read_and_acknowledged_copies(client_for: ClientFor) -> None:
    hospital, episode = await in_hospital(client_for)
    person_id = episode["person_id"]
    home_care = await client_for(HOME_CARE)
    neighbour = await client_for(NEIGHBOUR)
    stranger = await client_for("kommun-2580")
    # The neighbouring municipality's home care is not in the person's care.
    assert (await neighbour.get(f"/api/v1/persons/{person_id}")).status_code == 404
    sent = ok(
        await hospital.post(
            "/api/v1/care-messages",
            json={
                "recipients": [HOME_CARE, "kommun-0880", NEIGHBOUR],
                "person_id": person_id,
                "category": "discharge",
                "priority": "urgent",
                "subject": "Hemgång fredag",
                "text": "Behöver hjälp morgon och kväll.",
            },
        ),
        201,
    )
    assert sent["thread_id"] == sent["id"] and sent["sender_id"] == "region-kalmar"
    assert [(r["organization_id"], r["state"]) for r in sent["recipients"]] == [
        ("kommun-0861-hemtjanst", "delivered"),
        ("kommun-0880", "delivered"),
        (HOME_CARE, "delivered"),
    ]
    # Being told about the person brings the neighbour into the care; a stranger sees nothing.
    assert (await neighbour.get(f"/api/v1/persons/{person_id}")).status_code == 200
    assert (await stranger.get(f"/api/v1/care-messages/{sent['id']}")).status_code == 404
    assert ok(await stranger.get("/api/v1/care-messages"))["items"] == []
    # Each recipient's system finds it in its inbox as a care-communication event.
    inbox = ok(await neighbour.get("/api/v1/inbox", params={"event": "care-communication"}))
    assert [i["focus"] for i in inbox["items"]] == [f"Communication/{sent['id']}"]
    assert inbox["items"][0]["payload"]["priority"] == "urgent"
    received = ok(await home_care.get("/api/v1/care-messages", params={"box": "received"}))
    assert [m["id"] for m in received["items"]] == [sent["id"]]
    assert ok(await home_care.get("/api/v1/care-messages", params={"box": "sent"}))["items"] == []

    naive = await home_care.post(
        f"/api/v1/care-messages/{sent['id']}/read", json={"at": "2026-01-01T10:00:00"}
    )
    assert naive.status_code == 422 and "at" in naive.text, naive.text
    read = ok(await home_care.post(f"/api/v1/care-messages/{sent['id']}/read", json={}))
    states = {r["organization_id"]: r for r in read["recipients"]}
    assert states[HOME_CARE]["state"] == "read" and states[HOME_CARE]["read_at"]
    # Home care is a unit of Kalmar kommun: it answers for its own copy, not the municipality's.
    assert states["kommun-0880"]["state"] == "delivered"
    assert states[NEIGHBOUR]["state"] == "delivered"
    transient = ok(
        await home_care.post(
            f"/api/v1/care-messages/{sent['id']}/acknowledgement",
            json={"outcome": "transient-error", "detail": "systemet nere, försök igen"},
        )
    )
    assert {r["organization_id"]: r["outcome"] for r in transient["recipients"]} == {
        HOME_CARE: "transient-error",
        "kommun-0880": None,
        NEIGHBOUR: None,
    }
    final = ok(
        await home_care.post(
            f"/api/v1/care-messages/{sent['id']}/acknowledgement", json={"outcome": "ok"}
        )
    )
    assert {(r["state"], r["outcome"]) for r in final["recipients"]} == {
        ("acknowledged", "ok"),
        ("delivered", None),
    }
    again = await home_care.post(
        f"/api/v1/care-messages/{sent['id']}/acknowledgement", json={"outcome": "fatal-error"}
    )
    assert again.status_code == 409 and "already acknowledged" in again.text
    # The sender is no recipient: it cannot acknowledge its own message.
    own = await hospital.post(
        f"/api/v1/care-messages/{sent['id']}/acknowledgement", json={"outcome": "ok"}
    )
    assert own.status_code == 403

    reply = ok(
        await home_care.post(
            "/api/v1/care-messages",
            json={"in_reply_to": sent["id"], "text": "Vi startar fredag 08.00."},
        ),
        201,
    )
    assert reply["thread_id"] == sent["id"] and reply["person_id"] == person_id
    assert [r["organization_id"] for r in reply["recipients"]] == ["region-kalmar"]
    assert reply["subject"] == "Hemgång fredag"
    thread = ok(await hospital.get("/api/v1/care-messages", params={"thread_id": sent["id"]}))
    assert {m["id"] for m in thread["items"]} == {sent["id"], reply["id"]}


async def test_messages_refuse_what_is_wrong(client_for: ClientFor) -> None:
    hospital, episode = await in_hospital(client_for)
    stranger = await client_for("kommun-2580")
    cases = [
        (hospital, {"recipients": [], "text": "x"}, 422, "recipients"),
        (hospital, {"recipients": ["region-kalmar"], "text": "x"}, 422, "recipients"),
        (hospital, {"recipients": ["no-such-org"], "text": "x"}, 422, "recipients[0]"),
        (hospital, {"recipients": [HOME_CARE], "text": ""}, 422, "text"),
        (hospital, {"recipients": [HOME_CARE], "text": "x", "category": "gossip"}, 422, "category"),
        (
            hospital,
            {"recipients": [HOME_CARE], "text": "x", "in_reply_to": str(uuid.uuid4())},
            404,
            "in_reply_to",
        ),
        # A municipality with no part in the person's care cannot write about the person.
        (
            stranger,
            {"recipients": [HOME_CARE], "text": "x", "person_id": episode["person_id"]},
            404,
            None,
        ),
    ]
    for client, body, status, field in cases:
        response = await client.post("/api/v1/care-messages", json=body)
        assert response.status_code == status, (body, response.text)
        if field is not None:
            assert field in [e["field"] for e in response.json().get("errors", [])] or (
                response.json().get("field") == field
            ), response.text
    assert ok(await hospital.get("/api/v1/care-messages"))["items"] == []


async def test_care_messages_as_fhir_communication(client_for: ClientFor) -> None:
    hospital, episode = await in_hospital(client_for)
    person_id = episode["person_id"]
    home_care = await client_for("kommun-0880-hemsjukvard")
    body = example("care-communication", person_id=person_id)
    response = await post(hospital, body)
    assert response.status_code == 200, response.text
    [focus] = header_of(response)["focus"]
    message_id = focus["reference"].removeprefix("Communication/")
    resource = ok(await home_care.get(f"/fhir/{focus['reference']}"))
    assert resource["subject"] == {"reference": f"Patient/{person_id}"}
    assert resource["priority"] == "urgent"
    assert resource["category"][0]["coding"][0]["code"] == "medication"
    [state] = resource["extension"]
    assert {e["url"]: e for e in state["extension"]}["state"]["valueCode"] == "delivered"
    # The receiver acknowledges with a message whose focus is the care message.
    ack = example("acknowledgement", answered_header_id=body["entry"][0]["resource"]["id"])
    ack["entry"][0]["resource"]["sender"] = {"reference": "Organization/kommun-0880-hemsjukvard"}
    ack["entry"][0]["resource"]["focus"] = [{"reference": f"Communication/{message_id}"}]
    acked = await post(home_care, ack)
    assert acked.status_code == 200, acked.text
    states = ok(await hospital.get(f"/api/v1/care-messages/{message_id}"))["recipients"]
    assert [(s["state"], s["outcome"]) for s in states] == [("acknowledged", "ok")]
    # Searches: by recipient (own), by category, by thread; a reply through FHIR create.
    received = ok(
        await home_care.get(
            "/fhir/Communication",
            params={"recipient": "Organization/kommun-0880-hemsjukvard", "category": "medication"},
        )
    )
    assert [e["resource"]["id"] for e in received["entry"]] == [message_id]
    reply = {
        "resourceType": "Communication",
        "status": "completed",
        "inResponseTo": [{"reference": f"Communication/{message_id}"}],
        "recipient": [{"reference": "Organization/region-kalmar"}],
        "payload": [{"contentString": "Mottaget."}],
    }
    created = await home_care.post("/fhir/Communication", json=reply, headers=FHIR)
    assert created.status_code == 201, created.text
    assert created.json()["partOf"] == [{"reference": f"Communication/{message_id}"}]
    thread = ok(
        await hospital.get(
            "/fhir/Communication",
            params={"part-of": message_id, "_include": "Communication:part-of"},
        )
    )
    assert [(e["resource"]["id"], e["search"]["mode"]) for e in thread["entry"]] == [
        (created.json()["id"], "match"),
        (message_id, "include"),
    ]
    other = await home_care.get("/fhir/Communication", params={"recipient": "region-kalmar"})
    assert other.status_code == 422
    bad = await hospital.post(
        "/fhir/Communication", json={**reply, "status": "in-progress"}, headers=FHIR
    )
    assert bad.status_code == 422 and bad.json()["issue"][0]["expression"] == [
        "Communication.status"
    ]


@pytest.mark.committing("postgresql")  # reads the outbox
async def test_a_deviation_is_reported_investigated_answered_and_closed(
    client_for: ClientFor,
) -> None:
    hospital, episode = await in_hospital(client_for)
    # The municipality's system, acting for its home health care, which the stay's notices
    # reach through the municipality.
    municipality = await client_for("kommun-0880")
    municipality.headers["X-Samverkan-Unit"] = "kommun-0880-hemsjukvard"
    stranger = await client_for("kommun-2580")
    reported = ok(
        await municipality.post(
            "/api/v1/deviations",
            json={
                "category": "missing-discharge-information",
                "episode_id": episode["id"],
                "description": "Ingen information om såromläggning.",
            },
        ),
        201,
    )
    # A municipality's report about a stay goes to the region that ran it: to its deviation
    # handler (the patient-safety function) in the staff register.
    assert reported["handler_principal_id"] == reported["handler_id"] == "region-kalmar"
    role = ok(await hospital.get(f"/api/v1/practitioner-roles/{reported['handler_role_id']}"))
    assert (role["role"], role["organization_id"]) == ("deviation-handler", "region-kalmar")
    assert (reported["state"], reported["reporter_principal_id"]) == ("reported", "kommun-0880")
    assert reported["reporter_id"] == "kommun-0880-hemsjukvard"
    inbox = ok(await hospital.get("/api/v1/inbox", params={"event": "deviation-report"}))
    assert [(i["focus"], i["payload"]["state"]) for i in inbox["items"]] == [
        (f"Task/{reported['id']}", "reported")
    ]
    handled = ok(await hospital.get("/api/v1/deviations", params={"role": "handler"}))
    assert [d["id"] for d in handled["items"]] == [reported["id"]]
    assert ok(await hospital.get("/api/v1/deviations", params={"role": "reporter"}))["items"] == []
    assert (await stranger.get(f"/api/v1/deviations/{reported['id']}")).status_code == 404
    path = f"/api/v1/deviations/{reported['id']}/handling"
    # Only the handler investigates and answers.
    refused = await municipality.post(path, json={"state": "investigating"})
    assert refused.status_code == 403
    ok(await hospital.post(path, json={"state": "investigating"}))
    unanswered = await hospital.post(path, json={"state": "answered"})
    assert unanswered.status_code == 422 and "note" in unanswered.text
    answered = ok(
        await hospital.post(
            path, json={"state": "answered", "note": "Rutinen för utskrivning är uppdaterad."}
        )
    )
    assert answered["answer"] == "Rutinen för utskrivning är uppdaterad."
    # The reporter's system hears of each step the handler takes.
    steps = ok(await municipality.get("/api/v1/inbox", params={"event": "deviation-report"}))
    assert [i["payload"]["state"] for i in steps["items"]] == ["investigating", "answered"]
    # The reporting side cannot close it either: only the handler moves it on.
    assert (await municipality.post(path, json={"state": "closed"})).status_code == 403
    stale = await hospital.post(path, json={"state": "closed"}, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    closed = ok(await hospital.post(path, json={"state": "closed"}))
    assert [s["state"] for s in closed["history"]] == [
        "reported",
        "investigating",
        "answered",
        "closed",
    ]
    reopened = await hospital.post(path, json={"state": "investigating"})
    assert reopened.status_code == 409
    # As FHIR: a Task with the category as code, the stay as focus, the step as businessStatus.
    resource = ok(await hospital.get(f"/fhir/Task/{reported['id']}"))
    assert resource["status"] == "completed"
    assert resource["businessStatus"]["coding"][0]["code"] == "closed"
    assert resource["focus"] == {"reference": f"Encounter/{episode['id']}"}
    assert resource["owner"] == {"reference": f"PractitionerRole/{role['id']}"}
    assert resource["output"][0]["valueString"] == answered["answer"]
    found = ok(
        await hospital.get(
            "/fhir/Task",
            params={
                "owner": "Organization/region-kalmar",
                "status": "completed",
                "_include": "Task:focus",
            },
        )
    )
    assert [e["resource"]["resourceType"] for e in found["entry"]] == ["Task", "Encounter"]


async def test_deviations_by_message_and_about_plans(client_for: ClientFor) -> None:
    hospital, episode = await in_hospital(client_for)
    municipality = await client_for("kommun-0880")
    body = example("deviation-report", person_id=episode["person_id"], episode_id=episode["id"])
    response = await post(municipality, body)
    assert response.status_code == 200, response.text
    [focus] = header_of(response)["focus"]
    task = ok(await hospital.get(f"/fhir/{focus['reference']}"))
    assert task["code"]["coding"][0]["code"] == "medication-list-missing"
    assert task["businessStatus"]["coding"][0]["code"] == "reported"
    # A region's report about a stay goes to the person's municipality.
    by_region = ok(
        await hospital.post(
            "/api/v1/deviations",
            json={"category": "other", "episode_id": episode["id"], "description": "x"},
        ),
        201,
    )
    assert by_region["handler_principal_id"] == "kommun-0880"
    # A plan's deviations name their handler, one of the principals the plan is shared with.
    plan = ok(
        await hospital.post(
            "/api/v1/plans", json={"person_id": episode["person_id"], "title": "SIP"}
        ),
        201,
    )
    unnamed = await hospital.post(
        "/api/v1/deviations",
        json={"category": "other", "plan_id": plan["id"], "description": "x"},
    )
    assert unnamed.status_code == 422 and "handler_principal_id" in unnamed.text
    outside = await hospital.post(
        "/api/v1/deviations",
        json={
            "category": "other",
            "plan_id": plan["id"],
            "description": "x",
            "handler_principal_id": "kommun-0880",
        },
    )
    assert outside.status_code == 422, outside.text  # the plan is not shared with Kalmar yet
    both = await hospital.post(
        "/api/v1/deviations",
        json={
            "category": "other",
            "plan_id": plan["id"],
            "episode_id": episode["id"],
            "description": "x",
        },
    )
    assert both.status_code == 422
