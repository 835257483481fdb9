"""The Norrbotten flow end to end (issue 17), over REST and over ``$process-message``:

Region Norrbotten admits a Luleå resident to Sunderby sjukhus and sends the admission notice with
the planning basis (a QuestionnaireResponse); the patient is discharge-ready and both principals
will provide care, so coordinated planning is asked for; Luleå kommun answers when it can receive
her and which services it plans; Hälsocentral Luleå, her fixed care contact, summons the SIP
meeting within three days and marks it held; the hospital discharges her with the discharge
information; Luleå confirms that she arrived home and its services began.

Every receiver (Luleå kommun and its units, the ward, the region, the health centre) gets every
message it should, in order, read through its inbox; nobody else gets anything; and nothing
raises a deviation by itself, since every deadline was kept. The message path posts the
published examples (openapi/examples/fhir/), moved to Norrbotten and to now.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.cli import examples
from app.services.deviation_rules import raise_due
from app.store import tables as t
from tests.conftest import ClientFor
from tests.database import connected
from tests.factories import PLANNING_ANSWERS, admit, create_person, notice, personnummer

# Committing on PostgreSQL: it reads the outbox, whose readers pass only rows of transactions
# older than every running one, which a rolled-back test's own transaction never is.
pytestmark = pytest.mark.committing("postgresql")

REGION = "region-norrbotten"
WARD = "region-norrbotten-sunderby-med"
HEALTH_CENTRE = "region-norrbotten-hc-lulea"
LULEA = "kommun-2580"
HOME_CARE = "kommun-2580-hemtjanst"
HOME_HEALTH_CARE = "kommun-2580-hemsjukvard"
# The examples tell a Kalmar story; the same messages in Norrbotten (longest names first).
TO_NORRBOTTEN = {
    "region-kalmar-lanssjukhuset-med": WARD,
    "region-kalmar-hc-kalmar": HEALTH_CENTRE,
    "region-kalmar": REGION,
    "kommun-0880": LULEA,
}
FHIR = "application/fhir+json"
DISCHARGE_INFORMATION = "Utskriven till eget boende. Hemsjukvård: såromläggning varannan dag."


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def example(event: str, ids: dict[str, str]) -> dict[str, Any]:
    """The published example of ``event``, in Norrbotten, with the server's ids, sent now."""
    message = examples.load(examples.EXAMPLES, event)
    text = json.dumps(message)
    for kalmar, norrbotten in TO_NORRBOTTEN.items():
        text = text.replace(kalmar, norrbotten)
    return examples.prepared(json.loads(text), ids, datetime.now(UTC) - timedelta(seconds=1))


async def process(http: httpx.AsyncClient, message: dict[str, Any]) -> list[str]:
    """Post a message; the references its answer's MessageHeader focuses on."""
    answer = ok(
        await http.post(
            "/fhir/$process-message",
            content=json.dumps(message),
            headers={"Content-Type": FHIR, "Accept": FHIR},
        )
    )
    header = answer["entry"][0]["resource"]
    assert header["response"]["code"] == "ok", answer
    return [f["reference"] for f in header.get("focus") or []]


async def inbox(http: httpx.AsyncClient, person_id: str, *, expect: int) -> list[dict[str, Any]]:
    """Everything in the caller's inbox about the person, oldest first, polled as a receiving
    system does: until nothing more comes, and again a while later until ``expect`` items have
    come (PostgreSQL shows an item once no older writer runs, on a shared server too)."""
    for _ in range(75):  # at most 15 s
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {
                "person_id": person_id,
                "limit": "100",
                **({"since": cursor} if cursor else {}),
            }
            page = ok(await http.get("/api/v1/inbox", params=params))
            items += page["items"]
            cursor = page["next_cursor"]
            if not page["more"]:
                break
        if len(items) >= expect:
            return items
        await asyncio.sleep(0.2)
    return items


def kinds(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(event, receiver) of inbox items; a summons also says what happened to the meeting."""
    return [
        (
            f"{i['event']}:{i['payload']['action']}" if i["event"] == "sip-summons" else i["event"],
            i["receiver_id"],
        )
        for i in items
    ]


class Flow:
    """The flow's steps, each over REST or as the published FHIR message."""

    def __init__(self, over: str, clients: dict[str, httpx.AsyncClient]) -> None:
        self.over = over
        self.region, self.centre, self.lulea = (clients[k] for k in (REGION, HEALTH_CENTRE, LULEA))
        self.ids: dict[str, str] = {}

    @property
    def episode_id(self) -> str:
        return self.ids[examples.EPISODE]

    @property
    def person_id(self) -> str:
        return self.ids[examples.PERSON]

    async def admission(self) -> None:
        """Admitted an hour and a quarter ago; the notice carries the planning basis."""
        if self.over == "rest":
            person = await create_person(self.region, municipality=LULEA)
            episode = await admit(
                self.region,
                person["id"],
                datetime.now(UTC) - timedelta(hours=1, minutes=15),
                unit=WARD,
                primary_care_unit_id=HEALTH_CENTRE,
            )
            self.ids = {examples.PERSON: person["id"], examples.EPISODE: episode["id"]}
            ok(
                await notice(
                    self.region,
                    self.episode_id,
                    "admission-notice",
                    planning_basis={"answers": PLANNING_ANSWERS},
                )
            )
            return
        message = example("admission-notice", self.ids)
        patient = next(e for e in message["entry"] if e["resource"]["resourceType"] == "Patient")
        patient["resource"]["identifier"][0]["value"] = personnummer()
        encounter = message["entry"][1]
        # The planning basis as the discharge-ready example carries it, about this admission.
        answers = next(
            e
            for e in example("discharge-ready", {})["entry"]
            if e["resource"]["resourceType"] == "QuestionnaireResponse"
        )
        answers = copy.deepcopy(answers)
        answers["resource"]["subject"] = {"reference": patient["fullUrl"]}
        answers["resource"]["encounter"] = {"reference": encounter["fullUrl"]}
        message["entry"].append(answers)
        (focus,) = await process(self.region, message)
        self.ids[examples.EPISODE] = focus.removeprefix("Encounter/")
        episode = ok(await self.region.get(f"/api/v1/episodes/{self.episode_id}"))
        self.ids[examples.PERSON] = episode["person_id"]

    async def discharge_ready(self) -> None:
        """Discharge-ready, asking for coordinated planning, with the planning basis again."""
        if self.over == "rest":
            ok(
                await notice(
                    self.region,
                    self.episode_id,
                    "discharge-ready",
                    coordinated_planning=True,
                    planning_basis={"answers": PLANNING_ANSWERS},
                )
            )
        else:
            await process(self.region, example("discharge-ready", self.ids))

    async def answer(self) -> None:
        """Luleå can receive her in two days, with home care and home health care."""
        if self.over == "rest":
            ok(
                await notice(
                    self.lulea,
                    self.episode_id,
                    "municipality-response",
                    answer="can-receive",
                    can_receive_from=(datetime.now(UTC).date() + timedelta(days=2)).isoformat(),
                    planned_services=["home-care", "home-health-care"],
                    units=[HOME_CARE],
                )
            )
        else:
            await process(self.lulea, example("municipality-response", self.ids))

    async def summons(self) -> str:
        """The health centre summons the SIP meeting, following the stay; the meeting's id."""
        ward = {"id": "avdelning", "kind": "unit", "organization_id": WARD}
        if self.over == "rest":
            starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
            meeting = ok(
                await self.centre.post(
                    "/api/v1/meetings",
                    json={
                        "episode_id": self.episode_id,
                        "starts_at": starts.isoformat(),
                        "reply_by": starts.date().isoformat(),
                        "location": "Hälsocentral Luleå, rum 2",
                        "participants": [
                            {"id": "patient", "kind": "person"},
                            {"id": "hemtjanst", "kind": "unit", "organization_id": HOME_CARE},
                            ward,
                            {
                                "id": "lakare",
                                "kind": "staff",
                                "organization_id": HEALTH_CENTRE,
                                "name": "Dr. Lind",
                            },
                        ],
                    },
                ),
                201,
            )
            return str(meeting["id"])
        message = example("sip-summons", self.ids)
        appointment = message["entry"][1]["resource"]
        appointment["supportingInformation"] = [{"reference": f"Encounter/{self.episode_id}"}]
        appointment["participant"].append(
            {
                "id": "avdelning",
                "type": [
                    {
                        "coding": [
                            {
                                "system": "https://samverkan.dev/fhir/CodeSystem/participant-kind",
                                "code": "unit",
                            }
                        ]
                    }
                ],
                "actor": {
                    "identifier": {
                        "system": "https://samverkan.dev/fhir/NamingSystem/organization-id",
                        "value": WARD,
                    }
                },
                "required": "required",
                "status": "needs-action",
            }
        )
        (focus,) = await process(self.centre, message)
        return focus.removeprefix("Appointment/")

    async def held(self, meeting_id: str) -> None:
        """The health centre marks the meeting held (REST: no message marks a meeting held)."""
        ok(
            await self.centre.post(
                f"/api/v1/meetings/{meeting_id}/held",
                json={
                    "held_at": datetime.now(UTC).isoformat(),
                    "attended": ["patient", "hemtjanst", "avdelning", "lakare"],
                    "minutes": "Hemtjänst och hemsjukvård från hemkomsten.",
                },
            )
        )

    async def discharge(self) -> None:
        """Discharged with the discharge information."""
        if self.over == "rest":
            document = {
                "type": "discharge-information",
                "title": "Utskrivningsinformation",
                "content_type": "text/plain",
                "data": base64.b64encode(DISCHARGE_INFORMATION.encode()).decode(),
            }
            ok(await notice(self.region, self.episode_id, "discharge", documents=[document]))
        else:
            await process(self.region, example("discharge-notice", self.ids))

    async def services_started(self) -> None:
        """Luleå confirms that she arrived home and its services began."""
        if self.over == "rest":
            ok(
                await notice(
                    self.lulea,
                    self.episode_id,
                    "services-started",
                    services=["home-care", "home-health-care"],
                )
            )
        else:
            await process(self.lulea, example("services-started", self.ids))


@pytest.mark.parametrize("over", ["rest", "fhir"])
async def test_the_norrbotten_flow_reaches_every_receiver_in_order(
    over: str, client_for: ClientFor, engine: AsyncEngine
) -> None:
    clients = {org: await client_for(org) for org in (REGION, HEALTH_CENTRE, LULEA)}
    flow = Flow(over, clients)
    await flow.admission()
    await flow.discharge_ready()
    await flow.answer()
    meeting_id = await flow.summons()
    await flow.held(meeting_id)
    await flow.discharge()
    await flow.services_started()
    person_id, episode_id = flow.person_id, flow.episode_id

    # The episode as the municipality reads it: every step, its content and timeliness.
    episode = ok(await clients[LULEA].get(f"/api/v1/episodes/{episode_id}"))
    assert [e["kind"] for e in episode["events"]] == [
        "admission-notice",
        "discharge-ready",
        "municipality-response",
        "discharge-notice",
        "services-started",
    ]
    assert [b["notice"] for b in episode["planning_basis"]] == [
        "admission-notice",
        "discharge-ready",
    ]
    assert episode["planning_basis"][0]["answers"]["functional-status"] == "some-help"
    assert episode["municipality_answer"]["planned_services"] == ["home-care", "home-health-care"]
    assert episode["receiving_units"] == [HOME_CARE]
    assert episode["discharge_information"] == "on-time"
    assert episode["services_started"]["services"] == ["home-care", "home-health-care"]
    (information,) = [d for d in episode["documents"] if d["type"] == "discharge-information"]
    meeting = ok(await clients[HEALTH_CENTRE].get(f"/api/v1/meetings/{meeting_id}"))
    assert (meeting["status"], meeting["episode_id"]) == ("held", episode_id)

    # Each receiver's inbox, in the order the messages were sent.
    to_municipality = ["admission-notice", "discharge-ready"]
    expected = {
        LULEA: [(e, LULEA) for e in to_municipality]
        + [("sip-summons:summoned", HOME_CARE), ("sip-summons:held", HOME_CARE)]
        + [("discharge-notice", LULEA)],
        HOME_CARE: [("sip-summons:summoned", HOME_CARE), ("sip-summons:held", HOME_CARE)],
        HOME_HEALTH_CARE: [],
        f"{LULEA}-socialtjanst": [],
        f"{LULEA}-lss": [],
        WARD: [
            ("municipality-response", WARD),
            ("sip-summons:summoned", WARD),
            ("sip-summons:held", WARD),
            ("services-started", WARD),
        ],
        HEALTH_CENTRE: [(e, HEALTH_CENTRE) for e in to_municipality]
        + [("discharge-notice", HEALTH_CENTRE)],
        # The region's system sees its own items and those of its units.
        REGION: [(e, HEALTH_CENTRE) for e in to_municipality]
        + [("municipality-response", REGION), ("municipality-response", WARD)]
        + [("sip-summons:summoned", WARD), ("sip-summons:held", WARD)]
        + [("discharge-notice", HEALTH_CENTRE), ("services-started", WARD)],
    }
    items: dict[str, list[dict[str, Any]]] = {}
    for organization, wanted in expected.items():
        http = clients.get(organization) or await client_for(organization)
        items[organization] = await inbox(http, person_id, expect=len(wanted))
        assert kinds(items[organization]) == wanted, organization

    # What each message told its receivers.
    by_event = {i["event"]: i["payload"] for i in items[LULEA] if i["receiver_id"] == LULEA}
    assert by_event["admission-notice"]["planning_basis"].startswith("QuestionnaireResponse/")
    assert by_event["discharge-ready"]["coordinated_planning"] is True
    assert f"DocumentReference/{information['id']}" in by_event["discharge-notice"]["documents"]
    to_ward = {i["event"]: i["payload"] for i in items[WARD]}
    assert to_ward["municipality-response"]["answer"] == "can-receive"
    assert to_ward["municipality-response"]["planned_services"] == ["home-care", "home-health-care"]
    assert to_ward["services-started"]["services"] == ["home-care", "home-health-care"]
    assert {i["focus"] for i in items[HOME_CARE]} == {f"Appointment/{meeting_id}"}
    # The municipality reads the discharge information it was sent.
    content = await clients[LULEA].get(f"/api/v1/documents/{information['id']}/content")
    assert content.status_code == 200 and content.headers["content-type"].startswith("text/")

    # Nobody else got anything about her.
    async with connected(engine) as conn:
        receivers = set(
            (
                await conn.scalars(
                    select(t.deliveries.c.receiver_id)
                    .join(t.outbox_events, t.outbox_events.c.id == t.deliveries.c.event_id)
                    .where(t.outbox_events.c.person_id == person_id)
                )
            ).all()
        )
    assert receivers == {LULEA, HOME_CARE, WARD, HEALTH_CENTRE, REGION}

    # Every deadline was kept: the admission notice within 24 hours, the summons within three
    # days, the discharge information on the discharge day. Nothing raises itself, then or later.
    assert await raise_due(engine, now=datetime.now(UTC) + timedelta(days=5)) == []
