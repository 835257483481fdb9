"""Every repro of issue 14 ("What was found" 1–3, 5) answers 4xx on both engines; a value that
was stored anyway reads back; a refused access with a junk id is still logged; the access log
cannot be rewritten by REPLACE."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.identifiers import PERSONNUMMER
from app.store.tables import UTCDateTime
from tests.conftest import ClientFor
from tests.database import connected
from tests.e2e.test_fhir_messaging import example, post
from tests.factories import admit, create_person, personnummer

FHIR = {"Content-Type": "application/fhir+json"}


def patient(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": PERSONNUMMER, "value": personnummer()}],
        "name": [{"family": "Kant", "given": ["Edda"]}],
        "managingOrganization": {"reference": "Organization/kommun-2580"},
        **extra,
    }


def nested_extension(depth: int) -> dict[str, Any]:
    extension: dict[str, Any] = {"url": "https://example.org/x", "valueString": "x"}
    for _ in range(depth):
        extension = {"url": "https://example.org/x", "extension": [extension]}
    return extension


async def fhir_post(http: httpx.AsyncClient, path: str, body: Any) -> httpx.Response:
    return await http.post(path, content=json.dumps(body), headers=FHIR)


def assert_refused(response: httpx.Response, field: str | None = None) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    if field is None:
        return
    body = response.json()
    if body.get("resourceType") == "OperationOutcome":
        named = [e for issue in body["issue"] for e in issue.get("expression", [])]
        named += [issue["diagnostics"] for issue in body["issue"]]
        named += [issue.get("details", {}).get("text", "") for issue in body["issue"]]
    else:
        named = [e["field"] for e in body.get("errors", [])] + [body["detail"]]
    assert any(field in n for n in named), (field, body)


# --- 2. input that gave 500 -------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "/fhir/Encounter?date=9999-12-31",
        "/fhir/Encounter?date=9999-12",
        "/fhir/Encounter?date=ge9999-12-31",
        "/fhir/Encounter?_lastUpdated=9999-12-31",
        "/fhir/Encounter?_lastUpdated=le9999-12-31T23:59:59Z",
        "/fhir/Encounter/_history?_since=9999-12-31",
        "/fhir/Appointment?date=9999",
        "/fhir/AuditEvent?date=ge9999-12-31",
    ],
)
async def test_dates_searched_near_the_end_of_time_are_refused(
    client: httpx.AsyncClient, query: str
) -> None:
    name = query.split("?")[1].split("=")[0]
    assert_refused(await client.get(query), name)


@pytest.mark.parametrize("birth", ["1948", "1948-05"])
async def test_a_partial_birth_date_agreeing_with_the_identifier_is_kept_as_its_day(
    client: httpx.AsyncClient, birth: str
) -> None:
    created = await fhir_post(client, "/fhir/Patient", patient(birthDate=birth))
    assert created.status_code == 201, created.text
    read = await client.get(f"/fhir/Patient/{created.json()['id']}")
    assert read.status_code == 200
    # The personnummer tells the day (factories: 1948-05-17), which falls within the year/month.
    assert read.json()["birthDate"] == "1948-05-17"


@pytest.mark.parametrize("birth", ["1950", "1950-07"])
async def test_a_partial_birth_date_contradicting_the_identifier_is_refused(
    client: httpx.AsyncClient, birth: str
) -> None:
    assert_refused(await fhir_post(client, "/fhir/Patient", patient(birthDate=birth)), "birth")


@pytest.mark.parametrize("element", ["system", "value"])
async def test_a_patient_identifier_with_a_null_element_is_refused(
    client: httpx.AsyncClient, element: str
) -> None:
    body = patient()
    body["identifier"][0][element] = None
    assert_refused(
        await fhir_post(client, "/fhir/Patient", body), f"Patient.identifier[0].{element}"
    )


async def test_partial_period_starts_are_refused_where_a_day_or_instant_is_kept(
    client: httpx.AsyncClient,
) -> None:
    person = await create_person(client)
    encounter = {
        "resourceType": "Encounter",
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": f"Patient/{person['id']}"},
        "period": {"start": "2026"},
        "serviceProvider": {"reference": "Organization/region-norrbotten-sunderby-med"},
    }
    assert_refused(await fhir_post(client, "/fhir/Encounter", encounter), "Encounter.period.start")
    encounter["period"] = {"start": "2026-03"}
    assert_refused(await fhir_post(client, "/fhir/Encounter", encounter), "Encounter.period.start")
    careplan = {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "plan",
        "title": "SIP",
        "subject": {"reference": f"Patient/{person['id']}"},
        "period": {"start": "2026-03"},
    }
    assert_refused(await fhir_post(client, "/fhir/CarePlan", careplan), "CarePlan.period.start")


async def test_a_partial_admission_time_in_a_message_is_refused(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    for partial in ("2026", "2026-03"):
        body = example("admission-notice", personnummer=personnummer(), admitted_at=partial)
        response = await post(hospital, body)
        # A message is answered with a response message carrying the OperationOutcome.
        assert response.status_code in (400, 422) or (
            response.status_code == 200 and "fatal-error" in response.text
        ), response.text
        assert "Encounter.period.start" in response.text


@pytest.mark.parametrize("path", ["/fhir/Patient", "/fhir", "/fhir/$process-message"])
async def test_extensions_nested_150_deep_are_refused_before_parsing(
    client: httpx.AsyncClient, path: str
) -> None:
    body = patient(extension=[nested_extension(150)])
    if path == "/fhir":
        body = {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": body}]}
    response = await fhir_post(client, path, body)
    assert response.status_code == 400, response.text
    assert "deeper than 64" in response.text


async def test_deep_json_on_a_rest_route_is_refused(client: httpx.AsyncClient) -> None:
    raw = '{"identifier": ' + "[" * 3000 + "]" * 3000 + "}"
    response = await client.post(
        "/api/v1/persons", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert "deeper than 64" in response.json()["detail"]


async def test_instants_and_days_outside_the_years_kept_are_refused(
    client: httpx.AsyncClient,
    now: datetime,
) -> None:
    person = await create_person(client)
    admission = {
        "person_id": person["id"],
        "hospital_unit_id": "region-norrbotten-sunderby-med",
        "admitted_at": "0001-01-01T00:00:00Z",
        "admission_type": "acute",
    }
    assert_refused(await client.post("/api/v1/episodes", json=admission), "admitted_at")
    admission["admitted_at"] = now.isoformat()
    admission["expected_discharge_date"] = "9999-12-31"
    assert_refused(await client.post("/api/v1/episodes", json=admission), "expected_discharge")
    episode = await admit(client, person["id"], now - timedelta(days=1))
    meeting = {
        "episode_id": episode["id"],
        "starts_at": "9999-12-31T23:59:59Z",
        "reply_by": now.date().isoformat(),
        "participants": [{"id": "m", "kind": "unit", "organization_id": "kommun-2580"}],
    }
    assert_refused(await client.post("/api/v1/meetings", json=meeting), "starts_at")
    assert (await client.get("/fhir/Appointment")).status_code == 200


async def test_a_naive_since_on_the_access_log_is_refused(client: httpx.AsyncClient) -> None:
    assert_refused(await client.get("/api/v1/access-log?since=2026-03-01"), "since")
    assert_refused(await client.get("/api/v1/access-log?since=2026-03-01T10:00:00"), "since")
    fine = await client.get("/api/v1/access-log", params={"since": "2026-03-01T10:00:00+01:00"})
    assert fine.status_code == 200


@pytest.mark.parametrize("number", ["99999999999999999999", "2147483648", "²"])
async def test_integers_beyond_the_columns_are_refused(
    client: httpx.AsyncClient, number: str
) -> None:
    assert_refused(await client.get(f"/api/v1/access-log?cursor={number}"), "cursor")
    assert (await client.get(f"/fhir/AuditEvent/{number}")).status_code == 404
    acknowledged = await client.post(
        f"/api/v1/inbox/{number}/acknowledgement", json={"outcome": "ok"}
    )
    assert_refused(acknowledged)
    assert_refused(await client.get(f"/fhir/Encounter?_count={number}"))


# --- 3. NUL, and ids longer than their column -------------------------------------------------


async def test_nul_anywhere_is_refused(client: httpx.AsyncClient) -> None:
    assert_refused(await client.get("/api/v1/episodes?person_id=a%00b"), "person_id")
    assert_refused(await client.get("/api/v1/access-log?cursor=1%00"), "cursor")
    assert_refused(await client.get("/fhir/Patient?name=a%00b"), "name")
    assert_refused(
        await client.get("/api/v1/episodes", headers={"X-Samverkan-Purpose-Of-Use": "TR\x00EAT"}),
        "x-samverkan-purpose-of-use",
    )
    person = {
        "identifier": {"system": PERSONNUMMER, "value": personnummer()},
        "given_name": "A\u0000",
        "family_name": "B",
        "residence_municipality_id": "kommun-2580",
    }
    assert_refused(await client.post("/api/v1/persons", json=person), "given_name")
    assert_refused(
        await fhir_post(client, "/fhir/Patient", patient(name=[{"family": "K\u0000"}])),
        "name[0].family",
    )
    # An escaped backslash before "u0000" is text, not NUL.
    person["given_name"] = "A\\u0000"
    person["identifier"] = {"system": PERSONNUMMER, "value": personnummer()}
    assert (await client.post("/api/v1/persons", json=person)).status_code == 201


async def _log_of(engine: AsyncEngine, request_id: str) -> list[Any]:
    async with connected(engine) as conn:
        return list(
            await conn.execute(
                text(
                    "SELECT resource_type, resource_id, outcome FROM access_log "
                    "WHERE request_id = :r"
                ),
                {"r": request_id},
            )
        )


@pytest.mark.parametrize(
    "junk", ["a" * 200, "a\x00b", "ä" * 70, "%00" * 30], ids=["200", "nul", "long-utf8", "nuls"]
)
@pytest.mark.parametrize("edge", ["/api/v1/episodes/", "/fhir/Encounter/"])
async def test_a_refused_access_with_a_junk_id_is_logged(
    client: httpx.AsyncClient, engine: AsyncEngine, junk: str, edge: str
) -> None:
    request_id = uuid.uuid4().hex
    path = edge + junk.replace("\x00", "%00")
    response = await client.get(path, headers={"X-Request-ID": request_id})
    assert 400 <= response.status_code < 500, response.text
    if edge.startswith("/fhir") and len(junk) > 64 and "\x00" not in junk and "%" not in junk:
        # FHIR ids are at most 64 characters: refused as malformed before any lookup.
        return
    [(resource_type, resource_id, outcome)] = await _log_of(engine, request_id)
    assert outcome == "denied" and resource_type
    assert len(resource_id) <= 64 and "\x00" not in resource_id
    if len(junk) > 64 or "\x00" in junk:
        assert resource_id.startswith("sha256:")


# --- 1. stored values that broke reads --------------------------------------------------------


async def _store(
    engine: AsyncEngine, table: str, column: str, row_id: str, value: datetime
) -> None:
    async with connected(engine) as conn:
        await conn.execute(
            text(f"UPDATE {table} SET {column} = :v WHERE id = :id").bindparams(
                bindparam("v", type_=UTCDateTime())
            ),
            {"v": value, "id": row_id},
        )


@pytest.mark.parametrize(
    "value",
    [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)],
    ids=["year-1", "year-9999"],
)
async def test_stored_instants_outside_the_bounds_read_back(
    client: httpx.AsyncClient, engine: AsyncEngine, value: datetime, now: datetime
) -> None:
    person = await create_person(client)
    episode = await admit(client, person["id"], now - timedelta(days=2))
    soon = now + timedelta(days=3)
    meeting = await client.post(
        "/api/v1/meetings",
        json={
            "episode_id": episode["id"],
            "starts_at": soon.isoformat(),
            "reply_by": soon.date().isoformat(),
            "location": "Sunderby sjukhus",
            "participants": [{"id": "m", "kind": "unit", "organization_id": "kommun-2580"}],
        },
    )
    assert meeting.status_code == 201, meeting.text
    meeting_id = meeting.json()["id"]
    # What the edge now refuses, written as an older version of the service accepted it.
    await _store(engine, "episodes", "admitted_at", episode["id"], value)
    await _store(engine, "meetings", "starts_at", meeting_id, value)
    reads = [
        f"/fhir/Encounter/{episode['id']}",
        f"/fhir/Encounter/{episode['id']}/_history",
        f"/fhir/Encounter?patient={person['id']}",
        f"/fhir/Appointment/{meeting_id}",
        f"/fhir/Appointment/{meeting_id}/_history",
        f"/fhir/Appointment?patient={person['id']}",
        "/fhir/Appointment",
        f"/fhir/Patient?_id={person['id']}&_revinclude=Encounter:patient",
        f"/fhir/Patient/{person['id']}",
        f"/api/v1/episodes/{episode['id']}",
        f"/api/v1/meetings/{meeting_id}",
    ]
    for path in reads:
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
    encounter = (await client.get(f"/fhir/Encounter/{episode['id']}")).json()
    assert encounter["period"]["start"].startswith(f"{value.year:04d}-")


# --- 5. the access log cannot be rewritten ----------------------------------------------------


async def test_the_access_log_refuses_replace(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    assert (await client.get("/api/v1/episodes/nothing-here")).status_code == 404
    async with connected(engine) as conn:
        before = (
            await conn.execute(text("SELECT * FROM access_log ORDER BY id DESC LIMIT 1"))
        ).one()
    columns = ", ".join(before._fields)
    values = ", ".join(f":{name}" for name in before._fields)
    rewritten = {**before._asdict(), "resource_id": "rewritten", "outcome": "success"}
    if engine.dialect.name == "sqlite":
        statements = [
            f"REPLACE INTO access_log ({columns}) VALUES ({values})",
            f"INSERT OR REPLACE INTO access_log ({columns}) VALUES ({values})",
        ]
    else:
        statements = [
            f"INSERT INTO access_log ({columns}) VALUES ({values}) "
            "ON CONFLICT (id) DO UPDATE SET resource_id = EXCLUDED.resource_id"
        ]
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            async with connected(engine) as conn:
                await conn.execute(text(statement), rewritten)
    async with connected(engine) as conn:
        after = (
            await conn.execute(text("SELECT * FROM access_log WHERE id = :id"), {"id": before.id})
        ).one()
    assert after == before
