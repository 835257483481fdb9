"""The episodes' statistics per local day (``statistics_daily``): what each fact is, how the
table is rebuilt from the events, and how each write keeps it true in its own transaction.

The facts, each counted on the local day (the episode's jurisdiction's zone) of its instant, by
the episode's region, municipality and hospital unit:

- ``admission-notice`` (value 1: sent at most 24 hours after the admission, else 0),
  ``discharge-ready``, ``discharge-ready-withdrawn``: the notices, by when they were sent;
- ``discharge``: by the discharge, value the local days from the discharge-ready notice in force
  (-1: none was);
- ``readmitted``: a discharge (on its day) after which the person was admitted acutely again;
- ``summons``: a Swedish discharge-ready notice asking for coordinated planning, by when it was
  sent, value its deadline's outcome as the store knows it (`SUMMONS_*`). Whether a notice with
  no summons yet is breached depends on the day it is asked, which the reading query compares
  with the notice's day; nothing else here depends on "now".

The rules are those of the live queries (`app.store.statistics_episodes`), which stay for the
drill-down's sake and as the reference the property tests compare with. `contributions` is the
one SQL definition of every fact for a set of episodes: the recompute inserts it for all of
them, and a write that can change facts already counted (a withdrawal, a summons sent or
cancelled) takes its episodes' rows out before and puts them back after (`retract`, `apply`).
Facts that only a new event adds are computed from the event itself (`event_rows`), carried by
the statement that appends it on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    bindparam,
    case,
    func,
    literal,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import BindParameter

from app.domain.episodes import ZONES, Episode, EpisodeEvent, EventKind
from app.store import tables as t
from app.store.liability import day_number
from app.store.sql import epoch_seconds, local_day
from app.store.statistics_episodes import coordinated_planning, summons_lookups

_ep = t.episodes.c
_d = t.statistics_daily.c
COLUMNS = ("fact", "day", "region_id", "municipality_id", "unit_id", "value", "n")
KEY = COLUMNS[:-1]
NOTICES = (
    EventKind.ADMISSION_NOTICE.value,
    EventKind.DISCHARGE_READY.value,
    EventKind.DISCHARGE_READY_WITHDRAWN.value,
)
SUMMONS_OPEN, SUMMONS_MET, SUMMONS_LATE, SUMMONS_LAPSED = 0, 1, 2, 3
"""A notice's summons deadline: no summons yet (breached once the deadline day has passed),
met, late (sent after the deadline: decided, not met), lapsed (withdrawn before the deadline
with no summons: not decided)."""
DEADLINE_DAYS = 4
"""The deadline is the end of the third local day after the notice: day + 4 is the first day
past it."""


def zone_of(jurisdiction: ColumnElement[Any]) -> ColumnElement[Any]:
    """The IANA zone of a jurisdiction column, as SQL."""
    return case(*((jurisdiction == code, literal(z.key)) for code, z in ZONES.items()))


def _day(moment: ColumnElement[Any]) -> ColumnElement[int]:
    return local_day(moment, zone_of(_ep.jurisdiction))


def _keys() -> tuple[ColumnElement[Any], ...]:
    return (_ep.region_id, _ep.municipality_id, _ep.hospital_unit_id)


def _grouped(fact: ColumnElement[Any], day: ColumnElement[int], value: ColumnElement[Any]) -> Any:
    """The columns of a fact's rows, and what they are grouped by: a constant fact or value is
    left out of the GROUP BY (PostgreSQL reads a constant there as a column position)."""
    columns = (
        fact.label("fact"),
        day.label("day"),
        _ep.region_id.label("region_id"),
        _ep.municipality_id.label("municipality_id"),
        _ep.hospital_unit_id.label("unit_id"),
        value.label("value"),
    )
    constant = (fact, value)
    varying = [c for c in constant if not isinstance(c, BindParameter)]
    return columns, (*varying, day, *_keys())


def contributions(episodes: ColumnElement[bool] | None, *, summons_only: bool = False) -> Any:
    """Every fact of the episodes that meet ``episodes`` (None: all), as rows of `COLUMNS`."""
    where = true() if episodes is None else episodes
    ev = t.episode_events.c
    source = t.episode_events.join(t.episodes, _ep.id == ev.episode_id)
    first_sent, first_withdrawn = summons_lookups()
    notice_day = _day(ev.at)
    inner = (
        select(
            _ep.region_id,
            _ep.municipality_id,
            _ep.hospital_unit_id,
            notice_day.label("notice_day"),
            local_day(first_sent, literal(ZONES["SE"].key)).label("sent_day"),
            local_day(first_withdrawn, literal(ZONES["SE"].key)).label("withdrawn_day"),
        )
        .select_from(source)
        .where(
            where,
            ev.kind == EventKind.DISCHARGE_READY.value,
            coordinated_planning(t.episode_events),
            _ep.jurisdiction == "SE",
        )
        .subquery("notice")
    )
    s = inner.c
    due = s.notice_day + DEADLINE_DAYS
    outcome = case(
        (s.sent_day.is_not(None), case((s.sent_day < due, SUMMONS_MET), else_=SUMMONS_LATE)),
        (and_(s.withdrawn_day.is_not(None), s.withdrawn_day < due), SUMMONS_LAPSED),
        else_=SUMMONS_OPEN,
    ).label("value")
    summons = select(
        literal("summons", String).label("fact"),
        s.notice_day.label("day"),
        s.region_id,
        s.municipality_id,
        s.hospital_unit_id.label("unit_id"),
        outcome,
        func.count().label("n"),
    ).group_by(s.notice_day, s.region_id, s.municipality_id, s.hospital_unit_id, outcome)
    if summons_only:
        return summons
    within = epoch_seconds(ev.at) - epoch_seconds(_ep.admitted_at) <= 24 * 3600
    value = case((and_(ev.kind == NOTICES[0], within), 1), else_=0)
    columns, group = _grouped(ev.kind, notice_day, value)
    notices = (
        select(*columns, func.count().label("n"))
        .select_from(source)
        .where(where, ev.kind.in_(NOTICES))
        .group_by(*group)
    )
    days = case(
        (_ep.discharge_ready_at.is_(None), -1),
        else_=_day(_ep.discharged_at) - _day(_ep.discharge_ready_at),
    )
    columns, group = _grouped(literal("discharge", String), _day(_ep.discharged_at), days)
    discharges = (
        select(*columns, func.count().label("n"))
        .where(where, _ep.discharged_at.is_not(None))
        .group_by(*group)
    )
    later = t.episodes.alias("later")
    readmitted_ids = select(later.c.readmission_of_id).where(
        later.c.readmission_of_id.is_not(None), later.c.admission_type == "acute"
    )
    columns, group = _grouped(
        literal("readmitted", String), _day(_ep.discharged_at), literal(0, Integer)
    )
    readmitted = (
        select(*columns, func.count().label("n"))
        .where(where, _ep.discharged_at.is_not(None), _ep.id.in_(readmitted_ids))
        .group_by(*group)
    )
    return union_all(notices, discharges, readmitted, summons)


SHARDS = 64
"""How many rows a key's count is spread over for writers on PostgreSQL: a transaction adds to
the row of shard 1 + (its connection's backend pid modulo ``SHARDS``), so transactions running at
the same time (on different connections) do not queue on one row lock until they commit, as
every notice of a day, region, municipality and unit did on one row (40 messages/s under load).
Shard 0 is the recompute's and the compaction's (`compact`), which no writer touches."""
WHOLE = 0


def _shard(dialect: Dialect) -> ColumnElement[int]:
    """The shard a writing transaction adds to: its connection's on PostgreSQL; on SQLite, whose
    writers queue on the database lock anyway, the whole count's."""
    return _shard_of(dialect.name)


@lru_cache(maxsize=4)
def _shard_of(dialect_name: str) -> ColumnElement[int]:
    """`_shard`, built once per engine kind: a constant expression (building it was 3 % of a
    ``$process-message``'s Python under cProfile)."""
    if dialect_name == "postgresql":
        return (literal(1, Integer) + func.pg_backend_pid() % SHARDS).label("shard")
    return literal(WHOLE, Integer).label("shard")


def _upsert(dialect: Dialect, rows: Any, sign: int = 1, *, whole: bool = False) -> Insert:
    """Add ``rows`` (`COLUMNS`; subtracted when ``sign`` is -1) into ``statistics_daily``, summed
    per key first, so that each row of the table is touched at most once; into the writing
    connection's shard, or with ``whole`` into shard 0."""
    source = rows.subquery("facts")
    c = source.c
    shard = literal(WHOLE, Integer).label("shard") if whole else _shard(dialect)
    summed = (
        select(*(c[name] for name in KEY), shard, (func.sum(c.n) * sign).label("n"))
        .where(true())  # SQLite: an upsert's SELECT needs a WHERE (its parsing ambiguity)
        .group_by(*(c[name] for name in KEY))
        # In key order: concurrent writers then lock the rows they share in the same order.
        .order_by(*(c[name] for name in KEY))
    )
    return _added(dialect, summed)


def _added(dialect: Dialect, summed: Any) -> Insert:
    """``summed`` (`KEY`, shard, n) added to the rows of the same key and shard."""
    maker = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    statement = maker(t.statistics_daily).from_select([*KEY, "shard", "n"], summed)
    return statement.on_conflict_do_update(
        index_elements=[t.statistics_daily.c[name] for name in (*KEY, "shard")],
        set_={"n": t.statistics_daily.c.n + statement.excluded.n},
    )


COMPACTING = 0x5A4D_5354_4350  # "ZMSTCP"
"""The transaction-level advisory lock a compaction holds on PostgreSQL (`compact`)."""


async def compact(conn: AsyncConnection) -> bool:
    """Fold the writers' shards into shard 0, so that a key keeps one row between compactions'
    worth of writes and the reads sum few rows; whether this call did (False: another
    compaction was running, and this one skipped its round).

    On PostgreSQL one compaction runs at a time: it takes the advisory lock ``COMPACTING`` with
    ``pg_try_advisory_xact_lock`` (held until its transaction ends), and a compaction that finds
    it taken does nothing, rather than read and skip the same rows as the one running (every
    dispatcher runs the job on the same interval). The shard rows are taken with ``FOR UPDATE
    SKIP LOCKED``: a row a running writer holds is left for the next compaction, so the
    compaction never waits on a writer (nor can it deadlock with one), and writers never touch
    shard 0. Each row is deleted and its count added in one statement, so a count is never both
    moved and kept, nor lost. SQLite has one writer at a time: a compaction there always runs."""
    d = t.statistics_daily
    key = [d.c[name] for name in KEY]
    if conn.dialect.name == "postgresql":
        if not await conn.scalar(select(func.pg_try_advisory_xact_lock(literal(COMPACTING)))):
            return False
        locked = (
            select(d.c.fact.label("f"), *key[1:], d.c.shard)
            .where(d.c.shard != WHOLE)
            .with_for_update(skip_locked=True)
            .cte("locked")
        )
        lk = locked.c
        match = [d.c.fact == lk.f, d.c.shard == lk.shard] + [
            d.c[name] == lk[name] for name in KEY[1:]
        ]
        moved = d.delete().where(*match).returning(*key, d.c.n).cte("moved")
        m = moved.c
        summed = (
            select(*(m[name] for name in KEY), literal(WHOLE, Integer), func.sum(m.n))
            .group_by(*(m[name] for name in KEY))
            .order_by(*(m[name] for name in KEY))
        )
        await conn.execute(_added(conn.dialect, summed).add_cte(locked, moved))
        return True
    summed = (
        select(*key, literal(WHOLE, Integer), func.sum(d.c.n))
        .where(d.c.shard != WHOLE)
        .group_by(*key)
        .order_by(*key)
    )
    await conn.execute(_added(conn.dialect, summed))
    await conn.execute(d.delete().where(d.c.shard != WHOLE))
    return True


async def retract(conn: AsyncConnection, episodes: ColumnElement[bool]) -> None:
    """Take the summons facts of the episodes meeting ``episodes`` out, before a write that can
    change them (`apply` puts them back after it).

    The episodes are locked first (in id order), as a notice's append locks its episode: a
    notice appended meanwhile by another transaction would otherwise be counted with the
    summonses that transaction saw, and never again with the one written here."""
    await conn.execute(select(_ep.id).where(episodes).order_by(_ep.id).with_for_update())
    await conn.execute(_upsert(conn.dialect, contributions(episodes, summons_only=True), -1))


async def apply(conn: AsyncConnection, episodes: ColumnElement[bool]) -> None:
    """Count the summons facts of the episodes meeting ``episodes`` again, after the write."""
    await conn.execute(_upsert(conn.dialect, contributions(episodes, summons_only=True)))


def of_person(person_id: str) -> ColumnElement[bool]:
    """The episodes of a person (whose summons facts a summons sent or cancelled changes)."""
    return _ep.person_id == person_id


def of_episode(episode_id: str) -> ColumnElement[bool]:
    """One episode (whose summons facts its withdrawal changes)."""
    return _ep.id == episode_id


def changes_summonses(events: Iterable[EpisodeEvent]) -> bool:
    """Whether new events can change the outcome of notices already counted (a withdrawal)."""
    return any(e.kind is EventKind.DISCHARGE_READY_WITHDRAWN for e in events)


async def recompute(conn: AsyncConnection) -> int:
    """Rebuild the table from the events, meetings and episodes; the rows it holds."""
    await conn.execute(t.statistics_daily.delete())
    await conn.execute(_upsert(conn.dialect, contributions(None), whole=True))
    return int(
        (await conn.execute(select(func.count()).select_from(t.statistics_daily))).scalar_one()
    )


Fact = tuple[str, int, str, str, str, "int | ColumnElement[Any]"]
"""A fact a new event adds: `KEY` (its value SQL where it must be read, a summons outcome)."""


def event_rows(
    episode: Episode, new_events: Sequence[EpisodeEvent], *, summonses: bool
) -> list[Fact]:
    """The facts that ``new_events`` of ``episode`` add, each counting 1 (`add_event_rows`
    writes them); with ``summonses``, a new Swedish discharge-ready notice asking for
    coordinated planning too, which reads its person's summonses already sent (a notice may be
    sent after a summons it predates). Without, the caller counts the episode's summons facts
    again (`apply`)."""
    zone = ZONES[episode.jurisdiction]
    keys = (episode.region_id, episode.municipality_id, episode.hospital_unit_id)
    rows: list[Fact] = []

    def row(fact: str, at: datetime, value: int | ColumnElement[Any]) -> Fact:
        return (fact, day_number(at.astimezone(zone).date()), *keys, value)

    discharged = episode.discharged_at
    for event in new_events:
        kind = event.kind.value
        if kind == NOTICES[0]:
            within = event.at - episode.admitted_at <= timedelta(hours=24)
            rows.append(row(kind, event.at, int(within)))
        elif kind in NOTICES:
            rows.append(row(kind, event.at, 0))
        if (
            summonses
            and event.kind is EventKind.DISCHARGE_READY
            and event.coordinated_planning
            and episode.jurisdiction == "SE"
        ):
            rows.append(row("summons", event.at, _outcome_now(episode.person_id, event.at)))
        if event.kind is EventKind.DISCHARGE_NOTICE and event.at == discharged:
            assert discharged is not None
            ready = episode.discharge_ready_since
            days = -1
            if ready is not None:
                days = (discharged.astimezone(zone).date() - ready.astimezone(zone).date()).days
            rows.append(row("discharge", discharged, days))
    return rows


_TYPES = (String, Integer, String, String, String, Integer)


def add_event_rows(dialect: Dialect, rows: Sequence[Fact]) -> tuple[Insert, dict[str, Any]] | None:
    """The statement (a rider CTE on PostgreSQL) adding ``rows`` (`event_rows`), each counting
    1, with the values of its named bind parameters; None when there are none.

    A new event's facts are known here, so they are summed per key in Python and written as a
    SELECT of bound parameters per key: no subquery grouped in SQL, which made building this
    statement the costliest Python of a notice's save (a ``$process-message`` profile). The
    statement is built once per number of keys (`_added_shape`) and only its parameters per
    event. Keys whose value SQL reads (a summons outcome) are not known here: such a statement
    is built for the event (with more than one such row, grouped in SQL as the recompute does)."""
    if not rows:
        return None
    read = [r for r in rows if isinstance(r[-1], ColumnElement)]
    if len(read) > 1:
        return _upsert(dialect, union_all(*(_select_fact(r, 1) for r in rows))), {}
    counts: dict[Fact, int] = {}
    for fact in rows:
        counts[fact] = counts.get(fact, 0) + 1
    # In key order, as `_upsert`: concurrent writers lock the rows they share in the same order
    # (the read value, if any, last).
    ordered = sorted(counts.items(), key=_key_order)
    if read:
        shard = _shard(dialect)
        parts = [_select_fact(fact, n, shard).where(true()) for fact, n in ordered]
        return _added(dialect, parts[0] if len(parts) == 1 else union_all(*parts)), {}
    params: dict[str, Any] = {}
    for i, (fact, n) in enumerate(ordered):
        params.update({f"sd_{i}_{name}": v for name, v in zip(KEY, fact, strict=True)})
        params[f"sd_{i}_n"] = n
    return _added_shape(dialect, len(ordered)), params


@lru_cache(maxsize=32)
def _added_shape(dialect: Dialect, count: int) -> Insert:
    """`add_event_rows`' statement for ``count`` keys whose values are all known, with named
    bind parameters ``sd_<i>_<column>``."""
    shard = _shard(dialect)
    parts: list[Any] = [
        select(
            *(
                bindparam(f"sd_{i}_{name}", type_=ty).label(name)
                for ty, name in zip(_TYPES, KEY, strict=True)
            ),
            shard,
            bindparam(f"sd_{i}_n", type_=Integer).label("n"),
        ).where(true())
        for i in range(count)
    ]
    return _added(dialect, parts[0] if count == 1 else union_all(*parts))


def _key_order(item: tuple[Fact, int]) -> tuple[bool, tuple[Any, ...], int]:
    """The order of `add_event_rows`' rows: by key, a value read in SQL (at most one) last."""
    *key, value = item[0]
    read = isinstance(value, ColumnElement)
    return read, tuple(key), 0 if read else int(value)


def _select_fact(fact: Fact, n: int, shard: ColumnElement[int] | None = None) -> Any:
    """One fact as a row: `COLUMNS` (with ``shard`` before ``n`` when given)."""
    values = [
        v.label(name) if isinstance(v, ColumnElement) else literal(v, ty).label(name)
        for v, ty, name in zip(fact, _TYPES, KEY, strict=True)
    ]
    tail = [shard] if shard is not None else []
    return select(*values, *tail, literal(n, Integer).label("n"))


def _outcome_now(person_id: str, at: datetime) -> ColumnElement[Any]:
    """A new notice's summons outcome: its person's first summons not cancelled sent at or after
    it decides (no later withdrawal exists yet)."""
    m = t.meetings.c
    zone = literal(ZONES["SE"].key)
    sent = (
        select(local_day(func.min(m.sent_at), zone))
        .where(m.person_id == person_id, m.status != "cancelled", m.sent_at >= at)
        .scalar_subquery()
    )
    due = day_number(at.astimezone(ZONES["SE"]).date()) + DEADLINE_DAYS
    return case(
        (sent.is_(None), SUMMONS_OPEN),
        (sent < due, SUMMONS_MET),
        else_=SUMMONS_LATE,
    )


def add_rows(dialect: Dialect, rows: Any) -> Insert:
    """The statement (a rider CTE on PostgreSQL) adding ``rows`` (`event_rows`,
    `contributions`, `readmitted_rows`)."""
    return _upsert(dialect, rows)


def readmissions_of(new: Sequence[Episode]) -> ColumnElement[bool] | None:
    """For new episodes: the earlier discharges they make readmitted for the first time (an
    acute admission after one that had none), as a condition on ``episodes`` (None: none).
    Discharges among ``new`` are counted with them (`contributions`)."""
    ids = [e.id for e in new]
    originals = {
        e.readmission_of_id
        for e in new
        if e.readmission_of_id is not None and e.admission_type.value == "acute"
    } - set(ids)
    if not originals:
        return None
    later = t.episodes.alias("earlier_readmission")
    return and_(
        _ep.id.in_(sorted(originals)),
        _ep.discharged_at.is_not(None),
        ~select(later.c.id)
        .where(
            later.c.readmission_of_id == _ep.id,
            later.c.admission_type == "acute",
            later.c.id.not_in(ids),
        )
        .exists(),
    )


def readmitted_rows(originals: ColumnElement[bool]) -> Any:
    """The ``readmitted`` facts of the discharges meeting ``originals``."""
    columns, group = _grouped(
        literal("readmitted", String), _day(_ep.discharged_at), literal(0, Integer)
    )
    return select(*columns, func.count().label("n")).where(originals).group_by(*group)
