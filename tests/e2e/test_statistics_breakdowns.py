"""A region's figures broken down by municipality are each municipality's own, query by query.

The statistics queries take other paths for a region broken down by municipality than for one
municipality (the plans are chosen by the region's participation before their first versions
are found, and joined with their persons only for a breakdown or a municipality; the summonses
and liable days are aggregated over a fenced inner query). Over the hand-worked scenario of
`test_statistics_hand_worked`, the repository's rows are compared directly, without the
suppression of small cells the service applies to shared figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.episodes import ZONES
from app.domain.statistics import Dimension, Grain, parse_period, series
from app.store.liability import day_number
from app.store.statistics import (
    Bounds,
    Scope,
    Slice,
    StatisticsRepository,
    periods_table,
)
from app.store.unit_of_work import UnitOfWork
from tests.conftest import ClientFor, Clock
from tests.e2e.test_statistics_hand_worked import BODEN, LULEA, REGION, build

NOW = datetime(2023, 1, 15, 12, tzinfo=UTC)
ZONE = "Europe/Stockholm"
Query = Callable[[StatisticsRepository, Slice], Awaitable[list[tuple[Any, ...]]]]
QUERIES: dict[str, Query] = {
    "episode events": lambda repo, sl: repo.episode_events(sl),
    "days to discharge": lambda repo, sl: repo.days_to_discharge(sl, ZONE),
    "readmissions": lambda repo, sl: repo.readmissions(sl),
    "summonses": lambda repo, sl: repo.summonses(sl, NOW, ZONE),
    "liable days": lambda repo, sl: repo.liable_days(sl, NOW, ZONE),
    "plans started": lambda repo, sl: repo.plans_reaching(None, sl),
    "plans activated": lambda repo, sl: repo.plans_reaching("active", sl),
    "plans completed": lambda repo, sl: repo.plans_reaching("completed", sl),
    "overdue follow-ups": lambda repo, sl: repo.overdue_follow_ups(sl, NOW),
    "meetings held": lambda repo, sl: repo.meetings_held(sl, NOW),
}


def months() -> Any:
    periods = series(parse_period("2022-10", "from"), parse_period("2022-12", "to"), Grain.MONTH)
    bounds = []
    for key, period in enumerate(periods):
        starts, stops = period.bounds(ZONES["SE"])
        bounds.append(
            Bounds(key, starts, stops, day_number(period.first_day), day_number(period.stop_day))
        )
    return periods_table(bounds)


def per_group(rows: list[tuple[Any, ...]]) -> dict[Any, set[tuple[Any, ...]]]:
    """The rows by group, each without its group."""
    found: dict[Any, set[tuple[Any, ...]]] = defaultdict(set)
    for k, g, *rest in rows:
        found[g].add((k, *rest))
    return found


async def test_a_regions_breakdown_by_municipality_is_each_municipalitys_own(
    client_for: ClientFor, clock: Clock, engine: AsyncEngine
) -> None:
    await build(client_for, clock)
    table = months()
    async with UnitOfWork(engine) as uow:
        for name, query in QUERIES.items():
            by_municipality = per_group(
                await query(
                    uow.statistics, Slice(Scope(region_id=REGION), Dimension.MUNICIPALITY, table)
                )
            )
            whole = per_group(
                await query(uow.statistics, Slice(Scope(region_id=REGION), None, table))
            )
            assert whole, name  # the scenario has figures for every query
            for municipality in (LULEA, BODEN):
                own = per_group(
                    await query(
                        uow.statistics, Slice(Scope(municipality_ids=(municipality,)), None, table)
                    )
                )
                assert by_municipality.get(municipality, set()) == own.get(None, set()), (
                    name,
                    municipality,
                )
