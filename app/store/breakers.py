"""The endpoints' circuit breakers, kept in the database so that every dispatcher obeys them.

A row exists only while an endpoint is failing: its first failure inserts it and a success
deletes it, so the dispatcher's claim joins a table of the failing endpoints only. The rules are
in ``app.domain.breaker``; this module stores their outcome. A failure upserts its row and so
holds the row's lock until it commits (PostgreSQL; SQLite's writers are serial): two pushes to one
endpoint failing at once count twice, and a success deleting the row cannot slip in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Integer, String, Table, Text, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.breaker import Breaker, BreakerState
from app.store import tables as t

ORIGIN_LENGTH = 300

endpoint_breakers = Table(
    "endpoint_breakers",
    t.metadata,
    Column("origin", String(ORIGIN_LENGTH), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("opened_until", t.UTCDateTime, nullable=True),
    Column("probe_until", t.UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("updated_at", t.UTCDateTime, nullable=False),
)
b = endpoint_breakers


def _breaker(row: Row[Any]) -> Breaker:
    return Breaker(
        origin=row.origin,
        failures=row.failures,
        opened_until=row.opened_until,
        probe_until=row.probe_until,
        last_error=row.last_error,
    )


class BreakerRepository:
    """The failing endpoints' breakers."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, origin: str) -> Breaker:
        """The endpoint's breaker (closed, at no failures, when it has no row)."""
        row = (await self._conn.execute(select(b).where(b.c.origin == origin))).first()
        return _breaker(row) if row is not None else Breaker(origin)

    async def of_origins(self, origins: Sequence[str]) -> dict[str, Breaker]:
        """The breakers of these endpoints, by origin (closed ones included)."""
        rows = await self._conn.execute(select(b).where(b.c.origin.in_(set(origins))))
        found = {r.origin: _breaker(r) for r in rows}
        return {o: found.get(o, Breaker(o)) for o in origins}

    async def succeeded(self, origin: str) -> None:
        """A push to the endpoint was accepted: its breaker closes."""
        await self._conn.execute(delete(b).where(b.c.origin == origin))

    async def failed(
        self, origin: str, error: str, *, now: datetime, threshold: int, cooldown: timedelta
    ) -> Breaker:
        """A push to the endpoint failed: count it, and open the breaker at ``threshold``."""
        # One statement inserts the row or locks the one there: a success deleting it meanwhile
        # (another push to the same endpoint) cannot come between a read and the lock.
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(b).values(origin=origin, failures=0, updated_at=now)
        row = (
            await self._conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[b.c.origin], set_={"origin": insert.excluded.origin}
                ).returning(*b.c)
            )
        ).one()
        after = _breaker(row).failed(error[:500], now=now, threshold=threshold, cooldown=cooldown)
        await self._conn.execute(
            update(b)
            .where(b.c.origin == origin)
            .values(
                failures=after.failures,
                opened_until=after.opened_until,
                probe_until=after.probe_until,
                last_error=after.last_error,
                updated_at=now,
            )
        )
        return after

    async def take_probes(
        self, origins: Sequence[str], *, now: datetime, until: datetime
    ) -> set[str]:
        """Of these half-open endpoints, those whose one probe this claimer now holds.

        Taken with a conditional update, so of two dispatchers probing one endpoint at once only
        one succeeds.
        """
        if not origins:
            return set()
        rows = await self._conn.execute(
            update(b)
            .where(
                b.c.origin.in_(set(origins)),
                b.c.opened_until <= now,
                or_(b.c.probe_until.is_(None), b.c.probe_until < now),
            )
            .values(probe_until=until)
            .returning(b.c.origin)
        )
        return {r.origin for r in rows}

    async def counts(self, now: datetime) -> dict[BreakerState, int]:
        """How many endpoints are failing with a closed breaker, open, and half-open."""
        rows = await self._conn.execute(
            select(
                func.count().filter(b.c.opened_until.is_(None)),
                func.count().filter(b.c.opened_until > now),
                func.count().filter(b.c.opened_until <= now),
            )
        )
        closed, open_, half_open = rows.one()
        return {
            BreakerState.CLOSED: int(closed),
            BreakerState.OPEN: int(open_),
            BreakerState.HALF_OPEN: int(half_open),
        }
