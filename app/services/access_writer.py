"""Access-log entries of concurrent reads written together (issue 20).

A read that wrote its own access-log row committed on its own, and each commit waits for
PostgreSQL to flush its write-ahead log: under load most of a read's work in the database. The
writer instead collects the entries of the reads running at the same time and inserts them in
one statement, one commit for all of them. Durability is unchanged: each read awaits the commit
of the batch that holds its entry before its response is sent, and a batch that fails fails
every read in it, so no record is ever sent without its entry written.

Batching costs no waiting: the first entry is written at once, and the entries that arrive
while that insert runs go together in the next one, so the batches grow with the load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.access_log import AccessEntry
from app.store.unit_of_work import UnitOfWork


class AccessLogWriter:
    """This process's writer of grouped access-log entries."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._queued: list[tuple[Sequence[AccessEntry], asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def write(self, entries: Sequence[AccessEntry]) -> None:
        """Return once ``entries`` are committed; raise what their batch's insert raised."""
        done = asyncio.get_running_loop().create_future()
        self._queued.append((entries, done))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        try:
            # Let the reads already resumed in this turn of the loop queue their entries first.
            await asyncio.sleep(0)
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    # Its own transaction: one statement on PostgreSQL (a read-only unit of
                    # work's statements commit as they run), a savepoint under the test pin.
                    async with UnitOfWork(self._engine, reads_only=True) as uow:
                        await uow.access_log.append([e for entries, _ in batch for e in entries])
                        await uow.commit()
                except Exception as exc:  # every read of the batch fails with it
                    for _entries, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                except BaseException:  # cancelled (the process stops): so are the reads
                    for _entries, done in batch:
                        done.cancel()
                    raise
                else:
                    for _entries, done in batch:
                        if not done.done():
                            done.set_result(None)
        finally:
            self._flushing = None
