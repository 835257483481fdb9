"""The plans', meetings', deviations' and care messages' indicators as SQL aggregates
(`app.store.statistics_slices` says how each query is scoped and grouped)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    func,
    literal_column,
    select,
    true,
)

from app.store import tables as t
from app.store.sql import whole_units
from app.store.statistics_slices import (
    ACKNOWLEDGEMENTS,
    DEVIATIONS,
    MEETINGS,
    MESSAGES,
    PLANS,
    Aggregates,
    Parties,
    Row,
    Slice,
    by_person,
    follow_up_answered,
    shared_plans,
)

_pe = t.persons.c


class PlanAggregates(Aggregates):
    """Grouped aggregates of the plans', meetings', deviations' and care messages' indicators;
    each row starts with (period key, group)."""

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
            first = first.where(shared_plans(v.plan_id)(region))
        if status is not None:
            first = first.group_by(v.plan_id)
        f = first.subquery("f")
        source: FromClause = f
        if by_person(sl):
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
                ~follow_up_answered(now),
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
