"""The follow-up statistics as SQL aggregates over the indexed event tables: one repository
over the episodes' indicators (`app.store.statistics_episodes`) and the plans', meetings',
deviations' and care messages' (`app.store.statistics_plans`), scoped and grouped alike
(`app.store.statistics_slices`, whose slices and periods callers build with the names below).
"""

from __future__ import annotations

from app.store.statistics_episodes import EpisodeAggregates
from app.store.statistics_plans import PlanAggregates
from app.store.statistics_slices import SETTINGS, Bounds, Scope, Slice, periods_table

__all__ = [
    "SETTINGS",
    "Bounds",
    "Scope",
    "Slice",
    "StatisticsRepository",
    "periods_table",
]


class StatisticsRepository(EpisodeAggregates, PlanAggregates):
    """Grouped aggregates for every indicator; each row starts with (period key, group)."""
