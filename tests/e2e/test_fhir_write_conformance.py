"""FHIR conformance of writes, Bundles, errors and content negotiation (issue 16).

One error vocabulary (a refusal has the same status on REST, FHIR, in a batch entry and in a
``$process-message`` response), FHIRPath in ``OperationOutcome.issue.expression``, a plain
create of a known Patient refused, conditional create, Patient input checked and gender kept,
bdl-7, reads inside a batch, and 406 for what is not served.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from app.domain.identifiers import PERSONNUMMER
from tests.conftest import ClientFor
from tests.e2e.test_fhir_messaging import admit_by_message, example, post
from tests.factories import personnummer

FHIR = {"Content-Type": "application/fhir+json"}


def patient(value: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": PERSONNUMMER, "value": value}],
        "name": [{"family": "Konformans", "given": ["Greta"]}],
        "managingOrganization": {"reference": "Organization/kommun-0880"},
        **extra,
    }


async def send(http: httpx.AsyncClient, method: str, path: str, body: Any, **headers: str):  # type: ignore[no-untyped-def]
    return await http.request(method, path, content=json.dumps(body), headers={**FHIR, **headers})


def batch(kind: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def post_entry(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    return {
        "fullUrl": full_url or f"urn:uuid:{uuid.uuid4()}",
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }


# --- 1. one error vocabulary -------------------------------------------------------------------


async def test_a_duplicate_is_409_alone_and_as_a_batch_entry_with_one_issue_code(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    value = personnummer()
    assert (await send(hospital, "POST", "/fhir/Patient", patient(value))).status_code == 201
    alone = await send(hospital, "POST", "/fhir/Patient", patient(value))
    assert alone.status_code == 409, alone.text
    entry = post_entry(patient(value))
    answered = await send(hospital, "POST", "/fhir", batch("batch", [entry]))
    assert answered.status_code == 200, answered.text
    response = answered.json()["entry"][0]["response"]
    assert response["status"] == "409 Conflict"
    assert response["outcome"]["issue"][0]["code"] == alone.json()["issue"][0]["code"]
    assert alone.json()["issue"][0]["code"] == "duplicate"
    assert response["outcome"]["issue"][0]["expression"] == [
        "Bundle.entry[0].resource.identifier[0]"
    ]


async def test_an_illegal_transition_is_409_over_rest_and_in_a_message(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    episode_id, admitted = await admit_by_message(hospital)
    common = {"episode_id": episode_id, "person_id": "x", "admitted_at": admitted}
    refused = await post(hospital, example("discharge-ready-withdrawn", **common))
    assert refused.status_code == 409, refused.text
    outcome = refused.json()["entry"][1]["resource"]
    assert outcome["issue"][0]["code"] == "business-rule"
    over_rest = await hospital.post(f"/api/v1/episodes/{episode_id}/withdrawal", json={})
    assert over_rest.status_code == 409, over_rest.text
    assert over_rest.json()["type"].endswith("/illegal-transition")


# --- 2. FHIRPath in expression -----------------------------------------------------------------


async def test_issues_name_elements_as_fhirpath_and_parameters_in_details(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    wrong_town = patient(
        personnummer(), managingOrganization={"reference": "Organization/region-kalmar"}
    )
    refused = await send(hospital, "POST", "/fhir/Patient", wrong_town)
    assert refused.status_code == 422, refused.text
    assert refused.json()["issue"][0]["expression"] == ["Patient.managingOrganization"]
    nameless = patient(personnummer(), name=[{"use": "official"}])
    refused = await send(hospital, "POST", "/fhir/Patient", nameless)
    assert refused.status_code == 422, refused.text
    assert refused.json()["issue"][0]["expression"] == ["Patient.name[0].family"]
    bad_name = patient(personnummer(), name=[{"family": 7}])
    refused = await send(hospital, "POST", "/fhir/Patient", bad_name)
    assert refused.status_code == 400, refused.text
    assert refused.json()["issue"][0]["expression"] == ["Patient.name[0].family"]
    searched = await hospital.get("/fhir/Patient", params={"_count": "many"})
    assert 400 <= searched.status_code < 500, searched.text
    issue = searched.json()["issue"][0]
    assert "expression" not in issue and issue["details"]["text"] == "_count", issue


# --- 3 and 8. plain and conditional create -------------------------------------------------------


async def test_a_plain_create_of_a_known_patient_is_refused_and_changes_nothing(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    value = personnummer()
    first = await send(hospital, "POST", "/fhir/Patient", patient(value))
    assert first.status_code == 201, first.text
    other = patient(
        value,
        name=[{"family": "Annan", "given": ["Ny"]}],
        telecom=[{"system": "phone", "value": "+46701234567"}],
    )
    refused = await send(hospital, "POST", "/fhir/Patient", other)
    assert refused.status_code == 409, refused.text
    issue = refused.json()["issue"][0]
    assert f"Patient/{first.json()['id']}" in issue["diagnostics"]
    assert "If-None-Exist" in issue["diagnostics"]
    stored = (await hospital.get(f"/fhir/Patient/{first.json()['id']}")).json()
    assert stored["name"][0]["family"] == "Konformans" and "telecom" not in stored
    found = await send(
        hospital,
        "POST",
        "/fhir/Patient",
        other,
        **{"If-None-Exist": f"identifier={PERSONNUMMER}|{value}"},
    )
    assert found.status_code == 200 and found.json()["id"] == first.json()["id"]


async def test_a_conditional_create_matching_several_is_412(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    for _ in range(2):
        made = await send(hospital, "POST", "/fhir/Patient", patient(personnummer()))
        assert made.status_code == 201, made.text
    value = personnummer()
    several = await send(
        hospital,
        "POST",
        "/fhir/Patient",
        patient(value),
        **{"If-None-Exist": "organization=kommun-0880"},
    )
    assert several.status_code == 412, several.text
    issue = several.json()["issue"][0]
    assert issue["code"] == "multiple-matches" and issue["details"]["text"] == "If-None-Exist"
    none_yet = await send(
        hospital,
        "POST",
        "/fhir/Patient",
        patient(value),
        **{"If-None-Exist": f"identifier={PERSONNUMMER}|{value}"},
    )
    assert none_yet.status_code == 201, none_yet.text
    unknown = await send(
        hospital, "POST", "/fhir/Patient", patient(value), **{"If-None-Exist": "colour=blue"}
    )
    assert unknown.status_code == 422 and "colour" in unknown.json()["issue"][0]["diagnostics"]


async def test_the_capability_statement_declares_conditional_create_and_json_only(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    statement = (await hospital.get("/fhir/metadata")).json()
    assert statement["format"] == ["json"]
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert resources["Patient"]["conditionalCreate"] is True
    assert "conditionalCreate" not in resources["Organization"]


# --- 4. Patient input and gender -----------------------------------------------------------------


async def test_patient_input_is_checked_and_gender_is_kept(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    odd = await send(
        hospital, "POST", "/fhir/Patient", patient(personnummer(), gender="unknown-gender")
    )
    assert odd.status_code == 400, odd.text
    assert odd.json()["issue"][0]["expression"] == ["Patient.gender"]
    text = await send(hospital, "POST", "/fhir/Patient", patient(personnummer(), active="true"))
    assert text.status_code == 400, text.text
    assert text.json()["issue"][0]["expression"] == ["Patient.active"]
    created = await send(
        hospital, "POST", "/fhir/Patient", patient(personnummer(), gender="female")
    )
    assert created.status_code == 201, created.text
    assert created.json()["gender"] == "female"
    read = (await hospital.get(f"/fhir/Patient/{created.json()['id']}")).json()
    assert read["gender"] == "female"


# --- 5. content negotiation ----------------------------------------------------------------------


async def test_formats_and_versions_not_served_are_406(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    for params, headers in (
        ({"_format": "xml"}, {}),
        ({"_format": "application/fhir+xml"}, {}),
        ({}, {"Accept": "application/fhir+xml"}),
        ({}, {"Accept": "application/fhir+json; fhirVersion=3.0"}),
    ):
        refused = await hospital.get("/fhir/metadata", params=params, headers=headers)
        assert refused.status_code == 406, (params, headers, refused.text)
        assert refused.headers["content-type"].startswith("application/fhir+json")
        assert refused.json()["resourceType"] == "OperationOutcome"
    for params, headers in (
        ({"_format": "json"}, {}),
        ({}, {"Accept": "application/fhir+json; fhirVersion=4.0"}),
        ({}, {"Accept": "application/fhir+xml;q=0.9, application/json;q=0.5"}),
        ({}, {"Accept": "*/*"}),
    ):
        served = await hospital.get("/fhir/metadata", params=params, headers=headers)
        assert served.status_code == 200, (params, headers, served.text)
    old_body = await hospital.post(
        "/fhir/Patient",
        content=json.dumps(patient(personnummer())),
        headers={"Content-Type": "application/fhir+json; fhirVersion=3.0"},
    )
    assert old_body.status_code == 415, old_body.text


# --- 6. bdl-7 ------------------------------------------------------------------------------------


async def test_a_bundle_repeating_a_full_url_is_refused(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    shared = f"urn:uuid:{uuid.uuid4()}"
    entries = [post_entry(patient(personnummer()), shared) for _ in range(2)]
    for kind in ("batch", "transaction"):
        refused = await send(hospital, "POST", "/fhir", batch(kind, entries))
        assert refused.status_code == 400, refused.text
        assert refused.json()["issue"][0]["expression"] == ["Bundle.entry[1].fullUrl"]
    message = example(
        "discharge-ready", episode_id=str(uuid.uuid4()), person_id="x", admitted_at="x"
    )
    message["entry"].append(dict(message["entry"][1]))
    refused = await post(hospital, message)
    assert refused.status_code == 400, refused.text
    assert refused.json()["issue"][0]["expression"] == [
        f"Bundle.entry[{len(message['entry']) - 1}].fullUrl"
    ]


# --- 7. reads inside a batch ---------------------------------------------------------------------


async def test_a_batch_reads_with_the_callers_access(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    stranger = await client_for("region-norrbotten")
    made = await send(hospital, "POST", "/fhir/Patient", patient(personnummer()))
    person_id = made.json()["id"]
    entries = [
        {"request": {"method": "GET", "url": f"Patient/{person_id}"}},
        post_entry(patient(personnummer())),
        {"request": {"method": "GET", "url": f"Patient/{uuid.uuid4()}"}},
        {"request": {"method": "GET", "url": "Patient/x/y"}},
    ]
    answered = await send(hospital, "POST", "/fhir", batch("batch", entries))
    assert answered.status_code == 200, answered.text
    result = answered.json()["entry"]
    assert [e["response"]["status"][:3] for e in result] == ["200", "201", "404", "400"]
    assert result[0]["resource"]["id"] == person_id
    assert result[0]["response"]["etag"] == 'W/"1"'
    assert result[3]["response"]["outcome"]["issue"][0]["expression"] == [
        "Bundle.entry[3].request.url"
    ]
    hidden = await send(stranger, "POST", "/fhir", batch("batch", entries[:1]))
    assert hidden.status_code == 200, hidden.text
    assert hidden.json()["entry"][0]["response"]["status"].startswith("404")
    read_after_write = await send(
        hospital,
        "POST",
        "/fhir",
        batch("transaction", [entries[0], post_entry(patient(personnummer()))]),
    )
    assert read_after_write.status_code == 200, read_after_write.text
    statuses = [e["response"]["status"] for e in read_after_write.json()["entry"]]
    assert statuses == ["200 OK", "201 Created"]
