"""``samverkan statistics recompute`` rebuilds the per-day aggregate from the events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.episodes import AdmissionType
from app.security.access import Actor
from app.services.commands import DeclareDischargeReady, Discharge, SendAdmissionNotice
from app.services.episodes import RegisterAdmission, record_notice, register_admission
from app.settings import Settings
from app.store import tables as t
from app.store.statistics_daily import COMPACTING, KEY
from app.store.unit_of_work import UnitOfWork
from tests.e2e.test_configuration import run
from tests.integration.test_liable_intervals_appends import SIDES, person_in
from tests.integration.test_statistics_daily import SHIPPED

# Committing: the command runs in another process.
pytestmark = pytest.mark.committing


async def rows(engine: AsyncEngine) -> set[tuple[object, ...]]:
    async with engine.connect() as conn:
        d = t.statistics_daily.c
        key = [d[name] for name in KEY]
        # A key's count is the sum over its shards (one per writing connection on PostgreSQL).
        found = await conn.execute(
            select(*key, func.sum(d.n)).group_by(*key).having(func.sum(d.n) != 0)
        )
        return {tuple(row) for row in found}


async def swedish_history(engine: AsyncEngine, *, discharged: bool) -> None:
    """One Swedish person admitted (the night before the change to summer time), notified,
    declared discharge-ready asking for coordinated planning and, if ``discharged``,
    discharged; committed, so the command's process sees it."""
    _zone, ward, region, municipality = SIDES["SE"]
    hospital = Actor("test-SE-ward", ward, region, frozenset())
    person = person_in("SE", municipality)
    admitted = datetime(2022, 3, 26, 23, 30, tzinfo=UTC)
    now = datetime.now(UTC)
    notices: list[SendAdmissionNotice | DeclareDischargeReady | Discharge] = [
        SendAdmissionNotice(at=admitted + timedelta(hours=3)),
        DeclareDischargeReady(at=admitted + timedelta(days=2), coordinated_planning=True),
    ]
    if discharged:
        notices.append(Discharge(at=admitted + timedelta(days=5)))
    async with UnitOfWork(engine) as uow:
        await uow.persons.add_many([person])
        episode = await register_admission(
            uow,
            hospital,
            RegisterAdmission(person.id, ward, admitted, AdmissionType.ACUTE, municipality),
            now=now,
        )
        for notice in notices:
            await record_notice(uow, hospital, episode.id, notice, now=now, liability=SHIPPED)
        await uow.commit()


async def test_recompute_rebuilds_what_the_writes_kept(
    engine: AsyncEngine, settings: Settings
) -> None:
    """The table the writes kept, emptied and overwritten, comes back as it was."""
    _zone, _ward, region, _municipality = SIDES["SE"]
    await swedish_history(engine, discharged=True)
    kept = await rows(engine)
    assert {row[0] for row in kept} == {
        "admission-notice",
        "discharge-ready",
        "discharge",
        "summons",
    }
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE statistics_daily SET n = n + 7"))
        await conn.execute(
            t.statistics_daily.insert().values(
                fact="discharge",
                region_id=region,
                day=1,
                municipality_id="x",
                unit_id="y",
                value=0,
                n=3,
            )
        )

    done = run(settings, "statistics", "recompute")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"statistics per day recomputed from the events: {len(kept)} rows"
    assert await rows(engine) == kept


async def test_compact_folds_the_writers_shards_and_keeps_the_counts(
    engine: AsyncEngine, settings: Settings
) -> None:
    """`samverkan statistics compact` leaves one row per key (shard 0), with the same sums."""
    await swedish_history(engine, discharged=False)
    kept = await rows(engine)
    assert kept
    async with engine.connect() as conn:
        shards = set(await conn.scalars(select(t.statistics_daily.c.shard).distinct()))
    # PostgreSQL's writers add to their connection's shard; SQLite's to shard 0.
    assert (0 not in shards) if engine.dialect.name == "postgresql" else (shards == {0})

    done = run(settings, "statistics", "compact")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "statistics per day compacted"
    assert await rows(engine) == kept
    async with engine.connect() as conn:
        shards = set(await conn.scalars(select(t.statistics_daily.c.shard).distinct()))
    assert shards == {0}


async def test_compact_skips_while_another_process_compacts(
    engine: AsyncEngine, settings: Settings
) -> None:
    """On PostgreSQL `samverkan statistics compact` run while another compaction holds the
    lock says it skipped and leaves the shards to that one; once it has ended, it compacts."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has a single process: a compaction there always runs")
    await swedish_history(engine, discharged=False)
    kept = await rows(engine)

    async def shards() -> set[int]:
        async with engine.connect() as conn:
            return set(await conn.scalars(select(t.statistics_daily.c.shard).distinct()))

    before = await shards()
    assert 0 not in before
    async with engine.connect() as other:
        await other.begin()
        await other.execute(select(func.pg_advisory_xact_lock(literal(COMPACTING))))
        skipped = run(settings, "statistics", "compact")
        await other.rollback()
    assert skipped.returncode == 0, skipped.stderr
    assert "another compaction is running; this one skipped" in skipped.stdout
    assert await shards() == before and await rows(engine) == kept

    done = run(settings, "statistics", "compact")

    assert done.stdout.strip() == "statistics per day compacted", done.stderr
    assert await shards() == {0} and await rows(engine) == kept
