"""FHIR writes: create (conditional), update with If-Match, transaction and batch Bundles."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.domain.identifiers import PERSONNUMMER
from tests.conftest import ClientFor
from tests.factories import personnummer

FHIR = {"Content-Type": "application/fhir+json"}


def patient(value: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": PERSONNUMMER, "value": value}],
        "name": [{"family": "Transaktion", "given": ["Tea"]}],
        "managingOrganization": {"reference": "Organization/kommun-0880"},
        **extra,
    }


def encounter(subject: str, unit: str = "region-kalmar-lanssjukhuset-med") -> dict[str, Any]:
    """An Encounter of the subject at ``unit`` that began a day before the call."""
    return {
        "resourceType": "Encounter",
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": subject},
        "period": {"start": (datetime.now(UTC) - timedelta(days=1)).isoformat()},
        "serviceProvider": {"reference": f"Organization/{unit}"},
    }


def careplan(subject: str) -> dict[str, Any]:
    """A draft CarePlan of the subject that starts on the day of the call (UTC)."""
    return {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "plan",
        "title": "SIP via transaktion",
        "subject": {"reference": subject},
        "period": {"start": datetime.now(UTC).date().isoformat()},
    }


def bundle(kind: str, entries: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"fullUrl": full_url, "resource": resource, "request": {"method": "POST", "url": url}}
            for full_url, url, resource in entries
        ],
    }


async def send(http: httpx.AsyncClient, method: str, path: str, body: Any, **headers: str):  # type: ignore[no-untyped-def]
    return await http.request(method, path, content=json.dumps(body), headers={**FHIR, **headers})


async def test_a_transaction_creates_person_episode_and_plan_in_any_order(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    value = personnummer()
    person_ref = "urn:uuid:1b4e28ba-2fa1-41d2-883f-0016d3cca427"
    entries = [
        ("urn:uuid:2b4e28ba-2fa1-41d2-883f-0016d3cca428", "CarePlan", careplan(person_ref)),
        ("urn:uuid:3b4e28ba-2fa1-41d2-883f-0016d3cca429", "Encounter", encounter(person_ref)),
        (person_ref, "Patient", patient(value)),
    ]
    response = await send(hospital, "POST", "/fhir", bundle("transaction", entries))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == ["201 Created"] * 3
    person_id = result["entry"][2]["resource"]["id"]
    assert result["entry"][1]["resource"]["subject"]["reference"] == f"Patient/{person_id}"
    found = await hospital.get("/fhir/Patient", params={"identifier": f"{PERSONNUMMER}|{value}"})
    assert [e["resource"]["id"] for e in found.json()["entry"]] == [person_id]
    for kind in ("Encounter", "CarePlan"):
        searched = (await hospital.get(f"/fhir/{kind}", params={"patient": person_id})).json()
        assert len(searched["entry"]) == 1, kind


async def test_a_failing_transaction_writes_nothing(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    value = personnummer()
    person_ref = "urn:uuid:4b4e28ba-2fa1-41d2-883f-0016d3cca420"
    entries = [
        (person_ref, "Patient", patient(value)),
        (
            "urn:uuid:5b4e28ba-2fa1-41d2-883f-0016d3cca421",
            "Encounter",
            encounter(person_ref, unit="nowhere"),
        ),
    ]
    refused = await send(hospital, "POST", "/fhir", bundle("transaction", entries))
    assert refused.status_code == 422, refused.text
    issue = refused.json()["issue"][0]
    assert issue["expression"] == ["Bundle.entry[1].resource.serviceProvider"]
    found = await hospital.get("/fhir/Patient", params={"identifier": f"{PERSONNUMMER}|{value}"})
    assert found.json().get("entry", []) == []


async def test_a_batch_applies_each_entry_on_its_own(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    good, bad = personnummer(), personnummer()
    entries = [
        ("urn:uuid:6b4e28ba-2fa1-41d2-883f-0016d3cca422", "Patient", patient(good)),
        (
            "urn:uuid:7b4e28ba-2fa1-41d2-883f-0016d3cca423",
            "Patient",
            patient(bad, managingOrganization={"reference": "Organization/region-kalmar"}),
        ),
    ]
    response = await send(hospital, "POST", "/fhir", bundle("batch", entries))
    assert response.status_code == 200, response.text
    answers = response.json()["entry"]
    assert answers[0]["response"]["status"] == "201 Created"
    assert answers[1]["response"]["status"].startswith("422 ")
    assert answers[1]["response"]["outcome"]["issue"][0]["expression"] == [
        "Bundle.entry[1].resource.managingOrganization"
    ]


async def test_bundles_are_checked_before_anything_is_applied(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    tiny = {
        "resource": {"resourceType": "Patient"},
        "request": {"method": "POST", "url": "Patient"},
    }
    too_many = {"resourceType": "Bundle", "type": "transaction", "entry": [tiny] * 501}
    refused = await send(hospital, "POST", "/fhir", too_many)
    assert refused.status_code == 400 and refused.json()["issue"][0]["expression"] == [
        "Bundle.entry"
    ]
    delete = bundle("transaction", [("urn:uuid:x", "Patient", patient(personnummer()))])
    delete["entry"][0]["request"] = {"method": "DELETE", "url": "Patient/1"}
    unsupported = await send(hospital, "POST", "/fhir", delete)
    assert unsupported.status_code == 400
    assert unsupported.json()["issue"][0]["expression"] == ["Bundle.entry[0].request"]
    history = {"resourceType": "Bundle", "type": "history"}
    assert (await send(hospital, "POST", "/fhir", history)).status_code == 400


async def test_create_and_conditional_create_of_a_patient(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    value = personnummer()
    created = await send(hospital, "POST", "/fhir/Patient", patient(value))
    assert created.status_code == 201, created.text
    person_id = created.json()["id"]
    assert created.headers["location"].endswith(f"/fhir/Patient/{person_id}/_history/1")
    assert created.headers["etag"] == 'W/"1"'
    again = await send(
        hospital,
        "POST",
        "/fhir/Patient",
        patient(value),
        **{"If-None-Exist": f"identifier={PERSONNUMMER}|{value}"},
    )
    assert again.status_code == 200 and again.json()["id"] == person_id
    mismatch = await send(
        hospital, "POST", "/fhir/Patient", patient(value), **{"If-None-Exist": "name=Tea"}
    )
    assert mismatch.status_code == 422
    minimal = await send(
        hospital,
        "POST",
        "/fhir/Patient",
        patient(value),
        Prefer="return=minimal",
        **{"If-None-Exist": f"identifier={PERSONNUMMER}|{value}"},
    )
    assert minimal.status_code == 200 and minimal.content == b""
    bogus = await send(hospital, "POST", "/fhir/Patient", patient(value, colour="blue"))
    assert bogus.status_code == 400
    assert bogus.json()["issue"][0]["expression"] == ["Patient.colour"]
    wrong_type = await send(hospital, "POST", "/fhir/Patient", careplan("Patient/1"))
    assert wrong_type.status_code == 400
    organization = await send(
        hospital, "POST", "/fhir/Organization", {"resourceType": "Organization"}
    )
    assert organization.status_code == 405


@pytest.mark.committing
async def test_two_identical_conditional_creates_at_once_make_one_patient(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    value = personnummer()
    condition = {"If-None-Exist": f"identifier={PERSONNUMMER}|{value}"}
    results = await asyncio.gather(
        send(hospital, "POST", "/fhir/Patient", patient(value), **condition),
        send(hospital, "POST", "/fhir/Patient", patient(value), **condition),
    )
    codes = sorted(r.status_code for r in results)
    assert codes[0] in (200, 201) and codes[1] in (200, 201, 409), [r.text for r in results]
    assert 201 in codes
    found = await hospital.get("/fhir/Patient", params={"identifier": f"{PERSONNUMMER}|{value}"})
    assert len(found.json()["entry"]) == 1


async def test_updating_a_careplan_needs_the_current_version(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    created = await send(hospital, "POST", "/fhir/Patient", patient(personnummer()))
    person_id = created.json()["id"]
    plan = await send(hospital, "POST", "/fhir/CarePlan", careplan(f"Patient/{person_id}"))
    assert plan.status_code == 201, plan.text
    resource = plan.json()
    plan_id = resource["id"]
    changed = {**resource, "title": "Ny titel"}
    unversioned = {k: v for k, v in changed.items() if k != "meta"}
    missing = await send(hospital, "PUT", f"/fhir/CarePlan/{plan_id}", unversioned)
    assert missing.status_code == 428
    updated = await send(
        hospital, "PUT", f"/fhir/CarePlan/{plan_id}", changed, **{"If-Match": 'W/"1"'}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["title"] == "Ny titel" and updated.headers["etag"] == 'W/"2"'
    stale = await send(
        hospital, "PUT", f"/fhir/CarePlan/{plan_id}", changed, **{"If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412
    other_id = await send(
        hospital,
        "PUT",
        f"/fhir/CarePlan/{plan_id}",
        {**changed, "id": "x"},
        **{"If-Match": 'W/"2"'},
    )
    assert other_id.status_code == 400
    no_update = await send(hospital, "PUT", f"/fhir/Patient/{person_id}", created.json())
    assert no_update.status_code == 405


async def test_many_patients_in_one_transaction(client_for: ClientFor) -> None:
    """The Patients of a transaction are registered together, one already known among them; one
    person sent twice is refused, naming both entries, and nothing is kept."""
    hospital = await client_for("region-kalmar")
    known = personnummer()
    first = await send(hospital, "POST", "/fhir/Patient", patient(known))
    assert first.status_code == 201, first.text
    twice = personnummer()
    values = [personnummer() for _ in range(5)] + [known, twice]
    entries = [
        (f"urn:uuid:00000000-0000-4000-8000-{i:012d}", "Patient", patient(v))
        for i, v in enumerate(values)
    ]
    doubled = bundle(
        "transaction", [*entries, (entries[-1][0][:-1] + "9", "Patient", patient(twice))]
    )
    refused = await send(hospital, "POST", "/fhir", doubled)
    assert refused.status_code == 422, refused.text
    issue = refused.json()["issue"][0]
    assert issue["expression"][0].startswith("Bundle.entry[7]"), issue
    assert "Bundle.entry[6]" in issue["diagnostics"]
    response = await send(hospital, "POST", "/fhir", bundle("transaction", entries))
    assert response.status_code == 200, response.text
    result = response.json()["entry"]
    assert [e["response"]["status"] for e in result] == ["201 Created"] * 5 + [
        "200 OK",
        "201 Created",
    ]
    assert result[5]["resource"]["id"] == first.json()["id"]
    assert len({e["resource"]["id"] for e in result}) == 7


async def test_a_bad_patient_among_many_names_its_entry_and_keeps_nothing(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    values = [personnummer() for _ in range(4)]
    entries = [
        (f"urn:uuid:00000000-0000-4000-8000-{i:012d}", "Patient", patient(v))
        for i, v in enumerate(values)
    ]
    entries[2] = (
        entries[2][0],
        "Patient",
        patient(values[2], managingOrganization={"reference": "Organization/region-kalmar"}),
    )
    refused = await send(hospital, "POST", "/fhir", bundle("transaction", entries))
    assert refused.status_code == 422, refused.text
    issue = refused.json()["issue"][0]
    assert issue["expression"][0].startswith("Bundle.entry[2]"), issue
    assert "not a municipality" in issue["diagnostics"]
    for value in values:
        found = await hospital.get(
            "/fhir/Patient", params={"identifier": f"{PERSONNUMMER}|{value}"}
        )
        assert found.json().get("entry", []) == [], value


@pytest.mark.committing
async def test_overlapping_transactions_at_once_neither_deadlock_nor_duplicate(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    values = [personnummer() for _ in range(20)]

    def entries(chosen: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (f"urn:uuid:00000000-0000-4000-8000-{i:012d}", "Patient", patient(v))
            for i, v in enumerate(chosen)
        ]

    results = await asyncio.gather(
        send(hospital, "POST", "/fhir", bundle("transaction", entries(values))),
        send(hospital, "POST", "/fhir", bundle("transaction", entries(values[::-1]))),
        send(hospital, "POST", "/fhir", bundle("transaction", entries(values[5:15]))),
    )
    assert [r.status_code for r in results] == [200, 200, 200], [r.text[:200] for r in results]
    ids = {
        e["resource"]["identifier"][0]["value"]: e["resource"]["id"]
        for r in results
        for e in r.json()["entry"]
    }
    assert len(ids) == 20
    for r in results:
        for e in r.json()["entry"]:
            assert ids[e["resource"]["identifier"][0]["value"]] == e["resource"]["id"]
