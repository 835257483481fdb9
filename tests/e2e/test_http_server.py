"""The service as it runs: a real uvicorn process answering real HTTP on loopback."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.identifiers import PERSONNUMMER
from app.security.scopes import METRICS_SCOPE
from app.settings import Settings
from tests.conftest import fetch_token, register_test_client
from tests.factories import personnummer

# Committing: a uvicorn process reads and writes the database.
pytestmark = pytest.mark.committing


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running `samverkan serve` process."""

    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> str:
        """Stop the server; its whole output."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        return self.process.stdout.read().decode() if self.process.stdout else ""


@pytest.fixture
def server(settings: Settings, server_env: dict[str, str]) -> Iterator[Server]:
    port = _free_port()
    # No SAMVERKAN_PUBLIC_BASE_URL: the port served is the one the service names.
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("SAMVERKAN_PUBLIC_BASE_URL", "PORT")},
        "SAMVERKAN_DATABASE_URL": settings.database_url,
        "SAMVERKAN_ENVIRONMENT": "test",
        "SAMVERKAN_SIGNING_KEY_FILE": str(settings.signing_key_file),
        **server_env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # Generous: on a loaded machine importing and starting the service takes its time.
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                # Stopped first: reading the output of a server still running would wait forever.
                if process.poll() is None:
                    process.kill()
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"server did not become ready:\n{output}")
            time.sleep(0.2)
        yield Server(base, process)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


async def scraper_token(engine: AsyncEngine, settings: Settings, server: Server) -> str:
    """A token of a new client holding only the metrics scope, from the running server."""
    client_id, pem, kid = await register_test_client(engine, "region-norrbotten", METRICS_SCOPE)
    served = settings.model_copy(update={"public_base_url": server.url})
    async with httpx.AsyncClient(base_url=server.url) as http:
        issued = await fetch_token(http, served, client_id, pem, kid, "ES384")
    assert issued.status_code == 200, issued.text
    return str(issued.json()["access_token"])


async def test_discharge_flow_over_tcp(
    server: Server, engine: AsyncEngine, settings: Settings
) -> None:
    client_id, pem, kid = await register_test_client(engine, "region-kalmar", "system/*.cruds")
    served = settings.model_copy(update={"public_base_url": server.url})
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/healthz")).json()["status"] == "ok"
        discovery = (await http.get("/.well-known/smart-configuration")).json()
        assert discovery["token_endpoint"] == f"{server.url}/auth/token"
        anonymous = await http.get("/api/v1/persons")
        assert anonymous.status_code == 401 and "Bearer" in anonymous.headers["www-authenticate"]
        issued = await fetch_token(http, served, client_id, pem, kid, "ES384")
        assert issued.status_code == 200, issued.text
        assert issued.headers["cache-control"] == "no-store"
        token = issued.json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        person = await http.post(
            "/api/v1/persons",
            headers={"X-Request-ID": "readme-person-1"},
            json={
                "identifier": {"system": PERSONNUMMER, "value": personnummer()},
                "given_name": "Peter",
                "family_name": "Nilsson",
                "residence_municipality_id": "kommun-0880",
            },
        )
        assert person.status_code == 201, person.text
        assert person.headers["x-request-id"] == "readme-person-1"
        assert person.headers["location"].startswith(f"{server.url}/api/v1/persons/")
        admitted = datetime.now(UTC) - timedelta(days=6)
        episode = await http.post(
            "/api/v1/episodes",
            json={
                "person_id": person.json()["id"],
                "hospital_unit_id": "region-kalmar-lanssjukhuset-med",
                "admitted_at": admitted.isoformat(),
                "admission_type": "acute",
            },
        )
        assert episode.status_code == 201, episode.text
        generated = episode.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", generated)
        episode_id = episode.json()["id"]
        for kind, at in [
            ("admission-notice", admitted + timedelta(hours=3)),
            ("discharge-ready", admitted + timedelta(days=1)),
        ]:
            response = await http.post(
                f"/api/v1/episodes/{episode_id}/{kind}", json={"at": at.isoformat()}
            )
            assert response.status_code == 200, response.text
        liability = (await http.get(f"/api/v1/episodes/{episode_id}/liability")).json()
        assert liability["rule_set_id"] == "se-statutory-somatic"
        assert liability["clocks"][0]["end_reason"] == "running"
        assert liability["liable_days"] >= 1
    # The server's own output (uvicorn's access log included) never carries a credential.
    server_output = server.stop()
    assert "/api/v1/persons" in server_output
    assert token not in server_output and token[:40] not in server_output
    assert "eyJ" not in server_output
    # Every line is one JSON object with the same fields, uvicorn's own lines included.
    lines = [orjson.loads(line) for line in server_output.splitlines() if line.strip()]
    assert all({"at", "level", "logger", "message", "request_id"} <= set(e) for e in lines)
    access = [e for e in lines if e["logger"] == "uvicorn.access"]
    assert {"readme-person-1", generated} <= {e["request_id"] for e in access}
    assert any(e["logger"] == "uvicorn.error" for e in lines)
    # It runs on uvloop (and httptools: uvicorn is told both, and refuses to start without them).
    started = [e for e in lines if e["message"] == "application started"]
    assert started and all(e["event_loop"] == "uvloop" for e in started), started
