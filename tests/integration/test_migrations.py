"""The schema exists only through migrations: they go up to head and back down, on both engines,
and the head matches the tables the code queries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from app.store.database import (
    alembic_config,
    create_engine,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from app.store.tables import metadata
from tests.conftest import scratch_postgres


async def _table_names(url: str) -> set[str]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    async with scratch_postgres("migration") as url:
        yield url


async def test_upgrade_to_head_and_down_to_base(empty_database: str) -> None:
    await asyncio.to_thread(upgrade, empty_database)
    tables = await _table_names(empty_database)
    assert set(metadata.tables) <= tables
    engine = create_engine(empty_database, pool_size=1)
    try:
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()

    # the migrations create exactly what the code's tables describe
    await asyncio.to_thread(command.check, alembic_config(empty_database))

    await asyncio.to_thread(downgrade, empty_database)
    assert await _table_names(empty_database) <= {"alembic_version"}
