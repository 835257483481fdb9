"""The read of a stored projection before the router (``app.fhir.fast_read``, issue 20).

It serves a plain read that ends in a served, logged projection, and passes every other request
on untouched and unlogged, so the router answers it as before: these tests put a recorder in the
router's place to see which requests were passed on, and check what the full application sends
either way.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Receive, Scope, Send

from app.domain.identifiers import PERSONNUMMER
from app.domain.parties import Reach
from app.fhir.fast_read import FastRead
from app.security.rate_limit import RateLimiter
from app.store import tables as t
from app.store.checked_reads import StoredRow, _params, _stored_read
from app.store.parties import ReachShape
from app.store.projections import projector_of
from app.store.unit_of_work import UnitOfWork
from tests.conftest import ClientFor, Tokens
from tests.database import connected, drop_every_connection
from tests.e2e.test_fhir_projections import logged, read, set_projection
from tests.e2e.test_plan_rules import shared_plan
from tests.e2e.test_plan_scenarios import ok, register
from tests.factories import personnummer

PASSED_ON = b"passed on"


async def log_rows(engine: AsyncEngine) -> int:
    async with connected(engine) as conn:
        return int((await conn.execute(select(func.count()).select_from(t.access_log))).scalar())


def before_a_recorder(app: Any, passed: list[str]) -> Any:
    """The application's fast read in front of a recorder standing where the router is."""

    async def recorder(scope: Scope, receive: Receive, send: Send) -> None:
        passed.append(
            scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
        )
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": PASSED_ON})

    fast = FastRead(recorder)

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = app  # its state: the engine, the signing key, the caches
        await fast(scope, receive, send)

    return asgi


async def test_only_a_served_read_is_answered_and_nothing_is_logged_for_the_rest(
    app_engine: tuple[Any, AsyncEngine], client_for: ClientFor, engine: AsyncEngine, tokens: Tokens
) -> None:
    app, _engine = app_engine
    centre = await client_for("region-kalmar-hc-kalmar")
    person = await register(centre, "Snabbläst", date(1951, 2, 3))
    plan = await shared_plan(centre, person["id"], goals=[{"id": "g1", "description": "Hem"}])
    other = await shared_plan(centre, person["id"])
    path = f"/fhir/CarePlan/{plan['id']}"
    passed: list[str] = []

    async def get(
        url: str, organization: str | None = "region-kalmar-hc-kalmar", **kw: Any
    ) -> httpx.Response:
        headers = (
            {}
            if organization is None
            else {"Authorization": f"Bearer {await tokens.get(organization, **kw)}"}
        )
        transport = httpx.ASGITransport(app=before_a_recorder(app, passed))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.get(url, headers=headers)

    before = await log_rows(engine)
    served = await get(path)
    assert served.status_code == 200 and served.json()["id"] == plan["id"]
    assert passed == [] and await log_rows(engine) == before + 1
    # A projection made by an older mapper or of an older version is the router's to map.
    await set_projection(engine, other["id"], mapper_version=0)
    passing = [
        f"{path}?_format=json",
        f"{path}?_summary=true",
        f"/fhir/CarePlan/{other['id']}",
        "/fhir/CarePlan/no-such-plan",
        "/fhir/CarePlan/has%20space",
        f"/fhir/Encounter/{plan['id']}",
        f"/fhir/careplan/{plan['id']}",
        f"{path}/_history",
    ]
    for url in passing:
        assert (await get(url)).content == PASSED_ON, url
    # No token, a foreign token, a token without the read scope, a caller no party to the plan.
    assert (await get(path, organization=None)).content == PASSED_ON
    assert (await get(path, scopes="system/Patient.r")).content == PASSED_ON
    assert (await get(path, organization="region-norrbotten")).content == PASSED_ON
    transport = httpx.ASGITransport(app=before_a_recorder(app, passed))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        bad = await http.get(path, headers={"Authorization": "Bearer not.a.token"})
        assert bad.content == PASSED_ON
        token = await tokens.get("region-kalmar-hc-kalmar")
        # What the edge refuses (406, 400) is the edge's to answer.
        for headers in (
            {"Accept": "application/fhir+xml"},
            {"Accept": "application/fhir+json; fhirVersion=3.0"},
            {"X-Samverkan-User": "nul\x00byte"},
        ):
            refused = await http.get(path, headers={"Authorization": f"Bearer {token}", **headers})
            assert refused.content == PASSED_ON, headers
        accepted = await http.get(
            path, headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
        )
        assert accepted.status_code == 200, accepted.content
        before += 1
        posted = await http.post(
            path, headers={"Authorization": f"Bearer {await tokens.get('region-kalmar-hc-kalmar')}"}
        )
        assert posted.content == PASSED_ON
    assert len(passed) == len(passing) + 8
    assert await log_rows(engine) == before + 1


async def test_the_served_read_is_the_routers_read(
    client_for: ClientFor, engine: AsyncEngine
) -> None:
    centre = await client_for("region-kalmar-hc-kalmar")
    person = await register(centre, "Samma Svar", date(1952, 3, 4))
    plan = await shared_plan(centre, person["id"], goals=[{"id": "g1", "description": "Hem"}])
    path = f"/fhir/CarePlan/{plan['id']}"
    fast, fast_id = await read(centre, path)
    # A query parameter sends the same read through the router.
    routed, routed_id = await read(centre, f"{path}?_format=json")
    assert fast.status_code == routed.status_code == 200
    assert fast.content == routed.content
    # Every header, in the same order, but the request's own id.
    assert [(k, v) for k, v in fast.headers.raw if k != b"x-request-id"] == [
        (k, v) for k, v in routed.headers.raw if k != b"x-request-id"
    ]
    assert {"etag", "last-modified", "content-type", "content-length"} <= set(fast.headers)
    assert fast.headers["x-request-id"] == fast_id
    for request_id in (fast_id, routed_id):
        assert await logged(engine, request_id) == [
            ("read", "CarePlan", plan["id"], person["id"], "success")
        ]


async def test_a_request_passed_on_is_counted_once_against_the_rate_limit(
    app_engine: tuple[Any, AsyncEngine], client_for: ClientFor, engine: AsyncEngine
) -> None:
    app, _engine = app_engine
    centre = await client_for("region-kalmar-hc-kalmar")
    person = await register(centre, "Räknad En Gång", date(1953, 4, 5))
    plan = await shared_plan(centre, person["id"])
    stranger = await client_for("region-norrbotten")
    kept = app.state.rate_limiter
    app.state.rate_limiter = RateLimiter(3)
    try:
        # Each refused read passes the fast path's check of the caller, then the router's: three
        # are within a limit of three only if each is counted once.
        codes = [(await stranger.get(f"/fhir/CarePlan/{plan['id']}")).status_code for _ in range(4)]
    finally:
        app.state.rate_limiter = kept
    assert codes == [404, 404, 404, 429]


async def test_the_driver_runs_the_same_stored_read_as_sqlalchemy(
    client_for: ClientFor, engine: AsyncEngine
) -> None:
    """The fast read's statement on the asyncpg connection (``CheckedReads.stored``) answers
    the rows of the Core statement it was compiled from, for every shape of reach."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs the Core statement itself")
    centre = await client_for("region-kalmar-hc-kalmar")
    person = await register(centre, "Samma Rad", date(1954, 5, 6))
    plan = await shared_plan(centre, person["id"])
    protected = ok(
        await centre.post(
            "/api/v1/persons",
            json={
                "identifier": {"system": PERSONNUMMER, "value": personnummer(date(1945, 9, 2))},
                "given_name": "Skyddad",
                "family_name": "Exempel",
                "residence_municipality_id": "kommun-0880",
                "protected_identity": True,
            },
        ),
        201,
    )
    hidden = await shared_plan(centre, protected["id"])
    reaches = [
        Reach(frozenset({"region-kalmar-hc-kalmar"})),  # a unit, a party
        Reach(principal_id="region-kalmar"),  # a principal, a party through its units
        Reach(frozenset({"kommun-0880-hemtjanst", "kommun-0880"}), "kommun-0880"),
        Reach(frozenset({"region-norrbotten"})),  # no party
        Reach(principal_id="region-norrbotten"),
        Reach(),
    ]
    version = projector_of("CarePlan")
    assert version is not None
    seen: set[tuple[bool, bool]] = set()
    async with UnitOfWork(engine, reads_only=True) as uow:
        for plan_id in (plan["id"], hidden["id"], "no-such-plan"):
            for reach in reaches:
                core = (
                    await uow._connection.execute(
                        _stored_read("CarePlan", ReachShape.of(reach), False),
                        {**_params(plan_id, reach), "mapper_version": version.mapper_version},
                    )
                ).first()
                driven = await uow.checked.stored(
                    "CarePlan", plan_id, reach, None, version.mapper_version
                )
                assert (None if core is None else StoredRow(*core)) == driven, (plan_id, reach)
                seen.add((driven is not None, bool(driven and driven.within)))
    # Found and a party, found and no party, and missing were all compared.
    assert seen == {(True, True), (True, False), (False, False)}


@pytest.mark.committing
async def test_a_fast_read_on_a_lost_connection_answers_503_and_the_next_is_served(
    client_for: ClientFor, engine: AsyncEngine
) -> None:
    """The statement run on the driver fails as SQLAlchemy's would (a 503 OperationOutcome),
    and, as SQLAlchemy does, the pool replaces every connection the restart took: one read
    answers 503, not one per pooled connection."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL connections only")
    centre = await client_for("region-kalmar-hc-kalmar")
    person = await register(centre, "Tappad", date(1955, 6, 7))
    plan = await shared_plan(centre, person["id"])
    path = f"/fhir/CarePlan/{plan['id']}"
    # Several reads at once: the pool holds several connections when the database drops them.
    warm = await asyncio.gather(*(centre.get(path) for _ in range(6)))
    assert [a.status_code for a in warm] == [200] * 6
    await drop_every_connection(engine)
    answers = [await centre.get(path) for _ in range(4)]
    lost = [a for a in answers if a.status_code != 200]
    assert lost, "no read met the dropped connection"
    for answer in lost:
        assert answer.status_code == 503, answer.text
        assert answer.json()["resourceType"] == "OperationOutcome"
        assert plan["id"] not in answer.text
    assert len(lost) == 1 and answers[0] is lost[0], [a.status_code for a in answers]
    assert answers[-1].json()["id"] == plan["id"]
