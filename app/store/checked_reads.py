"""A record and whether a caller is a party to it, in one statement (issue 20).

The hot paths (a FHIR read, a notice by ``$process-message``) need the record and the access
check before anything else. The record's statement carries the check as an ``EXISTS`` on the
record-parties key; an episode comes with its events in the same statement (an outer join), so
one round trip answers what took three. A record read to be changed is locked first and the
rest read again after the lock only when the lock waited for a writer that changed it, so that
a writer that waited sees what the one before it committed.

The read statements are built once per record type and reach shape (``ReachShape``), with the
record id, the reach and the access-log entry as bound parameters, and kept: building a
statement and its cache key anew cost more than running it (bench/profiles).
"""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    CTE,
    BindParameter,
    Integer,
    Row,
    Select,
    String,
    Table,
    bindparam,
    false,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.access_log import AccessEntry
from app.domain.care_messages import CareMessage
from app.domain.deviations import Deviation
from app.domain.episodes import Episode, EpisodeEvent
from app.domain.meetings import Meeting
from app.domain.parties import Party, Reach, RecordType
from app.domain.persons import Person
from app.domain.plans import Plan
from app.store import tables as t
from app.store.access_rows import ENTRY_COLUMNS, access_row
from app.store.care import deviation_from, message_from, recipient_from
from app.store.database import connection_lost, driver_error
from app.store.episodes import JOINED_EVENT_COLUMNS, JoinedEvent, episode_from_row, event_from_row
from app.store.joined import Prefixed, labelled
from app.store.meetings import meeting_from
from app.store.organizations import OrganizationRepository
from app.store.parties import (
    ReachShape,
    party_from_row,
    party_to,
    reach_clause,
    reach_params,
)
from app.store.persons import person_from_row
from app.store.plans import plan_from
from app.store.projections import SOURCES

e = t.episodes
ev = t.episode_events


# The record a statement reads, as a bound parameter.
RECORD_ID: BindParameter[str] = bindparam("record_id", type_=String)


def _within(record_type: RecordType, record_id: Any, shape: ReachShape) -> Any:
    return party_to(record_type, record_id, shape).label("within")


def _log_when(person_id: Any, *where: Any) -> CTE:
    """A data-modifying CTE (PostgreSQL) that writes the read's access-log entry (bound
    parameters, ``_params``), its person the ``person_id`` column, when the select ``where``
    finds the record within reach."""
    log = t.access_log
    columns = [c for c in ENTRY_COLUMNS if c.name != "person_id"]
    return (
        insert(log)
        .from_select(
            [c.name for c in columns] + ["person_id"],
            select(
                *[bindparam(f"log_{c.name}", type_=c.type) for c in columns],
                person_id,
            ).where(*where),
        )
        .returning(log.c.id)
        .cte("logged")
    )


def _params(record_id: str, reach: Reach, entry: AccessEntry | None = None) -> dict[str, Any]:
    """The bound parameters of a read of ``record_id`` by ``reach``, logging ``entry``."""
    params = {"record_id": record_id, **reach_params(reach)}
    if entry is not None:
        assert entry.principal_id is not None
        row = access_row(entry, entry.principal_id, entry.unit_id)
        params.update((f"log_{name}", value) for name, value in row.items())
    return params


def _logged(cte: CTE) -> Any:
    """How many rows the CTE wrote, as a column of the outer statement."""
    return select(func.count()).select_from(cte).scalar_subquery().label("logged")


@cache
def _one_episode(shape: ReachShape, logged: bool) -> Select[Any]:
    query = (
        select(e, _within(RecordType.EPISODE, e.c.id, shape), *JOINED_EVENT_COLUMNS)
        .select_from(e.outerjoin(ev, ev.c.episode_id == e.c.id))
        .where(e.c.id == RECORD_ID)
        .order_by(ev.c.seq)
    )
    if not logged:
        return query
    cte = _log_when(e.c.person_id, e.c.id == RECORD_ID, party_to(RecordType.EPISODE, e.c.id, shape))
    return query.add_columns(_logged(cte)).add_cte(cte)


@cache
def _locked_episode_query(shape: ReachShape, postgres: bool) -> Select[Any]:
    """``_one_episode`` locked, with the receiving municipality's jurisdiction and, on
    PostgreSQL, the version the statement's snapshot saw (``CheckedReads._locked_episode``)."""
    o = t.organizations
    query = (
        _one_episode(shape, False)
        .add_columns(
            select(o.c.jurisdiction)
            .where(o.c.id == e.c.municipality_id)
            .scalar_subquery()
            .label("municipality_jurisdiction")
        )
        .with_for_update(of=e)
    )
    if not postgres:
        return query
    seen = e.alias("seen")
    return query.add_columns(
        select(seen.c.version).where(seen.c.id == RECORD_ID).scalar_subquery().label("seen_version")
    )


@cache
def _episode_recheck(shape: ReachShape) -> Select[Any]:
    """The events and check of a locked episode, read again after the lock."""
    check = select(_within(RecordType.EPISODE, RECORD_ID, shape)).subquery("check")
    return (
        select(check.c.within, *JOINED_EVENT_COLUMNS)
        .select_from(check.outerjoin(ev, ev.c.episode_id == RECORD_ID))
        .order_by(ev.c.seq)
    )


@cache
def _one_plan(shape: ReachShape, logged: bool) -> Select[Any]:
    plans = t.plans
    query = select(plans, _within(RecordType.PLAN, plans.c.id, shape)).where(
        plans.c.id == RECORD_ID
    )
    if not logged:
        return query
    cte = _log_when(
        plans.c.person_id, plans.c.id == RECORD_ID, party_to(RecordType.PLAN, plans.c.id, shape)
    )
    return query.add_cte(cte)


# The record-parties columns a person's read needs, under names of their own.
_PARTY_COLUMNS = tuple(
    column.label(f"party_{column.name}")
    for column in (
        t.record_parties.c.record_type,
        t.record_parties.c.record_id,
        t.record_parties.c.organization_id,
        t.record_parties.c.principal_id,
        t.record_parties.c.role,
    )
)


# A care message's recipient columns, under names of their own.
_RECIPIENT_COLUMNS = labelled(t.care_message_recipients, "recipient")


@cache
def _person_read(shape: ReachShape) -> Select[Any]:
    persons, parties = t.persons, t.record_parties
    party = (
        select(parties.c.record_id)
        .where(
            parties.c.person_id == persons.c.id,
            reach_clause(parties.c.organization_id, parties.c.principal_id, shape),
        )
        .exists()
    )
    cte = _log_when(persons.c.id, persons.c.id == RECORD_ID, party)
    return (
        select(persons, *_PARTY_COLUMNS, _logged(cte))
        .select_from(persons.outerjoin(parties, parties.c.person_id == persons.c.id))
        .where(persons.c.id == RECORD_ID)
        .add_cte(cte)
    )


_PERSON = (
    select(t.persons, *_PARTY_COLUMNS)
    .select_from(
        t.persons.outerjoin(t.record_parties, t.record_parties.c.person_id == t.persons.c.id)
    )
    .where(t.persons.c.id == RECORD_ID)
)

# The records read by ``_record_read``: their table, and the table of their parts with its join
# condition, columns and order, when they have parts of their own.
_RECORDS: dict[RecordType, tuple[Table, tuple[Any, ...]]] = {
    RecordType.MEETING: (t.meetings, ()),
    RecordType.DEVIATION: (t.deviations, ()),
    RecordType.MESSAGE: (
        t.care_messages,
        (
            t.care_message_recipients,
            t.care_message_recipients.c.message_id == t.care_messages.c.id,
            _RECIPIENT_COLUMNS,
            (t.care_message_recipients.c.organization_id,),
        ),
    ),
}


@cache
def _record_read(record_type: RecordType, shape: ReachShape, logged: bool) -> Select[Any]:
    """A read of a record of ``_RECORDS`` with ``within`` and ``logged`` columns: whether the
    reach is a party, and whether the statement wrote the read's access-log entry (its person
    the record's), which it does when the reach is a party (PostgreSQL only)."""
    table, joined = _RECORDS[record_type]
    source: Any = table
    columns: tuple[Any, ...] = ()
    order: tuple[Any, ...] = ()
    if joined:
        other, on, columns, order = joined
        source = table.outerjoin(other, on)
    query = (
        select(table, *columns, _within(record_type, table.c.id, shape))
        .select_from(source)
        .where(table.c.id == RECORD_ID)
        .order_by(*order)
    )
    if not logged:
        return query.add_columns(false().label("logged"))
    cte = _log_when(
        table.c.person_id, table.c.id == RECORD_ID, party_to(record_type, table.c.id, shape)
    )
    return query.add_columns(_logged(cte)).add_cte(cte)


@cache
def _stored_read(resource_type: str, shape: ReachShape, logged: bool) -> Select[Any]:
    """A projection of ``resource_type`` (``app.store.projections``) with ``within`` and
    ``logged`` columns, when it shows its record's current version and was written by the
    mapper version bound as ``mapper_version``; on PostgreSQL (``logged``) the statement also
    writes the read's access-log entry, its person the projection's, when the reach is a party."""
    pr = t.fhir_projections
    source = SOURCES[resource_type]
    record = source.table
    within = party_to(source.record_type, pr.c.record_id, shape)
    current = (
        pr.c.resource_type == resource_type,
        pr.c.resource_id == RECORD_ID,
        pr.c.mapper_version == bindparam("mapper_version", type_=Integer),
        record.c.id == pr.c.resource_id,
        record.c.version == pr.c.version,
    )
    query = select(
        pr.c.body, pr.c.version, pr.c.last_updated, pr.c.person_id, within.label("within")
    ).where(*current)
    if not logged:
        return query.add_columns(false().label("logged"))
    cte = _log_when(pr.c.person_id, *current, within)
    return query.add_columns(_logged(cte)).add_cte(cte)


class StoredRow(NamedTuple):
    """A row of ``_stored_read``, from SQLAlchemy or straight from asyncpg."""

    body: bytes
    version: int
    last_updated: Any
    person_id: str | None
    within: bool
    logged: Any


# The parameters a ``_stored_read`` takes at execution; the others are its compiled literals.
_STORED_VALUES = ("record_id", "reach_principal", "mapper_version")


@cache
def _stored_sql(
    dialect: Dialect, resource_type: str, shape: ReachShape, organizations: int
) -> tuple[str, tuple[tuple[bool, Any], ...]]:
    """``_stored_read`` without logging as PostgreSQL SQL text with positional parameters, for a
    reach of ``organizations`` organizations (each one a parameter of the ``IN``), and where
    each parameter comes from: (True, a name of ``_STORED_VALUES`` or the index of an
    organization) or (False, the literal compiled into the statement). Compiled from the Core
    statement, once: the two paths run the same statement."""
    compiled = _stored_read(resource_type, shape, False).compile(dialect=dialect)
    sample = {
        **dict.fromkeys(_STORED_VALUES),
        "reach_organizations": list(range(organizations)),
    }
    expanded = compiled.construct_expanded_state(sample)
    sources: list[tuple[bool, Any]] = []
    for name in expanded.positiontup or ():
        if name in _STORED_VALUES:
            sources.append((True, name))
        elif name not in compiled.binds:  # one organization of the expanded IN
            sources.append((True, expanded.parameters[name]))
        else:
            sources.append((False, expanded.parameters[name]))
    return expanded.statement, tuple(sources)


class CheckedReads:
    """Records read together with the caller's access check."""

    def __init__(self, conn: AsyncConnection, organizations: OrganizationRepository) -> None:
        self._conn = conn
        self._organizations = organizations

    async def _rows(
        self, query: Select[Any], record_id: str, reach: Reach, entry: AccessEntry | None = None
    ) -> list[Row[Any]]:
        return list((await self._conn.execute(query, _params(record_id, reach, entry))).all())

    async def episode(
        self, episode_id: str, reach: Reach, *, for_update: bool
    ) -> tuple[Episode | None, bool]:
        """The episode with its events (None when there is none), and whether ``reach`` is a
        party to it: one statement (``for_update``: locked, and a second statement when the
        lock waited for a concurrent writer)."""
        if for_update:
            return await self._locked_episode(episode_id, reach)
        rows = await self._rows(_one_episode(ReachShape.of(reach), False), episode_id, reach)
        if not rows:
            return None, False
        events: list[EpisodeEvent] = [
            event_from_row(JoinedEvent(row)) for row in rows if row.event_seq is not None
        ]
        return episode_from_row(rows[0], events), bool(rows[0].within)

    async def episode_read_logged(
        self, episode_id: str, reach: Reach, entry: AccessEntry
    ) -> tuple[Episode | None, bool, bool]:
        """``episode`` for a read on PostgreSQL: the episode, whether ``reach`` is a party, and
        whether the read's access-log ``entry`` (its person the episode's) was written by the
        same statement, which it is when the reach is a party. A refusal writes nothing here."""
        query = _one_episode(ReachShape.of(reach), True)
        rows = await self._rows(query, episode_id, reach, entry)
        if not rows:
            return None, False, False
        events = [event_from_row(JoinedEvent(row)) for row in rows if row.event_seq is not None]
        head = rows[0]
        return episode_from_row(head, events), bool(head.within), bool(head.logged)

    async def _locked_episode(self, episode_id: str, reach: Reach) -> tuple[Episode | None, bool]:
        # One statement as a rule: the row locked, with its events and the check. But a
        # statement that waited for the lock still joins the events and parties of the snapshot
        # it started with (PostgreSQL re-reads only the locked row), so it also returns the
        # version that snapshot saw: when the locked row's differs, a concurrent writer
        # committed meanwhile, and the events and check are read again by a second statement,
        # whose snapshot is taken after the lock. Every change to an episode, its events or its
        # parties bumps its version (``EpisodeRepository.save``). The statement also reads the
        # receiving municipality's jurisdiction, which routes the notice (``app.services.
        # routing``), and hands it to the organizations' repository (not when read again: the
        # routing then reads it itself).
        postgres = self._conn.dialect.name == "postgresql"
        shape = ReachShape.of(reach)
        rows = await self._rows(_locked_episode_query(shape, postgres), episode_id, reach)
        if not rows:
            return None, False
        head = rows[0]
        if postgres and head.seen_version != head.version:
            rows = await self._rows(_episode_recheck(shape), episode_id, reach)
        else:
            jurisdiction = head.municipality_jurisdiction
            self._organizations.read_jurisdiction(head.municipality_id, jurisdiction)
        events = [event_from_row(JoinedEvent(row)) for row in rows if row.event_seq is not None]
        return episode_from_row(head, events), bool(rows[0].within)

    async def person(self, person_id: str) -> tuple[Person | None, list[Party]]:
        """The person (None when there is none) and the parties of every record about them,
        which decide whether and how a caller sees the person (``app.security.access``)."""
        rows = (await self._conn.execute(_PERSON, {"record_id": person_id})).all()
        if not rows:
            return None, []
        found = [
            party_from_row(Prefixed(row, "party"))
            for row in rows
            if row.party_record_id is not None
        ]
        return person_from_row(rows[0]), found

    async def person_read_logged(
        self, person_id: str, reach: Reach, entry: AccessEntry
    ) -> tuple[Person | None, list[Party], bool]:
        """``person`` for a read on PostgreSQL, and whether the read's access-log ``entry`` was
        written by the same statement: it is when the reach is a party to any record about the
        person (``app.domain.parties.is_party``), the condition under which the person is shown.
        """
        rows = await self._rows(_person_read(ReachShape.of(reach)), person_id, reach, entry)
        if not rows:
            return None, [], False
        found = [
            party_from_row(Prefixed(row, "party"))
            for row in rows
            if row.party_record_id is not None
        ]
        return person_from_row(rows[0]), found, bool(rows[0].logged)

    async def plan_read_logged(
        self, plan_id: str, reach: Reach, entry: AccessEntry
    ) -> tuple[Plan | None, bool]:
        """``plan`` for a read on PostgreSQL, writing the read's access-log ``entry`` (its
        person the plan's) in the same statement when the reach is a party: a data-modifying
        CTE. A refusal writes nothing here; the caller logs it."""
        rows = await self._rows(_one_plan(ReachShape.of(reach), True), plan_id, reach, entry)
        if not rows:
            return None, False
        found = rows[0]
        return plan_from(found, found.document, found.version, found.status), bool(found.within)

    async def plan(
        self, plan_id: str, reach: Reach, *, for_update: bool
    ) -> tuple[Plan | None, bool]:
        """The plan at its current version (None when there is none), and whether ``reach`` is
        a party to it: one statement, or, ``for_update``, the locked row and then the check."""
        plans = t.plans
        if for_update:
            # The check after the lock, in a statement of its own (see ``_locked_episode``).
            row = (
                await self._conn.execute(
                    select(plans).where(plans.c.id == plan_id).with_for_update()
                )
            ).first()
            if row is None:
                return None, False
            within = await self._conn.scalar(
                select(_within(RecordType.PLAN, plan_id, ReachShape.of(reach))),
                reach_params(reach),
            )
            return plan_from(row, row.document, row.version, row.status), bool(within)
        rows = await self._rows(_one_plan(ReachShape.of(reach), False), plan_id, reach)
        if not rows:
            return None, False
        row = rows[0]
        return plan_from(row, row.document, row.version, row.status), bool(row.within)

    async def stored(
        self,
        resource_type: str,
        resource_id: str,
        reach: Reach,
        entry: AccessEntry | None,
        mapper_version: int,
    ) -> StoredRow | None:
        """The current projection of a resource (``body``, ``version``, ``last_updated``,
        ``person_id``), whether ``reach`` is a party to its record (``within``) and whether the
        read was logged by the same statement (``logged``; ``entry`` is None on SQLite, which
        logs apart, and in a read whose entries the grouped writer writes): one statement. None
        when there is no projection of the record's current version by ``mapper_version``.

        Without an entry on PostgreSQL (the FHIR read, ``app.fhir.fast_read``) the statement runs
        on the asyncpg connection itself, prepared once per connection by asyncpg's statement
        cache: SQLAlchemy's execution, parameter and result handling cost several times what
        PostgreSQL spends on it (issue 20, profiled)."""
        if entry is None and self._conn.dialect.name == "postgresql":
            return await self._stored_on_driver(resource_type, resource_id, reach, mapper_version)
        query = _stored_read(resource_type, ReachShape.of(reach), entry is not None)
        params = {**_params(resource_id, reach, entry), "mapper_version": mapper_version}
        found = (await self._conn.execute(query, params)).first()
        return None if found is None else StoredRow(*found)

    async def _stored_on_driver(
        self, resource_type: str, resource_id: str, reach: Reach, mapper_version: int
    ) -> StoredRow | None:
        """``stored`` without an entry, run by asyncpg (``_stored_sql``). A failure is raised as
        SQLAlchemy's ``DBAPIError``, as the statement through SQLAlchemy would raise it; a lost
        connection is handled as SQLAlchemy handles one (``connection_lost``)."""
        organizations = sorted(reach.organizations)
        sql, sources = _stored_sql(
            self._conn.dialect, resource_type, ReachShape.of(reach), len(organizations)
        )
        values = {
            "record_id": resource_id,
            "reach_principal": reach.principal_id,
            "mapper_version": mapper_version,
        }
        arguments = [
            (organizations[key] if isinstance(key, int) else values[key]) if bound else key
            for bound, key in sources
        ]
        driver = (await self._conn.get_raw_connection()).driver_connection
        assert driver is not None
        try:
            found = await driver.fetchrow(sql, *arguments)
        except Exception as exc:
            error = driver_error(sql, arguments, exc, driver)
            if error.connection_invalidated:
                await connection_lost(self._conn, exc)
            raise error from exc
        return None if found is None else StoredRow(*found)

    async def _record_read_logged(
        self, record_type: RecordType, record_id: str, reach: Reach, entry: AccessEntry | None
    ) -> list[Row[Any]]:
        """The rows of ``_record_read``; ``entry`` is None on SQLite, which logs apart."""
        query = _record_read(record_type, ReachShape.of(reach), entry is not None)
        return await self._rows(query, record_id, reach, entry)

    async def meeting_read(
        self, meeting_id: str, reach: Reach, entry: AccessEntry | None
    ) -> tuple[Meeting | None, bool, bool]:
        """The meeting, whether ``reach`` is a party to it and whether the read was logged by
        the same statement (``_record_read``)."""
        rows = await self._record_read_logged(RecordType.MEETING, meeting_id, reach, entry)
        if not rows:
            return None, False, False
        return meeting_from(rows[0]), bool(rows[0].within), bool(rows[0].logged)

    async def deviation_read(
        self, deviation_id: str, reach: Reach, entry: AccessEntry | None
    ) -> tuple[Deviation | None, bool, bool]:
        """The deviation report, whether ``reach`` is a party to it and whether the read was
        logged by the same statement (``_record_read``)."""
        rows = await self._record_read_logged(RecordType.DEVIATION, deviation_id, reach, entry)
        if not rows:
            return None, False, False
        return deviation_from(rows[0]), bool(rows[0].within), bool(rows[0].logged)

    async def message_read(
        self, message_id: str, reach: Reach, entry: AccessEntry | None
    ) -> tuple[CareMessage | None, bool, bool]:
        """The care message with its recipients' copies (joined), whether ``reach`` is a party
        to it and whether the read was logged by the same statement (``_record_read``)."""
        rows = await self._record_read_logged(RecordType.MESSAGE, message_id, reach, entry)
        if not rows:
            return None, False, False
        recipients = [
            recipient_from(Prefixed(row, "recipient"))
            for row in rows
            if row.recipient_organization_id is not None
        ]
        head = rows[0]
        return message_from(head, recipients), bool(head.within), bool(head.logged)
