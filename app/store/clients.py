"""Registered API clients, their revocations and the client assertions they used.

Repositories run inside the unit of work: SQL in, domain objects out; they never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.clients import Client
from app.domain.clock import utcnow
from app.store import tables as t
from app.store.paging import Page, page_query, trim_to_page


class ClientRepository:
    """Registered clients and the client assertions they have already used."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, client: Client) -> None:
        """Register a client."""
        await self._conn.execute(
            insert(t.clients).values(
                id=client.id,
                name=client.name,
                organization_id=client.organization_id,
                jwks=client.jwks,
                scopes=client.scopes,
                active=client.active,
                created_at=utcnow(),
            )
        )

    async def get(self, client_id: str) -> Client | None:
        """The client with this id, or None."""
        row = (
            await self._conn.execute(select(t.clients).where(t.clients.c.id == client_id))
        ).first()
        return None if row is None else _client(row)

    async def page(self, *, limit: int, after: str | None = None) -> Page[Client]:
        """Clients in id order."""
        rows = (await self._conn.execute(page_query(t.clients, limit=limit, after=after))).all()
        return trim_to_page([_client(r) for r in rows], limit, lambda c: c.id)

    async def set_jwks(self, client_id: str, jwks: dict[str, Any]) -> None:
        """Replace a client's public keys (key rotation)."""
        await self._conn.execute(
            t.clients.update().where(t.clients.c.id == client_id).values(jwks=jwks)
        )

    async def set_active(self, client_id: str, active: bool) -> None:
        """Enable or disable a client; a disabled client gets no new tokens."""
        await self._conn.execute(
            t.clients.update().where(t.clients.c.id == client_id).values(active=active)
        )

    async def revoke(self, client_id: str, before: datetime) -> None:
        """Refuse every token of the client issued before ``before`` (kept if already later)."""
        c = t.client_revocations.c
        updated = await self._conn.execute(
            t.client_revocations.update()
            .where(c.client_id == client_id, c.revoked_before < before)
            .values(revoked_before=before)
        )
        if updated.rowcount == 0:
            known = await self._conn.execute(select(c.client_id).where(c.client_id == client_id))
            if known.first() is None:
                await self._conn.execute(
                    insert(t.client_revocations).values(client_id=client_id, revoked_before=before)
                )

    async def revocations(self, since: datetime) -> dict[str, datetime]:
        """Revocations that can still matter: those later than ``since`` (the oldest issue time
        of a token still alive), by client."""
        c = t.client_revocations.c
        rows = await self._conn.execute(
            select(c.client_id, c.revoked_before).where(c.revoked_before > since)
        )
        return {r.client_id: r.revoked_before for r in rows.all()}

    async def use_assertion(self, client_id: str, jti: str, expires_at: datetime) -> None:
        """Record a client assertion's jti; a second use fails on the primary key.

        Records expired for over a minute are dropped first: an assertion cannot be replayed
        after its exp (plus the clock leeway) anyway.
        """
        await self._conn.execute(
            t.used_assertions.delete().where(
                t.used_assertions.c.expires_at < utcnow() - timedelta(minutes=1)
            )
        )
        await self._conn.execute(
            insert(t.used_assertions).values(client_id=client_id, jti=jti, expires_at=expires_at)
        )

    async def assertion_used(self, client_id: str, jti: str) -> bool:
        """Whether this jti was already presented by the client."""
        row = (
            await self._conn.execute(
                select(t.used_assertions.c.jti).where(
                    t.used_assertions.c.client_id == client_id, t.used_assertions.c.jti == jti
                )
            )
        ).first()
        return row is not None


def _client(row: Any) -> Client:
    return Client(row.id, row.name, row.organization_id, dict(row.jwks), row.scopes, row.active)
