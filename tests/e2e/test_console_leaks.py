"""Nothing leaks through the console: every console route, walked as someone not signed in and as
a person of an organization with no care relation to anyone in the scenario.

The routes come from the application's route table; a console route without a rule below fails
the test, so a new page or action cannot ship unclassified.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ClientFor
from tests.console.scenario import MUNICIPALITY, Scenario, build, csrf_of, sign_in

# The scenario reads Luleå's inbox: on PostgreSQL an outbox read sees only what committed.
pytestmark = pytest.mark.committing("postgresql")

OPEN = "open"  # the way in: no session needed, nothing personal
PAGE = "page"  # shows personal data: a signed-in person of an organization in the person's care
ACTION = "action"  # changes a record: a signed-in person with the CSRF token, in the care
AGGREGATE = (
    "aggregate"  # figures of the person's own organization or areas: signed in, no one named
)

RULES = {
    "landing": OPEN,
    "console_home": OPEN,
    "sign_in_page": OPEN,
    "dev_sign_in": OPEN,
    "oidc_start": OPEN,
    "oidc_callback": OPEN,
    "sign_out": OPEN,
    "choose_language": OPEN,
    "worklist_page": PAGE,
    "person_page": PAGE,
    "plans_page": PAGE,
    "plan_page": PAGE,
    "deviations_page": PAGE,
    "liability_page": PAGE,
    "liability_csv": PAGE,
    "notice_boards_page": PAGE,
    "statistics_page": AGGREGATE,
    "statistics_chart": AGGREGATE,
    "acknowledge": ACTION,
    "municipality_response": ACTION,
    "reply": ACTION,
    "post_bulletin": ACTION,
}


def _routes(routes: list[Any]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in routes:
        # FastAPI keeps an included router whole (its routes are resolved when first matched).
        included = getattr(route, "original_router", None)
        if included is not None:
            found += _routes(included.routes)
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def console_routes(app: FastAPI) -> list[APIRoute]:
    return [r for r in _routes(app.routes) if r.path == "/" or r.path.startswith("/console")]


@pytest.fixture
async def http(app_engine: tuple[FastAPI, AsyncEngine]) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = app_engine
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        yield client


CHART = {"indicator": "admissions-notified", "from": "2026-01", "to": "2026-03"}


def ids(scenario: Scenario) -> dict[str, str]:
    """The path parameters naming the scenario's records (the inbox item is Luleå's first)."""
    return {
        "{person_id}": scenario.greta["id"],
        "{plan_id}": scenario.plan["id"],
        "{episode_id}": scenario.episode["id"],
        "{meeting_id}": scenario.meeting["id"],
        "{item_id}": str(scenario.inbox_item),
        "{board_id}": "region-norrbotten",
    }


def fill(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace(name, value)
    return path


def blank(text: str, values: dict[str, str]) -> str:
    """The page's main part with the ids it was asked about taken out."""
    text = text[text.index("<main") : text.index("</main>")]
    for value in values.values():
        text = re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])", "ID", text)
    return text


NOWHERE = {
    "{person_id}": str(uuid.uuid4()),
    "{plan_id}": str(uuid.uuid4()),
    "{episode_id}": str(uuid.uuid4()),
    "{meeting_id}": str(uuid.uuid4()),
    "{item_id}": "999999999",
    "{board_id}": "region-nowhere",
}


async def test_every_console_route_is_classified(app_engine: tuple[FastAPI, AsyncEngine]) -> None:
    app, _ = app_engine
    names = {r.name for r in console_routes(app)}
    assert names == set(RULES), f"unclassified: {names - set(RULES)}; gone: {set(RULES) - names}"


async def test_nothing_without_a_session(
    app_engine: tuple[FastAPI, AsyncEngine], http: httpx.AsyncClient, client_for: ClientFor
) -> None:
    app, _ = app_engine
    scenario = await build(await client_for("region-norrbotten"), await client_for(MUNICIPALITY))
    for route in console_routes(app):
        if RULES[route.name] == OPEN:
            continue
        path = fill(route.path, ids(scenario))
        method = next(iter(route.methods))
        response = await http.request(method, path, data={"csrf_token": "x"})
        assert response.status_code == 303, (method, path, response.status_code)
        assert response.headers["location"].startswith("/console/sign-in?next=")
        if method == "POST":
            # After signing in, a form is not sent again: the person starts at the worklist.
            assert response.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fworklist"
        assert "Greta" not in response.text


async def test_an_unrelated_organization_sees_and_changes_nothing(
    app_engine: tuple[FastAPI, AsyncEngine], http: httpx.AsyncClient, client_for: ClientFor
) -> None:
    app, _ = app_engine
    scenario = await build(await client_for("region-norrbotten"), await client_for(MUNICIPALITY))
    secrets = [
        scenario.maj["id"],
        scenario.greta["identifier"]["value"],
        "Greta",
        "Lindqvist",
        "Hemlig",
        "SIP Greta",
        "Läkemedelslistan",
    ]
    assert (await sign_in(http, "kommun-0880", "planner", "Olle")).status_code == 303
    csrf = csrf_of((await http.get("/console/worklist")).text)
    for route in console_routes(app):
        rule = RULES[route.name]
        if rule == OPEN:
            continue
        form = {
            "csrf_token": csrf,
            "can_receive_from": "2030-01-01",
            "participant_id": "hemtj",
            "answer": "accepted",
            "title": "t",
            "text": "x",
        }
        if rule == AGGREGATE:
            # Kalmar's own figures: the scenario, all in Norrbotten, counts nowhere in them.
            response = await http.get(route.path, params=CHART)
            assert response.status_code == 200, (route.path, response.text)
            assert not [s for s in secrets if s in response.text], route.path
            continue
        method = "GET" if rule == PAGE else "POST"
        path = fill(route.path, ids(scenario))
        response = await http.request(method, path, data=form if method == "POST" else None)
        leaked = [s for s in secrets if s in response.text]
        assert not leaked, (path, leaked)
        if "{" not in route.path:
            assert response.status_code == 200, (path, response.status_code)
            continue
        # The answer is the one for an id that does not exist, word for word.
        absent = await http.request(
            method, fill(route.path, NOWHERE), data=form if method == "POST" else None
        )
        assert response.status_code == absent.status_code == 404, (path, response.status_code)
        assert blank(response.text, ids(scenario)) == blank(absent.text, NOWHERE), path
