"""The parties of records in the database, and the SQL form of a caller's reach.

Every access check is one of three index-only lookups on ``record_parties``: by record (its
primary key), by the caller's unit or principal (the reach indexes), or by person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    bindparam,
    delete,
    false,
    insert,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.access_log import AccessEntry
from app.domain.parties import Pairs, Party, Reach, RecordType, Role
from app.store import tables as t
from app.store.access_rows import written_once, written_params

p = t.record_parties


@dataclass(frozen=True, slots=True)
class ReachShape:
    """What a reach's SQL looks like without its values: whether it has organizations and a
    principal. A statement built for a shape, with the reach as bound parameters
    (``reach_params``), is built once and serves every caller of that shape."""

    organizations: bool
    principal: bool

    @classmethod
    def of(cls, reach: Reach) -> ReachShape:
        return cls(bool(reach.organizations), reach.principal_id is not None)


def reach_params(reach: Reach) -> dict[str, Any]:
    """The values of a ``ReachShape``'s bound parameters for ``reach``."""
    return {
        "reach_organizations": sorted(reach.organizations),
        "reach_principal": reach.principal_id,
    }


def reach_clause(
    organization: Any, principal: Any, reach: Reach | ReachShape
) -> ColumnElement[bool]:
    """Rows whose ``organization`` column names an organization of the reach, or whose
    ``principal`` column is the reach's principal. Always bound parameters: for a ``ReachShape``
    named ones whose values come at execution (``reach_params``); for a ``Reach``, the same
    parameters carrying its values (unique, so that two reaches can meet in one statement)."""
    if isinstance(reach, ReachShape):
        shape, values = reach, None
    else:
        shape, values = ReachShape.of(reach), reach_params(reach)

    def param(name: str, expanding: bool = False) -> BindParameter[Any]:
        if values is None:
            return bindparam(name, expanding=expanding)
        return bindparam(name, values[name], expanding=expanding, unique=True)

    clauses: list[ColumnElement[bool]] = []
    if shape.organizations:
        clauses.append(organization.in_(param("reach_organizations", expanding=True)))
    if shape.principal:
        clauses.append(principal == param("reach_principal"))
    return or_(*clauses) if clauses else false()


def reach_organizations(reach: Reach) -> list[str] | Select[Any]:
    """The organizations a reach covers, for tables that name an organization only: a
    principal's reach is the principal and every unit it has."""
    if reach.principal_id is None:
        return sorted(reach.organizations)
    o = t.organizations
    return select(o.c.id).where(
        or_(o.c.id == reach.principal_id, o.c.parent_id == reach.principal_id)
    )


def party_to(
    record_type: RecordType, record_id: Any, reach: Reach | ReachShape
) -> ColumnElement[bool]:
    """Whether the reach is a party to the record whose id is ``record_id`` (a column of the
    outer statement): an ``EXISTS`` on the record-parties key, which covers the check."""
    return (
        select(p.c.record_id)
        .where(
            p.c.record_type == record_type.value,
            p.c.record_id == record_id,
            reach_clause(p.c.organization_id, p.c.principal_id, reach),
        )
        .exists()
    )


def party_probe(
    record_type: RecordType, record_id: Any, reach: Reach | ReachShape
) -> ColumnElement[bool]:
    """``party_to`` as a probe the database runs per row rather than a semi-join it may plan
    around: on a range of an index that is already in page order and mostly visible (a
    municipality's episodes in one state), PostgreSQL then walks the range and stops at the
    page's end instead of reading the whole range and sorting it."""
    return (
        select(true())
        .where(
            p.c.record_type == record_type.value,
            p.c.record_id == record_id,
            reach_clause(p.c.organization_id, p.c.principal_id, reach),
        )
        .limit(1)
        .scalar_subquery()
    )


@cache
def person_within_query(shape: ReachShape) -> Select[Any]:
    """``PartyRepository.person_within``'s statement for one shape of reach, built once with the
    person (``within_person``) and the reach bound at execution: a search that finds nothing
    asks it, and building it and its cache key anew was a share of such a page's Python (issue
    20, profiled). A page statement may ask it too (``app.store.paging.visible_page``)."""
    return (
        select(p.c.person_id)
        .where(
            p.c.person_id == bindparam("within_person", type_=p.c.person_id.type),
            reach_clause(p.c.organization_id, p.c.principal_id, shape),
        )
        .limit(1)
    )


def visible_records(record_type: RecordType, reach: Reach) -> Select[Any]:
    """The ids of the records of ``record_type`` the reach is a party to (a subquery)."""
    return select(p.c.record_id).where(
        p.c.record_type == record_type.value,
        reach_clause(p.c.organization_id, p.c.principal_id, reach),
    )


def visible_persons(reach: Reach) -> Select[Any]:
    """The ids of the persons the reach is a party to some record of (a subquery)."""
    return select(p.c.person_id).where(
        p.c.person_id.is_not(None), reach_clause(p.c.organization_id, p.c.principal_id, reach)
    )


def utcnow() -> datetime:
    """The time a party row is created (its own clock, so that a bulk load can fix it)."""
    return datetime.now(UTC)


def party_row(
    record_type: RecordType,
    record_id: str,
    person_id: str | None,
    organization_id: str,
    principal_id: str,
    role: Role,
    now: datetime,
) -> dict[str, Any]:
    """The ``record_parties`` row of one party created at ``now``."""
    return {
        "record_type": record_type.value,
        "record_id": record_id,
        "principal_id": principal_id,
        "organization_id": organization_id,
        "role": role.value,
        "person_id": person_id,
        "created_at": now,
    }


# Stored codes to members by a dict lookup: a report or a person's read maps thousands of party
# rows, and calling an Enum per value is most of that mapping's cost (profiled).
_RECORD_TYPES = {member.value: member for member in RecordType}
_ROLES = {member.value: member for member in Role}


def party_from_row(row: Any) -> Party:
    """The party of a ``record_parties`` row."""
    return Party(
        _RECORD_TYPES[row.record_type],
        row.record_id,
        row.organization_id,
        row.principal_id,
        _ROLES[row.role],
    )


class PartyRepository:
    """Who is a party to which record; kept in step with each record in its transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        # ``person_within`` answers a statement of this unit of work already gave (a search
        # page that asked it), each taken by the next ask; dropped when parties are written.
        self._answered: dict[tuple[str, Reach], bool] = {}

    def answered(self, person_id: str, reach: Reach, within: bool) -> None:
        """Keep the answer to ``person_within(person_id, reach)`` a statement just gave, so that
        asking it next runs no statement of its own."""
        self._answered[(person_id, reach)] = within

    async def principals(self, organization_ids: Sequence[str]) -> dict[str, str]:
        """The principal of each organization (a unit's parent, else itself)."""
        if not organization_ids:
            return {}
        o = t.organizations
        rows = await self._conn.execute(
            select(o.c.id, o.c.kind, o.c.parent_id).where(o.c.id.in_(sorted(set(organization_ids))))
        )
        return {r.id: r.parent_id if r.kind == "unit" and r.parent_id else r.id for r in rows.all()}

    async def keep(
        self, record_type: RecordType, record_id: str, person_id: str | None, pairs: Pairs
    ) -> None:
        """Make ``pairs`` exactly the parties of the record: rows that still hold are kept (with
        the time they became a party), the rest are removed and the new ones added."""
        self._answered.clear()
        wanted = set(pairs)
        existing = {
            (r.organization_id, Role(r.role))
            for r in await self._conn.execute(
                select(p.c.organization_id, p.c.role).where(
                    p.c.record_type == record_type.value, p.c.record_id == record_id
                )
            )
        }
        gone = existing - wanted
        if gone:
            await self._conn.execute(
                delete(p).where(
                    p.c.record_type == record_type.value,
                    p.c.record_id == record_id,
                    tuple_(p.c.organization_id, p.c.role).in_(
                        sorted((org, role.value) for org, role in gone)
                    ),
                )
            )
        await self.add(record_type, record_id, person_id, sorted(wanted - existing))

    async def add(
        self, record_type: RecordType, record_id: str, person_id: str | None, pairs: Pairs
    ) -> None:
        """Add the parties of a new record (or new parties of one)."""
        await self.add_many([(record_type, record_id, person_id, pairs)])

    async def add_many(
        self,
        records: Sequence[tuple[RecordType, str, str | None, Pairs]],
        principals: Mapping[str, str] | None = None,
    ) -> None:
        """Add the parties of several new records in one statement (bulk loading).

        ``principals`` are principals the caller knows already (the actor's own), by
        organization: only the others are read, and none when they are all known.
        """
        self._answered.clear()
        known = dict(principals or {})
        known |= await self.principals(
            [org for _t, _r, _p, pairs in records for org, _role in pairs if org not in known]
        )
        now = utcnow()
        rows = [
            party_row(record_type, record_id, person_id, org, known.get(org, org), role, now)
            for record_type, record_id, person_id, pairs in records
            for org, role in dict.fromkeys(pairs)
        ]
        if rows:
            await self._conn.execute(insert(p), rows)

    async def of_record(self, record_type: RecordType, record_id: str) -> list[Party]:
        """The parties of one record."""
        rows = await self._conn.execute(
            select(p).where(p.c.record_type == record_type.value, p.c.record_id == record_id)
        )
        return [party_from_row(r) for r in rows.all()]

    async def within(self, record_type: RecordType, record_id: str, reach: Reach) -> bool:
        """Whether the reach is a party to the record."""
        row = await self._conn.execute(
            select(p.c.record_id)
            .where(
                p.c.record_type == record_type.value,
                p.c.record_id == record_id,
                reach_clause(p.c.organization_id, p.c.principal_id, reach),
            )
            .limit(1)
        )
        return row.first() is not None

    async def person_within(self, person_id: str, reach: Reach) -> bool:
        """Whether the reach is a party to any record about the person."""
        known = self._answered.pop((person_id, reach), None)
        if known is not None:
            return known
        row = await self._conn.execute(
            person_within_query(ReachShape.of(reach)),
            {"within_person": person_id, **reach_params(reach)},
        )
        return row.first() is not None

    async def of_persons(
        self, person_ids: Sequence[str], log: Sequence[AccessEntry] = ()
    ) -> dict[str, list[Party]]:
        """The parties of every record about each of the persons; the first statement also
        writes the access-log entries ``log`` (``UnitOfWork.access_for_statement``)."""
        found: dict[str, list[Party]] = defaultdict(list)
        wanted = sorted(set(person_ids))
        # A report's persons come in thousands: a few hundred bound ids per statement.
        for start in range(0, len(wanted), 500):
            logged = bool(log) and start == 0
            params: dict[str, Any] = {"parties_of": wanted[start : start + 500]}
            if logged:
                params.update(written_params(log))
            rows = await self._conn.execute(_parties_of_persons(logged), params)
            for row in rows.all():
                found[row.person_id].append(party_from_row(row))
        return found


@cache
def _parties_of_persons(logged: bool) -> Select[Any]:
    """``of_persons``' statement, built once with the persons (``parties_of``) and the entries it
    writes when ``logged`` (``written_params``) bound at execution: a Patient search page built
    it and its access-log CTE anew on every request (issue 20)."""
    query = select(
        p.c.person_id,
        p.c.principal_id,
        p.c.organization_id,
        p.c.record_type,
        p.c.record_id,
        p.c.role,
    ).where(p.c.person_id.in_(bindparam("parties_of", type_=p.c.person_id.type, expanding=True)))
    return query.add_cte(written_once()) if logged else query
