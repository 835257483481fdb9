"""The engine-specific SQL functions of app/store/sql.py give the same numbers on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import literal, literal_column, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.sql import whole_units
from app.store.tables import UTCDateTime
from tests.database import connected

START = datetime(2022, 3, 27, 0, 30, tzinfo=UTC)  # the night of the spring DST change


@pytest.mark.parametrize(
    ("elapsed", "unit", "expected"),
    [
        # Whole units are floored: CAST(seconds / 3600 AS INTEGER) gave 2 here on PostgreSQL
        # (which rounds the NUMERIC quotient) and 1 on SQLite (which truncates).
        (timedelta(hours=1, minutes=59, seconds=59), 3600, 1),
        (timedelta(hours=2), 3600, 2),
        (timedelta(hours=2, milliseconds=-1), 3600, 1),
        (timedelta(seconds=59, milliseconds=600), 60, 0),
        (timedelta(minutes=1), 60, 1),
        (timedelta(0), 60, 0),
        (timedelta(days=400, minutes=30), 3600, 400 * 24),
    ],
)
async def test_whole_units_floor_alike_on_both_engines(
    engine: AsyncEngine, elapsed: timedelta, unit: int, expected: int
) -> None:
    later = literal(START + elapsed, UTCDateTime())
    earlier = literal(START, UTCDateTime())
    async with connected(engine) as conn:
        got = (
            await conn.execute(select(whole_units(later, earlier, literal_column(str(unit)))))
        ).scalar_one()
    assert got == expected
