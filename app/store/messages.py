"""Processed FHIR messages, remembered for the dedupe window of reliable messaging."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.messages import ProcessedMessage
from app.store import tables as t


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

    async def put(
        self, sender_id: str, message: ProcessedMessage, at: datetime, expired_before: datetime
    ) -> None:
        """Remember a processed message (an expired one under the same id is replaced)."""
        await self._conn.execute(
            delete(t.processed_messages).where(
                t.processed_messages.c.sender_id == sender_id,
                t.processed_messages.c.bundle_id == message.bundle_id,
                t.processed_messages.c.received_at < expired_before,
            )
        )
        await self._conn.execute(
            insert(t.processed_messages).values(
                sender_id=sender_id,
                bundle_id=message.bundle_id,
                header_id=message.header_id,
                event=message.event,
                received_at=at,
                response=message.response,
            )
        )
