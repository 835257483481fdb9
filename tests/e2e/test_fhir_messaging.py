"""FHIR messaging: the published example message of each event, reliable-messaging dedupe, and
clear refusals. Every response is also checked against the R4 JSON schema (``client_for``)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.fhir import messaging
from tests.conftest import ClientFor
from tests.factories import personnummer

EXAMPLES = Path(__file__).resolve().parents[2] / "openapi" / "examples" / "fhir"
FHIR = {"Content-Type": "application/fhir+json"}


def example(event: str, **values: str) -> dict[str, Any]:
    """The published example of ``event`` with its placeholders filled in."""
    text = (EXAMPLES / f"{event}.json").read_text(encoding="utf-8")
    values.setdefault("bundle_id", str(uuid.uuid4()))
    values.setdefault("header_id", str(uuid.uuid4()))
    values.setdefault("now", datetime.now(UTC).isoformat())
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    assert "{{" not in text, f"unfilled placeholder in {event}: {text[text.index('{{') :][:40]}"
    body: dict[str, Any] = json.loads(text)
    return body


async def post(http: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await http.post("/fhir/$process-message", content=json.dumps(body), headers=FHIR)


def header_of(response: httpx.Response) -> dict[str, Any]:
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "message"
    header: dict[str, Any] = bundle["entry"][0]["resource"]
    assert header["resourceType"] == "MessageHeader"
    return header


def test_there_is_an_example_for_every_processed_event() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.json")} == set(messaging.HANDLERS)


async def admit_by_message(http: httpx.AsyncClient) -> tuple[str, str]:
    admitted = datetime.now(UTC) - timedelta(days=3)
    body = example(
        "admission-notice",
        personnummer=personnummer(),
        admitted_at=admitted.isoformat(),
        expected_date=(admitted + timedelta(days=5)).date().isoformat(),
        now=(admitted + timedelta(hours=1)).isoformat(),
    )
    response = await post(http, body)
    assert response.status_code == 200, response.text
    header = header_of(response)
    assert header["response"] == {"identifier": body["entry"][0]["resource"]["id"], "code": "ok"}
    episode_id = header["focus"][0]["reference"].removeprefix("Encounter/")
    return episode_id, admitted.isoformat()


async def test_the_discharge_flow_by_messages(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    episode_id, admitted = await admit_by_message(hospital)
    episode = (await hospital.get(f"/api/v1/episodes/{episode_id}")).json()
    assert (episode["state"], episode["municipality_id"]) == ("planning", "kommun-0880")
    assert episode["primary_care_unit_id"] == "region-kalmar-hc-kalmar"
    person_id = episode["person_id"]
    common = {"episode_id": episode_id, "person_id": person_id, "admitted_at": admitted}
    steps = [
        ("expected-discharge-changed", {"expected_date": "2026-12-24"}),
        ("discharge-ready", {}),
        ("discharge-ready-withdrawn", {}),
        ("discharge-ready", {}),
        ("discharge-notice", {}),
    ]
    for event, extra in steps:
        response = await post(hospital, example(event, **common, **extra))
        assert response.status_code == 200, (event, response.text)
        assert header_of(response)["response"]["code"] == "ok"
    kinds = [
        e["kind"] for e in (await hospital.get(f"/api/v1/episodes/{episode_id}")).json()["events"]
    ]
    assert kinds == [
        "admission-notice",
        "expected-discharge-changed",
        "discharge-ready",
        "discharge-ready-withdrawn",
        "discharge-ready",
        "discharge-notice",
    ]
    encounter = (await hospital.get(f"/fhir/Encounter/{episode_id}")).json()
    assert encounter["status"] == "finished"
    # The municipality acknowledges the discharge notice.
    municipality = await client_for("kommun-0880")
    ack = example("acknowledgement", answered_header_id=str(uuid.uuid4()))
    ack["entry"][0]["resource"]["sender"] = {"reference": "Organization/kommun-0880"}
    response = await post(municipality, ack)
    assert response.status_code == 200 and header_of(response)["response"]["code"] == "ok"


async def test_a_repeated_message_is_answered_again_not_processed_again(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    episode_id, admitted = await admit_by_message(hospital)
    body = example("discharge-ready", episode_id=episode_id, person_id="x", admitted_at=admitted)
    first = await post(hospital, body)
    again = await post(hospital, body)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["x-samverkan-replayed"] == "true"
    episode = (await hospital.get(f"/api/v1/episodes/{episode_id}")).json()
    assert [e["kind"] for e in episode["events"]].count("discharge-ready") == 1
    reused = dict(body)
    reused["entry"] = [dict(body["entry"][0]), body["entry"][1]]
    reused["entry"][0]["resource"] = {**body["entry"][0]["resource"], "id": str(uuid.uuid4())}
    refused = await post(hospital, reused)
    assert refused.status_code == 400
    assert refused.json()["issue"][0]["expression"] == ["Bundle.id"]


async def test_a_message_out_of_order_is_refused_and_can_be_sent_again(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    episode_id, admitted = await admit_by_message(hospital)
    common = {"episode_id": episode_id, "person_id": "x", "admitted_at": admitted}
    early = example("discharge-ready-withdrawn", **common)
    refused = await post(hospital, early)
    assert refused.status_code == 422, refused.text
    header = header_of(refused)
    assert header["response"]["code"] == "fatal-error"
    outcome = refused.json()["entry"][1]["resource"]
    assert outcome["resourceType"] == "OperationOutcome"
    assert "discharge-ready" in outcome["issue"][0]["diagnostics"]
    # The discharge-ready notice was sent first but arrives second.
    sent_first = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    ready = example("discharge-ready", **common, now=sent_first)
    assert (await post(hospital, ready)).status_code == 200
    later = await post(hospital, early)  # the same message, now in order
    assert later.status_code == 200 and header_of(later)["response"]["code"] == "ok"


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        (lambda b: {"resourceType": "Patient"}, "resourceType"),
        (lambda b: {**b, "type": "collection"}, "Bundle.type"),
        (lambda b: {**b, "id": None}, "Bundle.id"),
        (lambda b: {**b, "entry": b["entry"][1:]}, "Bundle.entry[0]"),
        (
            lambda b: {
                **b,
                "entry": [
                    {
                        "resource": {
                            **b["entry"][0]["resource"],
                            "eventCoding": {"system": messaging.EVENT_SYSTEM, "code": "gossip"},
                        }
                    },
                    *b["entry"][1:],
                ],
            },
            "MessageHeader.eventCoding",
        ),
        (
            lambda b: {
                **b,
                "entry": [
                    b["entry"][0],
                    {"resource": {**b["entry"][1]["resource"], "colour": "blue"}},
                ],
            },
            "entry.1.resource.colour",
        ),
    ],
)
async def test_malformed_messages_are_refused_naming_the_element(
    client_for: ClientFor, change: Any, expression: str
) -> None:
    hospital = await client_for("region-kalmar")
    body = example("discharge-ready", episode_id=str(uuid.uuid4()), person_id="x", admitted_at="x")
    body = change(body)
    if body.get("id") is None:
        body.pop("id", None)
    refused = await post(hospital, body)
    assert refused.status_code == 400, refused.text
    issue = refused.json()["issue"][0]
    assert issue["expression"] == [expression], issue


async def test_a_message_in_another_organizations_name_is_refused(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    episode_id, admitted = await admit_by_message(hospital)
    municipality = await client_for("kommun-0880")
    forged = example("discharge-ready", episode_id=episode_id, person_id="x", admitted_at=admitted)
    refused = await post(municipality, forged)
    assert refused.status_code == 403
    assert header_of(refused)["response"]["code"] == "fatal-error"
    stranger = await client_for("kommun-2580")
    body = example("discharge-ready", episode_id=episode_id, person_id="x", admitted_at=admitted)
    body["entry"][0]["resource"]["sender"] = {"reference": "Organization/kommun-2580"}
    hidden = await post(stranger, body)
    assert hidden.status_code == 404 and episode_id in hidden.text


async def test_unprocessed_events_say_so(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    body = example("acknowledgement", answered_header_id="x")
    body["entry"][0]["resource"]["eventCoding"]["code"] = "deviation-report"
    refused = await post(hospital, body)
    assert refused.status_code == 422
    assert "not processed by this service yet" in refused.text


async def test_the_capability_statement_declares_messaging(anonymous: httpx.AsyncClient) -> None:
    statement = (await anonymous.get("/fhir/metadata")).json()
    [messaging_entry] = statement["messaging"]
    assert messaging_entry["reliableCache"] == 10080
    assert {m["definition"].rsplit("/", 1)[-1] for m in messaging_entry["supportedMessage"]} == set(
        messaging.HANDLERS
    )
    assert statement["rest"][0]["operation"][0]["name"] == "process-message"
