"""Time each statistics indicator in process against a loaded benchmark database, and show the
plans PostgreSQL chose for its statements.

    BENCH_DATABASE_URL=postgresql+asyncpg://… python -m bench.statistics_queries [--explain]

Region Kalmar's figures, as `make bench` asks for them over HTTP (bench/run.py
``statistics_rows``): every indicator for this year, and days-ready-to-discharge as a series of
the last 12 months. Each indicator is computed on its own (best of ``--repeat`` runs, after one
that warms the cache), then the year of every indicator together; ``--explain`` prints
``EXPLAIN (ANALYZE, BUFFERS)`` of each statement an indicator runs. ``--live`` times each one
also as it was before the per-day aggregate (the episodes' indicators from the event tables,
`LiveStatisticsRepository`), right after, in the same run, so that the two compare back to
back. The database must already be loaded (bench/run.py, or a run of this benchmark's
``prepare_database``). Nothing is written: each run's transaction ends without a commit, its
access-log entry with it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import event

from app.domain.liability import DEFAULT_CONFIG_PATH
from app.domain.statistics import INDICATORS, Grain, Indicator, Period, parse_period, series
from app.security.access import Actor
from app.services import statistics as service
from app.services.liability_config import read_liability_config
from app.services.liability_rules import LiabilityRules
from app.store.database import create_engine
from app.store.statistics import SETTINGS
from app.store.unit_of_work import UnitOfWork

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/samverkan_bench"
)
ACTOR = Actor("bench-region-kalmar", "region-kalmar", "region-kalmar", frozenset({"system/*.r"}))
SERIES_INDICATOR = "days-ready-to-discharge"


def periods_asked(today: date) -> tuple[list[Period], list[Period]]:
    """This year, and the 12 months up to this one (as bench/run.py asks for them)."""
    first = date(today.year - (today.month < 12), today.month % 12 + 1, 1)
    year = [parse_period(str(today.year), "period")]
    months = series(
        parse_period(first.strftime("%Y-%m"), "from"),
        parse_period(today.strftime("%Y-%m"), "to"),
        Grain.MONTH,
    )
    return year, months


async def run(
    indicators: Sequence[Indicator],
    periods: list[Period],
    *,
    repeat: int,
    explain: bool,
    live: bool = False,
) -> float:
    """The best of ``repeat`` timed runs of the indicators' figures, in seconds."""
    engine = create_engine(DATABASE_URL, pool_size=1)
    rules = LiabilityRules(read_liability_config(DEFAULT_CONFIG_PATH))
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    best = float("inf")
    try:
        for attempt in range(repeat + 1):
            statements.clear()
            async with UnitOfWork(engine) as uow:
                if live:
                    uow.statistics = uow.statistics.live()  # type: ignore[assignment]
                started = time.perf_counter()
                await service.statistics(
                    uow,
                    ACTOR,
                    indicators,
                    periods,
                    by=None,
                    organization_id=None,
                    area_id=None,
                    rules=rules,
                    now=datetime.now(UTC),
                )
                took = time.perf_counter() - started
                if attempt:
                    best = min(best, took)
        if explain:
            async with engine.connect() as conn:
                raw = await conn.get_raw_connection()
                driver = raw.driver_connection
                assert driver is not None
                async with driver.transaction():
                    await driver.execute(SETTINGS)  # as the repository sets them
                    for statement, parameters in statements:
                        if "GROUP BY" not in statement:
                            continue  # the subject's organization, the liability state
                        plan = await driver.fetch(
                            f"EXPLAIN (ANALYZE, BUFFERS) {statement}", *(parameters or ())
                        )
                        print("\n".join(row[0] for row in plan))
                        print()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
        await engine.dispose()
    return best


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--explain", action="store_true", help="print each statement's plan")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (best counts)")
    parser.add_argument("--only", action="append", help="indicator codes (default: all)")
    parser.add_argument(
        "--live", action="store_true", help="also time each from the event tables, back to back"
    )
    args = parser.parse_args()
    year, months = periods_asked(datetime.now(UTC).date())
    chosen = [i for i in INDICATORS if not args.only or i.code in args.only]

    async def timed(items: list[Indicator], periods: list[Period], label: str) -> None:
        took = await run(items, periods, repeat=args.repeat, explain=args.explain)
        line = f"{label:42} {took * 1000:9.1f} ms"
        if args.live:
            before = await run(items, periods, repeat=args.repeat, explain=False, live=True)
            line += f"   live {before * 1000:9.1f} ms"
        print(line, flush=True)

    for item in chosen:
        await timed([item], year, f"{item.code} year")
    if not args.only or SERIES_INDICATOR in args.only:
        item = next(i for i in INDICATORS if i.code == SERIES_INDICATOR)
        await timed([item], months, f"{item.code} 12 months")
    if not args.only:
        await timed(list(INDICATORS), year, "every indicator year")


if __name__ == "__main__":
    asyncio.run(main())
