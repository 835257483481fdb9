"""Access at the grain of units: the acting unit of a principal's system, the units a
municipality names in its answer, and writes that must name their unit and user."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.settings import Settings
from tests.conftest import ClientFor, Tokens
from tests.database import connected
from tests.factories import admit, create_person, notice


@pytest.fixture
def t0(now: datetime) -> datetime:
    """Three days before the test's now: when its story begins."""
    return now - timedelta(days=3)


async def test_the_acting_unit_must_be_one_of_the_principals_and_goes_into_the_log(
    client_for: ClientFor, engine: AsyncEngine
) -> None:
    region = await client_for("region-norrbotten")
    person = await create_person(region)
    for unit, why in (
        ("kommun-2580-hemtjanst", "not a unit of region-norrbotten"),
        ("region-kalmar-hc-kalmar", "not a unit of region-norrbotten"),
        ("no-such-unit", "not a unit of region-norrbotten"),
        ("bad unit!", "not a unit of region-norrbotten"),
    ):
        refused = await region.get("/api/v1/persons", headers={"X-Samverkan-Unit": unit})
        assert refused.status_code == 400 and why in refused.json()["detail"], unit
    ward = await client_for("region-norrbotten-sunderby-med")
    other = await ward.get("/api/v1/persons", headers={"X-Samverkan-Unit": "region-norrbotten"})
    assert other.status_code == 400 and "its own unit" in other.json()["detail"]
    # Naming itself changes nothing for a unit's client.
    same = await ward.get(
        "/api/v1/persons", headers={"X-Samverkan-Unit": "region-norrbotten-sunderby-med"}
    )
    assert same.status_code == 200

    read = await region.get(
        f"/api/v1/persons/{person['id']}",
        headers={
            "X-Samverkan-Unit": "region-norrbotten-hc-lulea",
            "X-Samverkan-User": "SE2321000032-nurse",
            "X-Request-ID": "acting-unit-1",
        },
    )
    # The person was registered by the region's system itself: a party naming the principal,
    # which every unit it acts for reaches.
    assert read.status_code == 200
    async with connected(engine) as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT organization_id, principal_id, unit_id, user_id FROM access_log "
                    "WHERE request_id = 'acting-unit-1'"
                )
            )
        ).one()
    assert tuple(row) == (
        "region-norrbotten",
        "region-norrbotten",
        "region-norrbotten-hc-lulea",
        "SE2321000032-nurse",
    )
    # The log view of the region acting for the health centre holds that unit's entries and
    # the principal's own; the health centre's own client, that unit's only.
    centre = await client_for("region-norrbotten-hc-lulea")
    entries = (await centre.get("/api/v1/access-log", params={"limit": 200})).json()["items"]
    assert {e["unit_id"] for e in entries} <= {"region-norrbotten-hc-lulea"}
    assert "acting-unit-1" in {e["request_id"] for e in entries}
    acting = (
        await region.get(
            "/api/v1/access-log",
            params={"limit": 200},
            headers={"X-Samverkan-Unit": "region-norrbotten-hc-lulea"},
        )
    ).json()["items"]
    assert {e["unit_id"] for e in acting} <= {"region-norrbotten-hc-lulea", None}


async def test_the_units_a_municipality_names_become_the_episodes_receivers(
    client_for: ClientFor,
    t0: datetime,
) -> None:
    hospital = await client_for("region-norrbotten")
    person = await create_person(hospital)
    episode = await admit(hospital, person["id"], t0)
    assert (await notice(hospital, episode["id"], "admission-notice")).status_code == 200
    assert (await notice(hospital, episode["id"], "discharge-ready")).status_code == 200
    municipality = await client_for("kommun-2580")
    home_health = await client_for("kommun-2580-hemsjukvard")
    home_care = await client_for("kommun-2580-hemtjanst")
    assert (await home_health.get(f"/api/v1/episodes/{episode['id']}")).status_code == 404
    path = f"/api/v1/episodes/{episode['id']}/municipality-response"
    answer = {"can_receive_from": (t0 + timedelta(days=2)).date().isoformat()}
    foreign = await municipality.post(path, json={**answer, "units": ["kommun-2582-hemtjanst"]})
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "units[0]"
    # A unit that is no party yet cannot answer for the municipality.
    assert (await home_health.post(path, json=answer)).status_code == 404
    named = await municipality.post(path, json={**answer, "units": ["kommun-2580-hemsjukvard"]})
    assert named.status_code == 200, named.text
    assert named.json()["receiving_units"] == ["kommun-2580-hemsjukvard"]
    assert named.json()["events"][-1]["units"] == ["kommun-2580-hemsjukvard"]
    # The named unit now sees the stay and the person; another unit of the municipality does
    # not; the municipality's system still does.
    assert (await home_health.get(f"/api/v1/episodes/{episode['id']}")).status_code == 200
    shown = (await home_health.get(f"/api/v1/persons/{person['id']}")).json()
    assert shown["family_name"] == "Testsson"
    assert (await home_care.get(f"/api/v1/episodes/{episode['id']}")).status_code == 404
    assert (await municipality.get(f"/api/v1/episodes/{episode['id']}")).status_code == 200
    # The named unit may answer again itself.
    again = await home_health.post(path, json=answer)
    assert again.status_code == 200 and again.json()["receiving_units"] == [
        "kommun-2580-hemsjukvard"
    ]


@pytest.mark.committing
async def test_a_principals_writes_name_unit_and_user_where_configured(
    settings: Settings, tokens: Tokens
) -> None:
    strict = create_app(settings.model_copy(update={"require_acting_unit": True}))
    region_token = await tokens.get("region-norrbotten")
    ward_token = await tokens.get("region-norrbotten-sunderby-med")
    body = {
        "identifier": {
            "system": "http://electronichealth.se/identifier/personnummer",
            "value": "19121212-1212",
        },
        "given_name": "Tolvan",
        "family_name": "Tolvansson",
        "residence_municipality_id": "kommun-2580",
    }
    async with strict.router.lifespan_context(strict):
        transport = httpx.ASGITransport(app=strict)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            region = {"Authorization": f"Bearer {region_token}"}
            unnamed = await http.post("/api/v1/persons", json=body, headers=region)
            assert unnamed.status_code == 422
            assert unnamed.json()["errors"][0]["field"] == "X-Samverkan-Unit"
            no_user = await http.post(
                "/api/v1/persons",
                json=body,
                headers={**region, "X-Samverkan-Unit": "region-norrbotten-sunderby-med"},
            )
            assert no_user.status_code == 422
            assert no_user.json()["errors"][0]["field"] == "X-Samverkan-User"
            # Nothing was written: the identifier is still free.
            found = await http.get(
                "/api/v1/persons",
                params={"identifier": f"{body['identifier']['system']}|191212121212"},
                headers=region,
            )
            assert found.json()["items"] == []
            # Configuration that holds no personal data needs neither header.
            subscribed = await http.post(
                "/api/v1/subscriptions",
                json={"topic": "messages", "endpoint": "https://ehr.example/notifications"},
                headers=region,
            )
            assert subscribed.status_code == 201, subscribed.text
            # Reads need neither; a unit's own client names neither.
            assert (await http.get("/api/v1/persons", headers=region)).status_code == 200
            ward = {"Authorization": f"Bearer {ward_token}"}
            written = await http.post("/api/v1/persons", json=body, headers=ward)
            assert written.status_code in (200, 201), written.text
            named = await http.post(
                "/api/v1/persons",
                json=body,
                headers={
                    **region,
                    "X-Samverkan-Unit": "region-norrbotten-sunderby-med",
                    "X-Samverkan-User": "SE2321000032-clerk",
                },
            )
            assert named.status_code == 200, named.text
