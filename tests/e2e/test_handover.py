"""The municipality's answer and its confirmation that services started, over REST and FHIR:
who may send them, what a bad one is told, where they are delivered, and how they read back."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.cli import examples
from tests.conftest import ClientFor
from tests.factories import admit, create_person, notice

WARD = "region-norrbotten-sunderby-med"
UNIT = {"X-Samverkan-Unit": "kommun-2580-lss"}
PLANNED = "https://samverkan.dev/fhir/CodeSystem/planned-service"


@pytest.fixture
def t0(now: datetime) -> datetime:
    """Six days before the test's now: when its story begins."""
    return now - timedelta(days=6)


def example(event: str, *, episode_id: str) -> dict[str, Any]:
    """The published example of ``event`` about the episode, sent now by Luleå kommun."""
    message = examples.load(examples.EXAMPLES, event)
    text = json.dumps(message).replace(examples.EPISODE, episode_id)
    text = text.replace("kommun-0880", "kommun-2580")
    body: dict[str, Any] = json.loads(text)
    body["id"] = str(uuid.uuid4())
    body["entry"][0]["resource"]["id"] = str(uuid.uuid4())
    now = datetime.now(UTC).isoformat()
    body["timestamp"] = now
    for part in body["entry"][1]["resource"]["extension"][0]["extension"]:
        if part["url"] == "arrived":
            part["valueDateTime"] = now
        if part["url"] == "canReceiveFrom":
            part["valueDate"] = datetime.now(UTC).date().isoformat()
        if part["url"] == "unit":
            part["valueReference"]["reference"] = "Organization/kommun-2580-hemtjanst"
    return body


async def post(
    http: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await http.post(
        "/fhir/$process-message",
        content=json.dumps(body),
        headers={"Content-Type": "application/fhir+json", **(headers or {})},
    )


async def discharge_ready(hospital: httpx.AsyncClient, t0: datetime) -> dict[str, Any]:
    person = await create_person(hospital)
    episode = await admit(hospital, person["id"], t0)
    for kind, at in (
        ("admission-notice", t0 + timedelta(hours=2)),
        ("discharge-ready", t0 + timedelta(days=2)),
    ):
        assert (await notice(hospital, episode["id"], kind, at)).status_code == 200
    return episode


async def inbox(
    http: httpx.AsyncClient, event: str, episode_id: str, *, expect: int = 1
) -> list[dict[str, Any]]:
    """The caller's inbox items of ``event`` about the episode, polled as a receiving system
    does: until nothing more comes, and again a while later until ``expect`` items have come
    (PostgreSQL shows an item once no older writer runs, on the shared server too)."""
    for _ in range(75):  # at most 15 s
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"limit": "200", **({"since": cursor} if cursor else {})}
            response = await http.get("/api/v1/inbox", params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            items += page["items"]
            cursor = page["next_cursor"]
            if not page["more"]:
                break
        found = [
            i for i in items if i["event"] == event and i["focus"] == f"Encounter/{episode_id}"
        ]
        if len(found) >= expect:
            return found
        await asyncio.sleep(0.2)
    return found


@pytest.mark.committing("postgresql")  # reads the outbox
async def test_the_answer_with_planned_services_reaches_the_hospital_and_reads_back(
    client: httpx.AsyncClient, municipality: httpx.AsyncClient, client_for: ClientFor, t0: datetime
) -> None:
    episode = await discharge_ready(client, t0)
    path = f"/api/v1/episodes/{episode['id']}/municipality-response"
    at = t0 + timedelta(days=2, hours=3)
    answered = await municipality.post(
        path,
        json={
            "at": at.isoformat(),
            "answer": "can-receive",
            "can_receive_from": (t0 + timedelta(days=4)).date().isoformat(),
            "planned_services": ["home-care", "short-term-stay"],
            "units": ["kommun-2580-hemtjanst"],
        },
    )
    assert answered.status_code == 200, answered.text
    read = (await client.get(f"/api/v1/episodes/{episode['id']}")).json()
    assert read["municipality_answer"] == {
        "at": at.isoformat().replace("+00:00", "Z"),
        "answer": "can-receive",
        "can_receive_from": (t0 + timedelta(days=4)).date().isoformat(),
        "reason": None,
        "planned_services": ["home-care", "short-term-stay"],
        "units": ["kommun-2580-hemtjanst"],
    }
    assert read["events"][-1]["answer"] == "can-receive"
    # Delivered to the ward and to its region, with codes and the date, in order after the
    # hospital's own notices (which went the other way).
    ward = await client_for(WARD)
    # The ward's client sees its item; the region's system sees its own and its ward's.
    for receiver, expected in ((ward, {WARD}), (client, {WARD, "region-norrbotten"})):
        items = await inbox(receiver, "municipality-response", episode["id"], expect=len(expected))
        assert {i["receiver_id"] for i in items} == expected
        payload = items[0]["payload"]
        assert payload["answer"] == "can-receive"
        assert payload["planned_services"] == ["home-care", "short-term-stay"]
        assert payload["can_receive_from"] == (t0 + timedelta(days=4)).date().isoformat()
    assert await inbox(municipality, "municipality-response", episode["id"], expect=0) == []
    # In FHIR, the Encounter carries the latest answer as an extension.
    encounter = (await client.get(f"/fhir/Encounter/{episode['id']}")).json()
    (extension,) = [
        e for e in encounter["extension"] if e["url"].endswith("/municipality-response")
    ]
    parts = {
        (p["url"], str(next(v for k, v in p.items() if k != "url"))) for p in extension["extension"]
    }
    assert ("answer", "can-receive") in parts
    assert ("canReceiveFrom", (t0 + timedelta(days=4)).date().isoformat()) in parts
    assert sum(1 for name, _ in parts if name == "plannedService") == 2


@pytest.mark.committing("postgresql")  # reads the outbox
async def test_cannot_receive_yet_needs_a_reason_and_holds_until_a_new_answer(
    client: httpx.AsyncClient, municipality: httpx.AsyncClient, t0: datetime
) -> None:
    episode = await discharge_ready(client, t0)
    path = f"/api/v1/episodes/{episode['id']}/municipality-response"
    bad = [
        ({"answer": "cannot-receive-yet"}, "reason"),
        (
            {"answer": "cannot-receive-yet", "reason": "x", "can_receive_from": "2026-01-01"},
            "can_receive_from",
        ),
        ({"answer": "can-receive"}, "can_receive_from"),
        (
            {"can_receive_from": "2026-01-01", "planned_services": ["home-care", "spa"]},
            "planned_services[1]",
        ),
        (
            {"can_receive_from": "2026-01-01", "planned_services": ["home-care", "home-care"]},
            "planned_services",
        ),
    ]
    for body, field in bad:
        refused = await municipality.post(path, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["errors"][0]["field"] == field, refused.text
    assert len((await client.get(f"/api/v1/episodes/{episode['id']}")).json()["events"]) == 2
    reason = "Korttidsplats saknas till och med fredag."
    answered = await municipality.post(
        path,
        json={"answer": "cannot-receive-yet", "reason": reason, "planned_services": ["other"]},
    )
    assert answered.status_code == 200, answered.text
    latest = answered.json()["municipality_answer"]
    assert (latest["answer"], latest["reason"], latest["can_receive_from"]) == (
        "cannot-receive-yet",
        reason,
        None,
    )
    items = await inbox(client, "municipality-response", episode["id"], expect=2)
    assert items[0]["payload"]["answer"] == "cannot-receive-yet"
    # The free-text reason stays on the episode; the delivered payload carries codes only.
    assert reason not in str(items[0]["payload"])


async def test_only_the_municipality_or_its_discharge_planning_units_answer(
    client: httpx.AsyncClient, municipality: httpx.AsyncClient, client_for: ClientFor, t0: datetime
) -> None:
    episode = await discharge_ready(client, t0)
    path = f"/api/v1/episodes/{episode['id']}/municipality-response"
    answer = {"can_receive_from": (t0 + timedelta(days=3)).date().isoformat()}
    # The municipality's system acting for its LSS unit: a party, but not one that plans.
    lss = await municipality.post(path, json=answer, headers=UNIT)
    assert lss.status_code == 403, lss.text
    assert "does not plan discharges" in lss.json()["detail"]
    # The hospital does not answer for the municipality.
    hospital = await client.post(path, json=answer)
    assert hospital.status_code == 403
    assert "receiving municipality" in hospital.json()["detail"]
    assert len((await client.get(f"/api/v1/episodes/{episode['id']}")).json()["events"]) == 2
    # A unit the answer named, and that plans (home care), may answer again itself.
    named = await municipality.post(path, json={**answer, "units": ["kommun-2580-hemtjanst"]})
    assert named.status_code == 200, named.text
    home_care = await client_for("kommun-2580-hemtjanst")
    again = await home_care.post(
        path, json={"can_receive_from": (t0 + timedelta(days=4)).date().isoformat()}
    )
    assert again.status_code == 200, again.text
    assert again.json()["municipality_answer"]["units"] == []
    assert again.json()["receiving_units"] == ["kommun-2580-hemtjanst"]


@pytest.mark.committing("postgresql")  # reads the outbox
async def test_services_started_follows_the_discharge_and_reaches_the_ward(
    client: httpx.AsyncClient, municipality: httpx.AsyncClient, client_for: ClientFor, t0: datetime
) -> None:
    episode = await discharge_ready(client, t0)
    path = f"/api/v1/episodes/{episode['id']}/services-started"
    early = await municipality.post(path, json={"services": ["home-care"]})
    assert early.status_code == 409, early.text
    assert "has not been discharged" in early.json()["detail"]
    discharged_at = t0 + timedelta(days=4)
    assert (await notice(client, episode["id"], "discharge", discharged_at)).status_code == 200
    before = await municipality.post(
        path, json={"arrived_at": (discharged_at - timedelta(hours=1)).isoformat()}
    )
    assert before.status_code == 422 and before.json()["errors"][0]["field"] == "arrived_at"
    unknown = await municipality.post(path, json={"services": ["teleportation"]})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "services[0]"
    by_hospital = await client.post(path, json={})
    assert by_hospital.status_code == 403
    arrived = discharged_at + timedelta(hours=3)
    sent = await municipality.post(
        path,
        json={
            "at": (arrived + timedelta(minutes=30)).isoformat(),
            "arrived_at": arrived.isoformat(),
            "services": ["home-care", "home-health-care"],
        },
    )
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert body["state"] == "discharged"
    assert [e["kind"] for e in body["events"]][-2:] == ["discharge-notice", "services-started"]
    assert body["services_started"]["arrived_at"] == arrived.isoformat().replace("+00:00", "Z")
    assert body["services_started"]["services"] == ["home-care", "home-health-care"]
    again = await municipality.post(path, json={})
    assert again.status_code == 409 and "already confirmed" in again.json()["detail"]
    ward = await client_for(WARD)
    (item,) = await inbox(ward, "services-started", episode["id"])
    assert item["payload"]["services"] == ["home-care", "home-health-care"]
    encounter = (await client.get(f"/fhir/Encounter/{episode['id']}")).json()
    assert any(e["url"].endswith("/services-started") for e in encounter["extension"])


async def test_the_answer_and_the_confirmation_as_fhir_messages(
    client: httpx.AsyncClient, municipality: httpx.AsyncClient, t0: datetime
) -> None:
    episode = await discharge_ready(client, t0)
    answer = example("municipality-response", episode_id=episode["id"])
    encounter = answer["entry"][1]["resource"]
    encounter["extension"][0]["extension"] = [
        {"url": "answer", "valueCode": "cannot-receive-yet"},
        {"url": "reason", "valueString": "Inget korttidsboende ledigt."},
        {
            "url": "plannedService",
            "valueCoding": {"system": PLANNED, "code": "short-term-stay"},
        },
    ]
    refused = await post(municipality, answer, UNIT)
    assert refused.status_code == 403, refused.text
    assert "does not plan discharges" in refused.text
    answered = await post(municipality, {**answer, "id": str(uuid.uuid4())})
    assert answered.status_code == 200, answered.text
    read = (await client.get(f"/api/v1/episodes/{episode['id']}")).json()
    assert read["municipality_answer"]["answer"] == "cannot-receive-yet"
    assert read["municipality_answer"]["planned_services"] == ["short-term-stay"]
    early = await post(municipality, example("services-started", episode_id=episode["id"]))
    # Over FHIR a refused message is a fatal-error response, naming why, with REST's status.
    assert early.status_code == 409, early.text
    assert "has not been discharged" in early.text
    assert (await notice(client, episode["id"], "discharge")).status_code == 200
    started = await post(municipality, example("services-started", episode_id=episode["id"]))
    assert started.status_code == 200, started.text
    read = (await client.get(f"/api/v1/episodes/{episode['id']}")).json()
    assert read["services_started"]["services"] == ["home-care", "home-health-care"]
