"""Session security of the web console: CSRF tokens, idle and absolute timeouts, sign-out,
session fixation, cookie flags, the development sign-in refused in production, and the access
log naming the signed-in person."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.services.console_sessions import session_id_of
from app.settings import Environment, Settings
from tests.conftest import ClientFor
from tests.console.scenario import csrf_of, person, sign_in
from tests.database import connected
from tests.factories import admit

BASE = "http://127.0.0.1:8000"


@pytest.fixture
async def browser(
    app_engine: tuple[FastAPI, AsyncEngine], engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping HTTP client in front of the console, as a browser is."""
    app, _ = app_engine
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http


async def test_a_page_without_a_session_sends_to_sign_in(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/console/plans?status=active")
    assert response.status_code == 303
    assert (
        response.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fplans%3Fstatus%3Dactive"
    )
    page = await browser.get(response.headers["location"])
    assert page.status_code == 200 and "Development sign-in" in page.text
    # The sign-in form's session is anonymous: it opens no page.
    assert (await browser.get("/console/worklist")).status_code == 303


async def test_sign_in_sets_a_fresh_http_only_lax_cookie(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/console/sign-in")
    before = browser.cookies["samverkan_console"]
    assert "httponly" in page.headers["set-cookie"].lower()
    assert "samesite=lax" in page.headers["set-cookie"].lower()
    # Plain http on loopback in a test environment: not Secure (the browser would drop it).
    assert "secure" not in page.headers["set-cookie"].lower()
    signed = await browser.post(
        "/console/sign-in/dev",
        data={"csrf_token": csrf_of(page.text), "organization": "kommun-2580", "role": "planner"},
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/console/worklist"
    after = browser.cookies["samverkan_console"]
    assert after != before, "signing in must replace the session token (session fixation)"
    worklist = await browser.get("/console/worklist")
    assert worklist.status_code == 200 and "Luleå kommun" in worklist.text
    assert worklist.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in worklist.headers["content-security-policy"]
    # The token planted before sign-in opens nothing.
    browser.cookies.set("samverkan_console", before)
    assert (await browser.get("/console/worklist")).status_code == 303


async def test_forms_without_the_csrf_token_are_refused(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/console/sign-in")
    missing = await browser.post(
        "/console/sign-in/dev", data={"organization": "kommun-2580", "role": "planner"}
    )
    assert missing.status_code == 403 and "security token" in missing.text
    wrong = await browser.post(
        "/console/sign-in/dev",
        data={"csrf_token": "x" * 43, "organization": "kommun-2580", "role": "planner"},
    )
    assert wrong.status_code == 403
    assert (await sign_in(browser, "kommun-2580", "planner")).status_code == 303
    for path, form in [
        ("/console/inbox/1/acknowledgement", {"outcome": "ok"}),
        ("/console/episodes/nope/municipality-response", {"can_receive_from": "2026-12-01"}),
        ("/console/meetings/nope/reply", {"participant_id": "p", "answer": "accepted"}),
        ("/console/notice-boards/region-norrbotten/bulletins", {"title": "t", "text": "x"}),
        ("/console/sign-out", {}),
    ]:
        response = await browser.post(path, data=form)
        assert response.status_code == 403, (path, response.status_code)
    # The session's own token from another session's page is no good either.
    assert (await browser.get("/console/worklist")).status_code == 200
    assert "csrf_token" in page.text
    stolen = await browser.post("/console/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert stolen.status_code == 403


@pytest.mark.parametrize(
    ("column", "age"),
    [("last_seen_at", timedelta(minutes=31)), ("created_at", timedelta(hours=13))],
)
async def test_an_expired_session_is_sent_to_sign_in(
    browser: httpx.AsyncClient, engine: AsyncEngine, column: str, age: timedelta
) -> None:
    assert (await sign_in(browser, "kommun-2580", "planner")).status_code == 303
    assert (await browser.get("/console/plans")).status_code == 200
    signed_in = session_id_of(browser.cookies["samverkan_console"])
    async with connected(engine) as conn:
        await conn.execute(
            text(f"UPDATE console_sessions SET {column} = :at WHERE id = :id"),
            {"at": datetime.now(UTC) - age, "id": signed_in},
        )
    response = await browser.get("/console/plans")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fplans&expired=1"
    page = await browser.get(response.headers["location"])
    assert "Your session has ended" in page.text
    fresh = session_id_of(browser.cookies["samverkan_console"])
    async with connected(engine) as conn:
        kept = await conn.execute(
            text("SELECT id FROM console_sessions WHERE id IN (:old, :new)"),
            {"old": signed_in, "new": fresh},
        )
        left = {row.id for row in kept}
    assert left == {fresh} and fresh != signed_in, "the expired session is removed, a fresh one set"


async def test_sign_out_ends_the_session_everywhere(browser: httpx.AsyncClient) -> None:
    assert (await sign_in(browser, "kommun-2580", "mas")).status_code == 303
    token = browser.cookies["samverkan_console"]
    page = await browser.get("/console/deviations")
    out = await browser.post("/console/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/console/sign-in"
    assert 'samverkan_console=""' in out.headers["set-cookie"]
    browser.cookies.set("samverkan_console", token)
    assert (await browser.get("/console/deviations")).status_code == 303


@pytest.mark.committing
async def test_development_sign_in_is_refused_in_production(
    settings: Settings, browser: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    production = settings.model_copy(
        update={"environment": Environment.PRODUCTION, "public_base_url": "https://console.test"}
    )
    app = create_app(production)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://console.test"
        ) as http,
    ):
        page = await http.get("/console/sign-in")
        assert page.status_code == 200
        assert "Development sign-in" not in page.text and 'name="organization"' not in page.text
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("__Host-samverkan_console=") and "Secure" in cookie
        # A hand-made form with the session's own CSRF token is refused all the same.
        token = cookie.split(";")[0].split("=", 1)[1]
        async with connected(engine) as conn:
            csrf = (
                await conn.execute(
                    text("SELECT csrf_token FROM console_sessions WHERE id = :id"),
                    {"id": session_id_of(token)},
                )
            ).scalar_one()
        refused = await http.post(
            "/console/sign-in/dev",
            data={"csrf_token": csrf, "organization": "kommun-2580", "role": "mas"},
        )
        assert refused.status_code == 403
        assert "development sign-in is off in production" in refused.text
        assert (await http.get("/console/worklist")).status_code == 303
    # The same form outside production signs in.
    assert (await sign_in(browser, "kommun-2580", "mas")).status_code == 303


async def test_pages_log_the_signed_in_person_as_end_user(
    browser: httpx.AsyncClient,
    client_for: ClientFor,
    engine: AsyncEngine,
    app_engine: tuple[FastAPI, AsyncEngine],
) -> None:
    hospital = await client_for("region-norrbotten")
    greta = await person(hospital, "Greta", "Loggad")
    await admit(hospital, greta["id"], datetime.now(UTC) - timedelta(days=1))
    assert (
        await sign_in(browser, "kommun-2580", "planner", name="Anna Planerare")
    ).status_code == 303
    for index, path in enumerate(("/console/worklist", f"/console/persons/{greta['id']}")):
        page = await browser.get(path, headers={"X-Request-ID": f"console-page-{index}"})
        assert page.status_code == 200 and "Loggad" in page.text
    async with connected(engine) as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT client_id, organization_id, user_id, resource_type, request_id "
                    "FROM access_log WHERE person_id = :p AND client_id = 'console'"
                ),
                {"p": greta["id"]},
            )
        ).all()
    assert {r.user_id for r in rows} == {"dev:Anna Planerare"}
    assert {r.organization_id for r in rows} == {"kommun-2580"}
    assert {"Encounter", "Patient"} <= {r.resource_type for r in rows}
    assert {r.request_id for r in rows} == {"console-page-0", "console-page-1"}
    # Someone without a care relation gets the page that says nothing, and the refusal is logged.
    app, _ = app_engine
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as other:
        assert (await sign_in(other, "kommun-0880", "planner", name="Olle")).status_code == 303
        refused = await other.get(f"/console/persons/{greta['id']}")
        assert refused.status_code == 404 and "Loggad" not in refused.text
    async with connected(engine) as conn:
        denied = (
            (
                await conn.execute(
                    text(
                        "SELECT outcome FROM access_log "
                        "WHERE person_id = :p AND user_id = 'dev:Olle'"
                    ),
                    {"p": greta["id"]},
                )
            )
            .scalars()
            .all()
        )
    assert denied == ["denied"]
