"""The episodes' indicators read from the per-day aggregate (``statistics_daily``, kept by
`app.store.statistics_daily`) instead of the event tables: notices, days from discharge-ready to
discharge, readmissions and the summons deadline. Each returns the rows of the live query of the
same name in `app.store.statistics_episodes` (which the property tests compare them with); a
period's records are the days in [first_day, stop_day)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_

from app.store import tables as t
from app.store.liability import day_number
from app.store.statistics_daily import (
    DEADLINE_DAYS,
    NOTICES,
    SUMMONS_LATE,
    SUMMONS_MET,
    SUMMONS_OPEN,
)
from app.store.statistics_slices import Aggregates, Parties, Row, Slice

_d = t.statistics_daily.c
DAILY = Parties(lambda r: _d.region_id == r, _d.municipality_id, _d.unit_id)


def _sum(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, _d.n), else_=0))


class DailyAggregates(Aggregates):
    """Grouped aggregates of the episodes' indicators from the per-day aggregate; each row
    starts with (period key, group)."""

    def _days(
        self,
        sl: Slice,
        *facts: str,
        measures: list[ColumnElement[Any]],
        extra_group: list[ColumnElement[Any]] | None = None,
        where: tuple[ColumnElement[bool], ...] = (),
    ) -> Select[Any]:
        """``measures`` of the rows of ``facts`` on the periods' days, scoped and grouped."""
        periods = sl.periods
        on = and_(_d.day >= periods.c.first_day, _d.day < periods.c.stop_day)
        return self._base(
            t.statistics_daily,
            None,
            DAILY,
            sl,
            measures,
            _d.fact.in_(facts) if len(facts) > 1 else _d.fact == facts[0],
            _d.n != 0,
            *where,
            extra_group=extra_group or [],
            on=on,
        )

    async def episode_events(self, sl: Slice) -> list[Row]:
        """(k, g, admission notices, of them within 24 h, discharge-ready notices,
        withdrawals) by the time each notice was sent."""
        admission, ready, withdrawn = NOTICES
        return await self._rows(
            self._days(
                sl,
                *NOTICES,
                measures=[
                    _sum(_d.fact == admission),
                    _sum(and_(_d.fact == admission, _d.value == 1)),
                    _sum(_d.fact == ready),
                    _sum(_d.fact == withdrawn),
                ],
            )
        )

    async def days_to_discharge(self, sl: Slice, zone: str) -> list[Row]:
        """(k, g, days, discharges): local days from the notice in force to the discharge."""
        return await self._rows(
            self._days(
                sl,
                "discharge",
                extra_group=[_d.value],
                where=(_d.value >= 0,),
                measures=[func.sum(_d.n)],
            )
        )

    async def readmissions(self, sl: Slice) -> list[Row]:
        """(k, g, discharges followed by an acute readmission within 30 days, discharges)."""
        return await self._rows(
            self._days(
                sl,
                "readmitted",
                "discharge",
                measures=[_sum(_d.fact == "readmitted"), _sum(_d.fact == "discharge")],
            )
        )

    async def summonses(self, sl: Slice, now: datetime, zone: str) -> list[Row]:
        """(k, g, met, decided) of the summons deadlines of the period's notices; a notice with
        no summons is decided (breached) once its deadline day has passed by ``now``."""
        today = day_number(now.astimezone(ZoneInfo(zone)).date())
        passed = _d.day + DEADLINE_DAYS <= literal(today)
        return await self._rows(
            self._days(
                sl,
                "summons",
                measures=[
                    _sum(_d.value == SUMMONS_MET),
                    _sum(
                        or_(
                            _d.value.in_((SUMMONS_MET, SUMMONS_LATE)),
                            and_(_d.value == SUMMONS_OPEN, passed),
                        )
                    ),
                ],
            )
        )
