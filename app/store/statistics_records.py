"""The records behind one cell of a statistic, listed in keyset pages.

For each indicator one query selects the records (or a record's notices or acknowledgements)
that the figure of one period and group counted, by the same rules as the aggregates of
`app.store.statistics`: whose records count (the scope), the group's column, the instant that
places a record in the period. Each is narrowed to the records the caller is a party to
(``record_parties``) in the same statement, joined with its person's protected-identity flag,
and ordered by (instant, record id, part) so that a page continues after a cursor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    FromClause,
    Integer,
    Select,
    String,
    and_,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.parties import Reach, RecordType
from app.domain.statistics import Dimension
from app.domain.statistics_records import COUNTED, CountedRecord, Key
from app.store import tables as t
from app.store.liability import days_in, epoch_us, overlapping
from app.store.parties import party_to
from app.store.sql import epoch_seconds, local_day, whole_units
from app.store.statistics_episodes import coordinated_planning, summons_lookups
from app.store.statistics_slices import (
    DEVIATIONS,
    EPISODES,
    MEETINGS,
    PLANS,
    Parties,
    Scope,
    by_unit,
    follow_up_answered,
    units_of,
)
from app.store.tables import UTCDateTime


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell: the records of ``scope`` in ``group`` of the dimension ``by`` (None: all)
    whose instant falls in [starts_at, stops_at) (local dates [first_day, stop_day) as day
    numbers), asked at ``now`` in the jurisdiction's time zone ``zone``."""

    scope: Scope
    by: Dimension | None
    group: str | None
    starts_at: datetime
    stops_at: datetime
    first_day: int
    stop_day: int
    now: datetime
    now_day: int
    zone: str


_ep = t.episodes.c
_pe = t.persons.c


def _where(owner: Parties, cell: Cell) -> list[ColumnElement[bool]]:
    """The conditions of the scope and of the group."""
    scope, found = cell.scope, []
    if scope.region_id is not None:
        found.append(owner.region(scope.region_id))
    if scope.municipality_ids is not None:
        if owner.municipality is not None:
            found.append(owner.municipality.in_(scope.municipality_ids))
        else:
            # Records of no municipality (care messages) count for a municipality's own units.
            assert owner.unit is not None
            found.append(or_(*(owner.unit.in_(units_of(m)) for m in scope.municipality_ids)))
    if scope.unit_ids is not None:
        assert owner.unit is not None
        found.append(owner.unit.in_(scope.unit_ids))
    if cell.by is Dimension.UNIT:
        assert owner.unit is not None
        found.append(owner.unit == cell.group)
    elif cell.by is Dimension.MUNICIPALITY:
        assert owner.municipality is not None
        found.append(owner.municipality == cell.group)
    elif cell.by is Dimension.AREA:
        assert owner.municipality is not None
        members, areas = t.cooperation_area_members.c, t.cooperation_areas.c
        of_area = select(members.municipality_id).where(members.area_id == cell.group)
        if scope.region_id is not None:
            of_area = of_area.where(
                members.area_id.in_(select(areas.id).where(areas.region_id == scope.region_id))
            )
        found.append(owner.municipality.in_(of_area))
    return found


def _in(moment: ColumnElement[Any], cell: Cell) -> ColumnElement[bool]:
    return and_(
        moment >= literal(cell.starts_at, UTCDateTime), moment < literal(cell.stops_at, UTCDateTime)
    )


def _instant(value: ColumnElement[Any] | None) -> ColumnElement[Any]:
    return type_coerce(null() if value is None else value, UTCDateTime)


def _columns(
    at: ColumnElement[Any],
    record_id: ColumnElement[Any],
    part: ColumnElement[Any] | None,
    person_id: ColumnElement[Any] | None,
    owner: Parties,
    *,
    t1: ColumnElement[Any] | None = None,
    t2: ColumnElement[Any] | None = None,
    value: ColumnElement[Any] | None = None,
    numerator: ColumnElement[Any] | None = None,
    stratum: ColumnElement[Any] | None = None,
) -> list[ColumnElement[Any]]:
    """The columns every query gives, in one shape."""
    return [
        type_coerce(at, UTCDateTime).label("at"),
        record_id.label("record_id"),
        (literal("") if part is None else part).label("part"),
        (null() if person_id is None else person_id).label("person_id"),
        (null() if owner.unit is None else owner.unit).label("unit_id"),
        (null() if owner.municipality is None else owner.municipality).label("municipality_id"),
        _instant(t1).label("t1"),
        _instant(t2).label("t2"),
        type_coerce(null() if value is None else value, Integer).label("value"),
        type_coerce(null() if numerator is None else numerator, Boolean).label("numerator"),
        (null() if stratum is None else stratum).label("stratum"),
    ]


_KINDS = {
    "admissions-notified": "admission-notice",
    "admission-notice-within-24h": "admission-notice",
    "discharge-ready-notices": "discharge-ready",
    "discharge-ready-withdrawals": "discharge-ready-withdrawn",
}


def _events(code: str, cell: Cell) -> Select[Any]:
    ev = t.episode_events.c
    within = None
    if code == "admission-notice-within-24h":
        within = epoch_seconds(ev.at) - epoch_seconds(_ep.admitted_at) <= 24 * 3600
    admitted = _ep.admitted_at if code.startswith("admission") else None
    return (
        select(
            *_columns(
                ev.at,
                _ep.id,
                cast(ev.seq, String),
                _ep.person_id,
                EPISODES,
                t1=admitted,
                numerator=within,
            )
        )
        .select_from(t.episode_events.join(t.episodes, _ep.id == ev.episode_id))
        .where(ev.kind == _KINDS[code], _in(ev.at, cell), *_where(EPISODES, cell))
    )


def _days_to_discharge(cell: Cell) -> Select[Any]:
    zone = literal(cell.zone)
    days = local_day(_ep.discharged_at, zone) - local_day(_ep.discharge_ready_at, zone)
    return select(
        *_columns(
            _ep.discharged_at,
            _ep.id,
            None,
            _ep.person_id,
            EPISODES,
            t1=_ep.discharge_ready_at,
            value=days,
        )
    ).where(
        _ep.discharge_ready_at.is_not(None),
        _in(_ep.discharged_at, cell),
        *_where(EPISODES, cell),
    )


def _readmissions(cell: Cell) -> Select[Any]:
    later = t.episodes.alias("later")
    readmitted = (
        select(func.min(later.c.admitted_at))
        .where(later.c.readmission_of_id == _ep.id, later.c.admission_type == "acute")
        .scalar_subquery()
    )
    return select(
        *_columns(
            _ep.discharged_at,
            _ep.id,
            None,
            _ep.person_id,
            EPISODES,
            t1=readmitted,
            numerator=readmitted.is_not(None),
        )
    ).where(_in(_ep.discharged_at, cell), *_where(EPISODES, cell))


def _liable_days(cell: Cell) -> Select[Any]:
    li = t.liable_intervals.c
    owner = Parties(lambda r: li.region_id == r, li.municipality_id, li.unit_id)
    days = func.sum(
        days_in(
            literal(cell.first_day),
            literal(cell.stop_day),
            literal(cell.now_day),
            literal(epoch_us(cell.starts_at)),
            literal(epoch_us(cell.stops_at)),
            literal(epoch_us(cell.now)),
        )
    )
    grouped = (
        select(
            *_columns(
                _ep.admitted_at,
                li.episode_id,
                li.rate_table_id,
                _ep.person_id,
                owner,
                t1=_ep.discharge_ready_at,
                t2=_ep.discharged_at,
                value=days,
            )
        )
        .select_from(t.liable_intervals.join(t.episodes, _ep.id == li.episode_id))
        .where(overlapping(literal(cell.first_day), literal(cell.stop_day)), *_where(owner, cell))
        .group_by(
            li.episode_id,
            li.rate_table_id,
            li.unit_id,
            li.municipality_id,
            _ep.admitted_at,
            _ep.person_id,
            _ep.discharge_ready_at,
            _ep.discharged_at,
        )
        .having(days > 0)
    )
    inner = grouped.subquery("liable")
    return select(*inner.c)


def _summonses(cell: Cell) -> Select[Any]:
    ev = t.episode_events.c
    sent, withdrawn = summons_lookups()
    zone = literal(cell.zone)
    inner = (
        select(
            ev.at.label("at"),
            ev.episode_id,
            ev.seq,
            _ep.person_id,
            _ep.region_id,
            _ep.municipality_id,
            _ep.hospital_unit_id,
            type_coerce(sent, UTCDateTime).label("sent"),
            type_coerce(withdrawn, UTCDateTime).label("withdrawn"),
            (local_day(ev.at, zone) + 4).label("due_day"),
        )
        .select_from(t.episode_events.join(t.episodes, _ep.id == ev.episode_id))
        .where(
            ev.kind == "discharge-ready",
            _ep.jurisdiction == "SE",
            coordinated_planning(t.episode_events),
        )
        .subquery("d")
    )
    d = inner.c
    owner = Parties(lambda r: d.region_id == r, d.municipality_id, d.hospital_unit_id)
    met = and_(d.sent.is_not(None), local_day(d.sent, zone) < d.due_day)
    lapsed = and_(
        d.sent.is_(None), d.withdrawn.is_not(None), local_day(d.withdrawn, zone) < d.due_day
    )
    breached = and_(
        d.sent.is_(None), ~func.coalesce(lapsed, False), literal(cell.now_day) >= d.due_day
    )
    return select(
        *_columns(
            d.at,
            d.episode_id,
            cast(d.seq, String),
            d.person_id,
            owner,
            t1=d.sent,
            numerator=func.coalesce(met, False),
        )
    ).where(or_(d.sent.is_not(None), breached), _in(d.at, cell), *_where(owner, cell))


_REACHED = {"plans-started": None, "plans-activated": "active", "plans-completed": "completed"}


def _plans_reaching(code: str, cell: Cell) -> Select[Any]:
    v = t.plan_versions.c
    status = _REACHED[code]
    first = (
        select(v.plan_id, func.min(v.recorded_at).label("at"))
        .where(v.version == 1 if status is None else v.status == status)
        .group_by(v.plan_id)
        .subquery("f")
    )
    source = first.join(t.plans, t.plans.c.id == first.c.plan_id).join(
        t.persons, _pe.id == t.plans.c.person_id
    )
    return (
        select(*_columns(first.c.at, t.plans.c.id, None, t.plans.c.person_id, PLANS))
        .select_from(source)
        .where(_in(first.c.at, cell), *_where(PLANS, cell))
    )


def _overdue_follow_ups(cell: Cell) -> Select[Any]:
    f = t.plan_follow_ups.c
    source = t.plan_follow_ups.join(t.plans, t.plans.c.id == f.plan_id).join(
        t.persons, _pe.id == t.plans.c.person_id
    )
    grouped = (
        select(
            *_columns(
                func.min(f.due_at),
                t.plans.c.id,
                None,
                t.plans.c.person_id,
                PLANS,
                t1=func.min(f.overdue_at),
            )
        )
        .select_from(source)
        .where(
            _in(f.due_at, cell),
            t.plans.c.status == "active",
            f.overdue_at <= cell.now,
            ~follow_up_answered(cell.now),
            *_where(PLANS, cell),
        )
        .group_by(t.plans.c.id, t.plans.c.person_id, _pe.residence_municipality_id)
        .subquery("overdue")
    )
    return select(*grouped.c)


def _meetings_held(cell: Cell) -> Select[Any]:
    m = t.meetings.c
    return (
        select(*_columns(m.held_at, m.id, None, m.person_id, MEETINGS))
        .select_from(t.meetings.join(t.persons, _pe.id == m.person_id))
        .where(
            m.status == "held", m.held_at <= cell.now, _in(m.held_at, cell), *_where(MEETINGS, cell)
        )
    )


def _deviations(code: str, cell: Cell) -> Select[Any]:
    d = t.deviations.c
    # A general deviation concerns no person: it counts, without a residence municipality.
    source = t.deviations.outerjoin(t.persons, _pe.id == d.person_id)
    if code == "deviation-hours-to-answer":
        hours = whole_units(d.answered_at, d.reported_at, literal_column("3600"))
        columns = _columns(
            d.answered_at, d.id, None, d.person_id, DEVIATIONS, t1=d.reported_at, value=hours
        )
        moment = d.answered_at
    else:
        stratum = d.category if code == "deviations-by-category" else d.state
        columns = _columns(d.reported_at, d.id, None, d.person_id, DEVIATIONS, stratum=stratum)
        moment = d.reported_at
    return select(*columns).select_from(source).where(_in(moment, cell), *_where(DEVIATIONS, cell))


def _care_messages(cell: Cell) -> Select[Any]:
    m = t.care_messages.c
    owner = by_unit(m.sender_id)
    return select(*_columns(m.sent_at, m.id, None, m.person_id, owner)).where(
        _in(m.sent_at, cell), *_where(owner, cell)
    )


def _acknowledgements(cell: Cell) -> Select[Any]:
    r = t.care_message_recipients.c
    m = t.care_messages.c
    owner = by_unit(r.organization_id)
    minutes = whole_units(r.acknowledged_at, m.sent_at, literal_column("60"))
    return (
        select(
            *_columns(
                r.acknowledged_at,
                m.id,
                r.organization_id,
                m.person_id,
                owner,
                t1=m.sent_at,
                value=minutes,
            )
        )
        .select_from(t.care_message_recipients.join(t.care_messages, m.id == r.message_id))
        .where(_in(r.acknowledged_at, cell), *_where(owner, cell))
    )


def _query(code: str, cell: Cell) -> Select[Any]:
    if code in _KINDS:
        return _events(code, cell)
    if code in _REACHED:
        return _plans_reaching(code, cell)
    if code.startswith("deviation"):
        return _deviations(code, cell)
    builders: dict[str, Callable[[Cell], Select[Any]]] = {
        "days-ready-to-discharge": _days_to_discharge,
        "readmissions-30-days": _readmissions,
        "liable-days": _liable_days,
        "summons-within-deadline": _summonses,
        "plans-with-overdue-follow-up": _overdue_follow_ups,
        "meetings-held": _meetings_held,
        "care-messages": _care_messages,
        "acknowledgement-minutes": _acknowledgements,
    }
    return builders[code](cell)


def _after(rows: FromClause, key: Key) -> ColumnElement[bool]:
    at = literal(key.at, UTCDateTime)
    c = rows.c
    return or_(
        c.at > at,
        and_(c.at == at, c.record_id > key.record_id),
        and_(c.at == at, c.record_id == key.record_id, c.part > key.part),
    )


class StatisticsRecordsRepository:
    """The records one cell of an indicator counted, that a reach is a party to."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def page(
        self, code: str, cell: Cell, reach: Reach, *, limit: int, after: Key | None
    ) -> tuple[list[tuple[CountedRecord, str | None]], bool]:
        """Up to ``limit`` entries after ``after`` in (instant, record, part) order, each with
        the id of its person for the access log (a protected identity's is left out of the
        entry itself), and whether more follow."""
        counted = COUNTED[code]
        rows = _query(code, cell).subquery("counted")
        query = (
            select(rows, _pe.protected_identity)
            .select_from(rows.outerjoin(t.persons, _pe.id == rows.c.person_id))
            .where(party_to(counted.record_type, rows.c.record_id, reach))
            .order_by(rows.c.at, rows.c.record_id, rows.c.part)
            .limit(limit + 1)
        )
        if after is not None:
            query = query.where(_after(rows, after))
        found = (await self._conn.execute(query)).all()
        entries = [
            (_entry(counted.record_type, counted.instants, r), r.person_id) for r in found[:limit]
        ]
        return entries, len(found) > limit


def _entry(record_type: RecordType, names: tuple[str, ...], row: Any) -> CountedRecord:
    instants = dict(zip(names, (row.at, row.t1, row.t2), strict=False))
    return CountedRecord(
        key=Key(row.at, row.record_id, row.part),
        record_type=record_type,
        person_id=None if row.protected_identity else row.person_id,
        unit_id=row.unit_id,
        municipality_id=row.municipality_id,
        instants=instants,
        value=None if row.value is None else int(row.value),
        in_numerator=None if row.numerator is None else bool(row.numerator),
        stratum=row.stratum,
    )
