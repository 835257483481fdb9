"""The unit of work: one database transaction per request, committed once at the edge.

Repositories and services only execute and flush; nothing commits except ``UnitOfWork.commit``,
which the request wrapper calls after the route succeeded. Leaving the block without commit
rolls back, so a failed request writes nothing.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.store.repositories import (
    CooperationAreaRepository,
    EpisodeRepository,
    IdempotencyRepository,
    OrganizationRepository,
    PersonRepository,
)


class UnitOfWork:
    """A transaction and the repositories that work inside it."""

    organizations: OrganizationRepository
    areas: CooperationAreaRepository
    persons: PersonRepository
    episodes: EpisodeRepository
    idempotency: IdempotencyRepository

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._committed = False

    @property
    def dialect(self) -> str:
        """The database's dialect name (``sqlite`` or ``postgresql``)."""
        return self._engine.dialect.name

    async def __aenter__(self) -> UnitOfWork:
        self._conn = await self._engine.connect()
        await self._conn.begin()
        conn = self._conn
        self.organizations = OrganizationRepository(conn)
        self.areas = CooperationAreaRepository(conn)
        self.persons = PersonRepository(conn)
        self.episodes = EpisodeRepository(conn)
        self.idempotency = IdempotencyRepository(conn)
        return self

    async def commit(self) -> None:
        """Make everything done in this unit of work durable."""
        assert self._conn is not None
        await self._conn.commit()
        self._committed = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        try:
            if not self._committed:
                await self._conn.rollback()
        finally:
            await self._conn.close()
