"""``samverkan examples post``: send the published FHIR example messages to a running server.

The files in ``openapi/examples/fhir/`` are valid FHIR R4 as published, with concrete values: one
story of Viola Karlsson, admitted to Länssjukhuset i Kalmar, discharged home to Kalmar kommun,
with a SIP afterwards; the municipality answers and, once she is home, confirms its services
started. Posting them tells the story again on the server: in the order below,
each as its sender (a demo client's key), with fresh Bundle and MessageHeader ids, the ids the
server gave the episode, person, plan and meeting in place of the example ones, and each
message's times moved so that it is sent now (a summons still lies ahead, as it must).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from app.cli import Refused, cli, settings

EXAMPLES = Path(__file__).resolve().parents[2] / "openapi" / "examples" / "fhir"
# The ids the example files use for what the server names when it is posted to.
EPISODE = "3f9a1c2e-7b4d-4e8a-9c61-2d5e8f0a1b73"
PERSON = "b2c4d6e8-1a3c-4e5f-8a7b-9c0d1e2f3a4b"
PLAN = "c7e1f3a5-2b4d-4f6a-8c9e-0a1b2c3d4e5f"
MEETING = "d4f6a8c0-3e5a-4b7c-9d1e-2f3a4b5c6d7e"
ANSWERED = "e5a7b9c1-4d6f-4a8b-8e2f-3a4b5c6d7e8f"
# A sensible order: the discharge flow, messages around it, then the SIP after discharge.
ORDER = (
    "admission-notice",
    "expected-discharge-changed",
    "discharge-ready",
    "care-communication",
    "discharge-ready-withdrawn",
    "discharge-ready",
    "municipality-response",
    "discharge-notice",
    "document-shared",
    "services-started",
    "acknowledgement",
    "deviation-report",
    "sip-summons",
    "sip-summons-reply",
    "careplan-revised",
)
FHIR_JSON = "application/fhir+json"
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T[0-9:.]+(Z|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# A client acting for an organization (by id), as the server's own clients do.
Session = Callable[[str], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Posted:
    """One example as the server answered it."""

    event: str
    sender: str
    status: int
    code: str | None
    focus: list[str]


def load(directory: Path, event: str) -> dict[str, Any]:
    """The published example message of ``event``."""
    loaded: dict[str, Any] = orjson.loads((directory / f"{event}.json").read_bytes())
    return loaded


def moved(value: Any, by: timedelta, days: timedelta) -> Any:
    """``value`` with every dateTime moved by ``by`` and every date by ``days``."""
    if isinstance(value, dict):
        return {k: moved(v, by, days) for k, v in value.items()}
    if isinstance(value, list):
        return [moved(v, by, days) for v in value]
    if isinstance(value, str) and _DATE_TIME.match(value):
        return (datetime.fromisoformat(value.replace("Z", "+00:00")) + by).isoformat()
    if isinstance(value, str) and _DATE.match(value):
        return (date.fromisoformat(value) + days).isoformat()
    return value


def prepared(message: dict[str, Any], ids: dict[str, str], now: datetime) -> dict[str, Any]:
    """The example as it is sent now: fresh message ids, the server's ids, times moved."""
    header = message["entry"][0]["resource"]
    replacements = {**ids, message["id"]: str(uuid.uuid4()), header["id"]: str(uuid.uuid4())}
    text = orjson.dumps(message).decode()
    for old, new in replacements.items():
        text = text.replace(old, new)
    sent = datetime.fromisoformat(message["timestamp"])
    by = now - sent
    return dict(moved(orjson.loads(text), by, timedelta(days=(now.date() - sent.date()).days)))


async def post_examples(
    session: Session, directory: Path, report: Callable[[Posted], None]
) -> list[Posted]:
    """Post every example in ``ORDER``; Refused at the first the server does not answer ok."""
    ids: dict[str, str] = {}
    answered: list[Posted] = []
    for event in ORDER:
        message = load(directory, event)
        sender = message["entry"][0]["resource"]["sender"]["reference"].removeprefix(
            "Organization/"
        )
        client = await session(sender)
        if event == "sip-summons":
            ids[PLAN] = await shared_plan(client, ids[PERSON])
        if event == "careplan-revised":
            plan = await _ok(client.get(f"/api/v1/plans/{ids[PLAN]}"), "read the plan")
            message["entry"][1]["resource"]["meta"]["versionId"] = str(plan["version"])
        if event == "acknowledgement":
            ids[ANSWERED] = await _event_id(client, ids[EPISODE], "discharge-notice")
        body = prepared(message, ids, datetime.now(UTC) - timedelta(seconds=1))
        response = await client.post(
            "/fhir/$process-message",
            content=orjson.dumps(body),
            headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON},
        )
        header = response.json()["entry"][0]["resource"] if response.content else {}
        posted = Posted(
            event,
            sender,
            response.status_code,
            (header.get("response") or {}).get("code"),
            [f.get("reference", "") for f in header.get("focus") or []],
        )
        report(posted)
        answered.append(posted)
        if response.status_code != 200 or posted.code != "ok":
            raise Refused(f"{event} was refused ({response.status_code}): {response.text}")
        if event == "admission-notice":
            ids[EPISODE] = posted.focus[0].removeprefix("Encounter/")
            episode = await _ok(client.get(f"/api/v1/episodes/{ids[EPISODE]}"), "read it")
            ids[PERSON] = episode["person_id"]
        if event == "sip-summons":
            ids[MEETING] = posted.focus[0].removeprefix("Appointment/")
    return answered


async def _ok(request: Awaitable[Any], doing: str) -> dict[str, Any]:
    response = await request
    if response.status_code not in (200, 201):
        raise Refused(f"could not {doing} ({response.status_code}): {response.text}")
    body: dict[str, Any] = response.json()
    return body


async def shared_plan(client: Any, person_id: str) -> str:
    """A SIP for the person, shared by consent with the hospital and the municipality."""
    plan = await _ok(
        client.post("/api/v1/plans", json={"person_id": person_id, "title": "SIP"}),
        "start a plan",
    )
    await _ok(
        client.post(
            f"/api/v1/plans/{plan['id']}/consents",
            json={
                "given_by": "person",
                "given_at": datetime.now(UTC).isoformat(),
                "method": "oral",
                "share_with": ["region-kalmar", "kommun-0880"],
            },
        ),
        "record the consent",
    )
    return str(plan["id"])


async def _event_id(client: Any, episode_id: str, event: str) -> str:
    """The id of the receiver's inbox item of ``event`` about the episode (to acknowledge)."""
    since = None
    while True:
        params = {"limit": "200", **({"since": since} if since else {})}
        page = await _ok(client.get("/api/v1/inbox", params=params), "read the inbox")
        for item in page["items"]:
            if item["event"] == event and item["focus"] == f"Encounter/{episode_id}":
                return str(item["event_id"])
        if not page["more"]:
            raise Refused(f"no {event} about Encounter/{episode_id} in the inbox")
        since = page["next_cursor"]


examples_cli = typer.Typer(help="The FHIR example messages.", no_args_is_help=True)
cli.add_typer(examples_cli, name="examples")


@examples_cli.command("post")
def examples_post(
    base: Annotated[
        str | None,
        typer.Option(help="the server's URL; default SAMVERKAN_PUBLIC_BASE_URL, else PORT"),
    ] = None,
    keys: Annotated[
        Path | None,
        typer.Option(
            help="the demo clients' private keys, <org>.pem; default SAMVERKAN_DEMO_CLIENTS_DIR"
        ),
    ] = None,
    directory: Annotated[
        Path, typer.Option("--dir", help="the example messages", exists=True, file_okay=False)
    ] = EXAMPLES,
) -> None:
    """Post the FHIR example messages, in order, to a running server (with the demo data)."""
    import asyncio

    config = settings()
    server = (base or config.public_base_url).rstrip("/")
    asyncio.run(_post_over_http(server, keys or config.demo_clients_dir, directory))


async def _post_over_http(server: str, keys: Path, directory: Path) -> None:
    import httpx

    from app.cli.clients import client_token

    clients: dict[str, httpx.AsyncClient] = {}

    async def session(organization_id: str) -> httpx.AsyncClient:
        if organization_id not in clients:
            key = keys / f"{organization_id}.pem"
            if not key.exists():
                raise Refused(f"no demo key for {organization_id} at {key}")
            token = client_token(server, f"demo-{organization_id}", key, None)
            clients[organization_id] = httpx.AsyncClient(
                base_url=server, headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
        return clients[organization_id]

    def say(posted: Posted) -> None:
        focus = ", ".join(posted.focus)
        typer.echo(f"{posted.status} {posted.code or '-':<7} {posted.event:<28} {focus}")

    try:
        await post_examples(session, directory, say)
    except httpx.TransportError as exc:
        from app.cli.clients import unreachable

        raise Refused(unreachable(server, exc)) from None
    finally:
        for client in clients.values():
            await client.aclose()
