"""Engines and migrations for the two supported stores: SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.store.pinning import connected

ROOT = Path(__file__).resolve().parent.parent.parent


def sqlite_local_day(stored: str | None, zone: str) -> int | None:
    """A timestamp as SQLite stores it (naive UTC) to its local date in ``zone``, as days since
    1970-01-01."""
    if stored is None:
        return None
    moment = datetime.fromisoformat(stored).replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
    return (moment.date() - date(1970, 1, 1)).days


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine for ``url``; SQLite gets foreign keys, WAL and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # SQLite knows no time zones: the statistics' local dates come from this function
            # (PostgreSQL uses AT TIME ZONE; see app.store.sql).
            dbapi_connection.create_function(
                "sv_local_day", 2, sqlite_local_day, deterministic=True
            )
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            # A REPLACE deletes the row it replaces; with recursive triggers that delete fires the
            # access log's DELETE trigger, which refuses it (migration 0013 adds a second guard).
            cursor.execute("PRAGMA recursive_triggers=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Take the write lock at BEGIN so two writers queue instead of failing on upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        # pysqlite's own transaction handling must be off for the explicit BEGIN above.
        @event.listens_for(engine.sync_engine, "connect", insert=True)
        def _sqlite_autocommit(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        return engine
    # No pre-ping: it costs a round trip on every request. A connection the server dropped (a
    # restart) fails its request once and the pool is then invalidated and refilled; connections
    # are also recycled every half hour.
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False, pool_recycle=1800
    )


def driver_error(statement: str, arguments: Any, exc: Exception, driver: Any) -> DBAPIError:
    """A statement run on the asyncpg connection itself (``driver``) failed with ``exc``: the
    error SQLAlchemy would have raised for it, so that the edge answers it as any database error
    (a 500 problem, a 503 when the connection was lost)."""
    return DBAPIError(statement, arguments, exc, connection_invalidated=driver.is_closed())


async def connection_lost(conn: AsyncConnection, exc: BaseException) -> None:
    """A statement run on ``conn``'s asyncpg connection found it lost: what SQLAlchemy does when
    one of its own statements meets a disconnect. Every connection the pool made before now is
    replaced at its next checkout (a database restart took them all: one request answers 503,
    not one per pooled connection), and this one is invalidated."""
    sync = conn.sync_connection
    if sync is not None and not sync.invalidated:
        # SQLAlchemy's own disconnect handling calls the same (Connection._handle_dbapi_exception).
        sync.engine.pool._invalidate(sync.connection, exc, _checkin=False)
    await conn.invalidate(exc)


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at the repository's migrations and ``url``."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = url
    return config


def head_revision() -> str | None:
    """The revision the code expects the database to be at."""
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking; runs its own event loop)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Revert migrations down to ``revision`` (blocking; runs its own event loop)."""
    command.downgrade(alembic_config(url), revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision recorded in the database, or None when it was never migrated."""
    async with connected(engine) as conn:
        has_table = await conn.run_sync(
            lambda sync: sync.dialect.has_table(sync, "alembic_version")
        )
        if not has_table:
            return None
        return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
