"""Stored liable intervals and the configuration they are in step with.

The intervals are derived values (DESIGN §4: "computed, never typed in" still holds, since they
are recomputed from the notices whenever those or the configuration change); this repository
writes them and sums them over local days in SQL, on both engines with integer arithmetic only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    and_,
    any_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.episodes import Episode
from app.domain.liability import LiableInterval
from app.store import tables as t

EPOCH = date(1970, 1, 1)
_PERIOD_US = 86_400 * 1_000_000
_li = t.liable_intervals


def day_number(day: date) -> int:
    """A local date as the number of days since 1970-01-01 (how intervals store days)."""
    return (day - EPOCH).days


def epoch_us(moment: datetime) -> int:
    """An instant as microseconds since 1970-01-01 UTC (how døgn periods are stored)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def interval_rows(
    episode: Episode, intervals: Sequence[LiableInterval], config_version: str
) -> list[dict[str, Any]]:
    """The ``liable_intervals`` rows of an episode's intervals."""
    return [
        {
            "episode_id": episode.id,
            "clock": interval.clock,
            "region_id": episode.region_id,
            "municipality_id": episode.municipality_id,
            "unit_id": episode.hospital_unit_id,
            "rule_set_id": interval.rule_set_id,
            "rule_set_version": interval.rule_set_version,
            "rate_table_id": interval.rate_table_id,
            "rate_table_version": interval.rate_table_version,
            "counting": interval.counting.value,
            "first_day": day_number(interval.first_day),
            "stop_day": day_number(interval.stop_day) if interval.stop_day else None,
            "first_at_us": epoch_us(interval.first_at) if interval.first_at else None,
            "periods": interval.periods,
            "ends_at_us": epoch_us(interval.ends_at) if interval.ends_at else None,
            "config_version": config_version,
        }
        for interval in intervals
    ]


_ROW_NAMES = (
    "episode_id",
    "clock",
    "region_id",
    "municipality_id",
    "unit_id",
    "rule_set_id",
    "rule_set_version",
    "rate_table_id",
    "rate_table_version",
    "counting",
    "first_day",
    "stop_day",
    "first_at_us",
    "periods",
    "ends_at_us",
    "config_version",
)


@lru_cache(maxsize=16)
def _replacing_shape(count: int) -> tuple[CTE, postgresql.Insert, CTE]:
    """``_replacing`` for ``count`` rows, built once with named bind parameters (``li_<i>_<column>``
    and ``li_episode_id``) that `_replacing_params` fills; with the upsert as a CTE too, for a
    save to carry. Composing the statement, and its cache key, per notice was about a tenth of
    a ``$process-message``'s Python (cProfile)."""
    binds = [
        [bindparam(f"li_{i}_{n}", type_=_li.c[n].type) for n in _ROW_NAMES] for i in range(count)
    ]
    clock = _ROW_NAMES.index("clock")
    gone = delete(_li).where(
        _li.c.episode_id == bindparam("li_episode_id", type_=_li.c.episode_id.type),
        _li.c.clock.not_in([row[clock] for row in binds]),
    )
    # The rows as a SELECT of bound parameters, not a multi-row VALUES: SQLAlchemy has no cache
    # key for the latter, so every notice's save was compiled anew.
    parts = [select(*row) for row in binds]
    upsert = postgresql.insert(_li).from_select(
        list(_ROW_NAMES), parts[0] if len(parts) == 1 else union_all(*parts)
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=[_li.c.episode_id, _li.c.clock],
        set_={c.name: upsert.excluded[c.name] for c in _li.c if not c.primary_key},
    )
    return (
        gone.returning(_li.c.clock).cte("gone"),
        upsert,
        upsert.returning(_li.c.clock).cte("upserted"),
    )


@cache
def _all_gone() -> CTE:
    """``replacement``'s CTE for an episode left without intervals, built once like
    `_replacing_shape`'s (``li_episode_id``)."""
    gone = delete(_li).where(
        _li.c.episode_id == bindparam("li_episode_id", type_=_li.c.episode_id.type)
    )
    return gone.returning(_li.c.clock).cte("gone")


def _replacing_params(episode_id: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The values of `_replacing_shape`'s parameters for ``rows``."""
    params = {"li_episode_id": episode_id}
    for i, row in enumerate(rows):
        params.update({f"li_{i}_{n}": row[n] for n in _ROW_NAMES})
    return params


@dataclass(frozen=True, slots=True)
class Window:
    """Local days ``first_day <= d < stop_day`` (and the instants bounding them, for døgn),
    summed as of ``as_of`` (whose local date is ``as_of_day``)."""

    first_day: date
    stop_day: date
    starts_at: datetime
    stops_at: datetime
    as_of: datetime
    as_of_day: date


def _least(a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((a < b, a), else_=b)


def _greatest(a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((a > b, a), else_=b)


def _ceil_periods(distance: ColumnElement[Any]) -> ColumnElement[Any]:
    # ceil(distance / period) for distance > 0, else 0. "//" (SQL integer division, which
    # truncates on both engines, so only non-negative numerators are divided): SQLAlchemy's "/"
    # is true division, which PostgreSQL would then round and SQLite truncate at the cast.
    return case((distance > 0, (distance + (_PERIOD_US - 1)) // _PERIOD_US), else_=0)


def days_in(
    first_day: ColumnElement[Any],
    stop_day: ColumnElement[Any],
    as_of_day: ColumnElement[Any],
    starts_us: ColumnElement[Any],
    stops_us: ColumnElement[Any],
    as_of_us: ColumnElement[Any],
) -> ColumnElement[int]:
    """The liable days of a stored interval on the local days ``first_day <= d < stop_day``
    as of an instant, as an SQL expression (the windows may be columns of a joined period list).

    Calendar days: the overlap of [first_day, stop_day or as_of's day + 1) with the window.
    Døgn: the periods n (0 <= n < N) whose start first_at + n × 24 h falls in the window's
    instants, N being ``periods`` once the clock has ended and the whole elapsed periods before.
    """
    running_stop = as_of_day + 1
    stop = case(
        (or_(_li.c.stop_day.is_(None), _li.c.stop_day > running_stop), running_stop),
        else_=_li.c.stop_day,
    )
    calendar = _greatest(_least(stop, stop_day) - _greatest(_li.c.first_day, first_day), literal(0))
    elapsed = case(
        (as_of_us >= _li.c.first_at_us, (as_of_us - _li.c.first_at_us) // _PERIOD_US), else_=0
    )
    count = case(
        (and_(_li.c.periods.is_not(None), _li.c.ends_at_us <= as_of_us), _li.c.periods),
        (and_(_li.c.periods.is_not(None), _li.c.periods < elapsed), _li.c.periods),
        else_=elapsed,
    )
    upper = _least(_ceil_periods(stops_us - _li.c.first_at_us), count)
    periods = _greatest(upper - _ceil_periods(starts_us - _li.c.first_at_us), literal(0))
    return case((_li.c.counting == "døgn", periods), else_=calendar)


def window_days(window: Window) -> ColumnElement[int]:
    """`days_in` for one fixed window."""
    return days_in(
        literal(day_number(window.first_day)),
        literal(day_number(window.stop_day)),
        literal(day_number(window.as_of_day)),
        literal(epoch_us(window.starts_at)),
        literal(epoch_us(window.stops_at)),
        literal(epoch_us(window.as_of)),
    )


def overlapping(first_day: ColumnElement[Any], stop_day: ColumnElement[Any]) -> ColumnElement[bool]:
    """Intervals that may have days on [first_day, stop_day): a narrowing the indexes serve."""
    return and_(
        _li.c.first_day < stop_day,
        or_(_li.c.stop_day.is_(None), _li.c.stop_day > first_day),
    )


@dataclass(frozen=True, slots=True)
class MonthRow:
    """One episode's liable days in a month, per rule set and rate table."""

    episode_id: str
    rule_set_id: str
    rate_table_id: str
    liable_days: int


class LiabilityRepository:
    """Liable intervals per episode, and the configuration version they follow."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def replace(
        self, episode: Episode, intervals: Sequence[LiableInterval], config_version: str
    ) -> None:
        """Store an episode's intervals in place of those it had."""
        gone = delete(_li).where(_li.c.episode_id == episode.id)
        rows = interval_rows(episode, intervals, config_version)
        if rows and self._conn.dialect.name == "postgresql":
            # One statement: the intervals it no longer has go, the others are written over.
            gone_cte, upsert, _ = _replacing_shape(len(rows))
            await self._conn.execute(upsert.add_cte(gone_cte), _replacing_params(episode.id, rows))
            return
        await self._conn.execute(gone)
        if rows:
            await self._conn.execute(insert(_li), rows)

    def replacement(
        self, episode: Episode, intervals: Sequence[LiableInterval], config_version: str
    ) -> tuple[list[CTE], dict[str, Any]]:
        """``replace`` as data-modifying CTEs for another statement to carry, with the values of
        their bind parameters, on PostgreSQL (the episode's save: ``EpisodeRepository.save``'s
        ``riders`` and ``params``); none on SQLite, where ``replace`` writes them."""
        if self._conn.dialect.name != "postgresql":
            return [], {}
        rows = interval_rows(episode, intervals, config_version)
        if not rows:
            return [_all_gone()], {"li_episode_id": episode.id}
        gone_cte, _, upserted = _replacing_shape(len(rows))
        return [gone_cte, upserted], _replacing_params(episode.id, rows)

    async def replace_many(self, rows: list[dict[str, Any]], episode_ids: Sequence[str]) -> None:
        """Store the intervals of many episodes (``rows`` from `interval_rows`) in place of
        theirs (a recomputation)."""
        if episode_ids:
            await self._conn.execute(delete(_li).where(_li.c.episode_id.in_(episode_ids)))
        if rows:
            await self._conn.execute(insert(_li), rows)

    async def state(self) -> tuple[str, dict[str, Any]] | None:
        """The version and configuration the stored intervals follow, if any was recorded."""
        row = (
            await self._conn.execute(
                select(t.liability_state.c.version, t.liability_state.c.config).where(
                    t.liability_state.c.id == 1
                )
            )
        ).first()
        return (row.version, dict(row.config)) if row is not None else None

    async def lock_state(self) -> None:
        """Serialize recomputations until this transaction ends (PostgreSQL; SQLite's writers
        are serial already)."""
        if self._conn.dialect.name == "postgresql":
            await self._conn.execute(
                select(func.pg_advisory_xact_lock(literal(0x5A4D_4C49_4142)))  # "ZMLIAB"
            )

    async def set_state(self, version: str, config: dict[str, Any], now: datetime) -> None:
        """Record that the stored intervals follow ``config`` (of ``version``)."""
        done = await self._conn.execute(
            update(t.liability_state)
            .where(t.liability_state.c.id == 1)
            .values(version=version, config=config, recomputed_at=now)
        )
        if done.rowcount == 0:
            await self._conn.execute(
                insert(t.liability_state).values(
                    id=1, version=version, config=config, recomputed_at=now
                )
            )

    async def stale_episode_ids(self, config_version: str) -> list[str]:
        """Episodes with an interval of another configuration version (written by a process
        that had not yet seen a recomputation)."""
        rows = await self._conn.execute(
            # Two index ranges rather than "!=", which no index serves.
            select(_li.c.episode_id)
            .where(
                or_(_li.c.config_version < config_version, _li.c.config_version > config_version)
            )
            .distinct()
        )
        return [row.episode_id for row in rows]

    async def month(
        self, window: Window, *, municipality_id: str, region_id: str | None
    ) -> list[MonthRow]:
        """Each episode's liable days in the window, for one municipality (and one region's
        hospitals when ``region_id`` is given), per rule set and rate table."""
        return [
            MonthRow(r.episode_id, r.rule_set_id, r.rate_table_id, int(r.liable_days))
            for r in await self._conn.execute(
                month_query(window, municipality_id=municipality_id, region_id=region_id)
            )
        ]


def month_query(
    window: Window,
    *,
    municipality_id: str,
    region_id: str | None,
    episode_ids: Sequence[str] | None = None,
    as_array: bool = False,
) -> Select[Any]:
    """The statement of `LiabilityRepository.month` (episode_id, rule_set_id, rate_table_id,
    liable_days), for a report that joins more to it; with ``episode_ids``, only those
    episodes' rows (their intervals found by the primary key, not by the month's range), given
    as one array parameter with ``as_array`` (PostgreSQL: one statement text whatever their
    number, where an ``IN`` list is a statement, prepared and planned, per length)."""
    days = window_days(window)
    query: Select[Any] = (
        select(
            _li.c.episode_id,
            _li.c.rule_set_id,
            _li.c.rate_table_id,
            func.sum(days).label("liable_days"),
        )
        .where(
            _li.c.municipality_id == municipality_id,
            overlapping(
                literal(day_number(window.first_day)), literal(day_number(window.stop_day))
            ),
        )
        .group_by(_li.c.episode_id, _li.c.rule_set_id, _li.c.rate_table_id)
        .having(func.sum(days) > 0)
    )
    if region_id is not None:
        query = query.where(_li.c.region_id == region_id)
    if episode_ids is not None and as_array:
        ids = bindparam(None, list(episode_ids), type_=postgresql.ARRAY(_li.c.episode_id.type))
        query = query.where(_li.c.episode_id == any_(ids))
    elif episode_ids is not None:
        query = query.where(_li.c.episode_id.in_(episode_ids))
    return query
