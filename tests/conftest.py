"""Test fixtures: every database-backed test runs on SQLite and on PostgreSQL.

The schema comes from ``alembic upgrade head``, once per backend and test session, followed by the
demo data. A test runs on one connection whose outer transaction is rolled back at its end: the
application's engine is pinned to it (``app.store.pinning``), so each unit of work is a SAVEPOINT
of that transaction and nothing a test writes outlives it. A test that needs real commits (another
process or engine, concurrent requests) is marked ``@pytest.mark.committing``; one that reads the
outbox, ``@pytest.mark.committing("postgresql")`` (the outbox's snapshot visibility). Such a test
runs on the engine itself and the tables that tests write to are emptied after it;
organizations, clients and the append-only access log stay, and tests that create their own
use fresh ids.

HTTP clients authenticate as a real client does: a client is registered with a fresh key pair,
signs a client assertion and exchanges it at ``POST /auth/token`` for an access token. Every
request carries its own ``X-Request-ID``; after each test, every person whose id appeared in a
successful response must have an access-log entry of that request (DESIGN §10).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.errors import UnknownReference
from app.http.deps import get_now
from app.main import create_app
from app.security.assertions import generate_client_key, make_client_assertion
from app.security.clients import ASSERTION_TYPE, register_client
from app.services.demo import seed_demo
from app.settings import Environment, Settings
from app.store.database import create_engine, upgrade
from app.store.pinning import pin_of, pinned
from app.store.unit_of_work import UnitOfWork
from app.wiring import wire
from tests import fhir_medplum, fhir_node, fhir_schema
from tests.database import connected

POSTGRES_ENV = "SAMVERKAN_TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI", "").lower() == "true"
# Emptied between tests, children first. Organizations and cooperation areas are kept.
PER_TEST_TABLES = (
    "document_contents",
    "documents",
    "planning_bases",
    "bulletins",
    "deliveries",
    "outbox_events",
    "subscriptions",
    "endpoint_breakers",
    "deviation_rule_outcomes",
    "deviations",
    "care_message_recipients",
    "care_messages",
    "processed_messages",
    "meetings",
    "plan_follow_ups",
    "plan_versions",
    "plans",
    "liable_intervals",
    "statistics_daily",
    "episode_events",
    "episodes",
    "record_parties",
    "persons",
    "idempotency_keys",
    "console_sessions",
)
DEFAULT_ORG = "region-norrbotten"
ALL_SCOPES = "system/*.cruds"
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def postgres_url_or_skip() -> str:
    """The test PostgreSQL URL; skip without one, except in CI where it must exist."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if IN_CI:
            pytest.fail(f"CI=true but {POSTGRES_ENV} is not set: PostgreSQL must be exercised")
        pytest.skip(f"{POSTGRES_ENV} not set")
    return url


async def check_reachable(url: str) -> None:
    """Fail (in CI) or skip when the server does not answer."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {make_url(url).render_as_string()} unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    finally:
        await engine.dispose()


@asynccontextmanager
async def scratch_postgres(purpose: str) -> AsyncIterator[str]:
    """An empty database beside the test database, dropped afterwards.

    Named after the test database, so that runs against different test databases on one server
    never drop each other's scratch database.
    """
    url = postgres_url_or_skip()
    await check_reachable(url)
    scratch = f"{make_url(url).database}_{purpose}_scratch"
    admin = create_engine(url, pool_size=1).execution_options(isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)"))
            await conn.execute(text(f"CREATE DATABASE {scratch}"))
        yield make_url(url).set(database=scratch).render_as_string(hide_password=False)
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)"))
    finally:
        await admin.dispose()


async def reset_postgres_schema(url: str) -> None:
    """Drop everything in the test database's public schema."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def wired() -> None:
    """The adapters connected to the services' ports, as the server and the command do at
    start-up (tests also call services without either)."""
    wire()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A migrated database with the demo data, per backend."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "samverkan.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = postgres_url_or_skip()
        await check_reachable(url)
        await reset_postgres_schema(url)
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    try:
        async with UnitOfWork(engine) as uow:
            await seed_demo(uow)
            await uow.commit()
    finally:
        await engine.dispose()
    return url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the test application on this backend."""
    return Settings(
        environment=Environment.TEST,
        database_url=database_url,
        max_body_bytes=65536,
        signing_key_file=tmp_path_factory.mktemp("keys") / "signing-key.pem",
        access_token_lifetime_seconds=3600,
        rate_limit_per_minute=1_000_000,
    )


@pytest.fixture(scope="session")
async def app_engine(settings: Settings) -> AsyncIterator[tuple[object, AsyncEngine]]:
    """The application, started (lifespan entered), and its engine."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app, app.state.engine


@pytest.fixture
async def engine(
    request: pytest.FixtureRequest, app_engine: tuple[object, AsyncEngine], tokens: Tokens
) -> AsyncIterator[AsyncEngine]:
    """The application's engine, pinned to a connection whose transaction is rolled back after
    the test; for a ``committing`` test the engine itself, the per-test tables emptied after.

    ``@pytest.mark.committing("postgresql")`` commits on PostgreSQL alone: its outbox readers
    pass only rows of transactions older than every one of the database still running with an
    xid, which the test's own transaction never is (``app.store.outbox_visibility``), while
    SQLite's readers see them at once."""
    _app, eng = app_engine
    committing = request.node.get_closest_marker("committing")
    if committing is None or (committing.args and eng.dialect.name not in committing.args):
        async with pinned(eng):
            yield eng
        await tokens.settle()
        return
    yield eng
    async with eng.begin() as conn:
        for table in PER_TEST_TABLES:
            await conn.execute(text(f"DELETE FROM {table}"))


async def add_test_client(
    engine: AsyncEngine, organization_id: str, scopes: str, client_id: str, jwks: Any
) -> None:
    """Register a client with the public keys ``jwks``, committed."""
    async with UnitOfWork(engine) as uow:
        await register_client(
            uow,
            organization_id=organization_id,
            jwks=jwks,
            scopes=scopes,
            name=f"test client of {organization_id}",
            client_id=client_id,
        )
        await uow.commit()


async def register_test_client(
    engine: AsyncEngine, organization_id: str, scopes: str, alg: str = "ES384"
) -> tuple[str, bytes, str]:
    """Register a client with a fresh key pair: (client id, private PEM, kid)."""
    pem, jwks = generate_client_key(alg)
    client_id = f"test-{organization_id}-{uuid.uuid4().hex[:8]}"
    await add_test_client(engine, organization_id, scopes, client_id, jwks)
    return client_id, pem, jwks["keys"][0]["kid"]


async def fetch_token(
    http: httpx.AsyncClient, settings: Settings, client_id: str, pem: bytes, kid: str, alg: str
) -> httpx.Response:
    """POST /auth/token with a fresh client assertion, as a SMART backend client does."""
    assertion = make_client_assertion(
        pem,
        kid=kid,
        alg=alg,
        client_id=client_id,
        token_endpoint=settings.token_endpoint,
        now=datetime.now(UTC),
    )
    return await http.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
    )


class Tokens:
    """Access tokens per (organization, scopes), obtained once per backend and session.

    A client registered during a rolled-back test is gone after it: ``settle`` registers it again,
    committed, so that its cached token stays good (or forgets the token when its organization
    was the test's own).
    """

    def __init__(self, app: object, engine: AsyncEngine, settings: Settings) -> None:
        self.app, self.engine, self.settings = app, engine, settings
        self._cache: dict[tuple[str, str], str] = {}
        self._rolled_back: dict[tuple[str, str], tuple[str, Any]] = {}

    async def get(self, organization_id: str, scopes: str = ALL_SCOPES) -> str:
        """A valid access token for a client of the organization holding exactly ``scopes``."""
        key = (organization_id, scopes)
        if key not in self._cache:
            pem, jwks = generate_client_key("ES384")
            client_id = f"test-{organization_id}-{uuid.uuid4().hex[:8]}"
            await add_test_client(self.engine, organization_id, scopes, client_id, jwks)
            if pin_of(self.engine) is not None:
                self._rolled_back[key] = (client_id, jwks)
            kid = jwks["keys"][0]["kid"]
            transport = httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url=self.settings.issuer) as h:
                response = await fetch_token(h, self.settings, client_id, pem, kid, "ES384")
            assert response.status_code == 200, response.text
            self._cache[key] = response.json()["access_token"]
        return self._cache[key]

    async def settle(self) -> None:
        """Commit the clients whose registration a rolled-back test undid."""
        rolled_back, self._rolled_back = self._rolled_back, {}
        for (organization_id, scopes), (client_id, jwks) in rolled_back.items():
            try:
                await add_test_client(self.engine, organization_id, scopes, client_id, jwks)
            except UnknownReference:
                del self._cache[(organization_id, scopes)]


@pytest.fixture(scope="session")
def tokens(app_engine: tuple[object, AsyncEngine], settings: Settings) -> Tokens:
    """Access tokens for test clients, per organization and scopes."""
    app, eng = app_engine
    return Tokens(app, eng, settings)


class Seen:
    """Requests made in a test, by request id, with the person ids their responses named."""

    def __init__(self) -> None:
        self.persons_by_request: dict[str, set[str]] = {}
        self.paths: dict[str, str] = {}
        self.fhir_problems: list[str] = []
        self.fhir_checked = 0


class FhirCollector:
    """Every distinct FHIR resource the service returned during the session, and where first."""

    def __init__(self) -> None:
        self.resources: dict[str, dict[str, Any]] = {}
        self.where: dict[str, str] = {}

    def add(self, body: dict[str, Any], where: str = "") -> None:
        key = json.dumps(body, sort_keys=True)
        self.resources.setdefault(key, body)
        self.where.setdefault(key, where)

    def medplum_problems(self) -> list[tuple[str, list[str], dict[str, Any]]]:
        """Medplum's findings: per refused resource, the request that first returned it, the
        problems and the resource. Known findings (``fhir_medplum.KNOWN``) are warnings."""
        refused = []
        for key, body in self.resources.items():
            problems = []
            for problem in fhir_medplum.problems([body]):
                why = fhir_medplum.excuse(body, problem)
                if why is None:
                    problems.append(problem)
                else:
                    warnings.warn(f"known FHIR finding, excused: {why}", stacklevel=1)
            if problems:
                refused.append((self.where[key], problems, body))
        return refused


@pytest.fixture(scope="session")
def fhir_responses() -> Iterator[FhirCollector]:
    """After the session: FHIR.js (npm `fhir`) and Medplum's StructureDefinition validator
    report no error on any FHIR response."""
    collector = FhirCollector()
    yield collector
    if not fhir_node.available() or not fhir_medplum.available():
        if IN_CI:
            pytest.fail(
                "Node, the npm fhir or @medplum packages are missing; `make test` installs them"
            )
    failures = []
    if fhir_node.available():
        found = fhir_node.problems(list(collector.resources.values()))
        if found:
            failures.append("FHIR.js refuses FHIR responses:\n" + "\n".join(found[:20]))
    if fhir_medplum.available():
        refused = collector.medplum_problems()
        if refused:
            failures.append(
                "Medplum's R4 StructureDefinition validator refuses FHIR responses:\n"
                + "\n".join(
                    f"{where}: {p}" for where, problems, _ in refused[:20] for p in problems
                )
                + f"\nthe first of them: {json.dumps(refused[0][2])[:4000]}"
            )
            # To see every refused resource whole: SAMVERKAN_FHIR_REFUSED=<file> (JSON lines).
            if os.environ.get("SAMVERKAN_FHIR_REFUSED"):
                Path(os.environ["SAMVERKAN_FHIR_REFUSED"]).write_text(
                    "".join(
                        json.dumps({"where": w, "problems": f, "resource": r}) + "\n"
                        for w, f, r in refused
                    ),
                    encoding="utf-8",
                )
    assert not failures, "\n".join(failures)


@pytest.fixture
async def seen_requests(engine: AsyncEngine) -> AsyncIterator[Seen]:
    """After the test: every person named in a successful response was logged for that request."""
    seen = Seen()
    yield seen
    await assert_access_logged(engine, seen)
    assert not seen.fhir_problems, "FHIR responses break the R4 JSON schema:\n" + "\n".join(
        seen.fhir_problems[:10]
    )


async def assert_access_logged(engine: AsyncEngine, seen: Seen) -> None:
    """Fail unless each (request, person) pair of ``seen`` has an access-log entry."""
    named = {p for persons in seen.persons_by_request.values() for p in persons}
    if not named:
        return
    async with connected(engine) as conn:
        persons = set(
            (
                await conn.execute(
                    text("SELECT id FROM persons WHERE id IN :ids").bindparams(
                        bindparam("ids", expanding=True)
                    ),
                    {"ids": sorted(named)},
                )
            ).scalars()
        )
        logged = {
            (row.request_id, row.person_id)
            for row in (
                await conn.execute(
                    text(
                        "SELECT request_id, person_id FROM access_log WHERE request_id IN :ids"
                    ).bindparams(bindparam("ids", expanding=True)),
                    {"ids": sorted(seen.persons_by_request)},
                )
            )
        }
    missing = [
        (seen.paths.get(request_id, request_id), person_id)
        for request_id, named_here in seen.persons_by_request.items()
        for person_id in sorted(named_here & persons)
        if (request_id, person_id) not in logged
    ]
    assert not missing, f"responses named persons without an access-log entry: {missing[:5]}"


def fhir_schema_available() -> bool:
    """Whether the FHIR JSON schema is there (``make test`` fetches it); in CI it must be."""
    if fhir_schema.schema_path().exists():
        return True
    if IN_CI:
        pytest.fail(f"the FHIR JSON schema is missing at {fhir_schema.schema_path()}")
    return False


ClientFor = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def client_for(
    app_engine: tuple[object, AsyncEngine],
    engine: AsyncEngine,
    tokens: Tokens,
    seen_requests: Seen,
    fhir_responses: FhirCollector,
) -> AsyncIterator[ClientFor]:
    """Make HTTP clients acting for an organization: ``await client_for("kommun-2580")``."""
    app, _eng = app_engine
    opened: list[httpx.AsyncClient] = []
    fhir_check = fhir_schema_available()

    async def tag(request: httpx.Request) -> None:
        request.headers.setdefault("X-Request-ID", uuid.uuid4().hex)

    async def note(response: httpx.Response) -> None:
        if response.headers.get("content-type", "").startswith("application/fhir+json"):
            await response.aread()
            where = f"{response.request.method} {response.request.url.path}"
            if fhir_check:
                seen_requests.fhir_checked += 1
                seen_requests.fhir_problems += [
                    f"{where}: {p}" for p in fhir_schema.problems(response.json())
                ]
            fhir_responses.add(response.json(), where)
        if response.status_code < 300:
            await response.aread()
            found = set(UUID_TEXT.findall(response.text))
            if found:
                request_id = response.request.headers["X-Request-ID"]
                seen_requests.persons_by_request.setdefault(request_id, set()).update(found)
                seen_requests.paths[request_id] = (
                    f"{response.request.method} {response.request.url.path}"
                )

    async def make(
        organization_id: str | None = DEFAULT_ORG, scopes: str = ALL_SCOPES
    ) -> httpx.AsyncClient:
        headers = {}
        if organization_id is not None:
            token = await tokens.get(organization_id, scopes)
            headers["Authorization"] = f"Bearer {token}"
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        http = httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers=headers,
            event_hooks={"request": [tag], "response": [note]},
        )
        opened.append(http)
        return http

    yield make
    for http in opened:
        await http.aclose()


@pytest.fixture
async def client(client_for: ClientFor) -> httpx.AsyncClient:
    """An HTTP client acting for Region Norrbotten with every system scope."""
    return await client_for()


@pytest.fixture
async def municipality(client_for: ClientFor) -> httpx.AsyncClient:
    """An HTTP client acting for Luleå kommun (kommun-2580) with every system scope."""
    return await client_for("kommun-2580")


@pytest.fixture
async def anonymous(client_for: ClientFor) -> httpx.AsyncClient:
    """An HTTP client without a token."""
    return await client_for(None)


@pytest.fixture
def server_env() -> dict[str, str]:
    """More environment for a `samverkan serve` process; a test module overrides it."""
    return {}


@pytest.fixture
def now() -> datetime:
    """The test's now, in whole seconds, taken as the test starts: one taken at import would be
    the day before for a test that runs after midnight, and the app's "today" would not be its."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def unique() -> Iterator[str]:
    """A short unique suffix for ids created by one test."""
    yield uuid.uuid4().hex[:10]


class Clock:
    """The instant the application's routes take as now; None: the real time."""

    def __init__(self) -> None:
        self.at: datetime | None = None


@pytest.fixture
def clock(app_engine: tuple[Any, AsyncEngine]) -> Iterator[Clock]:
    """Set the time the routes see (``clock.at = ...``), for scenarios of past months and for
    moments around midnight; the real time comes back after the test."""
    app, _eng = app_engine
    found = Clock()

    async def now() -> datetime:
        return found.at or datetime.now(UTC)

    app.dependency_overrides[get_now] = now
    yield found
    app.dependency_overrides.pop(get_now, None)
