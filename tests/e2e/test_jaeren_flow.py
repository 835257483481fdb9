"""The Norwegian flow of the Jæren project (reference 003: Klepp, Time, Hå and Gjesdal with
Helse Stavanger), end to end over REST, with the PLO messages addressed by service (Volven 8663):

Klepp kommune already serves a patient at home. She is admitted to Stavanger
universitetssjukehus; the hospital sends melding om innlagt pasient (to saksbehandling, Klepp's
tildelingskontor) and its helseopplysninger (to the sykepleietjeneste), and Klepp's
sykepleietjeneste sends its innleggelsesrapport to the ward; the hospital sends melding om
utskrivningsklar pasient (saksbehandling), Klepp answers when it can
receive her (orientering om tjenestetilbud, to the ward and Helse Stavanger), the hospital sends
melding om utskrevet pasient (saksbehandling) and its utskrivningsrapport (sykepleietjeneste), and
Klepp's sykepleietjeneste confirms that she
arrived home and its services began (to the ward). Each receiver gets exactly what it should, in
order; the units not addressed get nothing. A psychiatric stay's
notices go to Klepp's psykisk helsetjeneste.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.domain.identifiers import FODSELSNUMMER
from app.domain.plo import VOLVEN_8663
from app.security.access import UNIT_HEADER
from tests.conftest import ClientFor
from tests.factories import admit, fodselsnummer, notice

# Committing on PostgreSQL: it reads the outbox, whose readers pass only rows of transactions
# older than every running one, which a rolled-back test's own transaction never is.
pytestmark = pytest.mark.committing("postgresql")

KLEPP = "kommune-1120"
CASE_HANDLING = f"{KLEPP}-tildelingskontor"
NURSING = f"{KLEPP}-helsehus"
MENTAL_HEALTH = f"{KLEPP}-psykisk-helse"
WARD = "helse-stavanger-sus-med"


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def share(http: httpx.AsyncClient, episode_id: str, kind: str, title: str) -> Any:
    """Share a text document on the episode on its own (the ``document-shared`` message)."""
    body = {
        "attached_to": {"type": "episode", "id": episode_id},
        "type": kind,
        "title": title,
        "content_type": "text/plain",
        "data": base64.b64encode(f"{title}: Kari Jæren".encode()).decode(),
    }
    return ok(await http.post("/api/v1/documents", json=body), 201)


async def events(
    http: httpx.AsyncClient, person_id: str, *, expect: int = 0
) -> list[tuple[str, str]]:
    """(event, receiver) of everything in the caller's inbox about the person, oldest first;
    polled again a while later until ``expect`` items have come (PostgreSQL shows an item once
    no older writer runs, on a shared server too)."""
    for _ in range(75):  # at most 15 s
        page = ok(await http.get("/api/v1/inbox", params={"person_id": person_id, "limit": 100}))
        if len(page["items"]) >= expect:
            break
        await asyncio.sleep(0.2)
    return [(i["event"], i["receiver_id"]) for i in page["items"]]


async def test_the_jaeren_flow_routes_each_plo_message_to_its_service(
    client_for: ClientFor,
) -> None:
    klepp = await client_for(KLEPP)
    ward = await client_for(WARD)
    now = datetime.now(UTC).replace(microsecond=0)
    admitted = now - timedelta(days=6)

    # The units carry their service, as the Norwegian address register does.
    units = ok(await klepp.get("/api/v1/organizations", params={"parent_id": KLEPP}))["items"]
    services = {u["id"]: u["service_code"] for u in units}
    assert services[CASE_HANDLING] == "KD0501"
    assert services[NURSING] == "KP02"
    assert services[MENTAL_HEALTH] == "KP03"
    fhir_unit = ok(
        await klepp.get(
            f"/fhir/Organization/{NURSING}", headers={"Accept": "application/fhir+json"}
        )
    )
    assert {"system": VOLVEN_8663, "code": "KP02"} in [
        {"system": c["system"], "code": c["code"]} for t in fhir_unit["type"] for c in t["coding"]
    ]

    # Klepp already serves her: its record system registered her.
    number = fodselsnummer()
    person = ok(
        await klepp.post(
            "/api/v1/persons",
            json={
                "identifier": {"system": FODSELSNUMMER, "value": number},
                "given_name": "Kari",
                "family_name": "Jæren",
                "residence_municipality_id": KLEPP,
            },
        ),
        201,
    )
    # The hospital finds her by fødselsnummer and admits her.
    found = ok(
        await ward.get("/api/v1/persons", params={"identifier": f"{FODSELSNUMMER}|{number}"})
    )
    assert [p["id"] for p in found["items"]] == [person["id"]]
    episode = await admit(ward, person["id"], admitted, unit=WARD, municipality_id=KLEPP)
    ok(await notice(ward, episode["id"], "admission-notice", admitted + timedelta(hours=3)))
    # Helseopplysninger ved innleggelse: addressed to the nurses, not to saksbehandling.
    health = await share(
        ward, episode["id"], "admission-health-information", "Helseopplysninger ved innleggelse"
    )

    # Innleggelsesrapport: Klepp's sykepleietjeneste tells the ward how she lives and what
    # services she has (the reverse direction), as a care message about her.
    klepp_nurses = await client_for(KLEPP)
    klepp_nurses.headers[UNIT_HEADER] = NURSING
    report = ok(
        await klepp_nurses.post(
            "/api/v1/care-messages",
            json={
                "recipients": [WARD],
                "person_id": person["id"],
                "category": "care-coordination",
                "subject": "Innleggelsesrapport",
                "text": "Hjemmesykepleie morgen og kveld; bor alene; rullator.",
            },
        ),
        201,
    )

    ok(await notice(ward, episode["id"], "discharge-ready", now - timedelta(days=2)))
    # Klepp's answer, from its tildelingskontor (the municipality-response route as it is).
    klepp_case = await client_for(KLEPP)
    klepp_case.headers[UNIT_HEADER] = CASE_HANDLING
    answered = ok(
        await notice(
            klepp_case,
            episode["id"],
            "municipality-response",
            now - timedelta(days=1),
            can_receive_from=now.date().isoformat(),
        )
    )
    assert answered["events"][-1]["kind"] == "municipality-response"
    assert answered["events"][-1]["can_receive_from"] == now.date().isoformat()
    ok(await notice(ward, episode["id"], "discharge", now - timedelta(hours=3)))
    # She is home: Klepp's sykepleietjeneste confirms that she arrived and its services began.
    started = ok(
        await notice(
            klepp_nurses,
            episode["id"],
            "services-started",
            now - timedelta(minutes=30),
            arrived_at=(now - timedelta(hours=1)).isoformat(),
            services=["home-health-care"],
        )
    )
    assert started["services_started"]["services"] == ["home-health-care"]
    # Utskrivningsrapport: the ward's nursing discharge report, to the nurses who take over.
    nursing_report = await share(
        ward, episode["id"], "nursing-discharge-report", "Utskrivningsrapport"
    )

    logistics = ["admission-notice", "discharge-ready", "discharge-notice"]
    case_handling = await client_for(CASE_HANDLING)
    assert await events(case_handling, person["id"], expect=3) == [
        (e, CASE_HANDLING) for e in logistics
    ]
    # The unit reads the episode its notices are about.
    seen = ok(await case_handling.get(f"/api/v1/episodes/{episode['id']}"))
    assert seen["state"] == "discharged"
    # The sykepleietjeneste got the two documents, and reads them.
    nurses = await client_for(NURSING)
    assert await events(nurses, person["id"], expect=2) == [("document-shared", NURSING)] * 2
    inbox = ok(await nurses.get("/api/v1/inbox", params={"person_id": person["id"]}))["items"]
    assert [i["focus"] for i in inbox] == [
        f"DocumentReference/{health['id']}",
        f"DocumentReference/{nursing_report['id']}",
    ]
    content = await nurses.get(f"/api/v1/documents/{nursing_report['id']}/content")
    assert content.status_code == 200 and content.text == "Utskrivningsrapport: Kari Jæren"
    for other in (MENTAL_HEALTH, f"{KLEPP}-hjemmetjeneste"):
        assert await events(await client_for(other), person["id"]) == [], other
    # Klepp's own system sees its units' inbox: each item once, in the order sent.
    assert await events(klepp, person["id"], expect=5) == [
        ("admission-notice", CASE_HANDLING),
        ("document-shared", NURSING),
        ("discharge-ready", CASE_HANDLING),
        ("discharge-notice", CASE_HANDLING),
        ("document-shared", NURSING),
    ]
    # The ward got the innleggelsesrapport, Klepp's answer and its confirmation, in that order;
    # Helse Stavanger's own system sees its own copy of the answer beside the ward's items.
    assert await events(ward, person["id"], expect=3) == [
        ("care-communication", WARD),
        ("municipality-response", WARD),
        ("services-started", WARD),
    ]
    region = await client_for("helse-stavanger")
    assert await events(region, person["id"], expect=4) == [
        ("care-communication", WARD),
        ("municipality-response", "helse-stavanger"),
        ("municipality-response", WARD),
        ("services-started", WARD),
    ]
    message = ok(await ward.get(f"/api/v1/care-messages/{report['id']}"))
    assert message["subject"] == "Innleggelsesrapport"
    assert message["sender_id"] == NURSING


async def test_a_psychiatric_stay_is_told_to_the_mental_health_service(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("helse-stavanger")
    person = ok(
        await hospital.post(
            "/api/v1/persons",
            json={
                "identifier": {"system": FODSELSNUMMER, "value": fodselsnummer()},
                "given_name": "Ola",
                "family_name": "Jæren",
                "residence_municipality_id": KLEPP,
            },
        ),
        201,
    )
    at = datetime.now(UTC) - timedelta(days=1)
    episode = await admit(
        hospital, person["id"], at, unit="helse-stavanger-sus-psyk", municipality_id=KLEPP
    )
    ok(await notice(hospital, episode["id"], "admission-notice", at + timedelta(hours=1)))
    mental_health = await client_for(MENTAL_HEALTH)
    assert await events(mental_health, person["id"], expect=1) == [
        ("admission-notice", MENTAL_HEALTH)
    ]
    assert await events(await client_for(CASE_HANDLING), person["id"]) == []
    ok(await mental_health.get(f"/api/v1/episodes/{episode['id']}"))


async def test_klepps_admission_report_as_a_document_reaches_the_ward_alone(
    client_for: ClientFor,
) -> None:
    ward = await client_for(WARD)
    person = ok(
        await ward.post(
            "/api/v1/persons",
            json={
                "identifier": {"system": FODSELSNUMMER, "value": fodselsnummer()},
                "given_name": "Per",
                "family_name": "Jæren",
                "residence_municipality_id": KLEPP,
            },
        ),
        201,
    )
    at = datetime.now(UTC) - timedelta(hours=5)
    episode = await admit(ward, person["id"], at, unit=WARD, municipality_id=KLEPP)
    ok(await notice(ward, episode["id"], "admission-notice", at + timedelta(hours=1)))
    # Klepp's sykepleietjeneste (a party of the stay, as the unit its documents go to) sends
    # its innleggelsesrapport on the episode: to the hospital, not to Klepp's other units.
    klepp_nurses = await client_for(KLEPP)
    klepp_nurses.headers[UNIT_HEADER] = NURSING
    report = await share(
        klepp_nurses, episode["id"], "admission-health-information", "Innleggelsesrapport"
    )
    assert report["author_id"] == NURSING
    assert await events(ward, person["id"], expect=1) == [("document-shared", WARD)]
    read = await ward.get(f"/api/v1/documents/{report['id']}/content")
    assert read.status_code == 200 and read.text == "Innleggelsesrapport: Kari Jæren"
    expected = {
        CASE_HANDLING: [("admission-notice", CASE_HANDLING)],
        MENTAL_HEALTH: [],
        NURSING: [],
    }
    for unit, items in expected.items():
        assert await events(await client_for(unit), person["id"], expect=len(items)) == items, unit
