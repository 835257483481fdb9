"""Small factories that create test data through the public API, as a client would, and the
domain values tests hand to the store directly."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import httpx

from app.domain.access_log import AccessEntry
from app.domain.identifiers import (
    FODSELSNUMMER,
    PERSONNUMMER,
    make_fodselsnummer,
    make_personnummer,
)

_serials = itertools.count(random.randrange(1, 400))


def personnummer(birth: date = date(1948, 5, 17)) -> str:
    """A valid, so far unused personnummer (12 digits)."""
    return make_personnummer(birth, next(_serials) % 1000)


def fodselsnummer(birth: date = date(1951, 3, 9)) -> str:
    """A valid, so far unused fødselsnummer."""
    while True:
        value = make_fodselsnummer(birth, next(_serials) % 500)
        if value is not None:
            return value


async def create_person(
    client: httpx.AsyncClient,
    *,
    municipality: str = "kommun-2580",
    country: str = "SE",
    **extra: Any,
) -> dict[str, Any]:
    """Register a person living in ``municipality``."""
    system, value = (
        (PERSONNUMMER, personnummer()) if country == "SE" else (FODSELSNUMMER, fodselsnummer())
    )
    body = {
        "identifier": {"system": system, "value": value},
        "given_name": "Test",
        "family_name": "Testsson",
        "residence_municipality_id": municipality,
        **extra,
    }
    response = await client.post("/api/v1/persons", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def admit(
    client: httpx.AsyncClient,
    person_id: str,
    admitted_at: datetime,
    *,
    unit: str = "region-norrbotten-sunderby-med",
    **extra: Any,
) -> dict[str, Any]:
    """Register an admission of the person."""
    response = await client.post(
        "/api/v1/episodes",
        json={
            "person_id": person_id,
            "hospital_unit_id": unit,
            "admitted_at": admitted_at.isoformat(),
            "admission_type": "acute",
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def notice(
    client: httpx.AsyncClient,
    episode_id: str,
    kind: str,
    at: datetime | None = None,
    **extra: Any,
) -> httpx.Response:
    """Send one notice on an episode; returns the raw response."""
    body: dict[str, Any] = dict(extra)
    if at is not None:
        body["at"] = at.isoformat()
    return await client.post(f"/api/v1/episodes/{episode_id}/{kind}", json=body)


async def consent(
    client: httpx.AsyncClient,
    plan_id: str,
    share_with: list[str],
    given_at: datetime,
    *,
    method: str = "oral",
    **extra: Any,
) -> dict[str, Any]:
    """Record the person's consent to share the plan with ``share_with``; the plan after it."""
    response = await client.post(
        f"/api/v1/plans/{plan_id}/consents",
        json={
            "given_by": "person",
            "given_at": given_at.isoformat(),
            "method": method,
            "share_with": share_with,
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def staff_role(client: httpx.AsyncClient, organization_id: str, role: str) -> dict[str, Any]:
    """The demo staff register's role of this kind at the organization."""
    response = await client.get(
        "/api/v1/practitioner-roles", params={"organization_id": organization_id, "role": role}
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["items"][0]
    return found


# A complete planning basis (answers to the service's questionnaire, by item).
PLANNING_ANSWERS: dict[str, Any] = {
    "functional-status": "some-help",
    "current-home-services": True,
    "current-home-services-description": "Hemtjänst morgon och kväll",
    "aids": ["rollator", "duschpall"],
    "cognitive-state": "mild",
    "contact-phone": "070-1234567",
    "expected-needs": "Hjälp med dusch och läkemedel",
}


def an_access_entry(**changed: Any) -> AccessEntry:
    """An access-log entry of a successful CarePlan read by Region Kalmar, made now, with the
    fields a test cares about ``changed``."""
    entry = AccessEntry(
        at=datetime.now(UTC),
        client_id="client",
        organization_id="region-kalmar",
        user_id=None,
        action="read",
        resource_type="CarePlan",
        resource_id="p",
        person_id=None,
        outcome="success",
        purpose="TREAT",
        request_id=None,
        principal_id="region-kalmar",
        unit_id=None,
    )
    return replace(entry, **changed)
