"""The inbox over HTTP: what the hospital's notices, summonses and plan revisions send to the
municipality, in order, with a cursor that loses nothing, and the acknowledgements.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.fhir.messaging import EVENT_SYSTEM
from tests.conftest import ClientFor
from tests.factories import admit, consent, create_person, notice

# Committing on PostgreSQL: it reads the outbox, whose readers pass only rows of transactions
# older than every running one, which a rolled-back test's own transaction never is.
pytestmark = pytest.mark.committing("postgresql")


@pytest.fixture
def t0(now: datetime) -> datetime:
    """Two days before the test's now: when its story begins."""
    return now - timedelta(days=2)


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def inbox(http: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    return ok(await http.get("/api/v1/inbox", params=params))


async def everything(http: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Poll until nothing more comes, as a receiving system does."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await inbox(http, **params, **({"since": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["next_cursor"]
        if not page["more"]:
            return items


async def test_notices_reach_the_municipality_and_primary_care_in_order(
    client: httpx.AsyncClient, municipality: httpx.AsyncClient, client_for: ClientFor, t0: datetime
) -> None:
    person = await create_person(client)
    episode = await admit(
        client, person["id"], t0, primary_care_unit_id="region-norrbotten-hc-lulea"
    )
    steps = [
        ("admission-notice", {}),
        (
            "expected-discharge",
            {"expected_discharge_date": (t0 + timedelta(days=4)).date().isoformat()},
        ),
        ("discharge-ready", {"coordinated_planning": True}),
        ("withdrawal", {}),
        ("discharge-ready", {}),
        ("discharge", {}),
    ]
    for hours, (kind, extra) in enumerate(steps, start=1):
        sent = await notice(client, episode["id"], kind, t0 + timedelta(hours=hours), **extra)
        assert sent.status_code == 200, sent.text
    expected = [
        "admission-notice",
        "expected-discharge-changed",
        "discharge-ready",
        "discharge-ready-withdrawn",
        "discharge-ready",
        "discharge-notice",
    ]
    items = await everything(municipality, person_id=person["id"])
    assert [i["event"] for i in items] == expected
    assert {i["focus"] for i in items} == {f"Encounter/{episode['id']}"}
    assert {i["sender_id"] for i in items} == {"region-norrbotten"}
    assert (
        items[1]["payload"]["expected_discharge_date"]
        == (t0 + timedelta(days=4)).date().isoformat()
    )
    assert items[2]["payload"]["coordinated_planning"] is True
    # Nothing of the person beyond references and the facts to act on.
    assert "Testsson" not in str(items)

    primary = await client_for("region-norrbotten-hc-lulea")
    assert [i["event"] for i in await everything(primary, person_id=person["id"])] == expected
    # Never the sending ward, and nobody else; the region's own system sees what its health
    # centre was told (and, acting for the ward, nothing).
    ward = await client_for("region-norrbotten-sunderby-med")
    assert await everything(ward, person_id=person["id"]) == []
    told = await everything(client, person_id=person["id"])
    assert [(i["event"], i["receiver_id"]) for i in told] == [
        (event, "region-norrbotten-hc-lulea") for event in expected
    ]
    client.headers["X-Samverkan-Unit"] = "region-norrbotten-sunderby-med"
    assert await everything(client, person_id=person["id"]) == []
    stranger = await client_for("kommun-0880")
    assert await everything(stranger, person_id=person["id"]) == []


async def test_the_cursor_gives_the_same_items_and_loses_none(
    client: httpx.AsyncClient, municipality: httpx.AsyncClient, t0: datetime
) -> None:
    person = await create_person(client)
    episode = await admit(client, person["id"], t0)
    assert (await notice(client, episode["id"], "admission-notice", t0)).status_code == 200
    start = (await inbox(municipality, person_id=person["id"]))["next_cursor"]
    for hours, kind in enumerate(("discharge-ready", "withdrawal", "discharge-ready"), start=1):
        assert (
            await notice(client, episode["id"], kind, t0 + timedelta(hours=hours))
        ).status_code == 200
    first = await inbox(municipality, person_id=person["id"], since=start, limit=2)
    again = await inbox(municipality, person_id=person["id"], since=start, limit=2)
    assert first == again
    assert first["more"] is True and len(first["items"]) == 2
    rest = await inbox(municipality, person_id=person["id"], since=first["next_cursor"], limit=2)
    assert rest["more"] is False
    events = [i["event"] for i in first["items"] + rest["items"]]
    assert events == ["discharge-ready", "discharge-ready-withdrawn", "discharge-ready"]
    # Polling at the end answers nothing new and keeps the cursor.
    idle = await inbox(municipality, person_id=person["id"], since=rest["next_cursor"])
    assert idle == {"items": [], "next_cursor": rest["next_cursor"], "more": False}
    assert (
        await notice(client, episode["id"], "discharge", t0 + timedelta(hours=9))
    ).status_code == 200
    later = await inbox(municipality, person_id=person["id"], since=rest["next_cursor"])
    assert [i["event"] for i in later["items"]] == ["discharge-notice"]
    only = await inbox(municipality, person_id=person["id"], event="discharge-ready")
    assert [i["event"] for i in only["items"]] == ["discharge-ready", "discharge-ready"]


async def test_a_refused_notice_writes_no_event(
    client: httpx.AsyncClient, municipality: httpx.AsyncClient, t0: datetime
) -> None:
    person = await create_person(client)
    episode = await admit(client, person["id"], t0)
    assert (
        await notice(client, episode["id"], "discharge", t0 + timedelta(hours=1))
    ).status_code == 200
    again = await notice(client, episode["id"], "discharge", t0 + timedelta(hours=2))
    assert again.status_code == 409, again.text
    # A municipality may not send the hospital's notices: refused, and nothing is queued.
    refused = await notice(municipality, episode["id"], "discharge-ready", t0 + timedelta(hours=3))
    assert refused.status_code == 403, refused.text
    items = await everything(municipality, person_id=person["id"])
    assert [i["event"] for i in items] == ["discharge-notice"]


async def test_acknowledgements_reach_the_sender_and_are_final(
    client: httpx.AsyncClient, municipality: httpx.AsyncClient, client_for: ClientFor, t0: datetime
) -> None:
    person = await create_person(client)
    episode = await admit(client, person["id"], t0)
    assert (await notice(client, episode["id"], "admission-notice", t0)).status_code == 200
    (item,) = (await inbox(municipality, person_id=person["id"]))["items"]
    path = f"/api/v1/inbox/{item['id']}/acknowledgement"

    stranger = await client_for("kommun-0880")
    assert (await stranger.post(path, json={"outcome": "ok"})).status_code == 404
    # The hospital sent it; it is not the hospital's to acknowledge.
    assert (await client.post(path, json={"outcome": "ok"})).status_code == 404
    bad = await municipality.post(path, json={"outcome": "fine"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "outcome", bad.text
    missing = await municipality.post(
        "/api/v1/inbox/999999999/acknowledgement", json={"outcome": "ok"}
    )
    assert missing.status_code == 404

    transient = ok(
        await municipality.post(path, json={"outcome": "transient-error", "detail": "busy"})
    )
    assert transient["acknowledgement"]["outcome"] == "transient-error"
    done = ok(await municipality.post(path, json={"outcome": "ok"}))
    assert done["acknowledgement"]["outcome"] == "ok" and done["acknowledgement"]["detail"] is None
    assert (
        ok(await municipality.post(path, json={"outcome": "ok"}))["acknowledgement"]["outcome"]
        == "ok"
    )
    final = await municipality.post(path, json={"outcome": "fatal-error"})
    assert final.status_code == 409, final.text

    # The hospital hears of each change of outcome, in order, about the same encounter.
    acks = await everything(client, person_id=person["id"], event="acknowledgement")
    assert [a["payload"]["outcome"] for a in acks] == ["transient-error", "ok"]
    assert {a["payload"]["response_to"] for a in acks} == {item["event_id"]}
    assert acks[0]["focus"] == f"Encounter/{episode['id']}"
    not_again = await client.post(
        f"/api/v1/inbox/{acks[0]['id']}/acknowledgement", json={"outcome": "ok"}
    )
    assert not_again.status_code == 422, not_again.text
    wrong = await municipality.get("/api/v1/inbox", params={"since": "nonsense"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "since"
    unknown = await municipality.get("/api/v1/inbox", params={"event": "discharged"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "event"


async def test_fhir_messages_plans_and_meetings_reach_their_receivers(
    client: httpx.AsyncClient, municipality: httpx.AsyncClient, t0: datetime
) -> None:
    person = await create_person(client)
    episode = await admit(client, person["id"], t0)
    assert (await notice(client, episode["id"], "admission-notice", t0)).status_code == 200
    message = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "message",
        "timestamp": (t0 + timedelta(hours=1)).isoformat(),
        "entry": [
            {
                "resource": {
                    "resourceType": "MessageHeader",
                    "id": str(uuid.uuid4()),
                    "eventCoding": {"system": EVENT_SYSTEM, "code": "discharge-ready"},
                    "source": {"endpoint": "urn:test"},
                    "focus": [{"reference": f"Encounter/{episode['id']}"}],
                }
            }
        ],
    }
    processed = await client.post(
        "/fhir/$process-message", json=message, headers={"Content-Type": "application/fhir+json"}
    )
    assert processed.status_code == 200, processed.text
    plan = ok(
        await client.post("/api/v1/plans", json={"person_id": person["id"], "title": "SIP"}), 201
    )
    consented = await consent(client, plan["id"], ["region-norrbotten", "kommun-2580"], t0)
    revised = await client.put(
        f"/api/v1/plans/{plan['id']}",
        json={"title": "SIP, reviderad"},
        headers={"If-Match": f'W/"{consented["version"]}"'},
    )
    assert revised.status_code == 200, revised.text
    soon = datetime.now(UTC) + timedelta(days=3)
    meeting = ok(
        await client.post(
            "/api/v1/meetings",
            json={
                "episode_id": episode["id"],
                "starts_at": soon.isoformat(),
                "reply_by": soon.date().isoformat(),
                "location": "Sunderby sjukhus",
                "participants": [
                    {"id": "m", "kind": "unit", "organization_id": "kommun-2580"},
                    {"id": "p", "kind": "person"},
                ],
            },
        ),
        201,
    )
    replied = await municipality.post(
        f"/api/v1/meetings/{meeting['id']}/replies",
        json={"participant_id": "m", "reply": "accepted"},
    )
    assert replied.status_code == 200, replied.text

    received = [
        (i["event"], i["focus"], i["payload"].get("change") or i["payload"].get("action"))
        for i in await everything(municipality, person_id=person["id"])
    ]
    assert received == [
        ("admission-notice", f"Encounter/{episode['id']}", None),
        ("discharge-ready", f"Encounter/{episode['id']}", None),
        ("careplan-revised", f"CarePlan/{plan['id']}", "consent-recorded"),
        ("careplan-revised", f"CarePlan/{plan['id']}", "revised"),
        ("sip-summons", f"Appointment/{meeting['id']}", "summoned"),
    ]
    # The organizer hears the reply.
    replies = await everything(client, person_id=person["id"], event="sip-summons-reply")
    assert [(r["payload"]["participant_id"], r["payload"]["reply"]) for r in replies] == [
        ("m", "accepted")
    ]
    # Moving and calling off the meeting are summonses too, to the same participants.
    later = soon + timedelta(days=1)
    moved = await client.post(
        f"/api/v1/meetings/{meeting['id']}/reschedule",
        json={"starts_at": later.isoformat(), "reply_by": later.date().isoformat()},
    )
    assert moved.status_code == 200, moved.text
    called_off = await client.post(
        f"/api/v1/meetings/{meeting['id']}/cancel", json={"reason": "Patienten har flyttat"}
    )
    assert called_off.status_code == 200, called_off.text
    summonses = await everything(municipality, person_id=person["id"], event="sip-summons")
    assert [(s["payload"]["action"], s["payload"]["status"]) for s in summonses] == [
        ("summoned", "scheduled"),
        ("rescheduled", "scheduled"),
        ("cancelled", "cancelled"),
    ]
    assert summonses[1]["payload"]["starts_at"] == later.isoformat()
    assert "flyttat" not in str(summonses), "the free-text reason stays out of the event"


async def test_in_norway_the_municipality_of_stay_is_told(
    client_for: ClientFor, t0: datetime
) -> None:
    hospital = await client_for("helse-stavanger")
    person = await create_person(
        hospital, municipality="kommune-1120", country="NO", stay_municipality_id="kommune-1121"
    )
    episode = await admit(hospital, person["id"], t0, unit="helse-stavanger-sus-med")
    assert (await notice(hospital, episode["id"], "admission-notice", t0)).status_code == 200
    stay = await client_for("kommune-1121")
    residence = await client_for("kommune-1120")
    assert [i["event"] for i in await everything(stay)] == ["admission-notice"]
    assert await everything(residence) == []


async def test_an_acknowledgement_message_acknowledges_the_inbox_item(
    client: httpx.AsyncClient, municipality: httpx.AsyncClient, t0: datetime
) -> None:
    """A receiver that answers the pushed MessageHeader with a FHIR acknowledgement message."""
    person = await create_person(client)
    episode = await admit(client, person["id"], t0)
    assert (await notice(client, episode["id"], "admission-notice", t0)).status_code == 200
    (item,) = (await inbox(municipality, person_id=person["id"]))["items"]
    message = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "message",
        "timestamp": datetime.now(UTC).isoformat(),
        "entry": [
            {
                "resource": {
                    "resourceType": "MessageHeader",
                    "id": str(uuid.uuid4()),
                    "eventCoding": {"system": EVENT_SYSTEM, "code": "acknowledgement"},
                    "source": {"endpoint": "urn:test:kommun"},
                    "response": {"identifier": item["event_id"], "code": "transient-error"},
                }
            }
        ],
    }
    sent = await municipality.post(
        "/fhir/$process-message",
        json=message,
        headers={"Content-Type": "application/fhir+json"},
    )
    assert sent.status_code == 200, sent.text
    (after,) = (await inbox(municipality, person_id=person["id"]))["items"]
    assert after["acknowledgement"]["outcome"] == "transient-error"
    acks = await everything(client, person_id=person["id"], event="acknowledgement")
    assert [a["payload"]["outcome"] for a in acks] == ["transient-error"]
    bad = {**message, "id": str(uuid.uuid4())}
    bad["entry"] = [
        {
            "resource": {
                **message["entry"][0]["resource"],
                "id": str(uuid.uuid4()),
                "response": {"identifier": item["event_id"], "code": "fine"},
            }
        }
    ]
    refused = await municipality.post(
        "/fhir/$process-message", json=bad, headers={"Content-Type": "application/fhir+json"}
    )
    assert refused.status_code in (400, 422), refused.text
