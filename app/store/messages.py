"""Processed FHIR messages, remembered for the dedupe window of reliable messaging.

A message is claimed before it is processed: one ``INSERT … ON CONFLICT … RETURNING`` takes
the sender's Bundle.id (or an expired claim of it) for this transaction. A repeat sent meanwhile
waits on that row (PostgreSQL) or on the write lock (SQLite) and then finds it taken; a claim
whose processing fails is rolled back with it, so the message can be sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CTE, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.access_log import AccessEntry
from app.domain.messages import ProcessedMessage
from app.store import tables as t
from app.store.access_rows import written


class MessageRepository:
    """Which message Bundles each sender has had processed."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(
        self, sender_id: str, bundle_id: str, not_before: datetime
    ) -> ProcessedMessage | None:
        """The processed message with this Bundle.id from the sender, within the window."""
        row = (
            await self._conn.execute(
                select(t.processed_messages).where(
                    t.processed_messages.c.sender_id == sender_id,
                    t.processed_messages.c.bundle_id == bundle_id,
                    t.processed_messages.c.received_at >= not_before,
                )
            )
        ).first()
        if row is None:
            return None
        return ProcessedMessage(row.bundle_id, row.header_id, row.event, dict(row.response))

    async def claim(
        self, sender_id: str, message: ProcessedMessage, at: datetime, expired_before: datetime
    ) -> bool:
        """Take the Bundle.id for this message; False when the sender's Bundle.id was processed
        within the window (then ``get`` has its response). An expired one is taken over."""
        m = t.processed_messages
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(m).values(
            sender_id=sender_id,
            bundle_id=message.bundle_id,
            header_id=message.header_id,
            event=message.event,
            received_at=at,
            response=message.response,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[m.c.sender_id, m.c.bundle_id],
            set_={
                "header_id": stmt.excluded.header_id,
                "event": stmt.excluded.event,
                "received_at": stmt.excluded.received_at,
                "response": stmt.excluded.response,
            },
            where=m.c.received_at < expired_before,
        ).returning(m.c.bundle_id)
        return (await self._conn.execute(stmt)).first() is not None

    async def answered(
        self,
        sender_id: str,
        bundle_id: str,
        response: dict[str, Any],
        log: Sequence[AccessEntry] = (),
        riders: Sequence[CTE] = (),
    ) -> None:
        """Keep the response of a claimed message, for its repeats; the same statement writes
        the access-log entries ``log`` (``UnitOfWork.access_for_statement``) and carries the
        data-modifying CTEs ``riders`` (``UnitOfWork.defer``), PostgreSQL both."""
        m = t.processed_messages
        statement = (
            update(m)
            .where(m.c.sender_id == sender_id, m.c.bundle_id == bundle_id)
            .values(response=response)
        )
        ctes = [written(log)] if log else []
        ctes += riders
        await self._conn.execute(statement.add_cte(*ctes) if ctes else statement)
