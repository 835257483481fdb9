"""The FHIR R4 interface: CapabilityStatement, read, vread, search, and OperationOutcome errors.

Every FHIR response in these tests (and in the whole suite) is also checked against the official
R4 JSON schema by the ``client_for`` fixture (see ``tests/fhir_schema.py``).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import app.fhir as fhir_package
from app.domain.identifiers import PERSONNUMMER
from app.domain.message_events import MessageEvent
from app.fhir import conformance, writes
from app.fhir.resources import RESOURCES
from tests import fhir_medplum, fhir_node, fhir_schema
from tests.conftest import ClientFor
from tests.e2e.test_plan_scenarios import ok
from tests.factories import admit, consent, notice, personnummer, staff_role

FHIR = "application/fhir+json"


def fhir(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR)
    body: dict[str, Any] = response.json()
    return body


async def story(client_for: ClientFor, now: datetime) -> dict[str, Any]:
    """A protected person in hospital, a plan with consent (partly withdrawn) and a meeting, told
    at ``now``: the plan starts that day."""
    hospital = await client_for("region-kalmar")
    person = ok(
        await hospital.post(
            "/api/v1/persons",
            json={
                "identifier": {"system": PERSONNUMMER, "value": personnummer(date(1944, 8, 1))},
                "given_name": "Greta",
                "family_name": "Fhirsson",
                "residence_municipality_id": "kommun-0880",
                "protected_identity": True,
                "address": "Storgatan 1",
            },
        ),
        201,
    )
    episode = await admit(
        hospital, person["id"], now - timedelta(days=4), unit="region-kalmar-lanssjukhuset-med"
    )
    assert (await notice(hospital, episode["id"], "admission-notice")).status_code == 200
    assert (await notice(hospital, episode["id"], "discharge-ready")).status_code == 200
    coordinator = await staff_role(hospital, "kommun-0880-hemtjanst", "coordinator")
    plan = ok(
        await hospital.post(
            "/api/v1/plans",
            json={
                "person_id": person["id"],
                "title": "SIP, Greta",
                "goals": [{"id": "g1", "description": "Hem till lägenheten", "target_date": None}],
                "needs": ["Trygghetslarm"],
                "interventions": [
                    {
                        "id": "i1",
                        "description": "Hemtjänst morgon och kväll",
                        "responsible_unit_id": "kommun-0880-hemtjanst",
                        "frequency": "dagligen",
                    }
                ],
                "others": [{"who": "Dottern", "relation": "dotter", "contribution": "Handlar"}],
                "responsible_principal_id": "kommun-0880",
                "coordinator": {"practitioner_role_id": coordinator["id"]},
                "start_date": now.date().isoformat(),
                "follow_up_dates": [(now.date() + timedelta(days=30)).isoformat()],
                "basis": [{"kind": "other", "reference": "Vårdplan 12"}],
            },
        ),
        201,
    )
    plan = await consent(hospital, plan["id"], ["region-kalmar", "kommun-0880", "kommun-0861"], now)
    plan = ok(
        await hospital.post(
            f"/api/v1/plans/{plan['id']}/consents/{plan['consents'][0]['id']}/withdrawal",
            json={"at": now.isoformat(), "principal_ids": ["kommun-0861"]},
        )
    )
    plan = ok(await hospital.post(f"/api/v1/plans/{plan['id']}/activate", json={}))
    starts = now + timedelta(days=3)
    meeting = ok(
        await hospital.post(
            "/api/v1/meetings",
            json={
                "plan_id": plan["id"],
                "starts_at": starts.isoformat(),
                "reply_by": starts.date().isoformat(),
                "video_link": "https://mote.example/greta",
                "participants": [
                    {"id": "greta", "kind": "person"},
                    {"id": "ht", "kind": "unit", "organization_id": "kommun-0880-hemtjanst"},
                ],
            },
        ),
        201,
    )
    return {
        "person": person,
        "episode": episode,
        "plan": plan,
        "meeting": meeting,
        "coordinator": coordinator,
    }


async def test_metadata_lists_exactly_what_the_router_serves(anonymous: httpx.AsyncClient) -> None:
    statement = fhir(await anonymous.get("/fhir/metadata"))
    assert statement["fhirVersion"] == "4.0.1" and statement["kind"] == "instance"
    [rest] = statement["rest"]
    served = {r["type"]: r for r in rest["resource"]}
    # Subscription is served by its own router (app.fhir.subscriptions), outside RESOURCES.
    assert set(served) == set(RESOURCES) | {"Subscription"}
    assert {i["code"] for i in served["Subscription"]["interaction"]} == {
        "read",
        "search-type",
        "create",
        "delete",
    }
    for name, spec in RESOURCES.items():
        codes = {i["code"] for i in served[name]["interaction"]}
        expected = {"read", "vread", "search-type"}
        expected |= {"create"} if name in writes.CREATORS else set()
        expected |= {"update"} if name in writes.UPDATERS else set()
        expected |= {"history-instance", "history-type"}
        assert codes == expected, name
        assert [p["name"] for p in served[name]["searchParam"]] == [p.name for p in spec.params]
    assert {i["code"] for i in rest["interaction"]} == {"transaction", "batch"}
    assert rest["security"]["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"


async def test_every_resource_reads_back_as_valid_fhir(
    client_for: ClientFor, now: datetime
) -> None:
    ids = await story(client_for, now)
    hospital = await client_for("region-kalmar")
    person, episode, plan, meeting = (ids[k] for k in ("person", "episode", "plan", "meeting"))

    patient = fhir(await hospital.get(f"/fhir/Patient/{person['id']}"))
    assert patient["identifier"][0]["system"] == PERSONNUMMER
    assert patient["meta"]["security"][0]["code"] == "R"
    assert patient["address"] == [{"use": "home", "text": "Storgatan 1"}]

    encounter = fhir(await hospital.get(f"/fhir/Encounter/{episode['id']}"))
    assert encounter["class"]["code"] == "IMP" and encounter["status"] == "in-progress"
    urls = {e["url"] for e in encounter["extension"]}
    assert "https://samverkan.dev/fhir/StructureDefinition/discharge-ready-at" in urls

    careplan = await hospital.get(f"/fhir/CarePlan/{plan['id']}")
    assert careplan.headers["etag"] == f'W/"{plan["version"]}"'
    assert "last-modified" in careplan.headers
    resource = fhir(careplan)
    assert (resource["status"], resource["intent"]) == ("active", "plan")
    assert resource["category"][0]["coding"][0]["code"] == "SIP"
    assert "contained" not in resource
    assert resource["goal"] == [{"reference": f"Goal/{plan['id']}.g1"}]
    assert resource["careTeam"] == [{"reference": f"CareTeam/{plan['id']}"}]
    goal = fhir(await hospital.get(f"/fhir/Goal/{plan['id']}.g1"))
    assert goal["description"]["text"] == "Hem till lägenheten"
    assert goal["lifecycleStatus"] == "active"
    assert goal["meta"]["versionId"] == str(plan["version"])
    # The coordinator is a role of the staff register, named with the practitioner's name.
    registered = ids["coordinator"]
    assert plan["coordinator"]["name"] == "Sara Lindgren"
    team = fhir(await hospital.get(f"/fhir/CareTeam/{plan['id']}"))["participant"]
    assert team[0]["member"] == {
        "reference": f"PractitionerRole/{registered['id']}",
        "display": "Sara Lindgren",
    }
    # ctm-1: a PractitionerRole acts on behalf of no one; its unit is a member of the team.
    assert "onBehalfOf" not in team[0]
    assert team[1]["role"][0]["coding"][0]["code"] == "coordinator-unit"
    assert team[1]["member"]["reference"] == "Organization/kommun-0880-hemtjanst"
    role = fhir(await hospital.get(f"/fhir/PractitionerRole/{registered['id']}"))
    assert role["practitioner"]["reference"] == f"Practitioner/{registered['practitioner_id']}"
    assert role["code"][0]["coding"][0]["code"] == "coordinator"
    coordinator = fhir(await hospital.get(f"/fhir/Practitioner/{registered['practitioner_id']}"))
    assert coordinator["name"][0]["text"] == "Sara Lindgren"
    assert coordinator["identifier"][0]["system"] == "urn:oid:1.2.752.29.4.19"
    assert resource["activity"][0]["detail"]["performer"][0]["reference"] == (
        "Organization/kommun-0880-hemtjanst"
    )
    # A revision is a version of the same plan, not a plan that replaces another.
    assert "replaces" not in resource

    first = fhir(await hospital.get(f"/fhir/CarePlan/{plan['id']}/_history/1"))
    assert first["meta"]["versionId"] == "1" and "replaces" not in first
    history = fhir(await hospital.get(f"/fhir/CarePlan/{plan['id']}/_history"))
    assert history["type"] == "history"
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == [
        str(v) for v in range(plan["version"], 0, -1)
    ]
    assert history["entry"][-1]["request"]["method"] == "POST"
    patient_history = fhir(await hospital.get(f"/fhir/Patient/{person['id']}/_history"))
    assert [e["resource"]["id"] for e in patient_history["entry"]] == [person["id"]]

    consent = fhir(await hospital.get(f"/fhir/Consent/{plan['id']}.0"))
    assert consent["status"] == "active"
    [deny] = consent["provision"]["provision"]
    assert deny["type"] == "deny"
    assert deny["actor"][0]["reference"]["reference"] == "Organization/kommun-0861"

    appointment = fhir(await hospital.get(f"/fhir/Appointment/{meeting['id']}"))
    assert appointment["status"] == "booked" and "end" in appointment
    assert {p["status"] for p in appointment["participant"]} == {"needs-action"}
    # R4 does not let a participant's actor reference an Organization: a unit is named logically.
    [unit] = [p["actor"] for p in appointment["participant"] if p["id"] == "ht"]
    assert unit["identifier"]["value"] == "kommun-0880-hemtjanst" and "reference" not in unit

    organization = fhir(await hospital.get("/fhir/Organization/kommun-0880-hemtjanst"))
    assert organization["partOf"]["reference"] == "Organization/kommun-0880"


async def test_searches_find_what_the_caller_may_see(client_for: ClientFor, now: datetime) -> None:
    ids = await story(client_for, now)
    municipality = await client_for("kommun-0880")
    person_id = ids["person"]["id"]
    plans = fhir(
        await municipality.get(
            "/fhir/CarePlan", params={"patient": f"Patient/{person_id}", "status": "active"}
        )
    )
    assert plans["type"] == "searchset"
    assert [e["resource"]["id"] for e in plans["entry"]] == [ids["plan"]["id"]]
    assert plans["entry"][0]["fullUrl"].endswith(f"/fhir/CarePlan/{ids['plan']['id']}")
    assert (
        fhir(
            await municipality.get(
                "/fhir/CarePlan", params={"patient": person_id, "status": "draft"}
            )
        ).get("entry", [])
        == []
    )
    encounters = fhir(
        await municipality.get(
            "/fhir/Encounter", params={"subject": f"Patient/{person_id}", "status": "in-progress"}
        )
    )
    assert [e["resource"]["id"] for e in encounters["entry"]] == [ids["episode"]["id"]]
    appointments = fhir(await municipality.get("/fhir/Appointment", params={"patient": person_id}))
    assert len(appointments["entry"]) == 1
    consents = fhir(await municipality.get("/fhir/Consent", params={"patient": person_id}))
    assert [e["resource"]["id"] for e in consents["entry"]] == [f"{ids['plan']['id']}.0"]
    # The neighbouring municipality, whose sharing was withdrawn, finds nothing.
    withdrawn = await client_for("kommun-0861")
    assert (
        fhir(await withdrawn.get("/fhir/CarePlan", params={"patient": person_id})).get("entry", [])
        == []
    )
    assert (await withdrawn.get(f"/fhir/CarePlan/{ids['plan']['id']}")).status_code == 404


async def test_search_pages_never_repeat_or_skip(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    listed = fhir(
        await hospital.get("/fhir/Organization", params={"partof": "region-kalmar", "_count": "2"})
    )
    seen: list[str] = [e["resource"]["id"] for e in listed["entry"]]
    while next_link := next((x["url"] for x in listed["link"] if x["relation"] == "next"), None):
        listed = fhir(await hospital.get(next_link))
        seen += [e["resource"]["id"] for e in listed["entry"]]
    everything = fhir(
        await hospital.get(
            "/fhir/Organization", params={"partof": "region-kalmar", "_count": "200"}
        )
    )
    assert seen == [e["resource"]["id"] for e in everything["entry"]]
    assert len(seen) == len(set(seen)) >= 5


@pytest.mark.parametrize(
    ("method", "path", "params", "status", "expression"),
    [
        ("GET", "/fhir/Observation", {}, 404, None),
        ("GET", "/fhir/CarePlan", {"colour": "blue"}, 422, "colour"),
        ("GET", "/fhir/CarePlan", {"status": "bogus"}, 422, "status"),
        ("GET", "/fhir/CarePlan", {"patient": "Encounter/1"}, 422, "patient"),
        ("GET", "/fhir/CarePlan", {"_count": "-1"}, 422, "_count"),
        ("GET", "/fhir/Patient/does-not-exist", {}, 404, None),
        ("DELETE", "/fhir/Patient/x", {}, 405, None),
    ],
)
async def test_errors_are_operation_outcomes(
    client_for: ClientFor,
    method: str,
    path: str,
    params: dict[str, str],
    status: int,
    expression: str | None,
) -> None:
    hospital = await client_for("region-kalmar")
    outcome = fhir(await hospital.request(method, path, params=params), status)
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["severity"] == "error" and issue["diagnostics"]
    if expression is not None:  # a search parameter is no FHIRPath: it is named in details
        assert issue["details"]["text"] == expression and "expression" not in issue


async def test_fhir_needs_a_token_and_the_scope(client_for: ClientFor) -> None:
    anonymous = await client_for(None)
    refused = fhir(await anonymous.get("/fhir/Patient"), 401)
    assert refused["issue"][0]["code"] == "login"
    narrow = await client_for("region-kalmar", scopes="system/Patient.rs")
    assert fhir(await narrow.get("/fhir/Patient"))["type"] == "searchset"
    forbidden = fhir(await narrow.get("/fhir/CarePlan"), 403)
    assert "system/CarePlan.s" in forbidden["issue"][0]["diagnostics"]


def test_the_schema_check_catches_a_broken_resource() -> None:
    if not fhir_schema.schema_path().exists():
        pytest.skip("the FHIR JSON schema is fetched by `make test`")
    broken = {"resourceType": "CarePlan", "status": "active", "intent": "plan", "colour": "x"}
    found = " ".join(fhir_schema.problems(broken))
    assert "'subject' is a required property" in found and "colour" in found
    fixed = {**broken, "subject": {"reference": "Patient/1"}}
    del fixed["colour"]
    assert fhir_schema.problems(fixed) == []
    assert fhir_schema.problems({**fixed, "status": 7}) != []


async def test_the_access_log_reads_as_audit_events(client_for: ClientFor, now: datetime) -> None:
    ids = await story(client_for, now)
    hospital = await client_for("region-kalmar")
    person_id = ids["person"]["id"]
    since = datetime.now(UTC).isoformat()
    assert (await hospital.get(f"/fhir/Patient/{person_id}")).status_code == 200
    events = fhir(
        await hospital.get("/fhir/AuditEvent", params={"patient": person_id, "date": f"ge{since}"})
    )
    reads = [
        e["resource"]
        for e in events["entry"]
        if e["resource"]["action"] == "R"
        and e["resource"]["entity"][1]["what"].get("reference") == f"Patient/{person_id}"
    ]
    assert len(reads) == 1
    event = reads[0]
    assert event["outcome"] == "0" and event["purposeOfEvent"][0]["coding"][0]["code"] == "TREAT"
    assert event["agent"][1]["who"]["reference"] == "Organization/region-kalmar"
    one = fhir(await hospital.get(f"/fhir/AuditEvent/{event['id']}"))
    assert one["id"] == event["id"]
    stranger = await client_for("kommun-2580")
    assert (await stranger.get(f"/fhir/AuditEvent/{event['id']}")).status_code == 404
    other = fhir(
        await hospital.get("/fhir/AuditEvent", params={"agent": "Organization/kommun-2580"}), 403
    )
    assert other["issue"][0]["details"]["text"] == "organization_id"


async def test_the_services_code_systems_and_extensions_are_served(client_for: ClientFor) -> None:
    http = await client_for("region-kalmar", scopes="system/*.rs")
    events = fhir(await http.get("/fhir/CodeSystem/message-event"))
    assert [c["code"] for c in events["concept"]] == [e.value for e in MessageEvent]
    for name in conformance.EXTENSIONS:
        definition = fhir(await http.get(f"/fhir/StructureDefinition/{name}"))
        assert definition["url"] == f"https://samverkan.dev/fhir/StructureDefinition/{name}"
    by_url = fhir(
        await http.get(
            "/fhir/StructureDefinition",
            params={"url": "https://samverkan.dev/fhir/StructureDefinition/reply-by"},
        )
    )
    assert [e["resource"]["id"] for e in by_url["entry"]] == ["reply-by"]
    paged = fhir(await http.get("/fhir/CodeSystem", params={"_count": "2"}))
    assert len(paged["entry"]) == 2 and any(x["relation"] == "next" for x in paged["link"])


def test_every_canonical_the_code_writes_is_defined() -> None:
    """Extensions and code systems named in app/fhir are served by the conformance module."""
    source = "\n".join(
        p.read_text(encoding="utf-8") for p in Path(fhir_package.__file__).parent.rglob("*.py")
    )
    extensions = set(re.findall(r'extension_url\("([a-z-]+)"\)', source)) | set(
        re.findall(r'canonical\("StructureDefinition", "([a-z-]+)"\)', source)
    )
    systems = set(re.findall(r'canonical\("CodeSystem", "([a-z-]+)"\)', source))
    assert extensions and extensions <= set(conformance.EXTENSIONS)
    assert systems and systems <= set(conformance.CODE_SYSTEMS)


def test_the_fhirjs_check_catches_a_broken_resource() -> None:
    if not fhir_node.available():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Node or the npm fhir package is missing; `make test` installs them")
        pytest.skip("the npm fhir package is installed by `make test`")
    broken = {"resourceType": "Patient", "id": "x", "gender": "bogus", "colour": "blue"}
    found = " ".join(fhir_node.problems([broken]))
    assert "Patient.gender" in found and "Patient.colour" in found
    versioned = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/1"},
        "replaces": [{"reference": "CarePlan/1/_history/2"}],
    }
    assert fhir_node.problems([versioned]) == []
    assert fhir_node.problems([{**versioned, "status": "bogus"}]) != []


def test_the_medplum_check_catches_a_broken_resource() -> None:
    if not fhir_medplum.available():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Node or the @medplum packages are missing; `make test` installs them")
        pytest.skip("the @medplum packages are installed by `make test`")
    team = {
        "resourceType": "CareTeam",
        "id": "t",
        "participant": [{"member": {"reference": "PractitionerRole/r"}}],
    }
    assert fhir_medplum.problems([team]) == []
    # ctm-1: only a Practitioner member may act on behalf of an organization.
    acting = {
        **team,
        "participant": [{**team["participant"][0], "onBehalfOf": {"reference": "Organization/o"}}],
    }
    assert "ctm-1" in " ".join(fhir_medplum.problems([acting]))
    found = " ".join(fhir_medplum.problems([{**team, "colour": "blue", "name": [{}]}]))
    assert "CareTeam.colour" in found and "CareTeam.name" in found
    # The process stays up between calls and answers each resource in turn.
    assert [bool(fhir_medplum.problems([r])) for r in (team, acting, team)] == [False, True, False]


def test_a_repeated_full_url_is_reported_and_not_excused() -> None:
    """bdl-7: an answer naming one resource version twice is a finding (the service refuses a
    transaction that would give one), and nothing excuses it."""
    if not fhir_medplum.available():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Node or the @medplum packages are missing; `make test` installs them")
        pytest.skip("the @medplum packages are installed by `make test`")
    patient = {"resourceType": "Patient", "id": "p", "meta": {"versionId": "1"}}
    entry = {"fullUrl": "https://x.example/fhir/Patient/p", "resource": patient}
    answered = [
        {**entry, "response": {"status": "201 Created"}},
        {**entry, "response": {"status": "200 OK"}},
    ]
    for kind, entries in (("transaction-response", answered), ("searchset", [entry, entry])):
        answer = {"resourceType": "Bundle", "type": kind, "entry": entries}
        [problem] = fhir_medplum.problems([answer])
        assert "bdl-7" in problem and fhir_medplum.excuse(answer, problem) is None


async def test_count_sort_and_revinclude(client_for: ClientFor, now: datetime) -> None:
    ids = await story(client_for, now)
    hospital = await client_for("region-kalmar")
    person_id = ids["person"]["id"]
    counted = fhir(
        await hospital.get(
            "/fhir/Organization", params={"partof": "region-kalmar", "_summary": "count"}
        )
    )
    listed = fhir(
        await hospital.get(
            "/fhir/Organization", params={"partof": "region-kalmar", "_count": "200"}
        )
    )
    assert counted["total"] == len(listed["entry"]) >= 5 and "entry" not in counted
    sorted_ok = await hospital.get("/fhir/Organization", params={"_sort": "_id"})
    assert sorted_ok.status_code == 200
    refused = fhir(await hospital.get("/fhir/Organization", params={"_sort": "name"}), 422)
    assert refused["issue"][0]["details"]["text"] == "_sort"
    with_plans = fhir(
        await hospital.get(
            "/fhir/Patient", params={"_id": person_id, "_revinclude": "CarePlan:patient"}
        )
    )
    modes = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in with_plans["entry"]]
    assert modes == [("Patient", "match"), ("CarePlan", "include")]
    wrong = fhir(
        await hospital.get("/fhir/CarePlan", params={"_revinclude": "Encounter:patient"}), 422
    )
    assert wrong["issue"][0]["details"]["text"] == "_revinclude"


async def test_include_brings_the_plans_goals_care_team_and_coordinator(
    client_for: ClientFor,
    now: datetime,
) -> None:
    ids = await story(client_for, now)
    municipality = await client_for("kommun-0880")
    plan_id, person_id = ids["plan"]["id"], ids["person"]["id"]
    found = fhir(
        await municipality.get(
            "/fhir/CarePlan",
            params=[
                ("patient", person_id),
                ("_include", "CarePlan:goal"),
                ("_include", "CarePlan:care-team"),
            ],
        )
    )
    entries = [
        (e["resource"]["resourceType"], e["resource"]["id"], e["search"]["mode"])
        for e in found["entry"]
    ]
    assert entries == [
        ("CarePlan", plan_id, "match"),
        ("Goal", f"{plan_id}.g1", "include"),
        ("CareTeam", plan_id, "include"),
    ]
    teams = fhir(
        await municipality.get(
            "/fhir/CareTeam",
            params={
                "participant": "Organization/kommun-0880-hemtjanst",
                "_include": "CareTeam:participant",
            },
        )
    )
    kinds = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in teams["entry"]]
    assert kinds[:2] == [("CareTeam", "match"), ("PractitionerRole", "include")]
    # Every member is included: the coordinator's role and the organizations taking part.
    members = {m["member"].get("reference") for m in teams["entry"][0]["resource"]["participant"]}
    included = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in teams["entry"][1:]
    }
    assert included == members - {None} and "Organization/kommun-0880" in included
    nobody = fhir(await municipality.get("/fhir/CareTeam", params={"participant": "kommun-2580"}))
    assert nobody.get("entry", []) == []
    unknown = fhir(
        await municipality.get("/fhir/CarePlan", params={"_include": "CarePlan:author"}), 422
    )
    assert unknown["issue"][0]["details"]["text"] == "_include"
    # The neighbour whose sharing was withdrawn gets neither the plan nor its parts.
    withdrawn = await client_for("kommun-0861")
    for path in (f"Goal/{plan_id}.g1", f"CareTeam/{plan_id}", f"Consent/{plan_id}.0"):
        assert (await withdrawn.get(f"/fhir/{path}")).status_code == 404, path
    assert (
        fhir(await withdrawn.get("/fhir/Goal", params={"patient": person_id})).get("entry", [])
        == []
    )


async def test_date_and_last_updated_searches(client_for: ClientFor, now: datetime) -> None:
    ids = await story(client_for, now)
    hospital = await client_for("region-kalmar")
    person_id = ids["person"]["id"]
    today = now.date()

    def found(body: dict[str, Any]) -> list[str]:
        return [e["resource"]["id"] for e in body.get("entry", [])]

    async def plans(*dates: str) -> list[str]:
        params = [("patient", person_id)] + [("date", d) for d in dates]
        return found(fhir(await hospital.get("/fhir/CarePlan", params=params)))

    plan_id = ids["plan"]["id"]
    # The plan runs from today with no planned end.
    assert await plans(f"ge{today}") == [plan_id]
    assert await plans(f"le{today}") == [plan_id]
    assert await plans(f"lt{today}") == []
    assert await plans(f"ge{today - timedelta(days=3)}", f"le{today + timedelta(days=3)}") == [
        plan_id
    ]
    # The stay began four days ago and goes on.
    stays = fhir(
        await hospital.get(
            "/fhir/Encounter",
            params={"patient": person_id, "date": f"lt{(now - timedelta(days=5)).date()}"},
        )
    )
    assert found(stays) == []
    stays = fhir(
        await hospital.get(
            "/fhir/Encounter", params={"patient": person_id, "date": f"ge{now.year}"}
        )
    )
    assert found(stays) == [ids["episode"]["id"]]
    meetings = fhir(
        await hospital.get(
            "/fhir/Appointment",
            params={"patient": person_id, "date": (now + timedelta(days=3)).date().isoformat()},
        )
    )
    assert found(meetings) == [ids["meeting"]["id"]]
    recent = fhir(
        await hospital.get(
            "/fhir/CarePlan",
            params={
                "patient": person_id,
                "_lastUpdated": f"ge{(now - timedelta(minutes=5)).isoformat()}",
            },
        )
    )
    assert found(recent) == [plan_id]
    later = fhir(
        await hospital.get(
            "/fhir/CarePlan",
            params={
                "patient": person_id,
                "_lastUpdated": f"gt{(now + timedelta(hours=1)).isoformat()}",
            },
        )
    )
    assert found(later) == []
    bad = fhir(
        await hospital.get("/fhir/CarePlan", params={"patient": person_id, "date": "soon"}), 422
    )
    assert bad["issue"][0]["details"]["text"] == "date"
    once = fhir(
        await hospital.get("/fhir/Patient", params=[("_id", person_id), ("_id", person_id)]),
        422,
    )
    assert once["issue"][0]["details"]["text"] == "_id"


async def test_type_history_pages_every_version_newest_first(
    client_for: ClientFor, now: datetime
) -> None:
    ids = await story(client_for, now)
    hospital = await client_for("region-kalmar")
    plan_id = ids["plan"]["id"]
    whole = fhir(await hospital.get("/fhir/CarePlan/_history", params={"_count": "500"}))
    assert whole["type"] == "history"
    mine = [
        int(e["resource"]["meta"]["versionId"])
        for e in whole["entry"]
        if e["resource"]["id"] == plan_id
    ]
    assert mine == list(range(ids["plan"]["version"], 0, -1))
    stamps = [e["resource"]["meta"]["lastUpdated"] for e in whole["entry"]]
    assert stamps == sorted(stamps, reverse=True)
    # A first version was a create, every later one an update.
    for entry in whole["entry"]:
        first = entry["resource"]["meta"]["versionId"] == "1"
        assert entry["request"]["method"] == ("POST" if first else "PUT"), entry["request"]
    # Paged two at a time, the same versions come in the same order, none twice.
    paged: list[tuple[str, str]] = []
    page = fhir(await hospital.get("/fhir/CarePlan/_history", params={"_count": "2"}))
    while True:
        paged += [(e["resource"]["id"], e["resource"]["meta"]["versionId"]) for e in page["entry"]]
        following = next((x["url"] for x in page["link"] if x["relation"] == "next"), None)
        if following is None:
            break
        page = fhir(await hospital.get(following))
    assert paged == [
        (e["resource"]["id"], e["resource"]["meta"]["versionId"]) for e in whole["entry"]
    ]
    future = (now + timedelta(days=1)).isoformat()
    assert (
        fhir(await hospital.get("/fhir/CarePlan/_history", params={"_since": future})).get(
            "entry", []
        )
        == []
    )
    refused = fhir(await hospital.get("/fhir/CarePlan/_history", params={"status": "x"}), 422)
    assert refused["issue"][0]["details"]["text"] == "status"
    # Another organization's history holds none of this plan.
    stranger = await client_for("kommun-2580")
    theirs = fhir(await stranger.get("/fhir/CarePlan/_history", params={"_count": "500"}))
    assert all(e["resource"]["id"] != plan_id for e in theirs.get("entry", []))


async def test_replies_read_as_appointment_responses(client_for: ClientFor, now: datetime) -> None:
    ids = await story(client_for, now)
    hospital = await client_for("region-kalmar")
    home_care = await client_for("kommun-0880")
    meeting_id = ids["meeting"]["id"]
    assert (
        fhir(
            await hospital.get("/fhir/AppointmentResponse", params={"appointment": meeting_id})
        ).get("entry", [])
        == []
    )
    proposed = now + timedelta(days=5)
    replied = await home_care.post(
        f"/api/v1/meetings/{meeting_id}/replies",
        json={
            "participant_id": "ht",
            "reply": "proposed-new-time",
            "proposed_start": proposed.isoformat(),
        },
    )
    assert replied.status_code == 200, replied.text
    found = fhir(
        await hospital.get(
            "/fhir/AppointmentResponse",
            params={
                "appointment": f"Appointment/{meeting_id}",
                "_include": ("AppointmentResponse:appointment"),
            },
        )
    )
    [response, included] = [e["resource"] for e in found["entry"]]
    assert response["id"] == f"{meeting_id}.ht"
    assert response["participantStatus"] == "tentative"
    assert response["start"] == proposed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert included["resourceType"] == "Appointment"
    read = fhir(await hospital.get(f"/fhir/AppointmentResponse/{meeting_id}.ht"))
    assert read == response
    assert (await hospital.get(f"/fhir/AppointmentResponse/{meeting_id}.greta")).status_code == 404


async def test_a_careplan_read_and_sent_back_keeps_its_goals_and_team(
    client_for: ClientFor,
    now: datetime,
) -> None:
    ids = await story(client_for, now)
    hospital = await client_for("region-kalmar")
    plan_id = ids["plan"]["id"]
    read = fhir(await hospital.get(f"/fhir/CarePlan/{plan_id}"))
    read["title"] = "SIP, Greta (reviderad)"
    updated = fhir(
        await hospital.put(f"/fhir/CarePlan/{plan_id}", json=read, headers={"Content-Type": FHIR})
    )
    assert updated["meta"]["versionId"] == str(int(read["meta"]["versionId"]) + 1)
    assert updated["goal"] == read["goal"] and updated["careTeam"] == read["careTeam"]
    team = fhir(await hospital.get(f"/fhir/CareTeam/{plan_id}"))
    assert team["participant"][0]["member"]["display"] == "Sara Lindgren"
    stale = fhir(
        await hospital.put(
            f"/fhir/CarePlan/{plan_id}",
            json={**updated, "goal": [{"reference": "Goal/elsewhere.g1"}]},
            headers={"Content-Type": FHIR},
        ),
        422,
    )
    assert stale["issue"][0]["expression"] == ["CarePlan.goal[0]"]
