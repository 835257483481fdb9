"""Writes a unit of work leaves for the request's last statement (``UnitOfWork.defer``).

``$process-message`` announces its last statement (the stored response) once it claimed the
message; on PostgreSQL the outbox's writes then ride that statement. A unit of work that commits
without it still writes them, and a savepoint never leaves its writes behind.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from app.delivery.outbox import emit
from app.domain.message_events import MessageEvent
from app.store.unit_of_work import UnitOfWork

NOW = datetime.now(UTC)


async def queue(uow: UnitOfWork, stream: str) -> str:
    return await emit(
        uow,
        event=MessageEvent.DISCHARGE_READY,
        stream=stream,
        person_id=None,
        receivers=["kommun-2580"],
        payload={"focus": stream},
        now=NOW,
    )


async def test_writes_left_for_a_last_statement_that_never_came_are_written_at_commit(
    engine: AsyncEngine,
) -> None:
    postgres = engine.dialect.name == "postgresql"
    async with UnitOfWork(engine) as uow:
        uow.announce_last_statement()
        assert uow.defers_writes is postgres
        event_id = await queue(uow, "Encounter/deferred")
        written_now = await uow.outbox.inbox_item_of(event_id, ["kommun-2580"])
        assert (written_now is None) is postgres
        await uow.commit()
    async with UnitOfWork(engine) as uow:
        assert await uow.outbox.inbox_item_of(event_id, ["kommun-2580"]) is not None


async def test_a_savepoint_writes_its_events_itself(engine: AsyncEngine) -> None:
    async with UnitOfWork(engine) as uow:
        uow.announce_last_statement()
        async with uow.savepoint():
            assert not uow.defers_writes
            kept = await queue(uow, "Encounter/kept")
        try:
            async with uow.savepoint():
                undone = await queue(uow, "Encounter/undone")
                raise RuntimeError("undo")
        except RuntimeError:
            pass
        assert uow.take_riders() == ((), {})
        assert await uow.outbox.inbox_item_of(kept, ["kommun-2580"]) is not None
        assert await uow.outbox.inbox_item_of(undone, ["kommun-2580"]) is None
