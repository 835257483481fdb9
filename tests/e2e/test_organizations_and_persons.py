"""Organizations, cooperation areas and persons over the REST API, including idempotent POSTs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.domain.identifiers import FODSELSNUMMER, PERSONNUMMER
from app.domain.organizations import HSA_ID, SE_MUNICIPALITY_CODE
from tests.conftest import ClientFor
from tests.factories import admit, fodselsnummer, personnummer


async def test_demo_data_has_the_reference_municipalities(client: httpx.AsyncClient) -> None:
    lulea = (await client.get("/api/v1/organizations/kommun-2580")).json()
    assert lulea["name"] == "Luleå kommun" and lulea["municipality_code"] == "2580"
    found = (
        await client.get(
            "/api/v1/organizations", params={"identifier": f"{SE_MUNICIPALITY_CODE}|2580"}
        )
    ).json()
    assert [o["id"] for o in found["items"]] == ["kommun-2580"]
    areas = (
        await client.get("/api/v1/cooperation-areas", params={"region_id": "region-norrbotten"})
    ).json()["items"]
    assert sorted(a["name"] for a in areas) == [
        "Kraftfält Norr",
        "Luleå–Boden",
        "Piteå älvdal",
        "Östra Norrbotten",
    ]
    assert sum(len(a["municipality_ids"]) for a in areas) == 14
    jaeren = (await client.get("/api/v1/cooperation-areas/area-jaeren")).json()
    assert jaeren["municipality_ids"] == [
        "kommune-1119",
        "kommune-1120",
        "kommune-1121",
        "kommune-1122",
    ]


async def test_pagination_never_repeats_or_skips(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    url: str | None = "/api/v1/organizations?kind=municipality&limit=7"
    while url:
        page = (await client.get(url)).json()
        seen += [o["id"] for o in page["items"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 40


async def test_create_unit_and_refuse_bad_identifiers(
    municipality: httpx.AsyncClient, client: httpx.AsyncClient, unique: str
) -> None:
    client, region = municipality, client
    body = {
        "id": f"unit-{unique}",
        "kind": "unit",
        "name": "Hemtjänst Norr",
        "jurisdiction": "SE",
        "parent_id": "kommun-2580",
        "function": "home-care",
        "identifiers": [{"system": HSA_ID, "value": f"SE2120001231-{unique}"}],
    }
    # Units are registered by their own organization: not by the region for the municipality.
    foreign = await region.post("/api/v1/organizations", json=body)
    assert foreign.status_code == 403 and "region-norrbotten" in foreign.json()["detail"]
    created = await client.post("/api/v1/organizations", json=body)
    assert created.status_code == 201, created.text
    assert created.headers["location"].endswith(f"/api/v1/organizations/unit-{unique}")
    again = await client.post("/api/v1/organizations", json={**body, "id": f"other-{unique}"})
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "identifiers[0].value"
    wrong_country = await client.post(
        "/api/v1/organizations",
        json={
            **body,
            "id": f"x-{unique}",
            "identifiers": [{"system": "urn:oid:2.16.578.1.12.4.1.2", "value": "12345"}],
        },
    )
    assert wrong_country.status_code == 422
    assert "NO identifier" in wrong_country.json()["detail"]
    no_function = await client.post(
        "/api/v1/organizations",
        json={
            "id": f"y-{unique}",
            "kind": "unit",
            "name": "X",
            "jurisdiction": "SE",
            "parent_id": "kommun-2580",
        },
    )
    assert no_function.status_code == 422
    assert no_function.json()["errors"][0]["field"] == "function"


async def test_personnummer_forms_normalize_to_one_person(client: httpx.AsyncClient) -> None:
    value = personnummer()
    created = await client.post(
        "/api/v1/persons",
        json={
            "identifier": {
                "system": "urn:oid:1.2.752.129.2.1.3.1",
                "value": f"{value[2:8]}-{value[8:]}",
            },
            "given_name": "Viola",
            "family_name": "Andersson",
            "residence_municipality_id": "kommun-0880",
        },
    )
    assert created.status_code == 201, created.text
    person = created.json()
    assert person["identifier"] == {"system": PERSONNUMMER, "value": value}
    assert person["birth_date"] == f"{value[:4]}-{value[4:6]}-{value[6:8]}"
    found = (
        await client.get("/api/v1/persons", params={"identifier": f"{PERSONNUMMER}|{value}"})
    ).json()["items"]
    assert [p["id"] for p in found] == [person["id"]]


async def test_norwegian_person_must_live_in_a_norwegian_municipality(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/persons",
        json={
            "identifier": {"system": FODSELSNUMMER, "value": fodselsnummer()},
            "given_name": "Kari",
            "family_name": "Nordmann",
            "residence_municipality_id": "kommun-2580",
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "residence_municipality_id"


async def test_protected_identity_details_go_only_to_organizations_that_must_act(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    value = personnummer()
    body = {
        "identifier": {"system": PERSONNUMMER, "value": value},
        "given_name": "Skyddad",
        "family_name": "Person",
        "residence_municipality_id": "kommun-2582",
        "protected_identity": True,
        "address": "Hemlig väg 1",
        "phone": "070-1234567",
    }
    created = (await client.post("/api/v1/persons", json=body)).json()
    assert created["address"] == "Hemlig väg 1"  # the caller's own input, echoed once

    def assert_masked(shown: dict[str, Any]) -> None:
        assert shown["address"] is None and shown["phone"] is None
        assert "Skyddad" not in shown["given_name"] and value not in shown["identifier"]["value"]

    listed = (
        await client.get("/api/v1/persons", params={"municipality_id": "kommun-2582"})
    ).json()["items"]
    assert_masked(next(p for p in listed if p["id"] == created["id"]))
    assert "Hemlig" not in str(listed)
    # The registrant reads back what it entered (outside lists)...
    assert (await client.get(f"/api/v1/persons/{created['id']}")).json()["phone"] == "070-1234567"
    # ...and the residence municipality is no party to any record yet: not found, like any id.
    boden = await client_for("kommun-2582")
    hidden = await boden.get(f"/api/v1/persons/{created['id']}")
    assert hidden.status_code == 404 and "Hemlig" not in hidden.text

    await admit(client, created["id"], datetime(2026, 3, 2, 8, tzinfo=UTC))
    for acting in (client, boden):
        record = (await acting.get(f"/api/v1/persons/{created['id']}")).json()
        assert record["address"] == "Hemlig väg 1" and record["given_name"] == "Skyddad"
        listed = (await acting.get("/api/v1/persons")).json()["items"]
        assert "Hemlig" not in str(listed) and "Skyddad" not in str(listed)

    # Another municipality that presents the identifier learns that the person exists, and the
    # id; nothing else, and its own details are not stored.
    lulea = await client_for("kommun-2580")
    found = await lulea.post(
        "/api/v1/persons",
        json={**body, "residence_municipality_id": "kommun-2582", "address": "Annan väg 2"},
    )
    assert found.status_code == 200 and found.json()["id"] == created["id"]
    assert_masked(found.json())
    assert found.json()["details_withheld"] is True and found.json()["family_name"] == ""
    assert found.json()["residence_municipality_id"] is None and found.json()["birth_date"] is None
    assert "Hemlig" not in found.text and "Annan" not in found.text
    assert (await lulea.get(f"/api/v1/persons/{created['id']}")).status_code == 404
    episodes = (await lulea.get("/api/v1/episodes", params={"person_id": created["id"]})).json()
    assert episodes["items"] == []


async def test_idempotency_key_replays_and_refuses_a_different_body(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "identifier": {"system": PERSONNUMMER, "value": personnummer()},
        "given_name": "Peter",
        "family_name": "Persson",
        "residence_municipality_id": "kommun-0880",
    }
    headers = {"Idempotency-Key": "create-peter-1"}
    first = await client.post("/api/v1/persons", json=body, headers=headers)
    second = await client.post("/api/v1/persons", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    other = await client.post(
        "/api/v1/persons", json={**body, "given_name": "Pelle"}, headers=headers
    )
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    listed = (
        await client.get(
            "/api/v1/persons",
            params={"identifier": f"{PERSONNUMMER}|{body['identifier']['value']}"},
        )
    ).json()["items"]
    assert len(listed) == 1


@pytest.mark.committing
async def test_concurrent_requests_with_one_idempotency_key_create_once(
    client: httpx.AsyncClient,
) -> None:
    value = personnummer()
    body = {
        "identifier": {"system": PERSONNUMMER, "value": value},
        "given_name": "Ylva",
        "family_name": "Ek",
        "residence_municipality_id": "kommun-0880",
    }
    responses = await asyncio.gather(
        *[
            client.post("/api/v1/persons", json=body, headers={"Idempotency-Key": "ylva"})
            for _ in range(3)
        ]
    )
    # the losers answer as the winner did, not with an error
    assert [r.status_code for r in responses] == [201, 201, 201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 2
    listed = (
        await client.get("/api/v1/persons", params={"identifier": f"{PERSONNUMMER}|{value}"})
    ).json()["items"]
    assert len(listed) == 1
