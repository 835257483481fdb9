"""Processed FHIR messages, remembered for the dedupe window of reliable messaging.

A message is claimed before it is processed: one ``INSERT … ON CONFLICT … RETURNING`` takes
the sender's Bundle.id (or an expired claim of it) for this transaction. A repeat sent meanwhile
waits on that row (PostgreSQL) or on the write lock (SQLite) and then finds it taken; a claim
whose processing fails is rolled back with it, so the message can be sent again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import CTE, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Update

from app.domain.access_log import AccessEntry
from app.domain.messages import ProcessedMessage
from app.store import tables as t
from app.store.access_rows import written_once, written_params


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
        params = {
            "pm_sender_id": sender_id,
            "pm_bundle_id": message.bundle_id,
            "pm_header_id": message.header_id,
            "pm_event": message.event,
            "pm_received_at": at,
            "pm_response": message.response,
            "pm_expired_before": expired_before,
        }
        claiming = _claiming(self._conn.dialect.name)
        return (await self._conn.execute(claiming, params)).first() is not None

    async def answered(
        self,
        sender_id: str,
        bundle_id: str,
        response: dict[str, Any],
        log: Sequence[AccessEntry] = (),
        riders: tuple[CTE, ...] = (),
        rider_arrays: Mapping[str, Any] | None = None,
    ) -> None:
        """Keep the response of a claimed message, for its repeats; the same statement writes
        the access-log entries ``log`` (``UnitOfWork.access_for_statement``) and carries the
        data-modifying CTEs ``riders`` bound by ``rider_arrays`` (``UnitOfWork.defer``),
        PostgreSQL both."""
        params: dict[str, Any] = {
            "pm_sender_id": sender_id,
            "pm_bundle_id": bundle_id,
            "pm_response": response,
            **(rider_arrays or {}),
        }
        if log:
            params.update(written_params(log))
        await self._conn.execute(_answering_with(bool(log), riders), params)


# The claim and the answer are built once (per engine kind) with named bind parameters and only
# their values passed per message: composing them, and their cache key, per message was a tenth
# of a ``$process-message``'s Python (cProfile, `python -m bench.inprocess messages`).


@cache
def _claiming(dialect_name: str) -> Any:
    """`MessageRepository.claim`'s statement."""
    m = t.processed_messages
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(m).values(
        sender_id=bindparam("pm_sender_id", type_=m.c.sender_id.type),
        bundle_id=bindparam("pm_bundle_id", type_=m.c.bundle_id.type),
        header_id=bindparam("pm_header_id", type_=m.c.header_id.type),
        event=bindparam("pm_event", type_=m.c.event.type),
        received_at=bindparam("pm_received_at", type_=m.c.received_at.type),
        response=bindparam("pm_response", type_=m.c.response.type),
    )
    return stmt.on_conflict_do_update(
        index_elements=[m.c.sender_id, m.c.bundle_id],
        set_={
            "header_id": stmt.excluded.header_id,
            "event": stmt.excluded.event,
            "received_at": stmt.excluded.received_at,
            "response": stmt.excluded.response,
        },
        where=m.c.received_at < bindparam("pm_expired_before", type_=m.c.received_at.type),
    ).returning(m.c.bundle_id)


@cache
def _answering_with(logged: bool, riders: tuple[CTE, ...]) -> Update:
    """`MessageRepository.answered`'s update with the CTEs it carries: the same object for the
    same CTEs (each built once), whose cache key SQLAlchemy then generates once."""
    ctes = (written_once(), *riders) if logged else riders
    return _answering().add_cte(*ctes) if ctes else _answering()


@cache
def _answering() -> Update:
    """`MessageRepository.answered`'s update, without the CTEs it carries."""
    m = t.processed_messages
    return (
        update(m)
        .where(
            m.c.sender_id == bindparam("pm_sender_id", type_=m.c.sender_id.type),
            m.c.bundle_id == bindparam("pm_bundle_id", type_=m.c.bundle_id.type),
        )
        .values(response=bindparam("pm_response", type_=m.c.response.type))
    )
