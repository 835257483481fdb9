"""Episodes of care with their event history.

Repositories run inside the unit of work: SQL in, domain objects out; they never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    CTE,
    Select,
    String,
    Text,
    and_,
    bindparam,
    cast,
    func,
    insert,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.sqltypes import NULLTYPE

from app.domain.clock import utcnow
from app.domain.episodes import (
    AdmissionType,
    CareType,
    Episode,
    EpisodeEvent,
    EpisodeState,
    EventKind,
)
from app.domain.errors import StaleVersion
from app.domain.parties import Reach, RecordType
from app.store import statistics_daily as daily
from app.store import tables as t
from app.store.paging import (
    PAGE_LIMIT,
    AnyOf,
    Page,
    any_of_param,
    page_after,
    page_params,
    trim_to_page,
    wanted_filters,
)
from app.store.parties import ReachShape, party_probe, party_to, reach_params, visible_records

_ep_id = t.episodes.c.id


def _event_data(event: EpisodeEvent) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if event.expected_discharge_date is not None:
        data["expected_discharge_date"] = event.expected_discharge_date.isoformat()
    if event.decided_at is not None:
        data["decided_at"] = event.decided_at.astimezone(UTC).isoformat()
    if event.can_receive_from is not None:
        data["can_receive_from"] = event.can_receive_from.isoformat()
    if event.coordinated_planning:
        data["coordinated_planning"] = "true"
    if event.units:
        data["units"] = list(event.units)
    if event.reason is not None:
        data["reason"] = event.reason
    if event.services:
        data["services"] = list(event.services)
    if event.arrived_at is not None:
        data["arrived_at"] = event.arrived_at.astimezone(UTC).isoformat()
    return data


# Stored codes to their enum members: a dict lookup costs a fraction of calling the enum, which
# counts when a report loads tens of thousands of episodes.
_EVENT_KINDS = {kind.value: kind for kind in EventKind}
_ADMISSION_TYPES = {kind.value: kind for kind in AdmissionType}
_CARE_TYPES = {kind.value: kind for kind in CareType}
_EPISODE_STATES = {state.value: state for state in EpisodeState}


# The event's data as JSON text: most events have none ("{}"), and decoding only the rest saves
# a JSON parse per event when tens of thousands are read.
EVENT_COLUMNS = (
    t.episode_events.c.episode_id,
    t.episode_events.c.seq,
    t.episode_events.c.kind,
    t.episode_events.c.at,
    cast(t.episode_events.c.data, Text).label("data"),
)


# The events' columns under names of their own, for statements that join them to episodes.
JOINED_EVENT_COLUMNS = tuple(column.label(f"event_{column.name}") for column in EVENT_COLUMNS)


class JoinedEvent:
    """An event's columns of a row joined to its episode, as ``event_from_row`` reads them."""

    __slots__ = ("row",)

    def __init__(self, row: Any) -> None:
        self.row = row

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, f"event_{name}")


def event_from_row(row: Any) -> EpisodeEvent:
    """The event of an ``episode_events`` row read with ``EVENT_COLUMNS``."""
    return event_of(row.seq, row.kind, row.at, row.data)


def event_of(seq: int, kind: str, at: datetime, text: str | None) -> EpisodeEvent:
    """The event of an ``episode_events`` row's values (its data as JSON text). Most events
    carry no data: they skip the parse and the keyword arguments, a third of a list page's
    mapping (issue 20, profiled)."""
    if text is None or text == "{}" or text == "null":
        return EpisodeEvent(seq, _EVENT_KINDS[kind], at)
    data: dict[str, Any] = orjson.loads(text)
    return EpisodeEvent(
        seq=seq,
        kind=_EVENT_KINDS[kind],
        at=at,
        expected_discharge_date=date.fromisoformat(data["expected_discharge_date"])
        if "expected_discharge_date" in data
        else None,
        decided_at=datetime.fromisoformat(data["decided_at"]) if "decided_at" in data else None,
        can_receive_from=date.fromisoformat(data["can_receive_from"])
        if "can_receive_from" in data
        else None,
        coordinated_planning=data.get("coordinated_planning") == "true",
        units=tuple(data.get("units", ())),
        reason=data.get("reason"),
        services=tuple(data.get("services", ())),
        arrived_at=datetime.fromisoformat(data["arrived_at"]) if "arrived_at" in data else None,
    )


def episode_from_row(r: Any, events: list[EpisodeEvent]) -> Episode:
    """The episode of an ``episodes`` row, with its events."""
    return Episode(
        id=r.id,
        person_id=r.person_id,
        hospital_unit_id=r.hospital_unit_id,
        region_id=r.region_id,
        municipality_id=r.municipality_id,
        primary_care_unit_id=r.primary_care_unit_id,
        jurisdiction=r.jurisdiction,
        admitted_at=r.admitted_at,
        admission_type=_ADMISSION_TYPES[r.admission_type],
        care_type=_CARE_TYPES[r.care_type],
        state=_EPISODE_STATES[r.state],
        expected_discharge_date=r.expected_discharge_date,
        readmission_of_id=r.readmission_of_id,
        version=r.version,
        events=events,
        updated_at=r.updated_at,
    )


_SAVED_COLUMNS = (
    "state",
    "expected_discharge_date",
    "discharge_ready_at",
    "first_discharge_ready_at",
    "discharged_at",
    "readmission_of_id",
)
"""`_episode_row`'s keys: what a save writes of an episode besides its version."""


def _episode_row(episode: Episode) -> dict[str, Any]:
    return {
        "state": episode.state.value,
        "expected_discharge_date": episode.expected_discharge_date,
        "discharge_ready_at": episode.discharge_ready_since,
        "first_discharge_ready_at": next(
            (e.at for e in episode.events if e.kind is EventKind.DISCHARGE_READY), None
        ),
        "discharged_at": episode.discharged_at,
        "readmission_of_id": episode.readmission_of_id,
    }


_EVENT_COLUMNS = ("episode_id", "seq", "kind", "at", "data", "recorded_at")
"""`event_row`'s keys."""


@lru_cache(maxsize=64)
def _saving_with(count: int, riders: tuple[CTE, ...], counted: Insert | None) -> Insert:
    """``_saving(count)`` carrying ``riders`` and the statistics' insert ``counted``: the same
    object for the same parts, each built once per shape, so SQLAlchemy generates its cache key
    once, not per notice (a twentieth of a ``$process-message``'s Python in cProfile). Bounded:
    a part built for one event only (a statistics row SQL reads) passes through."""
    updated, appended = _saving(count)
    if counted is not None:
        riders = (*riders, counted.cte("statistics_daily_rows"))
    return appended.add_cte(updated, *riders)


@cache
def _saving(count: int) -> tuple[CTE, Insert]:
    """A save with ``count`` new events on PostgreSQL (``EpisodeRepository.save``), built once
    per count with named bind parameters (``ep_…``, ``ev_<i>_<column>``): the compare-and-set
    update as a CTE, and the insert of the events from the row it changed. Building them and
    their cache key per notice was a share of ``$process-message``'s Python (cProfile)."""
    e = t.episodes.c
    changed = (
        update(t.episodes)
        .where(e.id == bindparam("ep_id"), e.version == bindparam("ep_version"))
        .values(
            version=bindparam("ep_next_version", type_=e.version.type),
            updated_at=bindparam("ep_updated_at", type_=e.updated_at.type),
            **{c: bindparam(f"ep_{c}", type_=e[c].type) for c in _SAVED_COLUMNS},
        )
    )
    updated = changed.returning(e.id).cte("changed")
    ev = t.episode_events
    parts = [
        select(*[bindparam(f"ev_{i}_{n}", type_=ev.c[n].type) for n in _EVENT_COLUMNS]).select_from(
            updated
        )
        for i in range(count)
    ]
    source = parts[0] if count == 1 else union_all(*parts)
    return updated, insert(ev).from_select(list(_EVENT_COLUMNS), source).returning(ev.c.seq)


def episode_row(episode: Episode, now: datetime) -> dict[str, Any]:
    """The ``episodes`` row of a new episode created at ``now``."""
    return {
        "id": episode.id,
        "person_id": episode.person_id,
        "hospital_unit_id": episode.hospital_unit_id,
        "region_id": episode.region_id,
        "municipality_id": episode.municipality_id,
        "primary_care_unit_id": episode.primary_care_unit_id,
        "jurisdiction": episode.jurisdiction,
        "admitted_at": episode.admitted_at,
        "admission_type": episode.admission_type.value,
        "care_type": episode.care_type.value,
        "version": episode.version,
        "created_at": now,
        "updated_at": now,
        **_episode_row(episode),
    }


def event_row(episode_id: str, event: EpisodeEvent, now: datetime) -> dict[str, Any]:
    """The ``episode_events`` row of an episode's event recorded at ``now``."""
    return {
        "episode_id": episode_id,
        "seq": event.seq,
        "kind": event.kind.value,
        "at": event.at,
        "data": _event_data(event),
        "recorded_at": now,
    }


@dataclass(frozen=True, slots=True)
class EpisodeSummary:
    """What a list or a report shows of an episode, without its notices."""

    id: str
    person_id: str
    hospital_unit_id: str
    region_id: str
    admitted_at: datetime
    discharge_ready_at: datetime | None
    discharged_at: datetime | None


# Each episode's events as one array per column, in order (PostgreSQL's page statement): a page
# is then one row an episode, each array decoded by asyncpg, rather than a row per event mapped
# in Python (issue 20, profiled). Untyped to SQLAlchemy: asyncpg's lists (of ints, strings and
# aware datetimes) are what is wanted, and ``ARRAY``'s result processor copied each one again,
# element by element (a tenth of the page's mapping, profiled).
_EVENT_ARRAYS = (
    ("event_seqs", t.episode_events.c.seq),
    ("event_kinds", t.episode_events.c.kind),
    ("event_ats", t.episode_events.c.at),
    ("event_data", cast(t.episode_events.c.data, Text)),
)


@cache
def _page_statement(
    shape: ReachShape | None,
    filters: tuple[str, ...],
    single: tuple[str, ...],
    after: bool,
    arrays: bool,
) -> Select[Any]:
    """A page of episodes with their events (``EpisodeRepository.page``), built once per shape
    of reach and filters with every value a bound parameter: building it and its cache key on
    every request was a quarter of a discharge-ready list's time (issue 20, profiled).

    Keyset paging by id. A municipality's list in one state is a range of the index on
    (municipality, state, id), walked in order with each episode's party row probed on the
    record-parties key (migration 0019), stopping at the page's end; other lists start from the
    reach's own index (the party check as a semi-join).

    ``arrays`` (PostgreSQL): each episode's events as arrays in its row (``_EVENT_ARRAYS``, a
    lateral aggregate over the events' primary key); otherwise a row per event (``_joined``)."""
    e = t.episodes
    query = select(e).order_by(e.c.id).limit(PAGE_LIMIT)
    if shape is not None:
        probe = "municipality_id" in single and "state" in single
        visible = party_probe if probe else party_to
        query = query.where(visible(RecordType.EPISODE, e.c.id, shape))
    if after:
        query = query.where(e.c.id > page_after(e.c.id))
    for name in filters:
        query = query.where(any_of_param(e.c["state" if name == "states" else name], name))
    for name in single:
        query = query.where(e.c[name] == bindparam(name, type_=e.c[name].type))
    found = query.subquery("found")
    ev = t.episode_events
    if arrays:
        seq = ev.c.seq
        events = (
            select(
                *(
                    func.array_agg(aggregate_order_by(column, seq), type_=NULLTYPE).label(name)
                    for name, column in _EVENT_ARRAYS
                )
            )
            .where(ev.c.episode_id == found.c.id)
            .lateral("events")
        )
        return select(found, *events.c).select_from(found.join(events, true())).order_by(found.c.id)
    return (
        select(found, *JOINED_EVENT_COLUMNS)
        .select_from(found.outerjoin(ev, ev.c.episode_id == found.c.id))
        .order_by(found.c.id, ev.c.seq)
    )


# Where a row of ``_page_statement`` holds its episode's id and its event's columns (the
# episode's columns first, then ``JOINED_EVENT_COLUMNS``).
_ID_AT = list(t.episodes.c.keys()).index("id")
_EVENT_AT = len(t.episodes.c) + 1


def _joined(rows: Sequence[Any]) -> list[Episode]:
    """The episodes of rows joined to their events (ordered by episode id, then event). Read by
    position: a page is about three rows an episode, and reading each event's columns by name
    through ``JoinedEvent`` was half of mapping one (issue 20, profiled)."""
    events: dict[str, list[EpisodeEvent]] = {}
    heads: dict[str, Any] = {}
    start = _EVENT_AT
    for row in rows:
        episode_id = row[_ID_AT]
        happened = events.get(episode_id)
        if happened is None:
            heads[episode_id] = row
            happened = events[episode_id] = []
        seq = row[start]
        if seq is not None:
            happened.append(event_of(seq, row[start + 1], row[start + 2], row[start + 3]))
    return [_episode_of(heads[i], events[i]) for i in heads]


_SEQS_AT = len(t.episodes.c)
_COLUMN_AT = {name: i for i, name in enumerate(t.episodes.c.keys())}


def _episode_of(r: Any, events: list[EpisodeEvent]) -> Episode:
    """``episode_from_row`` of a row whose first columns are the ``episodes`` table's in its
    order, read by position: by name, each of its sixteen values was a lookup that cost a
    third of mapping a list page's row (issue 20, profiled)."""
    at = _COLUMN_AT
    return Episode(
        id=r[at["id"]],
        person_id=r[at["person_id"]],
        hospital_unit_id=r[at["hospital_unit_id"]],
        region_id=r[at["region_id"]],
        municipality_id=r[at["municipality_id"]],
        primary_care_unit_id=r[at["primary_care_unit_id"]],
        jurisdiction=r[at["jurisdiction"]],
        admitted_at=r[at["admitted_at"]],
        admission_type=_ADMISSION_TYPES[r[at["admission_type"]]],
        care_type=_CARE_TYPES[r[at["care_type"]]],
        state=_EPISODE_STATES[r[at["state"]]],
        expected_discharge_date=r[at["expected_discharge_date"]],
        readmission_of_id=r[at["readmission_of_id"]],
        version=r[at["version"]],
        events=events,
        updated_at=r[at["updated_at"]],
    )


def _arrayed(rows: Sequence[Any]) -> list[Episode]:
    """The episodes of rows that carry their events as arrays (``_EVENT_ARRAYS``), one row an
    episode in id order."""
    at = _SEQS_AT
    episodes = []
    for row in rows:
        seqs = row[at]
        events = (
            [
                event_of(seq, kind, when, text)
                for seq, kind, when, text in zip(
                    seqs, row[at + 1], row[at + 2], row[at + 3], strict=True
                )
            ]
            if seqs
            else []
        )
        episodes.append(_episode_of(row, events))
    return episodes


class EpisodeRepository:
    """Episodes with their event history."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, episode: Episode) -> None:
        """Insert a new episode and any events it already has."""
        await self.add_many([episode])

    async def add_many(self, episodes: Sequence[Episode]) -> None:
        """Insert new episodes with their events (bulk loading)."""
        now = utcnow()
        await self._conn.execute(insert(t.episodes), [episode_row(e, now) for e in episodes])
        for episode in episodes:
            episode.updated_at = now
        events = [event_row(episode.id, e, now) for episode in episodes for e in episode.events]
        if events:
            await self._conn.execute(insert(t.episode_events), events)
        await self._count_new(episodes)

    async def _count_new(self, episodes: Sequence[Episode]) -> None:
        """Count new episodes' facts in ``statistics_daily``, and the earlier discharges they
        make readmitted."""
        if not episodes:
            return
        dialect = self._conn.dialect
        ids = [e.id for e in episodes]
        await self._conn.execute(daily.add_rows(dialect, daily.contributions(_ep_id.in_(ids))))
        originals = daily.readmissions_of(episodes)
        if originals is not None:
            await self._conn.execute(daily.add_rows(dialect, daily.readmitted_rows(originals)))

    async def save(
        self,
        episode: Episode,
        new_events: Sequence[EpisodeEvent],
        *,
        riders: Sequence[CTE] = (),
        params: Mapping[str, Any] | None = None,
    ) -> None:
        """Store a changed episode if nobody changed it since it was read; bumps its version.

        The compare-and-set on ``version`` is what turns two concurrent commands into one winner
        and one ``StaleVersion``. ``riders`` are data-modifying CTEs (PostgreSQL) of writes that
        go with the change, carried by the same statement; a stale version raises, and the
        transaction that wrote them is rolled back. ``params`` are the values of the riders'
        named bind parameters (riders built once per shape, ``LiabilityRepository.replacement``).
        """
        now = utcnow()
        # The statistics per day: what the new notices add rides with them; a withdrawal, which
        # can change the summons deadline of notices already counted, has the episode's summons
        # facts taken out first and counted again after.
        recount = daily.changes_summonses(new_events)
        if recount:
            await daily.retract(self._conn, daily.of_episode(episode.id))
        facts = daily.event_rows(episode, new_events, summonses=not recount)
        counted = daily.add_event_rows(self._conn.dialect, facts)
        bound = dict(params or {})
        if new_events and self._conn.dialect.name == "postgresql":
            # One statement: the events are inserted from the row the update changed, so a
            # stale version inserts none.
            bound.update(
                {
                    "ep_id": episode.id,
                    "ep_version": episode.version,
                    "ep_next_version": episode.version + 1,
                    "ep_updated_at": now,
                }
            )
            bound.update({f"ep_{k}": v for k, v in _episode_row(episode).items()})
            for i, e in enumerate(new_events):
                bound.update({f"ev_{i}_{k}": v for k, v in event_row(episode.id, e, now).items()})
            if counted is not None:
                bound.update(counted[1])
            statement = _saving_with(
                len(new_events), tuple(riders), counted[0] if counted is not None else None
            )
            inserted = (await self._conn.execute(statement, bound)).all()
            if len(inserted) != len(new_events):
                raise StaleVersion(
                    f"episode {episode.id} was changed by someone else; read it again"
                )
            episode.version += 1
            if recount:
                await daily.apply(self._conn, daily.of_episode(episode.id))
            return
        changed = (
            update(t.episodes)
            .where(t.episodes.c.id == episode.id, t.episodes.c.version == episode.version)
            .values(version=episode.version + 1, updated_at=now, **_episode_row(episode))
        )
        result = await self._conn.execute(changed.add_cte(*riders) if riders else changed, bound)
        if result.rowcount != 1:
            raise StaleVersion(f"episode {episode.id} was changed by someone else; read it again")
        episode.version += 1
        episode.updated_at = now
        await self._insert_events(episode.id, new_events, now)
        if counted is not None:
            await self._conn.execute(*counted)
        if recount:
            await daily.apply(self._conn, daily.of_episode(episode.id))

    async def _insert_events(
        self, episode_id: str, events: Sequence[EpisodeEvent], now: datetime
    ) -> None:
        if events:
            await self._conn.execute(
                insert(t.episode_events), [event_row(episode_id, e, now) for e in events]
            )

    async def get(self, episode_id: str, *, for_update: bool = False) -> Episode | None:
        """The episode with its events, or None.

        ``for_update``: locked until the transaction ends (see ``app.store.unit_of_work``).
        """
        query = select(t.episodes).where(t.episodes.c.id == episode_id)
        found = await self._load(query.with_for_update() if for_update else query)
        return found[0] if found else None

    async def get_many(self, episode_ids: Sequence[str]) -> list[Episode]:
        """The episodes with these ids (those that exist), with their events."""
        if not episode_ids:
            return []
        return await self._load(
            select(t.episodes).where(t.episodes.c.id.in_(episode_ids)).order_by(t.episodes.c.id)
        )

    async def page(
        self,
        *,
        limit: int,
        after: str | None = None,
        person_id: AnyOf = None,
        municipality_id: str | None = None,
        hospital_unit_id: str | None = None,
        state: EpisodeState | None = None,
        visible_to: Reach | None = None,
        ids: AnyOf = None,
        states: AnyOf = None,
    ) -> Page[Episode]:
        """Episodes in id order, filtered (a collection: any of its values); ``visible_to``
        keeps those the reach is a party to."""
        wanted = wanted_filters({"id": ids, "person_id": person_id, "states": states})
        single = {
            name: value
            for name, value in (
                ("municipality_id", municipality_id),
                ("hospital_unit_id", hospital_unit_id),
                ("state", state.value if state else None),
            )
            if value
        }
        arrays = self._conn.dialect.name == "postgresql"
        query = _page_statement(
            ReachShape.of(visible_to) if visible_to is not None else None,
            tuple(wanted),
            tuple(single),
            bool(after),
            arrays,
        )
        params = {**page_params(limit, after, wanted), **single}
        if visible_to is not None:
            params.update(reach_params(visible_to))
        rows = (await self._conn.execute(query, params)).all()
        return trim_to_page(_arrayed(rows) if arrays else _joined(rows), limit, lambda e: e.id)

    async def discharges_of_person(self, person_id: str) -> list[tuple[str, datetime]]:
        """(episode id, discharged_at) of every discharged episode of the person."""
        rows = (
            await self._conn.execute(
                select(t.episodes.c.id, t.episodes.c.discharged_at).where(
                    t.episodes.c.person_id == person_id, t.episodes.c.discharged_at.is_not(None)
                )
            )
        ).all()
        return [(r.id, r.discharged_at) for r in rows]

    async def discharged_between(
        self, municipality_id: str, start: datetime, end: datetime
    ) -> list[Episode]:
        """Episodes of a municipality discharged in [start, end), with their events."""
        query = (
            select(t.episodes)
            .where(
                t.episodes.c.municipality_id == municipality_id,
                and_(t.episodes.c.discharged_at >= start, t.episodes.c.discharged_at < end),
            )
            .order_by(t.episodes.c.discharged_at, t.episodes.c.id)
        )
        return await self._load(query)

    async def with_coordinated_planning(self, visible_to: Reach) -> list[Episode]:
        """Episodes the reach is a party to with a discharge-ready notice that asked for
        coordinated planning (both region and municipality must act after the discharge)."""
        flagged = select(t.episode_events.c.episode_id).where(
            t.episode_events.c.kind == EventKind.DISCHARGE_READY.value,
            cast(t.episode_events.c.data, String).like('%"coordinated_planning"%'),
        )
        query = (
            select(t.episodes)
            .where(
                t.episodes.c.id.in_(flagged),
                t.episodes.c.id.in_(visible_records(RecordType.EPISODE, visible_to)),
            )
            .order_by(t.episodes.c.id)
        )
        return await self._load(query)

    async def _load(self, query: Select[Any]) -> list[Episode]:
        rows = (await self._conn.execute(query)).all()
        if not rows:
            return []
        events: dict[str, list[EpisodeEvent]] = defaultdict(list)
        ids = [r.id for r in rows]
        # A long list (a report's candidates) takes its events in one statement that repeats
        # the episodes' own filter, rather than hundreds of ids per statement.
        chunks: list[Any] = (
            [ids[start : start + 500] for start in range(0, len(ids), 500)]
            if len(ids) <= 2_000
            else [select(query.subquery().c.id)]
        )
        for chunk in chunks:
            for ev in (
                await self._conn.execute(
                    select(*EVENT_COLUMNS)
                    .where(t.episode_events.c.episode_id.in_(chunk))
                    .order_by(t.episode_events.c.episode_id, t.episode_events.c.seq)
                )
            ).all():
                events[ev.episode_id].append(event_from_row(ev))
        return [episode_from_row(r, events[r.id]) for r in rows]
