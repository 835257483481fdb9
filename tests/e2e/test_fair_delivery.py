"""A dead endpoint delays only its own subscriptions (issue 14).

A `samverkan serve` process (with its dispatcher) pushes to 40 subscriptions at dead endpoints,
20 at a closed port and 20 at a server that accepts connections and never answers, and to one
healthy receiver. Every event is pushed to all 41, so the dead endpoints' backlog is always
older than the healthy one's push; still the healthy receiver gets each event within seconds,
and both dead endpoints' breakers open. An organization's subscriptions are limited.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings
from tests.conftest import fetch_token, register_test_client
from tests.e2e.test_delivery import metric_values, ok, subscribe
from tests.e2e.test_http_server import Server, scraper_token
from tests.e2e.test_http_server import _free_port as free_port
from tests.e2e.test_http_server import server as server  # the `samverkan serve` fixture
from tests.e2e.test_subscriptions_fhir import FHIR, subscription
from tests.factories import admit, create_person, notice
from tests.receiver import running_receiver

# Committing: a server process and its dispatcher read what the test committed.
pytestmark = pytest.mark.committing

DEAD_PER_KIND = 20
TIMEOUT = 2.0
# The notices of each episode, and the event each is pushed as.
NOTICES = (
    ("admission-notice", "admission-notice"),
    ("expected-discharge", "expected-discharge-changed"),
    ("discharge-ready", "discharge-ready"),
    ("discharge", "discharge-notice"),
)
EPISODES = 4


@pytest.fixture
def server_env() -> dict[str, str]:
    return {
        "SAMVERKAN_DELIVERY_TIMEOUT_SECONDS": str(TIMEOUT),
        "SAMVERKAN_DELIVERY_LEASE_SECONDS": "10",
        "SAMVERKAN_DELIVERY_BACKOFF_BASE_SECONDS": "0.05",
        "SAMVERKAN_DELIVERY_BACKOFF_MAX_SECONDS": "0.2",
        "SAMVERKAN_DELIVERY_MAX_ATTEMPTS": "1000",
        "SAMVERKAN_DISPATCHER_POLL_SECONDS": "0.05",
        "SAMVERKAN_DELIVERY_BREAKER_THRESHOLD": "3",
        "SAMVERKAN_DELIVERY_BREAKER_COOLDOWN_SECONDS": "120",
        "SAMVERKAN_MAX_SUBSCRIPTIONS_PER_ORGANIZATION": "50",
    }


@contextmanager
def hanging_endpoint() -> Iterator[str]:
    """A server that accepts connections, reads the request and never answers."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=256)
    held: list[socket.socket] = []
    stopped = threading.Event()

    def accept() -> None:
        while not stopped.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stopped.set()
        listener.close()
        for conn in held:
            conn.close()


async def token_of(
    engine: AsyncEngine, settings: Settings, server: Server, organization: str
) -> str:
    client_id, pem, kid = await register_test_client(engine, organization, "system/*.cruds")
    served = settings.model_copy(update={"public_base_url": server.url})
    async with httpx.AsyncClient(base_url=server.url) as http:
        issued = await fetch_token(http, served, client_id, pem, kid, "ES384")
    assert issued.status_code == 200, issued.text
    return str(issued.json()["access_token"])


async def test_a_healthy_endpoint_is_pushed_within_seconds_beside_dead_ones(
    engine: AsyncEngine, settings: Settings, server: Server
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    base_time = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    with hanging_endpoint() as hanging, running_receiver() as healthy:
        municipality, hospital = [
            httpx.AsyncClient(
                base_url=server.url,
                headers={
                    "Authorization": f"Bearer {await token_of(engine, settings, server, org)}"
                },
            )
            for org in ("kommun-2580", "region-norrbotten")
        ]
        async with municipality, hospital:
            dead = [
                (await subscribe(municipality, f"{endpoint}/hook-{n}"))["id"]
                for endpoint in (closed, hanging)
                for n in range(DEAD_PER_KIND)
            ]
            healthy_id = (await subscribe(municipality, healthy.url))["id"]
            sent: dict[tuple[str, str], float] = {}
            episodes = []
            for _ in range(EPISODES):
                person = await create_person(hospital)
                episodes.append((await admit(hospital, person["id"], base_time))["id"])
            for hours, (kind, event) in enumerate(NOTICES, start=1):
                extra: dict[str, Any] = (
                    {"expected_discharge_date": (base_time + timedelta(days=5)).date().isoformat()}
                    if kind == "expected-discharge"
                    else {}
                )
                for episode_id in episodes:
                    answer = await notice(
                        hospital, episode_id, kind, base_time + timedelta(hours=hours), **extra
                    )
                    assert answer.status_code == 200, answer.text
                    sent[(f"Encounter/{episode_id}", event)] = time.monotonic()

            deadline = time.monotonic() + 30
            while len(healthy.first_accepted()) < len(sent):
                assert time.monotonic() < deadline, (
                    f"the healthy receiver got {len(healthy.first_accepted())} of {len(sent)}"
                )
                await asyncio.sleep(0.05)
            lags = {
                (p.focus, p.event): p.received_at - sent[(p.focus, p.event)]
                for p in healthy.first_accepted()
            }
            assert set(lags) == set(sent)
            # Measured: at most 1.4 s (SQLite), 2.5 s (PostgreSQL). Oldest first, with a round
            # of 20 waiting for its slowest push, it would be over a minute (640 older dead
            # pushes, 2 s timeouts). The margin is for a shared PostgreSQL server, where another
            # session's long transaction holds back every new delivery (only settled rows are
            # read).
            assert max(lags.values()) < 10.0, sorted(lags.values())[-5:]

            # Both dead endpoints' breakers open (the hanging one after its first timeouts),
            # in the database that every process reads: /metrics and the subscription status.
            metrics_token = await scraper_token(engine, settings, server)
            open_breakers = ("samverkan_endpoint_breakers", (("state", "open"),))
            deadline = time.monotonic() + 4 * TIMEOUT + 10
            while True:
                scraped = metric_values(
                    (
                        await municipality.get(
                            "/metrics", headers={"Authorization": f"Bearer {metrics_token}"}
                        )
                    ).text
                )
                if scraped.get(open_breakers) == 2:
                    break
                assert time.monotonic() < deadline, scraped.get(open_breakers)
                await asyncio.sleep(0.2)
            for subscription_id in (dead[0], dead[-1]):
                status = ok(
                    await municipality.get(f"/api/v1/subscriptions/{subscription_id}/status")
                )
                # (Its own status may still be active: the breaker can open on the failures
                # of other subscriptions at the endpoint before it is tried.)
                assert status["endpoint_breaker"]["state"] == "open"
                assert status["endpoint_breaker"]["failures"] >= 3
                assert status["endpoint_breaker"]["open_until"] is not None
                # Its events wait; while the breaker is open they spend no attempts.
                assert status["pending"] > 0
            healthy_status = ok(
                await municipality.get(f"/api/v1/subscriptions/{healthy_id}/status")
            )
            assert (healthy_status["status"], healthy_status["pending"]) == ("active", 0)
            assert healthy_status["endpoint_breaker"] == {
                "origin": healthy.url.rsplit("/", 1)[0],
                "state": "closed",
                "failures": 0,
                "open_until": None,
                "last_error": None,
            }


async def test_an_organization_has_at_most_the_limit_of_live_subscriptions(
    engine: AsyncEngine, settings: Settings, municipality: httpx.AsyncClient
) -> None:
    limit = settings.max_subscriptions_per_organization
    created = [
        await subscribe(municipality, f"https://system.lulea.example/n{n}") for n in range(limit)
    ]
    refused = await municipality.post(
        "/api/v1/subscriptions",
        json={"topic": "messages", "endpoint": "https://system.lulea.example/one-more"},
    )
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert f"({limit})" in refused.json()["detail"]
    fhir = await municipality.post(
        "/fhir/Subscription", json=subscription("https://system.lulea.example/f"), headers=FHIR
    )
    assert fhir.status_code == 409, fhir.text
    assert fhir.json()["resourceType"] == "OperationOutcome"
    assert "live subscriptions" in fhir.json()["issue"][0]["diagnostics"]
    # An ended subscription no longer counts.
    ended = await municipality.delete(f"/api/v1/subscriptions/{created[0]['id']}")
    assert ended.status_code == 204
    await subscribe(municipality, "https://system.lulea.example/instead")
    listed = ok(await municipality.get("/api/v1/subscriptions", params={"limit": 100}))
    assert len(listed["items"]) == limit
