"""What the store keeps for a while so that a repeat gets the first answer: idempotent responses
(``idempotency_keys``) and processed messages (``processed_messages``) share the one read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection


async def kept_row(
    conn: AsyncConnection, table: Table, kept_since: str, not_before: datetime, /, **key: object
) -> Row[Any] | None:
    """The row of ``table`` under its key (each column named equal to its value) if it was
    written at or after ``not_before`` (its column ``kept_since``): within the window it is kept
    for, and so still the answer to a repeat. An older one is expired: None, as if none were."""
    query = select(table).where(
        *(table.c[column] == value for column, value in key.items()),
        table.c[kept_since] >= not_before,
    )
    return (await conn.execute(query)).first()
