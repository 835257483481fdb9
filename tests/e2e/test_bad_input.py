"""Bad input gets a clear 4xx naming the problem, and nothing is written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.identifiers import PERSONNUMMER
from tests.database import connected
from tests.factories import admit, create_person, notice, personnummer

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
COUNTED = ("organizations", "persons", "episodes", "episode_events", "idempotency_keys")


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """How many rows each table holds."""
    async with connected(engine) as conn:
        return {
            table: (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in COUNTED
        }


async def assert_nothing_written(
    engine: AsyncEngine,
    action: Callable[[], Awaitable[httpx.Response]],
    status: int,
    needle: str,
    field: str | None = None,
) -> httpx.Response:
    before = await row_counts(engine)
    response = await action()
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert needle in body["detail"], body
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    assert await row_counts(engine) == before
    return response


async def assert_admission_refused(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    unit: str,
    admitted_at: str,
    needle: str,
    field: str,
) -> None:
    """An acute admission of a new person to ``unit`` at ``admitted_at`` is a 422 naming
    ``needle`` and ``field``, and writes nothing."""
    person = await create_person(client)
    await assert_nothing_written(
        engine,
        lambda: client.post(
            "/api/v1/episodes",
            json={
                "person_id": person["id"],
                "hospital_unit_id": unit,
                "admitted_at": admitted_at,
                "admission_type": "acute",
            },
        ),
        422,
        needle,
        field=field,
    )


def bad_check_digit() -> str:
    good = personnummer()
    return good[:-1] + str((int(good[-1]) + 1) % 10)


async def test_invalid_check_digit(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    value = bad_check_digit()
    await assert_nothing_written(
        engine,
        lambda: client.post(
            "/api/v1/persons",
            json={
                "identifier": {"system": PERSONNUMMER, "value": value},
                "given_name": "A",
                "family_name": "B",
                "residence_municipality_id": "kommun-2580",
            },
        ),
        422,
        "check digit",
        field="identifier.value",
    )


async def test_unknown_organization(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    await assert_nothing_written(
        engine,
        lambda: client.post(
            "/api/v1/persons",
            json={
                "identifier": {"system": PERSONNUMMER, "value": personnummer()},
                "given_name": "A",
                "family_name": "B",
                "residence_municipality_id": "kommun-9999",
            },
        ),
        422,
        "unknown organization kommun-9999",
        field="residence_municipality_id",
    )


async def test_unknown_organization_in_admission(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await assert_admission_refused(
        client,
        engine,
        "no-such-ward",
        T0.isoformat(),
        "unknown organization no-such-ward",
        "hospital_unit_id",
    )


async def test_discharge_ready_for_episode_not_admitted(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    person = await create_person(client)
    episode = await admit(client, person["id"], T0)
    await notice(client, episode["id"], "discharge", T0 + timedelta(hours=3))
    await assert_nothing_written(
        engine,
        lambda: notice(client, episode["id"], "discharge-ready", T0 + timedelta(hours=4)),
        409,
        "is discharged",
    )


async def test_discharge_ready_for_unknown_episode(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await assert_nothing_written(
        engine,
        lambda: notice(client, "00000000-0000-0000-0000-000000000000", "discharge-ready"),
        404,
        "no episode",
    )


async def test_malformed_json(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    await assert_nothing_written(
        engine,
        lambda: client.post(
            "/api/v1/persons",
            content=b'{"identifier": {"system": ',
            headers={"content-type": "application/json"},
        ),
        400,
        "not valid JSON",
    )


async def test_wrong_content_type(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    await assert_nothing_written(
        engine,
        lambda: client.post(
            "/api/v1/persons",
            content=b"identifier=1",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        415,
        "application/json",
    )


async def test_body_over_the_limit(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    big = {
        "identifier": {"system": PERSONNUMMER, "value": personnummer()},
        "given_name": "A",
        "family_name": "B",
        "residence_municipality_id": "kommun-2580",
        "address": "x" * 70_000,
    }
    await assert_nothing_written(
        engine, lambda: client.post("/api/v1/persons", json=big), 413, "exceeds the limit"
    )


async def test_body_over_the_limit_without_content_length(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"given_name": "'
        for _ in range(20):
            yield b"y" * 4096
        yield b'"}'

    await assert_nothing_written(
        engine,
        lambda: client.post(
            "/api/v1/persons", content=chunks(), headers={"content-type": "application/json"}
        ),
        413,
        "exceeds the limit",
    )


async def test_missing_and_mistyped_fields_are_each_named(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    response = await assert_nothing_written(
        engine,
        lambda: client.post(
            "/api/v1/episodes",
            json={"hospital_unit_id": 5, "admitted_at": "yesterday", "admission_type": "urgent"},
        ),
        422,
        "the request is invalid",
    )
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"person_id", "admitted_at", "admission_type", "hospital_unit_id"} <= fields


async def test_timestamp_without_offset_is_refused(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await assert_admission_refused(
        client,
        engine,
        "region-norrbotten-sunderby-med",
        "2026-03-02T08:00:00",
        "UTC offset",
        "admitted_at",
    )


async def test_admission_to_a_non_inpatient_unit_is_refused(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await assert_admission_refused(
        client,
        engine,
        "kommun-2580-hemtjanst",
        T0.isoformat(),
        "not an inpatient unit",
        "hospital_unit_id",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/persons/nope",
        "/api/v1/organizations/nope",
        "/api/v1/episodes/nope",
        "/api/v1/cooperation-areas/nope",
    ],
)
async def test_unknown_ids_are_404_problems(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json()["status"] == 404


async def test_registering_a_known_person_again_returns_that_person(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    person = await create_person(client)
    ten_digit = person["identifier"]["value"][2:8] + "-" + person["identifier"]["value"][8:]
    before = await row_counts(engine)
    again = await client.post(
        "/api/v1/persons",
        json={
            "identifier": {"system": PERSONNUMMER, "value": ten_digit},
            "given_name": "A",
            "family_name": "B",
            "residence_municipality_id": "kommun-2580",
        },
    )
    assert again.status_code == 200, again.text
    assert again.json()["id"] == person["id"]
    assert again.json()["given_name"] == "Test"
    assert again.headers["location"].endswith(f"/api/v1/persons/{person['id']}")
    assert (await row_counts(engine))["persons"] == before["persons"]
