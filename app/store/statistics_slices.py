"""What every statistics query shares: the periods, whose records count, how they are grouped.

Every query takes the periods as a small derived table of local bounds (computed in Python, so
DST and New Year are right on both engines), a scope (whose records count) and a dimension to
group by, and returns grouped numbers: counts, sums, or histograms of whole days, hours or
minutes from which the quantiles are read. No episode, plan or message is loaded into Python.
The indicators' queries are in `app.store.statistics_episodes` (notices, discharges, summonses,
liable days) and `app.store.statistics_plans` (plans, meetings, deviations, care messages);
`app.store.statistics` gathers them in one repository.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    Select,
    and_,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.statistics import Dimension
from app.store import tables as t
from app.store.liability import epoch_us
from app.store.tables import UTCDateTime

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose records count: a region's, some municipalities', some units', or a principal's
    own (its units and itself, for care messages). Keys left None do not narrow."""

    region_id: str | None = None
    municipality_ids: tuple[str, ...] | None = None
    unit_ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Slice:
    """Which figures a query gives: the records of ``scope``, broken down ``by`` a dimension
    (None: not at all), over the ``periods`` (a `periods_table`)."""

    scope: Scope
    by: Dimension | None
    periods: FromClause


@dataclass(frozen=True, slots=True)
class Bounds:
    """One period's local bounds: instants, and local dates as day numbers."""

    key: int
    starts_at: datetime
    stops_at: datetime
    first_day: int
    stop_day: int


def periods_table(bounds: Sequence[Bounds]) -> FromClause:
    """The periods as a derived table (key, starts_at, stops_at, first_day, stop_day, a_us,
    b_us)."""
    selects = [
        select(
            literal(b.key, Integer).label("k"),
            literal(b.starts_at, UTCDateTime).label("starts_at"),
            literal(b.stops_at, UTCDateTime).label("stops_at"),
            literal(b.first_day, Integer).label("first_day"),
            literal(b.stop_day, Integer).label("stop_day"),
            literal(epoch_us(b.starts_at)).label("a_us"),
            literal(epoch_us(b.stops_at)).label("b_us"),
        )
        for b in bounds
    ]
    return union_all(*selects).subquery("p")


@dataclass(frozen=True, slots=True)
class Parties:
    """How a family of records is attributed: to a region (a condition), a municipality and a
    unit (columns, or None where the family has none)."""

    region: Callable[[str], ColumnElement[bool]]
    municipality: ColumnElement[Any] | None
    unit: ColumnElement[Any] | None


def follow_up_answered(now: datetime) -> ColumnElement[bool]:
    """Whether a follow-up (a ``plan_follow_ups`` row) was answered by ``now``: a meeting of its
    plan marked held in its window, before ``now``. A meeting only summoned, even one whose time
    has passed, does not answer it. The overdue-follow-up figure and its drill-down both decide
    by this."""
    f = t.plan_follow_ups.c
    m = t.meetings.c
    return (
        select(m.id)
        .where(
            m.plan_id == f.plan_id,
            m.status == "held",
            m.held_at <= now,
            or_(f.answered_from.is_(None), m.held_at >= f.answered_from),
            or_(f.answered_until.is_(None), m.held_at < f.answered_until),
        )
        .exists()
    )


def units_of(principal_id: str) -> Select[Any]:
    """A principal and its units (the ids of both)."""
    o = t.organizations.c
    return select(o.id).where(or_(o.id == principal_id, o.parent_id == principal_id))


_ep = t.episodes.c
_pe = t.persons.c
EPISODES = Parties(lambda r: _ep.region_id == r, _ep.municipality_id, _ep.hospital_unit_id)
INTERVALS = Parties(
    lambda r: t.liable_intervals.c.region_id == r,
    t.liable_intervals.c.municipality_id,
    t.liable_intervals.c.unit_id,
)
_rp = t.record_parties.c


def shared_plans(plan_id: ColumnElement[Any]) -> Callable[[str], ColumnElement[bool]]:
    """The plans shared with a region: those it is a participating principal of."""
    return lambda r: plan_id.in_(
        select(_rp.record_id).where(
            _rp.record_type == "plan", _rp.role == "participant", _rp.organization_id == r
        )
    )


PLANS = Parties(shared_plans(t.plans.c.id), _pe.residence_municipality_id, None)


def by_person(sl: Slice) -> bool:
    """Whether the slice needs the person's residence municipality (records counted by
    principal alone do not join the persons)."""
    return (
        sl.by in (Dimension.MUNICIPALITY, Dimension.AREA) or sl.scope.municipality_ids is not None
    )


MEETINGS = Parties(
    lambda r: t.meetings.c.organizer_id.in_(units_of(r)),
    _pe.residence_municipality_id,
    t.meetings.c.organizer_id,
)
DEVIATIONS = Parties(
    lambda r: or_(
        t.deviations.c.reporter_principal_id == r, t.deviations.c.handler_principal_id == r
    ),
    _pe.residence_municipality_id,
    t.deviations.c.reporter_id,
)


def by_unit(unit: ColumnElement[Any]) -> Parties:
    """Records attributed to a unit alone: a region counts those of its own units."""
    return Parties(lambda r: unit.in_(units_of(r)), None, unit)


MESSAGES = by_unit(t.care_messages.c.sender_id)
ACKNOWLEDGEMENTS = by_unit(t.care_message_recipients.c.organization_id)


def _narrow(query: Select[Any], parties: Parties, scope: Scope) -> Select[Any]:
    if scope.region_id is not None:
        query = query.where(parties.region(scope.region_id))
    if scope.municipality_ids is not None:
        if parties.municipality is not None:
            query = query.where(parties.municipality.in_(scope.municipality_ids))
        else:
            # Records attributed to no municipality (care messages) count for a municipality
            # as their principal: the municipality's own units.
            assert parties.unit is not None
            query = query.where(
                or_(*(parties.unit.in_(units_of(m)) for m in scope.municipality_ids))
            )
    if scope.unit_ids is not None:
        assert parties.unit is not None
        query = query.where(parties.unit.in_(scope.unit_ids))
    return query


def _group(
    query: Select[Any], parties: Parties, by: Dimension | None, scope: Scope
) -> tuple[Select[Any], ColumnElement[Any]]:
    """The query joined as the dimension needs, and the group column (NULL: no breakdown)."""
    if by is None:
        return query, null()
    if by is Dimension.UNIT:
        assert parties.unit is not None
        return query, parties.unit
    assert parties.municipality is not None
    if by is Dimension.MUNICIPALITY:
        return query, parties.municipality
    members = t.cooperation_area_members
    areas = t.cooperation_areas
    query = query.join(members, members.c.municipality_id == parties.municipality).join(
        areas, areas.c.id == members.c.area_id
    )
    if scope.region_id is not None:
        query = query.where(areas.c.region_id == scope.region_id)
    return query, members.c.area_id


# PostgreSQL settings for the rest of a transaction that computes statistics (SET LOCAL): the
# aggregates hash and sort a region's year in memory rather than in batches on disk; they are
# not compiled first (JIT, which their estimated cost set off, took about 0.1 to 0.2 s per
# statement at 100 000 persons and saved less); and an index page costs half the default
# (the indexes' pages are as cached as the tables'), so that a region's discharges and notices
# are read from the covering indexes rather than from the wide rows. Not lower: at 1.1 the
# summonses read each notice's data through the index, row by row (1.1 s more at 300 000).
SETTINGS = (
    "SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true), "
    "set_config('random_page_cost', '2', true)"
)


class Aggregates:
    """What every family's aggregates share: the connection (tuned for statistics once per
    transaction on PostgreSQL) and the scoped, grouped query of a slice."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._tuned = False

    async def _rows(self, query: Select[Any]) -> list[Row]:
        if not self._tuned:
            self._tuned = True
            if self._conn.dialect.name == "postgresql":
                await self._conn.execute(text(SETTINGS))
        return [tuple(row) for row in await self._conn.execute(query)]

    def _scoped(
        self,
        source: FromClause,
        moment: ColumnElement[Any] | None,
        parties: Parties,
        sl: Slice,
        *where: ColumnElement[bool],
        on: ColumnElement[bool] | None = None,
    ) -> tuple[Select[Any], ColumnElement[Any]]:
        """The records of ``source`` whose ``moment`` falls in a period (or that meet ``on``,
        joined with the periods), narrowed to the scope and joined as the dimension needs; with
        the group column (NULL: no breakdown). Nothing is selected yet."""
        periods = sl.periods
        if on is None:
            assert moment is not None
            on = and_(moment >= periods.c.starts_at, moment < periods.c.stops_at)
        query = select().select_from(source).join(periods, on)
        query, group = _group(query, parties, sl.by, sl.scope)
        return _narrow(query, parties, sl.scope).where(*where), group

    def _base(
        self,
        source: FromClause,
        moment: ColumnElement[Any] | None,
        parties: Parties,
        sl: Slice,
        measures: Sequence[ColumnElement[Any]],
        *where: ColumnElement[bool],
        extra_group: Sequence[ColumnElement[Any]] = (),
        on: ColumnElement[bool] | None = None,
    ) -> Select[Any]:
        """``measures`` of the records of ``source`` whose ``moment`` falls in a period (or that
        meet ``on``, joined with the periods), narrowed to the scope and grouped by period, the
        dimension and ``extra_group``."""
        query, group = self._scoped(source, moment, parties, sl, *where, on=on)
        periods = sl.periods
        grouped = [] if sl.by is None else [group]
        return query.add_columns(periods.c.k, group.label("g"), *extra_group, *measures).group_by(
            periods.c.k, *grouped, *extra_group
        )
