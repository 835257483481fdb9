"""`samverkan dispatcher` as the process it runs as: killed mid-burst, and two side by side.

A dispatcher killed with SIGKILL while pushes are in flight loses nothing: after a restart every
event arrives, in order per episode, and the only duplicates are the pushes that were in flight
(recognisable by their event id and number). Two dispatchers on PostgreSQL never push the same
event at the same time (the receiver watches for a second push of an event still in flight).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings
from tests.e2e.test_delivery import (
    EVENTS,
    episodes_with_notices,
    metric_values,
    ok,
    ok_text,
    subscribe,
)
from tests.e2e.test_http_server import Server, scraper_token
from tests.e2e.test_http_server import _free_port as free_port
from tests.e2e.test_http_server import server as server  # the `samverkan serve` fixture
from tests.receiver import Push, Receiver, running_receiver

# Committing: dispatcher processes read what the test committed.
pytestmark = pytest.mark.committing

SAMVERKAN = Path(sys.executable).parent / "samverkan"


class Dispatchers:
    """`samverkan dispatcher` processes on the test database, each logging to its own file."""

    def __init__(self, settings: Settings, directory: Path) -> None:
        self.settings = settings
        self.directory = directory
        self.running: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = (self.directory / f"dispatcher-{len(self.running)}.log").open("wb")
        process = subprocess.Popen(
            [str(SAMVERKAN), "dispatcher", *args],
            env={
                **os.environ,
                "SAMVERKAN_DATABASE_URL": self.settings.database_url,
                "SAMVERKAN_ENVIRONMENT": "test",
                "SAMVERKAN_PUBLIC_BASE_URL": self.settings.public_base_url,
                "SAMVERKAN_DELIVERY_BACKOFF_BASE_SECONDS": "0.05",
                "SAMVERKAN_DELIVERY_BACKOFF_MAX_SECONDS": "0.2",
                "SAMVERKAN_DELIVERY_MAX_ATTEMPTS": "100",
                "SAMVERKAN_DISPATCHER_POLL_SECONDS": "0.05",
                "SAMVERKAN_DELIVERY_BREAKER_COOLDOWN_SECONDS": "0.05",
                # Delivery is under test here: the episodes have no discharge information, and
                # the job would raise deviations whose pushes the counts below do not expect.
                "SAMVERKAN_DEVIATION_RULES_INTERVAL_SECONDS": "0",
                **env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.running.append((process, log))
        return process

    def log(self, index: int) -> list[dict[str, Any]]:
        """The JSON log lines of the ``index``-th process started."""
        lines = (self.directory / f"dispatcher-{index}.log").read_bytes().splitlines()
        return [orjson.loads(line) for line in lines if line.startswith(b"{")]

    def stop_all(self) -> None:
        for process, log in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            log.close()


@pytest.fixture
def dispatchers(settings: Settings, tmp_path: Path) -> Iterator[Dispatchers]:
    running = Dispatchers(settings, tmp_path)
    yield running
    running.stop_all()


async def wait_for(condition: Callable[[], bool], what: str, within: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def assert_in_order(receiver: Receiver, episodes: list[str]) -> None:
    streams: dict[str, list[str]] = defaultdict(list)
    for push in receiver.first_accepted():
        streams[push.focus].append(push.event)
    assert streams == {f"Encounter/{e}": EVENTS for e in episodes}


def duplicates(pushes: list[Push]) -> dict[str, int]:
    counts = Counter(p.event_id or "" for p in pushes)
    return {event_id: n for event_id, n in counts.items() if n > 1}


async def test_a_dispatcher_killed_mid_burst_loses_nothing(
    client: httpx.AsyncClient,
    municipality: httpx.AsyncClient,
    engine: AsyncEngine,
    dispatchers: Dispatchers,
    now: datetime,
) -> None:
    # Slow answers keep pushes in flight long enough to kill the process during them.
    with running_receiver(delay=0.3) as receiver:
        subscription = await subscribe(municipality, receiver.url)
        episodes = await episodes_with_notices(client, 4, now - timedelta(days=2))
        total = 4 * len(EVENTS)
        first = dispatchers.start(
            SAMVERKAN_DELIVERY_LEASE_SECONDS="3", SAMVERKAN_DELIVERY_TIMEOUT_SECONDS="2"
        )
        await wait_for(
            lambda: len(receiver.accepted()) >= 4 and bool(receiver.in_flight()),
            "pushes in flight after some were accepted",
        )
        in_flight = receiver.in_flight()
        killed_at = time.monotonic()
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        await wait_for(lambda: not receiver.in_flight(), "the cut pushes to finish")
        assert len(receiver.first_accepted()) < total, "the burst was over before the kill"

        metrics_port = free_port()
        dispatchers.start(
            "--metrics-address",
            f"127.0.0.1:{metrics_port}",
            SAMVERKAN_DELIVERY_LEASE_SECONDS="3",
            SAMVERKAN_DELIVERY_TIMEOUT_SECONDS="2",
        )
        await wait_for(lambda: len(receiver.first_accepted()) == total, "every event")
        await asyncio.sleep(0.5)
        async with httpx.AsyncClient() as http:
            scraped = metric_values((await http.get(f"http://127.0.0.1:{metrics_port}/")).text)

    assert_in_order(receiver, episodes)
    inbox = ok(await municipality.get("/api/v1/inbox", params={"limit": 200}))["items"]
    assert {p.event_id for p in receiver.accepted()} == {i["event_id"] for i in inbox}
    # The pushes cut by the kill were received, not recorded, and so pushed again: at least
    # once. Only pushes answered around the kill came twice, and a repeat carries the same
    # event id and number.
    repeated = duplicates(receiver.accepted())
    assert in_flight <= set(repeated), (in_flight, repeated)
    for event_id in repeated:
        original = next(p for p in receiver.accepted() if p.event_id == event_id)
        assert original.received_at < killed_at + 1.0, "a repeat not caused by the kill"
    numbers: dict[str, set[int]] = defaultdict(set)
    for push in receiver.accepted():
        numbers[push.event_id or ""].add(push.event_number)
    assert all(len(n) == 1 for n in numbers.values())
    assert all(p.signed_with(subscription["secret"]) for p in receiver.pushes)
    status = ok(await municipality.get(f"/api/v1/subscriptions/{subscription['id']}/status"))
    assert (status["status"], status["pending"]) == ("active", 0)
    # The restarted process counted what it pushed, on its own metrics port.
    pushed_after_restart = [e for e in dispatchers.log(1) if e["message"] == "delivered"]
    assert pushed_after_restart
    success = ("samverkan_delivery_attempts_total", (("result", "success"),))
    assert scraped[success] == len(pushed_after_restart)
    # The restarted process logged each delivery as JSON, with the event it delivered.
    delivered = [e for e in dispatchers.log(1) if e["message"] == "delivered"]
    assert delivered and {"event_id", "delivery_id", "worker", "lag_seconds"} <= set(delivered[0])
    # Each carries the X-Request-ID of the request that caused its event.
    assert all(e["request_id"] for e in delivered)


async def test_two_dispatchers_never_push_one_event_at_once(
    client: httpx.AsyncClient,
    municipality: httpx.AsyncClient,
    engine: AsyncEngine,
    dispatchers: Dispatchers,
    now: datetime,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several dispatchers share one database on PostgreSQL")
    with running_receiver(delay=0.1) as receiver:
        await subscribe(municipality, receiver.url)
        # Small batches, so that neither process can claim all the streams' heads alone; both
        # are polling before the burst begins.
        for _ in range(2):
            dispatchers.start(SAMVERKAN_DISPATCHER_BATCH_SIZE="2")
        await wait_for(
            lambda: all(
                any(e["message"] == "dispatcher started" for e in dispatchers.log(i))
                for i in (0, 1)
            ),
            "both dispatchers to start",
        )
        episodes = await episodes_with_notices(client, 8, now - timedelta(days=2))
        total = 8 * len(EVENTS)
        await wait_for(lambda: len(receiver.first_accepted()) == total, "every event")
        await asyncio.sleep(0.5)
    assert receiver.overlaps == [], "an event was pushed by two dispatchers at once"
    assert duplicates(receiver.accepted()) == {}, "an event was pushed twice"
    assert_in_order(receiver, episodes)
    workers = [
        {e["worker"] for e in dispatchers.log(i) if e["message"] == "delivered"} for i in (0, 1)
    ]
    assert all(len(w) == 1 for w in workers) and workers[0] != workers[1], "both took part"


async def test_samverkan_serve_delivers_the_outbox_itself(
    server: Server,
    client: httpx.AsyncClient,
    municipality: httpx.AsyncClient,
    engine: AsyncEngine,
    settings: Settings,
    now: datetime,
) -> None:
    with running_receiver() as receiver:
        await subscribe(municipality, receiver.url)
        (episode,) = await episodes_with_notices(
            client, 1, now - timedelta(days=2), (("admission-notice", {}),)
        )
        await wait_for(lambda: len(receiver.accepted()) == 1, "the server's own dispatcher", 30)
    assert receiver.accepted()[0].focus == f"Encounter/{episode}"
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/metrics")).status_code == 401
        http.headers["Authorization"] = f"Bearer {await scraper_token(engine, settings, server)}"
        scraped = metric_values(ok_text(await http.get("/metrics")))
    assert scraped[("samverkan_delivery_attempts_total", (("result", "success"),))] == 1
