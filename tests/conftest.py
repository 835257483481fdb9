"""Test fixtures: every database-backed test runs on SQLite and on PostgreSQL.

The schema comes from ``alembic upgrade head``, once per backend and test session, followed by the
demo data. Between tests the tables that tests write to are emptied; organizations stay, and tests
that create their own use fresh ids.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.services.demo import seed_demo
from app.settings import Environment, Settings
from app.store.database import create_engine, upgrade
from app.store.unit_of_work import UnitOfWork

POSTGRES_ENV = "SAMVERKAN_TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI", "").lower() == "true"
# Emptied between tests, children first. Organizations and cooperation areas are kept.
PER_TEST_TABLES = ("episode_events", "episodes", "persons", "idempotency_keys")


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


async def reset_postgres_schema(url: str) -> None:
    """Drop everything in the test database's public schema."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


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
def settings(database_url: str) -> Settings:
    """Settings for the test application on this backend."""
    return Settings(environment=Environment.TEST, database_url=database_url, max_body_bytes=65536)


@pytest.fixture(scope="session")
async def app_engine(settings: Settings) -> AsyncIterator[tuple[object, AsyncEngine]]:
    """The application, started (lifespan entered), and its engine."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app, app.state.engine


@pytest.fixture
async def engine(app_engine: tuple[object, AsyncEngine]) -> AsyncIterator[AsyncEngine]:
    """The application's engine; the per-test tables are emptied after each test."""
    _app, eng = app_engine
    yield eng
    async with eng.begin() as conn:
        for table in PER_TEST_TABLES:
            await conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def client(
    app_engine: tuple[object, AsyncEngine], engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the application in process."""
    app, _eng = app_engine
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def unique() -> Iterator[str]:
    """A short unique suffix for ids created by one test."""
    yield uuid.uuid4().hex[:10]
