"""The summons-deadline statistic's live query (the reference the per-day aggregate is checked
against, and the shape of its drill-down's) reads its notices and withdrawals from the partial
indexes of migration 0023. PostgreSQL uses a partial index only for a query whose conditions
prove the index's own: the statement has to carry them as the index does, with the values
written in it (a bound value is unknown to a generic plan, so it proves nothing)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.liability import day_number
from app.store.statistics import Bounds, LiveStatisticsRepository, Scope, Slice, periods_table
from tests.database import connected

NOW = datetime(2023, 1, 15, 12, tzinfo=UTC)
YEAR = Bounds(
    0,
    datetime(2021, 12, 31, 23, tzinfo=UTC),
    datetime(2022, 12, 31, 23, tzinfo=UTC),
    day_number(date(2022, 1, 1)),
    day_number(date(2023, 1, 1)),
)
# The indexes' conditions as PostgreSQL stores them.
PLANNING = """(((data)::character varying)::text ~~ '%"coordinated_planning"%'::text)"""
WITHDRAWN = "((kind)::text = 'discharge-ready-withdrawn'::text)"


async def test_the_summons_statement_carries_the_partial_indexes_conditions(
    engine: AsyncEngine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the partial indexes are read as PostgreSQL stores them")
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "GROUP BY" in statement:
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with connected(engine) as conn:
            sl = Slice(Scope(region_id="region-norrbotten"), None, periods_table([YEAR]))
            await LiveStatisticsRepository(conn).summonses(sl, NOW, "Europe/Stockholm")
            definitions = {
                name: definition
                for name, definition in await conn.execute(
                    text(
                        "SELECT indexrelid::regclass::text, "
                        "pg_get_expr(indpred, indrelid) FROM pg_index "
                        "WHERE indrelid = 'episode_events'::regclass AND indpred IS NOT NULL"
                    )
                )
            }
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert definitions == {
        "ix_episode_events_coordinated_planning": PLANNING,
        "ix_episode_events_withdrawn": WITHDRAWN,
    }
    # The statement as sent: a bound value would be a parameter ($n) in place of the constant.
    (statement,) = statements
    assert """CAST(episode_events.data AS VARCHAR) LIKE '%"coordinated_planning"%'""" in statement
    for alias in ("w", "withdrawing"):
        assert f"{alias}.kind = 'discharge-ready-withdrawn'" in statement
