"""When PostgreSQL drops the service's connections (a restart), a request gets a clear 503 and
the next one works: connections are not pinged before use, so the loss shows once."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.database import drop_every_connection

# Committing: kills the application's connections.
pytestmark = pytest.mark.committing


async def test_a_lost_connection_answers_503_and_the_pool_recovers(
    client: httpx.AsyncClient, engine: AsyncEngine, settings: object
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL connections only")
    for _ in range(3):
        assert (await client.get("/api/v1/organizations?limit=1")).status_code == 200
    await drop_every_connection(engine)
    answers = [(await client.get("/api/v1/organizations?limit=1")) for _ in range(3)]
    lost = [a for a in answers if a.status_code != 200]
    assert lost, "no request met the dropped connection"
    assert all(a.status_code == 503 for a in lost), [a.text for a in lost]
    for answer in lost:
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.headers["retry-after"] == "1"
    assert answers[-1].status_code == 200
