"""A municipality's record system subscribes through FHIR (R4 Subscriptions Backport IG) and is
pushed a whole scenario, in order, signed, as valid FHIR notification Bundles."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.delivery.dispatcher import Dispatcher
from app.fhir.messaging import EVENT_SYSTEM
from app.settings import Settings
from tests import fhir_medplum, fhir_node, fhir_schema
from tests.conftest import ClientFor
from tests.factories import admit, consent, create_person, notice
from tests.receiver import Push, dispatch_all, fast, running_receiver

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition"
TOPIC = "https://samverkan.dev/fhir/SubscriptionTopic"
FHIR = {"Content-Type": "application/fhir+json"}


@pytest.fixture
def t0(now: datetime) -> datetime:
    """Two days before the test's now: when its story begins."""
    return now - timedelta(days=2)


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def subscription(endpoint: str, topic: str = "messages", **channel: Any) -> dict[str, Any]:
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "Verksamhetssystemet i Luleå",
        "criteria": f"{TOPIC}/{topic}",
        "channel": {
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": "application/fhir+json",
            "_payload": {
                "extension": [
                    {"url": f"{BACKPORT}/backport-payload-content", "valueCode": "id-only"}
                ]
            },
            **channel,
        },
    }


def parameters(push_or_bundle: Push | dict[str, Any]) -> dict[str, Any]:
    bundle = push_or_bundle.bundle if isinstance(push_or_bundle, Push) else push_or_bundle
    status = bundle["entry"][0]["resource"]
    assert status["resourceType"] == "Parameters"
    return {p["name"]: p for p in status["parameter"]}


def valid_fhir(resource: dict[str, Any]) -> None:
    if fhir_schema.schema_path().exists():
        assert fhir_schema.problems(resource) == []
    if fhir_node.available():
        assert fhir_node.problems([resource]) == []
    if fhir_medplum.available():
        assert fhir_medplum.problems([resource]) == []


@pytest.mark.committing("postgresql")  # reads the outbox
async def test_a_municipality_is_pushed_a_scenario_in_order(
    client: httpx.AsyncClient,
    municipality: httpx.AsyncClient,
    engine: AsyncEngine,
    settings: Settings,
    t0: datetime,
) -> None:
    settings = fast(settings)
    with running_receiver() as receiver:
        created = ok(
            await municipality.post(
                "/fhir/Subscription", json=subscription(receiver.url), headers=FHIR
            ),
            201,
        )
        assert created["status"] == "active" and created["criteria"] == f"{TOPIC}/messages"
        secret = next(
            e["valueString"] for e in created["extension"] if e["url"].endswith("/signing-secret")
        )
        subscription_id = created["id"]

        person = await create_person(client)
        episode = await admit(client, person["id"], t0)
        assert (await notice(client, episode["id"], "admission-notice", t0)).status_code == 200
        await dispatch_all(engine, settings)
        message = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "type": "message",
            "timestamp": (t0 + timedelta(days=1)).isoformat(),
            "entry": [
                {
                    "resource": {
                        "resourceType": "MessageHeader",
                        "id": str(uuid.uuid4()),
                        "eventCoding": {"system": EVENT_SYSTEM, "code": "discharge-ready"},
                        "source": {"endpoint": "urn:oid:1.2.752.29.4.19"},
                        "focus": [{"reference": f"Encounter/{episode['id']}"}],
                    }
                }
            ],
        }
        ok(await client.post("/fhir/$process-message", json=message, headers=FHIR))
        await dispatch_all(engine, settings)
        soon = datetime.now(UTC) + timedelta(days=2)
        meeting = ok(
            await client.post(
                "/api/v1/meetings",
                json={
                    "episode_id": episode["id"],
                    "starts_at": soon.isoformat(),
                    "reply_by": soon.date().isoformat(),
                    "video_link": "https://video.example/sip",
                    "participants": [
                        {"id": "kommun", "kind": "unit", "organization_id": "kommun-2580"},
                        {"id": "patient", "kind": "person"},
                    ],
                },
            ),
            201,
        )
        await dispatch_all(engine, settings)
        plan = ok(
            await client.post("/api/v1/plans", json={"person_id": person["id"], "title": "SIP"}),
            201,
        )
        consented = await consent(
            client, plan["id"], ["region-norrbotten", "kommun-2580"], t0, method="written"
        )
        revised = await client.put(
            f"/api/v1/plans/{plan['id']}",
            json={"title": "SIP efter utskrivning"},
            headers={"If-Match": f'W/"{consented["version"]}"'},
        )
        assert revised.status_code == 200, revised.text
        await dispatch_all(engine, settings)

    pushes = receiver.accepted()
    assert [(p.event, p.focus) for p in pushes] == [
        ("admission-notice", f"Encounter/{episode['id']}"),
        ("discharge-ready", f"Encounter/{episode['id']}"),
        ("sip-summons", f"Appointment/{meeting['id']}"),
        ("careplan-revised", f"CarePlan/{plan['id']}"),
        ("careplan-revised", f"CarePlan/{plan['id']}"),
    ]
    since = ["1", "2", "3", "5", "5"]
    for number, push in enumerate(pushes, start=1):
        assert push.signed_with(secret)
        assert push.headers["content-type"] == "application/fhir+json"
        bundle = push.bundle
        assert bundle["type"] == "history"
        assert bundle["meta"]["profile"] == [f"{BACKPORT}/backport-subscription-notification-r4"]
        status = parameters(push)
        assert status["type"]["valueCode"] == "event-notification"
        assert status["topic"]["valueCanonical"] == f"{TOPIC}/messages"
        assert status["subscription"]["valueReference"]["reference"].endswith(
            f"/fhir/Subscription/{subscription_id}"
        )
        # Events since the start as the subscription counts them when this one is sent: the
        # two plan events were queued together, so both notifications say 5.
        assert status["events-since-subscription-start"]["valueString"] == since[number - 1]
        event = {p["name"]: p for p in status["notification-event"]["part"]}
        assert event["event-number"]["valueString"] == str(number)
        assert event["focus"]["valueReference"]["reference"] == push.focus
        header = push.header
        assert header["id"] == push.event_id
        assert header["sender"] == {"reference": "Organization/region-norrbotten"}
        assert header["destination"][0]["receiver"] == {"reference": "Organization/kommun-2580"}
        assert header["focus"][1] == {"reference": f"Patient/{person['id']}"}
        # References only: no name, no identifier of the person.
        assert "Testsson" not in push.body.decode()
        valid_fhir(bundle)

    status_bundle = ok(await municipality.get(f"/fhir/Subscription/{subscription_id}/$status"))
    status = parameters(status_bundle)
    assert status["type"]["valueCode"] == "query-status"
    assert status["status"]["valueCode"] == "active"
    assert status["events-since-subscription-start"]["valueString"] == "5"


@pytest.mark.committing
async def test_heartbeats_and_the_fhir_subscription_lifecycle(
    municipality: httpx.AsyncClient,
    client_for: ClientFor,
    engine: AsyncEngine,
    settings: Settings,
) -> None:
    with running_receiver() as receiver:
        body = subscription(
            receiver.url,
            "discharge-ready",
            extension=[{"url": f"{BACKPORT}/backport-heartbeat-period", "valueUnsignedInt": 1}],
        )
        body["channel"]["_payload"]["extension"][0]["valueCode"] = "empty"
        created = ok(await municipality.post("/fhir/Subscription", json=body, headers=FHIR), 201)
        secret = created["extension"][0]["valueString"]
        async with Dispatcher(engine, fast(settings)) as dispatcher:
            assert await dispatcher.send_heartbeats(force=True) == 0, "not due yet"
            await asyncio.sleep(1.1)
            assert await dispatcher.send_heartbeats(force=True) == 1
            assert await dispatcher.send_heartbeats(force=True) == 0, "sent already"
        (beat,) = receiver.accepted("heartbeat")
        assert beat.signed_with(secret)
        assert len(beat.bundle["entry"]) == 1
        assert parameters(beat)["events-since-subscription-start"]["valueString"] == "0"
        assert parameters(beat)["topic"]["valueCanonical"] == f"{TOPIC}/discharge-ready"
        valid_fhir(beat.bundle)

    read = ok(await municipality.get(f"/fhir/Subscription/{created['id']}"))
    assert "extension" not in read, "the secret is shown only at creation"
    assert read["channel"]["extension"][0]["valueUnsignedInt"] == 1
    found = ok(await municipality.get("/fhir/Subscription"))
    assert [e["resource"]["id"] for e in found["entry"]] == [created["id"]]
    stranger = await client_for("kommun-0880")
    assert (await stranger.get(f"/fhir/Subscription/{created['id']}")).status_code == 404
    assert ok(await stranger.get("/fhir/Subscription")).get("entry", []) == []
    assert (await stranger.delete(f"/fhir/Subscription/{created['id']}")).status_code == 404

    assert (await municipality.delete(f"/fhir/Subscription/{created['id']}")).status_code == 204
    gone = await municipality.get(f"/fhir/Subscription/{created['id']}")
    assert gone.status_code == 404 and gone.json()["resourceType"] == "OperationOutcome"


async def test_bad_subscriptions_are_refused_naming_the_element(
    municipality: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    endpoint = "https://system.lulea.example/notifications"

    async def refused(body: dict[str, Any], status: int, expression: str) -> None:
        answer = await municipality.post("/fhir/Subscription", json=body, headers=FHIR)
        assert answer.status_code == status, answer.text
        outcome = answer.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["expression"] == [expression], outcome

    await refused(subscription(endpoint, "everything"), 422, "Subscription.criteria")
    await refused(
        {**subscription(endpoint), "channel": {"type": "email", "endpoint": endpoint}},
        422,
        "Subscription.channel.type",
    )
    await refused(subscription("ftp://x.example/n"), 422, "Subscription.channel.endpoint")
    full = subscription(endpoint)
    full["channel"]["_payload"]["extension"][0]["valueCode"] = "full-resource"
    await refused(full, 422, "Subscription.channel.payload.extension")
    # Narrowed to a person the municipality has no part in: as if the person did not exist.
    person = await create_person(client, municipality="kommun-0880")
    narrowed = subscription(endpoint, "discharge-ready")
    narrowed["_criteria"] = {
        "extension": [
            {
                "url": f"{BACKPORT}/backport-filter-criteria",
                "valueString": f"Encounter?patient=Patient/{person['id']}",
            }
        ]
    }
    await refused(narrowed, 422, "Subscription.criteria.extension")
    wrong_type = {"resourceType": "Patient"}
    answer = await municipality.post("/fhir/Subscription", json=wrong_type, headers=FHIR)
    assert answer.status_code == 400 and answer.json()["resourceType"] == "OperationOutcome"
    assert ok(await municipality.get("/fhir/Subscription")).get("entry", []) == []
