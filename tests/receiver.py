"""A subscriber's endpoint for the delivery tests: a real HTTP server on loopback.

It fails the first ``fail_first`` pushes (503), or every push while ``down`` is set, then accepts;
it records every push it received (also the refused ones), and notices when a push of an event
arrives while another push of the same event is still being answered (two dispatchers delivering
one item at once).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.delivery.dispatcher import Dispatcher
from app.domain.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, verify
from app.settings import Settings
from tests import fhir_medplum


@dataclass(frozen=True)
class Push:
    """One request the receiver got."""

    body: bytes
    headers: dict[str, str]
    accepted: bool
    received_at: float

    @property
    def bundle(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]

    @property
    def kind(self) -> str:
        status = self.bundle["entry"][0]["resource"]
        return next(p["valueCode"] for p in status["parameter"] if p["name"] == "type")

    @property
    def event_id(self) -> str | None:
        return self.headers.get(EVENT_ID_HEADER.lower())

    @property
    def header(self) -> dict[str, Any]:
        """The event's MessageHeader (id-only content)."""
        return self.bundle["entry"][1]["resource"]  # type: ignore[no-any-return]

    @property
    def event(self) -> str:
        return str(self.header["eventCoding"]["code"])

    @property
    def focus(self) -> str:
        return str(self.header["focus"][0]["reference"])

    @property
    def event_number(self) -> int:
        status = self.bundle["entry"][0]["resource"]
        notified = next(p for p in status["parameter"] if p["name"] == "notification-event")
        return int(next(p["valueString"] for p in notified["part"] if p["name"] == "event-number"))

    def signed_with(self, secret: str) -> bool:
        return verify(secret, self.body, self.headers.get(SIGNATURE_HEADER.lower()))


@dataclass
class Receiver:
    """The state of the stub endpoint, shared with its handler threads."""

    url: str = ""
    fail_first: int = 0
    down: bool = False
    delay: float = 0.0
    pushes: list[Push] = field(default_factory=list)
    overlaps: list[str] = field(default_factory=list)
    _in_flight: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, body: bytes, headers: dict[str, str], *, complete: bool = True) -> int:
        """Record one push and say how it is answered; one whose body was cut short (its sender
        died sending it) is refused, as a real receiver would refuse half a body."""
        event_id = headers.get(EVENT_ID_HEADER.lower())
        with self._lock:
            if event_id is not None:
                if event_id in self._in_flight:
                    self.overlaps.append(event_id)
                self._in_flight.add(event_id)
        try:
            if self.delay:
                time.sleep(self.delay)
            with self._lock:
                refused = self.down or self.fail_first > 0 or not complete
                if self.fail_first > 0 and complete:
                    self.fail_first -= 1
                self.pushes.append(Push(body, headers, not refused, time.monotonic()))
            return 503 if refused else 200
        finally:
            with self._lock:
                if event_id is not None:
                    self._in_flight.discard(event_id)

    def in_flight(self) -> set[str]:
        """Event ids whose push is being answered right now."""
        with self._lock:
            return set(self._in_flight)

    def accepted(self, kind: str = "event-notification") -> list[Push]:
        with self._lock:
            return [p for p in self.pushes if p.accepted and p.kind == kind]

    def first_accepted(self) -> list[Push]:
        """Accepted event pushes, the first of each event only, in arrival order."""
        seen: set[str | None] = set()
        result = []
        for push in self.accepted():
            if push.event_id not in seen:
                seen.add(push.event_id)
                result.append(push)
        return result


@contextmanager
def running_receiver(**options: Any) -> Iterator[Receiver]:
    """Start a receiver on a free loopback port; stop it after the block."""
    receiver = Receiver(**options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            status = receiver.handle(
                body, {k.lower(): v for k, v in self.headers.items()}, complete=len(body) == length
            )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/notifications"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
    assert_valid_pushes(receiver)


def assert_valid_pushes(receiver: Receiver) -> None:
    """Every distinct FHIR Bundle pushed passes Medplum's R4 StructureDefinition validator."""
    if not fhir_medplum.available():
        return  # in CI the session's FHIR check fails instead
    bundles: dict[bytes, dict[str, Any]] = {}
    for push in receiver.pushes:
        try:
            body = json.loads(push.body)
        except ValueError:
            continue
        if isinstance(body, dict) and body.get("resourceType"):
            bundles.setdefault(push.body, body)
    found = fhir_medplum.problems(list(bundles.values()))
    assert not found, "pushed FHIR breaks the R4 StructureDefinitions:\n" + "\n".join(found[:20])


def fast(settings: Settings, **changes: Any) -> Settings:
    """Settings for a dispatcher under test: short backoff, lease and poll interval."""
    values: dict[str, Any] = {
        "delivery_backoff_base_seconds": 0.05,
        "delivery_backoff_max_seconds": 0.2,
        "delivery_max_attempts": 50,
        "delivery_timeout_seconds": 2.0,
        "delivery_lease_seconds": 5.0,
        "dispatcher_poll_seconds": 0.02,
        # A receiver that fails on purpose opens its breaker; it is probed again at once.
        "delivery_breaker_cooldown_seconds": 0.05,
    }
    values.update(changes)
    return settings.model_copy(update=values)


async def dispatch_until(
    engine: AsyncEngine, settings: Settings, done: Callable[[], bool], *, within: float = 30
) -> None:
    """Run an in-process dispatcher until ``done()``; fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    async with Dispatcher(engine, settings) as dispatcher:
        while not done():
            assert loop.time() < deadline, "the dispatcher did not finish in time"
            if not await dispatcher.run_once():
                await asyncio.sleep(settings.dispatcher_poll_seconds)


async def dispatch_all(engine: AsyncEngine, settings: Settings) -> None:
    """Run an in-process dispatcher until nothing is due (a quiet round)."""
    async with Dispatcher(engine, settings) as dispatcher:
        while await dispatcher.run_once():
            pass
