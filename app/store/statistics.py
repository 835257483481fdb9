"""The follow-up statistics as SQL aggregates over the indexed event tables: one repository
over the episodes' indicators (`app.store.statistics_episodes`) and the plans', meetings',
deviations' and care messages' (`app.store.statistics_plans`), scoped and grouped alike
(`app.store.statistics_slices`, whose slices and periods callers build with the names below).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from app.store import statistics_daily
from app.store.statistics_daily_reads import DailyAggregates
from app.store.statistics_episodes import EpisodeAggregates
from app.store.statistics_plans import PlanAggregates
from app.store.statistics_slices import SETTINGS, Bounds, Scope, Slice, periods_table

__all__ = [
    "SETTINGS",
    "Bounds",
    "LiveStatisticsRepository",
    "Scope",
    "Slice",
    "StatisticsRepository",
    "periods_table",
]


class StatisticsRepository(DailyAggregates, EpisodeAggregates, PlanAggregates):
    """Grouped aggregates for every indicator; each row starts with (period key, group). The
    episodes' notices, discharges, readmissions and summons deadlines are read from the per-day
    aggregate (`DailyAggregates`), the rest from the event tables."""

    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self._conn = conn

    def live(self) -> LiveStatisticsRepository:
        """The same figures from the event tables alone, on the same connection (the
        benchmark's before-and-after and the property tests compare the two)."""
        return LiveStatisticsRepository(self._conn)

    async def recompute_daily(self) -> int:
        """Rebuild the per-day aggregate from the events; the rows it holds."""
        return await statistics_daily.recompute(self._conn)

    async def compact_daily(self) -> bool:
        """Fold the writers' shards of the per-day aggregate into one row per key; False when
        another compaction was running (PostgreSQL), which this one left it to."""
        return await statistics_daily.compact(self._conn)


class LiveStatisticsRepository(EpisodeAggregates, PlanAggregates):
    """Every indicator from the event tables (the per-day aggregate's reference)."""
