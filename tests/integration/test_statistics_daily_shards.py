"""The per-day statistics' shards: concurrent writers of one key do not wait for each other, and
the compaction folds the shards into one row per key without losing or doubling a count, nor
waiting for a writer that holds its row."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Integer, String, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.store import statistics_daily as daily
from app.store import tables as t
from tests.database import connected

FACT = ("discharge-ready", 20_000, "region-x", "municipality-x", "unit-x", 0)
OTHER = ("discharge", 20_001, "region-x", "municipality-x", "unit-x", 3)
d = t.statistics_daily.c


def facts(key: tuple[Any, ...], n: int = 1) -> Any:
    """One fact row of ``key`` (`daily.KEY`), as `daily.add_rows` takes them."""
    types = (String, Integer, String, String, String, Integer)
    values = [literal(v, ty).label(name) for v, ty, name in zip(key, types, daily.KEY, strict=True)]
    return select(*values, literal(n, Integer).label("n"))


async def table(conn: AsyncConnection) -> dict[tuple[Any, ...], int]:
    """(key…, shard) → n of the rows of the two keys these tests write."""
    rows = await conn.execute(
        select(*(d[k] for k in daily.KEY), d.shard, d.n).where(d.unit_id == "unit-x")
    )
    return {tuple(r[:-1]): r[-1] for r in rows}


def sums(rows: dict[tuple[Any, ...], int]) -> dict[tuple[Any, ...], int]:
    out: dict[tuple[Any, ...], int] = {}
    for (*key, _shard), n in rows.items():
        out[tuple(key)] = out.get(tuple(key), 0) + n
    return out


async def test_the_compaction_folds_every_shard_into_shard_zero(engine: AsyncEngine) -> None:
    async with connected(engine) as conn:
        for key, shard, n in ((FACT, 0, 2), (FACT, 3, 1), (FACT, 7, -1), (OTHER, 5, 4)):
            row = dict(zip(daily.KEY, key, strict=True))
            await conn.execute(t.statistics_daily.insert().values(**row, shard=shard, n=n))
        await daily.compact(conn)
        assert await table(conn) == {(*FACT, daily.WHOLE): 2, (*OTHER, daily.WHOLE): 4}
        # A writer after it adds to its own shard again; the sum is what counts.
        await conn.execute(daily.add_rows(conn.dialect, facts(FACT)))
        assert sums(await table(conn)) == {FACT: 3, OTHER: 4}


async def distinct_shards(engine: AsyncEngine) -> tuple[AsyncConnection, AsyncConnection]:
    """Two connections whose backend pids fall in different shards."""
    opened = []
    try:
        while True:
            conn = await engine.connect()
            opened.append(conn)
            pids = [await c.scalar(text("SELECT pg_backend_pid()")) for c in opened]
            for c in opened:
                await c.rollback()
            shards = {}
            for c, pid in zip(opened, pids, strict=True):
                shards.setdefault(pid % daily.SHARDS, c)
            if len(shards) >= 2:
                first, second = list(shards.values())[:2]
                for c in opened:
                    if c is not first and c is not second:
                        await c.close()
                return first, second
    except BaseException:
        for c in opened:
            await c.close()
        raise


@pytest.mark.committing
async def test_concurrent_writers_of_one_key_do_not_wait_for_each_other(
    engine: AsyncEngine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers are serial: they queue on the database lock")
    first, second = await distinct_shards(engine)
    try:
        await first.begin()
        await first.execute(daily.add_rows(first.dialect, facts(FACT)))
        await second.begin()
        # With one row per key this waited for the first transaction's commit.
        await second.execute(text("SET LOCAL lock_timeout = '2s'"))
        await second.execute(daily.add_rows(second.dialect, facts(FACT)))
        await second.commit()
        # The compaction neither waits for the first writer nor takes its row: it folds the
        # committed shard and leaves the held one for the next run.
        async with engine.begin() as folding:
            await folding.execute(text("SET LOCAL lock_timeout = '2s'"))
            await daily.compact(folding)
        await first.commit()
        async with engine.connect() as conn:
            rows = await table(conn)
            assert (*FACT, daily.WHOLE) in rows
            assert sums(rows) == {FACT: 2}
        async with engine.begin() as folding:
            await daily.compact(folding)
        async with engine.connect() as conn:
            assert await table(conn) == {(*FACT, daily.WHOLE): 2}
            count = await conn.scalar(select(func.count()).select_from(t.statistics_daily))
            assert count == 1
    finally:
        await first.close()
        await second.close()


@pytest.mark.committing
async def test_of_two_concurrent_compactions_one_folds_and_the_other_skips(
    engine: AsyncEngine,
) -> None:
    """Every dispatcher compacts on the same interval: on PostgreSQL the first to take the
    advisory lock folds the shards, and one that runs meanwhile skips its round, touching no
    row; the next round, after the first has committed, compacts again."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: its compactions cannot overlap")
    async with engine.begin() as conn:
        for key, shard, n in ((FACT, 0, 2), (FACT, 3, 1), (FACT, 7, -1), (OTHER, 5, 4)):
            row = dict(zip(daily.KEY, key, strict=True))
            await conn.execute(t.statistics_daily.insert().values(**row, shard=shard, n=n))
    first, second = await engine.connect(), await engine.connect()
    try:
        await first.begin()
        await second.begin()
        # The second neither waits for the first (a lock timeout would fail it) nor folds.
        await second.execute(text("SET LOCAL lock_timeout = '2s'"))
        assert await daily.compact(first) is True
        assert await daily.compact(second) is False
        await second.commit()
        await first.commit()
    finally:
        await first.close()
        await second.close()
    async with engine.connect() as conn:
        assert await table(conn) == {(*FACT, daily.WHOLE): 2, (*OTHER, daily.WHOLE): 4}
    # The lock went with the first's transaction: the next round runs (and finds nothing to do).
    async with engine.begin() as conn:
        await conn.execute(daily.add_rows(conn.dialect, facts(OTHER)))
    async with engine.begin() as conn:
        assert await daily.compact(conn) is True
    async with engine.connect() as conn:
        assert await table(conn) == {(*FACT, daily.WHOLE): 2, (*OTHER, daily.WHOLE): 5}


async def test_a_compaction_on_its_own_always_folds(engine: AsyncEngine) -> None:
    """One compaction, on either engine, does the work (and says so)."""
    async with connected(engine) as conn:
        await conn.execute(daily.add_rows(conn.dialect, facts(FACT, 3)))
        assert await daily.compact(conn) is True
        assert await table(conn) == {(*FACT, daily.WHOLE): 3}
