"""Fair claims, on SQLite and PostgreSQL: endpoints take turns, a backlog at one endpoint does
not keep another's push out of the next claim, and an endpoint's breaker opens after failures
in a row, lets one probe through after its cool-down, and closes on the probe's success."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.breaker import BreakerState, origin_of
from app.domain.delivery import Topic
from app.store.unit_of_work import UnitOfWork
from tests.integration.test_outbox import NOW, new_subscription, queue

# Committing on PostgreSQL: it reads the outbox, whose readers pass only rows of transactions
# older than every running one, which a rolled-back test's own transaction never is.
pytestmark = pytest.mark.committing("postgresql")

DEAD = "https://dead.example/hook"
HEALTHY = "https://healthy.example:8443/hook"
LEASE = NOW + timedelta(seconds=30)


async def backlog(engine: AsyncEngine, dead_events: int) -> tuple[str, str]:
    """A subscription at a dead endpoint with ``dead_events`` pushes, then one at a healthy
    endpoint, created after them, with one push (the newest of all)."""
    dead = replace(new_subscription(Topic.MESSAGES), endpoint=DEAD)
    healthy = replace(new_subscription(Topic.MESSAGES), endpoint=HEALTHY)
    async with UnitOfWork(engine) as uow:
        await uow.subscriptions.add(dead, NOW)
        await uow.commit()
    for n in range(dead_events):
        async with UnitOfWork(engine) as uow:
            await queue(uow, f"Encounter/dead-{n}", ["kommun-2580"])
            await uow.commit()
    async with UnitOfWork(engine) as uow:
        await uow.subscriptions.add(healthy, NOW)
        await uow.commit()
    async with UnitOfWork(engine) as uow:
        await queue(uow, "Encounter/new", ["kommun-2580"])
        await uow.commit()
    return dead.id, healthy.id


async def claim(
    engine: AsyncEngine, limit: int, *, worker: str = "w", at: timedelta = timedelta()
) -> list[tuple[str | None, str]]:
    """Claim at ``NOW + at``; the (subscription, stream) of each push claimed."""
    async with UnitOfWork(engine) as uow:
        claimed = await uow.outbox.claim(
            worker, now=NOW + at, lease_until=LEASE + at, limit=limit, per_endpoint=2
        )
        await uow.commit()
    return [(d.subscription_id, d.event.stream) for d, _s in claimed]


async def test_endpoints_take_turns_and_each_has_few_in_flight(engine: AsyncEngine) -> None:
    dead, healthy = await backlog(engine, 8)
    first = await claim(engine, 3)
    # Oldest first would have taken three of the dead endpoint's backlog.
    assert set(first) == {
        (dead, "Encounter/dead-0"),
        (healthy, "Encounter/new"),
        (dead, "Encounter/dead-1"),
    }
    # The dead endpoint has its two in flight: nothing more goes to it while they are out.
    assert await claim(engine, 10, worker="other") == []


async def test_a_breaker_opens_probes_once_and_closes(engine: AsyncEngine) -> None:
    dead, healthy = await backlog(engine, 4)
    origin = origin_of(DEAD)
    cooldown = timedelta(seconds=60)
    async with UnitOfWork(engine) as uow:
        for _ in range(3):
            breaker = await uow.breakers.failed(
                origin, "timeout", now=NOW, threshold=3, cooldown=cooldown
            )
        await uow.commit()
    assert breaker.state(NOW) is BreakerState.OPEN
    assert breaker.failures == 3 and breaker.opened_until == NOW + cooldown
    # Open: only the healthy endpoint's push is claimed.
    assert await claim(engine, 10) == [(healthy, "Encounter/new")]
    # After the cool-down: one probe, to one claimer only (the healthy push's lease has ended
    # too, so it is claimed again beside it).
    later = cooldown + timedelta(seconds=1)
    probe = await claim(engine, 10, at=later)
    assert [c for c in probe if c[0] == dead] == [(dead, "Encounter/dead-0")]
    assert [c for c in await claim(engine, 10, worker="other", at=later) if c[0] == dead] == []
    async with UnitOfWork(engine) as uow:
        half_open = await uow.breakers.get(origin)
        assert half_open.state(NOW + later) is BreakerState.HALF_OPEN
        assert half_open.probe_until == LEASE + later
        counts = await uow.breakers.counts(NOW + later)
        assert counts[BreakerState.HALF_OPEN] == 1
        # The probe failed: open again for another cool-down.
        again = await uow.breakers.failed(
            origin, "timeout", now=NOW + later, threshold=3, cooldown=cooldown
        )
        assert again.state(NOW + later) is BreakerState.OPEN
        assert (again.failures, again.probe_until) == (4, None)
        # A success closes it: the row is gone, the endpoint is closed at 0 failures.
        await uow.breakers.succeeded(origin)
        closed = await uow.breakers.get(origin)
        await uow.commit()
    assert (closed.state(NOW), closed.failures) == (BreakerState.CLOSED, 0)


@pytest.mark.committing
async def test_a_failure_and_a_success_at_once_both_count(engine: AsyncEngine) -> None:
    """Two pushes to one endpoint end together, one failed, one accepted: whichever commits
    last decides the row, and neither fails to record (a success deleting the row between the
    failure's read and its lock once lost the failure's result)."""
    origin = origin_of(DEAD)

    async def fail() -> None:
        async with UnitOfWork(engine) as uow:
            await uow.breakers.failed(
                origin, "timeout", now=NOW, threshold=100, cooldown=timedelta(seconds=1)
            )
            await uow.commit()

    async def succeed() -> None:
        async with UnitOfWork(engine) as uow:
            await uow.breakers.succeeded(origin)
            await uow.commit()

    for _ in range(60):
        await fail()  # the row is there when both begin
        await asyncio.gather(fail(), succeed())
        async with UnitOfWork(engine) as uow:
            failures = (await uow.breakers.get(origin)).failures
        # The success came last (closed), or the failure did, after it or before it.
        assert failures in (0, 1, 2)
