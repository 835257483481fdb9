"""Reliable messaging's dedupe: a message Bundle a sender repeats within the window gets the
response it got the first time, and is not processed again (DESIGN §9)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.domain.messages import ProcessedMessage
from app.store.unit_of_work import UnitOfWork


async def claim(
    uow: UnitOfWork,
    sender_id: str,
    message: ProcessedMessage,
    *,
    now: datetime,
    not_before: datetime,
) -> ProcessedMessage | None:
    """Take the message's Bundle.id for processing it now: None when taken, or the message with
    this Bundle.id the sender had processed since ``not_before`` (with its response)."""
    if await uow.messages.claim(sender_id, message, now, not_before):
        # The request ends with ``answered``, which carries the writes left for it.
        uow.announce_last_statement()
        return None
    seen = await uow.messages.get(sender_id, message.bundle_id, not_before)
    assert seen is not None, "a Bundle.id not claimed is one processed within the window"
    return seen


async def answered(
    uow: UnitOfWork, sender_id: str, bundle_id: str, response: dict[str, Any]
) -> None:
    """Keep the response of a claimed message, for its repeats: the request's last statement,
    which on PostgreSQL also writes the access-log entries queued so far and the writes left
    for it (the outbox's events, ``UnitOfWork.defer``)."""
    await uow.messages.answered(
        sender_id, bundle_id, response, uow.access_for_statement(), *uow.take_riders()
    )
