"""Which deliveries the outbox's readers pass on PostgreSQL (``app.store.outbox_visibility``):
not past a transaction of this database that holds an xid, so a cursor never skips a row that
commits later; but a transaction of another database on the same server, or one here that has
written nothing, delays neither the inbox nor the dispatcher."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from app.domain.delivery import Topic
from app.domain.outbox import parse_cursor
from app.store import tables as t
from app.store.outbox import OutboxRepository
from app.store.unit_of_work import UnitOfWork
from tests.integration.test_outbox import NOW, new_subscription, queue

# Committing: two transactions at once, and a second engine on another database.
pytestmark = pytest.mark.committing("postgresql")

RECEIVER = "kommun-2580"


@pytest.fixture
async def elsewhere(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """An engine on a scratch database beside the test database, on the same server."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no other databases' transactions, nor concurrent writers")
    name = f"{engine.url.database}_other"
    admin = create_async_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                # template0: nobody is ever connected to it, unlike template1.
                await conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        other = create_async_engine(engine.url.set(database=name), poolclass=NullPool)
        try:
            yield other
        finally:
            await other.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def holds_xid(conn: AsyncConnection) -> int:
    """Give the connection's open transaction an xid, as its first write would; return it."""
    return int(await conn.scalar(text("SELECT CAST(CAST(pg_current_xact_id() AS text) AS bigint)")))


async def subscribe(engine: AsyncEngine) -> None:
    async with UnitOfWork(engine) as uow:
        await uow.subscriptions.add(new_subscription(Topic.DISCHARGE_READY), NOW)
        await uow.commit()


async def committed(engine: AsyncEngine, stream: str) -> None:
    async with UnitOfWork(engine) as uow:
        await queue(uow, stream, [RECEIVER])
        await uow.commit()


async def poll(engine: AsyncEngine, cursor: str | None = None) -> tuple[list[str], str | None]:
    """Everything in the receiver's inbox after ``cursor``, one item a page, as a poller walks
    it; the streams and the cursor after the last."""
    streams: list[str] = []
    while True:
        async with UnitOfWork(engine) as uow:
            page = await uow.outbox.inbox(
                [RECEIVER],
                after=parse_cursor(cursor) if cursor else None,
                limit=1,
                event=None,
                person_id=None,
            )
        streams += [item.event.stream for item in page.items]
        if page.items:
            cursor = page.items[-1].cursor
        if page.next_cursor is None:
            return streams, cursor


async def claimed(engine: AsyncEngine) -> list[str]:
    """The streams of the pushes a dispatcher claims now."""
    async with UnitOfWork(engine) as uow:
        pushes = await uow.outbox.claim("w", now=NOW, lease_until=NOW, limit=10, per_endpoint=10)
        await uow.commit()
    return [delivery.event.stream for delivery, _subscription in pushes]


async def test_a_transaction_of_another_database_delays_neither_inbox_nor_dispatcher(
    engine: AsyncEngine, elsewhere: AsyncEngine
) -> None:
    await subscribe(engine)
    async with elsewhere.connect() as other:
        other_xid = await holds_xid(other)
        await committed(engine, "Encounter/beside-another-database")
        async with engine.connect() as conn:
            xmin = await conn.scalar(
                text("SELECT CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS bigint)")
            )
            txid = await conn.scalar(select(func.max(t.deliveries.c.txid)))
        # The snapshot's xmin is the other database's transaction: below it, nothing would show.
        assert xmin <= other_xid < txid
        assert (await poll(engine))[0] == ["Encounter/beside-another-database"]
        assert await claimed(engine) == ["Encounter/beside-another-database"]
        await other.rollback()


async def test_an_open_writer_here_holds_back_every_later_row_until_it_commits(
    engine: AsyncEngine, elsewhere: AsyncEngine
) -> None:
    await subscribe(engine)
    await committed(engine, "Encounter/before")
    async with elsewhere.connect() as other:
        await holds_xid(other)  # left out of the cutoff, but it does not make the rule lax
        seen, cursor = await poll(engine)
        assert seen == ["Encounter/before"]
        assert await claimed(engine) == ["Encounter/before"]
        slow = UnitOfWork(engine)
        await slow.__aenter__()
        try:
            # The slow transaction writes first (the lower txid and id) and commits last.
            await queue(slow, "Encounter/slow", [RECEIVER])
            await committed(engine, "Encounter/fast")
            # Passing the fast row now would move the poller's cursor past the slow one.
            assert await poll(engine, cursor) == ([], cursor)
            assert await claimed(engine) == []
            # Nor does the writer pass its own rows, which may yet roll back.
            own = await slow.outbox.inbox(
                [RECEIVER], after=None, limit=10, event=None, person_id=None
            )
            assert [item.event.stream for item in own.items] == ["Encounter/before"]
            await slow.commit()
        finally:
            await slow.__aexit__(None, None, None)
        assert (await poll(engine, cursor))[0] == ["Encounter/slow", "Encounter/fast"]
        assert await claimed(engine) == ["Encounter/slow", "Encounter/fast"]
        await other.rollback()


async def test_a_transaction_here_is_waited_for_before_it_writes_to_the_outbox(
    engine: AsyncEngine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers are serial")
    slow = UnitOfWork(engine)
    await slow.__aenter__()
    try:
        # Its first write is something else (an episode, say): that gives it its xid, which
        # the deliveries it writes later carry. Nothing tells a reader yet that it will.
        await slow.subscriptions.add(new_subscription(Topic.PLAN_CHANGES), NOW)
        await committed(engine, "Encounter/fast")
        assert (await poll(engine))[0] == []
        await queue(slow, "Encounter/slow", [RECEIVER])
        await slow.commit()
    finally:
        await slow.__aexit__(None, None, None)
    # Ordered before the row that committed first: a cursor past "fast" would have skipped it.
    assert (await poll(engine))[0] == ["Encounter/slow", "Encounter/fast"]


async def test_an_open_transaction_that_has_written_nothing_delays_no_reader(
    engine: AsyncEngine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers are serial")
    async with engine.connect() as report:
        # A long report: it reads, in a transaction kept open, but holds no xid.
        await report.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        await report.scalar(select(func.count()).select_from(t.deliveries))
        await committed(engine, "Encounter/during-the-report")
        assert (await poll(engine))[0] == ["Encounter/during-the-report"]
        await report.rollback()


async def test_a_reader_that_read_the_activity_earlier_sees_it_afresh(
    engine: AsyncEngine, elsewhere: AsyncEngine
) -> None:
    async with engine.connect() as reader:
        # The transaction's copy of the server's activity is taken here, before the other
        # database's transaction begins; the outbox's reader must not go by it.
        await reader.scalar(text("SELECT count(*) FROM pg_stat_activity"))
        async with elsewhere.connect() as other:
            await holds_xid(other)
            await committed(engine, "Encounter/after-the-copy")
            page = await OutboxRepository(reader).inbox(
                [RECEIVER], after=None, limit=10, event=None, person_id=None
            )
            assert [item.event.stream for item in page.items] == ["Encounter/after-the-copy"]
            await other.rollback()
        await reader.rollback()
