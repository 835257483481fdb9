"""A small discharge flow for the console tests, made through the public API as record systems
would make it: a hospital in Region Norrbotten, Luleå kommun receiving, one person with a
protected identity, a plan with an overdue follow-up, a summons, a care message and a deviation."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from app.domain.identifiers import PERSONNUMMER
from tests.factories import admit, notice, personnummer

HOSPITAL_UNIT = "region-norrbotten-sunderby-med"
MUNICIPALITY = "kommun-2580"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The JSON body of a response that must have ``status``."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass(frozen=True)
class Scenario:
    """The ids the tests look for."""

    greta: dict[str, Any]
    maj: dict[str, Any]
    episode: dict[str, Any]
    protected_episode: dict[str, Any]
    plan: dict[str, Any]
    meeting: dict[str, Any]
    deviation: dict[str, Any]
    inbox_item: int


async def person(
    hospital: httpx.AsyncClient, given: str, family: str, **extra: Any
) -> dict[str, Any]:
    """Register a person living in Luleå."""
    return ok(
        await hospital.post(
            "/api/v1/persons",
            json={
                "identifier": {"system": PERSONNUMMER, "value": personnummer(date(1941, 2, 3))},
                "given_name": given,
                "family_name": family,
                "residence_municipality_id": MUNICIPALITY,
                **extra,
            },
        ),
        201,
    )


async def build(hospital: httpx.AsyncClient, municipality: httpx.AsyncClient) -> Scenario:
    """Everything the console's pages show, as Region Norrbotten's record system sends it for
    the ward (its acting unit), so that the ward is a party to what it wrote."""
    hospital.headers["X-Samverkan-Unit"] = HOSPITAL_UNIT
    try:
        return await _build(hospital, municipality)
    finally:
        del hospital.headers["X-Samverkan-Unit"]


async def _build(hospital: httpx.AsyncClient, municipality: httpx.AsyncClient) -> Scenario:
    now = datetime.now(UTC)
    greta = await person(hospital, "Greta", "Lindqvist")
    maj = await person(
        hospital, "Maj", "Hemlig", protected_identity=True, address="Hemliga vägen 1"
    )
    episode = await admit(hospital, greta["id"], now - timedelta(days=6), unit=HOSPITAL_UNIT)
    ok(await notice(hospital, episode["id"], "admission-notice", now - timedelta(days=6)))
    ok(
        await notice(
            hospital,
            episode["id"],
            "expected-discharge",
            now - timedelta(days=5),
            expected_discharge_date=(now + timedelta(days=2)).date().isoformat(),
        )
    )
    episode = ok(
        await notice(
            hospital,
            episode["id"],
            "discharge-ready",
            now - timedelta(days=4),
            coordinated_planning=True,
        )
    )
    protected = await admit(hospital, maj["id"], now - timedelta(days=2), unit=HOSPITAL_UNIT)
    ok(await notice(hospital, protected["id"], "admission-notice", now - timedelta(days=2)))
    plan = ok(
        await hospital.post(
            "/api/v1/plans",
            json={
                "person_id": greta["id"],
                "title": "SIP Greta",
                "goals": [{"id": "g1", "description": "Bo kvar hemma"}],
                "interventions": [
                    {
                        "id": "i1",
                        "description": "Hemtjänst morgon och kväll",
                        "responsible_unit_id": "kommun-2580-hemtjanst",
                    },
                    {
                        "id": "i2",
                        "description": "Uppföljning av läkemedel",
                        "responsible_unit_id": HOSPITAL_UNIT,
                    },
                ],
                "responsible_principal_id": MUNICIPALITY,
                "coordinator": {"name": "Karin Samordnare", "unit_id": "kommun-2580-hemtjanst"},
                "start_date": (now - timedelta(days=30)).date().isoformat(),
                # The first follow-up passed without a meeting; the summons below answers the
                # second.
                "follow_up_dates": [
                    (now + timedelta(days=d)).date().isoformat() for d in (-10, -3, 30)
                ],
            },
        ),
        201,
    )
    plan = ok(
        await hospital.post(
            f"/api/v1/plans/{plan['id']}/consents",
            json={
                "given_by": "person",
                "given_at": now.isoformat(),
                "method": "oral",
                "share_with": ["region-norrbotten", MUNICIPALITY],
            },
        ),
        201,
    )
    plan = ok(await hospital.post(f"/api/v1/plans/{plan['id']}/activate", json={}))
    starts = now + timedelta(days=5)
    meeting = ok(
        await hospital.post(
            "/api/v1/meetings",
            json={
                "plan_id": plan["id"],
                "starts_at": starts.isoformat(),
                "reply_by": (starts.date() - timedelta(days=1)).isoformat(),
                "participants": [
                    {"id": "greta", "kind": "person"},
                    {"id": "hemtj", "kind": "unit", "organization_id": "kommun-2580-hemtjanst"},
                ],
                "location": "Sunderby sjukhus",
            },
        ),
        201,
    )
    ok(
        await hospital.post(
            "/api/v1/care-messages",
            json={
                "recipients": [MUNICIPALITY],
                "person_id": greta["id"],
                "category": "discharge",
                "subject": "Hemgång på fredag",
                "text": "Greta behöver hemtjänst från fredag.",
            },
        ),
        201,
    )
    deviation = ok(
        await hospital.post(
            "/api/v1/deviations",
            json={
                "category": "missing-discharge-information",
                "episode_id": episode["id"],
                "description": "Läkemedelslistan saknades.",
                "handler_principal_id": MUNICIPALITY,
            },
        ),
        201,
    )
    items = await settled_inbox(municipality, at_least=6)
    return Scenario(greta, maj, episode, protected, plan, meeting, deviation, items[0]["id"])


async def settled_inbox(municipality: httpx.AsyncClient, at_least: int) -> list[dict[str, Any]]:
    """The municipality's inbox once it shows ``at_least`` items.

    On PostgreSQL an item shows once no older transaction of the cluster can still commit, so a
    transaction held open elsewhere on a shared server delays it; a record system polls, and so
    does this, for up to 30 seconds.
    """
    deadline = time.monotonic() + 30
    while True:
        items: list[dict[str, Any]] = ok(await municipality.get("/api/v1/inbox?limit=50"))["items"]
        if len(items) >= at_least or time.monotonic() > deadline:
            assert len(items) >= at_least, items
            return items
        await asyncio.sleep(0.2)


def csrf_of(html: str) -> str:
    """The CSRF token a console page's forms carry."""
    found = CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found[1]


async def sign_in(
    http: httpx.AsyncClient, organization: str, role: str, name: str = "Anna Test"
) -> httpx.Response:
    """Sign in through the development sign-in, as a browser would (cookie and CSRF token)."""
    page = await http.get("/console/sign-in")
    assert page.status_code == 200, page.text
    return await http.post(
        "/console/sign-in/dev",
        data={
            "csrf_token": csrf_of(page.text),
            "organization": organization,
            "role": role,
            "name": name,
        },
    )
