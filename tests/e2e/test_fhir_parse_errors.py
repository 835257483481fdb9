"""Wire values the FHIR edge cannot read are refused with 422 naming what was wrong: the version
a write names (If-Match, meta.versionId) and a reference that names no resource of its type."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import ClientFor
from tests.e2e.test_fhir_writes import FHIR, careplan, encounter, patient
from tests.factories import personnummer


async def send(
    http: httpx.AsyncClient, method: str, path: str, body: Any, **headers: str
) -> httpx.Response:
    return await http.request(method, path, content=json.dumps(body), headers={**FHIR, **headers})


def issue(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    first: dict[str, Any] = body["issue"][0]
    return first


async def test_a_version_that_names_no_number_is_refused_naming_where_it_came_from(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    person = await send(hospital, "POST", "/fhir/Patient", patient(personnummer()))
    plan = await send(
        hospital, "POST", "/fhir/CarePlan", careplan(f"Patient/{person.json()['id']}")
    )
    assert plan.status_code == 201, plan.text
    resource = plan.json()
    path = f"/fhir/CarePlan/{resource['id']}"

    header = await send(hospital, "PUT", path, resource, **{"If-Match": 'W/"one"'})
    assert header.status_code == 422, header.text
    assert issue(header)["details"]["text"] == "If-Match"
    assert 'If-Match must name a version, e.g. W/"3"' in issue(header)["diagnostics"]

    in_body = {**resource, "meta": {"versionId": "v1"}}
    body = await send(hospital, "PUT", path, in_body)
    assert body.status_code == 422, body.text
    assert issue(body)["expression"] == ["CarePlan.meta.versionId"]

    # The forms the same header takes over REST are read here too.
    for tag in ('"1"', "1"):
        kept = await send(hospital, "PUT", path, {**resource, "title": tag}, **{"If-Match": tag})
        assert kept.status_code in (200, 412), kept.text
    current = await hospital.get(path)
    assert current.json()["title"] == '"1"' and current.headers["etag"] == 'W/"2"'


async def test_a_reference_that_names_no_resource_of_its_type_is_refused_naming_the_element(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    for subject in ("Patient/", "Patient/a/b", "Organization/kommun-0880"):
        refused = await send(hospital, "POST", "/fhir/Encounter", encounter(subject))
        assert refused.status_code == 422, refused.text
        assert issue(refused)["expression"] == ["Encounter.subject"]
        assert "must reference a Patient" in issue(refused)["diagnostics"]
