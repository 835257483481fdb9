"""Use case of the statistics' drill-down: the records behind one cell of an indicator.

The cell is asked for exactly as the figures are (indicator, periods, subject, breakdown), plus
which period and which group. Whose figures the caller may ask for is decided as for the
figures (`app.services.statistics.subject_for`): another organization or an area the caller is
not a member of is not found. The drill-down then lists only the records the caller is itself
a party to (access follows the record), and says nothing about the others: not how many there
are, so that a cell the figures mask as small is not revealed by its records. A person with a
protected identity is never named in it. Every record listed is logged as searched, with its
person, as any list logs what it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from app.domain.episodes import ZONES
from app.domain.errors import InvalidInput
from app.domain.statistics import Dimension, Period, indicator
from app.domain.statistics_records import COUNTED, CountedRecord, parse_cursor
from app.security.access import Actor, record
from app.services.statistics import Subject, refuse_unfit, subject_for
from app.store.liability import day_number
from app.store.statistics_records import Cell
from app.store.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class CellRecords:
    """One page of the records behind a cell."""

    code: str
    subject: Subject
    period: Period
    by: Dimension | None
    group: str | None
    items: list[CountedRecord]
    next_cursor: str | None


def _cell_period(periods: Sequence[Period], start: date | None) -> Period:
    if start is None:
        if len(periods) == 1:
            return periods[0]
        raise InvalidInput(
            "a series has several periods: give period_start, the first day of one of them",
            field="period_start",
        )
    for period in periods:
        if period.first_day == start:
            return period
    raise InvalidInput(
        f"{start.isoformat()} is not the first day of a period asked for", field="period_start"
    )


async def counted_records(
    uow: UnitOfWork,
    actor: Actor,
    code: str,
    periods: Sequence[Period],
    *,
    period_start: date | None,
    by: Dimension | None,
    group: str | None,
    organization_id: str | None,
    area_id: str | None,
    now: datetime,
    limit: int,
    cursor: str | None,
) -> CellRecords:
    """The caller's own records among those the indicator counted in one period and group."""
    item = indicator(code)
    after = parse_cursor(cursor) if cursor is not None else None
    if by is None and group is not None:
        raise InvalidInput("group names a group of a breakdown: give by too", field="group")
    if by is not None and group is None:
        raise InvalidInput(f"give the {by.value} whose records to list", field="group")
    subject = await subject_for(uow, actor, organization_id, area_id)
    refuse_unfit(item, subject, by)
    period = _cell_period(periods, period_start)
    zone = ZONES[subject.jurisdiction]
    starts, stops = period.bounds(zone)
    cell = Cell(
        scope=subject.scope,
        by=by,
        group=group,
        starts_at=starts,
        stops_at=stops,
        first_day=day_number(period.first_day),
        stop_day=day_number(period.stop_day),
        now=now,
        now_day=day_number(now.astimezone(zone).date()),
        zone=zone.key,
    )
    entries, more = await uow.statistics_records.page(
        item.code, cell, actor.reach, limit=limit, after=after
    )
    record(uow, actor, "read", "Statistics", subject.id, None)
    resource = COUNTED[item.code].resource_type
    for entry, person_id in entries:
        record(uow, actor, "search", resource, entry.key.record_id, person_id)
    items = [entry for entry, _person in entries]
    next_cursor = items[-1].key.cursor() if more and items else None
    return CellRecords(item.code, subject, period, by, group, items, next_cursor)
