"""Dead letters: pushes that failed every attempt, listed and replayed by an administrator."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.domain.outbox import Delivery
from app.domain.values import parse_int
from app.store.paging import Page
from app.store.unit_of_work import UnitOfWork

# How many dead letters of one subscription are read per query when all are replayed.
_REPLAY_BATCH = 500


async def list_dead_letters(
    uow: UnitOfWork, *, limit: int, cursor: str | None, subscription_id: str | None
) -> Page[Delivery]:
    """Dead letters in id order, after ``cursor`` (the ``next_cursor`` of the previous page)."""
    after = (
        parse_int(cursor, "cursor", what="cursor is the next_cursor of the previous page")
        if cursor
        else None
    )
    return await uow.outbox.dead_letters(limit=limit, after=after, subscription_id=subscription_id)


async def replay(
    uow: UnitOfWork,
    *,
    delivery_ids: Sequence[int],
    subscription_id: str | None,
    now: datetime,
) -> int:
    """Make these dead letters, and all of ``subscription_id``'s, pending again with a fresh
    budget of attempts; how many were replayed (those of live subscriptions)."""
    ids = list(delivery_ids)
    after: int | None = None
    while subscription_id is not None:
        page = await uow.outbox.dead_letters(
            limit=_REPLAY_BATCH, after=after, subscription_id=subscription_id
        )
        ids += [item.id for item in page.items]
        if page.next_cursor is None:
            break
        after = int(page.next_cursor)
    return await uow.outbox.replay(ids, now)
