"""Appending many access-log entries at once (a report's rows) writes each as given, in order.

On PostgreSQL several entries travel as one array per column; on SQLite as one execution per
row. Both must give back exactly the entries, with ids in the order they were queued.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.access_log import AccessEntry
from app.store.unit_of_work import UnitOfWork


def _entries() -> list[AccessEntry]:
    start = datetime(2026, 11, 30, 10, 0, 0, 123456, tzinfo=UTC)
    plus_one = timezone(timedelta(hours=1))
    return [
        AccessEntry(
            at=(start + timedelta(seconds=n)).astimezone(plus_one if n % 2 else UTC),
            client_id=f"client-{n % 3}",
            organization_id="region-kalmar" if n % 4 else "region-kalmar-lanssjukhuset-med",
            user_id=None if n % 5 else f"user-{n}",
            action="read",
            resource_type="LiabilityReport",
            resource_id=f"episode-{n}" if n % 7 else None,
            person_id=f"person-{n}" if n % 6 else None,
            outcome="success" if n % 9 else "denied",
            purpose="TREAT",
            request_id=None if n % 2 else f"request-{n}",
            # Unnamed principals are looked up (a push); named ones are kept with their unit.
            principal_id=None if n % 4 == 0 else "region-kalmar",
            unit_id="region-kalmar-vastervik-med" if n % 8 == 3 else None,
        )
        for n in range(300)
    ]


async def test_many_entries_come_back_as_queued_in_order(engine: AsyncEngine) -> None:
    entries = _entries()
    async with UnitOfWork(engine) as uow:
        before = await uow.access_log.page(limit=100_000)
        await uow.access_log.append(entries)
        await uow.commit()
    async with UnitOfWork(engine) as uow:
        last = before.items[-1].id if before.items else None
        written = (await uow.access_log.page(limit=1_000, after=last)).items
    assert len(written) == len(entries)
    ids = [e.id for e in written]
    assert ids == sorted(ids)
    for got, sent in zip(written, entries, strict=True):
        assert got.at == sent.at
        assert (got.client_id, got.organization_id, got.user_id, got.action) == (
            sent.client_id,
            sent.organization_id,
            sent.user_id,
            sent.action,
        )
        assert (got.resource_id, got.person_id, got.outcome, got.request_id) == (
            sent.resource_id,
            sent.person_id,
            sent.outcome,
            sent.request_id,
        )
        if sent.principal_id is None:
            unit = sent.organization_id != "region-kalmar"
            assert (got.principal_id, got.unit_id) == (
                "region-kalmar",
                sent.organization_id if unit else None,
            )
        else:
            assert (got.principal_id, got.unit_id) == (sent.principal_id, sent.unit_id)
