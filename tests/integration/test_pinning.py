"""The test suite's rolled-back transaction (``app.store.pinning``), on SQLite and PostgreSQL:
units of work on a pinned engine see what the earlier ones committed, a failed one undoes only
its own part, nothing outlives the block, two at once are refused, and a read outside a unit of
work (readiness) answers at once instead of waiting for the pinned transaction's lock."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.delivery import Topic
from app.store.database import current_revision, head_revision
from app.store.pinning import PinnedOverlap, pin_of, pinned
from app.store.unit_of_work import UnitOfWork
from tests.integration.test_outbox import NOW, new_subscription


async def stored(engine: AsyncEngine, subscription_id: str) -> bool:
    async with UnitOfWork(engine) as uow:
        return await uow.subscriptions.get(subscription_id) is not None


async def test_units_of_work_share_the_pinned_transaction_and_leave_nothing(
    app_engine: tuple[object, AsyncEngine],
) -> None:
    _app, engine = app_engine
    kept, failed, uncommitted = (new_subscription(Topic.MESSAGES) for _ in range(3))
    async with pinned(engine):
        async with UnitOfWork(engine) as uow:
            await uow.subscriptions.add(kept, NOW)
            await uow.commit()
        with pytest.raises(RuntimeError, match="refused"):
            async with UnitOfWork(engine) as uow:
                await uow.subscriptions.add(failed, NOW)
                raise RuntimeError("refused")
        async with UnitOfWork(engine) as uow:
            await uow.subscriptions.add(uncommitted, NOW)
        assert await stored(engine, kept.id)
        assert not await stored(engine, failed.id)
        assert not await stored(engine, uncommitted.id)
    assert pin_of(engine) is None
    assert not await stored(engine, kept.id)


async def test_two_units_of_work_at_once_are_refused_on_a_pinned_engine(
    app_engine: tuple[object, AsyncEngine],
) -> None:
    _app, engine = app_engine
    async with pinned(engine):
        async with UnitOfWork(engine):
            with pytest.raises(PinnedOverlap, match="one at a time"):
                async with UnitOfWork(engine):
                    pass
        # The refusal left the connection usable.
        assert not await stored(engine, "no-such-subscription")


async def test_readiness_reads_on_the_pinned_connection(
    app_engine: tuple[object, AsyncEngine],
) -> None:
    _app, engine = app_engine
    async with pinned(engine):
        async with UnitOfWork(engine) as uow:
            await uow.subscriptions.add(new_subscription(Topic.MESSAGES), NOW)
            await uow.commit()
        # On SQLite a second connection would wait out the busy timeout behind the write lock.
        revision = await asyncio.wait_for(current_revision(engine), timeout=5)
    assert revision == head_revision()
