"""The follow-up statistics as SQL aggregates over the indexed event tables.

Every query takes the periods as a small derived table of local bounds (computed in Python, so
DST and New Year are right on both engines), a scope (whose records count) and a dimension to
group by, and returns grouped numbers: counts, sums, or histograms of whole days, hours or
minutes from which the quantiles are read. No episode, plan or message is loaded into Python.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.statistics import Dimension
from app.store import tables as t
from app.store.liability import day_number, days_in, epoch_us, overlapping
from app.store.sql import epoch_seconds, local_day, whole_units
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


def _shared_plans(plan_id: ColumnElement[Any]) -> Callable[[str], ColumnElement[bool]]:
    """The plans shared with a region: those it is a participating principal of."""
    return lambda r: plan_id.in_(
        select(_rp.record_id).where(
            _rp.record_type == "plan", _rp.role == "participant", _rp.organization_id == r
        )
    )


PLANS = Parties(_shared_plans(t.plans.c.id), _pe.residence_municipality_id, None)


def _by_person(sl: Slice) -> bool:
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


def summons_lookups() -> tuple[Any, Any]:
    """For a discharge-ready notice (an ``episode_events`` row of an episode): when its person's
    first summons not cancelled was sent at or after it, and when its episode's first later
    withdrawal came; the summons-deadline indicator and its drill-down decide by these."""
    ev = t.episode_events.c
    m = t.meetings.c
    withdrawal = t.episode_events.alias("w")
    first_sent = (
        select(func.min(m.sent_at))
        .where(m.person_id == _ep.person_id, m.status != "cancelled", m.sent_at >= ev.at)
        .scalar_subquery()
    )
    first_withdrawn = (
        select(func.min(withdrawal.c.at))
        .where(
            withdrawal.c.episode_id == ev.episode_id,
            withdrawal.c.kind == "discharge-ready-withdrawn",
            withdrawal.c.seq > ev.seq,
        )
        .scalar_subquery()
    )
    return first_sent, first_withdrawn


class StatisticsRepository:
    """Grouped aggregates for the indicators; each row starts with (period key, group)."""

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

    async def episode_events(self, sl: Slice) -> list[Row]:
        """(k, g, admission notices, of them within 24 h, discharge-ready notices,
        withdrawals) by the time each notice was sent."""
        ev = t.episode_events.c
        kinds = ("admission-notice", "discharge-ready", "discharge-ready-withdrawn")
        within = epoch_seconds(ev.at) - epoch_seconds(_ep.admitted_at) <= 24 * 3600

        def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
            return func.sum(case((condition, 1), else_=0))

        source = t.episode_events.join(t.episodes, _ep.id == ev.episode_id)
        return await self._rows(
            self._base(
                source,
                ev.at,
                EPISODES,
                sl,
                [
                    count(ev.kind == kinds[0]),
                    count(and_(ev.kind == kinds[0], within)),
                    count(ev.kind == kinds[1]),
                    count(ev.kind == kinds[2]),
                ],
                ev.kind.in_(kinds),
            )
        )

    async def days_to_discharge(self, sl: Slice, zone: str) -> list[Row]:
        """(k, g, days, discharges): local days from the notice in force to the discharge."""
        days = (
            local_day(_ep.discharged_at, literal(zone))
            - local_day(_ep.discharge_ready_at, literal(zone))
        ).label("days")
        return await self._rows(
            self._base(
                t.episodes,
                _ep.discharged_at,
                EPISODES,
                sl,
                [func.count()],
                _ep.discharge_ready_at.is_not(None),
                extra_group=[days],
            )
        )

    async def readmissions(self, sl: Slice) -> list[Row]:
        """(k, g, discharges followed by an acute readmission within 30 days, discharges)."""
        later = t.episodes.alias("later")
        # Uncorrelated, so that PostgreSQL hashes the (few) readmitted episodes once instead of
        # probing for a readmission discharge by discharge.
        readmitted = _ep.id.in_(
            select(later.c.readmission_of_id).where(
                later.c.readmission_of_id.is_not(None), later.c.admission_type == "acute"
            )
        )
        return await self._rows(
            self._base(
                t.episodes,
                _ep.discharged_at,
                EPISODES,
                sl,
                [func.sum(case((readmitted, 1), else_=0)), func.count()],
            )
        )

    async def summonses(self, sl: Slice, now: datetime, zone: str) -> list[Row]:
        """(k, g, met, decided) of the three-day summons deadlines of Swedish discharge-ready
        notices asking for coordinated planning, by the notice's time (as the deadline list
        decides them: first summons not cancelled at or after the notice; a withdrawal before
        the deadline and before any summons lifts the duty)."""
        ev = t.episode_events.c
        m = t.meetings.c
        withdrawal = t.episode_events.alias("withdrawing")
        first_sent, first_withdrawn = summons_lookups()
        # Each notice looks up its person's summonses and its episode's later withdrawals only
        # where there are any: the persons with a summons and the episodes with a withdrawal are
        # hashed once, which spares most notices both lookups.
        summoned = select(m.person_id).where(m.status != "cancelled")
        withdrawing = select(withdrawal.c.episode_id).where(
            withdrawal.c.kind == "discharge-ready-withdrawn"
        )
        # The notice's data is tested in the outer query: as a condition of the join, its
        # selectivity (a guess) made PostgreSQL probe the episodes notice by notice.
        planning = cast(ev.data, String).like('%"coordinated_planning"%')
        sent = case((and_(planning, _ep.person_id.in_(summoned)), first_sent), else_=null())
        withdrawn = case(
            (and_(planning, ev.episode_id.in_(withdrawing)), first_withdrawn), else_=null()
        )
        zone_ = literal(zone)
        query, group = self._scoped(
            t.episode_events.join(t.episodes, _ep.id == ev.episode_id),
            ev.at,
            EPISODES,
            sl,
            ev.kind == "discharge-ready",
            _ep.jurisdiction == "SE",
        )
        inner = (
            query.add_columns(
                sl.periods.c.k,
                group.label("g"),
                planning.label("planning"),
                sent.label("sent"),
                withdrawn.label("withdrawn"),
                (local_day(ev.at, zone_) + 4).label("due_day"),
            )
            # A fence: PostgreSQL would otherwise pull the subquery up and evaluate each
            # lookup once for every time the aggregates name it.
            .offset(0)
            .subquery("d")
        )
        d = inner.c
        met = and_(d.sent.is_not(None), local_day(d.sent, zone_) < d.due_day)
        lapsed = and_(
            d.sent.is_(None), d.withdrawn.is_not(None), local_day(d.withdrawn, zone_) < d.due_day
        )
        breached = and_(
            d.sent.is_(None),
            ~func.coalesce(lapsed, False),
            literal(day_number(now.astimezone(_zone(zone)).date())) >= d.due_day,
        )
        return await self._rows(
            select(
                d.k,
                null() if sl.by is None else d.g,
                func.sum(case((met, 1), else_=0)),
                func.sum(case((or_(d.sent.is_not(None), breached), 1), else_=0)),
            )
            .where(d.planning)
            .group_by(d.k, *([] if sl.by is None else [d.g]))
        )

    async def liable_days(self, sl: Slice, as_of: datetime, zone: str) -> list[Row]:
        """(k, g, rate table, liable days, episodes with liable days) from the stored
        intervals, as of ``as_of``."""
        li = t.liable_intervals.c
        periods = sl.periods
        days = days_in(
            periods.c.first_day,
            periods.c.stop_day,
            literal(day_number(as_of.astimezone(_zone(zone)).date())),
            periods.c.a_us,
            periods.c.b_us,
            literal(epoch_us(as_of)),
        )
        # Each interval's days are computed once, in the inner query: the expression is long,
        # and the sum and the count of episodes would each repeat it.
        query, group = self._scoped(
            t.liable_intervals,
            None,
            INTERVALS,
            sl,
            on=overlapping(periods.c.first_day, periods.c.stop_day),
        )
        inner_query = query.add_columns(
            periods.c.k, group.label("g"), li.rate_table_id, li.episode_id, days.label("days")
        )
        # OFFSET 0 keeps PostgreSQL from pulling the subquery up (and computing days twice).
        inner = inner_query.offset(0).subquery("i")
        i = inner.c
        grouped = [] if sl.by is None else [i.g]
        return await self._rows(
            select(
                i.k,
                null() if sl.by is None else i.g,
                i.rate_table_id,
                func.sum(i.days),
                func.count(func.distinct(case((i.days > 0, i.episode_id)))),
            ).group_by(i.k, *grouped, i.rate_table_id)
        )

    async def plans_reaching(self, status: str | None, sl: Slice) -> list[Row]:
        """(k, g, plans) whose first version (``status`` None), or first version in
        ``status``, was recorded in the period."""
        v = t.plan_versions.c
        if status is None:
            # A plan's first version is its version 1 (one row, from the versions' index).
            first = select(v.plan_id, v.recorded_at.label("at")).where(v.version == 1)
        else:
            first = select(v.plan_id, func.min(v.recorded_at).label("at")).where(v.status == status)
        region = sl.scope.region_id
        if region is not None:
            # The region's plans are chosen before each plan's first time is found (both are
            # read in plan order from an index), not afterwards, when PostgreSQL cannot tell
            # how many of the times fall in the period.
            first = first.where(_shared_plans(v.plan_id)(region))
        if status is not None:
            first = first.group_by(v.plan_id)
        f = first.subquery("f")
        source: FromClause = f
        if _by_person(sl):
            source = f.join(t.plans, t.plans.c.id == f.c.plan_id).join(
                t.persons, _pe.id == t.plans.c.person_id
            )
        # The region's condition is in the subquery already.
        parties = Parties(lambda _r: true(), _pe.residence_municipality_id, None)
        return await self._rows(self._base(source, f.c.at, parties, sl, [func.count()]))

    async def meetings_held(self, sl: Slice, now: datetime) -> list[Row]:
        """(k, g, meetings) marked held, that took place in the period, before ``now``: a
        meeting only summoned, even one whose time has passed, was not held."""
        m = t.meetings.c
        source = t.meetings.join(t.persons, _pe.id == m.person_id)
        return await self._rows(
            self._base(
                source,
                m.held_at,
                MEETINGS,
                sl,
                [func.count()],
                m.status == "held",
                m.held_at <= now,
            )
        )

    async def overdue_follow_ups(self, sl: Slice, now: datetime) -> list[Row]:
        """(k, g, plans) active now with a follow-up date in the period that had fallen overdue
        by ``now`` with no held meeting of the plan in its window: a meeting only summoned, even
        one whose time has passed, does not answer it."""
        f = t.plan_follow_ups.c
        m = t.meetings.c
        answered = (
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
        source = t.plan_follow_ups.join(t.plans, t.plans.c.id == f.plan_id).join(
            t.persons, _pe.id == t.plans.c.person_id
        )
        return await self._rows(
            self._base(
                source,
                f.due_at,
                PLANS,
                sl,
                [func.count(func.distinct(f.plan_id))],
                t.plans.c.status == "active",
                f.overdue_at <= now,
                ~answered,
            )
        )

    async def deviations(self, column: str, sl: Slice) -> list[Row]:
        """(k, g, category or state, reports) reported in the period."""
        d = t.deviations.c
        # A general deviation concerns no person: it counts, without a residence municipality.
        source = t.deviations.outerjoin(t.persons, _pe.id == d.person_id)
        stratum = d.category if column == "category" else d.state
        return await self._rows(
            self._base(
                source,
                d.reported_at,
                DEVIATIONS,
                sl,
                [func.count()],
                extra_group=[stratum],
            )
        )

    async def hours_to_answer(self, sl: Slice) -> list[Row]:
        """(k, g, whole hours, reports) of deviations first answered in the period."""
        d = t.deviations.c
        # A general deviation concerns no person: it counts, without a residence municipality.
        source = t.deviations.outerjoin(t.persons, _pe.id == d.person_id)
        return await self._elapsed(source, d.reported_at, d.answered_at, 3600, DEVIATIONS, sl)

    async def care_messages(self, sl: Slice) -> list[Row]:
        """(k, g, messages) sent in the period."""
        m = t.care_messages.c
        return await self._rows(
            self._base(t.care_messages, m.sent_at, MESSAGES, sl, [func.count()])
        )

    async def acknowledgement_minutes(self, sl: Slice) -> list[Row]:
        """(k, g, whole minutes, acknowledgements) made in the period."""
        r = t.care_message_recipients.c
        m = t.care_messages.c
        source = t.care_message_recipients.join(t.care_messages, m.id == r.message_id)
        return await self._elapsed(source, m.sent_at, r.acknowledged_at, 60, ACKNOWLEDGEMENTS, sl)

    async def _elapsed(
        self,
        source: FromClause,
        since: ColumnElement[Any],
        until: ColumnElement[Any],
        seconds: int,
        parties: Parties,
        sl: Slice,
    ) -> list[Row]:
        """(k, g, whole units of ``seconds``, records): a histogram of the time from ``since``
        to ``until``, of the records whose ``until`` falls in the period."""
        units = whole_units(until, since, literal_column(str(seconds))).label("units")
        return await self._rows(
            self._base(source, until, parties, sl, [func.count()], extra_group=[units])
        )


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
