"""Responses to POSTs made with an ``Idempotency-Key``, kept for replay.

Repositories run inside the unit of work: SQL in, domain objects out; they never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.clock import utcnow
from app.domain.idempotency import StoredResponse
from app.store import tables as t
from app.store.replay import kept_row


class IdempotencyRepository:
    """Responses of POSTs made with an ``Idempotency-Key``, kept for replay."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def lock(self, scope: str, key: str) -> None:
        """Serialize requests that share (scope, key) until this transaction ends.

        On PostgreSQL a transaction-scoped advisory lock makes a concurrent duplicate wait for
        the first one and then see its stored response. SQLite already serializes writers.
        """
        if self._conn.dialect.name == "postgresql":
            await self._conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                {"k": f"idempotency:{scope}:{key}"},
            )

    async def lock_many(self, scope: str, keys: Sequence[str]) -> None:
        """``lock`` for several keys in one statement, taken in a fixed order so that two
        transactions locking overlapping sets cannot deadlock."""
        if self._conn.dialect.name == "postgresql" and keys:
            await self._conn.execute(
                text(
                    "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT "
                    "hashtextextended('idempotency:' || :scope || ':' || k, 0) AS h "
                    "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY h) AS ordered"
                ),
                {"scope": scope, "keys": list(keys)},
            )

    async def get(self, scope: str, key: str, not_before: datetime) -> StoredResponse | None:
        """The response stored under (scope, key) after ``not_before``, if any."""
        row = await kept_row(
            self._conn, t.idempotency_keys, "created_at", not_before, scope=scope, key=key
        )
        if row is None:
            return None
        return StoredResponse(
            row.method,
            row.path,
            row.request_hash,
            row.status_code,
            dict(row.response_headers),
            bytes(row.response_body),
            [(d[0], d[1], d[2]) for d in (row.disclosed or [])],
        )

    async def put(
        self, scope: str, key: str, response: StoredResponse, expired_before: datetime
    ) -> None:
        """Record a response under (scope, key), replacing only an expired one.

        A live row is never replaced: a concurrent request with the same key then fails on the
        primary key, and the caller replays the winner's response.
        """
        await self._conn.execute(
            t.idempotency_keys.delete().where(
                t.idempotency_keys.c.scope == scope,
                t.idempotency_keys.c.key == key,
                t.idempotency_keys.c.created_at < expired_before,
            )
        )
        await self._conn.execute(
            insert(t.idempotency_keys).values(
                scope=scope,
                key=key,
                method=response.method,
                path=response.path,
                request_hash=response.request_hash,
                status_code=response.status_code,
                response_headers=response.headers,
                response_body=response.body,
                disclosed=[list(d) for d in response.disclosed],
                created_at=utcnow(),
            )
        )
