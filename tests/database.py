"""A connection for a test's own SQL, on the test's rolled-back transaction when there is one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.store.database import create_engine
from app.store.pinning import connected as pinned_connection
from app.store.pinning import pin_of


@asynccontextmanager
async def connected(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """``engine.begin()`` for a test: what the block does is kept when it ends and undone when it
    raises. On a pinned engine (the test's connection, see ``tests/conftest.py``) the block is a
    savepoint of the test's transaction, so it sees what the test's requests wrote; a committing
    test gets a transaction of its own."""
    if pin_of(engine) is None:
        async with engine.begin() as conn:
            yield conn
        return
    async with pinned_connection(engine) as conn:
        yield conn


async def drop_every_connection(engine: AsyncEngine) -> None:
    """The database drops every connection to it but the one asking, as a restart would: from
    an engine of its own, so that the application's pool does not know."""
    killer = create_engine(engine.url.render_as_string(hide_password=False), pool_size=1)
    try:
        async with killer.connect() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await killer.dispose()
