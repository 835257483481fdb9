"""Access-log entries of concurrent reads written together (issue 20).

Every read on PostgreSQL writes its access-log entries here: the unit of work of a read
(``UnitOfWork``'s ``reads_only``, handed this writer by the edge) runs its statements as pure
SELECTs, and its ``commit`` calls ``write``. A read that wrote its own access-log row committed on
its own, and each commit waits for PostgreSQL to flush its write-ahead log: under load most of a
read's work in the database. The writer instead collects the entries of the reads running at the
same time and inserts them in one statement, one commit for all of them. Durability is
unchanged: each read awaits the commit of the batch that holds its entries before its response is
sent, and a batch that fails fails every read in it, so no record is ever sent without its entry
written (the edge then writes the read's entries as failed, ``write_failed_access``).

Batching costs no waiting: the first entry is written at once, and the entries that arrive
while that insert runs go together in the next one, so the batches grow with the load.

The insert is ``app.store.access_rows.appended`` (the one insert of access-log entries),
compiled once and run on the writer's own connection, which it keeps between batches: without
checking a connection out of the pool and back for each batch, and without SQLAlchemy's
execution of a compiled statement, as asyncpg's prepared statement (prepared once per
connection). A failure is raised as SQLAlchemy's ``DBAPIError`` (a 500 problem, or a 503 when
the connection was lost), as the same insert through SQLAlchemy would raise it; a connection
that was lost (or is as old as the pool's recycling age) is replaced for the next batch.

Under the test pin (``app.store.pinning``) a read writes its entries itself; a batch written here
(the writer's own tests) goes through the pinned connection, in a savepoint.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.domain.access_log import AccessEntry
from app.store.access_log import AccessLogRepository
from app.store.access_rows import appended, rows_params
from app.store.database import driver_error
from app.store.pinning import pin_of
from app.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)

# A connection the writer keeps is replaced when it is this old, as the pool replaces its own
# (``app.store.database``'s ``pool_recycle``).
RECYCLE_SECONDS = 1800


class AccessLogWriter:
    """This process's writer of grouped access-log entries."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._queued: list[tuple[Sequence[AccessEntry], asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None
        compiled = appended().compile(dialect=engine.dialect)
        self._sql = compiled.string
        self._order = list(compiled.positiontup or ())
        self._conn: AsyncConnection | None = None
        self._driver: Any = None  # the connection's asyncpg connection
        self._connected = 0.0
        # What this writer has written: its inserts and their entries (the statements run on
        # the driver's connection are not SQLAlchemy's, so its events do not see them; the
        # statement-count tests read these).
        self.inserts = 0
        self.entries = 0

    async def write(self, entries: Sequence[AccessEntry]) -> None:
        """Return once ``entries`` are committed; raise what their batch's insert raised."""
        done = asyncio.get_running_loop().create_future()
        self._queued.append((entries, done))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        await done

    async def close(self) -> None:
        """Give the writer's connection back (the application stops)."""
        conn, self._conn, self._driver = self._conn, None, None
        if conn is not None:
            await conn.close()

    async def _flush(self) -> None:
        try:
            # Let the reads already resumed in this turn of the loop queue their entries first.
            await asyncio.sleep(0)
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    await self._insert([e for entries, _ in batch for e in entries])
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

    async def _insert(self, entries: Sequence[AccessEntry]) -> None:
        """Insert ``entries`` by one statement that commits on its own."""
        if pin_of(self._engine) is not None:
            # The test pin: a savepoint of the pinned connection.
            async with UnitOfWork(self._engine) as uow:
                await uow.access_log.append(entries)
                await uow.commit()
            return
        conn, driver = self._conn, self._driver
        if conn is not None and (
            driver.is_closed() or time.monotonic() - self._connected > RECYCLE_SECONDS
        ):
            # Closed under it (a database restart), or as old as the pool lets a connection get.
            await self._drop()
            conn = None
        if conn is None:
            conn = await self._engine.connect()
            # Each statement its own transaction: the insert commits as it runs.
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            driver = (await conn.get_raw_connection()).driver_connection
            self._conn, self._driver, self._connected = conn, driver, time.monotonic()
        try:
            # (An entry that names no principal gets its organization's, read by a statement.)
            params = rows_params(await AccessLogRepository(conn).rows(entries))
            arguments = [params[name] for name in self._order]
            try:
                await driver.execute(self._sql, *arguments)
            except Exception as exc:
                raise driver_error(self._sql, None, exc, driver) from exc
            self.inserts += 1
            self.entries += len(entries)
        except DBAPIError as exc:
            # A statement refused (a value no column holds) leaves the connection as it was;
            # a lost one is dropped, and the next batch takes a fresh one.
            if exc.connection_invalidated or driver.is_closed():
                await self._drop()
            raise
        except BaseException:
            # Cancelled mid-statement, or failed otherwise: its state is unknown.
            await self._drop()
            raise

    async def _drop(self) -> None:
        conn, self._conn, self._driver = self._conn, None, None
        if conn is None:
            return
        try:
            await conn.invalidate()
            await conn.close()
        except Exception:
            logger.exception("could not drop the access-log writer's connection")
