"""The episodes' indicators as SQL aggregates: notices, days from discharge-ready to discharge,
readmissions, the summons deadline and liable days (`app.store.statistics_slices` says how each
query is scoped and grouped)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    FromClause,
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
)

from app.store import tables as t
from app.store.episode_tables import PLANNING_PATTERN, WITHDRAWN
from app.store.liability import day_number, days_in, epoch_us, overlapping
from app.store.sql import epoch_seconds, local_day
from app.store.statistics_slices import EPISODES, INTERVALS, Aggregates, Row, Slice

_ep = t.episodes.c


def coordinated_planning(events: FromClause) -> ColumnElement[bool]:
    """Whether a notice (a row of ``events``, the episode events or an alias of them) asks for
    coordinated planning: the condition of the partial index of such notices, written as it is
    (the pattern in the statement, not bound) so that PostgreSQL reads them from that index."""
    return cast(events.c.data, String).like(literal_column(f"'{PLANNING_PATTERN}'"))


def withdrawal(events: FromClause) -> ColumnElement[bool]:
    """Whether an event (a row of ``events``) is a withdrawal of discharge-ready: the condition of
    the partial index of withdrawals by episode, written as it is (see `coordinated_planning`)."""
    return events.c.kind == literal_column(f"'{WITHDRAWN}'")


def summons_lookups() -> tuple[Any, Any]:
    """For a discharge-ready notice (an ``episode_events`` row of an episode): when its person's
    first summons not cancelled was sent at or after it, and when its episode's first later
    withdrawal came; the summons-deadline indicator and its drill-down decide by these."""
    ev = t.episode_events.c
    m = t.meetings.c
    withdrawals = t.episode_events.alias("w")
    first_sent = (
        select(func.min(m.sent_at))
        .where(m.person_id == _ep.person_id, m.status != "cancelled", m.sent_at >= ev.at)
        .scalar_subquery()
    )
    first_withdrawn = (
        select(func.min(withdrawals.c.at))
        .where(
            withdrawals.c.episode_id == ev.episode_id,
            withdrawal(withdrawals),
            withdrawals.c.seq > ev.seq,
        )
        .scalar_subquery()
    )
    return first_sent, first_withdrawn


class EpisodeAggregates(Aggregates):
    """Grouped aggregates of the episodes' indicators; each row starts with (period key,
    group)."""

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
        withdrawals = t.episode_events.alias("withdrawing")
        first_sent, first_withdrawn = summons_lookups()
        # Each notice looks up its person's summonses and its episode's later withdrawals only
        # where there are any: the persons with a summons and the episodes with a withdrawal are
        # hashed once, which spares most notices both lookups.
        summoned = select(m.person_id).where(m.status != "cancelled")
        withdrawing = select(withdrawals.c.episode_id).where(withdrawal(withdrawals))
        sent = case((_ep.person_id.in_(summoned), first_sent), else_=null())
        withdrawn = case((ev.episode_id.in_(withdrawing), first_withdrawn), else_=null())
        zone_ = literal(zone)
        # The notices asking for coordinated planning are read from their partial index alone.
        query, group = self._scoped(
            t.episode_events.join(t.episodes, _ep.id == ev.episode_id),
            ev.at,
            EPISODES,
            sl,
            ev.kind == "discharge-ready",
            coordinated_planning(t.episode_events),
            _ep.jurisdiction == "SE",
        )
        inner = (
            query.add_columns(
                sl.periods.c.k,
                group.label("g"),
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
            literal(day_number(now.astimezone(ZoneInfo(zone)).date())) >= d.due_day,
        )
        return await self._rows(
            select(
                d.k,
                null() if sl.by is None else d.g,
                func.sum(case((met, 1), else_=0)),
                func.sum(case((or_(d.sent.is_not(None), breached), 1), else_=0)),
            ).group_by(d.k, *([] if sl.by is None else [d.g]))
        )

    async def liable_days(self, sl: Slice, as_of: datetime, zone: str) -> list[Row]:
        """(k, g, rate table, liable days, episodes with liable days) from the stored
        intervals, as of ``as_of``."""
        li = t.liable_intervals.c
        periods = sl.periods
        days = days_in(
            periods.c.first_day,
            periods.c.stop_day,
            literal(day_number(as_of.astimezone(ZoneInfo(zone)).date())),
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
        # Each episode's days first (hashed), then the episodes with any: a COUNT(DISTINCT)
        # sorted the region's intervals of the year (0.3-0.4 s at 1 000 000 persons).
        per_episode = (
            select(i.k, i.g, i.rate_table_id, func.sum(i.days).label("days"))
            .group_by(i.k, i.g, i.rate_table_id, i.episode_id)
            .subquery("e")
        )
        e = per_episode.c
        return await self._rows(
            select(
                e.k,
                null() if sl.by is None else e.g,
                e.rate_table_id,
                func.sum(e.days),
                func.sum(case((e.days > 0, 1), else_=0)),
            ).group_by(e.k, *([] if sl.by is None else [e.g]), e.rate_table_id)
        )
