"""Reliable messaging's dedupe: a message Bundle a sender repeats within the window gets the
response it got the first time, and is not processed again (DESIGN §9)."""

from __future__ import annotations

from datetime import datetime

from app.domain.messages import ProcessedMessage
from app.store.unit_of_work import UnitOfWork


async def processed(
    uow: UnitOfWork, sender_id: str, bundle_id: str, not_before: datetime
) -> ProcessedMessage | None:
    """The message with this Bundle.id the sender had processed since ``not_before``, if any."""
    return await uow.messages.get(sender_id, bundle_id, not_before)


async def remember(
    uow: UnitOfWork,
    sender_id: str,
    message: ProcessedMessage,
    *,
    now: datetime,
    not_before: datetime,
) -> None:
    """Remember a processed message and its response for the dedupe window."""
    await uow.messages.put(sender_id, message, now, not_before)
