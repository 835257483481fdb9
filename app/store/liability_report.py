"""The rows of a month's liability report, read in one statement.

A report has thousands of rows. Each row's liable days (`app.store.liability.month_query`), its
episode's summary, its person, and whether the reader certainly knows the person's details are
read together, so that the service neither reads summaries and persons separately nor maps
every party row of every person in Python to decide what the reader may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    and_,
    bindparam,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from app.domain.access_log import AccessEntry
from app.domain.parties import SOURCE_ROLES, Reach, Role
from app.domain.persons import Person
from app.store import tables as t
from app.store.access_rows import logged_for_each
from app.store.episodes import EpisodeSummary
from app.store.liability import MonthRow, Window, day_number, month_query, overlapping
from app.store.parties import reach_clause
from app.store.persons import PERSON_COLUMNS, person_of

_SOURCES = sorted(role.value for role in SOURCE_ROLES)


def knows_details(person_id: ColumnElement[Any], reach: Reach) -> ColumnElement[bool]:
    """Whether the reach is a party that knows the person's details, by a condition that is
    sufficient for `app.domain.parties.sees_details` (unprotected persons):

    - the reach holds a registrant party of the person (the registrant knows them), or
    - the reach is a party to a record of the person whose source party is (or is a unit of) a
      registrant of the person (the record passed the details on to its parties).

    A person for whom this is false may still be known through a longer chain of records; the
    caller decides those few from the parties, as `sees_details` does.
    """
    own = aliased(t.record_parties)
    registrant = select(own.c.person_id).where(
        own.c.person_id == person_id,
        own.c.role == Role.REGISTRANT.value,
        reach_clause(own.c.organization_id, own.c.principal_id, reach),
    )
    member, source, holder = (aliased(t.record_parties) for _ in range(3))
    passed_on = (
        select(member.c.person_id)
        .join(
            source,
            and_(
                source.c.person_id == member.c.person_id,
                source.c.record_type == member.c.record_type,
                source.c.record_id == member.c.record_id,
                source.c.role.in_(_SOURCES),
            ),
        )
        .join(
            holder,
            and_(
                holder.c.person_id == member.c.person_id,
                holder.c.role == Role.REGISTRANT.value,
                or_(
                    source.c.organization_id == holder.c.organization_id,
                    source.c.principal_id == holder.c.organization_id,
                ),
            ),
        )
        .where(
            member.c.person_id == person_id,
            reach_clause(member.c.organization_id, member.c.principal_id, reach),
        )
    )
    return or_(registrant.exists(), passed_on.exists())


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One row of the stored sums with its episode, its person as stored, and whether the
    reader is known (from SQL) to see the person's details."""

    days: MonthRow
    episode: EpisodeSummary
    person: Person
    knows_details: bool


class LiabilityReportReads:
    """The joined read of a month's report."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def priced_by(
        self, window: Window, *, municipality_id: str, region_id: str | None
    ) -> tuple[list[str], list[str]]:
        """The rate tables and the regions of the intervals that may have days in the month (a
        range of the municipality's interval index, without summing the days): what the rows
        can price by, and whose episodes they can be."""
        li = t.liable_intervals.c
        query = (
            select(li.rate_table_id, li.region_id)
            .where(
                li.municipality_id == municipality_id,
                overlapping(
                    literal(day_number(window.first_day)), literal(day_number(window.stop_day))
                ),
            )
            .distinct()
        )
        if region_id is not None:
            query = query.where(li.region_id == region_id)
        pairs = (await self._conn.execute(query)).all()
        return sorted({table for table, _ in pairs}), sorted({region for _, region in pairs})

    async def order(
        self,
        window: Window,
        *,
        municipality_id: str,
        region_id: str | None,
        after: tuple[datetime, str, str, str] | None = None,
    ) -> list[tuple[datetime, str, str, str]]:
        """The place of each of the month's rows after ``after``, in the report's order
        (admission, episode, rule set, rate table): what the parts of a report after its first
        are read by (`lines`'s ``episode_ids`` and ``until``), the month summed and ordered
        once. Places only, without persons: nothing is read about anyone, so nothing is
        logged."""
        sums = month_query(window, municipality_id=municipality_id, region_id=region_id).subquery()
        e = t.episodes.c
        order = (e.admitted_at, sums.c.episode_id, sums.c.rule_set_id, sums.c.rate_table_id)
        query = (
            select(*order)
            .select_from(sums)
            .join(t.episodes, e.id == sums.c.episode_id)
            .order_by(*order)
        )
        if after is not None:
            query = query.where(_compared(order, after, after=True))
        return [tuple(row) for row in await self._conn.execute(query)]

    async def lines(
        self,
        window: Window,
        *,
        municipality_id: str,
        region_id: str | None,
        reader: Reach,
        after: tuple[datetime, str, str, str] | None = None,
        limit: int | None = None,
        log: AccessEntry | None = None,
        episode_ids: Sequence[str] | None = None,
        until: tuple[datetime, str, str, str] | None = None,
    ) -> list[ReportLine]:
        """The month's rows (`LiabilityRepository.month`) with their episodes and persons, in
        the order of the report (admission, episode, rule set, rate table): the ``limit`` rows
        after the row whose place is ``after``, or all.

        With ``log`` (an entry naming its principal), the rows read are logged, ``log`` for
        each with its episode and person, by SQL: on PostgreSQL by the read's own statement (a
        data-modifying CTE over the rows it returns), on SQLite by a second statement of the
        same transaction that reads the same rows again (no data-modifying CTEs there).

        With ``until``, only rows whose place is not after it; with ``episode_ids`` (the
        episodes of the rows up to ``until``, from `order`), only those episodes' intervals are
        summed: a part then costs its own rows, where the month's rows summed and joined to
        their episodes for every part made a report of n parts cost n months (issue 20: 40 s
        for a region's reports at 1 000 000 persons)."""
        sums = month_query(
            window,
            municipality_id=municipality_id,
            region_id=region_id,
            episode_ids=episode_ids,
            as_array=self._conn.dialect.name == "postgresql",
        ).subquery()
        e, p = t.episodes.c, t.persons.c
        order = (e.admitted_at, sums.c.episode_id, sums.c.rule_set_id, sums.c.rate_table_id)
        # The part's rows first (the sums with their episodes, which give the order), then the
        # persons and what the reader knows of them for those rows only: a month of a large
        # region is several parts, and each part joined every row's person before it was cut.
        page = (
            select(
                sums.c.episode_id,
                sums.c.rule_set_id,
                sums.c.rate_table_id,
                sums.c.liable_days,
                e.person_id,
                e.hospital_unit_id,
                e.region_id,
                e.admitted_at,
                e.first_discharge_ready_at,
                e.discharged_at,
            )
            .select_from(sums)
            .join(t.episodes, e.id == sums.c.episode_id)
            .order_by(*order)
        )
        if after is not None:
            page = page.where(_compared(order, after, after=True))
        if until is not None:
            page = page.where(_compared(order, until, after=False))
        if limit is not None:
            page = page.limit(limit)
        part = page.subquery("page")
        # The rows' place and who they are about: what the log of them needs.
        rows = select(part).order_by(*_in_order(part))
        query = (
            select(
                *part.c,
                knows_details(p.id, reader).label("knows_details"),
                *PERSON_COLUMNS,
            )
            .select_from(part)
            .join(t.persons, p.id == part.c.person_id)
            .order_by(*_in_order(part))
        )
        logged_apart = log is not None and self._conn.dialect.name != "postgresql"
        if log is not None and not logged_apart:
            read = query.cte("part")
            query = (
                select(*read.c)
                .order_by(*_in_order(read))
                .add_cte(
                    logged_for_each(
                        log, read, read.c.episode_id, read.c.person_id, _in_order(read)
                    ).cte("logged")
                )
            )
        # Thousands of rows: read by position (a row's attributes by name cost more than the
        # objects built from them).
        lines = []
        for row in await self._conn.execute(query):
            episode_id, rule_set_id, rate_table_id, days, person_id = row[:5]
            lines.append(
                ReportLine(
                    MonthRow(episode_id, rule_set_id, rate_table_id, int(days)),
                    EpisodeSummary(episode_id, person_id, *row[5:10]),
                    person_of(row[11:]),
                    bool(row[10]),
                )
            )
        if log is not None and logged_apart and lines:
            again = rows.subquery("part")
            await self._conn.execute(
                logged_for_each(log, again, again.c.episode_id, again.c.person_id, _in_order(again))
            )
        return lines


def _compared(
    order: Sequence[ColumnElement[Any]], place: tuple[datetime, str, str, str], *, after: bool
) -> ColumnElement[bool]:
    """Rows whose place in ``order`` is after ``place`` (``after``), or not after it."""
    row = tuple_(*order)
    bound = tuple_(*(bindparam(None, v, type_=c.type) for c, v in zip(order, place, strict=True)))
    return row > bound if after else row <= bound


def _in_order(part: FromClause) -> list[ColumnElement[Any]]:
    """The report's order over a part's rows, by the columns' names."""
    return [part.c[name] for name in ("admitted_at", "episode_id", "rule_set_id", "rate_table_id")]
