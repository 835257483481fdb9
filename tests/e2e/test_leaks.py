"""Nothing leaks: every route of the application, walked as callers who must not see a person.

The routes come from the application's own OpenAPI document, which FastAPI builds from its route
table; a route without a rule below fails the test, so a new route cannot ship unclassified.
Each route is called as an anonymous caller (401), as a caller whose token lacks the scope (403)
and as an organization with no care relation to the person (the same answer as for an id that
does not exist, and nothing of the person in any list).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.domain.identifiers import PERSONNUMMER
from tests.conftest import ClientFor
from tests.factories import admit, notice, personnummer

PUBLIC = "public"  # no token needed
AUTHENTICATED = "authenticated"  # service configuration: any valid token, no scope
REFERENCE = "reference"  # organizations and rule sets: not personal data, any scoped caller
PERSONAL = "personal"  # about a person: only organizations with a care relation
ADMIN = "admin"  # the service's administration scope only

RULES: dict[str, str] = {
    "healthz": PUBLIC,
    "readyz": PUBLIC,
    "token": PUBLIC,
    "smart_configuration": PUBLIC,
    "jwks": PUBLIC,
    "list_organizations": REFERENCE,
    "create_organization": REFERENCE,
    "get_organization": REFERENCE,
    "list_cooperation_areas": REFERENCE,
    "create_cooperation_area": REFERENCE,
    "get_cooperation_area": REFERENCE,
    "list_rule_sets": AUTHENTICATED,
    "list_persons": PERSONAL,
    "register_person": PERSONAL,
    "get_person": PERSONAL,
    "list_episodes": PERSONAL,
    "register_admission": PERSONAL,
    "get_episode": PERSONAL,
    "send_admission_notice": PERSONAL,
    "change_expected_discharge": PERSONAL,
    "declare_discharge_ready": PERSONAL,
    "withdraw_discharge_ready": PERSONAL,
    "record_municipality_response": PERSONAL,
    "discharge": PERSONAL,
    "get_episode_liability": PERSONAL,
    "get_monthly_report": PERSONAL,
    "search_access_log": PERSONAL,
    "list_api_clients": ADMIN,
    "register_api_client": ADMIN,
    "get_api_client": ADMIN,
    "set_api_client_active": ADMIN,
}

SECRET_ADDRESS = "Hemlig gränd 7"
SECRET_NAME = "Sekretessa"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=5)


@dataclass
class Scene:
    """A protected person in care at Sunderby (Region Norrbotten), received by Luleå."""

    person_id: str
    episode_id: str
    identifier: str
    person_body: dict[str, Any]


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str]
    body: dict[str, Any] | None


def operations(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(operation id, method, path) of every operation the application serves."""
    return [
        (operation["operationId"], method.upper(), path)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def build(op: str, method: str, path: str, scene: Scene, person: str, episode: str) -> Call:
    """A valid request for the operation, about ``person`` and ``episode``."""
    values = {
        "person_id": person,
        "episode_id": episode,
        "org_id": "region-norrbotten",
        "area_id": "area-luleaboden",
        "client_id": "no-such-client",
        "municipality_id": "kommun-2580",
        "month": T0.strftime("%Y-%m"),
    }
    filled = path
    for name, value in values.items():
        filled = filled.replace("{" + name + "}", value)
    params: dict[str, str] = {}
    unique = uuid.uuid4().hex[:8]
    bodies: dict[str, dict[str, Any]] = {
        "register_person": scene.person_body,
        "register_admission": {
            "person_id": person,
            "hospital_unit_id": "region-kalmar-lanssjukhuset-med",
            "admitted_at": T0.isoformat(),
            "admission_type": "acute",
        },
        "change_expected_discharge": {"expected_discharge_date": T0.date().isoformat()},
        "record_municipality_response": {"can_receive_from": T0.date().isoformat()},
        "create_organization": {
            "id": f"leak-unit-{unique}",
            "kind": "unit",
            "name": "Hemtjänst",
            "jurisdiction": "SE",
            "parent_id": "kommun-0880",
            "function": "home-care",
        },
        "create_cooperation_area": {
            "id": f"leak-area-{unique}",
            "name": "Area",
            "region_id": "region-norrbotten",
            "municipality_ids": ["kommun-2580"],
        },
        "register_api_client": {
            "organization_id": "kommun-0880",
            "name": "x",
            "jwks": {"keys": []},
        },
        "set_api_client_active": {"active": False},
    }
    body = bodies.get(op, {} if method in ("POST", "PUT") else None)
    if op in ("list_episodes", "search_access_log"):
        params["person_id"] = person
    if op == "list_persons":
        params["identifier"] = f"{PERSONNUMMER}|{scene.identifier}"
    return Call(method, filled, params, body)


async def send(http: httpx.AsyncClient, call: Call) -> httpx.Response:
    return await http.request(call.method, call.path, params=call.params, json=call.body)


@pytest.fixture
async def scene(client: httpx.AsyncClient) -> Scene:
    identifier = personnummer()
    body = {
        "identifier": {"system": PERSONNUMMER, "value": identifier},
        "given_name": SECRET_NAME,
        "family_name": "Skyddsdottir",
        "residence_municipality_id": "kommun-2580",
        "protected_identity": True,
        "address": SECRET_ADDRESS,
        "phone": "070-0000000",
    }
    created = await client.post("/api/v1/persons", json=body)
    assert created.status_code == 201, created.text
    person_id = created.json()["id"]
    episode = await admit(client, person_id, T0)
    for kind, at in (
        ("admission-notice", T0 + timedelta(hours=1)),
        ("discharge-ready", T0 + timedelta(days=1)),
    ):
        assert (await notice(client, episode["id"], kind, at)).status_code == 200
    return Scene(person_id, episode["id"], identifier, body)


def assert_no_trace(response: httpx.Response, scene: Scene, where: str) -> None:
    text = response.text
    for secret in (
        scene.person_id,
        scene.episode_id,
        scene.identifier,
        SECRET_ADDRESS,
        SECRET_NAME,
    ):
        assert secret not in text, f"{where}: the response reveals {secret!r}: {text[:300]}"


async def test_every_route_has_a_rule(anonymous: httpx.AsyncClient) -> None:
    document = (await anonymous.get("/openapi.json")).json()
    served = {op for op, _method, _path in operations(document)}
    assert served - RULES.keys() == set(), "routes without a rule in the leak table"
    assert RULES.keys() - served == set(), "rules for routes that no longer exist"


async def test_anonymous_and_unscoped_callers_get_401_and_403(
    anonymous: httpx.AsyncClient, client_for: ClientFor, scene: Scene
) -> None:
    unscoped = await client_for("region-norrbotten", scopes="system/Practitioner.r")
    document = (await anonymous.get("/openapi.json")).json()
    for op, method, path in operations(document):
        call = build(op, method, path, scene, scene.person_id, scene.episode_id)
        where = f"{method} {path}"
        answer = await send(anonymous, call)
        if RULES[op] == PUBLIC:
            assert answer.status_code != 401, where
            continue
        assert answer.status_code == 401, (where, answer.text)
        assert answer.headers["www-authenticate"].startswith("Bearer"), where
        assert_no_trace(answer, scene, where)
        if RULES[op] == AUTHENTICATED:
            assert (await send(unscoped, call)).status_code == 200, where
            continue
        refused = await send(unscoped, call)
        assert refused.status_code == 403, (where, refused.text)
        assert "insufficient_scope" in refused.headers["www-authenticate"], where
        assert refused.headers["content-type"].startswith("application/problem+json")


async def test_an_unrelated_organization_learns_nothing(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    client_for: ClientFor,
    scene: Scene,
) -> None:
    stranger = await client_for("kommun-0880")  # Kalmar: no part in this person's care
    document = (await anonymous.get("/openapi.json")).json()
    missing_person, missing_episode = str(uuid.uuid4()), str(uuid.uuid4())
    walked = [op for op in operations(document) if RULES[op[0]] not in (PUBLIC,)]
    # The lookup by national identifier gives a relation to the person's record; walk it last.
    walked.sort(key=lambda item: item[0] == "register_person")
    checked = 0
    for op, method, path in walked:
        where = f"{method} {path}"
        real = build(op, method, path, scene, scene.person_id, scene.episode_id)
        answer = await send(stranger, real)
        assert answer.status_code < 500, (where, answer.text)
        if RULES[op] == ADMIN:
            assert answer.status_code == 403, where
        if op == "register_person":
            # Presenting the full identifier finds the person, but never the protected details.
            assert answer.status_code == 200, answer.text
            assert SECRET_ADDRESS not in answer.text and SECRET_NAME not in answer.text
            assert scene.identifier not in answer.text
            continue
        has_ids = real.path != build(op, method, path, scene, missing_person, missing_episode).path
        if has_ids or "person_id" in real.params or (real.body or {}).get("person_id"):
            fake = build(op, method, path, scene, missing_person, missing_episode)
            fake_answer = await send(stranger, fake)
            shown = answer.text.replace(scene.person_id, missing_person).replace(
                scene.episode_id, missing_episode
            )
            assert (answer.status_code, shown) == (fake_answer.status_code, fake_answer.text), (
                f"{where}: an existing id is answered differently from a missing one"
            )
            checked += 1
        else:
            assert_no_trace(answer, scene, where)
        if RULES[op] == PERSONAL and method == "GET":
            # The same request by the hospital does see the person: the walk is not vacuous.
            seen = await send(client, real)
            assert seen.status_code == 200, (where, seen.text)
    assert checked >= 10

    # After the lookup the stranger reads the person's record (masked), and nothing else.
    record = await stranger.get(f"/api/v1/persons/{scene.person_id}")
    assert record.status_code == 200 and SECRET_ADDRESS not in record.text
    assert (await stranger.get(f"/api/v1/episodes/{scene.episode_id}")).status_code == 404
    listed = await stranger.get("/api/v1/episodes", params={"person_id": scene.person_id})
    assert listed.json()["items"] == []
    log = await stranger.get("/api/v1/access-log", params={"person_id": scene.person_id})
    assert log.status_code == 404


async def test_the_strangers_own_access_log_does_not_tell_existing_from_missing_ids(
    client_for: ClientFor, scene: Scene
) -> None:
    stranger = await client_for("kommun-0880")
    missing = str(uuid.uuid4())
    since = datetime.now(UTC).isoformat()
    for person_id in (scene.person_id, missing):
        assert (await stranger.get(f"/api/v1/persons/{person_id}")).status_code == 404
    entries = (await stranger.get("/api/v1/access-log", params={"since": since})).json()["items"]
    tried = [e for e in entries if e["resource_type"] == "Patient"]
    assert len(tried) == 2
    assert {e["outcome"] for e in tried} == {"denied"}
    assert all(e["person_id"] is None and e["resource_id"] is None for e in tried)
    # The person's caregivers see the refused attempt in full.
    hospital = await client_for("region-norrbotten")
    about = (
        await hospital.get(
            "/api/v1/access-log", params={"person_id": scene.person_id, "since": since}
        )
    ).json()["items"]
    assert [(e["organization_id"], e["outcome"]) for e in about if e["action"] == "read"] == [
        ("kommun-0880", "denied")
    ]
