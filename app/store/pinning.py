"""An engine pinned to one connection whose outer transaction is rolled back (the test suite).

While ``pinned(engine)`` is open, every ``UnitOfWork`` on that engine works inside a SAVEPOINT
of one connection instead of a transaction of its own: its commit releases the savepoint, its
rollback rolls back to it, and leaving it keeps the connection open. What the units of work
committed is seen by the next one on the connection, and all of it is undone when the block
ends, by rolling back the outer transaction.

Only one unit of work may be open on a pinned connection at a time: savepoints nest, they do not
interleave, so concurrent requests on a pinned engine are refused with ``PinnedOverlap``. Work
that needs commits other connections see (another process, a second engine, concurrent writers,
LISTEN/NOTIFY) cannot run on a pinned engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction


class PinnedOverlap(RuntimeError):
    """A unit of work was opened on a pinned connection while another was still open."""


@dataclass
class Pin:
    """The connection an engine is pinned to, and whether a unit of work is open on it."""

    connection: AsyncConnection
    busy: bool = False

    async def enter(self) -> AsyncTransaction:
        """A savepoint for a unit of work; refused while another unit of work is open."""
        if self.busy:
            raise PinnedOverlap(
                "a second unit of work was opened while one was open on the pinned connection "
                "(concurrent requests?); units of work on a pinned engine must run one at a time"
            )
        self.busy = True
        try:
            return await self.connection.begin_nested()
        except BaseException:
            self.busy = False
            raise

    def leave(self) -> None:
        """The unit of work is done with the connection."""
        self.busy = False


_PINS: dict[Engine, Pin] = {}


def pin_of(engine: AsyncEngine) -> Pin | None:
    """The pin of ``engine``, or None when its units of work open connections of their own."""
    return _PINS.get(engine.sync_engine)


@asynccontextmanager
async def pinned(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Pin ``engine`` to one connection for the block; everything written in it is undone."""
    if engine.sync_engine in _PINS:
        raise RuntimeError("the engine is already pinned")
    async with engine.connect() as connection:
        outer = await connection.begin()
        _PINS[engine.sync_engine] = Pin(connection)
        try:
            yield connection
        finally:
            del _PINS[engine.sync_engine]
            await outer.rollback()


@asynccontextmanager
async def connected(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for statements outside a unit of work (a readiness check's read).

    On a pinned engine it is the pinned connection, in a savepoint of its own that is released
    when the block ends and rolled back when it raises; a second connection would wait for the
    pinned transaction's lock on SQLite. Otherwise a connection of its own, nothing committed.
    """
    pin = pin_of(engine)
    if pin is None:
        async with engine.connect() as connection:
            yield connection
        return
    savepoint = await pin.enter()
    try:
        yield pin.connection
    except BaseException:
        if savepoint.is_active:
            await savepoint.rollback()
        raise
    else:
        await savepoint.commit()
    finally:
        pin.leave()
