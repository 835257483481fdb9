"""The staff register over REST and FHIR, and the roles it gives: a plan's coordinator, and the
MAS who alone moves a deviation about a municipality's health care."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.conftest import ClientFor
from tests.factories import admit, create_person, notice, staff_role

HSA = "urn:oid:1.2.752.29.4.19"
HPR = "urn:oid:2.16.578.1.12.4.1.4.4"


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def hsa_id() -> str:
    return f"SE{random.randrange(10**9, 10**10)}-T{random.randrange(1000)}"


async def test_practitioners_and_roles_are_registered_read_and_searched(
    client_for: ClientFor,
) -> None:
    municipality = await client_for("kommun-0880")
    value = hsa_id()
    practitioner = ok(
        await municipality.post(
            "/api/v1/practitioners",
            json={
                "identifier": {"system": HSA, "value": value},
                "given_name": "Mona",
                "family_name": "Ek",
                "jurisdiction": "SE",
            },
        ),
        201,
    )
    twice = await municipality.post(
        "/api/v1/practitioners",
        json={
            "identifier": {"system": HSA, "value": value},
            "family_name": "Ek",
            "jurisdiction": "SE",
        },
    )
    assert twice.status_code == 409 and practitioner["id"] in twice.json()["detail"]
    for identifier, jurisdiction, field in (
        ({"system": HSA, "value": "12345"}, "SE", "identifier.value"),
        ({"system": HPR, "value": "123456789"}, "SE", "identifier.system"),
        ({"system": "urn:x", "value": "1"}, "SE", "identifier.system"),
    ):
        bad = await municipality.post(
            "/api/v1/practitioners",
            json={"identifier": identifier, "family_name": "X", "jurisdiction": jurisdiction},
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == field, bad.text
    role = ok(
        await municipality.post(
            "/api/v1/practitioner-roles",
            json={
                "practitioner_id": practitioner["id"],
                "organization_id": "kommun-0880-hemtjanst",
                "role": "planner",
            },
        ),
        201,
    )
    assert (role["organization_id"], role["principal_id"]) == (
        "kommun-0880-hemtjanst",
        "kommun-0880",
    )
    # A role is registered by the organization it is held at, not by another.
    foreign = await (await client_for("kommun-2580")).post(
        "/api/v1/practitioner-roles",
        json={
            "practitioner_id": practitioner["id"],
            "organization_id": "kommun-0880-hemtjanst",
            "role": "planner",
        },
    )
    assert foreign.status_code == 403
    region = await client_for("region-kalmar")
    mas_at_region = await region.post(
        "/api/v1/practitioner-roles",
        json={
            "practitioner_id": practitioner["id"],
            "organization_id": "region-kalmar",
            "role": "mas",
        },
    )
    assert mas_at_region.status_code == 422 and mas_at_region.json()["errors"][0]["field"] == "role"

    found = ok(await region.get("/api/v1/practitioners", params={"identifier": f"{HSA}|{value}"}))
    assert [p["id"] for p in found["items"]] == [practitioner["id"]]
    named = ok(await region.get("/api/v1/practitioners", params={"name": "mona e"}))
    assert practitioner["id"] in [p["id"] for p in named["items"]]
    masses = ok(
        await region.get(
            "/api/v1/practitioner-roles", params={"principal_id": "kommun-0880", "role": "mas"}
        )
    )
    assert [r["organization_id"] for r in masses["items"]] == ["kommun-0880-hemsjukvard"]

    fhir = ok(await region.get(f"/fhir/Practitioner/{practitioner['id']}"))
    assert fhir["identifier"][0] == {"use": "official", "system": HSA, "value": value}
    searched = ok(
        await region.get(
            "/fhir/PractitionerRole",
            params={
                "organization": "Organization/kommun-0880-hemtjanst",
                "role": "planner",
                "_include": "PractitionerRole:practitioner",
            },
        )
    )
    kinds = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in searched["entry"]}
    assert ("PractitionerRole", role["id"]) in kinds and (
        "Practitioner",
        practitioner["id"],
    ) in kinds
    by_identifier = ok(
        await region.get("/fhir/Practitioner", params={"identifier": f"{HSA}|{value}"})
    )
    assert [e["resource"]["id"] for e in by_identifier["entry"]] == [practitioner["id"]]
    wrong = await region.get("/fhir/PractitionerRole", params={"role": "surgeon"})
    assert wrong.status_code == 422


async def test_a_plans_coordinator_refers_to_a_coordinator_role(client_for: ClientFor) -> None:
    centre = await client_for("region-kalmar-hc-kalmar")
    person = await create_person(centre, municipality="kommun-0880")
    coordinator = await staff_role(centre, "kommun-0880-hemtjanst", "coordinator")
    mas = await staff_role(centre, "kommun-0880-hemsjukvard", "mas")
    plan = ok(
        await centre.post(
            "/api/v1/plans",
            json={
                "person_id": person["id"],
                "title": "SIP",
                "coordinator": {"practitioner_role_id": coordinator["id"]},
            },
        ),
        201,
    )
    assert plan["coordinator"] == {
        "name": "Sara Lindgren",
        "unit_id": "kommun-0880-hemtjanst",
        "principal_id": "kommun-0880",
        "title": "Samordnare",
        "chosen_with_person": True,
        "practitioner_role_id": coordinator["id"],
    }
    for given, field in (
        ({"practitioner_role_id": mas["id"]}, "coordinator.practitioner_role_id"),
        ({"practitioner_role_id": "nobody"}, "coordinator.practitioner_role_id"),
        (
            {"practitioner_role_id": coordinator["id"], "unit_id": "kommun-0880-lss"},
            "coordinator.unit_id",
        ),
        ({"name": "Anna"}, "coordinator.unit_id"),
    ):
        refused = await centre.post(
            "/api/v1/plans",
            json={"person_id": person["id"], "title": "SIP", "coordinator": given},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == field, refused.text


async def test_a_deviation_about_a_municipalitys_care_goes_to_its_mas_who_alone_moves_it(
    client_for: ClientFor,
    now: datetime,
) -> None:
    hospital = await client_for("region-kalmar")
    person = await create_person(hospital, municipality="kommun-0880")
    episode = await admit(
        hospital, person["id"], now - timedelta(days=2), unit="region-kalmar-lanssjukhuset-med"
    )
    assert (await notice(hospital, episode["id"], "admission-notice")).status_code == 200
    reported = ok(
        await hospital.post(
            "/api/v1/deviations",
            json={"category": "unsafe-transition", "episode_id": episode["id"], "description": "x"},
        ),
        201,
    )
    mas = await staff_role(hospital, "kommun-0880-hemsjukvard", "mas")
    assert (reported["handler_principal_id"], reported["handler_id"]) == (
        "kommun-0880",
        "kommun-0880-hemsjukvard",
    )
    assert reported["handler_role_id"] == mas["id"]
    task = ok(await hospital.get(f"/fhir/Task/{reported['id']}"))
    assert task["owner"] == {"reference": f"PractitionerRole/{mas['id']}"}
    path = f"/api/v1/deviations/{reported['id']}/handling"
    # The MAS's unit handles it; another unit of the municipality is no party at all, and the
    # reporting region (criticized or not) cannot move it.
    home_health = await client_for("kommun-0880-hemsjukvard")
    assert [d["id"] for d in ok(await home_health.get("/api/v1/deviations"))["items"]] == [
        reported["id"]
    ]
    assert (
        await (await client_for("kommun-0880-lss")).post(path, json={"state": "investigating"})
    ).status_code == 404
    assert (await hospital.post(path, json={"state": "investigating"})).status_code == 403
    moved = ok(await home_health.post(path, json={"state": "investigating"}))
    assert moved["history"][-1]["organization_id"] == "kommun-0880-hemsjukvard"
    # The municipality's own system reaches its MAS's unit, and so may move it on too.
    municipality = await client_for("kommun-0880")
    answered = ok(await municipality.post(path, json={"state": "answered", "note": "Åtgärdat."}))
    assert answered["state"] == "answered"
    assert (await hospital.post(path, json={"state": "closed"})).status_code == 403
