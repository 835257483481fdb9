"""What the metrics read from the database rather than count in one process."""

from __future__ import annotations

from datetime import datetime

from app.domain.breaker import BreakerState
from app.domain.delivery import DeliveryState
from app.store.unit_of_work import UnitOfWork


async def backlog(uow: UnitOfWork) -> dict[DeliveryState, int]:
    """Deliveries per state (inbox items as ``inbox``), every state present, so that every
    process reports the same backlog and dead letters."""
    counts = await uow.outbox.counts()
    return {state: counts.get(state.value, 0) for state in DeliveryState}


async def breakers(uow: UnitOfWork, now: datetime) -> dict[BreakerState, int]:
    """Failing endpoints per breaker state at ``now``, so that every process reports the same."""
    return dict(await uow.breakers.counts(now))
