"""Concurrent writes to one record, over real HTTP to a `samverkan serve` process.

A write that names no version (no ``If-Match``, no ``meta.versionId``) is queued behind the
writes to the same record that are under way and then applied: none is refused for a change
made meanwhile. A write that names a version it no longer is gets 412, as before.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings
from tests.conftest import fetch_token, register_test_client
from tests.e2e.test_fhir_messaging import FHIR, example
from tests.e2e.test_http_server import Server
from tests.e2e.test_http_server import server as server  # the `samverkan serve` fixture
from tests.factories import admit, create_person

# Committing: concurrent requests: each needs a transaction of its own.
pytestmark = pytest.mark.committing

CONCURRENT = 20
HOSPITAL_UNIT = "region-kalmar-lanssjukhuset-med"


async def hospital_client(engine: AsyncEngine, settings: Settings, server: Server) -> str:
    """A token of a new client of Region Kalmar, issued by the running server."""
    client_id, pem, kid = await register_test_client(engine, "region-kalmar", "system/*.cruds")
    served = settings.model_copy(update={"public_base_url": server.url})
    async with httpx.AsyncClient(base_url=server.url) as http:
        issued = await fetch_token(http, served, client_id, pem, kid, "ES384")
    assert issued.status_code == 200, issued.text
    return str(issued.json()["access_token"])


@asynccontextmanager
async def as_hospital(
    engine: AsyncEngine, settings: Settings, server: Server
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running server with a token of a new client of Region Kalmar."""
    token = await hospital_client(engine, settings, server)
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        yield http


async def admitted_episode(http: httpx.AsyncClient) -> dict[str, Any]:
    person = await create_person(http, municipality="kommun-0880")
    return await admit(
        http, person["id"], datetime.now(UTC) - timedelta(days=3), unit=HOSPITAL_UNIT
    )


async def read_episode(http: httpx.AsyncClient, episode_id: str) -> dict[str, Any]:
    response = await http.get(f"/api/v1/episodes/{episode_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def dates(count: int) -> list[str]:
    first = date.today() + timedelta(days=10)
    return [(first + timedelta(days=n)).isoformat() for n in range(count)]


async def test_concurrent_notices_without_a_precondition_are_all_applied(
    engine: AsyncEngine, settings: Settings, server: Server
) -> None:
    token = await hospital_client(engine, settings, server)
    limits = httpx.Limits(max_connections=CONCURRENT + 5)
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, limits=limits
    ) as http:
        episode = await admitted_episode(http)
        before = episode["version"]
        wanted = dates(CONCURRENT)
        answers = await asyncio.gather(
            *(
                http.post(
                    f"/api/v1/episodes/{episode['id']}/expected-discharge",
                    json={"expected_discharge_date": day},
                    timeout=60,
                )
                for day in wanted
            )
        )
        statuses = Counter(a.status_code for a in answers)
        assert statuses == {200: CONCURRENT}, [a.text for a in answers if a.status_code != 200]
        # Each answer shows the episode as its own notice left it: every version once.
        assert sorted(a.json()["version"] for a in answers) == list(
            range(before + 1, before + CONCURRENT + 1)
        )
        after = await read_episode(http, episode["id"])
        assert after["version"] == before + CONCURRENT
        recorded = [e for e in after["events"] if e["kind"] == "expected-discharge-changed"]
        assert sorted(e["expected_discharge_date"] for e in recorded) == wanted
        # Applied in order: the episode's date is that of the notice applied last.
        assert after["expected_discharge_date"] == recorded[-1]["expected_discharge_date"]
        assert [e["at"] for e in after["events"]] == sorted(e["at"] for e in after["events"])


async def test_concurrent_messages_are_all_processed(
    engine: AsyncEngine, settings: Settings, server: Server
) -> None:
    token = await hospital_client(engine, settings, server)
    limits = httpx.Limits(max_connections=CONCURRENT + 5)
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, limits=limits
    ) as http:
        episode = await admitted_episode(http)
        before = episode["version"]
        sent = datetime.now(UTC).isoformat()
        wanted = dates(CONCURRENT)
        messages = [
            example(
                "expected-discharge-changed",
                episode_id=episode["id"],
                person_id=episode["person_id"],
                expected_date=day,
                now=sent,
            )
            for day in wanted
        ]
        answers = await asyncio.gather(
            *(
                http.post(
                    "/fhir/$process-message",
                    content=json.dumps(message),
                    headers=FHIR,
                    timeout=60,
                )
                for message in messages
            )
        )
        refused = [a.text for a in answers if a.status_code != 200]
        assert not refused, refused
        codes = Counter(a.json()["entry"][0]["resource"]["response"]["code"] for a in answers)
        assert codes == {"ok": CONCURRENT}
        after = await read_episode(http, episode["id"])
        assert after["version"] == before + CONCURRENT
        recorded = [e for e in after["events"] if e["kind"] == "expected-discharge-changed"]
        assert sorted(e["expected_discharge_date"] for e in recorded) == wanted


async def test_a_stale_precondition_is_still_refused(
    engine: AsyncEngine, settings: Settings, server: Server
) -> None:
    async with as_hospital(engine, settings, server) as http:
        episode = await admitted_episode(http)
        seen = episode["version"]
        path = f"/api/v1/episodes/{episode['id']}/expected-discharge"
        first = await http.post(
            path, json={"expected_discharge_date": dates(1)[0]}, headers={"If-Match": f'W/"{seen}"'}
        )
        assert first.status_code == 200, first.text
        stale = await http.post(
            path, json={"expected_discharge_date": dates(2)[1]}, headers={"If-Match": f'W/"{seen}"'}
        )
        assert stale.status_code == 412, stale.text
        assert stale.headers["content-type"].startswith("application/problem+json")
        assert f"version {seen + 1}" in stale.json()["detail"]
        after = await read_episode(http, episode["id"])
        assert after["version"] == seen + 1
        assert after["expected_discharge_date"] == dates(1)[0]


async def test_identical_messages_at_once_are_processed_once_and_answered_alike(
    engine: AsyncEngine, settings: Settings, server: Server
) -> None:
    async with as_hospital(engine, settings, server) as http:
        episode = await admitted_episode(http)
        message = example(
            "expected-discharge-changed",
            episode_id=episode["id"],
            person_id=episode["person_id"],
            expected_date=dates(1)[0],
            now=datetime.now(UTC).isoformat(),
        )
        answers = await asyncio.gather(
            *(
                http.post(
                    "/fhir/$process-message", content=json.dumps(message), headers=FHIR, timeout=60
                )
                for _ in range(5)
            )
        )
        assert [a.status_code for a in answers] == [200] * 5, [a.text for a in answers]
        # One processed it; the others waited for its claim and got its response again.
        replayed = [a.headers.get("x-samverkan-replayed") == "true" for a in answers]
        assert replayed.count(False) == 1
        assert all(a.json() == answers[0].json() for a in answers)
        after = await read_episode(http, episode["id"])
        assert after["version"] == episode["version"] + 1
        assert [e["kind"] for e in after["events"]].count("expected-discharge-changed") == 1
