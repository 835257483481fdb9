"""The access log: every access to a person's data is logged, append-only, and queryable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ClientFor
from tests.database import connected
from tests.factories import admit, create_person, notice

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


async def entries_of(engine: AsyncEngine, request_id: str) -> list[dict[str, object]]:
    async with connected(engine) as conn:
        rows = await conn.execute(
            text("SELECT * FROM access_log WHERE request_id = :rid ORDER BY id"),
            {"rid": request_id},
        )
        return [dict(row._mapping) for row in rows]


EXTRACT = "system/*.cruds samverkan/log-extract"


async def test_a_read_is_logged_with_user_purpose_and_request(
    client: httpx.AsyncClient, client_for: ClientFor, engine: AsyncEngine
) -> None:
    person = await create_person(client)
    await admit(client, person["id"], T0)
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    read = await client.get(
        f"/api/v1/persons/{person['id']}",
        headers={
            "X-Request-ID": request_id,
            "X-Samverkan-User": "SE2321000032-dr.nilsson",
            "X-Samverkan-Purpose-Of-Use": "TREAT",
        },
    )
    assert read.status_code == 200
    [entry] = await entries_of(engine, request_id)
    assert entry["organization_id"] == "region-norrbotten"
    assert entry["client_id"].startswith("test-region-norrbotten-")
    assert (entry["action"], entry["resource_type"], entry["resource_id"]) == (
        "read",
        "Patient",
        person["id"],
    )
    assert (entry["person_id"], entry["outcome"]) == (person["id"], "success")
    assert (entry["user_id"], entry["purpose"]) == ("SE2321000032-dr.nilsson", "TREAT")
    assert (entry["principal_id"], entry["unit_id"]) == ("region-norrbotten", None)

    # The person's municipality, a party to the episode, reads its own entries about the
    # person; the complete extract, every organization's, needs the log-extract scope.
    municipality = await client_for("kommun-2580")
    assert (await municipality.get(f"/api/v1/persons/{person['id']}")).status_code == 200
    own = (await municipality.get("/api/v1/access-log", params={"person_id": person["id"]})).json()[
        "items"
    ]
    assert own and {e["principal_id"] for e in own} == {"kommun-2580"}
    extract = await client_for("kommun-2580", scopes=EXTRACT)
    seen = (await extract.get("/api/v1/access-log", params={"person_id": person["id"]})).json()[
        "items"
    ]
    by_user = [e for e in seen if e["user_id"] == "SE2321000032-dr.nilsson"]
    assert [(e["organization_id"], e["action"], e["request_id"]) for e in by_user] == [
        ("region-norrbotten", "read", request_id)
    ]
    assert {e["action"] for e in seen} >= {"create", "read"}


async def test_a_write_and_its_entry_commit_together(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    person = await create_person(client)
    request_id = uuid.uuid4().hex
    response = await client.post(
        "/api/v1/episodes",
        headers={"X-Request-ID": request_id},
        json={
            "person_id": person["id"],
            "hospital_unit_id": "region-norrbotten-sunderby-med",
            "admitted_at": T0.isoformat(),
            "admission_type": "acute",
        },
    )
    assert response.status_code == 201
    [entry] = await entries_of(engine, request_id)
    assert (entry["action"], entry["resource_type"], entry["resource_id"]) == (
        "create",
        "Encounter",
        response.json()["id"],
    )


async def test_a_failed_write_is_logged_as_failed_and_writes_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    person = await create_person(client)
    episode = await admit(client, person["id"], T0)
    request_id = uuid.uuid4().hex
    refused = await client.post(
        f"/api/v1/episodes/{episode['id']}/withdrawal",
        headers={"X-Request-ID": request_id},
        json={"at": (T0 + timedelta(hours=1)).isoformat()},
    )
    assert refused.status_code == 409
    [entry] = await entries_of(engine, request_id)
    assert (entry["action"], entry["outcome"], entry["person_id"]) == (
        "update",
        "failed",
        person["id"],
    )
    read = (await client.get(f"/api/v1/episodes/{episode['id']}")).json()
    assert read["events"] == []


async def test_reading_the_log_needs_the_auditor_scope_and_stays_in_ones_own_organization(
    client_for: ClientFor, client: httpx.AsyncClient
) -> None:
    person = await create_person(client)
    no_audit = await client_for("region-norrbotten", scopes="system/Patient.rs")
    refused = await no_audit.get("/api/v1/access-log", params={"person_id": person["id"]})
    assert refused.status_code == 403 and "system/AuditEvent.s" in refused.json()["detail"]
    other = await client.get("/api/v1/access-log", params={"organization_id": "kommun-0880"})
    assert other.status_code == 403 and other.json()["errors"][0]["field"] == "organization_id"
    own = (await client.get("/api/v1/access-log", params={"limit": 200})).json()["items"]
    assert own and {e["principal_id"] for e in own} == {"region-norrbotten"}
    # An organization that is no party to any record about the person is told it does not
    # exist, with the extract scope or without.
    for scopes in ("system/*.cruds", EXTRACT):
        stranger = await client_for("kommun-0880", scopes=scopes)
        unrelated = await stranger.get("/api/v1/access-log", params={"person_id": person["id"]})
        assert unrelated.status_code == 404


async def test_the_log_is_append_only_in_the_database(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await create_person(client)
    async with connected(engine) as conn:
        newest = (await conn.execute(text("SELECT max(id) FROM access_log"))).scalar_one()
    for statement in (
        "UPDATE access_log SET outcome = 'success' WHERE id = :id",
        "UPDATE access_log SET person_id = NULL WHERE id = :id",
        "DELETE FROM access_log WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with connected(engine) as conn:
                await conn.execute(text(statement), {"id": newest})
    async with connected(engine) as conn:
        still = (
            await conn.execute(
                text("SELECT count(*) FROM access_log WHERE id = :id"), {"id": newest}
            )
        ).scalar_one()
    assert still == 1
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"):
            async with connected(engine) as conn:
                await conn.execute(text("TRUNCATE access_log"))


async def test_bad_correlation_headers_are_refused_before_anything_is_read(
    client: httpx.AsyncClient,
) -> None:
    person = await create_person(client)
    too_long = await client.get(
        f"/api/v1/persons/{person['id']}", headers={"X-Request-ID": "x" * 65}
    )
    assert too_long.status_code == 400 and "X-Request-ID" in too_long.json()["detail"]
    purpose = await client.get(
        f"/api/v1/persons/{person['id']}", headers={"X-Samverkan-Purpose-Of-Use": "why not"}
    )
    assert purpose.status_code == 400 and "Purpose" in purpose.json()["detail"]


async def test_discharge_notices_are_logged_as_updates(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    person = await create_person(client)
    episode = await admit(client, person["id"], T0)
    response = await notice(client, episode["id"], "admission-notice", T0 + timedelta(hours=1))
    assert response.status_code == 200
    [entry] = await entries_of(engine, response.request.headers["X-Request-ID"])
    assert (entry["action"], entry["resource_id"], entry["outcome"]) == (
        "update",
        episode["id"],
        "success",
    )
